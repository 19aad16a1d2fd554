import type * as tfl from '@tensorflow/tfjs-layers';
import type { LabeledImageSource } from '../data/types.js';
import { MultiClassMetrics, type MultiClassMetricsOptions, type MultiClassMetricsResult } from '../metrics/multiclass-metrics.js';
import { figuresByPerson, type BootstrapOptions, type FiguresByPerson } from '../metrics/bootstrap.js';
import { runInference, type TestTimeAugmentation } from './inference.js';
import type { InputCheckModel } from '../data/input-check.js';
import { attachedInputCheck, checkInputs, InputsRefusedError } from '../models/input-check.js';

/** Options of {@link evaluate}. */
export interface EvaluateOptions extends Partial<Omit<MultiClassMetricsOptions, 'numClasses'>> {
  /** Rows of the source to evaluate (default all). */
  indices?: ArrayLike<number>;
  /** Images per forward pass. Default 32. */
  batchSize?: number;
  /** Called after each forward pass with the rows done so far and the rows in all (for a progress bar). */
  onProgress?: (rowsDone: number, rowsTotal: number) => void;
  /**
   * Test-time augmentation: `'flip'` averages the probabilities of each slice and its left-right mirror image
   * (two forward passes; `logits` are then the log of the averaged probabilities). Default `'none'`.
   */
  tta?: TestTimeAugmentation;
  /**
   * Intervals of the headline figures: resamples (default 2000), confidence (0.95) and seed (0). They resample
   * people when the source has `subjects`, else rows.
   */
  bootstrap?: BootstrapOptions;
  /** A class enters balanced accuracy and macro AUC of `figures` only with this many people. Default 2. */
  minPeoplePerClass?: number;
  /**
   * The input check to run before classifying (default: the one tied to `model` by `loadPretrainedNeuroStageNet`,
   * from its metadata). Rows it refuses get no prediction and enter no figure; they are listed in `refused`.
   */
  inputCheck?: InputCheckModel;
  /** Classify every row, checked or not (rows the check would refuse included). Default false. */
  allowUnchecked?: boolean;
}

/** A row the input check refused: it has no prediction and is in no figure. */
export interface RefusedRow {
  /** Row of the source. */
  row: number;
  /** The check's score (above 1). */
  score: number;
  /** Why, in plain words. */
  reason: string;
}

/** What {@link evaluate} returns: the metrics plus the raw predictions they came from. */
export interface EvaluationResult {
  /** Accuracy, per-class figures, confusion matrix, AUC, kappa, ECE, ... (see {@link MultiClassMetricsResult}). */
  metrics: MultiClassMetricsResult;
  /** Rows of the source, in the order of the arrays below. */
  indices: Int32Array;
  /** True class of each row. */
  labels: Int32Array;
  /** Class probabilities, row-major `[N * numClasses]`. */
  probabilities: Float32Array;
  /**
   * Pre-softmax scores, row-major `[N * numClasses]`, for temperature scaling. Read from the input of the
   * model's separate softmax layer when it has one (`logitsFrom: 'layer'`); otherwise the log-probabilities,
   * which differ from the logits by a per-row constant and so give the same softmax at any temperature
   * (`logitsFrom: 'log-probabilities'`).
   */
  logits: Float32Array;
  /** Where `logits` came from. */
  logitsFrom: 'layer' | 'log-probabilities';
  /** Number of classes K. */
  numClasses: number;
  /**
   * Headline figures with 95% bootstrap intervals, per slice and (when the source has `subjects`) per person, each
   * person's slice probabilities averaged; they say which classes the class averages cover.
   */
  figures: FiguresByPerson;
  /**
   * Whether the input check ran: `'checked'` (refused rows are in `refused`), `'unchecked'` (the model has no check)
   * or `'allowed'` (`allowUnchecked`: every row classified).
   */
  inputCheck: 'checked' | 'unchecked' | 'allowed';
  /** Rows the input check refused (not in `indices`, not in any figure). */
  refused: RefusedRow[];
}

/**
 * Runs the model in inference mode over a data set (or the rows `indices` of it) and computes every metric of
 * {@link index!MultiClassMetrics}; also returns the probabilities and logits (for calibration, e.g. `fitTemperature`), and
 * `figures`: accuracy, balanced accuracy, macro AUC and kappa per slice and, when the source has `subjects`, per
 * person, with bootstrap intervals over people.
 * No tensor outlives the call.
 * @param model A classifier with one output `[N, numClasses]` of probabilities, taking `[N, H, W, 1]` images in
 *   0..255 (e.g. NeuroStageNet).
 * @param source Images and labels.
 * @param options Rows, batch size and the metrics' options (class names default to the source's;
 *   `ordinalOrder: ALZHEIMER_SEVERITY_ORDER` for the Alzheimer stages).
 * @returns Metrics and predictions.
 * @throws `TrainingError` when the source's images are not the size the model takes (both sizes named, as the
 *   trainer checks them), or the model is not a single-output classifier.
 * @example
 * ```ts
 * const { metrics, logits, labels, figures } = await evaluate(model, testSet, { ordinalOrder: ALZHEIMER_SEVERITY_ORDER });
 * console.log(metrics.accuracy, metrics.macro.auc);
 * console.log(formatHeadline(figures.people.headline)); // per person, with intervals (when the data has subjects)
 * ```
 */
export async function evaluate(
  model: tfl.LayersModel,
  source: LabeledImageSource,
  options: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const { indices: asked, batchSize, onProgress, tta, bootstrap, minPeoplePerClass, inputCheck, allowUnchecked, ...metricOptions } = options;
  const { pass, logits, logitsFrom, refused, inputCheck: checked } = await classifyRows(model, source, { indices: asked, batchSize, onProgress, tta, inputCheck, allowUnchecked });
  const k = pass.numClasses;
  const metrics = new MultiClassMetrics({
    ...metricOptions,
    numClasses: k,
    classNames: metricOptions.classNames ?? (source.classNames.length === k ? source.classNames : undefined),
  });
  metrics.update(pass.labels, pass.probabilities);
  const classNames = metricOptions.classNames ?? (source.classNames.length === k ? source.classNames : undefined);
  const subjects = source.subjects;
  const figures = figuresByPerson(pass.labels, pass.probabilities, {
    ...bootstrap,
    numClasses: k,
    classNames,
    ordinalOrder: metricOptions.ordinalOrder,
    subjects: subjects && Array.from(pass.indices, (i) => subjects[i]),
    minPeoplePerClass,
  });
  return {
    metrics: metrics.compute(),
    indices: pass.indices,
    labels: pass.labels,
    probabilities: pass.probabilities,
    logits,
    logitsFrom,
    numClasses: k,
    figures,
    inputCheck: checked,
    refused,
  };
}

/**
 * The classification half of {@link evaluate} (internal; `predict` and batch scoring use it): the input check on the
 * rows, then the model on the accepted ones; no metrics.
 * @throws {@link InputsRefusedError} when every row is refused.
 */
export async function classifyRows(
  model: tfl.LayersModel,
  source: LabeledImageSource,
  options: Pick<EvaluateOptions, 'indices' | 'batchSize' | 'onProgress' | 'tta' | 'inputCheck' | 'allowUnchecked'> = {},
): Promise<{
  pass: Awaited<ReturnType<typeof runInference>>;
  logits: Float32Array;
  logitsFrom: EvaluationResult['logitsFrom'];
  refused: RefusedRow[];
  inputCheck: EvaluationResult['inputCheck'];
}> {
  const { indices: asked, batchSize, onProgress, tta, inputCheck, allowUnchecked } = options;
  const check = allowUnchecked ? undefined : inputCheck ?? attachedInputCheck(model);
  const refused: RefusedRow[] = [];
  let indices = asked;
  if (check) {
    const rows = asked ? Array.from(asked) : Array.from({ length: source.length }, (_, i) => i);
    const verdicts = await checkInputs({ model, inputCheck: check }, { source, indices: rows });
    const kept: number[] = [];
    verdicts.forEach((v, i) => (v.accepted ? kept.push(rows[i]) : refused.push({ row: rows[i], score: v.score, reason: v.reason ?? 'refused' })));
    if (kept.length === 0) {
      throw new InputsRefusedError(
        `evaluate: the input check refused all ${rows.length} rows (row ${refused[0]?.row}: ${refused[0]?.reason}); pass allowUnchecked to classify them anyway`,
        verdicts,
      );
    }
    indices = kept;
  }
  const pass = await runInference(model, source, { indices, batchSize, withLogits: true, onProgress, tta, caller: 'evaluate: the' });
  let logits = pass.logits;
  let logitsFrom: EvaluationResult['logitsFrom'] = 'layer';
  if (!logits) {
    logitsFrom = 'log-probabilities';
    logits = new Float32Array(pass.probabilities.length);
    // Clamp at the smallest normal float32 so a probability that underflowed to 0 gives a large negative number, not -Infinity.
    for (let i = 0; i < logits.length; i++) logits[i] = Math.log(Math.max(pass.probabilities[i], 1.1754943508222875e-38));
  }
  return { pass, logits, logitsFrom, refused, inputCheck: check ? 'checked' : allowUnchecked ? 'allowed' : 'unchecked' };
}
