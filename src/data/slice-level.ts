import type { LabeledImageSource } from './types.js';
import { percentileOfSorted } from '../stats.js';

export { percentileOfSorted };

/**
 * Share of an image inside the head's outline: for every row, the pixels from the first to the last one brighter
 * than `threshold`, summed and divided by the image area. Ventricles and sulci inside the outline count as head,
 * so the figure follows the axial level of a slice (the cross-section shrinks towards the top of the head) and
 * hardly the atrophy that the labels describe (atrophy darkens the inside, not the outline).
 * @param image Gray pixels on the 0..255 scale, row-major.
 * @param height Image height.
 * @param width Image width.
 * @param threshold Pixel value above which a pixel is tissue (default 15: above the background noise of skull-stripped
 *   JPEG slices).
 * @returns A fraction in [0, 1].
 */
export function headFootprint(image: ArrayLike<number>, height: number, width: number, threshold = 15): number {
  if (image.length !== height * width) {
    throw new RangeError(`headFootprint: ${image.length} pixels do not make a ${height}x${width} image`);
  }
  let inside = 0;
  forEachHeadRowSpan(image, height, width, threshold, (_row, first, last) => {
    inside += last - first + 1;
  });
  return inside / (height * width);
}

/**
 * The head's outline row by row: for every row with a pixel brighter than `threshold`, calls `visit` with the row
 * and its first and last such column (the span {@link headFootprint} counts and `headMask` fills).
 * @param image Gray pixels, row-major.
 * @param height Image height.
 * @param width Image width.
 * @param threshold Tissue threshold.
 * @param visit Called once per row that holds tissue.
 */
export function forEachHeadRowSpan(
  image: ArrayLike<number>,
  height: number,
  width: number,
  threshold: number,
  visit: (row: number, first: number, last: number) => void,
): void {
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let first = -1;
    let last = -1;
    for (let x = 0; x < width; x++) {
      if (image[row + x] > threshold) {
        if (first < 0) first = x;
        last = x;
      }
    }
    if (first >= 0) visit(y, first, last);
  }
}

/**
 * {@link headFootprint} of every row of a source.
 * @param source Images on the 0..255 scale.
 * @param threshold Tissue threshold (default 15).
 * @returns One footprint per row.
 */
export async function headFootprints(source: LabeledImageSource, threshold = 15): Promise<Float32Array> {
  const [h, w] = source.imageSize;
  const out = new Float32Array(source.length);
  for (let i = 0; i < source.length; i++) out[i] = headFootprint((await source.get(i)).image, h, w, threshold);
  return out;
}

/** Percentiles of a sample (linear interpolation, as numpy's default). */
export interface SpreadSummary {
  /** Number of values. */
  count: number;
  /** 1st percentile. */
  p1: number;
  /** 5th percentile. */
  p5: number;
  /** Median. */
  median: number;
  /** 95th percentile. */
  p95: number;
  /** 99th percentile. */
  p99: number;
}

/** How the slice levels of two files compare; see {@link compareSliceLevels}. */
export interface SliceLevelComparison {
  /** Footprints of the reference file (e.g. training), one per row. */
  reference: Float32Array;
  /** Footprints of the compared file (e.g. test), one per row. */
  compared: Float32Array;
  /** Percentiles of `reference`. */
  referenceSpread: SpreadSummary;
  /** Percentiles of `compared`. */
  comparedSpread: SpreadSummary;
  /** Compared rows whose footprint lies within the reference's 1st–99th percentile range. */
  comparedInsideReference: number;
  /** `comparedInsideReference / compared.length`. */
  comparedInsideFraction: number;
  /** Two-sample Kolmogorov–Smirnov statistic (largest gap between the two empirical CDFs; scipy `ks_2samp`). */
  ks: number;
  /** True when fewer than half of the compared rows lie within the reference's range: the files show different
   * parts of the head, and a model of one is scored out of its range on the other. */
  shifted: boolean;
}

function spread(sorted: Float64Array): SpreadSummary {
  const at = (q: number) => percentileOfSorted(sorted, q);
  return { count: sorted.length, p1: at(1), p5: at(5), median: at(50), p95: at(95), p99: at(99) };
}

/**
 * Two-sample Kolmogorov–Smirnov statistic: the largest distance between the empirical CDFs of `a` and `b`.
 * @param a Sample, ascending.
 * @param b Sample, ascending.
 */
export function ksStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return NaN;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    // Step past every copy of the smaller value in both samples, so that ties never open a false gap.
    const v = Math.min(a[i], b[j]);
    while (i < n && a[i] === v) i++;
    while (j < m && b[j] === v) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  return d;
}

/**
 * Do two files show the same part of the head? Compares their {@link headFootprint} distributions: MRI slice sets
 * often cover different axial ranges (e.g. a test set of only central slices), and a model is then scored on
 * anatomy it rarely saw, whatever the split. Labels are not used.
 * @param reference Footprints of the reference file (usually the training file).
 * @param compared Footprints of the other file.
 * @returns Percentiles, overlap and the KS statistic.
 * @example
 * ```ts
 * const shift = compareSliceLevels(await headFootprints(train), await headFootprints(test));
 * if (shift.shifted) console.warn(`only ${shift.comparedInsideReference} test slices lie in the training range`);
 * ```
 */
export function compareSliceLevels(reference: ArrayLike<number>, compared: ArrayLike<number>): SliceLevelComparison {
  const a = Float64Array.from(reference).sort();
  const b = Float64Array.from(compared).sort();
  const ra = spread(a);
  let inside = 0;
  for (const v of b) if (v >= ra.p1 && v <= ra.p99) inside++;
  const fraction = b.length ? inside / b.length : NaN;
  return {
    reference: Float32Array.from(reference),
    compared: Float32Array.from(compared),
    referenceSpread: ra,
    comparedSpread: spread(b),
    comparedInsideReference: inside,
    comparedInsideFraction: fraction,
    ks: ksStatistic(a, b),
    shifted: fraction < 0.5,
  };
}

/** The head footprints a model was trained on: 1st percentile, median and 99th percentile. */
export interface FootprintRange {
  /** 1st percentile. */
  p1: number;
  /** Median. */
  median: number;
  /** 99th percentile. */
  p99: number;
}

/**
 * The {@link FootprintRange} of some footprints (e.g. of a model's training rows), to store in its metadata.
 * @param footprints Head footprints.
 */
export function footprintRange(footprints: ArrayLike<number>): FootprintRange {
  const sorted = Float64Array.from(footprints).sort();
  return { p1: percentileOfSorted(sorted, 1), median: percentileOfSorted(sorted, 50), p99: percentileOfSorted(sorted, 99) };
}

/**
 * Whether a footprint lies outside a model's training levels (below their 1st or above their 99th percentile).
 * @param footprint A {@link headFootprint}.
 * @param training The model's training range.
 */
export function outsideFootprintRange(footprint: number, training: FootprintRange): boolean {
  return footprint < training.p1 || footprint > training.p99;
}

/**
 * A warning when images lie outside the slice levels a model was trained on (footprint below its 1st or above its
 * 99th training percentile), or undefined when all lie inside. The model's figures were measured at its training
 * levels and may not hold elsewhere (see the model card's slice-level section).
 * @param footprints Head footprints of the images ({@link headFootprint}).
 * @param training The model's training range (`PretrainedNeuroStageNet.trainingFootprint`).
 * @returns One sentence, or undefined.
 * @example
 * ```ts
 * const warning = sliceLevelWarning([headFootprint(image, 128, 128)], pretrained.trainingFootprint!);
 * if (warning) console.warn(warning);
 * ```
 */
export function sliceLevelWarning(footprints: ArrayLike<number>, training: FootprintRange): string | undefined {
  let outside = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < footprints.length; i++) {
    const f = footprints[i];
    if (outsideFootprintRange(f, training)) {
      outside++;
      lo = Math.min(lo, f);
      hi = Math.max(hi, f);
    }
  }
  if (outside === 0) return undefined;
  const trained = `head footprint ${training.p1.toFixed(3)}-${training.p99.toFixed(3)}`;
  const seen = lo === hi ? lo.toFixed(3) : `${lo.toFixed(3)}-${hi.toFixed(3)}`;
  const who = footprints.length === 1 ? 'the image lies' : `${outside} of ${footprints.length} images lie`;
  return `${who} outside the slice levels of 98% of the model's training slices (${trained}; here ${seen}): the model's figures may not hold there`;
}
