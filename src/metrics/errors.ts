import { NeuroStageNetError } from '../errors.js';

/**
 * Thrown when labels, probabilities, logits or options given to the metrics, calibration or report functions
 * are malformed: wrong shape, a label out of range, a non-finite value, an empty metrics state. The message
 * names the argument, and the row / column / value at fault.
 */
export class MetricsInputError extends NeuroStageNetError {}
