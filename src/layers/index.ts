/**
 * Custom tfjs-layers layers (registered under `neurostagenet>`), Keras 3's freezing semantics for nested models,
 * and the named-layer builders of NeuroStageNet's refinement block and head.
 */
export { GrayToRGBProjection, type GrayToRGBProjectionArgs } from './gray-to-rgb.js';
export { KerasNormalization, type KerasNormalizationArgs } from './keras-normalization.js';
export { KerasRescaling, type KerasRescalingArgs } from './keras-rescaling.js';
export { SeededDropout, type SeededDropoutArgs } from './seeded-dropout.js';
export { KerasBatchNormalization, type KerasBatchNormalizationArgs } from './keras-batch-normalization.js';
export { SEResidualBlock, type SEResidualBlockOptions, type ActivationName } from './se-residual-block.js';
export { DualPoolHead, type DualPoolHeadOptions, type DualPoolHeadOutputs } from './dual-pool-head.js';
export { KerasFunctional, kerasModel, setTrainable, findFrozenLayers, type KerasModelArgs } from './freezing.js';
export { LeanSwish, LEAN_SWISH, leanSwishActivation } from './swish.js';
export { deriveSeed } from './seed.js';
export { LayerOptionsError, LayerInputError } from './errors.js';
export type { BaseLayerArgs, CallKwargs } from './types.js';
