// The training flags shared by `neurostagenet train` and examples/train.ts: one parser, one set of checks.
import { TrainingError } from '../train/errors.js';
import { resolveTrainingRecipe, type AugmentMode, type TrainingRecipe } from '../train/recipe.js';
import { numberOption, stringOption, UsageError, type Values } from './args.js';

/** parseArgs spec of the training flags (without the global --backend, --out, --help). */
export const TRAIN_OPTIONS = {
  'image-size': { type: 'string' },
  'val-fraction': { type: 'string' },
  'max-train': { type: 'string' },
  seed: { type: 'string' },
  'no-augment': { type: 'boolean' },
  augment: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  'label-smoothing': { type: 'string' },
  patience: { type: 'string' },
  'backbone-weights': { type: 'string' },
  recipe: { type: 'string' },
  'all-trainable': { type: 'boolean' },
  'warmup-epochs': { type: 'string' },
  cosine: { type: 'boolean' },
  'class-weight': { type: 'string' },
  progress: { type: 'string' },
} as const;

/** Help text of the training flags (the Data and Recipe sections both front ends print). */
export const TRAIN_OPTIONS_HELP = `Data
  --image-size N          decode and train at N x N (default 128)
  --val-fraction F        validation share of the stratified split (default 0.2)
  --max-train N           use at most N training rows after the split (quick runs)
  --seed N                split, shuffle, augmentation, dropout and initialisation seed (default 42)
  --augment MODE          training augmentation: full (flip, rotation, zoom, brightness, contrast;
                          the seed's) | geometric (flip, rotation, zoom) | none (scratch's)
  --no-augment            = --augment none

Recipe (defaults = the seed's, meant for ImageNet backbone weights)
  --epochs N              upper bound on epochs (default 30; early stopping usually ends sooner)
  --batch-size N          default 32
  --lr X                  Adam learning rate (default 5e-4)
  --label-smoothing X     default 0.15
  --patience N            early-stopping patience on val AUC (default 5)
  --backbone-weights FILE Keras efficientnetb0_notop.h5 (ImageNet; layers < 150 frozen)
  --recipe seed|scratch   'scratch' = the from-scratch recipe of the shipped model: --all-trainable,
                          --lr 5e-4, --warmup-epochs 1, --cosine, --class-weight balanced-sqrt,
                          --augment none, --epochs 26, --patience 8 (each can still be overridden)
  --all-trainable         train every backbone layer (default without backbone weights)
  --warmup-epochs N       linear warm-up, then constant or cosine (replaces LR on plateau)
  --cosine                cosine decay to lr/100 over --epochs (replaces LR on plateau)
  --class-weight none|balanced|balanced-sqrt
                          weight the loss by n / (K * count[class]) (or its square root)`;

/** What the training flags resolve to. */
export interface TrainFlags {
  imageSize: number;
  valFraction: number;
  maxTrain?: number;
  seed: number;
  backboneWeights?: string;
  progress: 'auto' | 'bar' | 'lines' | 'none';
  recipe: TrainingRecipe;
}

/**
 * Reads the training flags from parsed values.
 * @param values parseArgs values (with {@link TRAIN_OPTIONS}).
 * @param command Subcommand named in errors.
 * @throws UsageError naming the flag and the bad value.
 */
export function parseTrainFlags(values: Values, command?: string): TrainFlags {
  const progress = stringOption(values, 'progress', 'auto') as string;
  if (!['auto', 'bar', 'lines', 'none'].includes(progress)) throw new UsageError(`--progress must be auto, bar, lines or none, got '${progress}'`, command);
  const recipeName = stringOption(values, 'recipe', 'seed') as string;
  if (recipeName !== 'seed' && recipeName !== 'scratch') throw new UsageError(`--recipe must be 'seed' or 'scratch', got '${recipeName}'`, command);
  const classWeight = stringOption(values, 'class-weight');
  if (classWeight !== undefined && !['none', 'balanced', 'balanced-sqrt'].includes(classWeight)) {
    throw new UsageError(`--class-weight must be none, balanced or balanced-sqrt, got '${classWeight}'`, command);
  }
  const augmentArg = stringOption(values, 'augment');
  if (augmentArg !== undefined && !['full', 'geometric', 'none'].includes(augmentArg)) {
    throw new UsageError(`--augment must be full, geometric or none, got '${augmentArg}'`, command);
  }
  if (augmentArg !== undefined && augmentArg !== 'none' && values['no-augment']) {
    throw new UsageError(`--no-augment contradicts --augment ${augmentArg}`, command);
  }
  const augment = values['no-augment'] ? 'none' : (augmentArg as AugmentMode | undefined);
  const opt = (name: string, range: Parameters<typeof numberOption>[3]): number | undefined =>
    values[name] === undefined ? undefined : numberOption(values, name, 0, range, command);
  let recipe: TrainingRecipe;
  try {
    recipe = resolveTrainingRecipe(recipeName, {
      epochs: opt('epochs', { integer: true, min: 1 }),
      batchSize: opt('batch-size', { integer: true, min: 1 }),
      learningRate: opt('lr', { min: 0, exclusiveMin: true }),
      labelSmoothing: opt('label-smoothing', { min: 0, max: 1 }),
      patience: opt('patience', { integer: true, min: 0 }),
      warmupEpochs: opt('warmup-epochs', { min: 0 }),
      cosine: values.cosine ? true : undefined,
      allTrainable: values['all-trainable'] ? true : undefined,
      classWeight: classWeight as 'none' | 'balanced' | 'balanced-sqrt' | undefined,
      augment,
    });
  } catch (e) {
    if (e instanceof TrainingError) throw new UsageError(e.message, command);
    throw e;
  }
  const backboneWeights = stringOption(values, 'backbone-weights');
  // Without ImageNet weights a frozen backbone would keep its random features: train it all.
  if (backboneWeights === undefined) recipe.allTrainable = true;
  return {
    imageSize: numberOption(values, 'image-size', 128, { integer: true, min: 32 }, command),
    valFraction: numberOption(values, 'val-fraction', 0.2, { min: 0, max: 0.9, exclusiveMin: true }, command),
    maxTrain: opt('max-train', { integer: true, min: 1 }),
    seed: numberOption(values, 'seed', 42, { integer: true }, command),
    backboneWeights,
    progress: progress as TrainFlags['progress'],
    recipe,
  };
}

/** The training flags as one flat record: what run.json files and model metadata store. */
export interface FlatTrainOptions {
  recipe: string;
  imageSize: number;
  valFraction: number;
  seed: number;
  /** true = full augmentation, false = none, 'geometric' = flip, rotation and zoom only. */
  augment: boolean | 'geometric';
  epochs: number;
  batchSize: number;
  lr: number;
  labelSmoothing: number;
  patience: number;
  backboneWeights?: string;
  allTrainable: boolean;
  warmupEpochs: number;
  cosine: boolean;
  classWeight?: string;
  maxTrain?: number;
}

/** {@link TrainFlags} flattened into the record run.json stores. */
export function flattenTrainFlags(flags: TrainFlags): FlatTrainOptions {
  const r = flags.recipe;
  return {
    recipe: r.name,
    imageSize: flags.imageSize,
    valFraction: flags.valFraction,
    seed: flags.seed,
    augment: r.augment === 'geometric' ? 'geometric' : r.augment === 'full',
    epochs: r.epochs,
    batchSize: r.batchSize,
    lr: r.learningRate,
    labelSmoothing: r.labelSmoothing,
    patience: r.patience,
    backboneWeights: flags.backboneWeights,
    allTrainable: r.allTrainable,
    warmupEpochs: r.warmupEpochs,
    cosine: r.cosine,
    classWeight: r.classWeight,
    maxTrain: flags.maxTrain,
  };
}
