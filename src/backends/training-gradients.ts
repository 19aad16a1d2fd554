/**
 * Cheaper gradients for three tfjs kernels a training step runs, same mathematics as tfjs-core's:
 *
 * - `FusedBatchNorm` (tf.batchNorm: frozen, inference-mode batch normalization under a gradient). tfjs-core 4.22's
 *   gradient computes `x - mean` and `dy * scale` eagerly in the gradient function body, i.e. outside the per-input
 *   tidy, so both full-size tensors live until the whole backward pass ends (two activation-sized buffers per
 *   BatchNormalization layer), tiles 1/sqrt(variance) to the full input shape for dx, and does ~10 full-size ops.
 *   This one keeps every temporary inside the per-input closure (freed as soon as that input's gradient exists),
 *   and folds per-channel factors before touching full-size tensors (dx is one broadcasting multiply, d(mean) and
 *   d(offset) one reduction of dy).
 * - `Mean` and `Sum` (global average pooling, squeeze-excitation, losses): tfjs-core builds `ones(x.shape)` in
 *   JavaScript, multiplies it by dy and (Mean) divides: three activation-sized passes where one broadcast (Tile) of
 *   the small dy does.
 *
 * They are swapped in for one synchronous step (`withTrainingGradients`, what the trainer does) or globally
 * (`registerTrainingGradients`), and tfjs' registry is put back afterwards.
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
 * with mean, variance, scale, offset broadcast against x. Use it for one step with `withTrainingGradients`,
 * or globally with `registerTrainingGradients`.
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

/** dy of a reduction over `axis` reshaped to x's rank (1 on the reduced axes), ready to broadcast against x. */
function expandReduced(dy: tf.Tensor, xShape: number[], axis: number | number[] | undefined): tf.Tensor {
  const axes = tf.util.parseAxisParam(axis ?? null as unknown as number[], xShape);
  const expanded = xShape.slice();
  for (const a of axes) expanded[a] = 1;
  return tf.reshape(dy, expanded);
}

// tf.cast to the same dtype still runs a kernel (Identity)
const asFloat = (t: tf.Tensor): tf.Tensor => (t.dtype === 'float32' ? t : tf.cast(t, 'float32'));

/** Gradient config for 'Mean': dx = broadcast(dy / n) over the reduced axes, one full-size op. */
export const meanGradConfig: tf.GradConfig = {
  kernelName: tf.Mean,
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap): GradClosures => {
    const [x] = saved as [tf.Tensor];
    const { axis } = attrs as unknown as tf.MeanAttrs;
    return {
      x: () => {
        const axes = tf.util.parseAxisParam(axis, x.shape);
        const n = axes.reduce((p, a) => p * x.shape[a]!, 1);
        return tf.broadcastTo(expandReduced(tf.div(asFloat(dy as tf.Tensor), tf.scalar(n)), x.shape, axis), x.shape);
      },
    };
  },
};

/** Gradient config for 'Sum': dx = broadcast(dy) over the reduced axes, one full-size op. */
export const sumGradConfig: tf.GradConfig = {
  kernelName: tf.Sum,
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap): GradClosures => {
    const [x] = saved as [tf.Tensor];
    const { axis } = attrs as unknown as tf.SumAttrs;
    return { x: () => tf.broadcastTo(expandReduced(asFloat(dy as tf.Tensor), x.shape, axis), x.shape) };
  },
};

/** The gradients `withTrainingGradients` and `registerTrainingGradients` swap in: FusedBatchNorm, Mean, Sum. */
export const TRAINING_GRADIENT_CONFIGS: readonly tf.GradConfig[] = [fusedBatchNormGradConfig, meanGradConfig, sumGradConfig];

// the gradients registerTrainingGradients replaced (normally tfjs-core's), by kernel name, for unregister
let replaced: Map<string, tf.GradConfig | undefined> | undefined;

/** Registers every config not registered yet; returns what each replaced (only those it registered). */
function swapIn(): Map<string, tf.GradConfig | undefined> {
  const previous = new Map<string, tf.GradConfig | undefined>();
  for (const config of TRAINING_GRADIENT_CONFIGS) {
    const current = tf.getGradient(config.kernelName);
    if (current === config) continue;
    previous.set(config.kernelName, current);
    tf.registerGradient(config);
  }
  return previous;
}

// Puts each previous gradient back where ours is still the registered one (a gradient someone else registered
// meanwhile is left alone).
function restore(previous: Map<string, tf.GradConfig | undefined>): void {
  for (const config of TRAINING_GRADIENT_CONFIGS) {
    if (!previous.has(config.kernelName) || tf.getGradient(config.kernelName) !== config) continue;
    const before = previous.get(config.kernelName);
    if (before != null) tf.registerGradient(before);
    else tf.unregisterGradient(config.kernelName);
  }
}

/**
 * Runs `fn` with `TRAINING_GRADIENT_CONFIGS` as tfjs' gradients for 'FusedBatchNorm', 'Mean' and 'Sum', then puts
 * back the gradients that were registered before (normally tfjs-core's), so that tfjs' global registry is unchanged
 * afterwards.
 *
 * tfjs reads a kernel's gradient when the forward op runs (it records the gradient function on the tape), so the
 * forward and backward pass of a step must both happen inside `fn`: e.g. `withTrainingGradients(() =>
 * tf.variableGrads(loss))`. `fn` must be synchronous; no other JavaScript runs while it does, so no other model in the
 * process ever sees the replacements. Nested calls and already registered replacements (`registerTrainingGradients`)
 * just run `fn`.
 *
 * @param fn Synchronous work, e.g. one training step.
 * @returns What `fn` returns.
 * @throws NeuroStageNetError when `fn` returns a promise (after restoring the gradients): its asynchronous part would
 *   have run without the replacements.
 */
export function withTrainingGradients<T>(fn: () => T): T {
  const previous = swapIn();
  let result: T;
  try {
    result = fn();
  } finally {
    restore(previous);
  }
  if (result != null && typeof (result as { then?: unknown }).then === 'function') {
    throw new NeuroStageNetError('withTrainingGradients: fn must be synchronous (it returned a promise); '
      + 'run the forward and backward pass of a step inside one synchronous call');
  }
  return result;
}

/**
 * Opt-in: replaces tfjs' gradients for 'FusedBatchNorm', 'Mean' and 'Sum' with `TRAINING_GRADIENT_CONFIGS` globally,
 * for every backend and every model in the process (tfjs keeps one gradient per kernel name), until
 * `unregisterTrainingGradients`. Idempotent. neurostagenet itself never calls it: its training steps use
 * `withTrainingGradients`. Call it for your own training loops (e.g. around `model.fit` or `trainOnBatch`, which are
 * asynchronous). Importing `@tensorflow/tfjs-layers` (or `@tensorflow/tfjs`) registers tfjs-core's gradients again:
 * call this after such imports.
 */
export function registerTrainingGradients(): void {
  const previous = swapIn();
  if (replaced == null) replaced = previous;
  else for (const [k, v] of previous) if (!replaced.has(k)) replaced.set(k, v);
}

/**
 * Undoes `registerTrainingGradients`: puts back the gradients it replaced (normally tfjs-core's). Does nothing when
 * the replacements are not registered.
 */
export function unregisterTrainingGradients(): void {
  if (replaced != null) restore(replaced);
  replaced = undefined;
}
