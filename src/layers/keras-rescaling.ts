import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type BaseLayerArgs, type CallKwargs, singleShape, singleTensor, withDefaultName } from './types.js';
import { LayerInputError } from './errors.js';

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

  /**
   * Sets the input spec: one input; with per-channel `scale` or `offset`, at least rank 1 with that many channels on
   * the last axis. (Weightless otherwise.)
   * @throws {@link LayerInputError} for several inputs or a channel count other than the vectors' length.
   */
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = singleShape(inputShape, this);
    const lengths = [this.scale, this.offset].filter(Array.isArray).map((v) => v.length);
    if (lengths.length > 0) {
      const channels = shape[shape.length - 1];
      if (shape.length < 1 || lengths.some((n) => n !== lengths[0]) || (channels != null && channels !== lengths[0])) {
        throw new LayerInputError(
          `KerasRescaling '${this.name}': per-channel scale/offset of length ${lengths.join(' / ')} for an input of shape ${JSON.stringify(shape)}`,
        );
      }
      this.inputSpec = [new tfl.InputSpec({ minNDim: 1, axes: { [-1]: lengths[0] } })];
    } else {
      this.inputSpec = [new tfl.InputSpec({})];
    }
    this.built = true;
  }

  /** Computes `x * scale + offset` (broadcast over the last axis for vectors). */
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: CallKwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs, this);
      const scale = typeof this.scale === 'number' ? tf.scalar(this.scale) : tf.tensor1d(this.scale);
      const offset = typeof this.offset === 'number' ? tf.scalar(this.offset) : tf.tensor1d(this.offset);
      return tf.add(tf.mul(x, scale), offset);
    });
  }

  /** Output shape equals input shape. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return singleShape(inputShape, this);
  }

  /** Serializable config (base config plus `scale` and `offset`). */
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.scale, offset: this.offset };
  }
}
tf.serialization.registerClass(KerasRescaling);
