/**
 * Axial slices of a volume in the geometry of the training slices: a 176 mm wide, 208 mm tall field of view at
 * 1 mm (the OASIS-1 originals are 176x208), centred on the head, resized to 128x128 (which squashes the anatomy
 * vertically, as it squashed the training slices), then to the model's input size; intensities mapped to 0..255
 * by robust percentiles of the head.
 */
import { resizeBilinearGray } from '../decode.js';
import { DataError } from '../errors.js';
import type { LabeledImageSource } from '../types.js';
import { toCanonical, type Volume } from './volume.js';

/** Options of {@link sliceVolume}. */
export interface SliceVolumeOptions {
  /** `[height, width]` of the slices (the model's input). Default `[128, 128]`. */
  size?: [number, number];
  /**
   * Slices to cut, evenly spaced over `range`. Default 32 (as many as the training file has per person). A volume with
   * fewer voxel levels in `range` gives one slice per level instead (a note says so).
   */
  count?: number;
  /**
   * The span of axial levels, as fractions of the head's extent from bottom (0) to top (1). Default `[0.1, 0.9]`:
   * the ends of the head hold little brain.
   */
  range?: [number, number];
  /** Percentiles of the head's voxels mapped to 0 and 255. Default `[0.5, 99.5]`. */
  percentiles?: [number, number];
}

/** What {@link sliceVolume} returns. */
export interface VolumeSlices {
  /** Gray 0..255 images, row-major `size[0] * size[1]`, anterior at the top, the patient's right on the right. */
  images: Float32Array[];
  /** `[height, width]`. */
  size: [number, number];
  /** Height of each slice in the canonical volume, mm (world z). */
  levelsMm: number[];
  /** Voxel z index of each slice in the canonical volume (fractional: between-voxel levels are interpolated). */
  levels: number[];
  /** Intensities mapped to 0 and 255. */
  window: [number, number];
  /** Plain-words notes on what was done (geometry, squashing). */
  notes: string[];
}

const FIELD_MM: [number, number] = [208, 176]; // [height, width] of the training slices' originals at 1 mm

function invert(a: number[][]): number[][] {
  // 4x4 affine inverse through its 3x3 block (last row 0 0 0 1).
  const m = a;
  const [[a00, a01, a02], [a10, a11, a12], [a20, a21, a22]] = m;
  const det = a00 * (a11 * a22 - a12 * a21) - a01 * (a10 * a22 - a12 * a20) + a02 * (a10 * a21 - a11 * a20);
  if (!(Math.abs(det) > 1e-12)) throw new DataError('sliceVolume: the affine is singular');
  const inv = [
    [(a11 * a22 - a12 * a21) / det, (a02 * a21 - a01 * a22) / det, (a01 * a12 - a02 * a11) / det],
    [(a12 * a20 - a10 * a22) / det, (a00 * a22 - a02 * a20) / det, (a02 * a10 - a00 * a12) / det],
    [(a10 * a21 - a11 * a20) / det, (a01 * a20 - a00 * a21) / det, (a00 * a11 - a01 * a10) / det],
  ];
  const t = [0, 1, 2].map((r) => -(inv[r][0] * m[0][3] + inv[r][1] * m[1][3] + inv[r][2] * m[2][3]));
  return [[...inv[0], t[0]], [...inv[1], t[1]], [...inv[2], t[2]], [0, 0, 0, 1]];
}

function percentile(sorted: Float32Array, p: number): number {
  const pos = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Cuts axial slices for the model from a volume (reoriented to RAS first when it is not).
 * @param volume The scan.
 * @param options Size, number of slices, span of levels, intensity percentiles.
 * @returns The slices and what was done.
 * @throws {@link DataError} for an empty volume (no voxel above the background) or options out of range.
 */
export function sliceVolume(volume: Volume, options: SliceVolumeOptions = {}): VolumeSlices {
  const v = volume.orientation === 'RAS' ? volume : toCanonical(volume);
  const [height, width] = options.size ?? [128, 128];
  const count = options.count ?? 32;
  const [from, to] = options.range ?? [0.1, 0.9];
  const [pLo, pHi] = options.percentiles ?? [0.5, 99.5];
  if (!(Number.isInteger(count) && count >= 1)) throw new DataError(`sliceVolume: count must be a positive integer, got ${count}`);
  if (!(from >= 0 && to <= 1 && from <= to)) throw new DataError(`sliceVolume: range must satisfy 0 <= from <= to <= 1, got [${from}, ${to}]`);
  const [nx, ny, nz] = v.dims;
  // The head: voxels above a tenth of the robust maximum (background and noise are below).
  const finite = v.voxels.filter(Number.isFinite);
  const sortedAll = Float32Array.from(finite).sort();
  if (sortedAll.length === 0) throw new DataError(`sliceVolume: ${v.source} has no finite voxels`);
  const robustMax = percentile(sortedAll, 99.5);
  const floor = percentile(sortedAll, 1);
  const cut = floor + 0.1 * (robustMax - floor);
  let x0 = nx, x1 = -1, y0 = ny, y1 = -1, z0 = nz, z1 = -1;
  const head: number[] = [];
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) {
    const value = v.voxels[x + nx * (y + ny * z)];
    if (value > cut) {
      head.push(value);
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (z < z0) z0 = z;
      if (z > z1) z1 = z;
    }
  }
  if (head.length === 0 || !(robustMax > floor)) throw new DataError(`sliceVolume: ${v.source} holds no head (no voxel above the background)`);
  const headSorted = Float32Array.from(head).sort();
  const hi = percentile(headSorted, pHi);
  // A head of one value (a mask, a phantom) has no spread: its window starts at the background.
  const lo = percentile(headSorted, pLo) < hi ? percentile(headSorted, pLo) : floor;
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const inverse = invert(v.affine);
  const world = (i: number, j: number, k: number) => [0, 1, 2].map((r) => v.affine[r][0] * i + v.affine[r][1] * j + v.affine[r][2] * k + v.affine[r][3]);
  const centre = world((x0 + x1) / 2, (y0 + y1) / 2, 0);
  // A thin volume (one DICOM slice, a few EPI slices) holds fewer axial levels than asked: cut each once rather
  // than interpolate copies of the same few.
  const available = Math.max(1, Math.floor((z1 - z0) * (to - from)) + 1);
  const cutCount = Math.min(count, available);
  const levels = Array.from({ length: cutCount }, (_, s) => z0 + (z1 - z0) * (from + (cutCount === 1 ? 0.5 : s / (cutCount - 1)) * (to - from)));
  const [fh, fw] = FIELD_MM;
  const field = new Float32Array(fh * fw);
  const at = (x: number, y: number, z: number) => v.voxels[x + nx * (y + ny * z)];
  const images = levels.map((k) => {
    const kz = world(0, 0, k)[2];
    for (let r = 0; r < fh; r++) {
      for (let c = 0; c < fw; c++) {
        // 1 mm pixels: columns run right (+x), rows run from anterior (+y) down to posterior.
        const wx = centre[0] - fw / 2 + c + 0.5;
        const wy = centre[1] + fh / 2 - r - 0.5;
        const fx = inverse[0][0] * wx + inverse[0][1] * wy + inverse[0][2] * kz + inverse[0][3];
        const fy = inverse[1][0] * wx + inverse[1][1] * wy + inverse[1][2] * kz + inverse[1][3];
        const fz = inverse[2][0] * wx + inverse[2][1] * wy + inverse[2][2] * kz + inverse[2][3];
        let value = lo;
        if (fx >= 0 && fy >= 0 && fz >= 0 && fx <= nx - 1 && fy <= ny - 1 && fz <= nz - 1) {
          const xa = Math.floor(fx), ya = Math.floor(fy), za = Math.floor(fz);
          const xb = Math.min(xa + 1, nx - 1), yb = Math.min(ya + 1, ny - 1), zb = Math.min(za + 1, nz - 1);
          const dx = fx - xa, dy = fy - ya, dz = fz - za;
          const plane = (z: number) =>
            (at(xa, ya, z) * (1 - dx) + at(xb, ya, z) * dx) * (1 - dy) + (at(xa, yb, z) * (1 - dx) + at(xb, yb, z) * dx) * dy;
          value = plane(za) * (1 - dz) + plane(zb) * dz;
        }
        field[r * fw + c] = Math.min(255, Math.max(0, (value - lo) * scale));
      }
    }
    const square = resizeBilinearGray(field, fh, fw, 128, 128);
    return height === 128 && width === 128 ? square : resizeBilinearGray(square, 128, 128, height, width);
  });
  return {
    images,
    size: [height, width],
    levels,
    levelsMm: levels.map((k) => world(0, 0, k)[2]),
    window: [lo, hi],
    notes: [
      `${cutCount} axial slices from ${(100 * from).toFixed(0)}% to ${(100 * to).toFixed(0)}% of the head's height (voxel z ${levels[0].toFixed(1)}..${levels[cutCount - 1].toFixed(1)})` +
        (cutCount < count ? `: the volume holds only ${cutCount} axial level(s) there, not the ${count} asked (a thin or single-slice scan)` : ''),
      `each a 176 mm x 208 mm field at 1 mm centred on the head, resized to 128x128 as the training slices were (which squashes the anatomy vertically), then to ${height}x${width}`,
      `intensities ${lo.toPrecision(4)}..${hi.toPrecision(4)} (the head's ${pLo}th..${pHi}th percentiles) mapped to 0..255`,
    ],
  };
}

/**
 * The slices as a data set that `checkInputs`, `evaluate` and the CLI take (labels are all 0: unknown).
 * @param slices From {@link sliceVolume}.
 * @param subject The person's id (e.g. the file name), for per-person aggregation.
 * @returns An unlabelled image source.
 */
export function volumeSlicesSource(slices: VolumeSlices, subject: string): LabeledImageSource {
  const n = slices.images.length;
  const source: LabeledImageSource = {
    length: n,
    imageSize: slices.size,
    labels: new Int32Array(n),
    classNames: [],
    subjects: Array.from({ length: n }, () => subject),
    slices: Int32Array.from({ length: n }, (_, i) => i + 1),
    get: (i: number) => ({ image: slices.images[i], label: 0 }),
  };
  return source;
}
