/**
 * `neurostagenet/node`: what needs Node's file system or native packages — model directories (save, load, metadata),
 * Keras HDF5 weights (optional peer `h5wasm`), PNG files, the report plots (optional peer `@napi-rs/canvas`) and the
 * evaluation report writer.
 * @module
 */
export { ModelIOError } from '../io/errors.js';
export {
  saveModel,
  loadModel,
  nodeFileSystemIO,
  ModelFileError,
  MODEL_JSON_FILE,
  WEIGHTS_BIN_FILE,
} from '../io/fs-model-io.js';
export {
  loadKerasWeights,
  KerasWeightsMismatchError,
  KerasWeightsFormatError,
  type LoadKerasWeightsOptions,
  type KerasWeightsReport,
  type WeightShapeMismatch,
} from '../io/keras-weights.js';
export { H5ReadError } from '../io/h5-reader.js';
export {
  saveKerasWeights,
  kerasWeightsBytes,
  KerasWeightsWriteError,
  type KerasWeightsFormat,
  type SaveKerasWeightsOptions,
  type KerasWeightsSaveReport,
} from '../io/keras-weights-writer.js';
export { writeModelMetadata, pretrainedModelDir } from '../models/pretrained.js';
export { writePng } from '../explain/png.js';
export { renderExplanationPng, type ExplanationPanelInput, type ExplanationPanelOptions } from '../explain/panel.js';
export { renderVolumeMontagePng, TRAINING_DATA_NOTE } from '../explain/montage-png.js';
export {
  renderConfusionMatrixPng,
  renderRocCurvesPng,
  renderReliabilityDiagramPng,
  renderHistogramsPng,
  type HistogramSeries,
  type PlotOptions,
  type ReliabilityPanel,
} from '../metrics/plots.js';
export { writeEvaluationReport, type EvaluationReportFiles } from '../metrics/report-writer.js';
export type { EvaluationReportOptions } from '../metrics/report-format.js';
