import { describe, expect, it } from 'vitest';
import { findNearDuplicates, summarizeDataset, formatDatasetSummary } from '../../src/data/index.js';
import { thumbnails } from '../../src/data/duplicates.js';
import { ParquetImageDataset, type LabeledImageSource } from '../../src/index.js';
import { pseudoRandom, samplePath } from './helpers.js';

function source(images: Float32Array[], size: number, labels?: number[]): LabeledImageSource {
  return {
    length: images.length,
    labels: Int32Array.from(labels ?? images.map(() => 0)),
    classNames: ['a', 'b'],
    imageSize: [size, size],
    get: (i: number) => ({ image: images[i], label: labels?.[i] ?? 0 }),
  };
}
const constant = (v: number, n = 32 * 32) => new Float32Array(n).fill(v);

describe('findNearDuplicates', () => {
  it('hand-computed distances: constant offsets give RMS = offset', async () => {
    const gradient = Float32Array.from({ length: 1024 }, (_, k) => k % 200);
    const a = source([constant(100), constant(150), gradient], 32);
    const b = source([constant(110), constant(200), gradient.map((v) => v + 20)], 32);
    const r = await findNearDuplicates(a, b, { threshold: 16 });
    expect(Array.from(r.nearestDistance)).toEqual([10, 50, 20]);
    expect(Array.from(r.nearestIndex)).toEqual([0, 1, 2]);
    expect(r.pairs).toEqual([{ a: 0, b: 0, distance: 10 }]);
    expect([r.countB, r.countA, r.pairCount, r.sizeA, r.sizeB]).toEqual([1, 1, 1, 3, 3]);
    expect(r.fractionB).toBeCloseTo(1 / 3, 10);
    expect(r.medianNearestDistance).toBe(20);
    const loose = await findNearDuplicates(a, b, { threshold: 20 });
    expect(loose.countB).toBe(2);
  });

  it('matches brute force on random images with planted near-duplicates (pruning is exact)', async () => {
    const size = 64;
    const n = size * size;
    const imgsA = Array.from({ length: 60 }, (_, i) => Float32Array.from(pseudoRandom(n, 256, i + 1)));
    const imgsB = Array.from({ length: 25 }, (_, j) => {
      if (j % 3 === 0) { // noisy copy of an A image
        const noise = pseudoRandom(n, 41, 500 + j);
        return imgsA[j].map((v, k) => v + noise[k] - 20);
      }
      return Float32Array.from(pseudoRandom(n, 256, 1000 + j));
    });
    const a = source(imgsA, size), b = source(imgsB, size);
    const r = await findNearDuplicates(a, b, { threshold: 16 });
    const ta = await thumbnails(a, 32), tb = await thumbnails(b, 32);
    let count = 0;
    for (let j = 0; j < imgsB.length; j++) {
      let best = Infinity, bestI = -1;
      let any = false;
      for (let i = 0; i < imgsA.length; i++) {
        let s = 0;
        for (let q = 0; q < 1024; q++) { const d = ta[i * 1024 + q] - tb[j * 1024 + q]; s += d * d; }
        const dist = Math.sqrt(s / 1024);
        if (dist < best) { best = dist; bestI = i; }
        if (dist <= 16) any = true;
      }
      if (any) count++;
      expect(r.nearestIndex[j]).toBe(bestI);
      expect(r.nearestDistance[j]).toBeCloseTo(best, 3);
    }
    expect(r.countB).toBe(count);
    expect(count).toBe(9); // the planted copies (j = 0, 3, ..., 24)
  });

  it('within one dataset a row is not its own duplicate', async () => {
    const a = source([constant(10), constant(12), constant(200)], 32);
    const r = await findNearDuplicates(a, a);
    expect(Array.from(r.nearestIndex)).toEqual([1, 0, 1]);
    expect(r.countB).toBe(2);
  });
});

describe('summarizeDataset', () => {
  it('reports counts, source formats, intensity statistics and leakage on the sample', async () => {
    const ds = await ParquetImageDataset.fromFile(samplePath);
    const s = await summarizeDataset(ds, { compareWith: ds });
    expect(s.rows).toBe(128);
    expect(s.classCounts).toEqual([32, 32, 32, 32]);
    expect(s.classFractions).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(s.sourceSizes).toEqual({ '128x128': 128 });
    expect(s.formats).toEqual({ jpeg: 128 });
    expect(s.colorModes).toEqual({ gray: 128 });
    expect(s.bitDepths).toEqual({ '8': 128 });
    expect(s.skipped.count).toBe(0);
    // Independent mean/std in float64.
    let sum = 0, sq = 0, cnt = 0;
    for (let i = 0; i < ds.length; i++) for (const v of ds.get(i).image) { sum += v; sq += v * v; cnt++; }
    const mean = sum / cnt;
    expect(s.intensity.mean).toBeCloseTo(mean, 6);
    expect(s.intensity.std).toBeCloseTo(Math.sqrt(sq / cnt - mean * mean), 6);
    expect(s.intensity.min).toBe(0);
    expect(s.intensity.max).toBeLessThanOrEqual(255);
    // Compared with itself (other rows only), every row has its nearest neighbour at a positive distance.
    expect(s.leakage?.sizeB).toBe(128);
    expect(Math.min(...s.leakage!.nearestDistance)).toBeGreaterThan(0);
    const text = formatDatasetSummary(s);
    expect(text).toContain('128 rows');
    expect(text).toContain('1 Moderate_Demented 32 (25.0%)');
    expect(text).toMatch(/leakage: \d+ of 128 compared rows/);
  });

  it('lists skipped rows', async () => {
    const { makeParquet, encodePng } = await import('./helpers.js');
    const png = encodePng({ width: 2, height: 2, colorType: 0, bitDepth: 8, samples: [0, 50, 100, 150] });
    const bytes = await makeParquet({ images: [png, new Uint8Array([1, 2, 3])], labels: [0, 1] });
    const ds = await ParquetImageDataset.fromFile(bytes, { targetSize: [2, 2], onError: 'skip' });
    const s = await summarizeDataset(ds);
    expect(s.skipped.count).toBe(1);
    expect(s.skipped.rows[0].row).toBe(1);
    expect(s.intensity.mean).toBe(75);
    expect(formatDatasetSummary(s)).toContain('row 1: not a recognised image');
  });
});
