import * as tf from '@tensorflow/tfjs-core';
import { MetricsInputError } from './errors.js';
import { isTensor, readLabels, readMatrix, type LabelsInput, type MatrixInput } from './inputs.js';
import { computeMetrics } from './multiclass-metrics.js';

/** Options of {@link fitTemperature}. */
export interface FitTemperatureOptions {
  /** Smallest temperature searched (default 0.01). */
  minTemperature?: number;
  /** Largest temperature searched (default 100). */
  maxTemperature?: number;
  /** Number of classes; needed only when `logits` is a flat typed array. */
  numClasses?: number;
  /** Iteration cap of the solver (default 200; it usually needs fewer than 15). */
  maxIterations?: number;
}

/** Result of {@link fitTemperature}. */
export interface TemperatureFit {
  /** The fitted temperature T > 0; calibrated probabilities are `softmax(logits / T)`. */
  temperature: number;
  /** Mean negative log-likelihood of the labels at T = 1. */
  nllBefore: number;
  /** Mean negative log-likelihood at the fitted temperature (never above `nllBefore` when 1 is in range). */
  nllAfter: number;
  /** Solver iterations used. */
  iterations: number;
  /** True when the optimum lies at (or beyond) `minTemperature` or `maxTemperature` and was clamped to it. */
  atBound: boolean;
}

// Log-sum-exp of beta * row, the row's beta-softmax mean of z and its variance (all shifted by the max for
// stability): what the NLL, its derivative and its second derivative in beta need.
function rowMoments(z: Float64Array, off: number, k: number, beta: number): { lse: number; mean: number; variance: number } {
  let max = -Infinity;
  for (let j = 0; j < k; j++) max = Math.max(max, beta * z[off + j]);
  let sum = 0;
  let s1 = 0;
  let s2 = 0;
  for (let j = 0; j < k; j++) {
    const e = Math.exp(beta * z[off + j] - max);
    sum += e;
    s1 += e * z[off + j];
    s2 += e * z[off + j] * z[off + j];
  }
  const mean = s1 / sum;
  return { lse: max + Math.log(sum), mean, variance: Math.max(s2 / sum - mean * mean, 0) };
}

// NLL(beta) = mean_i [lse(beta z_i) - beta z_i,y]; derivative mean_i [E_p z - z_y]; second derivative mean_i Var_p z.
function nllAndDerivatives(z: Float64Array, y: Int32Array, k: number, beta: number): [number, number, number] {
  const n = y.length;
  let f = 0;
  let g = 0;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const off = i * k;
    const m = rowMoments(z, off, k, beta);
    const zy = z[off + y[i]];
    f += m.lse - beta * zy;
    g += m.mean - zy;
    h += m.variance;
  }
  return [f / n, g / n, h / n];
}

function matrixWidth(logits: MatrixInput, numClasses: number | undefined): number {
  if (isTensor(logits)) return logits.shape[1] ?? 0;
  if (logits instanceof Float32Array || logits instanceof Float64Array) {
    if (numClasses === undefined) {
      throw new MetricsInputError('fitTemperature: options.numClasses is required when logits is a flat typed array');
    }
    return numClasses;
  }
  return logits.length > 0 ? logits[0].length : 0;
}

/**
 * Temperature scaling (Guo et al. 2017): the single T > 0 minimising the mean negative log-likelihood of
 * `softmax(logits / T)` on held-out data (the validation set, never the test set).
 *
 * The NLL is convex in beta = 1 / T, so the solver finds the root of its derivative in beta by Newton's method
 * safeguarded by bisection on a sign-changing bracket — deterministic, no learning rate, converged to about
 * 1e-14 relative. The search is limited to `[minTemperature, maxTemperature]`.
 *
 * @param logits Pre-softmax outputs `[N, K]` (nested arrays, flat typed array with `options.numClasses`, tensor).
 * @param labels True classes: indices `[N]` or one-hot `[N, K]`.
 * @param options Search range, iteration cap.
 */
export function fitTemperature(logits: MatrixInput, labels: LabelsInput, options: FitTemperatureOptions = {}): TemperatureFit {
  const k = matrixWidth(logits, options.numClasses);
  if (k < 2) throw new MetricsInputError(`fitTemperature: logits need at least 2 columns, got ${k}`);
  const { data: z, n } = readMatrix(logits, k, 'fitTemperature logits');
  const y = readLabels(labels, k, 'fitTemperature labels');
  if (y.length !== n) throw new MetricsInputError(`fitTemperature: ${y.length} labels but ${n} logit rows`);
  if (n === 0) throw new MetricsInputError('fitTemperature: no samples');
  const minT = options.minTemperature ?? 0.01;
  const maxT = options.maxTemperature ?? 100;
  if (!(minT > 0 && maxT > minT && Number.isFinite(maxT))) {
    throw new MetricsInputError(`fitTemperature: need 0 < minTemperature < maxTemperature, got ${minT}, ${maxT}`);
  }
  const maxIterations = options.maxIterations ?? 200;

  const nllBefore = nllAndDerivatives(z, y, k, 1)[0];
  let lo = 1 / maxT; // beta bracket
  let hi = 1 / minT;
  const gLo = nllAndDerivatives(z, y, k, lo)[1];
  const gHi = nllAndDerivatives(z, y, k, hi)[1];
  let beta: number;
  let iterations = 0;
  let atBound = false;
  if (gLo >= 0) {
    beta = lo; // NLL increasing everywhere in range: the flattest allowed softmax is best
    atBound = true;
  } else if (gHi <= 0) {
    beta = hi;
    atBound = true;
  } else {
    beta = Math.min(Math.max(1, lo), hi);
    while (iterations < maxIterations) {
      iterations++;
      const [, g, h] = nllAndDerivatives(z, y, k, beta);
      if (g === 0) break;
      if (g < 0) lo = beta;
      else hi = beta;
      // Newton when it stays in the bracket (a zero step ends the loop), else bisection.
      let next = h > 0 ? beta - g / h : NaN;
      if (!(next >= lo && next <= hi)) next = 0.5 * (lo + hi);
      const step = Math.abs(next - beta);
      beta = next;
      if (step <= 1e-14 * beta || hi - lo <= 1e-15 * beta) break;
    }
  }
  return { temperature: 1 / beta, nllBefore, nllAfter: nllAndDerivatives(z, y, k, beta)[0], iterations, atBound };
}

/**
 * Calibrated probabilities `softmax(logits / temperature)`. A tensor in gives a new tensor out (the caller
 * disposes it; intermediates are freed); nested arrays in give nested arrays out.
 * @param logits Pre-softmax outputs `[N, K]`.
 * @param temperature T > 0, e.g. from {@link fitTemperature}.
 */
export function applyTemperature(logits: tf.Tensor, temperature: number): tf.Tensor;
/**
 * Calibrated probabilities `softmax(logits / temperature)` of nested arrays.
 * @param logits Pre-softmax outputs, one row per sample.
 * @param temperature T > 0, e.g. from {@link fitTemperature}.
 */
export function applyTemperature(logits: ReadonlyArray<ArrayLike<number>>, temperature: number): number[][];
export function applyTemperature(
  logits: tf.Tensor | ReadonlyArray<ArrayLike<number>>,
  temperature: number,
): tf.Tensor | number[][] {
  if (!(temperature > 0 && Number.isFinite(temperature))) {
    throw new MetricsInputError(`applyTemperature: temperature must be a finite number > 0, got ${temperature}`);
  }
  if (isTensor(logits)) return tf.tidy(() => tf.softmax(tf.div(logits, temperature)));
  return logits.map((row, i) => {
    const scaled = Array.from(row, (v) => v / temperature);
    if (scaled.some((v) => !Number.isFinite(v))) {
      throw new MetricsInputError(`applyTemperature: row ${i} of logits holds a non-finite value`);
    }
    const max = Math.max(...scaled);
    const exps = scaled.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / sum);
  });
}

/** Whether the fitted temperature is served, and why. */
export interface CalibrationDecision {
  /** The temperature fitted on the validation people's logits. */
  fit: TemperatureFit;
  /** ECE of the validation slices before and after the fitted temperature. */
  validationEce: {
    /** ECE at T = 1. */
    before: number;
    /** ECE at the fitted temperature. */
    after: number;
  };
  /** Kept only when it lowers both the validation NLL and ECE. */
  kept: boolean;
  /** The temperature stored in metadata.json (1 when not kept). */
  served: number;
  /** One sentence on the decision. */
  reason: string;
}

/**
 * Calibration only where it helps: keep a fitted temperature only if it lowers both the NLL and the ECE of the
 * validation people it was fitted on; otherwise serve T = 1. `fitTemperature` always lowers the NLL of what it was
 * fitted on (or keeps it), so in practice ECE decides.
 * @param fit The fitted temperature ({@link fitTemperature} on validation logits).
 * @param ece Validation ECE before and after the fitted temperature.
 * @returns The served temperature and a sentence on the decision (for metadata.json and logs).
 * @example
 * ```ts
 * const fit = fitTemperature(val.logits, val.labels, { numClasses: 4 });
 * const after = new MultiClassMetrics({ numClasses: 4 }).update(val.labels, applyTemperature(rows, fit.temperature)).compute();
 * const { served, reason } = decideTemperature(fit, { before: val.metrics.ece, after: after.ece });
 * ```
 */
export function decideTemperature(fit: TemperatureFit, ece: { before: number; after: number }): CalibrationDecision {
  const lowersNll = fit.nllAfter < fit.nllBefore;
  const lowersEce = ece.after < ece.before;
  const kept = lowersNll && lowersEce;
  const what = `T = ${fit.temperature.toFixed(3)} (validation NLL ${fit.nllBefore.toFixed(4)} -> ${fit.nllAfter.toFixed(4)}, ECE ${ece.before.toFixed(4)} -> ${ece.after.toFixed(4)})`;
  const reason = kept
    ? `kept ${what}: it lowers both on the validation people`
    : `not kept: ${what} does not lower ${!lowersNll && !lowersEce ? 'NLL or ECE' : !lowersNll ? 'NLL' : 'ECE'} on the validation people, so T = 1 is served`;
  return { fit, validationEce: ece, kept, served: kept ? fit.temperature : 1, reason };
}

/**
 * Fits a temperature on validation logits and decides whether to serve it ({@link decideTemperature}): the one
 * calibration step of training, shipping and the CLI.
 * @param logits Validation pre-softmax outputs, row-major `[N * numClasses]`.
 * @param labels True class of every row.
 * @param options `numClasses` (K) and the ECE bins (default 15).
 * @returns The fit, the validation ECE before / after it, and the decision.
 * @example
 * ```ts
 * const val = await evaluate(model, ds, { indices: split.test });
 * const { served, reason } = chooseTemperature(val.logits, val.labels, { numClasses: val.numClasses });
 * ```
 */
export function chooseTemperature(
  logits: Float32Array,
  labels: ArrayLike<number>,
  options: { numClasses: number; calibrationBins?: number },
): CalibrationDecision {
  const k = options.numClasses;
  const fit = fitTemperature(logits, labels as LabelsInput, { numClasses: k });
  const rows = Array.from({ length: labels.length }, (_, i) => logits.subarray(i * k, (i + 1) * k));
  const y = Int32Array.from(labels);
  const ece = (t: number): number =>
    computeMetrics(y, Float64Array.from(applyTemperature(rows, t).flat()), { numClasses: k, calibrationBins: options.calibrationBins }).ece;
  return decideTemperature(fit, { before: ece(1), after: ece(fit.temperature) });
}
