// Deletion / insertion curves (Petsiuk, Das & Saenko 2018, "RISE: Randomized Input Sampling for Explanation
// of Black-box Models", BMVC): a faithful map ranks first the pixels the model's class score depends on, so
// deleting them first makes the score fall fast (low deletion AUC) and revealing them first makes it rise
// fast (high insertion AUC). Compare with a random pixel order: a map is informative only if it beats random.

import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ExplainError } from './errors.js';
import { ClassScorer } from './logits.js';
import { createRng } from '../random.js';
import { trapezoidArea } from '../metrics/roc.js';

/**
 * What a removed (deletion) or not-yet-revealed (insertion) pixel is replaced by: `'zero'` (black, which in
 * MRI means "no tissue"), `'blur'` (Gaussian blur of the image), `'mean'` (the image's mean), a constant, or
 * a full image of the same size.
 */
export type Baseline = 'zero' | 'blur' | 'mean' | number | Float32Array;

/** Options of {@link deletionCurve} / {@link insertionCurve}. */
export interface CurveOptions {
  /** Number of steps (default 32): the curve has `steps + 1` points, from 0 to all pixels changed. */
  steps?: number;
  /** Replacement image (default: `'zero'` for deletion, `'blur'` for insertion, as in RISE). */
  baseline?: Baseline;
  /** Gaussian σ in pixels for the `'blur'` baseline (default 5, RISE's value). */
  blurSigma?: number;
  /** Score plotted: the class probability (default, as in RISE) or the class logit. */
  score?: 'probability' | 'logit';
  /** Images per model call (default 16). */
  batchSize?: number;
  /** Seed that breaks ties between equal heat values (plateaus, zeros after ReLU) at random (default 0). */
  seed?: number;
}

/** A deletion or insertion curve. */
export interface FaithfulnessCurve {
  /** Fraction of pixels deleted / revealed at each point, 0..1 (`steps + 1` values). */
  fractions: Float32Array;
  /** The class score at each point. */
  scores: Float32Array;
  /** Area under the curve over fractions 0..1 (trapezoid rule). */
  auc: number;
  /** The class scored. */
  classIndex: number;
}

/**
 * A random saliency map (uniform in [0, 1), seeded): as the `saliency` of a curve it gives a random pixel
 * order, the baseline a real map must beat.
 *
 * @param length Number of pixels (`height * width`).
 * @param seed Seed (same seed, same map).
 */
export function randomSaliency(length: number, seed = 0): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = rng();
  return out;
}

/**
 * Separable Gaussian blur of an `[height, width, channels]` image (edges clamped).
 *
 * @param image Row-major HWC pixels.
 * @param width Width in pixels.
 * @param height Height in pixels.
 * @param channels Channels per pixel.
 * @param sigma Standard deviation in pixels (kernel radius `ceil(3σ)`).
 */
export function gaussianBlur(image: Float32Array, width: number, height: number, channels: number, sigma: number): Float32Array {
  if (!(sigma > 0)) return image.slice();
  const radius = Math.ceil(3 * sigma);
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  const tmp = new Float32Array(image.length);
  const out = new Float32Array(image.length);
  const clampI = (v: number, n: number): number => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * image[(y * width + clampI(x + k, width)) * channels + c];
        tmp[(y * width + x) * channels + c] = acc;
      }
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * tmp[(clampI(y + k, height) * width + x) * channels + c];
        out[(y * width + x) * channels + c] = acc;
      }
    }
  }
  return out;
}

/** Pixel indices by decreasing saliency; ties in random (seeded) order. */
export function pixelOrder(saliency: ArrayLike<number>, seed = 0): Uint32Array {
  const n = saliency.length;
  const rng = createRng(seed);
  const tie = new Float64Array(n);
  for (let i = 0; i < n; i++) tie[i] = rng();
  const key = (i: number): number => {
    const v = saliency[i];
    return Number.isFinite(v) ? v : -Infinity;
  };
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => key(b) - key(a) || tie[a] - tie[b]);
  return Uint32Array.from(order);
}

function modelImageShape(model: tfl.LayersModel): [number, number, number] {
  const s = model.inputs[0]?.shape;
  if (s == null || s.length !== 4 || s[1] == null || s[2] == null || s[3] == null) {
    throw new ExplainError(`Model '${model.name}' needs a fixed [H, W, C] input for faithfulness curves; it has [${s?.join(', ')}].`);
  }
  return [s[1], s[2], s[3]];
}

function baselineImage(baseline: Baseline, image: Float32Array, w: number, h: number, c: number, sigma: number): Float32Array {
  if (baseline instanceof Float32Array) {
    if (baseline.length !== image.length) {
      throw new ExplainError(`Baseline image has ${baseline.length} values; the image has ${image.length}.`);
    }
    return baseline;
  }
  if (typeof baseline === 'number') return new Float32Array(image.length).fill(baseline);
  if (baseline === 'zero') return new Float32Array(image.length);
  if (baseline === 'mean') {
    let s = 0;
    for (let i = 0; i < image.length; i++) s += image[i];
    return new Float32Array(image.length).fill(s / image.length);
  }
  if (baseline === 'blur') return gaussianBlur(image, w, h, c, sigma);
  throw new ExplainError(`Unknown baseline '${String(baseline)}'; use 'zero', 'blur', 'mean', a number or an image.`);
}

async function curve(
  model: tfl.LayersModel,
  image: Float32Array,
  saliency: ArrayLike<number>,
  classIndex: number,
  options: CurveOptions,
  mode: 'deletion' | 'insertion',
): Promise<FaithfulnessCurve> {
  const [h, w, c] = modelImageShape(model);
  const hw = h * w;
  if (image.length !== hw * c) {
    throw new ExplainError(`${mode}Curve: the image has ${image.length} values; model '${model.name}' takes ${h}x${w}x${c} = ${hw * c}.`);
  }
  if (saliency.length !== hw) throw new ExplainError(`${mode}Curve: the saliency map has ${saliency.length} values; expected ${h}x${w} = ${hw}.`);
  const steps = options.steps ?? 32;
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(steps) || steps < 1) throw new ExplainError(`${mode}Curve: steps is ${steps}; it must be a positive integer.`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ExplainError(`${mode}Curve: batchSize is ${batchSize}; it must be a positive integer.`);
  const scorer = new ClassScorer(model);
  const numClasses = model.outputs[0].shape[1] as number;
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= numClasses) {
    throw new ExplainError(`${mode}Curve: classIndex is ${classIndex}; it must be an integer in [0, ${numClasses - 1}].`);
  }
  const base = baselineImage(options.baseline ?? (mode === 'deletion' ? 'zero' : 'blur'), image, w, h, c, options.blurSigma ?? 5);
  const order = pixelOrder(saliency, options.seed ?? 0);
  const counts = Array.from({ length: steps + 1 }, (_, i) => Math.round((i * hw) / steps));
  // Deletion starts from the image and writes baseline pixels; insertion starts from the baseline and writes image pixels.
  const [start, source] = mode === 'deletion' ? [image, base] : [base, image];
  const scores = new Float32Array(steps + 1);
  const current = start.slice();
  let done = 0;
  for (let b0 = 0; b0 <= steps; b0 += batchSize) {
    const nb = Math.min(batchSize, steps + 1 - b0);
    const batch = new Float32Array(nb * hw * c);
    for (let j = 0; j < nb; j++) {
      const target = counts[b0 + j];
      for (; done < target; done++) {
        const p = order[done];
        for (let ch = 0; ch < c; ch++) current[p * c + ch] = source[p * c + ch];
      }
      batch.set(current, j * hw * c);
    }
    const x = tf.tensor4d(batch, [nb, h, w, c]);
    try {
      const s = scorer.scores(x, options.score ?? 'probability');
      const values = (await s.data()) as Float32Array;
      s.dispose();
      for (let j = 0; j < nb; j++) scores[b0 + j] = values[j * numClasses + classIndex];
    } finally {
      x.dispose();
    }
  }
  const fractions = Float32Array.from(counts, (k) => k / hw);
  return { fractions, scores, auc: trapezoidArea(fractions, scores), classIndex };
}

/**
 * Deletion curve: the class score as pixels are replaced by the baseline (default black) in order of
 * decreasing saliency. Lower AUC = more faithful map.
 *
 * @param model The classifier (inference mode; logits found as in {@link GradCAM}).
 * @param image One image, row-major `[H, W, C]` values in the model's input units.
 * @param saliency `H * W` values; higher = removed earlier (e.g. {@link Explanation.heatmap}).
 * @param classIndex Class whose score is tracked.
 * @param options Steps, baseline, score, batch size, tie-break seed.
 */
export function deletionCurve(
  model: tfl.LayersModel,
  image: Float32Array,
  saliency: ArrayLike<number>,
  classIndex: number,
  options: CurveOptions = {},
): Promise<FaithfulnessCurve> {
  return curve(model, image, saliency, classIndex, options, 'deletion');
}

/**
 * Insertion curve: the class score as pixels of the image are revealed over the baseline (default a
 * Gaussian blur, σ = 5 px) in order of decreasing saliency. Higher AUC = more faithful map.
 *
 * @param model The classifier.
 * @param image One image, row-major `[H, W, C]`.
 * @param saliency `H * W` values; higher = revealed earlier.
 * @param classIndex Class whose score is tracked.
 * @param options Steps, baseline, score, batch size, tie-break seed.
 */
export function insertionCurve(
  model: tfl.LayersModel,
  image: Float32Array,
  saliency: ArrayLike<number>,
  classIndex: number,
  options: CurveOptions = {},
): Promise<FaithfulnessCurve> {
  return curve(model, image, saliency, classIndex, options, 'insertion');
}

/** Options of {@link compareWithRandom}. */
export interface CompareWithRandomOptions extends Omit<CurveOptions, 'baseline'> {
  /** Number of random orders averaged (default 3). */
  randomRepeats?: number;
  /** Baseline of the deletion curves (default `'zero'`). */
  deletionBaseline?: Baseline;
  /** Baseline of the insertion curves (default `'blur'`). */
  insertionBaseline?: Baseline;
}

/** Deletion and insertion AUCs of a map and of random orders. */
export interface RandomComparison {
  /** Deletion curve of the map (lower AUC is better). */
  deletion: FaithfulnessCurve;
  /** Insertion curve of the map (higher AUC is better). */
  insertion: FaithfulnessCurve;
  /** Mean deletion AUC over the random orders. */
  randomDeletionAuc: number;
  /** Mean insertion AUC over the random orders. */
  randomInsertionAuc: number;
}

/**
 * Scores a saliency map against random pixel orders: deletion and insertion AUC for the map, and the mean
 * of the same AUCs over `randomRepeats` random orders (seeds `seed + 1, seed + 2, ...`).
 *
 * @param model The classifier.
 * @param image One image, row-major `[H, W, C]`.
 * @param saliency `H * W` saliency values.
 * @param classIndex Class whose score is tracked.
 * @param options Curve options, baselines and number of random repeats.
 */
export async function compareWithRandom(
  model: tfl.LayersModel,
  image: Float32Array,
  saliency: ArrayLike<number>,
  classIndex: number,
  options: CompareWithRandomOptions = {},
): Promise<RandomComparison> {
  const seed = options.seed ?? 0;
  const repeats = options.randomRepeats ?? 3;
  if (!Number.isInteger(repeats) || repeats < 1) throw new ExplainError(`randomRepeats is ${repeats}; it must be a positive integer.`);
  const del: CurveOptions = { ...options, baseline: options.deletionBaseline ?? 'zero' };
  const ins: CurveOptions = { ...options, baseline: options.insertionBaseline ?? 'blur' };
  const deletion = await deletionCurve(model, image, saliency, classIndex, del);
  const insertion = await insertionCurve(model, image, saliency, classIndex, ins);
  let rd = 0;
  let ri = 0;
  for (let r = 1; r <= repeats; r++) {
    const random = randomSaliency(saliency.length, seed + r);
    rd += (await deletionCurve(model, image, random, classIndex, { ...del, seed: seed + r })).auc;
    ri += (await insertionCurve(model, image, random, classIndex, { ...ins, seed: seed + r })).auc;
  }
  return { deletion, insertion, randomDeletionAuc: rd / repeats, randomInsertionAuc: ri / repeats };
}
