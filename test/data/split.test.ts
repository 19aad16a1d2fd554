import { describe, expect, it } from 'vitest';
import { ParquetImageDataset, StratifiedSplit } from '../../src/index.js';
import { DataOptionError } from '../../src/data/index.js';
import { pseudoRandom, sharedFile } from './helpers.js';

// Class sizes of the real training file: 512 / 32 / 1920 / 1344 (3808 rows).
const counts = [512, 32, 1920, 1344];
const labels = Int32Array.from(pseudoRandom(3808, 1_000_000, 5).map((_, i) => i)).map((i) => {
  let k = i;
  for (let c = 0; c < counts.length; c++) { if (k < counts[c]) return c; k -= counts[c]; }
  return -1;
});
// Interleave deterministically so classes are not in blocks.
const order = pseudoRandom(labels.length, 1 << 30, 9).map((r, i) => [r, i]).sort((a, b) => a[0] - b[0]).map((p) => p[1]);
const mixed = Int32Array.from(order, (i) => labels[i]);

const countOf = (idx: Int32Array, lab: ArrayLike<number>, c: number) => Array.from(idx).filter((i) => lab[i] === c).length;

describe('StratifiedSplit', () => {
  it('keeps each class within one row of the exact proportion, total round(N * testSize)', () => {
    for (const testSize of [0.2, 0.1, 0.33]) {
      const { train, test } = new StratifiedSplit({ testSize, seed: 1 }).split(mixed);
      expect(train.length + test.length).toBe(mixed.length);
      expect(test.length).toBe(Math.round(mixed.length * testSize));
      expect(new Set([...train, ...test]).size).toBe(mixed.length);
      counts.forEach((n, c) => expect(Math.abs(countOf(test, mixed, c) - n * testSize)).toBeLessThan(1));
    }
  });

  it('hand-checked small case: 10 a, 5 b, testSize 0.2 -> 2 a + 1 b in test', () => {
    const lab = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
    const { test } = new StratifiedSplit({ testSize: 0.2, seed: 3 }).split(lab);
    expect([countOf(test, lab, 0), countOf(test, lab, 1)]).toEqual([2, 1]);
  });

  it('is deterministic in the seed and varies with it; outputs are sorted', () => {
    const a = new StratifiedSplit({ seed: 7 }).split(mixed);
    const b = new StratifiedSplit({ seed: 7 }).split(mixed);
    const c = new StratifiedSplit({ seed: 8 }).split(mixed);
    expect(a.test).toEqual(b.test);
    expect(a.train).toEqual(b.train);
    expect(a.test).not.toEqual(c.test);
    expect(Array.from(a.test)).toEqual(Array.from(a.test).sort((x, y) => x - y));
  });

  it('keeps groups whole and stratifies them by majority label', () => {
    // 200 subjects with 3-9 slices each; each subject mostly one class (one stray slice for some).
    const lab: number[] = [];
    const groups: string[] = [];
    const sizes = pseudoRandom(200, 7, 21).map((s) => s + 3);
    const cls = pseudoRandom(200, 4, 22);
    sizes.forEach((s, g) => {
      for (let k = 0; k < s; k++) {
        lab.push(k === 0 && g % 5 === 0 ? (cls[g] + 1) % 4 : cls[g]);
        groups.push(`S${g}`);
      }
    });
    const { train, test } = new StratifiedSplit({ testSize: 0.25, seed: 4 }).split(lab, groups);
    const side = new Map<string, string>();
    for (const [name, idx] of [['train', train], ['test', test]] as const) {
      for (const i of idx) {
        const prev = side.get(groups[i]);
        expect(prev === undefined || prev === name).toBe(true);
        side.set(groups[i], name);
      }
    }
    expect(train.length + test.length).toBe(lab.length);
    // Proportions are as close as group sizes (<= 9 rows) allow.
    for (let c = 0; c < 4; c++) {
      const n = lab.filter((l) => l === c).length;
      expect(Math.abs(countOf(test, lab, c) - n * 0.25)).toBeLessThanOrEqual(10);
    }
    expect(Math.abs(test.length - lab.length * 0.25)).toBeLessThanOrEqual(20);
    const again = new StratifiedSplit({ testSize: 0.25, seed: 4 }).split(lab, groups);
    expect(again.test).toEqual(test);
  });

  it('splitSource: by person when the source has subjects (every person on one side, people stratified by label)', () => {
    // 40 people of 2-6 slices; person p has label p % 4 (10 people per class).
    const subjects: string[] = [];
    const lab: number[] = [];
    pseudoRandom(40, 5, 31).forEach((extra, p) => {
      for (let k = 0; k < extra + 2; k++) { subjects.push(`subject-${p}`); lab.push(p % 4); }
    });
    const source = { labels: Int32Array.from(lab), subjects };
    const { train, test } = new StratifiedSplit({ testSize: 0.2, seed: 5 }).splitSource(source);
    expect(train.length + test.length).toBe(lab.length);
    const people = (idx: Int32Array) => new Set(Array.from(idx, (i) => subjects[i]));
    const [a, b] = [people(train), people(test)];
    expect([...b].filter((s) => a.has(s))).toEqual([]);
    // Every person whole: all their rows on their side.
    for (const s of b) expect(Array.from(test).filter((i) => subjects[i] === s).length).toBe(subjects.filter((x) => x === s).length);
    // Stratified by person label: each class gives 2 of its 10 people to the test side, within one person.
    for (let c = 0; c < 4; c++) {
      const n = [...b].filter((s) => Number(s.split('-')[1]) % 4 === c).length;
      expect(Math.abs(n - 2), `class ${c}`).toBeLessThanOrEqual(1);
    }
    // The same as split(labels, subjects); without subjects, the same as split(labels).
    expect(new StratifiedSplit({ testSize: 0.2, seed: 5 }).split(lab, subjects).test).toEqual(test);
    const byRows = new StratifiedSplit({ testSize: 0.2, seed: 5 }).splitSource({ labels: Int32Array.from(lab) });
    expect(byRows.test).toEqual(new StratifiedSplit({ testSize: 0.2, seed: 5 }).split(lab).test);
    expect(people(byRows.test).size).toBeGreaterThan(b.size); // by row, more people reach the test side
  });

  it('splitSource on the real train.parquet: 23 of 119 people in validation at seed 42, none shared, whole people', async () => {
    const train = await ParquetImageDataset.fromFile(sharedFile('train.parquet'));
    const split = new StratifiedSplit({ testSize: 0.2, seed: 42 }).splitSource(train);
    expect(split.train.length + split.test.length).toBe(3808);
    const subjects = train.subjects!;
    const people = (idx: Int32Array) => new Set(Array.from(idx, (i) => subjects[i]));
    const [a, b] = [people(split.train), people(split.test)];
    expect(b.size).toBe(23);
    expect(a.size).toBe(119 - 23);
    expect([...b].filter((s) => a.has(s))).toEqual([]);
    expect(split.test.length).toBe(23 * 32); // 32 slices each
    // Stratified by person: each class's validation people within one of 20% of its 16 / 1 / 60 / 42 people.
    const labelOf = new Map(subjects.map((s, i) => [s, train.labels[i]]));
    const perClass = [0, 1, 2, 3].map((k) => [...b].filter((s) => labelOf.get(s) === k).length);
    [16, 1, 60, 42].forEach((n, k) => expect(Math.abs(perClass[k] - 0.2 * n), `class ${k}`).toBeLessThanOrEqual(1));
  }, 60_000);

  it('never leaves the test side empty: one person per class gives one whole person in test', () => {
    // The bundled sample's shape: 4 people (one per class) x 32 slices. Per class, the greedy pass takes no group
    // (a 32-row group is farther from 0.2 x 32 = 6.4 rows than none is), so the split gives the test side one group.
    const lab = Array.from({ length: 128 }, (_, i) => Math.floor(i / 32));
    const groups = lab.map((c) => `person-${c}`);
    for (const seed of [1, 2, 3]) {
      const { train, test } = new StratifiedSplit({ testSize: 0.2, seed }).split(lab, groups);
      expect(test.length, `seed ${seed}`).toBe(32);
      const testGroups = new Set(Array.from(test, (i) => groups[i]));
      expect(testGroups.size).toBe(1);
      const [g] = [...testGroups];
      expect(Array.from(test)).toEqual(groups.flatMap((x, i) => (x === g ? [i] : []))); // all of that person's rows
      expect(Array.from(train, (i) => groups[i])).not.toContain(g);
      expect(train.length).toBe(96);
    }
    // Two people per class: still one whole person, not an empty side.
    const twoEach = lab.map((c, i) => `p${c}-${Math.floor(i / 16) % 2}`);
    const two = new StratifiedSplit({ testSize: 0.2, seed: 1 }).split(lab, twoEach);
    expect(two.test.length).toBe(16);
    expect(new Set(Array.from(two.test, (i) => twoEach[i])).size).toBe(1);
  });

  it('with many people per class, a class of one person still stays on the training side (no extra group)', () => {
    // Like train.parquet's one Moderate person: class 1 is one group of 32 rows, classes 0 / 2 / 3 have 20 groups
    // of 4 rows each. The test side gets 16 of each class's 80 rows and nothing of class 1.
    const lab: number[] = [];
    const groups: string[] = [];
    for (const c of [0, 2, 3]) for (let g = 0; g < 20; g++) for (let k = 0; k < 4; k++) { lab.push(c); groups.push(`c${c}-g${g}`); }
    for (let k = 0; k < 32; k++) { lab.push(1); groups.push('moderate'); }
    const { train, test } = new StratifiedSplit({ testSize: 0.2, seed: 6 }).split(lab, groups);
    expect([0, 1, 2, 3].map((c) => countOf(test, lab, c))).toEqual([16, 0, 16, 16]);
    expect(countOf(train, lab, 1)).toBe(32);
    const side = new Map<string, 'train' | 'test'>();
    for (const [name, idx] of [['train', train], ['test', test]] as const) {
      for (const i of idx) {
        expect(side.get(groups[i]) ?? name).toBe(name);
        side.set(groups[i], name);
      }
    }
  });

  it('rejects bad options and inputs', () => {
    expect(() => new StratifiedSplit({ testSize: 1.5 })).toThrow(DataOptionError);
    expect(() => new StratifiedSplit({ testSize: 0 })).toThrow(/testSize/);
    expect(() => new StratifiedSplit().split([0, -1])).toThrow(/labels\[1\]/);
    expect(() => new StratifiedSplit().split([0, 1], ['a'])).toThrow(/groups/);
  });
});
