import { NeuroStageNetError } from '../errors.js';

/**
 * Base class of the environment area's errors: what this runtime lacks for the call (Node's file system, an optional
 * peer package, a tfjs backend, a kernel's argument support). The message names what is missing and how to get it.
 */
export class EnvironmentError extends NeuroStageNetError {}
