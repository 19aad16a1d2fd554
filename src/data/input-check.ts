/**
 * The input check's statistics: a Gaussian model of what training slices look like (probabilistic PCA of the
 * slice averaged down to a coarse grid), its fit, and the distance of a new image from it. Pure JavaScript: no
 * tensors, so it runs the same on every backend and in the browser.
 *
 * Why this and not the classifier's own confidence: a softmax (or the energy score on its logits) says how sure
 * the model is among its four stages, not whether the image is a brain slice at all; the shipped model gives a
 * stage at p ≈ 1.00 to black images and noise. The appearance model is fitted on the training people's slices
 * (registered, skull-stripped axial T1 on a black background), so a skull, another contrast, another plane, a
 * plot, noise or a 0..1 scale all lie far from it. docs/evaluation.md has the measurements that chose it.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { DataError } from './errors.js';
import type { LabeledImageSource } from './types.js';
import { headFootprint } from './slice-level.js';

/** The plain statistics the input check bounds (see {@link InputCheckModel.ranges}). */
export interface SliceStatistics {
  /** 99th percentile of the pixel values (0..255 histogram, values clamped). */
  brightness: number;
  /** Share of the image inside the head's outline (`headFootprint`, threshold 15). */
  footprint: number;
}

/**
 * Brightness and head footprint of a gray 0..255 image.
 * @param image Row-major pixels.
 * @param height Image height.
 * @param width Image width.
 * @returns Its statistics.
 */
export function sliceStatistics(image: ArrayLike<number>, height: number, width: number): SliceStatistics {
  const histogram = new Uint32Array(256);
  for (let i = 0; i < image.length; i++) histogram[Math.min(255, Math.max(0, Math.floor(image[i])))]++;
  const rank = 0.99 * image.length;
  let seen = 0;
  let brightness = 255;
  for (let v = 0; v < 256; v++) {
    seen += histogram[v];
    if (seen >= rank) {
      brightness = v;
      break;
    }
  }
  // Below 1 the histogram has no resolution: a 0..1 image gets its own maximum.
  if (brightness === 0) for (let i = 0; i < image.length; i++) brightness = Math.max(brightness, image[i]);
  return { brightness, footprint: headFootprint(image, height, width) };
}

/** Version tag of the serialized check (see {@link SerializedInputCheck}). */
export const INPUT_CHECK_METHOD = 'ppca-pixels-v1';

/** A fitted appearance model (probabilistic PCA of the slices on a coarse grid) and its acceptance threshold. */
export interface InputCheckModel {
  /** {@link INPUT_CHECK_METHOD}. */
  method: typeof INPUT_CHECK_METHOD;
  /** `[rows, cols]` of the grid images are averaged down to before scoring. */
  grid: [number, number];
  /** Mean of the training images on the grid (0..255 scale), length `rows * cols`. */
  mean: Float32Array;
  /** Principal axes, row-major `[components, rows * cols]`, unit length. */
  axes: Float32Array;
  /** Variance along each axis (descending). */
  variances: Float32Array;
  /** Mean variance of the directions left out (the isotropic noise of probabilistic PCA). */
  residualVariance: number;
  /** Images whose {@link appearanceScore} is above this are refused. */
  threshold: number;
  /**
   * Accepted ranges of two plain statistics of the training slices ({@link sliceStatistics}), from their 0.1st to
   * 99.9th percentiles widened by a quarter of that span on each side: an image outside either range is refused
   * whatever its appearance score (the Gaussian alone accepts a black image: brightness varies along its first axis).
   */
  ranges: {
    /** 99th percentile of the pixel values (the brightest tissue). */
    brightness: [number, number];
    /** Share of the image inside the head's outline (`headFootprint`, tissue above 15). */
    footprint: [number, number];
  };
  /** What the check was fitted on and how the threshold was chosen (for the model card). */
  fittedOn: {
    /** Images the Gaussian was fitted on (training people's slices and their mirror images). */
    fitImages: number;
    /** Slices of validation people the threshold was set on. */
    thresholdImages: number;
    /** Share of the threshold images accepted at the threshold. */
    acceptedShare: number;
    /** Share of validation slices the threshold was asked to accept. */
    targetAcceptedShare: number;
  };
}

/** {@link InputCheckModel} as JSON (in a model's `metadata.json`): arrays as base64 little-endian float32. */
export interface SerializedInputCheck extends Omit<InputCheckModel, 'mean' | 'axes' | 'variances'> {
  /** Base64 float32 of {@link InputCheckModel.mean}. */
  mean: string;
  /** Base64 float32 of {@link InputCheckModel.axes}. */
  axes: string;
  /** Base64 float32 of {@link InputCheckModel.variances}. */
  variances: string;
}

/** Options of {@link fitInputCheckModel}. */
export interface FitInputCheckOptions {
  /** Grid the images are averaged down to. Default `[32, 32]` (the image size when smaller). */
  grid?: [number, number];
  /** Share of the variance the principal axes keep (the rest is isotropic noise). Default 0.95. */
  varianceKept?: number;
  /** Share of the threshold images to accept: the threshold is that quantile of their scores. Default 0.995. */
  acceptShare?: number;
  /** Also fit on each image's left-right mirror (the model sees mirrored slices in training). Default true. */
  mirror?: boolean;
}

/** Images for fitting: each gray 0..255 row-major `height * width`. */
export interface GrayImages {
  /** Image height. */
  height: number;
  /** Image width. */
  width: number;
  /** The images. */
  images: Iterable<ArrayLike<number>> | AsyncIterable<ArrayLike<number>>;
}

/**
 * Averages a gray image down (or up) to a grid: each cell is the area-weighted mean of the pixels it covers.
 * @param image Row-major pixels.
 * @param height Image height.
 * @param width Image width.
 * @param rows Grid rows.
 * @param cols Grid columns.
 * @returns `rows * cols` means.
 */
export function areaAverage(image: ArrayLike<number>, height: number, width: number, rows: number, cols: number): Float32Array {
  if (image.length !== height * width) throw new DataError(`areaAverage: ${image.length} pixels do not make a ${height}x${width} image`);
  const ys = coverage(height, rows);
  const xs = coverage(width, cols);
  const out = new Float32Array(rows * cols);
  const rowSums = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    rowSums.fill(0);
    for (const [y, wy] of ys[r]) {
      const base = y * width;
      for (let c = 0; c < cols; c++) {
        let s = 0;
        for (const [x, wx] of xs[c]) s += image[base + x] * wx;
        rowSums[c] += s * wy;
      }
    }
    for (let c = 0; c < cols; c++) out[r * cols + c] = rowSums[c];
  }
  return out;
}

// For each output cell, the input indices it overlaps and their weights (summing to 1).
function coverage(inSize: number, outSize: number): Array<Array<[number, number]>> {
  const scale = inSize / outSize;
  return Array.from({ length: outSize }, (_, o) => {
    const start = o * scale;
    const end = start + scale;
    const cells: Array<[number, number]> = [];
    for (let i = Math.floor(start); i < Math.min(inSize, Math.ceil(end)); i++) {
      const w = Math.min(end, i + 1) - Math.max(start, i);
      if (w > 1e-9) cells.push([i, w / scale]);
    }
    return cells;
  });
}

function mirrored(cells: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(cells.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = cells[r * cols + cols - 1 - c];
  return out;
}

async function collect(source: GrayImages, grid: [number, number], mirror: boolean, stats: SliceStatistics[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for await (const image of source.images as AsyncIterable<ArrayLike<number>>) {
    stats.push(sliceStatistics(image, source.height, source.width));
    const cells = areaAverage(image, source.height, source.width, grid[0], grid[1]);
    out.push(cells);
    if (mirror) out.push(mirrored(cells, grid[0], grid[1]));
  }
  return out;
}

/**
 * The appearance score of one image: the probabilistic-PCA Mahalanobis distance of its grid from the training
 * mean, `(Σ_i z_i² / λ_i + |r|² / σ²) / d`, where `z` are its coordinates on the principal axes, `r` what the axes
 * leave out, `σ²` the residual variance and `d` the grid size. About 1 for a typical training slice; grows with
 * distance from them.
 * @param model The fitted check.
 * @param image Gray 0..255 row-major pixels.
 * @param height Image height.
 * @param width Image width.
 * @returns The score (finite for finite pixels; `Infinity` when a pixel is not finite).
 */
export function appearanceScore(model: InputCheckModel, image: ArrayLike<number>, height: number, width: number): number {
  const [rows, cols] = model.grid;
  const d = rows * cols;
  const cells = areaAverage(image, height, width, rows, cols);
  let total = 0;
  for (let i = 0; i < d; i++) {
    cells[i] -= model.mean[i];
    total += cells[i] * cells[i];
  }
  if (!Number.isFinite(total)) return Infinity;
  const k = model.variances.length;
  let explained = 0;
  let mahalanobis = 0;
  for (let a = 0; a < k; a++) {
    let z = 0;
    const axis = a * d;
    for (let i = 0; i < d; i++) z += model.axes[axis + i] * cells[i];
    explained += z * z;
    mahalanobis += (z * z) / model.variances[a];
  }
  const residual = Math.max(0, total - explained);
  return (mahalanobis + residual / model.residualVariance) / d;
}

/** Linear-interpolation quantile of unsorted values (numpy's default). */
function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Fits the input check: probabilistic PCA of the `fit` images (training people's slices), and a threshold at the
 * `acceptShare` quantile of the scores of the `threshold` images (validation people's slices, which the Gaussian
 * never saw, so the threshold holds for new people of the same kind).
 * @param fit Images to fit the Gaussian on.
 * @param threshold Images to set the threshold on (same size as `fit`).
 * @param options Grid, variance kept, accepted share, mirroring.
 * @returns The check, ready for {@link appearanceScore} and for a model's metadata ({@link serializeInputCheck}).
 * @throws {@link DataError} when there are fewer fit images than 2 or no threshold images, or an option is out of range.
 */
export async function fitInputCheckModel(fit: GrayImages, threshold: GrayImages, options: FitInputCheckOptions = {}): Promise<InputCheckModel> {
  const grid = options.grid ?? [Math.min(32, fit.height), Math.min(32, fit.width)];
  const varianceKept = options.varianceKept ?? 0.95;
  const acceptShare = options.acceptShare ?? 0.995;
  if (!(varianceKept > 0 && varianceKept < 1)) throw new DataError(`fitInputCheckModel: varianceKept must be in (0, 1), got ${varianceKept}`);
  if (!(acceptShare > 0 && acceptShare <= 1)) throw new DataError(`fitInputCheckModel: acceptShare must be in (0, 1], got ${acceptShare}`);
  if (!grid.every((g) => Number.isInteger(g) && g >= 1)) throw new DataError(`fitInputCheckModel: grid must be two positive integers, got [${grid.join(', ')}]`);
  const fitStats: SliceStatistics[] = [];
  const samples = await collect(fit, grid, options.mirror ?? true, fitStats);
  if (samples.length < 2) throw new DataError(`fitInputCheckModel: need at least 2 images to fit on, got ${samples.length}`);
  const d = grid[0] * grid[1];
  const mean = new Float64Array(d);
  for (const s of samples) for (let i = 0; i < d; i++) mean[i] += s[i];
  for (let i = 0; i < d; i++) mean[i] /= samples.length;
  // Upper triangle of the covariance, then mirrored: half the multiply-adds of a full product.
  const cov = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (const s of samples) {
    for (let i = 0; i < d; i++) centred[i] = s[i] - mean[i];
    for (let i = 0; i < d; i++) {
      const ci = centred[i];
      if (ci === 0) continue;
      const row = i * d;
      for (let j = i; j < d; j++) cov[row + j] += ci * centred[j];
    }
  }
  const n1 = samples.length - 1;
  const matrix = new Matrix(d, d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = cov[i * d + j] / n1;
      matrix.set(i, j, v);
      matrix.set(j, i, v);
    }
  }
  const eig = new EigenvalueDecomposition(matrix, { assumeSymmetric: true });
  const values = eig.realEigenvalues.map((v) => Math.max(v, 0));
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a]);
  const totalVariance = values.reduce((a, b) => a + b, 0);
  let k = 0;
  for (let kept = 0; k < d - 1 && kept < varianceKept * totalVariance; k++) kept += values[order[k]];
  const residualVariance = Math.max(order.slice(k).reduce((a, i) => a + values[i], 0) / Math.max(1, d - k), 1e-6 * (totalVariance / d) + 1e-12);
  const vectors = eig.eigenvectorMatrix;
  const axes = new Float32Array(k * d);
  const variances = new Float32Array(k);
  for (let a = 0; a < k; a++) {
    variances[a] = Math.max(values[order[a]], residualVariance);
    for (let i = 0; i < d; i++) axes[a * d + i] = vectors.get(i, order[a]);
  }
  const stats = fitStats;
  const range = (values: number[]): [number, number] => {
    const lo = quantile(values, 0.001);
    const hi = quantile(values, 0.999);
    const margin = 0.25 * (hi - lo);
    return [lo - margin, hi + margin];
  };
  const model: InputCheckModel = {
    method: INPUT_CHECK_METHOD,
    ranges: { brightness: range(stats.map((t) => t.brightness)), footprint: range(stats.map((t) => t.footprint)) },
    grid: [grid[0], grid[1]],
    mean: Float32Array.from(mean),
    axes,
    variances,
    residualVariance,
    threshold: Infinity,
    fittedOn: { fitImages: samples.length, thresholdImages: 0, acceptedShare: 1, targetAcceptedShare: acceptShare },
  };
  const scores: number[] = [];
  const accepted: ArrayLike<number>[] = [];
  for await (const image of threshold.images as AsyncIterable<ArrayLike<number>>) {
    scores.push(appearanceScore(model, image, threshold.height, threshold.width));
    accepted.push(image);
  }
  if (scores.length === 0) throw new DataError('fitInputCheckModel: no images to set the threshold on');
  model.threshold = quantile(scores, acceptShare);
  model.fittedOn.thresholdImages = scores.length;
  model.fittedOn.acceptedShare = accepted.filter((image) => inputVerdict(model, image, threshold.height, threshold.width).accepted).length / scores.length;
  return model;
}

async function* imagesOf(source: LabeledImageSource, indices: ArrayLike<number>): AsyncGenerator<Float32Array> {
  for (let i = 0; i < indices.length; i++) yield (await source.get(indices[i])).image;
}

/**
 * Fits the input check of a model on its training data: the Gaussian on the rows of the training people, the
 * threshold on the rows of the validation people (never the test file's). Store the result in the model's
 * metadata with {@link serializeInputCheck} (`inputCheck`); `runTrainingPipeline` does.
 * @param source The training file, decoded at the model's input size.
 * @param split Rows of the training people (`train`) and of the validation people (`validation`).
 * @param options Grid, variance kept, accepted share, mirroring.
 * @returns The fitted check.
 * @example
 * ```ts
 * const rows = await splitTrainingRows(trainSet, { split: 'subjects', seed: 42 });
 * const check = await fitInputCheck(trainSet, rows);
 * await writeModelMetadata(dir, { ...metadata, inputCheck: serializeInputCheck(check) });
 * ```
 */
export async function fitInputCheck(
  source: LabeledImageSource,
  split: { train: ArrayLike<number>; validation: ArrayLike<number> },
  options: FitInputCheckOptions = {},
): Promise<InputCheckModel> {
  const [height, width] = source.imageSize;
  return fitInputCheckModel(
    { height, width, images: imagesOf(source, split.train) },
    { height, width, images: imagesOf(source, split.validation) },
    options,
  );
}

function toBase64(values: Float32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string, expected: number, field: string): Float32Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new DataError(`input check: ${field} is not base64`);
  }
  if (binary.length !== expected * 4) throw new DataError(`input check: ${field} holds ${binary.length / 4} values, expected ${expected}`);
  const view = new DataView(Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer);
  const out = new Float32Array(expected);
  for (let i = 0; i < expected; i++) out[i] = view.getFloat32(i * 4, true);
  if (!out.every(Number.isFinite)) throw new DataError(`input check: ${field} holds non-finite values`);
  return out;
}

/**
 * The check as JSON for a model's `metadata.json` (`inputCheck`).
 * @param model The fitted check.
 * @returns A JSON-safe object.
 */
export function serializeInputCheck(model: InputCheckModel): SerializedInputCheck {
  return { ...model, mean: toBase64(model.mean), axes: toBase64(model.axes), variances: toBase64(model.variances) };
}

/**
 * Reads a check back from a model's metadata, verifying every field.
 * @param json The `inputCheck` value of `metadata.json`.
 * @returns The check.
 * @throws {@link DataError} naming the field that is missing, of the wrong size or not finite, or an unknown method.
 */
export function deserializeInputCheck(json: unknown): InputCheckModel {
  const o = json as Partial<SerializedInputCheck> | null;
  if (!o || typeof o !== 'object') throw new DataError('input check: expected an object');
  if (o.method !== INPUT_CHECK_METHOD) throw new DataError(`input check: unknown method '${String(o.method)}' (this version reads '${INPUT_CHECK_METHOD}')`);
  const grid = o.grid;
  if (!Array.isArray(grid) || grid.length !== 2 || !grid.every((g) => Number.isInteger(g) && g >= 1)) throw new DataError('input check: grid must be two positive integers');
  if (typeof o.threshold !== 'number' || !(o.threshold > 0)) throw new DataError(`input check: threshold must be a positive number, got ${String(o.threshold)}`);
  if (typeof o.residualVariance !== 'number' || !(o.residualVariance > 0)) throw new DataError('input check: residualVariance must be a positive number');
  if (typeof o.variances !== 'string' || typeof o.mean !== 'string' || typeof o.axes !== 'string') throw new DataError('input check: mean, axes and variances must be base64 strings');
  const ranges = o.ranges;
  const isRange = (r: unknown): r is [number, number] => Array.isArray(r) && r.length === 2 && r.every((v) => typeof v === 'number' && Number.isFinite(v)) && r[0] <= r[1];
  if (!ranges || !isRange(ranges.brightness) || !isRange(ranges.footprint)) throw new DataError('input check: ranges must hold brightness and footprint as [low, high]');
  const d = grid[0] * grid[1];
  const variances = fromBase64(o.variances, o.variances.length === 0 ? 0 : (atob(o.variances).length / 4), 'variances');
  const k = variances.length;
  return {
    method: INPUT_CHECK_METHOD,
    grid: [grid[0], grid[1]],
    mean: fromBase64(o.mean, d, 'mean'),
    axes: fromBase64(o.axes, k * d, 'axes'),
    variances,
    residualVariance: o.residualVariance,
    threshold: o.threshold,
    ranges: { brightness: [...ranges.brightness], footprint: [...ranges.footprint] },
    fittedOn: o.fittedOn ?? { fitImages: 0, thresholdImages: 0, acceptedShare: Number.NaN, targetAcceptedShare: Number.NaN },
  };
}

/** The input check's answer for one image. */
export interface InputVerdict {
  /** Whether the image is like the slices the model was made for (its stage may be given). */
  accepted: boolean;
  /**
   * How far the image is from the training slices: the largest of its appearance score over the threshold and its
   * statistics' distances from the middle of their ranges (1 at a range's end). Refused above 1.
   */
  score: number;
  /** Why the image was refused, in plain words (only when refused). */
  reason?: string;
}

/**
 * Scores one image and says, when it is refused, what is most visibly wrong with it.
 * @param model The fitted check.
 * @param image Gray 0..255 row-major pixels.
 * @param height Image height.
 * @param width Image width.
 * @returns The verdict.
 */
export function inputVerdict(model: InputCheckModel, image: ArrayLike<number>, height: number, width: number): InputVerdict {
  const appearance = appearanceScore(model, image, height, width) / model.threshold;
  const stats = sliceStatistics(image, height, width);
  // A statistic's score: 1 at either end of its range, 0 in the middle.
  const within = (v: number, [lo, hi]: [number, number]) => (hi > lo ? Math.abs(v - (lo + hi) / 2) / ((hi - lo) / 2) : v === lo ? 0 : Infinity);
  const brightness = within(stats.brightness, model.ranges.brightness);
  const footprint = within(stats.footprint, model.ranges.footprint);
  const score = Math.max(appearance, brightness, footprint);
  if (score <= 1) return { accepted: true, score };
  const range = ([lo, hi]: [number, number], digits: number) => `${Math.max(0, lo).toFixed(digits)}..${hi.toFixed(digits)}`;
  let reason: string;
  const plain = plainCause(image, height, width);
  if (plain) reason = plain;
  else if (brightness > 1) reason = `its brightest tissue (99th percentile ${stats.brightness.toFixed(1)}) is outside the training slices' ${range(model.ranges.brightness, 0)}`;
  else if (footprint > 1) reason = `the head covers ${(100 * stats.footprint).toFixed(0)}% of the image, outside the training slices' ${range(model.ranges.footprint.map((v) => v * 100) as [number, number], 0)}%`;
  else reason = borderCause(image, height, width) ?? 'unlike the skull-stripped, registered axial T1 slices the model was trained on';
  return { accepted: false, score, reason: `${reason} (input-check score ${formatScore(score)} > 1)` };
}

function formatScore(v: number): string {
  return !Number.isFinite(v) ? String(v) : v >= 100 ? v.toFixed(0) : v.toPrecision(3);
}

// The plainest reasons an image is unusable: not numbers, no contrast, the wrong scale.
function plainCause(image: ArrayLike<number>, height: number, width: number): string | undefined {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < image.length; i++) {
    const v = image[i];
    if (!Number.isFinite(v)) return 'pixels that are not finite numbers';
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max - min <= 1e-6 * Math.max(1, Math.abs(max))) return `a constant image (every pixel ${Number(min.toPrecision(4))})`;
  if (max <= 1.5) return `pixel values within ${formatScore(min)}..${formatScore(max)}: the model takes 0..255 (scale 0..1 images by 255)`;
  return height * width === image.length ? undefined : 'an image of the wrong size';
}

// A bright frame: the training slices are skull-stripped brains on black.
function borderCause(image: ArrayLike<number>, height: number, width: number): string | undefined {
  // The training slices are skull-stripped brains on a black background: their border is dark.
  const band = Math.max(1, Math.round(Math.min(height, width) / 16));
  let border = 0;
  let count = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (y < band || y >= height - band || x < band || x >= width - band) {
        border += image[y * width + x];
        count++;
      }
    }
  }
  if (border / count > 40) return `a bright background (border mean ${formatScore(border / count)}; the training slices are skull-stripped brains on black)`;
  return undefined;
}
