/**
 * NIfTI-1, NIfTI-2 and ANALYZE 7.5 volumes (plain or gzipped) to {@link Volume}s. Headers are parsed by
 * nifti-reader-js (rii-mango, MIT, the reader NIfTI viewers in JavaScript use; its only dependency is fflate for
 * gzip); the affine is chosen as nibabel does and the voxels are decoded and scaled here.
 */
import * as nifti from 'nifti-reader-js';
import { VolumeReadError } from './errors.js';
import type { Volume } from './volume.js';

// NIfTI datatype codes this reader decodes: [name, bytes per voxel].
const DATATYPES: Record<number, [string, number]> = {
  2: ['uint8', 1],
  4: ['int16', 2],
  8: ['int32', 4],
  16: ['float32', 4],
  64: ['float64', 8],
  256: ['int8', 1],
  512: ['uint16', 2],
  768: ['uint32', 4],
};

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function inflate(bytes: Uint8Array, file: string): ArrayBuffer {
  const buffer = toArrayBuffer(bytes);
  if (!nifti.isCompressed(buffer)) return buffer;
  try {
    return nifti.decompress(buffer) as ArrayBuffer;
  } catch (e) {
    throw new VolumeReadError(`the gzip stream is corrupt or truncated (${(e as Error).message})`, file);
  }
}

/** Whether bytes (gzipped or not) start with a NIfTI-1/2 or ANALYZE header. */
export function isNiftiBytes(bytes: Uint8Array): boolean {
  try {
    return nifti.isNIFTI(inflate(bytes, '<bytes>'), true);
  } catch {
    return false;
  }
}

// nibabel's "base affine" of a header without a usable transform: voxel sizes, x flipped (the ANALYZE
// radiological convention), origin at the centre voxel.
function baseAffine(dims: number[], spacing: number[]): number[][] {
  const [dx, dy, dz] = spacing;
  const centre = dims.slice(0, 3).map((n) => (n - 1) / 2);
  return [
    [-dx, 0, 0, dx * centre[0]],
    [0, dy, 0, -dy * centre[1]],
    [0, 0, dz, -dz * centre[2]],
    [0, 0, 0, 1],
  ];
}

// The sform rows of a NIfTI-1 header (bytes 280..327, float32).
function nifti1Sform(header: ArrayBuffer, littleEndian: boolean): number[][] {
  const view = new DataView(header);
  const rows = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => view.getFloat32(280 + 16 * r + 4 * c, littleEndian)));
  return [...rows, [0, 0, 0, 1]];
}

/**
 * Reads a NIfTI-1 / NIfTI-2 file, or an ANALYZE 7.5 header with its image file.
 * @param headerBytes The `.nii` / `.nii.gz` bytes, or the `.hdr` / `.hdr.gz` bytes of a pair.
 * @param imageBytes The `.img` / `.img.gz` bytes of a pair (omit for `.nii`).
 * @param file Name for messages and `Volume.source`.
 * @param options `frame`: which 3-D volume of a 4-D file (default 0).
 * @returns The volume in its stored voxel order (see `toCanonical`).
 * @throws {@link VolumeReadError} naming the file: not NIfTI/ANALYZE, truncated, an unsupported datatype, a pair
 *   whose image file does not hold the header's voxels.
 */
export function readNifti(headerBytes: Uint8Array, imageBytes: Uint8Array | undefined, file: string, options: { frame?: number } = {}): Volume {
  const data = inflate(headerBytes, file);
  if (!nifti.isNIFTI(data, true)) {
    throw new VolumeReadError('not a NIfTI-1, NIfTI-2 or ANALYZE 7.5 file (no valid header: wrong magic and header size)', file);
  }
  const header = nifti.readHeader(data, true) as nifti.NIFTI1 | nifti.NIFTI2;
  const isPair = (header as { isHDR?: boolean }).isHDR === true;
  const format: Volume['format'] = header instanceof nifti.NIFTI2 ? 'nifti2' : isPair ? (isAnalyze(data) ? 'analyze' : 'nifti1-pair') : 'nifti1';
  if (isPair && imageBytes === undefined) throw new VolumeReadError('a header-only (.hdr) file needs its .img file', file);
  const rank = header.dims[0];
  const dims = [1, 2, 3].map((i) => (i <= rank ? Math.max(1, header.dims[i]) : 1));
  const frames = rank >= 4 ? header.dims.slice(4, rank + 1).reduce((a: number, b: number) => a * Math.max(1, b), 1) : 1;
  const frame = options.frame ?? 0;
  if (!Number.isInteger(frame) || frame < 0 || frame >= frames) throw new VolumeReadError(`frame ${frame} does not exist: the file holds ${frames} volume(s)`, file);
  const type = DATATYPES[header.datatypeCode];
  if (!type) throw new VolumeReadError(`unsupported NIfTI datatype code ${header.datatypeCode} (this reader decodes ${Object.values(DATATYPES).map(([n]) => n).join(', ')})`, file);
  const [datatype, size] = type;
  const count = dims[0] * dims[1] * dims[2];
  const imageBuffer = isPair ? inflate(imageBytes as Uint8Array, file) : data;
  const offset = (isPair ? Math.max(0, header.vox_offset) : header.vox_offset) + frame * count * size;
  const needed = offset + count * size;
  if (imageBuffer.byteLength < needed) {
    throw new VolumeReadError(
      `${isPair ? 'the image file' : 'the file'} holds ${imageBuffer.byteLength} bytes but the header's ${dims.join('x')} ${datatype} voxels${frames > 1 ? ` (frame ${frame} of ${frames})` : ''} need ${needed}: truncated or mismatched`,
      file,
    );
  }
  const view = new DataView(imageBuffer, offset, count * size);
  const le = header.littleEndian;
  const read: (i: number) => number = {
    uint8: (i: number) => view.getUint8(i),
    int8: (i: number) => view.getInt8(i),
    int16: (i: number) => view.getInt16(i * 2, le),
    uint16: (i: number) => view.getUint16(i * 2, le),
    int32: (i: number) => view.getInt32(i * 4, le),
    uint32: (i: number) => view.getUint32(i * 4, le),
    float32: (i: number) => view.getFloat32(i * 4, le),
    float64: (i: number) => view.getFloat64(i * 8, le),
  }[datatype] as (i: number) => number;
  // scl_slope 0 (or not finite) means "no scaling" (NIfTI-1 standard; nibabel reads it the same way).
  const slopeValid = Number.isFinite(header.scl_slope) && header.scl_slope !== 0 && format !== 'analyze';
  const slope = slopeValid ? header.scl_slope : 1;
  const inter = slopeValid && Number.isFinite(header.scl_inter) ? header.scl_inter : 0;
  const voxels = new Float32Array(count);
  for (let i = 0; i < count; i++) voxels[i] = read(i) * slope + inter;
  const spacing = [1, 2, 3].map((i) => (i <= rank && Number.isFinite(header.pixDims[i]) && header.pixDims[i] !== 0 ? Math.abs(header.pixDims[i]) : 1)) as [number, number, number];
  let affine: number[][];
  let affineFrom: Volume['affineFrom'];
  if (format !== 'analyze' && header.sform_code > 0) {
    affine = header instanceof nifti.NIFTI1 && header.qform_code > header.sform_code ? nifti1Sform(data, le) : header.affine.map((r: number[]) => [...r]);
    affineFrom = 'sform';
  } else if (format !== 'analyze' && header.qform_code > 0) {
    affine = header.affine.map((r: number[]) => [...r]);
    affineFrom = 'qform';
  } else {
    affine = baseAffine(dims, spacing);
    affineFrom = 'voxel sizes';
  }
  return {
    voxels,
    dims: [dims[0], dims[1], dims[2]],
    spacing,
    affine,
    affineFrom,
    datatype,
    scaling: { slope, intercept: inter },
    format,
    frames,
    source: file,
    orientation: orientationCodes(affine),
  };
}

// ANALYZE 7.5 headers have no "n+1"/"ni1" magic at byte 344.
function isAnalyze(data: ArrayBuffer): boolean {
  const magic = new Uint8Array(data, 344, 3);
  return !(magic[0] === 0x6e && magic[2] === 0x31); // 'n?1'
}

/**
 * The anatomical direction each voxel axis points to, as nibabel's `aff2axcodes` says it: `R`/`L`, `A`/`P`,
 * `S`/`I` per axis (greedy: each voxel axis takes the world axis its direction is closest to).
 * @param affine 4x4 voxel-to-world (RAS+) matrix.
 * @returns Three letters, e.g. `'RAS'` or `'LAS'`.
 */
export function orientationCodes(affine: number[][]): string {
  return orientationOf(affine).map(([axis, sign]) => (sign > 0 ? 'RAS' : 'LPI')[axis]).join('');
}

/**
 * For each voxel axis, the world axis (0 x, 1 y, 2 z) and direction (+1 / -1) it is closest to.
 * @param affine 4x4 voxel-to-world matrix.
 * @returns `[worldAxis, sign]` per voxel axis.
 */
export function orientationOf(affine: number[][]): Array<[number, number]> {
  const m = [0, 1, 2].map((r) => [0, 1, 2].map((c) => affine[r][c]));
  const norms = [0, 1, 2].map((c) => Math.hypot(m[0][c], m[1][c], m[2][c]) || 1);
  const abs = m.map((row) => row.map((v, c) => Math.abs(v / norms[c])));
  const out: Array<[number, number]> = [[-1, 1], [-1, 1], [-1, 1]];
  const usedRow = new Set<number>();
  const usedCol = new Set<number>();
  for (let k = 0; k < 3; k++) {
    let best = -1, br = 0, bc = 0;
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) if (!usedRow.has(r) && !usedCol.has(c) && abs[r][c] > best) [best, br, bc] = [abs[r][c], r, c];
    usedRow.add(br);
    usedCol.add(bc);
    out[bc] = [br, m[br][bc] >= 0 ? 1 : -1];
  }
  return out;
}
