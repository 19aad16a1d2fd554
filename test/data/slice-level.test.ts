import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { compareSliceLevels, footprintRange, formatSliceLevels, outsideFootprintRange, headFootprint, headFootprints, sliceLevelWarning } from '../../src/data/index.js';
import { ksStatistic } from '../../src/data/slice-level.js';
import { percentileOfSorted } from '../../src/stats.js';
import type { LabeledImageSource } from '../../src/index.js';

const reference = JSON.parse(readFileSync(new URL('../fixtures/data/slice_level_reference.json', import.meta.url), 'utf8')) as {
  cases: { a: number[]; b: number[]; percentilesA: Record<string, number>; ks: number }[];
};

describe('headFootprint', () => {
  it('counts each row from its first to its last tissue pixel, dark holes inside included (hand-computed)', () => {
    // 4x5, tissue = 200, hole = 0 inside row 1, noise 10 (below the threshold) in row 3.
    const img = [
      0, 200, 200, 200, 0, //  3 (x1..x3)
      200, 0, 0, 0, 200, //    5 (hole counted)
      0, 0, 200, 0, 0, //      1
      10, 10, 10, 10, 10, //   0 (noise)
    ];
    expect(headFootprint(img, 4, 5)).toBeCloseTo(9 / 20, 12);
    // A higher threshold turns the 200s into background too.
    expect(headFootprint(img, 4, 5, 250)).toBe(0);
    // A threshold under the noise makes row 3 full.
    expect(headFootprint(img, 4, 5, 5)).toBeCloseTo(14 / 20, 12);
  });

  it('rejects pixels that do not make the stated size', () => {
    expect(() => headFootprint(new Float32Array(10), 4, 5)).toThrow(/10 pixels do not make a 4x5 image/);
  });

  it('headFootprints maps every row of a source', async () => {
    const disc = (r: number) => Float32Array.from({ length: 64 }, (_, p) => ((p % 8) - 3.5) ** 2 + (Math.floor(p / 8) - 3.5) ** 2 <= r * r ? 128 : 0);
    const images = [disc(2), new Float32Array(64).fill(90), new Float32Array(64)];
    const source: LabeledImageSource = {
      length: 3, labels: new Int32Array(3), classNames: ['a'], imageSize: [8, 8],
      get: (i) => ({ image: images[i], label: 0 }),
    };
    const f = await headFootprints(source);
    expect(f[0]).toBeCloseTo(headFootprint(images[0], 8, 8), 6);
    expect(Array.from(f.subarray(1))).toEqual([1, 0]);
    expect(f[0]).toBeGreaterThan(0.1);
    expect(f[0]).toBeLessThan(0.5);
  });
});

describe('percentiles and KS statistic against numpy / scipy', () => {
  it.each(reference.cases.map((c, i) => [i, c] as const))('case %i', (_, c) => {
    const a = Float64Array.from(c.a).sort();
    const b = Float64Array.from(c.b).sort();
    for (const [q, v] of Object.entries(c.percentilesA)) expect(percentileOfSorted(a, Number(q))).toBeCloseTo(v, 12);
    expect(ksStatistic(a, b)).toBeCloseTo(c.ks, 12);
    expect(ksStatistic(b, a)).toBeCloseTo(c.ks, 12);
  });

  it('empty samples give NaN, not a crash', () => {
    expect(ksStatistic([], [1])).toBeNaN();
    expect(percentileOfSorted([], 50)).toBeNaN();
  });
});

describe('compareSliceLevels', () => {
  it('flags files of different levels and passes files of the same level', () => {
    const [disjoint, , , same] = [reference.cases[2], null, null, reference.cases[3]];
    const shifted = compareSliceLevels(disjoint.a, disjoint.b);
    expect(shifted.comparedInsideReference).toBe(0);
    expect(shifted.ks).toBe(1);
    expect(shifted.shifted).toBe(true);
    expect(formatSliceLevels(shifted)).toMatch(/0 of 9 compared rows \(0\.0%\) lie in this range; KS 1\.000\n {2}WARNING: the files show different axial levels/);
    const level = compareSliceLevels(same.a, same.b);
    expect(level.comparedInsideFraction).toBe(1);
    expect(level.shifted).toBe(false);
    expect(formatSliceLevels(level)).not.toMatch(/WARNING/);
  });

  it('counts the compared rows inside the reference 1st-99th percentile range', () => {
    const ref = Array.from({ length: 101 }, (_, i) => i); // p1 = 1, p99 = 99
    const c = compareSliceLevels(ref, [0, 1, 50, 99, 100, 100]);
    expect(c.referenceSpread).toMatchObject({ count: 101, p1: 1, p5: 5, median: 50, p95: 95, p99: 99 });
    expect(c.comparedInsideReference).toBe(3);
    expect(c.comparedInsideFraction).toBeCloseTo(0.5, 12);
    expect(c.shifted).toBe(false); // half inside is not "fewer than half"
  });
});

describe('footprintRange and sliceLevelWarning', () => {
  it('footprintRange gives the 1st percentile, median and 99th percentile (numpy linear)', () => {
    const values = Array.from({ length: 101 }, (_, i) => i / 100);
    const r = footprintRange(values.reverse());
    expect(r.p1).toBeCloseTo(0.01, 12);
    expect(r.median).toBeCloseTo(0.5, 12);
    expect(r.p99).toBeCloseTo(0.99, 12);
  });

  it('warns about the images outside the training range, and says nothing when all are inside', () => {
    expect([0.487, 0.488, 0.519, 0.52].map((f) => outsideFootprintRange(f, { p1: 0.488, median: 0.5, p99: 0.519 }))).toEqual([true, false, false, true]);
    const training = { p1: 0.488, median: 0.513, p99: 0.519 };
    expect(sliceLevelWarning([0.49, 0.5, 0.519], training)).toBeUndefined();
    expect(sliceLevelWarning([0.47, 0.5, 0.466, 0.53], training)).toBe(
      '3 of 4 images lie outside the slice levels of 98% of the model\'s training slices (head footprint 0.488-0.519; here 0.466-0.530): the model\'s figures may not hold there',
    );
    expect(sliceLevelWarning([0.47], training)).toBe(
      'the image lies outside the slice levels of 98% of the model\'s training slices (head footprint 0.488-0.519; here 0.470): the model\'s figures may not hold there',
    );
  });
});
