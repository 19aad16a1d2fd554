/**
 * A cheaper gradient for tfjs's FusedBatchNorm kernel, same mathematics as tfjs-core's.
 *
 * tfjs-core 4.22's gradient computes `x - mean` and `dy * scale` eagerly in the gradient function body,
 * i.e. outside the per-input tidy, so both full-size tensors live until the whole backward pass ends
 * (two activation-sized buffers per BatchNormalization layer), tiles 1/sqrt(variance) to the full
 * input shape for dx, and does ~10 full-size ops. This one keeps every temporary inside the per-input
 * closure (freed as soon as that input's gradient exists), and folds per-channel factors before
 * touching full-size tensors (dx is one broadcasting multiply, d(mean) and d(offset) one reduction of dy).
 */
import * as tf from '@tensorflow/tfjs-core';
import { NeuroStageNetError } from '../errors.js';

type GradClosures = Record<string, () => tf.Tensor>;

/** Sums t over the axes along which a tensor of paramShape was broadcast to t's shape. */
function reduceToShape(t: tf.Tensor, paramShape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(paramShape, t.shape);
  if (axes.length === 0) return tf.reshape(t, paramShape);
  const rank = t.rank;
  const leading = rank >= 3 && axes.length === rank - 1 && axes.every((a, i) => a === i);
  if (leading) {
    // [N, H, W, C] -> [N, H*W, C]: wasm's Sum transposes the reduced axes inward first, and its rank-3
    // transpose is ~5x faster than the rank-4 / rank-2 paths (same result on every backend)
    const n = t.shape[0]!;
    const c = t.shape[rank - 1]!;
    return tf.reshape(tf.sum(tf.reshape(t, [n, t.size / (n * c), c]), [0, 1]), paramShape);
  }
  return tf.reshape(tf.sum(t, axes, true), paramShape);
}

/**
 * Gradient config for 'FusedBatchNorm' (tf.batchNorm): y = (x - mean) * rsqrt(variance + eps) * scale + offset,
 * with mean, variance, scale, offset broadcast against x. Use it for one step with `withFusedBatchNormGradient`,
 * or globally with `registerFusedBatchNormGradient`.
 */
export const fusedBatchNormGradConfig: tf.GradConfig = {
  kernelName: tf.FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap): GradClosures => {
    const g = dy as tf.Tensor;
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    // shape all per-channel parameters broadcast to (usually [C]); full-size work is reduced to it first
    let paramShape = tf.broadcast_util.assertAndGetBroadcastShape(mean.shape, variance.shape);
    if (scale != null) paramShape = tf.broadcast_util.assertAndGetBroadcastShape(paramShape, scale.shape);
    // Small per-channel factors are recomputed inside each closure so that nothing outlives its tidy.
    const invStd = () => tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const times = (t: tf.Tensor) => (scale == null ? t : tf.mul(t, scale));
    const sumDy = () => reduceToShape(g, paramShape);
    const sumDyXmu = () => reduceToShape(tf.mul(g, tf.sub(x, mean)), paramShape);
    return {
      x: () => tf.reshape(tf.mul(g, times(invStd())), x.shape),
      mean: () => reduceToShape(tf.neg(tf.mul(times(invStd()), sumDy())), mean.shape),
      variance: () => {
        const s = invStd();
        const factor = times(tf.mul(tf.mul(tf.mul(s, s), s), tf.scalar(-0.5)));
        return reduceToShape(tf.mul(factor, sumDyXmu()), variance.shape);
      },
      scale: () => reduceToShape(tf.mul(invStd(), sumDyXmu()), (scale ?? mean).shape),
      // offset is not saved: like tfjs-core, assume it has mean's shape (tf.batchNorm's usual use)
      offset: () => reduceToShape(sumDy(), mean.shape),
    };
  },
};

// tfjs-core's gradient (or whatever was registered) that registerFusedBatchNormGradient replaced, for unregister
let replaced: tf.GradConfig | undefined;

/**
 * Runs `fn` with `fusedBatchNormGradConfig` as tfjs' gradient for 'FusedBatchNorm', then puts back the gradient
 * that was registered before (normally tfjs-core's), so that tfjs' global registry is unchanged afterwards.
 *
 * tfjs reads a kernel's gradient when the forward op runs (it records the gradient function on the tape), so the
 * forward and backward pass of a step must both happen inside `fn`: e.g. `withFusedBatchNormGradient(() =>
 * tf.variableGrads(loss))`. `fn` must be synchronous; no other JavaScript runs while it does, so no other model in the
 * process ever sees the replacement. Nested calls and an already registered replacement
 * (`registerFusedBatchNormGradient`) just run `fn`.
 *
 * @param fn Synchronous work, e.g. one training step.
 * @returns What `fn` returns.
 * @throws NeuroStageNetError when `fn` returns a promise (after restoring the gradient): its asynchronous part would
 *   have run without the replacement.
 */
export function withFusedBatchNormGradient<T>(fn: () => T): T {
  const previous = tf.getGradient(tf.FusedBatchNorm);
  if (previous === fusedBatchNormGradConfig) return fn();
  tf.registerGradient(fusedBatchNormGradConfig);
  let result: T;
  try {
    result = fn();
  } finally {
    restore(previous);
  }
  if (result != null && typeof (result as { then?: unknown }).then === 'function') {
    throw new NeuroStageNetError('withFusedBatchNormGradient: fn must be synchronous (it returned a promise); '
      + 'run the forward and backward pass of a step inside one synchronous call');
  }
  return result;
}

// Puts `previous` back as FusedBatchNorm's gradient if ours is still the registered one (a gradient someone else
// registered meanwhile is left alone).
function restore(previous: tf.GradConfig | undefined): void {
  if (tf.getGradient(tf.FusedBatchNorm) !== fusedBatchNormGradConfig) return;
  if (previous != null) tf.registerGradient(previous);
  else tf.unregisterGradient(tf.FusedBatchNorm);
}

/**
 * Opt-in: replaces tfjs' gradient for 'FusedBatchNorm' with `fusedBatchNormGradConfig` globally, for every
 * backend and every model in the process (tfjs keeps one gradient per kernel name), until
 * `unregisterFusedBatchNormGradient`. Idempotent. neurostagenet itself never calls it: its training steps use
 * `withFusedBatchNormGradient`. Call it for your own training loops on batch-normalised models (tf.batchNorm
 * under a gradient). Importing `@tensorflow/tfjs-layers` (or `@tensorflow/tfjs`) registers tfjs-core's gradients
 * again: call this after such imports.
 */
export function registerFusedBatchNormGradient(): void {
  const current = tf.getGradient(tf.FusedBatchNorm);
  if (current === fusedBatchNormGradConfig) return;
  replaced = current;
  tf.registerGradient(fusedBatchNormGradConfig);
}

/**
 * Undoes `registerFusedBatchNormGradient`: puts back the gradient it replaced (normally tfjs-core's). Does
 * nothing when the replacement is not registered.
 */
export function unregisterFusedBatchNormGradient(): void {
  restore(replaced);
  replaced = undefined;
}
