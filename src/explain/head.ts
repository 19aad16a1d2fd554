// Where a heatmap's heat lies relative to the head, and a centred-Gaussian baseline map: the measurements of
// docs/explain.md ("explanations that point at the brain").

import { forEachHeadRowSpan } from '../data/slice-level.js';
import { ExplainError } from './errors.js';

/** Default tissue threshold of {@link headMask} on the 0..255 scale (the one `headFootprint` uses). */
export const HEAD_THRESHOLD = 15;

function checkImage(length: number, width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || width * height !== length) {
    throw new ExplainError(`${what} has ${length} values, which does not match ${width} x ${height}.`);
  }
}

/**
 * The head of a skull-stripped or plain MRI slice, from the image itself: a pixel is tissue when it is
 * brighter than `threshold`; the mask is then filled per row, from the first to the last tissue pixel of the
 * row (dark ventricles and sulci inside the head count as head), as `headFootprint` in `neurostagenet/data`
 * measures the footprint. A row without tissue is all outside.
 *
 * @param image Grayscale pixels, row-major, on the 0..255 scale (`width * height` values).
 * @param width Width in pixels.
 * @param height Height in pixels.
 * @param threshold Tissue threshold (default {@link HEAD_THRESHOLD} = 15).
 * @returns 1 inside the head, 0 outside (`width * height` bytes).
 * @throws {@link ExplainError} when the sizes do not match.
 */
export function headMask(image: ArrayLike<number>, width: number, height: number, threshold = HEAD_THRESHOLD): Uint8Array {
  checkImage(image.length, width, height, 'headMask: the image');
  const mask = new Uint8Array(width * height);
  forEachHeadRowSpan(image, height, width, threshold, (y, first, last) => mask.fill(1, y * width + first, y * width + last + 1));
  return mask;
}

/**
 * Share of a heatmap's mass inside a mask: `Σ_{mask} h / Σ h` (negative and non-finite values count as 0).
 * A map that is all zeros (e.g. a flat Grad-CAM map) has no mass: the result is `NaN`, so the caller counts
 * it separately instead of as "all inside" or "all outside".
 *
 * @param heatmap Heat values, row-major (e.g. `Explanation.heatmap`).
 * @param mask Same length; non-zero = inside (e.g. {@link headMask}).
 * @returns A value in [0, 1], or `NaN` for a map without mass.
 * @throws {@link ExplainError} when the lengths differ.
 */
export function heatMassInside(heatmap: ArrayLike<number>, mask: ArrayLike<number>): number {
  if (heatmap.length !== mask.length) {
    throw new ExplainError(`heatMassInside: the heatmap has ${heatmap.length} values but the mask has ${mask.length}.`);
  }
  let inside = 0;
  let total = 0;
  for (let i = 0; i < heatmap.length; i++) {
    const v = heatmap[i];
    if (!(v > 0) || !Number.isFinite(v)) continue;
    total += v;
    if (mask[i]) inside += v;
  }
  return total > 0 ? inside / total : NaN;
}

/**
 * A centred isotropic Gaussian "saliency map": `exp(-r² / (2σ²))` with `r` the distance of a pixel centre
 * from the image centre and `σ = sigmaFraction · min(width, height)`. It is the "look at the middle" prior: as
 * a deletion / insertion saliency it is the baseline a map must beat to show more than the fact that the
 * brain sits in the middle of the slice.
 *
 * @param width Width in pixels.
 * @param height Height in pixels.
 * @param sigmaFraction σ as a fraction of the shorter side (default 0.25).
 * @returns `width * height` values in (0, 1], row-major, 1 at the centre (for an odd size).
 * @throws {@link ExplainError} for a non-positive size or σ.
 */
export function gaussianBaselineMap(width: number, height: number, sigmaFraction = 0.25): Float32Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ExplainError(`gaussianBaselineMap: ${width} x ${height} is not a valid image size.`);
  }
  if (!(sigmaFraction > 0)) throw new ExplainError(`gaussianBaselineMap: sigmaFraction is ${sigmaFraction}; it must be > 0.`);
  const sigma = sigmaFraction * Math.min(width, height);
  const [cx, cy] = [(width - 1) / 2, (height - 1) / 2];
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out[y * width + x] = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma * sigma));
  }
  return out;
}
