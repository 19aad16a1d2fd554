// The training pipeline: split -> build -> train -> calibrate -> evaluate -> save with metadata -> report, once, for
// `neurostagenet train`, examples/train.ts and scripts/ship-model.ts (which ships a trained checkpoint through it).
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { groupNearDuplicates } from '../data/groups.js';
import { footprintRange, headFootprints, type FootprintRange } from '../data/slice-level.js';
import { majorityLabel, StratifiedSplit, type SplitIndices } from '../data/split.js';
import { selectRows } from '../data/subset.js';
import type { LabeledImageSource } from '../data/types.js';
import { figuresByPerson, reliabilityIntervals, type BootstrapOptions, type FiguresByPerson } from '../metrics/bootstrap.js';
import { fitInputCheck, serializeInputCheck, type InputCheckModel } from '../data/input-check.js';
import { attachInputCheck } from '../models/input-check.js';
import { applyTemperature, chooseTemperature, type CalibrationDecision } from '../metrics/calibration.js';
import { MultiClassMetrics, type MultiClassMetricsResult } from '../metrics/multiclass-metrics.js';
import { formatEvaluationReport, type EvaluationReportOptions } from '../metrics/report-format.js';
import type { EvaluationReportFiles } from '../metrics/report-writer.js';
import { buildNeuroStageNet, countParams, type ParamCounts } from '../models/neurostagenet.js';
import { ALZHEIMER_SEVERITY_ORDER, writeModelMetadata, type ModelMetadata } from '../models/pretrained.js';
import { saveModel } from '../io/fs-model-io.js';
import { nodeFs, nodePath } from '../env/node-builtin.js';
import { TrainingError } from './errors.js';
import { evaluate, type EvaluationResult } from './evaluate.js';
import {
  flattenTrainingFlags,
  monitorFor,
  TrainingFlagError,
  type SplitOutcome,
  type TrainingFlags,
  type TrainingRunOptions,
  type TrainingSplitSettings,
} from './flags.js';
import { recipeCallbacks, recipeTrainOptions, resolveTrainingRecipe, type TrainingRecipe, type TrainingRecipeName } from './recipe.js';
import { trainNeuroStageNet } from './trainer.js';
import type { TrainOptions, TrainResult } from './types.js';

// ---------------------------------------------------------------------------------------------------------------
// Step 1: the split by person.

/** People on each side of a split, when the data has subjects. */
export interface SplitPeople {
  /** People with a training row. */
  train: number;
  /** People with a validation row. */
  validation: number;
  /** People with rows on both sides: 0 for a split by person (`subjects`), usually many for `rows`. */
  shared: number;
  /** Training people per class (each person under the label most of their rows carry). */
  trainPerClass: number[];
  /** Validation people per class. */
  validationPerClass: number[];
}

/** Train / validation rows of the training data, and a line that says how they were chosen. */
export interface TrainingRows extends SplitOutcome {
  /** Training rows (at most `maxTrain`). */
  train: Int32Array;
  /** Validation rows. */
  validation: Int32Array;
  /** One line for the log, e.g. `split (seed 42, by 119 subjects): 3072 train / 736 validation rows (23 validation people)`. */
  description: string;
  /** People per side, when the data has subjects (whatever the mode). */
  people?: SplitPeople;
}

// People per class of the rows `rows` (each person under their majority label), and their set.
function peopleOf(source: LabeledImageSource, rows: ArrayLike<number>): { set: Set<string>; perClass: number[] } | undefined {
  const subjects = source.subjects;
  if (!subjects) return undefined;
  const votes = new Map<string, Map<number, number>>();
  for (let j = 0; j < rows.length; j++) {
    const i = rows[j];
    let v = votes.get(subjects[i]);
    if (!v) votes.set(subjects[i], (v = new Map()));
    v.set(source.labels[i], (v.get(source.labels[i]) ?? 0) + 1);
  }
  const perClass = new Array<number>(source.classNames.length).fill(0);
  for (const v of votes.values()) {
    const label = majorityLabel(v);
    if (label >= 0 && label < perClass.length) perClass[label]++;
  }
  return { set: new Set(votes.keys()), perClass };
}

/**
 * Splits the training data as the settings say: stratified, by person with `split: 'subjects'` (or `'auto'` on data
 * with subjects), by clusters of near-duplicate slices with `'near-duplicates'` (person proxies for data without
 * subjects, see `groupNearDuplicates`), slice by slice with `'rows'`; optionally only the rows of some slice levels.
 * @param source Training data.
 * @param settings Split mode, validation share, seed, near-duplicate threshold, training-row cap, footprint range.
 * @returns Row indices (into `source`), people per side and a log line.
 * @throws {@link TrainingFlagError} when the data cannot be split so (no subjects for `'subjects'`, a footprint range
 *   that keeps fewer than 2 rows).
 */
export async function splitTrainingRows(source: LabeledImageSource, settings: Partial<TrainingSplitSettings> = {}): Promise<TrainingRows> {
  const valFraction = settings.valFraction ?? 0.2;
  const seed = settings.seed ?? 42;
  const groupThreshold = settings.groupThreshold ?? 20;
  const wanted = settings.split ?? 'auto';
  // Rows kept before the split (all, or those of the asked slice levels), and the source the split sees.
  let kept: Int32Array | undefined;
  let levels = '';
  if (settings.footprintRange) {
    const [lo, hi] = settings.footprintRange;
    const footprints = await headFootprints(source);
    kept = Int32Array.from(Array.from(footprints).flatMap((f, i) => (f >= lo && f <= hi ? [i] : [])));
    if (kept.length < 2) throw new TrainingFlagError(`--footprint-range ${lo}:${hi} keeps ${kept.length} of ${source.length} rows: nothing to split`);
    levels = `, ${kept.length} of ${source.length} rows with head footprint in [${lo}, ${hi}]`;
  }
  const rows = kept ? selectRows(source, kept) : source;
  const splitter = new StratifiedSplit({ testSize: valFraction, seed });
  const mode: Exclude<typeof wanted, 'auto'> = wanted === 'auto' ? (rows.subjects ? 'subjects' : 'near-duplicates') : wanted;
  let how = 'rows';
  let split: SplitIndices;
  let validationSubjects: number | undefined;
  if (mode === 'subjects') {
    const subjects = rows.subjects;
    if (!subjects) throw new TrainingFlagError('--split subjects: the training file has no subject column (see --subject-column)');
    split = splitter.split(rows.labels, subjects);
    validationSubjects = new Set(Array.from(split.test, (i) => subjects[i])).size;
    how = `${new Set(subjects).size} subjects`;
  } else if (mode === 'near-duplicates') {
    const clusters = await groupNearDuplicates(rows, { threshold: groupThreshold });
    split = splitter.split(rows.labels, clusters.groups);
    how = `${clusters.count} near-duplicate clusters (threshold ${groupThreshold})`;
  } else {
    split = splitter.split(rows.labels);
  }
  const toSource = (r: Int32Array): Int32Array => (kept ? r.map((i) => (kept as Int32Array)[i]) : r);
  const train = toSource(settings.maxTrain ? split.train.subarray(0, settings.maxTrain) : split.train);
  const validation = toSource(split.test);
  const trainPeople = peopleOf(source, train);
  const validationPeople = peopleOf(source, validation);
  const people = trainPeople && validationPeople
    ? {
        train: trainPeople.set.size,
        validation: validationPeople.set.size,
        shared: [...validationPeople.set].filter((p) => trainPeople.set.has(p)).length,
        trainPerClass: trainPeople.perClass,
        validationPerClass: validationPeople.perClass,
      }
    : undefined;
  const peopleNote = validationSubjects === undefined ? '' : ` (${validationSubjects} validation people)`;
  return {
    train,
    validation,
    description: `split (seed ${seed}, by ${how}${levels}): ${train.length} train / ${validation.length} validation rows${peopleNote}`,
    mode,
    validationSubjects,
    people,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Options and result.

/** What {@link TrainingPipelineOptions.buildModel} is asked to build. */
export interface ModelSpec {
  /** `[height, width, 1]` of the training images. */
  inputShape: [number, number, 1];
  /** Number of classes. */
  numClasses: number;
  /** Keras ImageNet weights for the backbone, when given. */
  backboneWeights?: string;
  /** Train every backbone layer (else freeze it below layer 150). */
  allTrainable: boolean;
  /** Initialisation seed. */
  seed: number;
}

/** Where {@link runTrainingPipeline} writes; nothing is written for an entry left out. */
export interface TrainingPipelineOutputs {
  /** Model directory: `model.json`, `weights.bin`, `metadata.json` (reload with `loadPretrainedNeuroStageNet({ location })`). */
  model?: string;
  /** Directory of the best checkpoint, written during training by `modelCheckpoint`. */
  checkpoint?: string;
  /** `history.json`: the trainer's result (every epoch's figures). */
  history?: string;
  /** `run.json`: the run's record ({@link TrainingRunRecord}). */
  run?: string;
  /** Report directory (metrics.json, report.txt, PNG plots), when there is test data. */
  report?: string;
}

/** Facts about the run for run.json that the pipeline cannot know (the command line, the file paths). */
export interface TrainingRunInfo {
  /** Command-line arguments of the run. */
  argv?: readonly string[];
  /** Path of the training file. */
  trainPath?: string;
  /** Path of the test file. */
  testPath?: string;
}

/**
 * Options of {@link runTrainingPipeline}. Every setting of {@link TrainingFlags} can be given (so
 * `{ ...parseTrainingFlags(values), data, test }` is a whole call); the defaults are the seed's recipe, a split by
 * person (`split: 'auto'`) of 20% validation, seed 42.
 */
export interface TrainingPipelineOptions extends Partial<Omit<TrainingFlags, 'recipe' | 'progress'>> {
  /** Training data: split into training and validation rows (by person when it has subjects). */
  data: LabeledImageSource;
  /** Test data, evaluated once after calibration (never used to choose anything). */
  test?: LabeledImageSource;
  /**
   * The recipe: a name (`'seed'`, default, or `'scratch'`) or a resolved recipe (`resolveTrainingRecipe`). Without
   * `backboneWeights` every layer trains (a frozen random backbone would keep random features).
   */
  recipe?: TrainingRecipe | TrainingRecipeName;
  /** How training progress is shown (the trainer's `progress`). Default `'auto'`. */
  progress?: TrainOptions['progress'];
  /** More callbacks, run after the recipe's (early stopping, checkpoint, learning-rate rule). */
  callbacks?: TrainOptions['callbacks'];
  /** Builds the model to train. Default `buildNeuroStageNet` with the spec. */
  buildModel?: (spec: ModelSpec) => Promise<tfl.LayersModel>;
  /**
   * A model trained already (e.g. a checkpoint being shipped): the build and train steps are skipped, the model is
   * calibrated, evaluated and saved as a trained one is, and it stays the caller's (not disposed on errors).
   */
  trainedModel?: tfl.LayersModel;
  /** Class names of the outputs. Default the data's. */
  classNames?: readonly string[];
  /** Severity order of the classes for ordinal figures. Default `ALZHEIMER_SEVERITY_ORDER` for 4 classes, else label order. */
  ordinalOrder?: readonly number[];
  /** Images per evaluation forward pass. Default the recipe's batch size. */
  batchSize?: number;
  /** Bootstrap of the test figures' intervals over people (resamples, default 2000; seed, default 0). */
  bootstrap?: BootstrapOptions;
  /** Where to write: a directory (`model/`, `best-model/`, `history.json`, `run.json`, `report/` in it) or each place. */
  out?: string | TrainingPipelineOutputs;
  /**
   * Writes the report: pass `writeEvaluationReport` from neurostagenet/node. Needed when `out` names a report
   * directory and there is test data (this entry does not import it: the report's PNG plots need Node and the
   * optional native canvas).
   */
  writeReport?: (metrics: MultiClassMetricsResult, dir: string, options: EvaluationReportOptions) => Promise<EvaluationReportFiles>;
  /** Store the model's weights as float16 (half the size; tfjs restores float32 on load). */
  quantize?: 'float16';
  /**
   * More for metadata.json, given or computed from the run's facts (e.g. a shipped model's intended use). Merged
   * over the pipeline's fields; a `training` object is merged into the pipeline's `training`.
   */
  metadata?: ModelMetadata | ((facts: TrainingPipelineFacts) => ModelMetadata | Promise<ModelMetadata>);
  /** The command line and file paths, for run.json. */
  runInfo?: TrainingRunInfo;
  /** Where the pipeline's log lines go (split, model, training, calibration, report). Default nowhere. */
  log?: (line: string) => void;
}

/** The test data's figures. */
export interface PipelineTestEvaluation {
  /** Metrics and predictions at T = 1 (uncalibrated). */
  evaluation: EvaluationResult;
  /**
   * Metrics of the probabilities at the fitted temperature, whether or not it was kept: for information (what
   * calibration would do on test); the decision is made on validation only.
   */
  calibrated: MultiClassMetricsResult;
  /**
   * The served figures per slice and per person with intervals: of the calibrated probabilities when the temperature
   * was kept, else of the uncalibrated ones (`evaluation.figures`).
   */
  figures: FiguresByPerson;
}

/** Rows, classes and people of a data set. */
export interface DataFacts {
  /** File name, when the data has one. */
  name?: string;
  /** Rows (slices). */
  rows: number;
  /** Rows per class. */
  classRows: number[];
  /** People, when the data has subjects. */
  people?: number;
  /** People per class (each under the label most of their rows carry). */
  classPeople?: number[];
}

/** Paths {@link runTrainingPipeline} wrote. */
export interface TrainingPipelineFiles {
  /** Model directory. */
  model?: string;
  /** metadata.json in it. */
  metadata?: string;
  /** Best checkpoint directory (when a checkpoint was saved). */
  checkpoint?: string;
  /** history.json. */
  history?: string;
  /** run.json. */
  run?: string;
  /** The report's files. */
  report?: EvaluationReportFiles;
}

/** The best epoch of a monitored figure. */
export interface BestEpoch {
  /** 1-based epoch. */
  epoch: number;
  /** The figure at that epoch. */
  value: number;
}

/** Rows, classes and people of the training and test data. */
export interface PipelineData {
  /** The training data (both sides of the split). */
  train: DataFacts;
  /** The test data, when given. */
  test?: DataFacts;
}

/** What a run found before anything is written: the argument of a {@link TrainingPipelineOptions.metadata} function. */
export interface TrainingPipelineFacts {
  /** The trained model (best weights restored), or the given `trainedModel`. */
  model: tfl.LayersModel;
  /** The recipe the run used. */
  recipe: TrainingRecipe;
  /** The split, with people per side. */
  split: TrainingRows;
  /** What early stopping and the checkpoint followed. */
  monitor: 'val_auc' | 'val_person_auc';
  /** The run's settings as run.json records them. */
  options: TrainingRunOptions;
  /** Parameter counts of the model. */
  params: ParamCounts;
  /** The trainer's result (undefined with `trainedModel`). */
  training?: TrainResult;
  /** Best monitored figure of the run and its 1-based epoch (undefined with `trainedModel`). */
  best?: BestEpoch;
  /** Best per-slice validation AUC of any epoch. */
  bestValAuc?: number;
  /** Validation rows evaluated (the temperature is fitted on their logits). */
  validation: EvaluationResult;
  /** The temperature decision (`chooseTemperature`). */
  calibration: CalibrationDecision;
  /** Test figures, when there was test data. */
  test?: PipelineTestEvaluation;
  /** Class names of the outputs. */
  classNames: string[];
  /** Severity order of the classes. */
  ordinalOrder: number[];
  /** Head footprints of the training slices: the slice levels the model learned. */
  trainingFootprint: FootprintRange;
  /** The input check fitted on the training people, threshold on the validation people (stored in the metadata). */
  inputCheck: InputCheckModel;
  /** Rows, classes and people of the training and test data. */
  data: PipelineData;
  /** The tfjs backend the run used. */
  backend: string;
}

/** A run's settings as run.json records them, with the file paths when given. */
export interface RecordedRunOptions extends TrainingRunOptions {
  /** Path of the training file. */
  trainPath?: string;
  /** Path of the test file. */
  testPath?: string;
}

/** The split as run.json records it. */
export interface RecordedSplit {
  /** How the split was made. */
  mode: TrainingRows['mode'];
  /** The log line. */
  description: string;
  /** Training rows. */
  trainRows: number;
  /** Validation rows. */
  validationRows: number;
  /** People per side, when the data has subjects. */
  people?: SplitPeople;
}

/** The temperature decision as run.json records it. */
export interface RecordedCalibration {
  /** Whether the fitted temperature is served. */
  kept: boolean;
  /** The temperature fitted on the validation logits. */
  fittedTemperature: number;
  /** One sentence on the decision. */
  reason: string;
  /** Validation ECE at T = 1 (`before`) and at the fitted temperature (`after`). */
  validationEce: CalibrationDecision['validationEce'];
}

/** Validation figures as run.json records them. */
export interface RecordedValidation {
  /** Validation slices. */
  rows: number;
  /** Validation people, when the data has subjects. */
  people?: number;
  /** Accuracy per slice. */
  accuracy: number;
  /** Macro AUC per slice. */
  macroAuc?: number;
  /** Macro AUC per person. */
  personMacroAuc?: number;
}

/**
 * Test figures as run.json records them: as served (calibrated only when the temperature was kept), per slice and per
 * person (class averages over the classes with enough people), and the ECE per slice at T = 1 and at the fitted
 * temperature.
 */
export interface RecordedTest {
  /** Test slices. */
  rows: number;
  /** Test people, when the data has subjects. */
  people?: number;
  /** Accuracy per slice. */
  accuracy: number;
  /** Macro AUC per slice. */
  macroAuc?: number;
  /** Quadratic kappa per slice, in severity order. */
  quadraticKappa: number;
  /** Accuracy per person. */
  personAccuracy?: number;
  /** Macro AUC per person. */
  personMacroAuc?: number;
  /** ECE per slice at T = 1. */
  eceBefore: number;
  /** ECE per slice at the fitted temperature (kept or not). */
  eceAfter: number;
  /** The served temperature. */
  temperature: number;
}

/** run.json: one run's record, what tools read back (e.g. scripts/ship-model.ts). */
export interface TrainingRunRecord {
  /** Command-line arguments, when given. */
  argv?: string[];
  /** The run's settings, with the file paths when given. */
  options: RecordedRunOptions;
  /** tfjs backend. */
  backend: string;
  /** Parameter counts. */
  params: ParamCounts;
  /** Epochs run. */
  epochs: number;
  /** Wall seconds of every epoch. */
  secondsPerEpoch: number[];
  /** Whether early stopping ended the run. */
  stoppedEarly?: boolean;
  /** What the checkpoint followed. */
  monitor: 'val_auc' | 'val_person_auc';
  /** Best monitored figure and its 1-based epoch. */
  best?: BestEpoch;
  /** Best per-slice validation AUC. */
  bestValAuc?: number;
  /** Rows, classes and people of the data. */
  data: PipelineData;
  /** The split. */
  split: RecordedSplit;
  /** Served temperature (1 when the fitted one was not kept). */
  temperature: number;
  /** The temperature decision. */
  calibration: RecordedCalibration;
  /** Validation figures of the model. */
  validation: RecordedValidation;
  /** Test figures, when there was test data. */
  test?: RecordedTest;
  /** Files written. */
  files: TrainingPipelineFiles;
  /** Wall seconds of the whole pipeline. */
  wallSeconds: number;
}

/** What {@link runTrainingPipeline} returns. The caller owns `model` and disposes it. */
export interface TrainingPipelineResult extends TrainingPipelineFacts {
  /** metadata.json's contents (written when `out` names a model directory). */
  metadata: ModelMetadata;
  /** run.json's contents (written when `out` names a run file). */
  record: TrainingRunRecord;
  /** Paths written. */
  files: TrainingPipelineFiles;
  /** Wall seconds of the whole pipeline. */
  seconds: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers.

const fileName = (path: string | undefined): string | undefined => path?.split(/[\\/]/).pop();

/**
 * Rows, classes and people of a data set (what run.json and the model card report).
 * @param source The data.
 * @returns Its counts.
 */
export function describeData(source: LabeledImageSource): DataFacts {
  const classRows = new Array<number>(source.classNames.length).fill(0);
  for (const l of source.labels) if (l >= 0 && l < classRows.length) classRows[l]++;
  const people = peopleOf(source, Int32Array.from({ length: source.length }, (_, i) => i));
  return {
    name: fileName((source as { file?: unknown }).file as string | undefined),
    rows: source.length,
    classRows,
    people: people?.set.size,
    classPeople: people?.perClass,
  };
}

function resolveOutputs(out: TrainingPipelineOptions['out']): TrainingPipelineOutputs {
  if (out === undefined) return {};
  if (typeof out !== 'string') return out;
  const dir = out.replace(/[\\/]+$/, '');
  return { model: `${dir}/model`, checkpoint: `${dir}/best-model`, history: `${dir}/history.json`, run: `${dir}/run.json`, report: `${dir}/report` };
}

async function writeJson(file: string, value: unknown): Promise<string> {
  const operation = `writing ${file}`;
  const hint = "leave the pipeline's `out` unset outside Node and keep the returned result instead";
  const fs = nodeFs(operation, hint);
  await fs.mkdir(nodePath(operation, hint).dirname(file), { recursive: true });
  await fs.writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
}

// The first best epoch of a monitored figure (what modelCheckpoint's saveBestOnly keeps).
function bestEpoch(values: readonly number[] | undefined): BestEpoch | undefined {
  let best: BestEpoch | undefined;
  (values ?? []).forEach((v, i) => {
    if (Number.isFinite(v) && (best === undefined || v > best.value)) best = { epoch: i + 1, value: v };
  });
  return best;
}

// The trainer's Adam state is not needed once training ends: free it, so that disposing the model frees everything
// (tfjs does not dispose an optimizer it did not create). Training the model again compiles it anew.
function releaseOptimizer(model: tfl.LayersModel): void {
  const optimizer = model.optimizer;
  if (!optimizer) return;
  optimizer.dispose();
  model.optimizer = null as unknown as tf.Optimizer;
}

// Severity order for the classes: the Alzheimer stages' for 4 classes (as loadPretrainedNeuroStageNet defaults), else label order.
function defaultOrdinalOrder(k: number): number[] {
  return k === ALZHEIMER_SEVERITY_ORDER.length ? [...ALZHEIMER_SEVERITY_ORDER] : Array.from({ length: k }, (_, i) => i);
}

function mergeMetadata(base: ModelMetadata, extra: ModelMetadata | undefined): ModelMetadata {
  if (!extra) return base;
  const merged: ModelMetadata = { ...base, ...extra };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(base.training) && isObject(extra.training)) merged.training = { ...base.training, ...extra.training };
  return merged;
}

// ---------------------------------------------------------------------------------------------------------------
// The pipeline.

/**
 * The whole training run, in the seed's order: split the training data **by person** (stratified; `split`), build
 * NeuroStageNet (`buildModel`), train it with the recipe's callbacks (early stopping on the monitored validation AUC
 * with the best weights restored, the best checkpoint, the learning-rate rule), fit one temperature on the validation
 * logits and keep it only where it lowers their NLL and ECE (`chooseTemperature`), evaluate the test data once (per
 * slice and per person, with intervals over people), save the model with metadata.json (class names, severity
 * order, the served temperature and its decision, image size, training slice levels, the run's settings and
 * figures) and write the report, history.json and run.json.
 *
 * The report's calibrated figures use the temperature only when it was kept. Nothing is written unless `out` says
 * where (Node only; the report also needs `writeReport`). With `trainedModel`, the build and train steps are skipped
 * (shipping a checkpoint).
 *
 * @param options Data, recipe and settings (defaults: the seed's recipe, 20% validation by person, seed 42).
 * @returns The model (the caller disposes it), the split with people per side, the training history, the calibration
 *   decision, the validation and test evaluations, metadata, run record and the paths written.
 * @throws {@link TrainingFlagError} when the data cannot be split as asked; `TrainingError` for bad settings; the
 *   trainer's errors.
 * @example
 * ```ts
 * import { ParquetImageDataset, loadPretrainedNeuroStageNet } from 'neurostagenet';
 * import { runTrainingPipeline } from 'neurostagenet/train';
 * import { writeEvaluationReport } from 'neurostagenet/node';
 *
 * const data = await ParquetImageDataset.fromFile('train.parquet', { targetSize: [64, 64] });
 * const test = await ParquetImageDataset.fromFile('test.parquet', { targetSize: [64, 64] });
 * const run = await runTrainingPipeline({ data, test, recipe: 'scratch', out: 'runs/one', writeReport: writeEvaluationReport, log: console.log });
 * console.log(run.split.people, run.calibration.reason, run.test?.figures.people?.headline.accuracy);
 * run.model.dispose();
 * const served = await loadPretrainedNeuroStageNet({ location: 'runs/one/model' }); // temperature = run.calibration.served
 * ```
 */
export async function runTrainingPipeline(options: TrainingPipelineOptions): Promise<TrainingPipelineResult> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const data = options.data;
  if (!data || typeof data.get !== 'function') throw new TrainingError('runTrainingPipeline: options.data must be a labelled image source');
  const [height, width] = data.imageSize;
  const imageSize = options.imageSize ?? height;
  if (height !== width || imageSize !== height) {
    throw new TrainingError(`runTrainingPipeline: the data's images are ${height}x${width}, expected ${imageSize}x${imageSize} (decode them at imageSize)`);
  }
  if (options.test && (options.test.imageSize[0] !== height || options.test.imageSize[1] !== width)) {
    throw new TrainingError(`runTrainingPipeline: the test images are ${options.test.imageSize.join('x')}, the training images ${height}x${width}`);
  }
  const seed = options.seed ?? 42;
  const base = options.recipe === undefined || typeof options.recipe === 'string' ? resolveTrainingRecipe(options.recipe ?? 'seed') : options.recipe;
  // Without ImageNet weights a frozen backbone would keep its random features: train it all.
  const recipe: TrainingRecipe = { ...base, allTrainable: base.allTrainable || options.backboneWeights === undefined };
  const k = data.classNames.length;
  const classNames = [...(options.classNames ?? data.classNames)];
  const ordinalOrder = [...(options.ordinalOrder ?? defaultOrdinalOrder(k))];
  const outputs = resolveOutputs(options.out);
  if (outputs.report && options.test && !options.writeReport) {
    throw new TrainingError("runTrainingPipeline: writing the report needs writeReport (writeEvaluationReport from 'neurostagenet/node')");
  }
  const backend = tf.getBackend();

  // 1. Split by person.
  const settings = {
    split: options.split ?? 'auto',
    groupThreshold: options.groupThreshold ?? 20,
    valFraction: options.valFraction ?? 0.2,
    seed,
    maxTrain: options.maxTrain,
    footprintRange: options.footprintRange,
  } satisfies TrainingSplitSettings;
  const split = await splitTrainingRows(data, settings);
  log(split.description);
  const monitor = monitorFor(options, split);
  const runOptions = flattenTrainingFlags({ ...settings, recipe, imageSize, monitor: options.monitor, backboneWeights: options.backboneWeights }, split);

  // 2. Build.
  const owned = options.trainedModel === undefined;
  const model = options.trainedModel ?? await (options.buildModel ?? buildDefault)({
    inputShape: [height, width, 1],
    numClasses: k,
    backboneWeights: options.backboneWeights,
    allTrainable: recipe.allTrainable,
    seed,
  });
  try {
    const params = countParams(model);
    log(`NeuroStageNet: ${JSON.stringify(params)}; recipe: ${recipe.name} (${options.backboneWeights ? 'ImageNet backbone' : 'backbone from scratch'})`);
    const files: TrainingPipelineFiles = {};

    // 3. Train.
    let training: TrainResult | undefined;
    if (owned) {
      training = await trainNeuroStageNet(model, {
        train: { source: data, indices: split.train },
        validation: { source: data, indices: split.validation },
        ...recipeTrainOptions(recipe),
        seed,
        callbacks: [...recipeCallbacks(recipe, { checkpointDir: outputs.checkpoint, monitor }), ...(options.callbacks ?? [])],
        progress: options.progress,
      });
      releaseOptimizer(model);
      if (outputs.checkpoint && training.epochs.length) files.checkpoint = outputs.checkpoint;
      if (outputs.history) files.history = await writeJson(outputs.history, training);
    }
    const best = bestEpoch(training?.history[monitor]);
    const aucs = training?.history.val_auc.filter((v) => Number.isFinite(v)) ?? [];
    const bestValAuc = aucs.length ? Math.max(...aucs) : undefined;
    if (training) log(`trained ${training.epochs.length} epoch(s) in ${training.seconds.toFixed(0)} s; best ${monitor} ${best?.value.toFixed(4) ?? 'n/a'}${best ? ` (epoch ${best.epoch})` : ''}${monitor === 'val_auc' ? '' : `, best val_auc ${bestValAuc?.toFixed(4) ?? 'n/a'}`}`);

    // 4. Calibrate: one temperature fitted on the validation logits (never on test), served only where it helps them.
    const batchSize = options.batchSize ?? recipe.batchSize;
    const validation = await evaluate(model, data, { indices: split.validation, batchSize, classNames, ordinalOrder, bootstrap: { resamples: 100, seed: options.bootstrap?.seed ?? 0 } });
    const calibration = chooseTemperature(validation.logits, validation.labels, { numClasses: validation.numClasses });
    const valPeople = validation.figures.people;
    log(`validation (${validation.labels.length} slices${valPeople ? `, ${valPeople.headline.count} people` : ''}): accuracy ${validation.metrics.accuracy.toFixed(4)}, macro AUC ${validation.metrics.macro.auc?.toFixed(4) ?? 'n/a'}${valPeople ? `, per person ${valPeople.metrics.macro.auc?.toFixed(4) ?? 'n/a'}` : ''}`);
    log(`temperature: ${calibration.reason}`);
    // 4b. The input check: which images the model was not made for (fitted on training people, set on validation).
    const inputCheck = await fitInputCheck(data, split);
    attachInputCheck(model, inputCheck);
    log(`input check: ${inputCheck.variances.length} appearance axes, accepts ${(100 * inputCheck.fittedOn.acceptedShare).toFixed(1)}% of the validation slices`);

    // 5. Evaluate the test data once: at T = 1, at the fitted T (for information), and the served figures.
    let test: PipelineTestEvaluation | undefined;
    if (options.test) {
      const evaluation = await evaluate(model, options.test, { batchSize, classNames, ordinalOrder, bootstrap: options.bootstrap });
      if (evaluation.refused.length) log(`input check: refused ${evaluation.refused.length} of ${options.test.length} test slices (not in the figures)`);
      const rows = Array.from({ length: evaluation.labels.length }, (_, i) => evaluation.logits.subarray(i * k, (i + 1) * k));
      const probabilities = applyTemperature(rows, calibration.fit.temperature);
      const calibrated = new MultiClassMetrics({ numClasses: k, classNames, ordinalOrder }).update(evaluation.labels, probabilities).compute();
      const subjects = options.test.subjects;
      const figures = calibration.kept
        ? figuresByPerson(evaluation.labels, Float32Array.from(probabilities.flat()), {
            ...options.bootstrap,
            numClasses: k,
            classNames,
            ordinalOrder,
            subjects: subjects && Array.from(evaluation.indices, (i) => subjects[i]),
          })
        : evaluation.figures;
      test = { evaluation, calibrated, figures };
    }

    // 6. Save with metadata.
    const trainingFootprint = footprintRange(await headFootprints(selectRows(data, split.train)));
    const facts: TrainingPipelineFacts = {
      model, recipe, split, monitor, options: runOptions, params, training, best, bestValAuc, validation, calibration, test,
      classNames, ordinalOrder, trainingFootprint, inputCheck, backend,
      data: { train: describeData(data), test: options.test && describeData(options.test) },
    };
    const extra = typeof options.metadata === 'function' ? await options.metadata(facts) : options.metadata;
    const metadata = mergeMetadata(metadataOf(facts), extra);
    if (outputs.model) {
      await saveModel(model, outputs.model, options.quantize ? { quantize: options.quantize } : {});
      files.model = outputs.model;
      files.metadata = await writeModelMetadata(outputs.model, metadata);
      log(`model: ${outputs.model}`);
    }

    // 7. Report: the served figures; calibrated figures only when the temperature is served.
    if (test && options.test) {
      const testName = fileName((options.test as { file?: unknown }).file as string | undefined);
      const reportOptions: EvaluationReportOptions = {
        title: `NeuroStageNet on ${testName ?? 'the test data'}`,
        figures: test.figures,
        peopleSource: options.test.subjects ? "the test file's subject column" : undefined,
        ...(calibration.kept ? { calibrated: test.calibrated, temperature: calibration.fit } : {}),
      };
      const testSubjects = options.test.subjects;
      if (testSubjects) {
        // Per-person bootstrap error bars on the reliability diagram(s).
        const people = Array.from(test.evaluation.indices, (i) => testSubjects[i]);
        const numBins = test.evaluation.metrics.calibrationBins.length;
        const intervalsOf = (probs: ArrayLike<number>) => {
          const conf: number[] = [];
          const correct: number[] = [];
          for (let i = 0; i < people.length; i++) {
            let top = 0;
            for (let c = 1; c < k; c++) if (probs[i * k + c] > probs[i * k + top]) top = c;
            conf.push(probs[i * k + top]);
            correct.push(top === test!.evaluation.labels[i] ? 1 : 0);
          }
          return reliabilityIntervals(conf, correct, people, { ...options.bootstrap, numBins });
        };
        const calibratedProbs = calibration.kept ? applyTemperature(Array.from({ length: people.length }, (_, i) => test!.evaluation.logits.subarray(i * k, (i + 1) * k)), calibration.fit.temperature).flat() : undefined;
        reportOptions.reliabilityIntervals = { model: intervalsOf(test.evaluation.probabilities), calibrated: calibratedProbs && intervalsOf(calibratedProbs) };
      }
      if (outputs.report && options.writeReport) files.report = await options.writeReport(test.evaluation.metrics, outputs.report, reportOptions);
      log(formatEvaluationReport(test.evaluation.metrics, reportOptions));
      if (files.report) log(`report: ${files.report.reportTxt}`);
    }

    const seconds = (performance.now() - started) / 1000;
    const record = recordOf(facts, options.runInfo, files, seconds);
    if (outputs.run) {
      files.run = outputs.run;
      await writeJson(outputs.run, { ...record, files });
    }
    return { ...facts, metadata, record: { ...record, files }, files, seconds };
  } catch (e) {
    if (owned) {
      releaseOptimizer(model);
      model.dispose();
    }
    throw e;
  }
}

async function buildDefault(spec: ModelSpec): Promise<tfl.LayersModel> {
  return buildNeuroStageNet({
    inputShape: spec.inputShape,
    numClasses: spec.numClasses,
    backboneWeights: spec.backboneWeights ?? null,
    fineTuneAt: spec.allTrainable ? null : undefined,
    seed: spec.seed,
  });
}

// metadata.json: what predict / evaluate / explain and loadPretrainedNeuroStageNet read, and the run's summary.
/**
 * The validation figures of a run as run.json records them (slices, people, accuracy, macro AUC per slice and per
 * person); the model card reads the same.
 * @param f The pipeline's facts.
 * @returns The recorded validation figures.
 */
export function recordedValidation(f: TrainingPipelineFacts): RecordedValidation {
  const people = f.validation.figures.people;
  return {
    rows: f.validation.labels.length,
    people: people?.headline.count,
    accuracy: f.validation.metrics.accuracy,
    macroAuc: f.validation.metrics.macro.auc,
    personMacroAuc: people?.metrics.macro.auc,
  };
}

function metadataOf(f: TrainingPipelineFacts): ModelMetadata {
  const { calibration: c, split, data } = f;
  const valPeople = f.validation.figures.people?.headline.count;
  const s = f.test?.figures.slices.headline;
  const p = f.test?.figures.people?.headline;
  return {
    classNames: f.classNames,
    ordinalOrder: f.ordinalOrder,
    temperature: c.served,
    calibration: {
      temperature: c.served,
      kept: c.kept,
      reason: c.reason,
      fittedTemperature: c.fit.temperature,
      fittedOn: `validation (${f.validation.labels.length} slices${valPeople === undefined ? '' : ` of ${valPeople} people`})`,
      nllBefore: c.fit.nllBefore,
      nllAfter: c.fit.nllAfter,
      eceBefore: c.validationEce.before,
      eceAfter: c.validationEce.after,
    },
    imageSize: [f.options.imageSize, f.options.imageSize],
    // The slice levels learned, so that predict / evaluate / explain can warn about images of other levels.
    trainingFootprint: f.trainingFootprint,
    inputCheck: serializeInputCheck(f.inputCheck),
    training: {
      data: `${data.train.name ?? 'training data'} (${data.train.rows} slices${data.train.people === undefined ? '' : ` of ${data.train.people} people`})`,
      split: {
        by: split.mode,
        valFraction: f.options.valFraction,
        seed: f.options.seed,
        trainRows: split.train.length,
        validationRows: split.validation.length,
        trainPeople: split.people?.train,
        validationPeople: split.people?.validation,
      },
      recipe: f.options,
      monitor: f.monitor,
      epochsRun: f.training?.epochs.length,
      bestEpoch: f.best?.epoch,
      bestValue: f.best?.value,
      bestValAuc: f.bestValAuc,
      trainingSeconds: f.training && Math.round(f.training.seconds),
      backend: f.backend,
    },
    ...(f.test && s
      ? {
          test: {
            file: data.test?.name,
            count: s.count,
            people: p?.count,
            classesCovered: s.classNamesCovered,
            accuracy: s.accuracy.value,
            balancedAccuracy: s.balancedAccuracy.value,
            macroAuc: s.macroAuc?.value,
            quadraticKappa: s.quadraticKappa.value,
            personAccuracy: p?.accuracy.value,
            personMacroAuc: p?.macroAuc?.value,
            intervals: { slices: s, people: p },
            eceUncalibrated: f.test.evaluation.metrics.ece,
            eceWithFittedTemperature: f.test.calibrated.ece,
          },
        }
      : {}),
  };
}

function recordOf(f: TrainingPipelineFacts, info: TrainingRunInfo | undefined, files: TrainingPipelineFiles, wallSeconds: number): TrainingRunRecord {
  const e = f.test?.evaluation;
  const slices = f.test?.figures.slices.headline;
  const people = f.test?.figures.people?.headline;
  return {
    argv: info?.argv && [...info.argv],
    options: { ...(info?.trainPath ? { trainPath: info.trainPath } : {}), ...(info?.testPath ? { testPath: info.testPath } : {}), ...f.options },
    backend: f.backend,
    params: f.params,
    epochs: f.training?.epochs.length ?? 0,
    secondsPerEpoch: f.training?.history.seconds ?? [],
    stoppedEarly: f.training?.stoppedEarly,
    monitor: f.monitor,
    best: f.best,
    bestValAuc: f.bestValAuc,
    data: f.data,
    split: { mode: f.split.mode, description: f.split.description, trainRows: f.split.train.length, validationRows: f.split.validation.length, people: f.split.people },
    temperature: f.calibration.served,
    calibration: { kept: f.calibration.kept, fittedTemperature: f.calibration.fit.temperature, reason: f.calibration.reason, validationEce: f.calibration.validationEce },
    validation: recordedValidation(f),
    test: e && f.test && slices
      ? {
          rows: e.labels.length,
          people: people?.count,
          accuracy: slices.accuracy.value,
          macroAuc: slices.macroAuc?.value,
          quadraticKappa: slices.quadraticKappa.value,
          personAccuracy: people?.accuracy.value,
          personMacroAuc: people?.macroAuc?.value,
          eceBefore: e.metrics.ece,
          eceAfter: f.test.calibrated.ece,
          temperature: f.calibration.served,
        }
      : undefined,
    files,
    wallSeconds,
  };
}
