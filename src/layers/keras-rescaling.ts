import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type BaseLayerArgs, type CallKwargs, singleShape, singleTensor, withDefaultName } from './types.js';

/** Options of {@link KerasRescaling}. */
export interface KerasRescalingArgs extends BaseLayerArgs {
  /** Multiplier: a scalar or one value per channel (last axis). Default 1. */
  scale?: number | number[];
  /** Added after scaling: a scalar or one value per channel. Default 0. */
  offset?: number | number[];
}

/**
 * Keras `Rescaling`: `x * scale + offset`, where `scale` and `offset` may be per-channel vectors
 * (tfjs-layers' own Rescaling takes scalars only). Weightless. EfficientNetB0 uses it twice: `rescaling`
 * (scale 1/255) and, in the graph Keras builds for ImageNet weights, `rescaling_1`
 * (scale 1/sqrt([0.229, 0.224, 0.225])).
 */
export class KerasRescaling extends tfl.layers.Layer {
  /** Registered class name used in saved model JSON. */
  static className = 'neurostagenet>KerasRescaling';
  /** Multiplier (scalar or per channel). */
  readonly scale: number | number[];
  /** Offset (scalar or per channel). */
  readonly offset: number | number[];

  /** @param args Layer options with `scale` and `offset`. */
  constructor(args: KerasRescalingArgs = {}) {
    super(withDefaultName(args, 'keras_rescaling'));
    this.scale = args.scale ?? 1;
    this.offset = args.offset ?? 0;
  }

  /** Computes `x * scale + offset` (broadcast over the last axis for vectors). */
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: CallKwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs);
      const scale = typeof this.scale === 'number' ? tf.scalar(this.scale) : tf.tensor1d(this.scale);
      const offset = typeof this.offset === 'number' ? tf.scalar(this.offset) : tf.tensor1d(this.offset);
      return tf.add(tf.mul(x, scale), offset);
    });
  }

  /** Output shape equals input shape. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return singleShape(inputShape);
  }

  /** Serializable config (base config plus `scale` and `offset`). */
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.scale, offset: this.offset };
  }
}
tf.serialization.registerClass(KerasRescaling);
