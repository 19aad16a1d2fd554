// Public face of the data pipeline: re-exported from src/index.ts.
export * from './types.js';
export * from './errors.js';
export {
  augmentBatch,
  resolveAugmentOptions,
  sampleAugmentParams,
  geometricTransform,
  DEFAULT_AUGMENT,
  type AugmentOptions,
  type AugmentParams,
  type ResolvedAugmentOptions,
} from './augment.js';
export {
  iterateBatches,
  countBatches,
  toTfDataset,
  type BatchOptions,
  type BulkImageReader,
  type FitDatasetLike,
  type BatchIterator,
  type TfDatasetOptions,
} from './batches.js';
export {
  decodeImage,
  loadImageDecoders,
  readImageHeader,
  sniffImageFormat,
  resizeBilinearGray,
  rawToGray,
  type ColorMode,
  type DecodeOptions,
  type DecodedImage,
  type ImageFormat,
  type ImageHeader,
  type RawPixels,
  type ResizeMode,
} from './decode.js';
export {
  ParquetImageDataset,
  type LoadStats,
  type ParquetImageDatasetOptions,
  type SkippedRow,
} from './dataset.js';
export { mixupBatch, sampleMixupParams, sampleBeta, type MixupParams, type MixedBatch } from './mixup.js';
export { selectRows } from './subset.js';
export { StratifiedSplit, type SplitIndices, type StratifiedSplitOptions } from './split.js';
export {
  findNearDuplicates,
  thumbnails,
  type NearDuplicateOptions,
  type NearDuplicatePair,
  type NearDuplicateReport,
} from './duplicates.js';
export { groupNearDuplicates, type NearDuplicateGroupOptions, type NearDuplicateGroups } from './groups.js';
export { summarizeDataset, formatDatasetSummary, formatSliceLevels, type DatasetSummary, type SummaryOptions } from './summary.js';
export {
  headFootprint,
  headFootprints,
  compareSliceLevels,
  ksStatistic,
  percentileOfSorted,
  footprintRange,
  outsideFootprintRange,
  sliceLevelWarning,
  type FootprintRange,
  type SliceLevelComparison,
  type SpreadSummary,
} from './slice-level.js';
