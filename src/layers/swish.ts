/**
 * `neurostagenet>Swish`: a tfjs-layers activation function (the kind `Activation`, `Dense` and `Conv2D`
 * take as `activation`) computing swish(x) = x·sigmoid(x) with {@link memoryLeanSwish}, so training keeps
 * only x on the gradient tape instead of x and sigmoid(x).
 *
 * Why a new name and not a replacement of tfjs' own `'swish'`: tfjs-layers 4.22 resolves an activation
 * string (`getActivation` -> `deserializeActivation` -> `deserializeKerasObject`) through the global
 * serialization map, so registering a class named `'swish'` would silently swap the activation of every
 * tfjs model in the process, ours or not. The forward values would be bit-identical, the gradients only
 * equal up to float rounding. Registering our own name changes only models built by this package.
 *
 * Saved models record `"activation": "neurostagenet>_swish"` (tfjs snake-cases config strings when saving and
 * camel-cases them back when loading, as for its own `hardSigmoid`); they reload with `tf.loadLayersModel` once
 * this package is imported (as its custom layers already require). Older saved models that say `'swish'`
 * still reload, with tfjs' swish (same function, more training memory).
 */
import * as tf from '@tensorflow/tfjs-core';
import { memoryLeanSwish } from './memory-lean-ops.js';
import { nativeSwish } from '../backends/native-training-ops.js';
import type { ActivationName } from './types.js';

/** The registered name of the memory-lean swish activation: pass it as `activation` to tfjs-layers layers. */
export const LEAN_SWISH = 'neurostagenet>Swish';

/**
 * Memory-lean swish as a tfjs-layers activation function, registered as `neurostagenet>Swish`. Use it
 * through its name, e.g. `tfl.layers.dense({ units, activation: leanSwishActivation() })`.
 *
 * It duck-types tfjs-layers' internal `Activation` base (not exported): layers only call `apply`,
 * `getClassName` (no fused-kernel mapping exists for swish either way) and `getConfig`.
 */
export class LeanSwish extends tf.serialization.Serializable {
  /** Registered class name, the identifier stored in saved model JSON. */
  static className = LEAN_SWISH;

  /**
   * x·sigmoid(x), keeping only x for the backward pass; on tfjs-node, where saved tensors are shared rather than
   * copied, its output and sigmoid(x) instead (two ops fewer backward, see `nativeSwish`).
   * @param x Any float32 tensor.
   * @returns Same shape as x.
   */
  apply(x: tf.Tensor): tf.Tensor {
    return nativeSwish(x) ?? memoryLeanSwish(x);
  }

  /** No options: an empty config. */
  override getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}
tf.serialization.registerClass(LeanSwish);

/**
 * The `activation` option value selecting {@link LeanSwish}, typed for tfjs-layers' layer options
 * (their TypeScript type lists only tfjs' built-in names; at run time any registered name resolves).
 * @returns `'neurostagenet>Swish'`.
 */
export function leanSwishActivation(): NonNullable<ActivationName> {
  return LEAN_SWISH as unknown as NonNullable<ActivationName>;
}

/**
 * Builder-side mapping: `'swish'` -> the lean swish (same function), any other identifier unchanged.
 * Used by this package's model builders only; tfjs' own `'swish'` stays untouched everywhere else.
 * @param activation A tfjs-layers activation identifier, or null/undefined for none.
 * @returns The identifier to hand to the tfjs layer.
 */
export function withLeanSwish<T extends ActivationName | null>(activation: T): T | NonNullable<ActivationName> {
  return activation === 'swish' ? leanSwishActivation() : activation;
}
