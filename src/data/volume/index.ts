/** Volumes: NIfTI, ANALYZE and DICOM readers, canonical orientation. */
export { readVolume, type ReadVolumeOptions, type VolumePairBytes } from './read.js';
export { toCanonical, type Volume, type IntensityScaling } from './volume.js';
export { orientationCodes, isNiftiBytes } from './nifti.js';
export { readDicom, isDicomBytes, type DicomFileBytes, type DicomSeriesInfo, type ReadDicomOptions } from './dicom.js';
export { VolumeReadError } from './errors.js';
export { sliceVolume, volumeSlicesSource, type SliceVolumeOptions, type VolumeSlices } from './slice.js';
