import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { flattenTrainFlags, parseTrainFlags } from '../../src/cli/train-options.js';
import { augmentOption } from '../../src/train/recipe.js';

describe('training flags (CLI train, examples/train.ts, ship-model)', () => {
  it("resolves to the seed's recipe, all layers trainable when no backbone weights are given", () => {
    const flags = parseTrainFlags({});
    expect(flags).toMatchObject({ imageSize: 128, valFraction: 0.2, seed: 42, progress: 'auto' });
    expect(flags.recipe).toMatchObject({ name: 'seed', learningRate: 5e-4, allTrainable: true, cosine: false, augment: 'full' });
    expect(parseTrainFlags({ 'backbone-weights': 'w.h5' }).recipe.allTrainable).toBe(false);
  });

  it('lets flags override the scratch recipe', () => {
    const flags = parseTrainFlags({ recipe: 'scratch', lr: '2e-3', 'class-weight': 'none', augment: 'full', 'max-train': '64' });
    expect(flags.recipe).toMatchObject({ name: 'scratch', learningRate: 2e-3, warmupEpochs: 1, cosine: true, epochs: 26, augment: 'full' });
    expect(flags.recipe.classWeight).toBeUndefined();
    expect(flags).toMatchObject({ maxTrain: 64 });
    expect(flattenTrainFlags(flags)).toEqual({
      recipe: 'scratch', imageSize: 128, valFraction: 0.2, seed: 42, augment: true, epochs: 26, batchSize: 32, lr: 2e-3,
      labelSmoothing: 0.15, patience: 8, backboneWeights: undefined, allTrainable: true, warmupEpochs: 1, cosine: true,
      classWeight: undefined, maxTrain: 64,
    });
    expect(parseTrainFlags({ recipe: 'scratch' }).recipe.augment).toBe('none');
    expect(parseTrainFlags({ 'no-augment': true }).recipe.augment).toBe('none');
  });

  it('reads --augment full|geometric|none into the trainer option and the run record', () => {
    const geometric = parseTrainFlags({ augment: 'geometric' });
    expect(geometric.recipe.augment).toBe('geometric');
    expect(augmentOption(geometric.recipe.augment)).toEqual({ brightness: false, contrast: false });
    expect(flattenTrainFlags(geometric).augment).toBe('geometric');
    expect(augmentOption('full')).toBe(true);
    expect(augmentOption('none')).toBe(false);
    expect(flattenTrainFlags(parseTrainFlags({})).augment).toBe(true);
    expect(() => parseTrainFlags({ augment: 'heavy' })).toThrow(/--augment must be full, geometric or none, got 'heavy'/);
    expect(() => parseTrainFlags({ augment: 'full', 'no-augment': true })).toThrow(/--no-augment contradicts --augment full/);
  });

  it('rejects a bad value with a UsageError naming the flag', () => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ recipe: 'fast' }, /--recipe must be 'seed' or 'scratch', got 'fast'/],
      [{ lr: '-1' }, /--lr expects a number > 0, got '-1'/],
      [{ epochs: '2.5' }, /--epochs expects an integer/],
      [{ 'class-weight': 'heavy' }, /--class-weight must be none, balanced or balanced-sqrt, got 'heavy'/],
      [{ progress: 'dots' }, /--progress must be auto, bar, lines or none, got 'dots'/],
      [{ 'label-smoothing': '2' }, /--label-smoothing expects a number in \[0, 1\], got '2'/],
    ];
    for (const [values, message] of bad) {
      expect(() => parseTrainFlags(values, 'train')).toThrow(UsageError);
      expect(() => parseTrainFlags(values, 'train')).toThrow(message);
    }
  });
});
