// Mixup (Zhang et al., 2018): train on convex combinations of two images and of their labels. It keeps a registered
// slice's geometry (unlike zoom or rotation) while making slice-by-slice memorisation much harder.
import * as tf from '@tensorflow/tfjs-core';
import { createRng, shuffleInPlace } from '../random.js';
import { DataOptionError } from './errors.js';

/** The random draws of one mixed batch. */
export interface MixupParams {
  /** Weight of each example's own image and label, in [0.5, 1] (the larger share is always the example's own). */
  lambda: Float32Array;
  /** Row of the batch each example is mixed with (a seeded permutation). */
  partner: Int32Array;
}

// Marsaglia and Tsang's gamma sampler, with the boost U^(1/a) for a < 1.
function sampleGamma(rng: () => number, a: number): number {
  if (a < 1) return sampleGamma(rng, a + 1) * Math.pow(1 - rng(), 1 / a);
  const d = a - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      // Box-Muller normal.
      x = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/**
 * A draw from Beta(alpha, alpha) (as the ratio of two gamma draws).
 * @param rng Uniform [0, 1) generator.
 * @param alpha Shape, > 0.
 */
export function sampleBeta(rng: () => number, alpha: number): number {
  const x = sampleGamma(rng, alpha);
  const y = sampleGamma(rng, alpha);
  return x + y === 0 ? 0.5 : x / (x + y);
}

/**
 * The mixup draws for a batch of `n`: a partner permutation and one weight per example from Beta(alpha, alpha),
 * folded to [0.5, 1] so that each mixed example stays mostly itself.
 * @param n Batch size.
 * @param alpha Beta shape (0.2 = most weights near 1, mild mixing; 1 = uniform).
 * @param seed Seed: the same seed gives the same draws.
 */
export function sampleMixupParams(n: number, alpha: number, seed: number): MixupParams {
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new DataOptionError(`mixup alpha must be a finite number > 0, got ${alpha}`);
  const rng = createRng(seed);
  const partner = shuffleInPlace(Int32Array.from({ length: n }, (_, i) => i), rng);
  const lambda = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const l = sampleBeta(rng, alpha);
    lambda[i] = Math.max(l, 1 - l);
  }
  return { lambda, partner };
}

/** Output of {@link mixupBatch}. */
export interface MixedBatch {
  /** Mixed images `[N, H, W, C]`. */
  xs: tf.Tensor4D;
  /** Mixed label distributions `[N, K]`. */
  ys: tf.Tensor2D;
  /** The draws used. */
  params: MixupParams;
}

/**
 * Mixes a batch: `x'_i = l_i x_i + (1 - l_i) x_p(i)` and `y'_i = l_i y_i + (1 - l_i) y_p(i)`, with the draws of
 * {@link sampleMixupParams}. Labels must be one-hot (or soft) `[N, K]`; the mixed labels stay distributions, so the
 * cross-entropy, label smoothing and class weights (`sum(y' * w)`) apply unchanged.
 * @param xs Images `[N, H, W, C]`.
 * @param ys Labels `[N, K]`.
 * @param alpha Beta shape.
 * @param seed Seed of the draws.
 * @returns New tensors (the inputs are not disposed) and the draws.
 */
export function mixupBatch(xs: tf.Tensor4D, ys: tf.Tensor2D, alpha: number, seed: number): MixedBatch {
  const n = xs.shape[0];
  if (ys.shape[0] !== n) throw new DataOptionError(`mixup: ${n} images but ${ys.shape[0]} labels`);
  const params = sampleMixupParams(n, alpha, seed);
  const [mixedX, mixedY] = tf.tidy(() => {
    const partner = tf.tensor1d(params.partner, 'int32');
    const l = tf.tensor1d(params.lambda);
    const mix = <T extends tf.Tensor>(t: T, shape: number[]): T => {
      const w = tf.reshape(l, shape);
      return tf.add(tf.mul(t, w), tf.mul(tf.gather(t, partner), tf.sub(1, w))) as T;
    };
    return [mix(xs, [n, 1, 1, 1]), mix(ys, [n, 1])];
  });
  return { xs: mixedX, ys: mixedY, params };
}
