/** One equal-width confidence bin of a reliability diagram. */
export interface CalibrationBin {
  /** Lower edge (exclusive, except that nothing lies at confidence 0 for normalised probabilities). */
  lower: number;
  /** Upper edge (inclusive). */
  upper: number;
  /** Number of samples whose top-label confidence lies in `(lower, upper]`. */
  count: number;
  /** Mean top-label confidence of those samples (0 when the bin is empty). */
  meanConfidence: number;
  /** Share of those samples whose top label is right (0 when the bin is empty). */
  accuracy: number;
}

/** Top-label calibration summary: the bins and the expected calibration error over them. */
export interface ReliabilitySummary {
  /** Expected calibration error: sum over bins of `|accuracy - meanConfidence| * count / N`. */
  ece: number;
  /** The bins, in increasing confidence. */
  bins: CalibrationBin[];
}

/**
 * Edges of `numBins` equal-width bins on [0, 1], computed like `np.linspace(0, 1, numBins + 1)`
 * (`i * (1 / numBins)`, last edge exactly 1) so that bin membership matches the numpy reference bit for bit.
 */
export function binEdges(numBins: number): number[] {
  const step = 1 / numBins;
  const edges: number[] = [];
  for (let i = 0; i < numBins; i++) edges.push(i * step);
  edges.push(1);
  return edges;
}

/**
 * Top-label reliability bins and expected calibration error (Guo et al. 2017, "On Calibration of Modern
 * Neural Networks", and the reference implementation that follows it): the confidence of a sample is its
 * largest probability, the prediction that class (first maximum on ties), and bin `b` holds confidences in
 * `(edges[b], edges[b+1]]`.
 *
 * @param confidences Top-label confidence per sample.
 * @param correct Whether the top label is right, per sample.
 * @param numBins Number of equal-width bins (15 by default, the usual choice).
 */
export function reliabilityBins(
  confidences: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  numBins = 15,
): ReliabilitySummary {
  const n = confidences.length;
  const edges = binEdges(numBins);
  const bins: CalibrationBin[] = [];
  let ece = 0;
  for (let b = 0; b < numBins; b++) {
    const lower = edges[b];
    const upper = edges[b + 1];
    let count = 0;
    let sumConf = 0;
    let sumCorrect = 0;
    for (let i = 0; i < n; i++) {
      const c = confidences[i];
      if (c > lower && c <= upper) {
        count++;
        sumConf += c;
        if (correct[i]) sumCorrect++;
      }
    }
    const meanConfidence = count ? sumConf / count : 0;
    const accuracy = count ? sumCorrect / count : 0;
    if (count > 0) ece += Math.abs(meanConfidence - accuracy) * (count / n);
    bins.push({ lower, upper, count, meanConfidence, accuracy });
  }
  return { ece, bins };
}
