import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { EarlyStopping } from '../../src/train/callbacks/early-stopping.js';
import { LearningRateScheduler } from '../../src/train/callbacks/learning-rate-scheduler.js';
import { ModelCheckpoint } from '../../src/train/callbacks/model-checkpoint.js';
import { ReduceLROnPlateau } from '../../src/train/callbacks/reduce-lr-on-plateau.js';
import { TrainingError } from '../../src/train/errors.js';
import { getLearningRate } from '../../src/train/learning-rate.js';
import { TRAINING_RECIPES, recipeCallbacks, recipeTrainOptions, resolveTrainingRecipe } from '../../src/train/recipe.js';
import { compileTiny, makeModel } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('training recipes', () => {
  it("keeps the seed's settings as the default recipe", () => {
    expect(resolveTrainingRecipe('seed')).toEqual({
      name: 'seed', epochs: 30, batchSize: 32, learningRate: 5e-4, labelSmoothing: 0.15, patience: 5,
      allTrainable: false, warmupEpochs: 0, cosine: false, augment: 'full', mixup: 0,
    });
  });

  it('applies overrides, ignores undefined ones, and removes class weights with "none"', () => {
    const r = resolveTrainingRecipe('scratch', { epochs: 12, learningRate: undefined, classWeight: 'none' });
    expect(r).toMatchObject({ name: 'scratch', epochs: 12, learningRate: 5e-4, allTrainable: true, warmupEpochs: 1, cosine: true, augment: 'flip', mixup: 0.4 });
    expect(r.classWeight).toBeUndefined();
    expect(resolveTrainingRecipe('seed', { classWeight: 'balanced' }).classWeight).toBe('balanced');
    // The built-in table is not changed by a resolution.
    expect(TRAINING_RECIPES.scratch.classWeight).toBe('balanced-sqrt');
    expect(TRAINING_RECIPES.scratch.epochs).toBe(26);
  });

  it("maps a recipe onto the trainer's options", () => {
    expect(recipeTrainOptions(resolveTrainingRecipe('scratch'))).toEqual({
      epochs: 26, batchSize: 32, learningRate: 5e-4, labelSmoothing: 0.15, augment: { rotation: false, zoom: false, brightness: false, contrast: false }, mixup: 0.4, classWeight: 'balanced-sqrt',
    });
    expect(recipeTrainOptions(resolveTrainingRecipe('scratch', { mixup: 0.4 })).mixup).toBe(0.4);
    expect(recipeTrainOptions(resolveTrainingRecipe('seed', { augment: 'geometric' }))).toMatchObject({
      augment: { brightness: false, contrast: false }, classWeight: undefined, learningRate: 5e-4,
    });
  });

  it('names an unknown recipe or a bad value', () => {
    expect(() => resolveTrainingRecipe('fast')).toThrow(/unknown training recipe 'fast'/);
    expect(() => resolveTrainingRecipe('toString')).toThrow(TrainingError);
    expect(() => resolveTrainingRecipe('seed', { epochs: 0 })).toThrow(/epochs must be an integer ≥ 1, got 0/);
    expect(() => resolveTrainingRecipe('seed', { learningRate: -1 })).toThrow(/learningRate must be > 0/);
    expect(() => resolveTrainingRecipe('seed', { labelSmoothing: 1.5 })).toThrow(/labelSmoothing must be in \[0, 1\]/);
    expect(() => resolveTrainingRecipe('seed', { mixup: -0.1 })).toThrow(/mixup must be ≥ 0/);
    expect(() => resolveTrainingRecipe('seed', { classWeight: 'heavy' as 'balanced' })).toThrow(/classWeight must be/);
    expect(() => resolveTrainingRecipe('seed', { augment: 'heavy' as 'full' })).toThrow(/augment must be one of 'full', 'geometric', 'no-zoom', 'photometric', 'flip', 'none', got 'heavy'/);
  });

  it("gives the seed's recipe early stopping on val_auc, a best checkpoint and LR on plateau", () => {
    const [stop, checkpoint, plateau, ...rest] = recipeCallbacks(resolveTrainingRecipe('seed'), { checkpointDir: '/tmp/never-written' });
    expect(rest).toHaveLength(0);
    expect(stop).toBeInstanceOf(EarlyStopping);
    expect(stop).toMatchObject({ monitor: 'val_auc', mode: 'max', patience: 5, restoreBestWeights: true });
    expect(checkpoint).toBeInstanceOf(ModelCheckpoint);
    expect(plateau).toBeInstanceOf(ReduceLROnPlateau);
  });

  it('gives the scratch recipe a per-step warm-up and cosine schedule (hand-computed rates)', async () => {
    const recipe = resolveTrainingRecipe('scratch', { epochs: 10, learningRate: 1e-3, warmupEpochs: 2 });
    const callbacks = recipeCallbacks(recipe, { checkpointDir: '/tmp/never-written' });
    expect(callbacks.some((c) => c instanceof ReduceLROnPlateau)).toBe(false);
    const scheduler = callbacks[2] as LearningRateScheduler;
    expect(scheduler).toBeInstanceOf(LearningRateScheduler);
    const model = compileTiny(makeModel());
    scheduler.setModel(model);
    scheduler.setParams({ steps: 4 });
    const rateAt = async (epoch: number, step: number): Promise<number> => {
      await scheduler.onEpochBegin(epoch);
      await scheduler.onBatchBegin(step);
      return getLearningRate(model.optimizer);
    };
    expect(await rateAt(0, 0)).toBeCloseTo(1e-4, 10); // warm-up starts at lr / 10
    expect(await rateAt(1, 2)).toBeCloseTo(1e-4 + (1e-3 - 1e-4) * 0.75, 10); // t = 1.5 of 2 warm-up epochs
    expect(await rateAt(2, 0)).toBeCloseTo(1e-3, 10); // peak
    // t = 6: half-way through the 8 cosine epochs: minLr + (peak - minLr) / 2.
    expect(await rateAt(6, 0)).toBeCloseTo(1e-5 + (1e-3 - 1e-5) / 2, 10);
    model.dispose();
  });
});
