/**
 * Training ops for the native backend (tfjs-node), where host memory is plentiful and tensors saved for the
 * backward pass are shared, not copied (its Identity kernel adds a reference; wasm's copies).
 *
 * - Training-mode batch normalization as TensorFlow's own fused kernels, `FusedBatchNormV3` (is_training)
 *   forward and `FusedBatchNormGradV3` backward, one kernel each. tfjs has no training-mode batch-norm kernel, so
 *   elsewhere it is composed (`memoryLeanBatchNorm`: ~7 activation-sized ops forward, ~14 backward). Measured on
 *   [32, 32, 32, 96]: forward 22 → 3.6 ms, forward + backward 139 → 8 ms.
 * - Swish keeping its output and sigmoid(x) for the backward pass: 4 elementwise ops backward instead of the
 *   memory-lean 6, among them no second sigmoid. The output is what the next layer saves anyway, so the extra
 *   memory is sigmoid(x) in place of x.
 *
 * Same values and gradients as the composed ops (tested to < 1e-5 relative). The two batch-norm kernels are
 * registered for the 'tensorflow' backend on first use, under names of their own (nothing of tfjs' is replaced).
 * The batch variance handed to the moving-average hook is the biased one (Keras 3), derived from TensorFlow's
 * Bessel-corrected `batch_variance`; the reserve spaces (device-specific: cuDNN keeps the inverse variance there)
 * go only to the gradient kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MemoryLeanBatchNormOptions } from '../layers/memory-lean-ops.js';

const FORWARD = 'NeuroStageNetFusedBatchNormTraining';
const BACKWARD = 'NeuroStageNetFusedBatchNormTrainingGrad';
const NATIVE = 'tensorflow';

/** The parts of tfjs-node's NodeJSKernelBackend used here (public methods of that class). */
interface NativeBackend {
  binding: {
    TF_ATTR_TYPE: number; TF_ATTR_FLOAT: number; TF_ATTR_STRING: number; TF_ATTR_BOOL: number; TF_FLOAT: number;
  };
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: tf.TensorInfo[], numOutputs: number): tf.TensorInfo[];
}

function isNativeBackend(backend: unknown): backend is NativeBackend {
  const b = backend as Partial<NativeBackend> | null;
  return b != null && typeof b.executeMultipleOutputs === 'function' && b.binding != null && typeof b.binding.TF_FLOAT === 'number';
}

/** True when the active backend is tfjs-node's (CPU or GPU build). */
function nativeActive(): boolean {
  return tf.getBackend() === NATIVE && isNativeBackend(tf.backend());
}

function opAttrs(b: NativeBackend, epsilon: number, forward: boolean): unknown[] {
  const { binding } = b;
  return [
    { name: 'T', type: binding.TF_ATTR_TYPE, value: binding.TF_FLOAT },
    { name: 'U', type: binding.TF_ATTR_TYPE, value: binding.TF_FLOAT },
    { name: 'epsilon', type: binding.TF_ATTR_FLOAT, value: epsilon },
    ...(forward ? [{ name: 'exponential_avg_factor', type: binding.TF_ATTR_FLOAT, value: 1 }] : []),
    { name: 'data_format', type: binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: binding.TF_ATTR_BOOL, value: true },
  ];
}

let registered = false;

function registerNativeKernels(): void {
  if (registered || tf.getKernel(FORWARD, NATIVE) != null) {
    registered = true;
    return;
  }
  // inputs x [N, H, W, C], scale [C], offset [C] → y, batch mean, batch variance (Bessel-corrected), 3 reserve spaces
  tf.registerKernel({
    kernelName: FORWARD,
    backendName: NATIVE,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as NativeBackend;
      const empty = tf.tensor1d([]);
      const { x, scale, offset } = inputs as { x: tf.TensorInfo; scale: tf.TensorInfo; offset: tf.TensorInfo };
      const outs = b.executeMultipleOutputs('FusedBatchNormV3', opAttrs(b, (attrs as { epsilon: number }).epsilon, true),
        [x, scale, offset, empty, empty], 6);
      empty.dispose();
      return outs;
    },
  });
  // inputs dy, x, scale, reserve spaces 1-3 → dx, dscale, doffset
  tf.registerKernel({
    kernelName: BACKWARD,
    backendName: NATIVE,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as NativeBackend;
      const { dy, x, scale, r1, r2, r3 } = inputs as Record<string, tf.TensorInfo>;
      const outs = b.executeMultipleOutputs('FusedBatchNormGradV3', opAttrs(b, (attrs as { epsilon: number }).epsilon, false),
        [dy!, x!, scale!, r1!, r2!, r3!], 5);
      // the last two outputs are placeholders TensorFlow returns empty
      tf.dispose([outs[3], outs[4]] as unknown as tf.Tensor[]);
      return outs.slice(0, 3);
    },
  });
  registered = true;
}

// tf.customGrad's typings want one fixed signature; the wrapper below is typed at its call.
type AnyCustomGradFunc = Parameters<typeof tf.customGrad>[0];

/**
 * Training-mode batch normalization over every axis but the last with the batch's mean and biased variance,
 * gradients through both (as `memoryLeanBatchNorm`), run as TensorFlow's fused kernels when the active backend is
 * tfjs-node's native one. Returns null where it cannot run (another backend, not float32, rank other than 2 or 4,
 * or a single value per channel), so the caller falls back to the composed op.
 * @param x Input [N, C] or [N, H, W, C], float32.
 * @param options gamma, beta, epsilon and the batch-statistics hook, as for `memoryLeanBatchNorm`.
 * @returns The normalized tensor (shape of x), or null.
 */
export function nativeTrainingBatchNorm<T extends tf.Tensor>(x: T, options: MemoryLeanBatchNormOptions = {}): T | null {
  if (!nativeActive()) return null;
  if (x.dtype !== 'float32' || (x.rank !== 2 && x.rank !== 4)) return null;
  const channels = x.shape[x.rank - 1]!;
  const perChannel = x.size / channels;
  if (perChannel < 2) return null;
  registerNativeKernels();
  const { gamma, beta, epsilon = 1e-3, onBatchStats } = options;
  const inputs: tf.Tensor[] = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  const op = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const x4 = x.rank === 4 ? x : tf.reshape(x, [x.shape[0]!, 1, 1, channels]);
    const scale = gamma ?? tf.ones([channels]);
    const offset = beta ?? tf.zeros([channels]);
    const [y, mean, unbiased, r1, r2, r3] = tf.engine().runKernel(FORWARD, { x: x4, scale, offset }, { epsilon }) as tf.Tensor[];
    // saved: cloned and kept by the engine until the backward pass is done
    save([x4, scale, r1!, r2!, r3!]);
    if (onBatchStats) {
      tf.tidy(() => onBatchStats(mean as tf.Tensor1D, tf.mul(unbiased!, (perChannel - 1) / perChannel) as tf.Tensor1D));
    }
    const value = x.rank === 4 ? y! : tf.reshape(y!, x.shape);
    tf.dispose([mean, unbiased, r1, r2, r3, ...(x.rank === 4 ? [] : [x4, y]), ...(gamma ? [] : [scale]), ...(beta ? [] : [offset])]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sScale, s1, s2, s3] = saved;
        const dy4 = x.rank === 4 ? dy : tf.reshape(dy, sx!.shape);
        const [dx4, dScale, dOffset] = tf.engine().runKernel(BACKWARD, { dy: dy4, x: sx!, scale: sScale!, r1: s1!, r2: s2!, r3: s3! },
          { epsilon }) as tf.Tensor[];
        const dx = x.rank === 4 ? dx4! : tf.reshape(dx4!, x.shape);
        if (x.rank !== 4) tf.dispose([dy4, dx4]);
        if (!gamma) dScale!.dispose();
        if (!beta) dOffset!.dispose();
        return [dx, ...(gamma ? [dScale!] : []), ...(beta ? [dOffset!] : [])];
      },
    };
  }) as unknown as AnyCustomGradFunc) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;
  return op(...inputs) as T;
}

const swishOp = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const s = tf.sigmoid(x);
  const y = tf.mul(x, s);
  save([y, s]);
  s.dispose();
  return {
    value: y,
    // d/dx x*s(x) = s + x*s*(1 - s) = s + y*(1 - s)
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
      const [y0, s0] = saved as [tf.Tensor, tf.Tensor];
      return tf.mul(dy, tf.add(s0, tf.mul(y0, tf.sub(tf.scalar(1), s0))));
    }),
  };
}) as unknown as AnyCustomGradFunc) as unknown as (x: tf.Tensor) => tf.Tensor;

/**
 * swish(x) = x * sigmoid(x) keeping y and sigmoid(x) for the backward pass, when the active backend is tfjs-node's;
 * null elsewhere (the caller uses `memoryLeanSwish`, which keeps only x and recomputes the sigmoid).
 * @param x Any float32 tensor.
 * @returns x * sigmoid(x), same shape, or null.
 */
export function nativeSwish<T extends tf.Tensor>(x: T): T | null {
  if (!nativeActive()) return null;
  return swishOp(x) as T;
}
