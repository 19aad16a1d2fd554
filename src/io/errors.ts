import { NeuroStageNetError } from '../errors.js';

/** Base class of the I/O area's errors: model directories, Keras HDF5 weights and the HDF5 reader. */
export class ModelIOError extends NeuroStageNetError {}
