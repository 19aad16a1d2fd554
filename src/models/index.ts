/**
 * NeuroStageNet: building, its blocks (SEResidualBlock, DualPoolHead), fine-tune freezing, logits access, and (re-exported from ../train) its compile helper and loss.
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
export { compileNeuroStageNet, type CompileNeuroStageNetOptions } from '../train/compile.js';
export {
  categoricalCrossentropyWithSmoothing,
  type SmoothedCrossentropyOptions,
  type LossFunction,
} from '../train/loss.js';
