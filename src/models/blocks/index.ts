/**
 * Block builders of NeuroStageNet: named standard and registered layers added to a functional model under the Keras
 * reference's layer names.
 */
export { SEResidualBlock, type SEResidualBlockOptions } from './se-residual-block.js';
export { DualPoolHead, type DualPoolHeadOptions, type DualPoolHeadOutputs } from './dual-pool-head.js';
