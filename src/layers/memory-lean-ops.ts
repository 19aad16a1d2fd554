/**
 * Memory-lean training ops: swish and training-mode batch normalization as single custom-gradient ops
 * that keep only their input for the backward pass.
 *
 * Why: tfjs's gradient tape keeps the inputs/outputs of every op a layer runs. Swish as x*sigmoid(x)
 * keeps sigmoid(x) besides x; batch normalization written with tf.moments + arithmetic keeps x - mean,
 * (x - mean)^2, the normalized x and the scaled x, each activation-sized. For NeuroStageNet at 128x128
 * that is ~106-127 MiB per image, which is why batch 32 cannot train inside wasm's 4 GiB heap. These
 * ops keep x only and recompute the cheap rest in the backward pass: in the probe (bench/backends-probe.ts
 * --lean) tape memory fell from 848 to 325 MiB at batch 8, the wasm heap peak from 1.8 to 0.9 GiB, a step
 * got ~20% faster, and batch 32 trains on wasm (3.0 GiB heap). Same values and gradients as the plain
 * formulas (tested against tfjs autodiff of them), on every backend.
 *
 * They live with the layers because they are model math, not backend code: KerasBatchNormalization's
 * training path and the `neurostagenet>Swish` activation use them; src/backends re-exports them.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Sums t over every axis but the last ([N, ..., C] -> [C]) in the way wasm reduces fastest (rank 3). */
function sumAllButLast(t: tf.Tensor): tf.Tensor1D {
  const c = t.shape[t.rank - 1]!;
  const n = t.rank > 1 ? t.shape[0]! : 1;
  return tf.sum(tf.reshape(t, [n, t.size / (n * c), c]), [0, 1]);
}

// tf.customGrad's typings want one fixed signature; these wrappers are typed at their exports.
type AnyCustomGradFunc = Parameters<typeof tf.customGrad>[0];

const swishOp = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return {
    value: tf.tidy(() => tf.mul(x, tf.sigmoid(x))),
    // d/dx x*s(x) = s + x*s*(1 - s)
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
      const x0 = saved[0]!;
      const s = tf.sigmoid(x0);
      return tf.mul(dy, tf.mul(s, tf.add(tf.scalar(1), tf.mul(x0, tf.sub(tf.scalar(1), s)))));
    }),
  };
}) as unknown as AnyCustomGradFunc) as unknown as (x: tf.Tensor) => tf.Tensor;

/**
 * swish(x) = x * sigmoid(x) (Keras' 'swish' / 'silu'), keeping only x for the backward pass instead of
 * x and sigmoid(x). Same values and gradient as `tf.mul(x, tf.sigmoid(x))`.
 * @param x Any float32 tensor.
 * @returns x * sigmoid(x), same shape.
 */
export function memoryLeanSwish<T extends tf.Tensor>(x: T): T {
  return swishOp(x) as T;
}

/** Options of {@link memoryLeanBatchNorm}. */
export interface MemoryLeanBatchNormOptions {
  /** Per-channel scale (gamma), shape [C]; omitted = 1 (no gradient). */
  gamma?: tf.Tensor1D;
  /** Per-channel offset (beta), shape [C]; omitted = 0 (no gradient). */
  beta?: tf.Tensor1D;
  /** Added to the variance. Default 1e-3 (Keras' BatchNormalization default). */
  epsilon?: number;
  /**
   * Called once in the forward pass with this batch's mean and (biased) variance, shape [C], e.g. to
   * update moving statistics. Not part of the gradient; the tensors are disposed after the call
   * (tf.keep / clone what you need to hold).
   */
  onBatchStats?: (mean: tf.Tensor1D, variance: tf.Tensor1D) => void;
}

/**
 * Training-mode batch normalization over every axis but the last (channels-last; [N, C] or
 * [N, H, W, C]) with the batch's own statistics:
 * y = (x - mean) / sqrt(variance + epsilon) * gamma + beta, where mean and variance are `tf.moments(x)`
 * over all but the last axis, and gradients flow through the statistics exactly as in that formula.
 * Keeps only x (and gamma) for the backward pass, recomputing the statistics there.
 * @param x Input [N, ..., C], float32.
 * @param options gamma, beta, epsilon, and a hook that receives the batch statistics.
 * @returns The normalized tensor, shape of x.
 */
export function memoryLeanBatchNorm<T extends tf.Tensor>(x: T, options: MemoryLeanBatchNormOptions = {}): T {
  const { gamma, beta, epsilon = 1e-3, onBatchStats } = options;
  const stats = (t: tf.Tensor) => {
    const axes = Array.from({ length: t.rank - 1 }, (_, i) => i);
    const { mean, variance } = tf.moments(t, axes);
    return { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D,
      invStd: tf.rsqrt(tf.add(variance, tf.scalar(epsilon))) as tf.Tensor1D };
  };
  const inputs: tf.Tensor[] = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  const op = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save(gamma ? [x, gamma] : [x]);
    const value = tf.tidy(() => {
      const { mean, variance, invStd } = stats(x);
      if (onBatchStats) onBatchStats(mean, variance);
      const factor = gamma ? tf.mul(invStd, gamma) : invStd;
      const y = tf.mul(tf.sub(x, mean), factor);
      return beta ? tf.add(y, beta) : y;
    });
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const [x0, g0] = saved as [tf.Tensor, tf.Tensor | undefined];
        const { mean, invStd } = stats(x0);
        const m = x0.size / x0.shape[x0.rank - 1]!;
        const xhat = tf.mul(tf.sub(x0, mean), invStd);
        const dBeta = sumAllButLast(dy);
        const dGamma = sumAllButLast(tf.mul(dy, xhat));
        // dx = gamma*invStd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat))
        const scale = tf.div(g0 ? tf.mul(invStd, g0) : invStd, tf.scalar(m));
        const dx = tf.mul(scale, tf.sub(tf.sub(tf.mul(dy, tf.scalar(m)), dBeta), tf.mul(xhat, dGamma)));
        return [dx, ...(gamma ? [dGamma] : []), ...(beta ? [dBeta] : [])];
      }),
    };
  }) as unknown as AnyCustomGradFunc) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;
  return op(...inputs) as T;
}
