// Model-parameter randomisation test (Adebayo et al. 2018, "Sanity Checks for Saliency Maps", NeurIPS):
// an explanation that reflects what the model learned must change when the learned weights are destroyed.
// A map that survives randomisation (high rank correlation / SSIM with the original) is explaining the
// input's edges or the architecture, not the model.

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ExplainError } from './errors.js';
import { GradCAM, type CamMethod, type Explanation, type ExplainOptions } from './gradcam.js';
import { createRng, shuffleInPlace } from '../random.js';

/** Ranks (1-based) with ties given their average rank. */
function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && values[idx[j + 1]] === values[idx[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]] = r;
    i = j + 1;
  }
  return ranks;
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? 0 : sab / Math.sqrt(saa * sbb);
}

/**
 * Spearman rank correlation (ties get average ranks, as scipy's `spearmanr`). Returns 0 when either
 * input is constant (no ranking information) instead of NaN.
 *
 * @param a First values.
 * @param b Second values, same length.
 */
export function spearmanCorrelation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length < 2) {
    throw new ExplainError(`spearmanCorrelation needs two equal-length inputs of at least 2 values (got ${a.length} and ${b.length}).`);
  }
  return pearson(averageRanks(a), averageRanks(b));
}

/**
 * Structural similarity (Wang et al. 2004) of two single-channel images, as scikit-image's
 * `structural_similarity` with its defaults: 7x7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03,
 * mean over the window positions that fit inside the image.
 *
 * @param a First image, row-major.
 * @param b Second image, row-major.
 * @param width Width in pixels (at least 7).
 * @param height Height in pixels (at least 7).
 * @param dataRange Value range (default 1, for heatmaps in [0, 1]).
 */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number, dataRange = 1): number {
  const win = 7;
  if (a.length !== width * height || b.length !== width * height) {
    throw new ExplainError(`ssim: images of ${a.length} and ${b.length} values do not match ${width} x ${height}.`);
  }
  if (width < win || height < win) throw new ExplainError(`ssim needs images of at least 7 x 7 pixels, got ${width} x ${height}.`);
  const np = win * win;
  const covNorm = np / (np - 1);
  const c1 = (0.01 * dataRange) ** 2;
  const c2 = (0.03 * dataRange) ** 2;
  let total = 0;
  let count = 0;
  for (let y = 0; y + win <= height; y++) {
    for (let x = 0; x + win <= width; x++) {
      let sa = 0;
      let sb = 0;
      let saa = 0;
      let sbb = 0;
      let sab = 0;
      for (let dy = 0; dy < win; dy++) {
        for (let dx = 0; dx < win; dx++) {
          const i = (y + dy) * width + x + dx;
          const va = a[i];
          const vb = b[i];
          sa += va;
          sb += vb;
          saa += va * va;
          sbb += vb * vb;
          sab += va * vb;
        }
      }
      const ma = sa / np;
      const mb = sb / np;
      const vara = covNorm * (saa / np - ma * ma);
      const varb = covNorm * (sbb / np - mb * mb);
      const cov = covNorm * (sab / np - ma * mb);
      total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (vara + varb + c2));
      count++;
    }
  }
  return total / count;
}

/** Options of {@link modelRandomizationCheck}. */
export interface RandomizationCheckOptions {
  /** Target layer (as in {@link GradCAMOptions.layerName}). */
  layerName?: string;
  /** Method (default `'gradcam'`). */
  method?: CamMethod;
  /**
   * Class explained in both the original and the randomised model. Default: the original model's predicted
   * class per image (kept fixed after randomisation, so that the same question is asked of both models).
   */
  classIndex?: number | number[];
  /**
   * `'full'` (default): randomise every weight at once, one comparison. `'cascading'`: randomise the
   * outer model's weighted layers one more at a time from the output down (a nested model counts as one
   * layer), one comparison per stage.
   */
  mode?: 'full' | 'cascading';
  /** Seed of the weight shuffles (default 0). */
  seed?: number;
  /** The map "changed" when the mean Spearman correlation of the last stage is below this (default 0.5). */
  threshold?: number;
}

/** One randomisation stage. */
export interface RandomizationStage {
  /** Names of the outer layers whose weights are randomised at this stage. */
  randomizedLayers: string[];
  /** Spearman correlation of original vs randomised heatmap, per image. */
  spearman: Float32Array;
  /** SSIM of original vs randomised heatmap, per image. */
  ssim: Float32Array;
  /** Mean of `spearman`. */
  meanSpearman: number;
  /** Mean of `ssim`. */
  meanSsim: number;
}

/** Result of {@link modelRandomizationCheck}. */
export interface RandomizationCheckResult {
  /** The explanations of the original model. */
  original: Explanation[];
  /** One entry per stage (one for `'full'`). */
  stages: RandomizationStage[];
  /** True when the last stage's mean Spearman correlation is below the threshold: the map depends on the weights. */
  passed: boolean;
}

/**
 * Adebayo et al.'s model-parameter randomisation test for Grad-CAM maps. Weights are randomised by
 * shuffling the values of every weight tensor (seeded), which destroys learned structure while keeping each
 * tensor's value distribution (so BatchNorm variances stay positive), and are always restored afterwards.
 *
 * @param model The classifier; its weights are modified during the check and restored before returning
 *   (also on error). Do not use the model concurrently.
 * @param images `[N, H, W, C]` images (not disposed).
 * @param options Layer, method, class, mode, seed and threshold.
 */
export async function modelRandomizationCheck(
  model: tfl.LayersModel,
  images: tf.Tensor4D,
  options: RandomizationCheckOptions = {},
): Promise<RandomizationCheckResult> {
  const cam = new GradCAM(model, { layerName: options.layerName, method: options.method });
  const original = await cam.explain(images, { classIndex: options.classIndex ?? 'predicted' });
  const classes: ExplainOptions['classIndex'] = original.map((e) => e.classIndex);
  const weighted = model.layers.filter((l) => l.weights.length > 0).reverse();
  if (weighted.length === 0) throw new ExplainError(`Model '${model.name}' has no weights to randomise.`);
  const mode = options.mode ?? 'full';
  if (mode !== 'full' && mode !== 'cascading') throw new ExplainError(`Unknown randomisation mode '${String(mode)}'.`);
  const stagesLayers = mode === 'full' ? [weighted] : weighted.map((_, i) => weighted.slice(0, i + 1));
  const saved = model.weights.map((w) => ({ w, values: w.read().dataSync().slice() as Float32Array, shape: w.shape }));
  const rng = createRng(options.seed ?? 0);
  const stages: RandomizationStage[] = [];
  try {
    const randomized = new Set<tfl.layers.Layer>();
    for (const layers of stagesLayers) {
      for (const layer of layers) {
        if (randomized.has(layer)) continue;
        randomized.add(layer);
        for (const w of layer.weights) {
          const values = shuffleInPlace(w.read().dataSync().slice() as Float32Array, rng);
          const t = tf.tensor(values, w.shape as number[], w.dtype);
          w.write(t);
          t.dispose();
        }
      }
      const after = await cam.explain(images, { classIndex: classes });
      const sp = Float32Array.from(original, (e, i) => spearmanCorrelation(e.heatmap, after[i].heatmap));
      const ss = Float32Array.from(original, (e, i) => ssim(e.heatmap, after[i].heatmap, e.width, e.height));
      stages.push({
        randomizedLayers: layers.map((l) => l.name),
        spearman: sp,
        ssim: ss,
        meanSpearman: mean(sp),
        meanSsim: mean(ss),
      });
    }
  } finally {
    for (const { w, values, shape } of saved) {
      const t = tf.tensor(values, shape as number[], w.dtype);
      w.write(t);
      t.dispose();
    }
  }
  const threshold = options.threshold ?? 0.5;
  return { original, stages, passed: stages[stages.length - 1].meanSpearman < threshold };
}

function mean(values: Float32Array): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}
