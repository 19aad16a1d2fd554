/**
 * `neurostagenet/data`: the data pipeline — Parquet rows of image bytes to grayscale tensors, data checks, the split
 * by person, training-only augmentation and batches. Runs in Node and in browsers (paths need Node; bytes work
 * everywhere).
 * @module
 */
export type { Batch, ImageExample, LabeledImageSource } from './types.js';
export {
  DataError,
  EmptyFileError,
  NotParquetError,
  TruncatedParquetError,
  MissingColumnError,
  InvalidLabelError,
  InvalidSubjectError,
  InvalidSliceError,
  MissingImageError,
  UnsupportedImageFormatError,
  ImageDecodeError,
  ImageSizeError,
  DataOptionError,
  EmptyDatasetError,
  UnsupportedCompressionError,
  type DataErrorLocation,
} from './errors.js';
export {
  ParquetImageDataset,
  type LoadStats,
  type ParquetImageDatasetOptions,
  type SkippedRow,
} from './dataset.js';
export {
  decodeImage,
  readImageHeader,
  sniffImageFormat,
  resizeBilinearGray,
  rawToGray,
  MAX_IMAGE_PIXELS,
  type RawPixels,
  type ColorMode,
  type DecodeOptions,
  type DecodedImage,
  type ImageFormat,
  type ImageHeader,
  type ResizeMode,
} from './decode.js';
export { StratifiedSplit, type SplitIndices, type StratifiedSplitOptions } from './split.js';
export { selectRows } from './subset.js';
export { summarizeDataset, formatDatasetSummary, formatSliceLevels, type DatasetSummary, type SummaryOptions } from './summary.js';
export {
  findNearDuplicates,
  type NearDuplicateOptions,
  type NearDuplicatePair,
  type NearDuplicateReport,
} from './duplicates.js';
export { groupNearDuplicates, type NearDuplicateGroupOptions, type NearDuplicateGroups } from './groups.js';
export {
  headFootprint,
  headFootprints,
  compareSliceLevels,
  footprintRange,
  outsideFootprintRange,
  sliceLevelWarning,
  type FootprintRange,
  type SliceLevelComparison,
  type SpreadSummary,
} from './slice-level.js';
export {
  augmentBatch,
  resolveAugmentOptions,
  sampleAugmentParams,
  DEFAULT_AUGMENT,
  type AugmentOptions,
  type AugmentParams,
  type ResolvedAugmentOptions,
} from './augment.js';
export { mixupBatch, sampleMixupParams, type MixupParams, type MixedBatch } from './mixup.js';
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
  fitInputCheck,
  fitInputCheckModel,
  serializeInputCheck,
  deserializeInputCheck,
  appearanceScore,
  inputVerdict,
  sliceStatistics,
  areaAverage,
  INPUT_CHECK_METHOD,
  type FitInputCheckOptions,
  type GrayImages,
  type InputCheckModel,
  type SerializedInputCheck,
  type SliceStatistics,
  type InputVerdict,
} from './input-check.js';
export { readVolume, toCanonical, orientationCodes, isNiftiBytes, VolumeReadError, type ReadVolumeOptions, type VolumePairBytes, type Volume, type IntensityScaling } from './volume/index.js';
export { readDicom, isDicomBytes, type DicomFileBytes, type DicomSeriesInfo, type ReadDicomOptions } from './volume/index.js';
export { sliceVolume, volumeSlicesSource, type SliceVolumeOptions, type VolumeSlices } from './volume/index.js';
