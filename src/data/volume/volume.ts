/** A 3-D scan in memory, and its reorientation to the canonical RAS voxel order. */
import type { DicomSeriesInfo } from './dicom.js';
import { orientationCodes, orientationOf } from './nifti.js';

/** A linear intensity scaling. */
export interface IntensityScaling {
  /** Multiplier of the stored value. */
  slope: number;
  /** Added after the multiplication. */
  intercept: number;
}

/** A 3-D scan: voxels, geometry and where the numbers came from. */
export interface Volume {
  /** Voxel values after the file's intensity scaling, x fastest: index `x + dims[0] * (y + dims[1] * z)`. */
  voxels: Float32Array;
  /** Voxels along each axis. */
  dims: [number, number, number];
  /** Voxel size along each axis, in mm. */
  spacing: [number, number, number];
  /** 4x4 voxel-index-to-patient (RAS+, mm) matrix, row-major. */
  affine: number[][];
  /**
   * Which header fields the affine came from: NIfTI's sform, else qform, else the voxel sizes (nibabel's choice);
   * `'dicom'`: ImagePositionPatient, ImageOrientationPatient and PixelSpacing, from DICOM's LPS to RAS.
   */
  affineFrom: 'sform' | 'qform' | 'voxel sizes' | 'dicom';
  /** The stored data type (`'uint8'`, `'int16'`, `'float32'`, ...). */
  datatype: string;
  /**
   * The intensity scaling applied: `value = stored * slope + intercept` (NIfTI scl_slope / scl_inter; DICOM
   * RescaleSlope / RescaleIntercept, applied slice by slice: this is the first slice's, and `notes` says when they differ).
   */
  scaling: IntensityScaling;
  /** The file format. */
  format: 'nifti1' | 'nifti1-pair' | 'nifti2' | 'analyze' | 'dicom';
  /** 3-D volumes in the file (a 4-D series, or DICOM frames whose positions repeat, holds several; one is read). */
  frames: number;
  /** The file (or DICOM folder) it was read from (or `'<bytes>'`). */
  source: string;
  /** Where each voxel axis points (e.g. `'LAS'`); `'RAS'` after {@link toCanonical}. */
  orientation: string;
  /** DICOM only: the series read and how its pixels were stored. */
  series?: DicomSeriesInfo;
  /** What the reader assumed or left out, e.g. the files of a DICOM folder that were skipped (and why). */
  notes?: string[];
}

/**
 * Reorders a volume's voxels so that its axes run left→Right, posterior→Anterior, inferior→Superior (RAS), as
 * nibabel's `as_closest_canonical` does: axes are permuted and flipped, never resampled, and the affine is
 * updated so that every voxel keeps its position in the patient.
 * @param volume Any volume.
 * @returns The canonical volume (the same object when it already is).
 */
export function toCanonical(volume: Volume): Volume {
  const ornt = orientationOf(volume.affine);
  if (ornt.every(([axis, sign], i) => axis === i && sign > 0)) return { ...volume, orientation: 'RAS' };
  const inDims = volume.dims;
  const outDims = [0, 0, 0] as [number, number, number];
  const outSpacing = [0, 0, 0] as [number, number, number];
  ornt.forEach(([axis], i) => {
    outDims[axis] = inDims[i];
    outSpacing[axis] = volume.spacing[i];
  });
  // For each input axis: the stride of its output axis and whether it runs backwards.
  const outStride = [1, outDims[0], outDims[0] * outDims[1]];
  const voxels = new Float32Array(volume.voxels.length);
  const [nx, ny, nz] = inDims;
  const step = ornt.map(([axis, sign]) => sign * outStride[axis]);
  const start = ornt.reduce((s, [axis, sign], i) => s + (sign > 0 ? 0 : (inDims[i] - 1) * outStride[axis]), 0);
  let src = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      let dst = start + y * step[1] + z * step[2];
      for (let x = 0; x < nx; x++, src++, dst += step[0]) voxels[dst] = volume.voxels[src];
    }
  }
  // New voxel j -> old voxel: old_i = sign > 0 ? new_axis : n_i - 1 - new_axis; affine' = affine @ that map.
  const map = [0, 1, 2, 3].map(() => [0, 0, 0, 0]);
  map[3][3] = 1;
  ornt.forEach(([axis, sign], i) => {
    map[i][axis] = sign;
    map[i][3] = sign > 0 ? 0 : inDims[i] - 1;
  });
  const affine = volume.affine.map((row) => [0, 1, 2, 3].map((c) => row.reduce((s, v, k) => s + v * map[k][c], 0)));
  return { ...volume, voxels, dims: outDims, spacing: outSpacing, affine, orientation: orientationCodes(affine) };
}
