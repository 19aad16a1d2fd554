// Subject proxies from image similarity: adjacent MRI slices of one person are near-duplicates, so clustering them
// recovers groups that keep a person's slices on one side of a train / validation split.
import type { LabeledImageSource } from './types.js';
import { nearDuplicatesOfThumbnails, thumbnails } from './duplicates.js';
import { DataOptionError } from './errors.js';

/** Options of {@link groupNearDuplicates}. */
export interface NearDuplicateGroupOptions {
  /**
   * RMS distance (0..255 scale, on `size x size` thumbnails) at or below which two images may join one group.
   * Default 20: on `alzheimer-mri-subjects/train.parquet` (119 known people x 32 slices) it gives 161 groups with
   * an adjusted Rand index of 0.943 against the true people (see docs/data.md).
   */
  threshold?: number;
  /** Thumbnail side. Default 32. */
  size?: number;
  /**
   * Largest group allowed: a link that would make a bigger group is skipped. Single linkage chains similar people
   * together through intermediate slices; a cap at about the slices per subject stops that. Default: no cap.
   */
  maxGroupSize?: number;
  /**
   * Only link rows of the same label (default `true`): one person's slices share a diagnosis, so a link across
   * labels is always a chain between two people.
   */
  sameLabel?: boolean;
}

/** Result of {@link groupNearDuplicates}. */
export interface NearDuplicateGroups {
  /** Group id of every row, `0 .. count - 1`, numbered in order of each group's first row. */
  groups: Int32Array;
  /** Number of groups. */
  count: number;
  /** Rows in each group (indexed by group id). */
  sizes: Int32Array;
  /** Groups of a single row (images with no near-duplicate). */
  singletons: number;
  /** Links skipped because they would exceed `maxGroupSize`. */
  cappedLinks: number;
  /** Links skipped because the two rows have different labels. */
  crossLabelLinks: number;
  /** Settings used. */
  threshold: number;
  /** Thumbnail side used. */
  size: number;
}

/**
 * Groups the rows of a dataset into clusters of near-duplicate images (single linkage: two rows share a group when
 * a chain of links at or below `threshold` joins them), linking the closest pairs first. Use the groups as subject
 * IDs when the data has none, so that {@link StratifiedSplit.split} keeps each person's slices on one side:
 *
 * ```ts
 * const { groups } = await groupNearDuplicates(ds);
 * const split = new StratifiedSplit({ testSize: 0.2, seed: 42 }).split(ds.labels, groups);
 * ```
 *
 * It is an approximation: a person whose slices differ more than `threshold` becomes two groups (a smaller leak
 * than none), and two very similar people can merge (harmless for a split). Measured against the true people of
 * `alzheimer-mri-subjects` (`scripts/measure-groups.ts`): train.parquet, 3,808 rows of 119 people: 161 groups, ARI
 * 0.943, 28 people cut in several groups, 1 group mixing people; test.parquet, 41 people: 53 groups, ARI 0.967, none
 * mixing people. Use the data's subject column whenever it has one: a split by these groups still leaves about a
 * quarter of the validation rows with people the model trained on.
 * @param source Dataset.
 * @param options Threshold, thumbnail size, size cap, label constraint.
 * @returns Group id per row and statistics.
 * @throws {@link data!DataOptionError} for a negative threshold or a bad size / cap.
 */
export async function groupNearDuplicates(source: LabeledImageSource, options: NearDuplicateGroupOptions = {}): Promise<NearDuplicateGroups> {
  const threshold = options.threshold ?? 20;
  const size = options.size ?? 32;
  const maxGroupSize = options.maxGroupSize ?? Infinity;
  const sameLabel = options.sameLabel ?? true;
  if (!(threshold >= 0)) throw new DataOptionError(`threshold must be >= 0, got ${threshold}`);
  if (!Number.isInteger(size) || size < 1) throw new DataOptionError(`size must be a positive integer, got ${size}`);
  if (!(maxGroupSize >= 1)) throw new DataOptionError(`maxGroupSize must be >= 1, got ${maxGroupSize}`);
  const n = source.length;
  const thumbs = await thumbnails(source, size);
  const report = nearDuplicatesOfThumbnails(thumbs, n, thumbs, n, size, threshold, Number.MAX_SAFE_INTEGER, true);
  // Each unordered pair appears twice (a,b) and (b,a); keep one, closest first (ties by row for determinism).
  const links = report.pairs.filter((p) => p.a < p.b).sort((p, q) => p.distance - q.distance || p.a - q.a || p.b - q.b);
  return linkRows(n, links, source.labels, { threshold, size, maxGroupSize, sameLabel });
}

/** Union-find over closest-first links (exported for tests on hand-made links). */
export function linkRows(
  n: number,
  links: ReadonlyArray<{ a: number; b: number }>,
  labels: ArrayLike<number>,
  settings: { threshold: number; size: number; maxGroupSize: number; sameLabel: boolean },
): NearDuplicateGroups {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const rootSize = new Int32Array(n).fill(1);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  let cappedLinks = 0;
  let crossLabelLinks = 0;
  for (const { a, b } of links) {
    let ra = find(a);
    let rb = find(b);
    if (ra === rb) continue;
    if (settings.sameLabel && labels[a] !== labels[b]) { crossLabelLinks++; continue; }
    if (rootSize[ra] + rootSize[rb] > settings.maxGroupSize) { cappedLinks++; continue; }
    if (ra > rb) [ra, rb] = [rb, ra];
    parent[rb] = ra;
    rootSize[ra] += rootSize[rb];
  }
  const groups = new Int32Array(n);
  const idOfRoot = new Map<number, number>();
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = find(i);
    let id = idOfRoot.get(r);
    if (id === undefined) {
      id = sizes.length;
      idOfRoot.set(r, id);
      sizes.push(0);
    }
    groups[i] = id;
    sizes[id]++;
  }
  return {
    groups, count: sizes.length, sizes: Int32Array.from(sizes), singletons: sizes.filter((s) => s === 1).length,
    cappedLinks, crossLabelLinks, threshold: settings.threshold, size: settings.size,
  };
}
