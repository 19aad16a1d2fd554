// Named training recipes: the seed's (for ImageNet backbone weights) and the from-scratch one that trained the
// shipped model. One place for their defaults and their callbacks, used by the training pipeline (runTrainingPipeline).
import type * as tfl from '@tensorflow/tfjs-layers';
import type { AugmentOptions } from '../data/augment.js';
import { TrainingError } from './errors.js';
import { earlyStopping } from './callbacks/early-stopping.js';
import { learningRateScheduler } from './callbacks/learning-rate-scheduler.js';
import { modelCheckpoint } from './callbacks/model-checkpoint.js';
import { reduceLROnPlateau } from './callbacks/reduce-lr-on-plateau.js';
import { warmupCosineSchedule } from './learning-rate.js';
import { checkLabelSmoothing } from './loss.js';
import type { TrainOptions } from './types.js';

/** Names of the built-in recipes. */
export type TrainingRecipeName = 'seed' | 'scratch';

/** Named training augmentation (see {@link augmentOption}). */
export type AugmentMode = 'full' | 'geometric' | 'no-zoom' | 'photometric' | 'flip' | 'none';

/** Every {@link AugmentMode}, in the order help texts list them. */
export const AUGMENT_MODES: readonly AugmentMode[] = ['full', 'geometric', 'no-zoom', 'photometric', 'flip', 'none'];

/**
 * The trainer's `augment` option for a mode.
 * @param mode 'full' = flip, rotation, zoom, brightness and contrast; 'geometric' = no brightness or contrast
 *   change; 'no-zoom' = everything but zoom (on registered slices, head size carries the atrophy signal that a zoom
 *   blurs); 'photometric' = left-right flips, brightness and contrast (the slice's geometry untouched); 'flip' =
 *   left-right flips only; 'none' = no augmentation.
 */
export function augmentOption(mode: AugmentMode): boolean | AugmentOptions {
  if (mode === 'none') return false;
  if (mode === 'geometric') return { brightness: false, contrast: false };
  if (mode === 'no-zoom') return { zoom: false };
  if (mode === 'photometric') return { rotation: false, zoom: false };
  if (mode === 'flip') return { rotation: false, zoom: false, brightness: false, contrast: false };
  return true;
}

/** Every setting of a training run that a recipe decides. */
export interface TrainingRecipe {
  /** Which named recipe the defaults came from. */
  name: TrainingRecipeName;
  /** Upper bound on epochs (early stopping usually ends sooner). */
  epochs: number;
  /** Images per step. */
  batchSize: number;
  /** Adam learning rate (the peak of the schedule when there is one). */
  learningRate: number;
  /** Label smoothing of the categorical cross-entropy, in [0, 1] (see `LABEL_SMOOTHING_RANGE`). */
  labelSmoothing: number;
  /** Early-stopping patience, in epochs without a better validation AUC. */
  patience: number;
  /** Train every backbone layer (true) or freeze the backbone below layer 150 (false). */
  allTrainable: boolean;
  /** Linear warm-up epochs (from learningRate / 10) before a constant or cosine rate; 0 = none. */
  warmupEpochs: number;
  /** Cosine decay to learningRate / 100 over `epochs`. */
  cosine: boolean;
  /** Training-only augmentation (see {@link augmentOption}). */
  augment: AugmentMode;
  /** Mixup of training batches: Beta(alpha, alpha) shape, 0 = off (see `mixupBatch`). */
  mixup: number;
  /** Loss weights per class, or undefined for none. */
  classWeight?: 'balanced' | 'balanced-sqrt';
}

/**
 * The built-in recipes.
 *
 * - `seed`: the reference notebook's recipe, meant for fine-tuning from ImageNet weights: Adam 5e-4, label
 *   smoothing 0.15, early stopping on validation AUC (patience 5), learning rate halved on a validation-loss
 *   plateau, backbone frozen below layer 150.
 * - `scratch`: for training the backbone from random weights (no ImageNet weights), the recipe of the shipped
 *   model: every layer trainable, Adam 5e-4 with 1 warm-up epoch and a cosine decay instead of the plateau rule,
 *   class weights 'balanced-sqrt' (plain 'balanced' weighs the rare Moderate class ~24× and made training swing
 *   between classes), left-right flips only (rotation and zoom stalled learning from scratch) with mixup 0.4
 *   (it slows the memorisation of slices), 26 epochs, patience 8. See docs/training.md.
 */
export const TRAINING_RECIPES: Readonly<Record<TrainingRecipeName, Readonly<TrainingRecipe>>> = Object.freeze({
  seed: Object.freeze({
    name: 'seed',
    epochs: 30,
    batchSize: 32,
    learningRate: 5e-4,
    labelSmoothing: 0.15,
    patience: 5,
    allTrainable: false,
    warmupEpochs: 0,
    cosine: false,
    augment: 'full',
    mixup: 0,
  }),
  scratch: Object.freeze({
    name: 'scratch',
    epochs: 26,
    batchSize: 32,
    learningRate: 5e-4,
    labelSmoothing: 0.15,
    patience: 8,
    allTrainable: true,
    warmupEpochs: 1,
    cosine: true,
    augment: 'flip',
    mixup: 0.4,
    classWeight: 'balanced-sqrt',
  }),
} satisfies Record<TrainingRecipeName, TrainingRecipe>);

/** Changes to a recipe's defaults; `classWeight: 'none'` removes its class weights. */
export type TrainingRecipeOverrides = Partial<Omit<TrainingRecipe, 'name' | 'classWeight'>> & {
  /** Class weights to use instead of the recipe's; 'none' for none. */
  classWeight?: 'none' | 'balanced' | 'balanced-sqrt';
};

/**
 * A recipe's settings with overrides applied and checked.
 * @param name `'seed'` or `'scratch'`.
 * @param overrides Settings that replace the recipe's defaults (undefined entries are ignored).
 * @throws TrainingError naming an unknown recipe or a bad value.
 */
export function resolveTrainingRecipe(name: string, overrides: TrainingRecipeOverrides = {}): TrainingRecipe {
  if (!Object.hasOwn(TRAINING_RECIPES, name)) {
    throw new TrainingError(`unknown training recipe '${name}': use ${Object.keys(TRAINING_RECIPES).map((n) => `'${n}'`).join(' or ')}`);
  }
  const base = TRAINING_RECIPES[name as TrainingRecipeName];
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as TrainingRecipeOverrides;
  const { classWeight, ...rest } = defined;
  const recipe: TrainingRecipe = { ...base, ...rest };
  if (classWeight !== undefined) {
    if (classWeight === 'none') delete recipe.classWeight;
    else if (classWeight === 'balanced' || classWeight === 'balanced-sqrt') recipe.classWeight = classWeight;
    else throw new TrainingError(`classWeight must be 'none', 'balanced' or 'balanced-sqrt', got '${String(classWeight)}'`);
  }
  if (!AUGMENT_MODES.includes(recipe.augment)) {
    throw new TrainingError(`augment must be one of ${AUGMENT_MODES.map((m) => `'${m}'`).join(', ')}, got '${String(recipe.augment)}'`);
  }
  const positiveInt = ['epochs', 'batchSize'] as const;
  for (const key of positiveInt) {
    if (!Number.isInteger(recipe[key]) || recipe[key] < 1) throw new TrainingError(`${key} must be an integer ≥ 1, got ${recipe[key]}`);
  }
  if (!Number.isInteger(recipe.patience) || recipe.patience < 0) throw new TrainingError(`patience must be an integer ≥ 0, got ${recipe.patience}`);
  if (!(recipe.learningRate > 0) || !Number.isFinite(recipe.learningRate)) throw new TrainingError(`learningRate must be > 0, got ${recipe.learningRate}`);
  checkLabelSmoothing(recipe.labelSmoothing);
  if (!(recipe.mixup >= 0) || !Number.isFinite(recipe.mixup)) throw new TrainingError(`mixup must be ≥ 0 (0 = off), got ${recipe.mixup}`);
  if (!(recipe.warmupEpochs >= 0) || !Number.isFinite(recipe.warmupEpochs)) throw new TrainingError(`warmupEpochs must be ≥ 0, got ${recipe.warmupEpochs}`);
  return recipe;
}

/**
 * The callbacks a recipe trains with: early stopping on `val_auc` or `val_person_auc` (best weights restored), a best-by-it
 * checkpoint in `checkpointDir`, and either the per-step warm-up / cosine schedule or, when the recipe has
 * neither, the seed's learning rate halved after 2 epochs of flat validation loss.
 * @param recipe A resolved recipe ({@link resolveTrainingRecipe}).
 * @param options `checkpointDir`: where the best model is saved (no checkpoint without it); `verbose`: early stopping and the plateau rule
 *   print what they do (default true); `monitor`: the figure early stopping and the checkpoint follow, `'val_auc'`
 *   (slices, default) or `'val_person_auc'` (people: use it when the validation data has subjects).
 */
export function recipeCallbacks(
  recipe: TrainingRecipe,
  options: { checkpointDir?: string; verbose?: boolean; monitor?: 'val_auc' | 'val_person_auc' } = {},
): tfl.Callback[] {
  const verbose = options.verbose ?? true;
  const monitor = options.monitor ?? 'val_auc';
  const callbacks: tfl.Callback[] = [earlyStopping({ monitor, mode: 'max', patience: recipe.patience, restoreBestWeights: true, verbose })];
  if (options.checkpointDir !== undefined) callbacks.push(modelCheckpoint({ dir: options.checkpointDir, monitor, saveBestOnly: true }));
  if (recipe.cosine || recipe.warmupEpochs > 0) {
    const schedule = warmupCosineSchedule({
      peakLr: recipe.learningRate,
      warmupEpochs: Math.min(recipe.warmupEpochs, recipe.epochs),
      totalEpochs: recipe.cosine ? recipe.epochs : Number.MAX_SAFE_INTEGER,
      initialLr: recipe.warmupEpochs > 0 ? recipe.learningRate / 10 : recipe.learningRate,
      minLr: recipe.learningRate / 100,
    });
    callbacks.push(learningRateScheduler(schedule, { perStep: true }));
  } else {
    callbacks.push(reduceLROnPlateau({ monitor: 'val_loss', factor: 0.5, patience: 2, minLr: 1e-6, verbose }));
  }
  return callbacks;
}

/**
 * The {@link trainNeuroStageNet} options a recipe sets: epochs, batch size, learning rate, label smoothing,
 * augmentation, mixup and class weights. Spread them into the trainer's options next to the data and callbacks.
 * @param recipe A resolved recipe ({@link resolveTrainingRecipe}).
 */
export function recipeTrainOptions(
  recipe: TrainingRecipe,
): Pick<TrainOptions, 'epochs' | 'batchSize' | 'learningRate' | 'labelSmoothing' | 'augment' | 'mixup' | 'classWeight'> {
  return {
    epochs: recipe.epochs,
    batchSize: recipe.batchSize,
    learningRate: recipe.learningRate,
    labelSmoothing: recipe.labelSmoothing,
    augment: augmentOption(recipe.augment),
    mixup: recipe.mixup,
    classWeight: recipe.classWeight,
  };
}
