import { MetricsInputError } from './errors.js';

/**
 * A binary ROC curve as scikit-learn's `roc_curve(y_true, y_score, drop_intermediate=True)` returns it:
 * points ordered by decreasing threshold, starting at (0, 0) with threshold `Infinity`.
 */
export interface RocCurve {
  /** False-positive rate at each threshold. */
  fpr: number[];
  /** True-positive rate at each threshold. */
  tpr: number[];
  /**
   * Decision thresholds (score >= threshold counts as positive), decreasing; the first is `Infinity`
   * (serialised as `null` by `JSON.stringify`).
   */
  thresholds: number[];
}

/**
 * ROC curve of binary labels against scores, identical to scikit-learn 1.x `roc_curve` with
 * `drop_intermediate=True`: tied scores form one threshold, and points collinear with their neighbours
 * (zero second difference of both the false- and true-positive counts) are dropped.
 *
 * @param positive `positive[i]` is true when sample `i` belongs to the positive class.
 * @param scores Score of the positive class for each sample.
 * @returns The curve, or `undefined` when the labels hold only positives or only negatives (the rates are
 *   then undefined; scikit-learn warns and returns NaN).
 */
export function rocCurve(positive: ArrayLike<boolean | number>, scores: ArrayLike<number>): RocCurve | undefined {
  const n = scores.length;
  if (positive.length !== n) {
    throw new MetricsInputError(`rocCurve: ${positive.length} labels but ${n} scores`);
  }
  // Descending by score; the order within ties does not matter since only the ends of tie groups are read.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const fps: number[] = [];
  const tps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  for (let r = 0; r < n; r++) {
    const i = order[r];
    if (positive[i]) tp++;
    // Last index of each group of equal scores (np.diff(y_score) != 0), plus the final sample.
    if (r === n - 1 || scores[order[r + 1]] !== scores[i]) {
      tps.push(tp);
      fps.push(r + 1 - tp);
      thresholds.push(scores[i]);
    }
  }
  const totalP = tps.length ? tps[tps.length - 1] : 0;
  const totalN = fps.length ? fps[fps.length - 1] : 0;
  if (totalP <= 0 || totalN <= 0) return undefined;

  const keep: number[] = [];
  const m = fps.length;
  for (let i = 0; i < m; i++) {
    if (m <= 2 || i === 0 || i === m - 1) {
      keep.push(i);
      continue;
    }
    const d2f = fps[i + 1] - fps[i] - (fps[i] - fps[i - 1]);
    const d2t = tps[i + 1] - tps[i] - (tps[i] - tps[i - 1]);
    if (d2f !== 0 || d2t !== 0) keep.push(i);
  }
  const curve: RocCurve = { fpr: [0], tpr: [0], thresholds: [Infinity] };
  for (const i of keep) {
    curve.fpr.push(fps[i] / totalN);
    curve.tpr.push(tps[i] / totalP);
    curve.thresholds.push(thresholds[i]);
  }
  return curve;
}

/**
 * Area under a curve by the trapezoidal rule (scikit-learn's `auc` on an increasing x).
 * @param x Abscissae, in order.
 * @param y Ordinates, one per abscissa.
 * @throws {@link MetricsInputError} when `x` and `y` differ in length.
 */
export function trapezoidArea(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new MetricsInputError(`trapezoidArea: ${x.length} x values but ${y.length} y values`);
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return area;
}

/**
 * Binary ROC AUC, equal to scikit-learn's `roc_auc_score(positive, scores)` (ties count one half).
 * @returns `undefined` when the labels hold only one class.
 */
export function rocAuc(positive: ArrayLike<boolean | number>, scores: ArrayLike<number>): number | undefined {
  const curve = rocCurve(positive, scores);
  return curve && trapezoidArea(curve.fpr, curve.tpr);
}
