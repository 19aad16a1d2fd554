/** Volumes: NIfTI and ANALYZE readers, canonical orientation. */
export { readVolume, type ReadVolumeOptions, type VolumePairBytes } from './read.js';
export { toCanonical, type Volume, type IntensityScaling } from './volume.js';
export { orientationCodes, isNiftiBytes } from './nifti.js';
export { VolumeReadError } from './errors.js';
export { sliceVolume, volumeSlicesSource, type SliceVolumeOptions, type VolumeSlices } from './slice.js';
