import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type BaseLayerArgs, type CallKwargs, singleShape, singleTensor, withDefaultName } from './types.js';
import { LayerOptionsError } from './errors.js';

/** Keras' `backend.epsilon()`, the floor of the standard deviation in `Normalization`. */
const KERAS_EPSILON = 1e-7;

/** Options of {@link KerasNormalization}. */
export interface KerasNormalizationArgs extends BaseLayerArgs {
  /** Initial per-channel mean (length = channels). Default: zeros (identity, like an un-adapted Keras layer). */
  mean?: number[];
  /** Initial per-channel variance (length = channels). Default: ones. */
  variance?: number[];
}

/**
 * Keras 3 `Normalization(axis=-1)` on the last axis: `(x − mean) / max(sqrt(variance), 1e-7)`, with
 * non-trainable weights `mean` [C], `variance` [C] and `count` [] exactly as in a Keras weights file,
 * so `loadKerasWeights` can set them by name. (tfjs-layers has no such layer.)
 *
 * Unlike Keras 3, the statistics are read from the weights at every call, so loading new values
 * always takes effect (Keras caches them; see the golden README's pitfall).
 */
export class KerasNormalization extends tfl.layers.Layer {
  /** Registered class name used in saved model JSON. */
  static className = 'neurostagenet>KerasNormalization';
  /** Initial mean given at construction, if any. */
  readonly initialMean?: number[];
  /** Initial variance given at construction, if any. */
  readonly initialVariance?: number[];
  private meanWeight: tfl.LayerVariable | null = null;
  private varianceWeight: tfl.LayerVariable | null = null;

  /** @param args Layer options and optional initial statistics. */
  constructor(args: KerasNormalizationArgs = {}) {
    super(withDefaultName(args, 'keras_normalization'));
    this.initialMean = args.mean;
    this.initialVariance = args.variance;
  }

  /**
   * Creates `mean`, `variance` (per channel) and `count` (scalar), all non-trainable, and the input spec (at least
   * rank 1, this channel count on the last axis).
   * @throws {@link LayerInputError} for several inputs; {@link LayerOptionsError} for an unknown channel count or
   * initial statistics of another length.
   */
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = singleShape(inputShape, this);
    const channels = shape[shape.length - 1];
    if (channels == null) {
      throw new LayerOptionsError(`KerasNormalization '${this.name}' needs a known channel count, got ${JSON.stringify(shape)}`);
    }
    for (const [what, values] of [['mean', this.initialMean], ['variance', this.initialVariance]] as const) {
      if (values != null && values.length !== channels) {
        throw new LayerOptionsError(`KerasNormalization '${this.name}': ${what} has ${values.length} values for ${channels} channels`);
      }
    }
    this.meanWeight = this.addWeight('mean', [channels], 'float32', tfl.initializers.zeros(), undefined, false);
    this.varianceWeight = this.addWeight('variance', [channels], 'float32', tfl.initializers.ones(), undefined, false);
    // tfjs' constant initializer takes only a scalar, so per-channel start values are written after creation.
    if (this.initialMean != null) writeVector(this.meanWeight, this.initialMean);
    if (this.initialVariance != null) writeVector(this.varianceWeight, this.initialVariance);
    this.addWeight('count', [], 'float32', tfl.initializers.zeros(), undefined, false);
    this.inputSpec = [new tfl.InputSpec({ minNDim: 1, axes: { [-1]: channels } })];
    this.built = true;
  }

  /** Normalizes with the current weights (identical in training and inference). */
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: CallKwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs, this);
      const std = tf.maximum(tf.sqrt(this.varianceWeight!.read()), KERAS_EPSILON);
      return tf.div(tf.sub(x, this.meanWeight!.read()), std);
    });
  }

  /** Output shape equals input shape. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return singleShape(inputShape, this);
  }

  /** Serializable config (base config plus the initial statistics, if given). */
  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { ...super.getConfig() };
    if (this.initialMean != null) config.mean = this.initialMean;
    if (this.initialVariance != null) config.variance = this.initialVariance;
    return config;
  }
}
tf.serialization.registerClass(KerasNormalization);

function writeVector(weight: tfl.LayerVariable, values: number[]): void {
  tf.tidy(() => {
    weight.write(tf.tensor1d(values, 'float32'));
  });
}
