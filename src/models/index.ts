/**
 * NeuroStageNet: building, its blocks (SEResidualBlock, DualPoolHead), fine-tune freezing, logits access. (Its compile
 * helper and loss are in ../train, exported by `neurostagenet/train`.)
 */
export {
  buildNeuroStageNet,
  applyFineTuneFreeze,
  countParams,
  logitsModel,
  featureModel,
  getBackbone,
  NeuroStageNetOptionsError,
  DEFAULT_FINE_TUNE_AT,
  BACKBONE_NAME,
  LOGITS_LAYER_NAME,
  SOFTMAX_LAYER_NAME,
  type NeuroStageNetOptions,
  type ParamCounts,
} from './neurostagenet.js';
export {
  SEResidualBlock,
  DualPoolHead,
  type SEResidualBlockOptions,
  type DualPoolHeadOptions,
  type DualPoolHeadOutputs,
} from './blocks/index.js';
export {
  checkInputs,
  inputCheckOf,
  attachInputCheck,
  attachedInputCheck,
  InputCheckUnavailableError,
  InputsRefusedError,
  type CheckableModel,
  type CheckedImages,
  type ModelWithInputCheck,
  type SourceRows,
  type InputVerdict,
} from './input-check.js';
export type { InputCheckModel, SerializedInputCheck } from '../data/input-check.js';
export {
  predictVolume,
  type PredictVolumeOptions,
  type VolumePrediction,
  type VolumeSlicePrediction,
  type PersonPrediction,
} from './predict-volume.js';
export { optimizeForInference, type OptimizedModel, type InferenceOptimizationReport } from './optimize.js';
