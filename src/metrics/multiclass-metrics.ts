import { MetricsInputError } from './errors.js';
import { argmaxRow, checkRowSums, readLabels, readMatrix, type LabelsInput, type MatrixInput } from './inputs.js';
import { reliabilityBins, type CalibrationBin } from './reliability.js';
import { rocCurve, trapezoidArea, type RocCurve } from './roc.js';
import { formatClassificationReport, type ReportFormatOptions } from './classification-report.js';

/** Options of {@link index!MultiClassMetrics}. */
export interface MultiClassMetricsOptions {
  /** Number of classes K (at least 2). */
  numClasses: number;
  /** Class names indexed by label; default `'0'`, `'1'`, ... */
  classNames?: readonly string[];
  /**
   * Class indices from least to most severe, for the ordinal figures (quadratic kappa, adjacent-error share).
   * Default: label order `[0, 1, ..., K-1]`, as scikit-learn. For this project's dataset (0 Mild, 1 Moderate,
   * 2 Non, 3 Very Mild) the severity order is `[2, 3, 0, 1]`.
   */
  ordinalOrder?: readonly number[];
  /** Number of equal-width confidence bins for ECE and the reliability diagram (default 15). */
  calibrationBins?: number;
}

/** Precision, recall, F1, support and one-vs-rest ROC AUC of one class. */
export interface ClassMetrics {
  /** Class name. */
  className: string;
  /** `tp / (tp + fp)`; 0 when nothing was predicted as this class (scikit-learn `zero_division=0`). */
  precision: number;
  /** `tp / (tp + fn)`; 0 when the class has no true samples. */
  recall: number;
  /** `2 tp / (2 tp + fp + fn)`; 0 when that denominator is 0. */
  f1: number;
  /** Number of true samples of the class. */
  support: number;
  /** One-vs-rest ROC AUC; `undefined` when the labels hold no sample of this class, or only this class. */
  auc: number | undefined;
}

/** An average of the per-class figures. */
export interface AveragedMetrics {
  /** Averaged precision. */
  precision: number;
  /** Averaged recall. */
  recall: number;
  /** Averaged F1 (the average of per-class F1s, as scikit-learn). */
  f1: number;
  /** Averaged one-vs-rest AUC over the classes whose AUC is defined; `undefined` when none is. */
  auc: number | undefined;
}

/** Everything {@link MultiClassMetrics.compute} reports. */
export interface MultiClassMetricsResult {
  /** Number of samples seen. */
  count: number;
  /** Class names indexed by label. */
  classNames: string[];
  /** Share of samples whose top-probability class (first maximum on ties) equals the label. */
  accuracy: number;
  /** Mean recall over the classes present in the labels (scikit-learn `balanced_accuracy_score`). */
  balancedAccuracy: number;
  /** Per-class figures, indexed by label. */
  perClass: ClassMetrics[];
  /** Unweighted mean over all K classes (AUC: over the classes where it is defined). */
  macro: AveragedMetrics;
  /** Mean weighted by support (AUC: over the classes where it is defined). */
  weighted: AveragedMetrics;
  /** Counts; row = true class, column = predicted class. */
  confusionMatrix: number[][];
  /** Each row divided by its sum (rows of absent classes are all 0, as scikit-learn `normalize='true'`). */
  confusionMatrixNormalized: number[][];
  /** Severity order used for the ordinal figures. */
  ordinalOrder: number[];
  /**
   * Quadratic-weighted Cohen's kappa between true and predicted severity ranks: scikit-learn
   * `cohen_kappa_score(rank[y], rank[p], labels=range(K), weights='quadratic')`. NaN where scikit-learn calls it
   * undefined (all labels and predictions in one class).
   */
  quadraticKappa: number;
  /** Number of wrong predictions. */
  errorCount: number;
  /**
   * Share of wrong predictions whose predicted stage is a severity neighbour of the true one (ranks differ by 1
   * in `ordinalOrder`); `undefined` when there are no errors.
   */
  adjacentErrorShare: number | undefined;
  /** Top-label expected calibration error over equal-width bins (see {@link reliabilityBins}). */
  ece: number;
  /** The reliability bins behind `ece`. */
  calibrationBins: CalibrationBin[];
  /** Mean over samples of `sum_k (p_k - y_k)^2` (range 0..2; not divided by K). */
  brier: number;
  /** Mean negative log-probability of the true class, probabilities clipped to `[eps, 1 - eps]`, eps = 2^-52. */
  logLoss: number;
  /** One-vs-rest ROC curve per class (`undefined` where the AUC is). */
  roc: (RocCurve | undefined)[];
}

// Probabilities may stray this far outside [0, 1] (float32 softmax rounding) before update() rejects them.
const PROBABILITY_SLACK = 1e-6;

// Validated options with defaults filled in; `where` prefixes error messages.
function checkOptions(options: MultiClassMetricsOptions, where: string): Required<MultiClassMetricsOptions> & {
  classNames: string[];
  ordinalOrder: number[];
} {
  const k = options.numClasses;
  if (!Number.isInteger(k) || k < 2) {
    throw new MetricsInputError(`${where}: numClasses must be an integer >= 2, got ${k}`);
  }
  const names = options.classNames ?? Array.from({ length: k }, (_, i) => String(i));
  if (names.length !== k) {
    throw new MetricsInputError(`${where}: ${names.length} classNames given for numClasses = ${k}`);
  }
  const order = options.ordinalOrder ?? Array.from({ length: k }, (_, i) => i);
  const sorted = [...order].sort((a, b) => a - b);
  if (order.length !== k || sorted.some((v, i) => v !== i)) {
    throw new MetricsInputError(`${where}: ordinalOrder [${order}] must be a permutation of 0..${k - 1}`);
  }
  const bins = options.calibrationBins ?? 15;
  if (!Number.isInteger(bins) || bins < 1) {
    throw new MetricsInputError(`${where}: calibrationBins must be a positive integer, got ${bins}`);
  }
  return { numClasses: k, classNames: [...names], ordinalOrder: [...order], calibrationBins: bins };
}

/**
 * Streaming multi-class classification metrics equal to scikit-learn 1.x: feed batches with
 * {@link MultiClassMetrics.update}, read everything with {@link MultiClassMetrics.compute}.
 *
 * Definitions (checked against scikit-learn fixtures in `test/fixtures/metrics`):
 * - the prediction is the class of highest probability (first on ties, as `np.argmax`);
 * - precision / recall / F1 / support, macro and weighted averages: `precision_recall_fscore_support` with
 *   `labels=range(K)`, `zero_division=0` (a class never seen nor predicted counts as 0 in the macro mean);
 * - AUC: one-vs-rest `roc_auc_score(y == k, p[:, k])` per class. A class absent from the labels (or the only
 *   class present) has no AUC: scikit-learn 1.9 warns and returns NaN for it, which makes its macro and weighted
 *   averages NaN too; here that class's AUC is `undefined` and macro / weighted average the classes that have one
 *   (when all classes are present both equal `roc_auc_score(multi_class='ovr')`);
 * - quadratic kappa: labels remapped to severity ranks first, and the weight of a pair is the squared rank
 *   distance over all K classes (scikit-learn with `labels=range(K)`; without `labels` scikit-learn uses only the
 *   classes seen, which differs when a class is absent from both labels and predictions);
 * - Brier: sum over classes (scikit-learn `brier_score_loss(..., scale_by_half=False)`; for K >= 3 that is its
 *   default);
 * - log loss: scikit-learn 1.9 `log_loss` on float64 probabilities (clipped to `[eps, 1-eps]`, not renormalised).
 *
 * All samples' probabilities are kept (AUC needs them), `8 * N * K` bytes.
 *
 * @example
 * ```ts
 * const metrics = new MultiClassMetrics({ numClasses: 4, classNames, ordinalOrder: ALZHEIMER_SEVERITY_ORDER });
 * for (const batch of batches) metrics.update(batch.ys, model.predict(batch.xs));
 * console.log(metrics.format());
 * ```
 */
export class MultiClassMetrics {
  /** Number of classes K. */
  readonly numClasses: number;
  /** Class names indexed by label. */
  readonly classNames: readonly string[];
  /** Severity order of the classes (least to most severe). */
  readonly ordinalOrder: readonly number[];
  /** Number of reliability bins. */
  readonly numCalibrationBins: number;
  private labelChunks: Int32Array[] = [];
  private probabilityChunks: Float64Array[] = [];
  private total = 0;

  /** @param options Number of classes, class names, severity order. */
  constructor(options: MultiClassMetricsOptions) {
    const checked = checkOptions(options, 'MultiClassMetrics');
    this.numClasses = checked.numClasses;
    this.classNames = checked.classNames;
    this.ordinalOrder = checked.ordinalOrder;
    this.numCalibrationBins = checked.calibrationBins;
  }

  /** Number of samples accumulated so far. */
  get count(): number {
    return this.total;
  }

  /**
   * Adds a batch. Tensors are read synchronously and not disposed (they stay the caller's).
   * @param labels True classes: indices `[N]` or one-hot `[N, K]`.
   * @param probabilities Predicted class probabilities `[N, K]`: each in [0, 1], each row summing to 1 (within
   *   1e-5 relative, as scikit-learn's multiclass `roc_auc_score` requires; float32 softmax rows pass).
   * @returns `this`, for chaining.
   * @throws {@link MetricsInputError} for a bad label, a value outside [0, 1] or a row that does not sum to 1
   *   (naming the row and its sum).
   */
  update(labels: LabelsInput, probabilities: MatrixInput): this {
    const k = this.numClasses;
    const y = readLabels(labels, k, 'MultiClassMetrics.update labels');
    const { data, n } = readMatrix(probabilities, k, 'MultiClassMetrics.update probabilities');
    if (y.length !== n) {
      throw new MetricsInputError(`MultiClassMetrics.update: ${y.length} labels but ${n} probability rows`);
    }
    for (let idx = 0; idx < data.length; idx++) {
      const p = data[idx];
      if (p < -PROBABILITY_SLACK || p > 1 + PROBABILITY_SLACK) {
        const i = Math.floor(idx / k);
        throw new MetricsInputError(
          `MultiClassMetrics.update probabilities: row ${i}, column ${idx - i * k} is ${p}; expected a probability ` +
            'in [0, 1] (pass softmax outputs, not logits)',
        );
      }
    }
    checkRowSums(data, n, k, 'MultiClassMetrics.update probabilities');
    if (n > 0) {
      this.labelChunks.push(y);
      this.probabilityChunks.push(data);
      this.total += n;
    }
    return this;
  }

  /** Forgets every sample. */
  reset(): void {
    this.labelChunks = [];
    this.probabilityChunks = [];
    this.total = 0;
  }

  /** Labels and probabilities of all samples so far, as one array each (a copy). */
  snapshot(): {
    /** True class of every sample. */
    labels: Int32Array;
    /** Probabilities, row-major `[count, numClasses]`. */
    probabilities: Float64Array;
  } {
    const labels = new Int32Array(this.total);
    const probabilities = new Float64Array(this.total * this.numClasses);
    let offset = 0;
    for (let c = 0; c < this.labelChunks.length; c++) {
      labels.set(this.labelChunks[c], offset);
      probabilities.set(this.probabilityChunks[c], offset * this.numClasses);
      offset += this.labelChunks[c].length;
    }
    return { labels, probabilities };
  }

  /** Computes every metric over all samples so far. Throws {@link MetricsInputError} when there are none. */
  compute(): MultiClassMetricsResult {
    if (this.total === 0) throw new MetricsInputError('MultiClassMetrics.compute: no samples; call update() first');
    const { labels, probabilities } = this.snapshot();
    return computeMetrics(labels, probabilities, {
      numClasses: this.numClasses,
      classNames: this.classNames,
      ordinalOrder: this.ordinalOrder,
      calibrationBins: this.numCalibrationBins,
    });
  }

  /**
   * A text report laid out exactly as scikit-learn's `classification_report` (precision, recall, f1-score,
   * support per class, then accuracy, macro avg, weighted avg).
   * @param options `digits` (default 4).
   */
  format(options?: ReportFormatOptions): string {
    return formatClassificationReport(this.compute(), options);
  }
}

/**
 * Computes every {@link MultiClassMetricsResult} figure from complete arrays (the non-streaming form of
 * {@link index!MultiClassMetrics}).
 * @param labels Class index per sample.
 * @param probabilities Row-major `[N, K]` probabilities, each row summing to 1 (as {@link MultiClassMetrics.update}).
 * @param options Number of classes, names, severity order, bins.
 * @throws {@link MetricsInputError} for bad options, labels, sizes, or a row that does not sum to 1.
 */
export function computeMetrics(
  labels: Int32Array,
  probabilities: Float64Array,
  options: MultiClassMetricsOptions,
): MultiClassMetricsResult {
  const { numClasses: k, classNames, ordinalOrder, calibrationBins } = checkOptions(options, 'computeMetrics');
  const n = labels.length;
  if (n === 0) throw new MetricsInputError('computeMetrics: no samples');
  if (probabilities.length !== n * k) {
    throw new MetricsInputError(`computeMetrics: ${probabilities.length} probabilities for ${n} samples x ${k} classes`);
  }
  checkRowSums(probabilities, n, k, 'computeMetrics probabilities');

  for (let i = 0; i < n; i++) {
    if (!(labels[i] >= 0 && labels[i] < k)) {
      throw new MetricsInputError(`computeMetrics: label at row ${i} is ${labels[i]}; expected a class in [0, ${k - 1}]`);
    }
  }
  const predicted = new Int32Array(n);
  const confidence = new Float64Array(n);
  const correct = new Uint8Array(n);
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let nCorrect = 0;
  let brierSum = 0;
  let logLossSum = 0;
  const eps = Number.EPSILON;
  for (let i = 0; i < n; i++) {
    const off = i * k;
    const p = argmaxRow(probabilities, off, k);
    predicted[i] = p;
    confidence[i] = probabilities[off + p];
    const y = labels[i];
    confusion[y][p]++;
    if (p === y) {
      correct[i] = 1;
      nCorrect++;
    }
    let sq = 0;
    for (let j = 0; j < k; j++) {
      const d = probabilities[off + j] - (j === y ? 1 : 0);
      sq += d * d;
    }
    brierSum += sq;
    logLossSum += -Math.log(Math.min(Math.max(probabilities[off + y], eps), 1 - eps));
  }

  const support = confusion.map((row) => row.reduce((a, b) => a + b, 0));
  const predictedCount = Array.from({ length: k }, (_, j) => confusion.reduce((a, row) => a + row[j], 0));

  const roc: (RocCurve | undefined)[] = [];
  const perClass: ClassMetrics[] = [];
  const scores = new Float64Array(n);
  const positive = new Uint8Array(n);
  for (let c = 0; c < k; c++) {
    const tp = confusion[c][c];
    const precision = predictedCount[c] > 0 ? tp / predictedCount[c] : 0;
    const recall = support[c] > 0 ? tp / support[c] : 0;
    const f1Denominator = support[c] + predictedCount[c];
    const f1 = f1Denominator > 0 ? (2 * tp) / f1Denominator : 0;
    for (let i = 0; i < n; i++) {
      scores[i] = probabilities[i * k + c];
      positive[i] = labels[i] === c ? 1 : 0;
    }
    const curve = rocCurve(positive, scores);
    roc.push(curve);
    perClass.push({
      className: classNames[c],
      precision,
      recall,
      f1,
      support: support[c],
      auc: curve && trapezoidArea(curve.fpr, curve.tpr),
    });
  }

  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const weightedMean = (xs: number[], ws: number[]): number => {
    const wSum = ws.reduce((a, b) => a + b, 0);
    return wSum > 0 ? xs.reduce((a, x, i) => a + x * ws[i], 0) / wSum : 0;
  };
  const withAuc = perClass.filter((m) => m.auc !== undefined);
  const aucs = withAuc.map((m) => m.auc as number);
  const macro: AveragedMetrics = {
    precision: mean(perClass.map((m) => m.precision)),
    recall: mean(perClass.map((m) => m.recall)),
    f1: mean(perClass.map((m) => m.f1)),
    auc: aucs.length ? mean(aucs) : undefined,
  };
  const weighted: AveragedMetrics = {
    precision: weightedMean(perClass.map((m) => m.precision), support),
    recall: weightedMean(perClass.map((m) => m.recall), support),
    f1: weightedMean(perClass.map((m) => m.f1), support),
    auc: aucs.length ? weightedMean(aucs, withAuc.map((m) => m.support)) : undefined,
  };

  const present = perClass.filter((m) => m.support > 0);
  const balancedAccuracy = mean(present.map((m) => m.recall));

  const confusionMatrixNormalized = confusion.map((row, r) => row.map((v) => (support[r] > 0 ? v / support[r] : 0)));

  // Ordinal figures work on severity ranks.
  const rank = new Array<number>(k);
  ordinalOrder.forEach((cls, r) => (rank[cls] = r));
  let observedDisagreement = 0;
  let expectedDisagreement = 0;
  let adjacent = 0;
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      const w = (rank[a] - rank[b]) ** 2;
      observedDisagreement += w * confusion[a][b];
      // scikit-learn: expected = outer(column sums, row sums) / N, i.e. expected[a][b] = pred_a * true_b / N.
      expectedDisagreement += w * ((predictedCount[a] * support[b]) / n);
      if (a !== b && Math.abs(rank[a] - rank[b]) === 1) adjacent += confusion[a][b];
    }
  }
  const quadraticKappa = expectedDisagreement === 0 ? NaN : 1 - observedDisagreement / expectedDisagreement;
  const errorCount = n - nCorrect;

  const reliability = reliabilityBins(confidence, correct, calibrationBins);

  return {
    count: n,
    classNames,
    accuracy: nCorrect / n,
    balancedAccuracy,
    perClass,
    macro,
    weighted,
    confusionMatrix: confusion,
    confusionMatrixNormalized,
    ordinalOrder,
    quadraticKappa,
    errorCount,
    adjacentErrorShare: errorCount > 0 ? adjacent / errorCount : undefined,
    ece: reliability.ece,
    calibrationBins: reliability.bins,
    brier: brierSum / n,
    logLoss: logLossSum / n,
    roc,
  };
}
