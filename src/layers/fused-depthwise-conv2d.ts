import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

// tfjs-layers exports DepthwiseConv2D only through its factory: take the class from an instance.
type DepthwiseInternals = {
  depthwiseKernel: { read(): tf.Tensor4D };
  bias: { read(): tf.Tensor1D } | null;
  strides: [number, number];
  padding: 'same' | 'valid';
  activation: { apply(x: tf.Tensor): tf.Tensor } | null;
};
const DepthwiseConv2DBase = tfl.layers.depthwiseConv2d({ kernelSize: 1 }).constructor as new (args: Parameters<typeof tfl.layers.depthwiseConv2d>[0]) => tfl.layers.Layer;

/**
 * DepthwiseConv2D computed as one fused kernel (`tf.fused.depthwiseConv2d`: convolution + bias), with the weights,
 * config and outputs of tfjs-layers' DepthwiseConv2D, which adds its bias (and a cast) as separate ops. The inference
 * copy of `optimizeForInference` uses it for the depthwise convolutions it folds a batch normalization into.
 */
export class FusedDepthwiseConv2D extends DepthwiseConv2DBase {
  /** Registered class name used in saved model JSON. */
  static className = 'neurostagenet>FusedDepthwiseConv2D';

  /**
   * Runs the fused convolution + bias, then the activation (linear in the inference copy).
   * @param inputs One `[N, H, W, C]` tensor (NHWC).
   */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const self = this as unknown as DepthwiseInternals;
      const y = tf.fused.depthwiseConv2d({
        x,
        filter: self.depthwiseKernel.read(),
        strides: self.strides,
        pad: self.padding,
        dataFormat: 'NHWC',
        bias: self.bias?.read(),
      });
      return self.activation ? self.activation.apply(y) : y;
    });
  }
}
tf.serialization.registerClass(FusedDepthwiseConv2D as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
