import { createRng, mixSeed, shuffleInPlace } from '../random.js';
import { DataOptionError, EmptyDatasetError } from './errors.js';
import type { LabeledImageSource } from './types.js';

/** Options of {@link StratifiedSplit}. */
export interface StratifiedSplitOptions {
  /** Fraction of rows (or of groups' rows) that go to the test side, in (0, 1). Default 0.2. */
  testSize?: number;
  /** Seed: the same seed, labels and groups give the same split. Default 0. */
  seed?: number;
}

/** Row indices of the two sides of a split, each sorted ascending. */
export interface SplitIndices {
  /** Training rows. */
  train: Int32Array;
  /** Test rows. */
  test: Int32Array;
}

/**
 * Seeded stratified train/test split.
 *
 * Without groups, each class `c` with `n_c` rows puts `floor(n_c * testSize)` or one more rows in test, so every
 * class's share of the test side is within one row of the whole's; the total test size is
 * `round(N * testSize)` (leftover rows go to the classes with the largest remainders, ties broken by the seed).
 *
 * With groups (e.g. subject IDs), whole groups are assigned: every row of a group lands on the same side.
 * Groups are stratified by their majority label (ties: the smaller label), and within each class groups are
 * taken in a seeded random order while that brings the class's test rows closer to `n_c * testSize`, so
 * proportions are as close as the group sizes allow. When that leaves the test side empty (few, large groups) and
 * there are at least two groups, one group goes to test: the first in the seeded order of the class with the most
 * groups.
 * {@link StratifiedSplit.splitSource} picks for you: by person when the data has subjects, else by row.
 * @example
 * ```ts
 * const { train, test } = new StratifiedSplit({ testSize: 0.2, seed: 42 }).splitSource(ds); // by person
 * const rows = new StratifiedSplit({ testSize: 0.2, seed: 42 }).split(ds.labels);             // by row
 * ```
 */
export class StratifiedSplit {
  /** Fraction of rows that go to test. */
  readonly testSize: number;
  /** Seed. */
  readonly seed: number;

  /** @param options Test fraction and seed. */
  constructor(options: StratifiedSplitOptions = {}) {
    const testSize = options.testSize ?? 0.2;
    if (typeof testSize !== 'number' || !(testSize > 0 && testSize < 1)) {
      throw new DataOptionError(`testSize must be a fraction in (0, 1), got ${String(testSize)}`);
    }
    const seed = options.seed ?? 0;
    if (!Number.isFinite(seed)) throw new DataOptionError(`seed must be a finite number, got ${String(seed)}`);
    this.testSize = testSize;
    this.seed = seed;
  }

  /**
   * Splits rows `0..labels.length-1`.
   * @param labels Class index of every row (non-negative integers).
   * @param groups Optional group key of every row (same length); rows of one group stay together.
   * @returns Sorted train and test row indices.
   * @throws {@link data!DataOptionError} for negative/non-integer labels or a `groups` of another length;
   *   {@link data!EmptyDatasetError} for 0 rows (nothing to split: both sides would be empty).
   */
  split(labels: ArrayLike<number>, groups?: ArrayLike<string | number>): SplitIndices {
    const n = labels.length;
    if (n === 0) throw new EmptyDatasetError('nothing to split: 0 rows (both the train and the test side would be empty)');
    for (let i = 0; i < n; i++) {
      if (!Number.isInteger(labels[i]) || labels[i] < 0) throw new DataOptionError(`labels[${i}] = ${labels[i]} is not a non-negative integer`);
    }
    if (groups !== undefined && groups.length !== n) {
      throw new DataOptionError(`groups has ${groups.length} entries but labels has ${n}`);
    }
    const isTest = groups === undefined ? this.#splitRows(labels) : this.#splitGroups(labels, groups);
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < n; i++) (isTest[i] ? test : train).push(i);
    return { train: Int32Array.from(train), test: Int32Array.from(test) };
  }

  /**
   * Splits a source's rows by person when it has `subjects` (every person's slices on one side, people stratified by
   * their label), else row by row. Slices of one person are near-duplicates: a split by row puts a person on both
   * sides and makes validation figures optimistic.
   * @param source Labels and, when known, the subject of every row.
   * @returns Sorted train and test row indices.
   * @throws {@link data!EmptyDatasetError} for a source of 0 rows, naming its `file` when it has one.
   */
  splitSource(source: Pick<LabeledImageSource, 'labels' | 'subjects'> & { file?: string }): SplitIndices {
    if (source.labels.length === 0) {
      throw new EmptyDatasetError('nothing to split: the source has 0 rows', typeof source.file === 'string' ? { file: source.file } : {});
    }
    return this.split(source.labels, source.subjects);
  }

  #splitRows(labels: ArrayLike<number>): Uint8Array {
    const n = labels.length;
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const list = byClass.get(labels[i]);
      if (list) list.push(i);
      else byClass.set(labels[i], [i]);
    }
    const classes = [...byClass.keys()].sort((a, b) => a - b);
    const rng = createRng(mixSeed(this.seed, 0x5b11));
    // Largest-remainder allocation of round(n * testSize) test rows over the classes.
    const exact = classes.map((c) => (byClass.get(c) as number[]).length * this.testSize);
    const counts = exact.map(Math.floor);
    let left = Math.round(n * this.testSize) - counts.reduce((a, b) => a + b, 0);
    const tiebreak = classes.map(() => rng());
    const order = classes.map((_, k) => k).sort((a, b) => (exact[b] - counts[b]) - (exact[a] - counts[a]) || tiebreak[a] - tiebreak[b]);
    for (const k of order) {
      if (left <= 0) break;
      if (exact[k] - counts[k] > 0) { counts[k]++; left--; }
    }
    const isTest = new Uint8Array(n);
    classes.forEach((c, k) => {
      const rows = Int32Array.from(byClass.get(c) as number[]);
      shuffleInPlace(rows, createRng(mixSeed(this.seed, c, 0xc1a5)));
      for (let j = 0; j < counts[k]; j++) isTest[rows[j]] = 1;
    });
    return isTest;
  }

  #splitGroups(labels: ArrayLike<number>, groups: ArrayLike<string | number>): Uint8Array {
    const n = labels.length;
    const members = new Map<string | number, number[]>();
    for (let i = 0; i < n; i++) {
      const g = groups[i];
      const list = members.get(g);
      if (list) list.push(i);
      else members.set(g, [i]);
    }
    // Majority label of each group; group keys sorted so the result does not depend on row order of first sight.
    const keys = [...members.keys()].sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
    const byClass = new Map<number, Array<{ key: string | number; size: number }>>();
    for (const key of keys) {
      const rows = members.get(key) as number[];
      const votes = new Map<number, number>();
      for (const r of rows) votes.set(labels[r], (votes.get(labels[r]) ?? 0) + 1);
      const best = majorityLabel(votes);
      const list = byClass.get(best);
      const entry = { key, size: rows.length };
      if (list) list.push(entry);
      else byClass.set(best, [entry]);
    }
    const isTest = new Uint8Array(n);
    let firstChoice: { key: string | number; groups: number } | null = null;
    let anyTest = false;
    for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
      const gs = byClass.get(c) as Array<{ key: string | number; size: number }>;
      const order = Int32Array.from(gs.keys());
      shuffleInPlace(order, createRng(mixSeed(this.seed, c, 0x6e0b)));
      if (!firstChoice || gs.length > firstChoice.groups) firstChoice = { key: gs[order[0]].key, groups: gs.length };
      const total = gs.reduce((a, g) => a + g.size, 0);
      const target = total * this.testSize;
      let taken = 0;
      for (const k of order) {
        const g = gs[k];
        if (Math.abs(taken + g.size - target) < Math.abs(taken - target)) {
          taken += g.size;
          anyTest = true;
          for (const r of members.get(g.key) as number[]) isTest[r] = 1;
        }
      }
    }
    // Few large groups (e.g. one person per class) can leave the test side empty: give it one group, the first in
    // the seeded order of the class with the most groups, so that a split always has two sides.
    if (!anyTest && firstChoice && members.size >= 2) for (const r of members.get(firstChoice.key) as number[]) isTest[r] = 1;
    return isTest;
  }
}

/**
 * The label most rows of a group carry (ties: the smaller label): how a person's label is read for stratifying by
 * person and for counting people per class.
 * @param votes Rows per label of one group.
 * @returns The majority label, or -1 for an empty group.
 * @internal
 */
export function majorityLabel(votes: ReadonlyMap<number, number>): number {
  let best = -1;
  let bestVotes = -1;
  for (const [label, v] of votes) if (v > bestVotes || (v === bestVotes && label < best)) { best = label; bestVotes = v; }
  return best;
}
