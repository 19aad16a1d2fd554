/**
 * `neurostagenet/explain`: Grad-CAM / Grad-CAM++ / HiResCAM / LayerCAM maps, head-mask measurements, overlays and PNG encoding, deletion / insertion faithfulness
 * curves and the weight-randomisation sanity check. Runs in Node and in browsers (writing PNG files is in
 * `neurostagenet/node`).
 * @module
 */
export { ExplainError } from './errors.js';
export {
  GradCAM,
  defaultTargetLayer,
  DEFAULT_TARGET_STRIDE,
  CAM_METHODS,
  DEFAULT_CAM_METHOD,
  gradCamMap,
  gradCamPlusPlusMap,
  hiResCamMap,
  layerCamMap,
  normaliseHeatmap,
  type CamMethod,
  type GradCAMOptions,
  type ExplainOptions,
  type Explanation,
  type MapStatus,
  type NormalisedHeatmap,
  type RawMap,
} from './gradcam.js';
export {
  overlayHeatmap,
  colorizeHeatmap,
  colormapLut,
  grayToRgba,
  sideBySide,
  type Colormap,
  type OverlayOptions,
  type RgbaImage,
  type SideBySideOptions,
} from './overlay.js';
export { encodePng } from './png.js';
export {
  explainVolume,
  volumeMontage,
  type ExplainVolumeOptions,
  type VolumeExplanation,
  type VolumeSliceExplanation,
  type VolumeMontage,
  type VolumeMontageOptions,
  type MontageTile,
} from './volume.js';
export { headMask, heatMassInside, gaussianBaselineMap, HEAD_THRESHOLD } from './head.js';
export {
  deletionCurve,
  insertionCurve,
  compareWithRandom,
  randomSaliency,
  gaussianBlur,
  type Baseline,
  type CurveOptions,
  type FaithfulnessCurve,
  type CompareWithRandomOptions,
  type RandomComparison,
} from './faithfulness.js';
export {
  modelRandomizationCheck,
  spearmanCorrelation,
  ssim,
  type RandomizationCheckOptions,
  type RandomizationCheckResult,
  type RandomizationStage,
} from './sanity.js';
