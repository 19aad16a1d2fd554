import { NeuroStageNetError } from '../errors.js';

/**
 * A training or evaluation option, model or data set that the trainer cannot use: the message names the option,
 * layer or value at fault.
 */
export class TrainingError extends NeuroStageNetError {}
