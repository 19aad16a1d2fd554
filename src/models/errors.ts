import { NeuroStageNetError } from '../errors.js';

/** Base class of the model area's errors: building NeuroStageNet, its options and a model directory's metadata. */
export class ModelError extends NeuroStageNetError {}
