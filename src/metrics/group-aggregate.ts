// Per-subject figures from per-slice predictions: a diagnosis belongs to a person, not to one slice.
import { MetricsInputError } from './errors.js';

/** Options of {@link aggregateByGroup}. */
export interface AggregateByGroupOptions {
  /**
   * How a group's slice probabilities combine: `'mean'` (default) averages them; `'geometric'` averages their logs
   * and renormalises (a product of experts: one confident slice counts more).
   */
  combine?: 'mean' | 'geometric';
}

/** One row per group: what {@link index!MultiClassMetrics} takes to score people instead of slices. */
export interface GroupedPredictions {
  /** The group key of each output row, in order of first appearance. */
  groups: Array<string | number>;
  /** The group's label (every member shares it). */
  labels: Int32Array;
  /** Combined class probabilities, row-major `[G * numClasses]`, each row summing to 1. */
  probabilities: Float32Array;
  /** Members per group. */
  sizes: Int32Array;
}

/**
 * Combines per-slice predictions into one prediction per group (subject): the group's probabilities are the mean
 * (or normalised geometric mean) of its members'. Feed the result to `MultiClassMetrics` for subject-level
 * accuracy, AUC and kappa.
 * @param probabilities Per-row probabilities, row-major `[N * numClasses]`.
 * @param labels True class per row, `[N]`.
 * @param groups Group key per row (subject ID, or a cluster id from `groupNearDuplicates`), `[N]`.
 * @param numClasses K.
 * @param options How probabilities combine.
 * @returns One row per group.
 * @throws {@link MetricsInputError} for mismatched lengths, or a group whose rows carry different labels (named).
 */
export function aggregateByGroup(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number>,
  groups: ArrayLike<string | number>,
  numClasses: number,
  options: AggregateByGroupOptions = {},
): GroupedPredictions {
  const n = labels.length;
  const k = numClasses;
  const combine = options.combine ?? 'mean';
  if (combine !== 'mean' && combine !== 'geometric') throw new MetricsInputError(`combine must be 'mean' or 'geometric', got '${String(combine)}'`);
  if (!Number.isInteger(k) || k < 2) throw new MetricsInputError(`numClasses must be an integer >= 2, got ${k}`);
  if (probabilities.length !== n * k) throw new MetricsInputError(`probabilities has ${probabilities.length} values, expected ${n} rows x ${k} classes = ${n * k}`);
  if (groups.length !== n) throw new MetricsInputError(`groups has ${groups.length} entries but labels has ${n}`);
  const index = new Map<string | number, number>();
  const keys: Array<string | number> = [];
  const groupLabels: number[] = [];
  const sizes: number[] = [];
  const sums: number[] = [];
  for (let i = 0; i < n; i++) {
    const key = groups[i];
    let g = index.get(key);
    if (g === undefined) {
      g = keys.length;
      index.set(key, g);
      keys.push(key);
      groupLabels.push(labels[i]);
      sizes.push(0);
      for (let c = 0; c < k; c++) sums.push(0);
    } else if (groupLabels[g] !== labels[i]) {
      throw new MetricsInputError(`group ${String(key)} mixes labels ${groupLabels[g]} and ${labels[i]} (row ${i}): a group must be one subject with one diagnosis`);
    }
    sizes[g]++;
    for (let c = 0; c < k; c++) {
      const p = probabilities[i * k + c];
      // Floor at 1e-12 so that one zero does not veto a class in the geometric mean.
      sums[g * k + c] += combine === 'mean' ? p : Math.log(Math.max(p, 1e-12));
    }
  }
  const out = new Float32Array(keys.length * k);
  for (let g = 0; g < keys.length; g++) {
    const row = sums.slice(g * k, (g + 1) * k).map((s) => s / sizes[g]);
    const values = combine === 'mean' ? row : (() => { const m = Math.max(...row); return row.map((v) => Math.exp(v - m)); })();
    const total = values.reduce((a, b) => a + b, 0);
    for (let c = 0; c < k; c++) out[g * k + c] = values[c] / total;
  }
  return { groups: keys, labels: Int32Array.from(groupLabels), probabilities: out, sizes: Int32Array.from(sizes) };
}
