import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { DataOptionError, iterateBatches, mixupBatch, sampleMixupParams } from '../../src/data/index.js';
import { sampleBeta } from '../../src/data/mixup.js';
import { type LabeledImageSource } from '../../src/index.js';
import { createRng } from '../../src/random.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('sampleBeta', () => {
  it.each([0.2, 1, 2.5])('Beta(a, a) with a = %f has mean 1/2 and variance 1 / (4 (2a + 1))', (a) => {
    const rng = createRng(5);
    const n = 40_000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const x = sampleBeta(rng, a);
      expect(x >= 0 && x <= 1).toBe(true);
      sum += x;
      sq += x * x;
    }
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    expect(mean).toBeCloseTo(0.5, 2);
    expect(variance / (1 / (4 * (2 * a + 1)))).toBeGreaterThan(0.95);
    expect(variance / (1 / (4 * (2 * a + 1)))).toBeLessThan(1.05);
  });
});

describe('mixup', () => {
  it('draws a seeded permutation and weights in [0.5, 1]', () => {
    const p = sampleMixupParams(16, 0.2, 9);
    expect(Array.from(p.partner).sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(Array.from(p.lambda).every((l) => l >= 0.5 && l <= 1)).toBe(true);
    expect(sampleMixupParams(16, 0.2, 9)).toEqual(p);
    expect(sampleMixupParams(16, 0.2, 10)).not.toEqual(p);
    expect(() => sampleMixupParams(4, 0, 1)).toThrow(DataOptionError);
  });

  it('mixes images and labels with the drawn weights (checked element by element), without leaking tensors', () => {
    const before = tf.memory().numTensors;
    const xs = tf.tensor4d([0, 1, 10, 11, 20, 21], [3, 1, 2, 1]);
    const ys = tf.tensor2d([1, 0, 0, 1, 1, 0], [3, 2]);
    const out = mixupBatch(xs, ys, 1, 3);
    const { lambda: l, partner: q } = out.params;
    const x = [[0, 1], [10, 11], [20, 21]];
    const y = [[1, 0], [0, 1], [1, 0]];
    const gotX = out.xs.arraySync() as number[][][][];
    const gotY = out.ys.arraySync() as number[][];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 2; j++) {
        expect(gotX[i][0][j][0]).toBeCloseTo(l[i] * x[i][j] + (1 - l[i]) * x[q[i]][j], 5);
        expect(gotY[i][j]).toBeCloseTo(l[i] * y[i][j] + (1 - l[i]) * y[q[i]][j], 6);
      }
      expect(gotY[i][0] + gotY[i][1]).toBeCloseTo(1, 6);
    }
    tf.dispose([xs, ys, out.xs, out.ys]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('iterateBatches({ mixup }) hands out mixed, seeded batches; the own label keeps the larger share', async () => {
    const n = 8;
    const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    const src: LabeledImageSource = {
      length: n, labels, classNames: ['a', 'b'], imageSize: [2, 2],
      get: (i: number) => ({ image: new Float32Array(4).fill(i * 10), label: labels[i] }),
    };
    const take = async () => {
      const it = iterateBatches(src, { batchSize: 8, mixup: 0.4, seed: 2 });
      const b = (await it.next()).value!;
      const out = { xs: b.xs.arraySync() as number[][][][], ys: b.ys.arraySync() as number[][], rows: Array.from(b.indices as Int32Array) };
      tf.dispose([b.xs, b.ys]);
      await it.return?.(undefined);
      return out;
    };
    const a = await take();
    expect(await take()).toEqual(a);
    a.ys.forEach((row, k) => {
      expect(row[0] + row[1]).toBeCloseTo(1, 6);
      expect(row[labels[a.rows[k]]]).toBeGreaterThanOrEqual(0.5);
    });
    expect(a.ys.some((row) => row[0] > 0 && row[0] < 1)).toBe(true); // some rows really are mixed
    expect(() => iterateBatches(src, { mixup: -1 })).toThrow(/mixup must be a finite number >= 0/);
  });
});
