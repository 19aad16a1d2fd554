import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { groupNearDuplicates, ParquetImageDataset, StratifiedSplit, DataOptionError, type LabeledImageSource } from '../../src/index.js';
import { linkRows } from '../../src/data/groups.js';
import { sharedFile } from './helpers.js';

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

  it('recovers the real test file\'s subjects: every cluster holds one person, and split by clusters, no person straddles', async () => {
    const ds = await ParquetImageDataset.fromFile(sharedFile('test.parquet'));
    const manifest = readFileSync(sharedFile('manifest.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const subject: string[] = [];
    for (const row of manifest) if (row[0] === 'test') subject[Number(row[1])] = row[6];
    expect(subject.filter(Boolean)).toHaveLength(ds.length);
    const r = await groupNearDuplicates(ds);
    const subjectsOfGroup = new Map<number, Set<string>>();
    for (let i = 0; i < ds.length; i++) {
      const set = subjectsOfGroup.get(r.groups[i]) ?? new Set<string>();
      set.add(subject[i]);
      subjectsOfGroup.set(r.groups[i], set);
    }
    expect([...subjectsOfGroup.values()].every((s) => s.size === 1)).toBe(true);
    expect(new Set(subject).size).toBe(100);
    // 100 people, a few split in two: close to one cluster per person.
    expect(r.count).toBeGreaterThanOrEqual(100);
    expect(r.count).toBeLessThanOrEqual(110);
    // Most people stay whole on one side of a cluster-grouped split.
    const split = new StratifiedSplit({ testSize: 0.2, seed: 1 }).split(ds.labels, r.groups);
    const side = new Uint8Array(ds.length);
    for (const i of split.test) side[i] = 1;
    const sides = new Map<string, Set<number>>();
    for (let i = 0; i < ds.length; i++) sides.set(subject[i], (sides.get(subject[i]) ?? new Set()).add(side[i]));
    const straddling = [...sides.values()].filter((s) => s.size > 1).length;
    expect(straddling).toBeLessThanOrEqual(r.count - 100);
  }, 60_000);
});
