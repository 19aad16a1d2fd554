import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type BaseLayerArgs, type CallKwargs, singleShape, singleTensor, withDefaultName } from './types.js';
import { LayerInputError, LayerOptionsError } from './errors.js';
import { kerasGlorotUniform } from './initializers.js';

/** Options of {@link GrayToRGBProjection}. */
export interface GrayToRGBProjectionArgs extends BaseLayerArgs {
  /** Seed of the Glorot-uniform kernel initializer (same seed, same initial kernel). Default 0. */
  seed?: number;
}

/**
 * Learnable 1 → 3 channel projection: a 3×3 'same' convolution with 3 filters and a bias
 * (Keras `Conv2D(3, 3, padding='same')`, default name in NeuroStageNet: `gray_to_rgb`). It lets an
 * ImageNet-style RGB backbone consume grayscale MRI slices while learning how to spread the intensity
 * over the three colour inputs. Weights `kernel` [3,3,Cin,3] and `bias` [3], Glorot-uniform / zeros,
 * so a Keras `gray_to_rgb` layer's weights load into it unchanged.
 */
export class GrayToRGBProjection extends tfl.layers.Layer {
  /** Registered class name used in saved model JSON. */
  static className = 'neurostagenet>GrayToRGBProjection';
  /** Kernel initializer seed. */
  readonly seed: number;
  private kernel: tfl.LayerVariable | null = null;
  private bias: tfl.LayerVariable | null = null;

  /** @param args Layer options (name, seed, ...). */
  constructor(args: GrayToRGBProjectionArgs = {}) {
    super(withDefaultName(args, 'gray_to_rgb_projection'));
    this.seed = args.seed ?? 0;
  }

  /**
   * Creates `kernel` [3,3,Cin,3] and `bias` [3] for the input's channel count, and the input spec (rank 4, Cin
   * channels), as tfjs' Conv2D does.
   * @throws {@link LayerInputError} for several inputs or an input that is not rank 4.
   */
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = singleShape(inputShape, this);
    if (shape.length !== 4) {
      throw new LayerInputError(`GrayToRGBProjection '${this.name}' takes [batch, height, width, channels] inputs, got shape ${JSON.stringify(shape)}`);
    }
    const channels = shape[shape.length - 1];
    if (channels == null) {
      throw new LayerOptionsError(`GrayToRGBProjection '${this.name}' needs a known channel count, got ${JSON.stringify(shape)}`);
    }
    this.kernel = this.addWeight(
      'kernel', [3, 3, channels, 3], 'float32',
      kerasGlorotUniform(this.seed),
    );
    this.bias = this.addWeight('bias', [3], 'float32', tfl.initializers.zeros());
    this.inputSpec = [new tfl.InputSpec({ ndim: 4, axes: { [-1]: channels } })];
    this.built = true;
  }

  /** Applies the convolution (stride 1, 'same' padding) plus bias. */
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: CallKwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs, this) as tf.Tensor4D;
      return tf.fused.conv2d({
        x,
        filter: this.kernel!.read() as tf.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: this.bias!.read(),
      });
    });
  }

  /** Same spatial shape, 3 channels. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = singleShape(inputShape, this);
    return [...shape.slice(0, -1), 3];
  }

  /** Serializable config (base config plus `seed`). */
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }
}
tf.serialization.registerClass(GrayToRGBProjection);
