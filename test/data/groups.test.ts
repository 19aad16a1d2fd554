import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { groupNearDuplicates, DataOptionError } from '../../src/data/index.js';
import { ParquetImageDataset, StratifiedSplit, type LabeledImageSource } from '../../src/index.js';
import { linkRows } from '../../src/data/groups.js';
import { adjustedRandIndex, groupAgreement, splitLeak } from '../../scripts/measure-groups.js';
import { repoRoot, sharedFile } from './helpers.js';

function source(images: Float32Array[], labels: number[]): LabeledImageSource {
  return {
    length: images.length,
    labels: Int32Array.from(labels),
    classNames: ['a', 'b'],
    imageSize: [32, 32],
    get: (i: number) => ({ image: images[i], label: labels[i] }),
  };
}
const constant = (v: number) => new Float32Array(32 * 32).fill(v);
const settings = { threshold: 20, size: 32, maxGroupSize: Infinity, sameLabel: true };

describe('linkRows (union-find over closest-first links)', () => {
  it('chains links into groups, numbered by first row', () => {
    const r = linkRows(6, [{ a: 3, b: 4 }, { a: 0, b: 5 }, { a: 4, b: 5 }], [0, 0, 0, 0, 0, 0], settings);
    expect(Array.from(r.groups)).toEqual([0, 1, 2, 0, 0, 0]);
    expect(Array.from(r.sizes)).toEqual([4, 1, 1]);
    expect([r.count, r.singletons, r.cappedLinks, r.crossLabelLinks]).toEqual([3, 2, 0, 0]);
  });

  it('skips links across labels and links past the size cap, and counts them', () => {
    const labels = [0, 0, 1, 0, 0];
    const r = linkRows(5, [{ a: 0, b: 1 }, { a: 1, b: 2 }, { a: 3, b: 4 }, { a: 1, b: 3 }], labels, { ...settings, maxGroupSize: 3 });
    // 0-1 joins; 1-2 crosses labels; 3-4 joins; 1-3 would make 4 > 3 rows.
    expect(Array.from(r.groups)).toEqual([0, 0, 1, 2, 2]);
    expect([r.crossLabelLinks, r.cappedLinks]).toEqual([1, 1]);
    const anyLabel = linkRows(5, [{ a: 0, b: 1 }, { a: 1, b: 2 }], labels, { ...settings, sameLabel: false });
    expect(Array.from(anyLabel.groups)).toEqual([0, 0, 0, 1, 2]);
  });
});

describe('groupNearDuplicates', () => {
  it('groups images within the threshold (hand-computed RMS = constant offset), closest pairs first', async () => {
    // 100, 110, 125 chain at threshold 16 (distances 10 and 15); 200 is 75 away from everything; 90 (label 1) is
    // 10 from 100 but another label.
    const ds = source([constant(100), constant(200), constant(110), constant(125), constant(90)], [0, 0, 0, 0, 1]);
    const r = await groupNearDuplicates(ds, { threshold: 16 });
    expect(Array.from(r.groups)).toEqual([0, 1, 0, 0, 2]);
    expect(r.crossLabelLinks).toBe(1);
    const tight = await groupNearDuplicates(ds, { threshold: 12 });
    expect(Array.from(tight.groups)).toEqual([0, 1, 0, 2, 3]);
    // Cap 2: 100-110 (distance 10) links first, so 125 stays alone even though 110-125 is within 16.
    const capped = await groupNearDuplicates(ds, { threshold: 16, maxGroupSize: 2 });
    expect(Array.from(capped.groups)).toEqual([0, 1, 0, 2, 3]);
    expect(capped.cappedLinks).toBe(1);
  });

  it('rejects bad options with a DataOptionError', async () => {
    const ds = source([constant(1)], [0]);
    await expect(groupNearDuplicates(ds, { threshold: -1 })).rejects.toThrow(DataOptionError);
    await expect(groupNearDuplicates(ds, { maxGroupSize: 0 })).rejects.toThrow(/maxGroupSize/);
  });

  it('on the real test file (41 people x 32 slices), the default threshold 20 gives one person per cluster, a few people cut', async () => {
    const ds = await ParquetImageDataset.fromFile(sharedFile('test.parquet'));
    const subjects = ds.subjects!;
    expect(new Set(subjects).size).toBe(41);
    const r = await groupNearDuplicates(ds);
    // Measured with scripts/measure-groups.ts (docs/data.md): 53 clusters, ARI 0.967, 9 of 41 people cut, none mixed.
    const a = groupAgreement(subjects, r.groups);
    expect(a.clusters).toBe(r.count);
    expect(r.count).toBe(53);
    expect(a.mixedClusters).toBe(0);
    expect(a.peopleCut).toBe(9);
    expect(a.ari).toBeCloseTo(0.967, 3);
    expect(r.crossLabelLinks).toBe(0);
    // A split by these clusters still puts some people on both sides; a split by subject puts none.
    const byClusters = new StratifiedSplit({ testSize: 0.2, seed: 1 }).split(ds.labels, r.groups);
    const leak = splitLeak(subjects, byClusters.train, byClusters.test);
    expect(leak.peopleOnBothSides).toBeGreaterThan(0);
    expect(leak.peopleOnBothSides).toBeLessThanOrEqual(a.peopleCut);
    const bySubject = new StratifiedSplit({ testSize: 0.2, seed: 1 }).splitSource(ds);
    expect(splitLeak(subjects, bySubject.train, bySubject.test)).toEqual({ peopleOnBothSides: 0, leakedValidationShare: 0 });
  }, 60_000);
});

describe('measuring clusters against people (scripts/measure-groups.ts)', () => {
  it('adjustedRandIndex equals scikit-learn adjusted_rand_score (test/fixtures/data/ari_reference.json)', () => {
    const ref = JSON.parse(readFileSync(path.join(repoRoot, 'test/fixtures/data/ari_reference.json'), 'utf8')) as {
      generator: string;
      cases: Array<{ name: string; truth: Array<string | number>; predicted: Array<string | number>; ari: number }>;
    };
    expect(ref.generator).toMatch(/^scikit-learn /);
    expect(ref.cases.length).toBeGreaterThanOrEqual(15);
    for (const c of ref.cases) {
      expect(Math.abs(adjustedRandIndex(c.truth, c.predicted) - c.ari), c.name).toBeLessThan(1e-12);
      // Symmetric in its arguments.
      expect(Math.abs(adjustedRandIndex(c.predicted, c.truth) - c.ari), c.name).toBeLessThan(1e-12);
    }
    expect(ref.cases.some((c) => c.ari < 0)).toBe(true);
    expect(() => adjustedRandIndex([0, 1], [0])).toThrow(/2 truth labels but 1 predicted/);
  });

  it('groupAgreement counts cut people, mixed clusters and their rows (hand-checked)', () => {
    // People a (4 rows), b (2), c (2); clusters: a -> 0, 0, 1, 1 (cut); b and c -> 2 (merged).
    const people = ['a', 'a', 'a', 'a', 'b', 'b', 'c', 'c'];
    const clusters = [0, 0, 1, 1, 2, 2, 2, 2];
    const g = groupAgreement(people, clusters);
    expect(g).toMatchObject({ people: 3, clusters: 3, peopleCut: 1, mixedClusters: 1, rowsInMixedClusters: 4, largestCluster: 4 });
    expect(g.peopleCutShare).toBeCloseTo(1 / 3, 12);
    // Pairs: same person 6 + 1 + 1 = 8; same cluster 1 + 1 + 6 = 8; both 1 + 1 + 1 + 1 = 4; of 28 pairs.
    // ARI = (4 - 8 * 8 / 28) / ((8 + 8) / 2 - 8 * 8 / 28).
    expect(g.ari).toBeCloseTo((4 - 64 / 28) / (8 - 64 / 28), 12);
    expect(groupAgreement(people, people)).toMatchObject({ ari: 1, peopleCut: 0, mixedClusters: 0 });
  });

  it('splitLeak counts people on both sides and the validation rows whose person is in training', () => {
    const people = ['a', 'a', 'b', 'b', 'c', 'c'];
    expect(splitLeak(people, [0, 2, 3, 4, 5], [1])).toEqual({ peopleOnBothSides: 1, leakedValidationShare: 1 });
    expect(splitLeak(people, [0, 1, 2], [3, 4, 5])).toEqual({ peopleOnBothSides: 1, leakedValidationShare: 1 / 3 });
    expect(splitLeak(people, [0, 1], [2, 3, 4, 5])).toEqual({ peopleOnBothSides: 0, leakedValidationShare: 0 });
  });
});
