/**
 * Keras 3's weight initialisers, drawn as Keras draws them.
 *
 * tfjs-layers' `VarianceScaling` with `distribution: 'normal'` draws a truncated normal whose standard deviation
 * *before* truncation is sqrt(scale / fan). Truncating at 2 standard deviations removes the tails, so the values
 * come out about 12% narrower than intended (0.8796 · sqrt(scale / fan)). Keras 3 divides by 0.87962566103423978
 * (the standard deviation of a unit normal truncated at ±2) so that the values *after* truncation have standard
 * deviation sqrt(scale / fan). {@link KerasVarianceScaling} does the same, and computes fans as Keras'
 * `compute_fans` does (tfjs differs for tensors of rank 0, 1 and above 5).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Initializer } from '@tensorflow/tfjs-layers/dist/initializers';
import { LayerOptionsError } from './errors.js';

/**
 * tfjs-layers' `Initializer` base class, which it does not export: layers accept an initializer object only when it
 * is an instance of it (`getInitializer`). `Zeros` extends it directly.
 */
const InitializerBase = Object.getPrototypeOf(tfl.initializers.zeros().constructor) as typeof Initializer;

/**
 * The standard deviation of a unit normal truncated at ±2 standard deviations: Keras 3 divides the target standard
 * deviation by it so that its truncated normal has the intended spread.
 */
export const TRUNCATED_NORMAL_STDDEV_CORRECTION = 0.87962566103423978;

/** Which fan a {@link KerasVarianceScaling} divides `scale` by (tfjs spelling; Keras' `fan_in` etc. are accepted). */
export type KerasFanMode = 'fanIn' | 'fanOut' | 'fanAvg';

/**
 * The distribution of a {@link KerasVarianceScaling} (tfjs spelling of Keras' `truncated_normal`,
 * `untruncated_normal`, `uniform`; the Keras spellings and Keras' alias `normal` = truncated normal are accepted).
 */
export type KerasDistribution = 'truncatedNormal' | 'untruncatedNormal' | 'uniform';

/** Options of {@link KerasVarianceScaling} (Keras 3 defaults). */
export interface KerasVarianceScalingArgs {
  /** Positive scaling factor. Default 1. */
  scale?: number;
  /** Fan used: `'fanIn'`, `'fanOut'` or `'fanAvg'` (or Keras' `'fan_in'`, ...). Default `'fanIn'`. */
  mode?: KerasFanMode | 'fan_in' | 'fan_out' | 'fan_avg';
  /**
   * `'truncatedNormal'` (std after truncation = sqrt(scale / fan)), `'untruncatedNormal'` or `'uniform'`
   * (limit sqrt(3 · scale / fan)); Keras spellings and `'normal'` (= truncated normal, as in Keras) accepted.
   * Default `'truncatedNormal'`.
   */
  distribution?: KerasDistribution | 'truncated_normal' | 'untruncated_normal' | 'normal';
  /** Seed: the same seed and shape give the same values. Default: unseeded. */
  seed?: number;
}

/**
 * Keras 3's `compute_fans`: `(fanIn, fanOut)` of a weight shape. Rank 0: (1, 1); rank 1: (n, n); rank 2: the two
 * dimensions; higher ranks are convolution kernels `(...spatial, in, out)`: in · receptive field and out · receptive
 * field.
 * @param shape The weight's shape.
 * @returns `[fanIn, fanOut]`.
 */
export function kerasFans(shape: readonly number[]): [number, number] {
  if (shape.length < 1) return [1, 1];
  if (shape.length === 1) return [shape[0], shape[0]];
  if (shape.length === 2) return [shape[0], shape[1]];
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [shape[shape.length - 2] * receptive, shape[shape.length - 1] * receptive];
}

const MODES: Record<string, KerasFanMode> = {
  fanIn: 'fanIn', fan_in: 'fanIn', fanOut: 'fanOut', fan_out: 'fanOut', fanAvg: 'fanAvg', fan_avg: 'fanAvg',
};
const DISTRIBUTIONS: Record<string, KerasDistribution> = {
  truncatedNormal: 'truncatedNormal', truncated_normal: 'truncatedNormal', normal: 'truncatedNormal',
  untruncatedNormal: 'untruncatedNormal', untruncated_normal: 'untruncatedNormal', uniform: 'uniform',
};

/**
 * Keras 3 `VarianceScaling`, registered as `neurostagenet>KerasVarianceScaling`: with `n` the fan of `mode`
 * (`kerasFans`), a truncated normal (cut at ±2 of the underlying normal) whose values have standard deviation
 * sqrt(scale / n) — the underlying normal's is sqrt(scale / n) / 0.87962566 (`TRUNCATED_NORMAL_STDDEV_CORRECTION`)
 * —, an untruncated normal of standard deviation sqrt(scale / n), or a uniform on ±sqrt(3 · scale / n).
 *
 * Use it where Keras uses `VarianceScaling`, `GlorotUniform` (`scale 1, fanAvg, uniform`, see
 * {@link kerasGlorotUniform}) or `HeNormal` (`scale 2, fanIn, truncatedNormal`). Saved model JSON records its config in
 * Keras' own spelling (`"mode": "fan_out", "distribution": "truncated_normal"`). Models saved with tfjs'
 * `VarianceScaling` still load: that class stays registered by tfjs itself.
 */
export class KerasVarianceScaling extends InitializerBase {
  /** Registered class name used in saved model JSON. */
  static className = 'neurostagenet>KerasVarianceScaling';
  /** Scaling factor. */
  readonly scale: number;
  /** Fan mode. */
  readonly mode: KerasFanMode;
  /** Distribution. */
  readonly distribution: KerasDistribution;
  /** Seed, or undefined for unseeded draws. */
  readonly seed?: number;

  /**
   * @param args Scale, mode, distribution and seed (Keras defaults: 1, fan in, truncated normal).
   * @throws {@link LayerOptionsError} for a scale ≤ 0 or an unknown mode or distribution.
   */
  constructor(args: KerasVarianceScalingArgs = {}) {
    super();
    const scale = args.scale ?? 1;
    if (!(Number.isFinite(scale) && scale > 0)) {
      throw new LayerOptionsError(`KerasVarianceScaling: scale must be a positive number, got ${String(scale)}`);
    }
    const mode = MODES[args.mode ?? 'fanIn'];
    if (mode == null) {
      throw new LayerOptionsError(`KerasVarianceScaling: mode must be one of fan_in, fan_out, fan_avg, got ${String(args.mode)}`);
    }
    const distribution = DISTRIBUTIONS[args.distribution ?? 'truncatedNormal'];
    if (distribution == null) {
      throw new LayerOptionsError(
        `KerasVarianceScaling: distribution must be one of truncated_normal, untruncated_normal, uniform, got ${String(args.distribution)}`,
      );
    }
    this.scale = scale;
    this.mode = mode;
    this.distribution = distribution;
    this.seed = args.seed ?? undefined;
  }

  /**
   * The variance `scale / n` for a shape, with `n` the fan of {@link mode} (at least 1).
   * @param shape The weight's shape.
   */
  variance(shape: readonly number[]): number {
    const [fanIn, fanOut] = kerasFans(shape);
    const fan = this.mode === 'fanIn' ? fanIn : this.mode === 'fanOut' ? fanOut : (fanIn + fanOut) / 2;
    return this.scale / Math.max(1, fan);
  }

  /**
   * Draws the initial values.
   * @param shape The weight's shape.
   * @param dtype `'float32'` (default).
   */
  override apply(shape: number[], dtype?: tf.DataType): tf.Tensor {
    const variance = this.variance(shape);
    const type = (dtype ?? 'float32') as 'float32';
    if (type !== 'float32') throw new LayerOptionsError(`KerasVarianceScaling draws float32 values only, got dtype ${String(dtype)}`);
    if (this.distribution === 'truncatedNormal') {
      return tf.truncatedNormal(shape, 0, Math.sqrt(variance) / TRUNCATED_NORMAL_STDDEV_CORRECTION, type, this.seed);
    }
    if (this.distribution === 'untruncatedNormal') return tf.randomNormal(shape, 0, Math.sqrt(variance), type, this.seed);
    const limit = Math.sqrt(3 * variance);
    return tf.randomUniform(shape, -limit, limit, type, this.seed);
  }

  /** Serializable config (`scale`, `mode`, `distribution`, `seed`), written in Keras' spelling when saved. */
  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { scale: this.scale, mode: this.mode, distribution: this.distribution };
    if (this.seed != null) config.seed = this.seed;
    return config;
  }
}
tf.serialization.registerClass(KerasVarianceScaling);

/**
 * Keras' default kernel initialiser of Dense and Conv layers, `GlorotUniform`: a uniform on
 * ±sqrt(6 / (fanIn + fanOut)) (no truncation, hence no correction). Same distribution as tfjs' `glorotUniform`;
 * saved as a {@link KerasVarianceScaling}.
 * @param seed Seed of the draw.
 */
export function kerasGlorotUniform(seed?: number): KerasVarianceScaling {
  return new KerasVarianceScaling({ scale: 1, mode: 'fanAvg', distribution: 'uniform', seed });
}

/**
 * Keras' EfficientNet `CONV_KERNEL_INITIALIZER`: `VarianceScaling(scale=2.0, mode='fan_out',
 * distribution='truncated_normal')`, used for every convolution kernel of the backbone (stem, expand, depthwise,
 * squeeze-excitation, project, top).
 * @param seed Seed of the draw.
 */
export function efficientNetConvInitializer(seed?: number): KerasVarianceScaling {
  return new KerasVarianceScaling({ scale: 2, mode: 'fanOut', distribution: 'truncatedNormal', seed });
}
