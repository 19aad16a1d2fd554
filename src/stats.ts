// Small numerical helpers shared by the data checks and the metrics.

/**
 * The `q`-th percentile (0..100) of values sorted ascending, interpolated linearly between order statistics
 * (numpy `percentile`, method "linear").
 * @param sorted Values in ascending order.
 * @param q Percentile, 0..100.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (q / 100) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}
