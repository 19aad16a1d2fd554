/**
 * Model input/output: Keras HDF5 weights and a Node file-system save/load handler.
 */
export {
  loadKerasWeights,
  KerasWeightsMismatchError,
  KerasWeightsFormatError,
  type LoadKerasWeightsOptions,
  type KerasWeightsReport,
  type WeightShapeMismatch,
} from './keras-weights.js';
export { H5ReadError } from './h5-reader.js';
export {
  saveModel,
  loadModel,
  nodeFileSystemIO,
  ModelFileError,
  MODEL_JSON_FILE,
  WEIGHTS_BIN_FILE,
} from './fs-model-io.js';
