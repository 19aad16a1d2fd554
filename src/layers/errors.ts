import { NeuroStageNetError } from '../errors.js';

/**
 * A layer or layer-builder option that cannot be used (a rate outside its range, mismatched list lengths, an input
 * without a known channel count, ...): the message names the layer and the value at fault.
 */
export class LayerOptionsError extends NeuroStageNetError {}
