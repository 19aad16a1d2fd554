// The training flags shared by `neurostagenet train` and examples/train.ts: one parser, one set of checks.
import { TrainingError } from '../train/errors.js';
import { AUGMENT_MODES, resolveTrainingRecipe, type AugmentMode, type TrainingRecipe } from '../train/recipe.js';
import { groupNearDuplicates } from '../data/groups.js';
import { headFootprints } from '../data/slice-level.js';
import { selectRows } from '../data/subset.js';
import { StratifiedSplit } from '../data/split.js';
import type { LabeledImageSource } from '../data/types.js';
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
  split: { type: 'string' },
  'group-threshold': { type: 'string' },
  mixup: { type: 'string' },
  'footprint-range': { type: 'string' },
  monitor: { type: 'string' },
} as const;

/**
 * How the training file is split into train and validation rows: `subjects` by the file's subject column,
 * `near-duplicates` by clusters of similar slices (a person proxy for files without subjects), `rows` slice by slice;
 * `auto` = subjects when the file has them, else near-duplicates.
 */
export type SplitMode = 'auto' | 'subjects' | 'near-duplicates' | 'rows';

/** Help text of the training flags (the Data and Recipe sections both front ends print). */
export const TRAIN_OPTIONS_HELP = `Data
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
  --label-smoothing X     default 0.15
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

/** What the training flags resolve to. */
export interface TrainFlags {
  imageSize: number;
  valFraction: number;
  maxTrain?: number;
  seed: number;
  /** How validation rows are chosen (see {@link splitTrainingRows}). */
  split: SplitMode;
  /** Link threshold of the near-duplicate clusters. */
  groupThreshold: number;
  /** Figure early stopping and the checkpoint follow; undefined = per person when split by subject, else per slice. */
  monitor?: 'val_auc' | 'val_person_auc';
  /** Keep only rows whose head footprint lies in this closed range (before the split). */
  footprintRange?: [number, number];
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
  if (augmentArg !== undefined && !(AUGMENT_MODES as readonly string[]).includes(augmentArg)) {
    throw new UsageError(`--augment must be ${AUGMENT_MODES.join(', ')}, got '${augmentArg}'`, command);
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
      mixup: opt('mixup', { min: 0 }),
    });
  } catch (e) {
    if (e instanceof TrainingError) throw new UsageError(e.message, command);
    throw e;
  }
  const split = stringOption(values, 'split', 'auto') as string;
  if (!['auto', 'subjects', 'near-duplicates', 'rows'].includes(split)) {
    throw new UsageError(`--split must be auto, subjects, near-duplicates or rows, got '${split}'`, command);
  }
  const monitor = stringOption(values, 'monitor');
  if (monitor !== undefined && monitor !== 'val_auc' && monitor !== 'val_person_auc') {
    throw new UsageError(`--monitor must be val_auc or val_person_auc, got '${monitor}'`, command);
  }
  const rangeArg = stringOption(values, 'footprint-range');
  let footprintRange: [number, number] | undefined;
  if (rangeArg !== undefined) {
    const m = /^\s*([\d.]+)\s*:\s*([\d.]+)\s*$/.exec(rangeArg);
    const [lo, hi] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
    if (!(lo >= 0 && hi <= 1 && lo <= hi)) throw new UsageError(`--footprint-range expects A:B with 0 <= A <= B <= 1, got '${rangeArg}'`, command);
    footprintRange = [lo, hi];
  }
  const backboneWeights = stringOption(values, 'backbone-weights');
  // Without ImageNet weights a frozen backbone would keep its random features: train it all.
  if (backboneWeights === undefined) recipe.allTrainable = true;
  return {
    imageSize: numberOption(values, 'image-size', 128, { integer: true, min: 32 }, command),
    valFraction: numberOption(values, 'val-fraction', 0.2, { min: 0, max: 0.9, exclusiveMin: true }, command),
    maxTrain: opt('max-train', { integer: true, min: 1 }),
    seed: numberOption(values, 'seed', 42, { integer: true }, command),
    split: split as SplitMode,
    groupThreshold: numberOption(values, 'group-threshold', 20, { min: 0 }, command),
    footprintRange,
    monitor,
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

/**
 * {@link TrainFlags} flattened into the record run.json stores.
 * @param flags Parsed flags.
 * @param rows The split that was made, so that `split: 'auto'` is recorded as what it resolved to.
 */
export function flattenTrainFlags(flags: TrainFlags, rows?: Pick<TrainingRows, 'mode' | 'validationSubjects'>): FlatTrainOptions {
  const r = flags.recipe;
  return {
    recipe: r.name,
    imageSize: flags.imageSize,
    valFraction: flags.valFraction,
    seed: flags.seed,
    augment: r.augment === 'full' ? true : r.augment === 'none' ? false : r.augment,
    mixup: r.mixup || undefined,
    split: rows?.mode ?? flags.split,
    groupThreshold: (rows?.mode ?? flags.split) === 'near-duplicates' ? flags.groupThreshold : undefined,
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
 * The figure early stopping and the best checkpoint follow: `--monitor` when given, else per person when the split
 * was by subject (a diagnosis is a person's), else per slice.
 * @param flags Parsed flags.
 * @param rows The split made.
 */
export function monitorFor(flags: Pick<TrainFlags, 'monitor'>, rows: Pick<TrainingRows, 'mode'>): 'val_auc' | 'val_person_auc' {
  return flags.monitor ?? (rows.mode === 'subjects' ? 'val_person_auc' : 'val_auc');
}

/** Train / validation rows of the training file, and a line that says how they were chosen. */
export interface TrainingRows {
  /** Training rows (at most `maxTrain`). */
  train: Int32Array;
  /** Validation rows. */
  validation: Int32Array;
  /** One line for the log, e.g. `split (seed 42, by 119 subjects): 3072 train / 736 validation rows (23 validation people)`. */
  description: string;
  /** How the split was made (`auto` resolved). */
  mode: Exclude<SplitMode, 'auto'>;
  /** Validation people, when split by subject. */
  validationSubjects?: number;
}

/**
 * Splits the training file as the flags say: stratified, and with `split: 'near-duplicates'` grouped by clusters of
 * near-duplicate slices (subject proxies, see {@link groupNearDuplicates}) so that validation measures new people.
 * @param source Training file.
 * @param flags Parsed training flags.
 * @returns Row indices and a log line.
 */
export async function splitTrainingRows(
  source: LabeledImageSource,
  flags: Pick<TrainFlags, 'split' | 'groupThreshold' | 'valFraction' | 'seed' | 'maxTrain' | 'footprintRange'>,
): Promise<TrainingRows> {
  // Rows kept before the split (all, or those of the asked slice levels), and the source the split sees.
  let kept: Int32Array | undefined;
  let levels = '';
  if (flags.footprintRange) {
    const [lo, hi] = flags.footprintRange;
    const footprints = await headFootprints(source);
    kept = Int32Array.from(Array.from(footprints).flatMap((f, i) => (f >= lo && f <= hi ? [i] : [])));
    if (kept.length < 2) throw new UsageError(`--footprint-range ${lo}:${hi} keeps ${kept.length} of ${source.length} rows: nothing to split`);
    levels = `, ${kept.length} of ${source.length} rows with head footprint in [${lo}, ${hi}]`;
  }
  const rows = kept ? selectRows(source, kept) : source;
  const splitter = new StratifiedSplit({ testSize: flags.valFraction, seed: flags.seed });
  const mode: Exclude<SplitMode, 'auto'> = flags.split === 'auto' ? (rows.subjects ? 'subjects' : 'near-duplicates') : flags.split;
  let how = 'rows';
  let split;
  let validationSubjects: number | undefined;
  if (mode === 'subjects') {
    const subjects = rows.subjects;
    if (!subjects) throw new UsageError('--split subjects: the training file has no subject column (see --subject-column)');
    split = splitter.split(rows.labels, subjects);
    validationSubjects = new Set(Array.from(split.test, (i) => subjects[i])).size;
    how = `${new Set(subjects).size} subjects`;
  } else if (mode === 'near-duplicates') {
    const clusters = await groupNearDuplicates(rows, { threshold: flags.groupThreshold });
    split = splitter.split(rows.labels, clusters.groups);
    how = `${clusters.count} near-duplicate clusters (threshold ${flags.groupThreshold})`;
  } else {
    split = splitter.split(rows.labels);
  }
  const toSource = (r: Int32Array) => (kept ? r.map((i) => (kept as Int32Array)[i]) : r);
  const train = toSource(flags.maxTrain ? split.train.subarray(0, flags.maxTrain) : split.train);
  const validation = toSource(split.test);
  const people = validationSubjects === undefined ? '' : ` (${validationSubjects} validation people)`;
  return {
    train,
    validation,
    description: `split (seed ${flags.seed}, by ${how}${levels}): ${train.length} train / ${validation.length} validation rows${people}`,
    mode,
    validationSubjects,
  };
}
