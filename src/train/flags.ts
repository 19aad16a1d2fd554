// The training flags of `neurostagenet train`, examples/train.ts and scripts/ship-model.ts: one spec, one help text,
// one parser, one set of checks, one flat record for run.json and metadata.json.
import { TrainingError } from './errors.js';
import { LABEL_SMOOTHING_RANGE } from './loss.js';
import { AUGMENT_MODES, resolveTrainingRecipe, type AugmentMode, type TrainingRecipe } from './recipe.js';

/** One flag of {@link TRAINING_FLAGS}: a `node:util` `parseArgs` option. */
export interface FlagSpec<T extends 'string' | 'boolean' = 'string' | 'boolean'> {
  /** `'string'` for a flag with a value, `'boolean'` for a switch. */
  readonly type: T;
}

const VALUE_FLAGS = [
  'image-size', 'val-fraction', 'max-train', 'seed', 'augment', 'epochs', 'batch-size', 'lr', 'label-smoothing', 'patience',
  'backbone-weights', 'recipe', 'warmup-epochs', 'class-weight', 'progress', 'split', 'group-threshold', 'mixup',
  'footprint-range', 'monitor',
] as const;
const SWITCH_FLAGS = ['no-augment', 'all-trainable', 'cosine'] as const;

/**
 * `node:util` `parseArgs` spec of the training flags (without a front end's own `--backend`, `--out`, `--help`):
 * `parseArgs({ args, options: { ...TRAINING_FLAGS, ... } })`, then {@link parseTrainingFlags}. Every flag takes a
 * value except the switches `--no-augment`, `--all-trainable` and `--cosine`; {@link TRAINING_FLAGS_HELP} says what
 * each does.
 */
export const TRAINING_FLAGS = Object.freeze({
  ...Object.fromEntries(VALUE_FLAGS.map((name) => [name, { type: 'string' }])),
  ...Object.fromEntries(SWITCH_FLAGS.map((name) => [name, { type: 'boolean' }])),
}) as Readonly<Record<(typeof VALUE_FLAGS)[number], FlagSpec<'string'>> & Record<(typeof SWITCH_FLAGS)[number], FlagSpec<'boolean'>>>;

/**
 * How the training file is split into train and validation rows: `subjects` by the file's subject column,
 * `near-duplicates` by clusters of similar slices (a person proxy for files without subjects), `rows` slice by slice;
 * `auto` = subjects when the file has them, else near-duplicates.
 */
export type SplitMode = 'auto' | 'subjects' | 'near-duplicates' | 'rows';

/** Help text of the training flags (the Data and Recipe sections every front end prints). */
export const TRAINING_FLAGS_HELP = `Data
  --image-size N          decode and train at N x N (default 128)
  --val-fraction F        validation share of the stratified split (default 0.2)
  --max-train N           use at most N training rows after the split (quick runs)
  --seed N                split, shuffle, augmentation, dropout and initialisation seed (default 42)
  --augment MODE          training augmentation: full (flip, rotation, zoom, brightness, contrast;
                          the seed's) | geometric (flip, rotation, zoom) | no-zoom (all but zoom)
                          | photometric (flip, brightness, contrast)
                          | flip (left-right flips only) | none
  --no-augment            = --augment none
  --mixup A               mix pairs of training images and their labels, weights ~ Beta(A, A)
                          (e.g. 0.2; default 0 = off)
  --split MODE            auto (default): subjects when the file has a subject column, else
                          near-duplicates | subjects: every person's slices on one side, people
                          stratified by label | near-duplicates: clusters of similar slices (a
                          person proxy) stay on one side | rows: split slices independently (the
                          seed's; puts one person on both sides)
  --group-threshold X     RMS distance (0..255) that links slices into one cluster (default 20)
  --monitor NAME          what early stopping and the best checkpoint follow: val_person_auc
                          (per person; the default when the split is by subject) | val_auc
                          (per slice; the default otherwise)

Recipe (defaults = the seed's, meant for ImageNet backbone weights)
  --epochs N              upper bound on epochs (default 30; early stopping usually ends sooner)
  --batch-size N          default 32
  --lr X                  Adam learning rate (default 5e-4)
  --label-smoothing X     in [${LABEL_SMOOTHING_RANGE[0]}, ${LABEL_SMOOTHING_RANGE[1]}] (default 0.15)
  --patience N            early-stopping patience on the monitored AUC (default 5)
  --backbone-weights FILE Keras efficientnetb0_notop.h5 (ImageNet; layers < 150 frozen)
  --recipe seed|scratch   'scratch' = the from-scratch recipe of the shipped model: --all-trainable,
                          --lr 5e-4, --warmup-epochs 1, --cosine, --class-weight balanced-sqrt,
                          --augment flip, --mixup 0.4, --epochs 26, --patience 8 (each can still
                          be overridden)
  --all-trainable         train every backbone layer (default without backbone weights)
  --warmup-epochs N       linear warm-up, then constant or cosine (replaces LR on plateau)
  --cosine                cosine decay to lr/100 over --epochs (replaces LR on plateau)
  --class-weight none|balanced|balanced-sqrt
                          weight the loss by n / (K * count[class]) (or its square root)`;

/** A bad training flag (or a flag value the data cannot serve): the message names the flag and the value. */
export class TrainingFlagError extends TrainingError {
  /** `'TrainingFlagError'`. */
  override name = 'TrainingFlagError';
}

/** Parsed command-line values by flag name, as `node:util` `parseArgs` returns them. */
export type FlagValues = Readonly<Record<string, string | boolean | undefined>>;

/** What the training flags resolve to: the settings {@link runTrainingPipeline} takes. */
export interface TrainingFlags {
  /** Images are decoded and trained at `imageSize × imageSize`. */
  imageSize: number;
  /** Validation share of the split. */
  valFraction: number;
  /** At most this many training rows after the split (quick runs). */
  maxTrain?: number;
  /** Seed of the split, shuffle, augmentation, dropout and initialisation. */
  seed: number;
  /** How validation rows are chosen (see {@link splitTrainingRows}). */
  split: SplitMode;
  /** Link threshold of the near-duplicate clusters. */
  groupThreshold: number;
  /** Figure early stopping and the checkpoint follow; undefined = per person when split by subject, else per slice. */
  monitor?: 'val_auc' | 'val_person_auc';
  /** Keep only rows whose head footprint lies in this closed range (before the split). */
  footprintRange?: [number, number];
  /** Keras `efficientnetb0_notop.h5` (ImageNet weights) for the backbone. */
  backboneWeights?: string;
  /** How training progress is shown. */
  progress: 'auto' | 'bar' | 'lines' | 'none';
  /** The resolved recipe (all layers trainable when there are no backbone weights). */
  recipe: TrainingRecipe;
}

interface NumberRange {
  integer?: boolean;
  min?: number;
  max?: number;
  exclusiveMin?: boolean;
}

// A numeric flag's value, or undefined when absent; the message names the flag and its range.
function numberFlag(values: FlagValues, name: string, range: NumberRange = {}): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const { integer = false, min = -Infinity, max = Infinity, exclusiveMin = false } = range;
  const v = Number(raw);
  const low = exclusiveMin ? v <= min : v < min;
  if (raw === '' || typeof raw !== 'string' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || low || v > max) {
    const bounds = Number.isFinite(min) || Number.isFinite(max)
      ? ` ${Number.isFinite(max) ? `in ${exclusiveMin ? '(' : '['}${min}, ${max}]` : `${exclusiveMin ? '>' : '>='} ${min}`}`
      : '';
    throw new TrainingFlagError(`--${name} expects ${integer ? 'an integer' : 'a number'}${bounds}, got '${String(raw)}'`);
  }
  return v;
}

function stringFlag(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function oneOf<T extends string>(values: FlagValues, name: string, allowed: readonly T[], fallback: T, list = allowed.join(', ')): T {
  const v = stringFlag(values, name) ?? fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new TrainingFlagError(`--${name} must be ${list}, got '${v}'`);
  return v as T;
}

/**
 * Reads the training flags from parsed values: the recipe (`--recipe` and every override), the split, the monitor.
 * Without `--backbone-weights` every layer trains (a frozen random backbone would keep random features).
 * @param values `parseArgs` values (with {@link TRAINING_FLAGS}).
 * @returns The resolved flags.
 * @throws {@link TrainingFlagError} naming the flag and the bad value.
 * @example
 * ```ts
 * const { values } = parseArgs({ args: process.argv.slice(2), options: { ...TRAINING_FLAGS }, allowPositionals: true });
 * const result = await runTrainingPipeline({ ...parseTrainingFlags(values), data, test, out: 'runs/one' });
 * ```
 */
export function parseTrainingFlags(values: FlagValues): TrainingFlags {
  const progress = oneOf(values, 'progress', ['auto', 'bar', 'lines', 'none'] as const, 'auto', 'auto, bar, lines or none');
  const recipeName = oneOf(values, 'recipe', ['seed', 'scratch'] as const, 'seed', "'seed' or 'scratch'");
  const classWeight = stringFlag(values, 'class-weight') === undefined
    ? undefined
    : oneOf(values, 'class-weight', ['none', 'balanced', 'balanced-sqrt'] as const, 'none', 'none, balanced or balanced-sqrt');
  const augmentArg = stringFlag(values, 'augment') === undefined ? undefined : oneOf(values, 'augment', AUGMENT_MODES, 'full');
  if (augmentArg !== undefined && augmentArg !== 'none' && values['no-augment']) {
    throw new TrainingFlagError(`--no-augment contradicts --augment ${augmentArg}`);
  }
  const augment: AugmentMode | undefined = values['no-augment'] ? 'none' : augmentArg;
  const [lsMin, lsMax] = LABEL_SMOOTHING_RANGE;
  let recipe: TrainingRecipe;
  try {
    recipe = resolveTrainingRecipe(recipeName, {
      epochs: numberFlag(values, 'epochs', { integer: true, min: 1 }),
      batchSize: numberFlag(values, 'batch-size', { integer: true, min: 1 }),
      learningRate: numberFlag(values, 'lr', { min: 0, exclusiveMin: true }),
      labelSmoothing: numberFlag(values, 'label-smoothing', { min: lsMin, max: lsMax }),
      patience: numberFlag(values, 'patience', { integer: true, min: 0 }),
      warmupEpochs: numberFlag(values, 'warmup-epochs', { min: 0 }),
      cosine: values.cosine ? true : undefined,
      allTrainable: values['all-trainable'] ? true : undefined,
      classWeight,
      augment,
      mixup: numberFlag(values, 'mixup', { min: 0 }),
    });
  } catch (e) {
    if (e instanceof TrainingError && !(e instanceof TrainingFlagError)) throw new TrainingFlagError(e.message);
    throw e;
  }
  const split = oneOf(values, 'split', ['auto', 'subjects', 'near-duplicates', 'rows'] as const, 'auto', 'auto, subjects, near-duplicates or rows');
  const monitorArg = stringFlag(values, 'monitor');
  const monitor = monitorArg === undefined ? undefined : oneOf(values, 'monitor', ['val_auc', 'val_person_auc'] as const, 'val_auc', 'val_auc or val_person_auc');
  const rangeArg = stringFlag(values, 'footprint-range');
  let footprintRange: [number, number] | undefined;
  if (rangeArg !== undefined) {
    const m = /^\s*([\d.]+)\s*:\s*([\d.]+)\s*$/.exec(rangeArg);
    const [lo, hi] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
    if (!(lo >= 0 && hi <= 1 && lo <= hi)) throw new TrainingFlagError(`--footprint-range expects A:B with 0 <= A <= B <= 1, got '${rangeArg}'`);
    footprintRange = [lo, hi];
  }
  const backboneWeights = stringFlag(values, 'backbone-weights');
  // Without ImageNet weights a frozen backbone would keep its random features: train it all.
  if (backboneWeights === undefined) recipe.allTrainable = true;
  return {
    imageSize: numberFlag(values, 'image-size', { integer: true, min: 32 }) ?? 128,
    valFraction: numberFlag(values, 'val-fraction', { min: 0, max: 0.9, exclusiveMin: true }) ?? 0.2,
    maxTrain: numberFlag(values, 'max-train', { integer: true, min: 1 }),
    seed: numberFlag(values, 'seed', { integer: true }) ?? 42,
    split,
    groupThreshold: numberFlag(values, 'group-threshold', { min: 0 }) ?? 20,
    footprintRange,
    monitor,
    backboneWeights,
    progress,
    recipe,
  };
}

/**
 * The settings of a run as one flat record: what run.json and metadata.json store (`recipe` is the recipe's name,
 * `lr` its learning rate).
 */
export interface TrainingRunOptions {
  /** Name of the recipe the defaults came from. */
  recipe: string;
  /** Training image size (square). */
  imageSize: number;
  /** Validation share of the split. */
  valFraction: number;
  /** The run's seed. */
  seed: number;
  /** true = full augmentation, false = none, else the named mode. */
  augment: boolean | Exclude<AugmentMode, 'full' | 'none'>;
  /** Mixup Beta shape, 0 = off. */
  mixup?: number;
  /** How the validation rows were chosen (`auto` resolved to what was used). */
  split?: SplitMode;
  /** Number of validation people, when the split was by subject. */
  validationSubjects?: number;
  /** What early stopping and the checkpoint followed. */
  monitor?: 'val_auc' | 'val_person_auc';
  /** Near-duplicate link threshold of `split: 'near-duplicates'`. */
  groupThreshold?: number;
  /** Head-footprint range the rows were restricted to before the split. */
  footprintRange?: [number, number];
  /** Upper bound on epochs. */
  epochs: number;
  /** Images per step. */
  batchSize: number;
  /** Adam learning rate. */
  lr: number;
  /** Label smoothing of the loss. */
  labelSmoothing: number;
  /** Early-stopping patience. */
  patience: number;
  /** Backbone weights file, when given. */
  backboneWeights?: string;
  /** Whether every backbone layer trained. */
  allTrainable: boolean;
  /** Linear warm-up epochs. */
  warmupEpochs: number;
  /** Cosine decay of the learning rate. */
  cosine: boolean;
  /** Class weights of the loss, when any. */
  classWeight?: string;
  /** Cap on training rows, when given. */
  maxTrain?: number;
}

/** The split settings of {@link TrainingFlags} (what {@link splitTrainingRows} needs). */
export type TrainingSplitSettings = Pick<TrainingFlags, 'split' | 'groupThreshold' | 'valFraction' | 'seed' | 'maxTrain' | 'footprintRange'>;

/** How a split came out: the part of {@link TrainingRows} that {@link flattenTrainingFlags} and {@link monitorFor} read. */
export interface SplitOutcome {
  /** How the split was made (`auto` resolved). */
  mode: Exclude<SplitMode, 'auto'>;
  /** Validation people, when split by subject. */
  validationSubjects?: number;
}

/**
 * The figure early stopping and the best checkpoint follow: the asked one when given, else per person when the split
 * was by subject (a diagnosis is a person's), else per slice.
 * @param flags The asked monitor, if any.
 * @param rows The split made.
 * @returns `'val_person_auc'` or `'val_auc'`.
 */
export function monitorFor(flags: Pick<TrainingFlags, 'monitor'>, rows: Pick<SplitOutcome, 'mode'>): 'val_auc' | 'val_person_auc' {
  return flags.monitor ?? (rows.mode === 'subjects' ? 'val_person_auc' : 'val_auc');
}

/**
 * {@link TrainingFlags} flattened into the record run.json and metadata.json store.
 * @param flags Parsed flags.
 * @param rows The split that was made, so that `split: 'auto'` is recorded as what it resolved to.
 * @returns The flat record.
 */
export function flattenTrainingFlags(
  flags: Pick<TrainingFlags, 'recipe' | 'imageSize' | 'valFraction' | 'seed' | 'split' | 'groupThreshold' | 'monitor' | 'footprintRange' | 'backboneWeights' | 'maxTrain'>,
  rows?: SplitOutcome,
): TrainingRunOptions {
  const r = flags.recipe;
  const split = rows?.mode ?? flags.split;
  return {
    recipe: r.name,
    imageSize: flags.imageSize,
    valFraction: flags.valFraction,
    seed: flags.seed,
    augment: r.augment === 'full' ? true : r.augment === 'none' ? false : r.augment,
    mixup: r.mixup || undefined,
    split,
    groupThreshold: split === 'near-duplicates' ? flags.groupThreshold : undefined,
    validationSubjects: rows?.validationSubjects,
    monitor: rows ? monitorFor(flags, rows) : flags.monitor,
    footprintRange: flags.footprintRange,
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

/**
 * The inverse of {@link flattenTrainingFlags}: the settings of a recorded run (run.json's `options`), to run the
 * pipeline again on the same split and recipe (e.g. to ship its checkpoint).
 * @param options The recorded settings.
 * @returns Flags for {@link runTrainingPipeline} (`progress: 'none'`).
 * @throws {@link TrainingFlagError} when the record names an unknown recipe or a bad value.
 */
export function trainingFlagsFromRunOptions(options: TrainingRunOptions): TrainingFlags {
  const augment: AugmentMode = options.augment === true ? 'full' : options.augment === false ? 'none' : options.augment;
  let recipe: TrainingRecipe;
  try {
    recipe = resolveTrainingRecipe(options.recipe, {
      epochs: options.epochs,
      batchSize: options.batchSize,
      learningRate: options.lr,
      labelSmoothing: options.labelSmoothing,
      patience: options.patience,
      allTrainable: options.allTrainable,
      warmupEpochs: options.warmupEpochs,
      cosine: options.cosine,
      classWeight: (options.classWeight ?? 'none') as 'none' | 'balanced' | 'balanced-sqrt',
      augment,
      mixup: options.mixup ?? 0,
    });
  } catch (e) {
    if (e instanceof TrainingError && !(e instanceof TrainingFlagError)) throw new TrainingFlagError(e.message);
    throw e;
  }
  return {
    imageSize: options.imageSize,
    valFraction: options.valFraction,
    maxTrain: options.maxTrain,
    seed: options.seed,
    split: options.split ?? 'auto',
    groupThreshold: options.groupThreshold ?? 20,
    monitor: options.monitor,
    footprintRange: options.footprintRange,
    backboneWeights: options.backboneWeights,
    progress: 'none',
    recipe,
  };
}
