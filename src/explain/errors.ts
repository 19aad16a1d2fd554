import { NeuroStageNetError } from '../errors.js';

/**
 * Thrown by the explanation tools (Grad-CAM, overlays, faithfulness and sanity checks) when a model, layer
 * name, image or option cannot be used. The message names the offending layer, shape or value.
 */
export class ExplainError extends NeuroStageNetError {}
