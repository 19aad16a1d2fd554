/**
 * Custom tfjs-layers layers (registered under `neurostagenet>`), Keras 3's initialisers and Keras 3's freezing
 * semantics for nested models. (The block builders SEResidualBlock and DualPoolHead live in ../models/blocks.)
 */
export { GrayToRGBProjection, type GrayToRGBProjectionArgs } from './gray-to-rgb.js';
export { KerasNormalization, type KerasNormalizationArgs } from './keras-normalization.js';
export { KerasRescaling, type KerasRescalingArgs } from './keras-rescaling.js';
export { SeededDropout, type SeededDropoutArgs } from './seeded-dropout.js';
export { KerasBatchNormalization, type KerasBatchNormalizationArgs } from './keras-batch-normalization.js';
export {
  KerasVarianceScaling,
  kerasGlorotUniform,
  efficientNetConvInitializer,
  type KerasVarianceScalingArgs,
  type KerasFanMode,
  type KerasDistribution,
} from './initializers.js';
export { KerasFunctional, kerasModel, kerasFunctionalIO, setTrainable, findFrozenLayers, type KerasModelArgs } from './freezing.js';
export { LeanSwish } from './swish.js';
export { FusedDepthwiseConv2D } from './fused-depthwise-conv2d.js';
export { LayerOptionsError, LayerInputError } from './errors.js';
export type { ActivationName, BaseLayerArgs, CallKwargs } from './types.js';
