import type * as tf from '@tensorflow/tfjs-core';
import { MetricsInputError } from './errors.js';

/**
 * True labels of a batch: class indices `[N]` (a plain array, a typed array or a rank-1 tensor) or one-hot /
 * per-class scores `[N, K]` (nested arrays or a rank-2 tensor; the class is the row's first maximum, as
 * `np.argmax`).
 */
export type LabelsInput = ArrayLike<number> | ReadonlyArray<ArrayLike<number>> | tf.Tensor;

/**
 * Per-class scores of a batch, `[N, K]`: nested arrays (one row per sample), a flat row-major typed array of
 * length `N * K`, or a rank-2 tensor.
 */
export type MatrixInput = ReadonlyArray<ArrayLike<number>> | Float32Array | Float64Array | tf.Tensor;

/** True for a tfjs tensor (duck-typed, so that tensors from another copy of tfjs-core are recognised too). */
export function isTensor(x: unknown): x is tf.Tensor {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as tf.Tensor).dataSync === 'function' &&
    Array.isArray((x as tf.Tensor).shape)
  );
}

function isNested(x: ArrayLike<unknown>): x is ReadonlyArray<ArrayLike<number>> {
  return x.length > 0 && typeof x[0] === 'object' && x[0] !== null;
}

/** First index of the maximum of `data[offset .. offset + k)`, like `np.argmax`. */
export function argmaxRow(data: ArrayLike<number>, offset: number, k: number): number {
  let best = 0;
  let bestValue = data[offset];
  for (let j = 1; j < k; j++) {
    const v = data[offset + j];
    if (v > bestValue) {
      best = j;
      bestValue = v;
    }
  }
  return best;
}

function checkIndex(value: number, i: number, numClasses: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= numClasses) {
    throw new MetricsInputError(
      `${what}: label at row ${i} is ${value}; expected an integer class index in [0, ${numClasses - 1}]`,
    );
  }
  return value;
}

/**
 * Reads labels as class indices. Tensors are read with `dataSync` (no tensor is created, so nothing leaks).
 * @param what Argument name used in error messages.
 */
export function readLabels(input: LabelsInput, numClasses: number, what = 'labels'): Int32Array {
  if (isTensor(input)) {
    const shape = input.shape;
    const data = input.dataSync() as ArrayLike<number>;
    if (shape.length === 1) return readLabels(data, numClasses, what);
    if (shape.length === 2) return oneHotToIndices(data, shape[0], shape[1], numClasses, what);
    throw new MetricsInputError(`${what}: expected a tensor of shape [N] or [N, ${numClasses}], got [${shape}]`);
  }
  if (isNested(input)) {
    const n = input.length;
    const flat = new Float64Array(n * numClasses);
    for (let i = 0; i < n; i++) {
      const row = input[i];
      if (row.length !== numClasses) {
        throw new MetricsInputError(`${what}: row ${i} has ${row.length} entries; expected ${numClasses} (one-hot)`);
      }
      for (let j = 0; j < numClasses; j++) flat[i * numClasses + j] = row[j];
    }
    return oneHotToIndices(flat, n, numClasses, numClasses, what);
  }
  const out = new Int32Array(input.length);
  for (let i = 0; i < input.length; i++) out[i] = checkIndex(Number(input[i]), i, numClasses, what);
  return out;
}

function oneHotToIndices(data: ArrayLike<number>, n: number, k: number, numClasses: number, what: string): Int32Array {
  if (k !== numClasses) {
    throw new MetricsInputError(`${what}: one-hot labels have ${k} columns; expected ${numClasses}`);
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      if (!Number.isFinite(data[i * k + j])) {
        throw new MetricsInputError(`${what}: row ${i}, column ${j} is ${data[i * k + j]}; expected a finite number`);
      }
    }
    out[i] = argmaxRow(data, i * k, k);
  }
  return out;
}

/**
 * Reads an `[N, K]` matrix into a row-major Float64Array and checks every value is finite.
 * @param what Argument name used in error messages.
 */
export function readMatrix(input: MatrixInput, numClasses: number, what: string): { data: Float64Array; n: number } {
  let data: Float64Array;
  let n: number;
  if (isTensor(input)) {
    if (input.shape.length !== 2 || input.shape[1] !== numClasses) {
      throw new MetricsInputError(`${what}: expected a tensor of shape [N, ${numClasses}], got [${input.shape}]`);
    }
    n = input.shape[0];
    data = Float64Array.from(input.dataSync() as ArrayLike<number>);
  } else if (input instanceof Float32Array || input instanceof Float64Array) {
    if (input.length % numClasses !== 0) {
      throw new MetricsInputError(
        `${what}: flat array of length ${input.length} is not a multiple of numClasses = ${numClasses}`,
      );
    }
    n = input.length / numClasses;
    data = Float64Array.from(input);
  } else {
    n = input.length;
    data = new Float64Array(n * numClasses);
    for (let i = 0; i < n; i++) {
      const row = input[i];
      if (row === null || typeof row !== 'object' || row.length !== numClasses) {
        throw new MetricsInputError(
          `${what}: row ${i} has ${row?.length ?? typeof row} entries; expected ${numClasses}`,
        );
      }
      for (let j = 0; j < numClasses; j++) data[i * numClasses + j] = row[j];
    }
  }
  for (let idx = 0; idx < data.length; idx++) {
    if (!Number.isFinite(data[idx])) {
      const i = Math.floor(idx / numClasses);
      throw new MetricsInputError(`${what}: row ${i}, column ${idx - i * numClasses} is ${data[idx]}; expected a finite number`);
    }
  }
  return { data, n };
}

/**
 * The tolerance of {@link checkRowSums}: a row may sum to `s` with `|1 - s| ≤ ROW_SUM_ATOL + ROW_SUM_RTOL · |s|`,
 * NumPy's `np.allclose(1, s)` defaults as scikit-learn's `roc_auc_score(multi_class='ovr')` applies them. Float32
 * softmax rows (and their means: test-time augmentation, a person's slices) are well inside it.
 */
export const ROW_SUM_RTOL = 1e-5;
/** Absolute part of the row-sum tolerance (see {@link ROW_SUM_RTOL}). */
export const ROW_SUM_ATOL = 1e-8;

/**
 * Checks that every row of a row-major `[n, k]` probability matrix sums to 1, as scikit-learn's multiclass
 * `roc_auc_score` does (it raises "Target scores need to be probabilities for multiclass roc_auc, i.e. they should
 * sum up to 1.0 over classes"; see {@link ROW_SUM_RTOL} for the tolerance).
 * @param data Row-major probabilities.
 * @param n Number of rows.
 * @param k Number of classes.
 * @param what Argument name used in error messages.
 * @throws {@link MetricsInputError} naming the first row that does not, and its sum.
 */
export function checkRowSums(data: ArrayLike<number>, n: number, k: number, what: string): void {
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += data[i * k + j];
    if (!(Math.abs(1 - sum) <= ROW_SUM_ATOL + ROW_SUM_RTOL * Math.abs(sum))) {
      throw new MetricsInputError(
        `${what}: row ${i} sums to ${sum}; expected probabilities that sum to 1 over the ${k} classes ` +
          `(within ${ROW_SUM_RTOL} relative, as scikit-learn's roc_auc_score): pass softmax outputs, or divide each row by its sum`,
      );
    }
  }
}
