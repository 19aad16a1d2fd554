import { NeuroStageNetError } from '../errors.js';

/**
 * A layer or layer-builder option that cannot be used (a rate outside its range, mismatched list lengths, an input
 * without a known channel count, ...): the message names the layer and the value at fault.
 */
export class LayerOptionsError extends NeuroStageNetError {}

/**
 * A layer was given inputs it cannot take: several tensors (or shapes) where it takes exactly one, as tfjs-layers'
 * own layers reject them (`Expected Tensor length to be 1; got N`). The message names the layer.
 */
export class LayerInputError extends LayerOptionsError {}
