/**
 * neurostagenet: explainable Alzheimer's-stage classification of brain MRI slices on TensorFlow.js.
 *
 * The root entry runs in Node and in browsers (it reaches no file system, PNG codec or canvas): the model and its
 * layers, loading a trained model, inference, Grad-CAM, the metrics, the two data classes of the design card and the
 * base class of every error area. The other entries hold the rest of each area:
 * - `neurostagenet/data`: decoding, checks, splits, augmentation, batches;
 * - `neurostagenet/train`: the training pipeline, trainer, recipes, callbacks, loss;
 * - `neurostagenet/explain`: every explanation method, overlays, faithfulness and sanity checks;
 * - `neurostagenet/node`: files (model directories, Keras HDF5 weights, PNG files, report plots);
 * - `neurostagenet/kernels`: opt-in tfjs kernels (wasm gradients, memory-lean ops).
 * @packageDocumentation
 */

// Errors: one base class per area, all extending NeuroStageNetError.
export { NeuroStageNetError } from './errors.js';
export { DataError } from './data/errors.js';
export { ModelError } from './models/errors.js';
export { ModelIOError } from './io/errors.js';
export { LayerOptionsError } from './layers/errors.js';
export { TrainingError } from './train/errors.js';
export { MetricsInputError } from './metrics/errors.js';
export { ExplainError } from './explain/errors.js';
export { EnvironmentError } from './env/errors.js';
export { NodeRequiredError } from './env/node-builtin.js';
export { OptionalDependencyError } from './env/optional-peer.js';

// Backends.
export {
  selectBackend,
  BackendUnavailableError,
  KNOWN_BACKENDS,
  type BackendName,
  type SelectBackendOptions,
  type SkippedBackend,
} from './backends/select-backend.js';
export { allowWasmThreads } from './backends/wasm-threads.js';

// The model: layers, backbone, NeuroStageNet, a trained model's metadata.
export * from './layers/index.js';
export * from './models/index.js';
export {
  buildEfficientNetB0,
  EFFICIENTNETB0_LAYER_COUNT,
  IMAGENET_MEAN_RGB,
  IMAGENET_STD_RGB,
  type EfficientNetB0Options,
} from './backbones/efficientnet-b0.js';
export {
  ALZHEIMER_CLASS_NAMES,
  ALZHEIMER_SEVERITY_ORDER,
  MODEL_METADATA_FILE,
  loadPretrainedNeuroStageNet,
  describeModel,
  withDataClassNames,
  defaultClassNames,
  PretrainedModelNotFoundError,
  ModelMetadataError,
  type ModelMetadata,
  type LoadPretrainedOptions,
  type PretrainedNeuroStageNet,
  type ModelCalibration,
} from './models/pretrained.js';

// Data: the design card's two classes and the source interface every consumer takes.
export type { Batch, ImageExample, LabeledImageSource } from './data/types.js';
export { ParquetImageDataset, type ParquetImageDatasetOptions, type LoadStats, type SkippedRow } from './data/dataset.js';
export { StratifiedSplit, type SplitIndices, type StratifiedSplitOptions } from './data/split.js';

// Inference.
export { evaluate, type EvaluateOptions, type EvaluationResult, type RefusedRow } from './train/evaluate.js';
export type { TestTimeAugmentation } from './train/inference.js';

// Explanations (the rest is in neurostagenet/explain).
export {
  GradCAM,
  type CamMethod,
  type GradCAMOptions,
  type ExplainOptions,
  type Explanation,
  type MapStatus,
} from './explain/gradcam.js';
export { overlayHeatmap, type Colormap, type OverlayOptions, type RgbaImage } from './explain/overlay.js';
export {
  explainVolume,
  volumeMontage,
  type ExplainVolumeOptions,
  type VolumeExplanation,
  type VolumeSliceExplanation,
  type VolumeMontage,
  type VolumeMontageOptions,
  type MontageTile,
} from './explain/volume.js';

// Metrics.
export type { LabelsInput, MatrixInput } from './metrics/inputs.js';
export { rocCurve, rocAuc, type RocCurve } from './metrics/roc.js';
export { reliabilityBins, type CalibrationBin, type ReliabilitySummary } from './metrics/reliability.js';
export {
  MultiClassMetrics,
  computeMetrics,
  type MultiClassMetricsOptions,
  type MultiClassMetricsResult,
  type ClassMetrics,
  type AveragedMetrics,
} from './metrics/multiclass-metrics.js';
export { formatClassificationReport, formatMetricsSummary, type ReportFormatOptions } from './metrics/classification-report.js';
export {
  figuresByPerson,
  reliabilityIntervals,
  type ReliabilityIntervalOptions,
  type ReliabilityIntervals,
  formatHeadline,
  type BootstrapOptions,
  type ExcludedClass,
  type FiguresByPerson,
  type FiguresByPersonOptions,
  type HeadlineFigures,
  type Interval,
  type LevelFigures,
} from './metrics/bootstrap.js';
export { aggregateByGroup, type AggregateByGroupOptions, type GroupedPredictions } from './metrics/group-aggregate.js';
export {
  fitTemperature,
  decideTemperature,
  chooseTemperature,
  applyTemperature,
  type CalibrationDecision,
  type FitTemperatureOptions,
  type TemperatureFit,
} from './metrics/calibration.js';
export { formatEvaluationReport, formatFigures } from './metrics/report-format.js';
