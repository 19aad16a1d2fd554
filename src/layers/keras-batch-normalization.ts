import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { memoryLeanBatchNorm, type MemoryLeanBatchNormOptions } from './memory-lean-ops.js';
import { nativeTrainingBatchNorm } from '../backends/native-training-ops.js';
import { type BaseLayerArgs, type CallKwargs, singleShape, singleTensor, withDefaultName } from './types.js';
import { LayerOptionsError } from './errors.js';
import { isHeldFrozen } from './freezing.js';

/** Options of {@link KerasBatchNormalization} (Keras defaults). */
export interface KerasBatchNormalizationArgs extends BaseLayerArgs {
  /** Moving-average momentum. Default 0.99. */
  momentum?: number;
  /** Added to the variance. Default 1e-3 (Keras; tfjs' own default matches, PyTorch uses 1e-5). */
  epsilon?: number;
  /** Learn an offset `beta`. Default true. */
  center?: boolean;
  /** Learn a scale `gamma`. Default true. */
  scale?: boolean;
}

/**
 * Batch normalization over the last axis with Keras 3 semantics for freezing: when the layer is not
 * trainable (`layer.trainable = false`, or frozen through an enclosing model, see {@link KerasBatchNormalization.isEffectivelyTrainable}),
 * it runs in inference mode — normalizing with `moving_mean` / `moving_variance` and leaving them unchanged —
 * even when called with `training: true` (e.g. inside `model.fit`). tfjs' `BatchNormalization`
 * ignores `trainable` there and keeps updating its statistics, which breaks fine-tuning.
 *
 * Training mode (trainable and `training: true`): normalizes with the batch's mean and biased
 * variance and updates `moving = moving·momentum + batch·(1 − momentum)`, as Keras 3 does. On tfjs-node training
 * runs TensorFlow's fused batch-norm kernels (`FusedBatchNormV3` / `FusedBatchNormGradV3`); on other backends one
 * memory-lean custom-gradient op ({@link memoryLeanBatchNorm}) that keeps only the input for the backward pass.
 * Values and gradients are those of the plain formula in both.
 * Weights `gamma`, `beta`, `moving_mean`, `moving_variance` (Keras names and order).
 */
export class KerasBatchNormalization extends tfl.layers.Layer {
  /** Registered class name used in saved model JSON. */
  static className = 'neurostagenet>KerasBatchNormalization';
  /** Moving-average momentum. */
  readonly momentum: number;
  /** Variance epsilon. */
  readonly epsilon: number;
  /** Whether `beta` exists. */
  readonly center: boolean;
  /** Whether `gamma` exists. */
  readonly scale: boolean;
  private gamma: tfl.LayerVariable | null = null;
  private beta: tfl.LayerVariable | null = null;
  private movingMean: tfl.LayerVariable | null = null;
  private movingVariance: tfl.LayerVariable | null = null;

  /** @param args Layer options (Keras defaults: momentum 0.99, epsilon 1e-3, center and scale). */
  constructor(args: KerasBatchNormalizationArgs = {}) {
    super(withDefaultName(args, 'keras_batch_normalization'));
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? 1e-3;
    this.center = args.center ?? true;
    this.scale = args.scale ?? true;
    this.supportsMasking = true;
  }

  /**
   * Creates `gamma`, `beta` (trainable) and the moving statistics (non-trainable), one per channel, and the input
   * spec (this rank, this channel count), as Keras' and tfjs' BatchNormalization do.
   * @throws {@link LayerInputError} for several inputs; {@link LayerOptionsError} for an unknown channel count.
   */
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = singleShape(inputShape, this);
    const channels = shape[shape.length - 1];
    if (channels == null) {
      throw new LayerOptionsError(`KerasBatchNormalization '${this.name}' needs a known channel count, got ${JSON.stringify(shape)}`);
    }
    if (this.scale) this.gamma = this.addWeight('gamma', [channels], 'float32', tfl.initializers.ones());
    if (this.center) this.beta = this.addWeight('beta', [channels], 'float32', tfl.initializers.zeros());
    this.movingMean = this.addWeight('moving_mean', [channels], 'float32', tfl.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [channels], 'float32', tfl.initializers.ones(), undefined, false);
    this.inputSpec = [new tfl.InputSpec({ ndim: shape.length, axes: { [-1]: channels } })];
    this.built = true;
  }

  /**
   * True when the layer would update its statistics in training (Keras 3: a BN is frozen when it or any container
   * above it is not trainable). False when the layer is not trainable; when its weights were frozen by a plain tfjs
   * container directly above it (tfjs' `Container.trainable` setter flips only its direct children's weight flags);
   * or when `trainNeuroStageNet` runs a model in which a container above it, at any depth, is not trainable. Models
   * this package builds ({@link KerasFunctional}) and {@link setTrainable} pass `trainable` down to every layer, so
   * `outer.trainable = false` freezes a BN two containers deep in plain `model.fit` too.
   */
  get isEffectivelyTrainable(): boolean {
    const probe = this.gamma ?? this.beta;
    return this.trainable && (probe == null || probe.trainable) && !isHeldFrozen(this);
  }

  /** Normalizes; see the class comment for training vs inference behaviour. */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: CallKwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs, this);
      const gamma = this.gamma?.read();
      const beta = this.beta?.read();
      if (kwargs?.training !== true || !this.isEffectivelyTrainable) {
        return tf.batchNorm(x, this.movingMean!.read(), this.movingVariance!.read(), beta, gamma, this.epsilon);
      }
      const options: MemoryLeanBatchNormOptions = {
        gamma: gamma as tf.Tensor1D | undefined,
        beta: beta as tf.Tensor1D | undefined,
        epsilon: this.epsilon,
        onBatchStats: (mean, variance) => {
          this.updateMovingStatistic(this.movingMean!, mean);
          this.updateMovingStatistic(this.movingVariance!, variance);
        },
      };
      // tfjs-node: TensorFlow's fused training kernels (one op each way). Elsewhere one custom-gradient op
      // (batch mean and biased variance, gradients through both) that keeps only x on the tape instead of
      // the activation-sized intermediates of tf.moments + arithmetic: what lets batch 32 train in wasm's heap.
      return nativeTrainingBatchNorm(x, options) ?? memoryLeanBatchNorm(x, options);
    });
  }

  /** `moving ← moving·momentum + batch·(1 − momentum)` (Keras 3's update). */
  private updateMovingStatistic(moving: tfl.LayerVariable, batchValue: tf.Tensor): void {
    tf.tidy(() => {
      moving.write(tf.add(tf.mul(moving.read(), this.momentum), tf.mul(batchValue, 1 - this.momentum)));
    });
  }

  /** Output shape equals input shape. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return singleShape(inputShape, this);
  }

  /** Serializable config (base config plus momentum, epsilon, center, scale). */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
    };
  }
}
tf.serialization.registerClass(KerasBatchNormalization);
