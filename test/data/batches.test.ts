import { beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { iterateBatches, toTfDataset, countBatches, DataOptionError, InvalidLabelError } from '../../src/data/index.js';
import { ParquetImageDataset, type Batch, type LabeledImageSource } from '../../src/index.js';
import { samplePath } from './helpers.js';

const H = 6, W = 5;
/** In-memory source: image of row i is filled with the value i; label i % 3. Counts get() calls. */
function memorySource(n: number, opts: { async?: boolean; labels?: number[] } = {}) {
  const calls: number[] = [];
  const labels = Int32Array.from(opts.labels ?? Array.from({ length: n }, (_, i) => i % 3));
  const src: LabeledImageSource & { calls: number[] } = {
    calls,
    length: n,
    labels,
    classNames: ['a', 'b', 'c'],
    imageSize: [H, W],
    get(i: number) {
      calls.push(i);
      const ex = { image: new Float32Array(H * W).fill(i), label: labels[i] };
      return opts.async ? new Promise((r) => setTimeout(() => r(ex), 1)) : ex;
    },
  } as LabeledImageSource & { calls: number[] };
  return src;
}

async function collect(it: AsyncIterableIterator<Batch>) {
  const rows: number[][] = [];
  const xs: number[][] = [];
  const ys: number[][][] = [];
  for await (const b of it) {
    rows.push(Array.from(b.indices));
    xs.push(Array.from(b.xs.dataSync()));
    ys.push(b.ys.arraySync() as number[][]);
    expect(b.xs.shape).toEqual([b.indices.length, H, W, 1]);
    tf.dispose([b.xs, b.ys]);
  }
  return { rows, xs, ys };
}

beforeAll(async () => { await tf.setBackend('cpu'); });

describe('iterateBatches', () => {
  it('yields every row once in order, correct pixels and one-hot labels, smaller last batch, no leaks', async () => {
    const src = memorySource(10);
    const before = tf.memory().numTensors;
    const { rows, xs, ys } = await collect(iterateBatches(src, { batchSize: 4 }));
    expect(rows).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(xs[1].slice(0, H * W).every((v) => v === 4)).toBe(true);
    expect(xs[1].slice(H * W * 3).every((v) => v === 7)).toBe(true);
    expect(ys[2]).toEqual([[0, 0, 1], [1, 0, 0]]); // rows 8 (label 2), 9 (label 0)
    expect(tf.memory().numTensors).toBe(before);
    expect(countBatches(src, { batchSize: 4 })).toBe(3);
  });

  it('iterates a subset; shuffles deterministically per (seed, epoch)', async () => {
    const src = memorySource(50);
    const subset = Array.from({ length: 20 }, (_, i) => i * 2 + 1);
    const order = async (seed: number, epoch: number) =>
      (await collect(iterateBatches(src, { indices: subset, batchSize: 8, shuffle: true, seed, epoch }))).rows.flat();
    const a = await order(1, 0);
    expect([...a].sort((x, y) => x - y)).toEqual(subset);
    expect(a).not.toEqual(subset);
    expect(await order(1, 0)).toEqual(a);
    expect(await order(1, 1)).not.toEqual(a);
    expect(await order(2, 0)).not.toEqual(a);
    const plain = (await collect(iterateBatches(src, { indices: subset, batchSize: 8 }))).rows.flat();
    expect(plain).toEqual(subset);
  });

  it('augments reproducibly from (seed, epoch, batch)', async () => {
    const ds = await ParquetImageDataset.fromFile(samplePath);
    const get = async (seed: number, augment: boolean, epoch = 0) => {
      const it = iterateBatches(ds, { indices: [0, 1, 2, 3], batchSize: 4, augment, seed, epoch });
      const { value } = await it.next();
      const b = value as Batch;
      const out = b.xs.dataSync().slice();
      tf.dispose([b.xs, b.ys]);
      await it.return?.();
      return out;
    };
    const plain = await get(3, false);
    const a = await get(3, true);
    expect(await get(3, true)).toEqual(a);
    expect(a).not.toEqual(plain);
    expect(await get(3, true, 1)).not.toEqual(a);
    const expectedPlain = new Float32Array(4 * 128 * 128);
    ds.readImagesInto([0, 1, 2, 3], expectedPlain);
    expect(plain).toEqual(expectedPlain);
  });

  it('prefetches the next batch while the current one is in use', async () => {
    const src = memorySource(12, { async: true });
    const it = iterateBatches(src, { batchSize: 3, prefetch: 2 });
    const first = (await it.next()).value as Batch;
    tf.dispose([first.xs, first.ys]);
    expect(Array.from(first.indices)).toEqual([0, 1, 2]);
    expect(src.calls).toEqual(expect.arrayContaining([0, 1, 2]));
    // While the consumer "trains" (awaits), batches 1 and 2 (and no more) are decoded in the background.
    for (let waited = 0; src.calls.length < 9 && waited < 3000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 30));
    expect(src.calls.length).toBe(9);
    const noPrefetch = memorySource(12, { async: true });
    const it2 = iterateBatches(noPrefetch, { batchSize: 3, prefetch: 0 });
    const b = (await it2.next()).value as Batch;
    tf.dispose([b.xs, b.ys]);
    await new Promise((r) => setTimeout(r, 60));
    expect(noPrefetch.calls.length).toBe(3);
    await it.return?.();
    await it2.return?.();
  });

  it('stopping early leaks no tensors', async () => {
    const src = memorySource(40);
    const before = tf.memory().numTensors;
    for await (const b of iterateBatches(src, { batchSize: 4, augment: true, prefetch: 3 })) {
      tf.dispose([b.xs, b.ys]);
      break;
    }
    await new Promise((r) => setTimeout(r, 20)); // let pending prefetches settle
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a failing augmentation rethrows and frees the batch tensors', async () => {
    const src = memorySource(8);
    const before = tf.memory().numTensors;
    const spy = vi.spyOn(tf.image, 'transform').mockImplementation(() => {
      throw new Error('transform failed');
    });
    try {
      await expect(collect(iterateBatches(src, { batchSize: 4, augment: { flip: true }, prefetch: 0 }))).rejects.toThrow('transform failed');
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad options at once and bad labels with InvalidLabelError', async () => {
    const src = memorySource(5);
    expect(() => iterateBatches(src, { batchSize: 0 })).toThrow(DataOptionError);
    expect(() => iterateBatches(src, { indices: [0, 9] })).toThrow(/indices\[1\] = 9/);
    expect(() => iterateBatches(src, { epoch: -1 })).toThrow(/epoch/);
    expect(() => countBatches(src, { batchSize: 0 })).toThrow(DataOptionError);
    expect(() => countBatches(src, { batchSize: 2.5 })).toThrow(/batchSize must be a positive integer, got 2\.5/);
    const bad = memorySource(4, { labels: [0, 1, 5, 2] });
    await expect(collect(iterateBatches(bad, { batchSize: 2 }))).rejects.toBeInstanceOf(InvalidLabelError);
    // numClasses narrower than the labels is caught too.
    await expect(collect(iterateBatches(src, { numClasses: 2 }))).rejects.toThrow(/label 2 is outside 0\.\.1/);
  });
});

describe('toTfDataset', () => {
  it('drives model.fitDataset: one shuffled, augmented epoch per iterator, nothing leaked', async () => {
    const src = memorySource(24);
    const ds = toTfDataset(src, { batchSize: 8, shuffle: true, seed: 5, augment: { rotation: false, zoom: false } });
    expect(ds.size).toBe(3);
    const model = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [H, W, 1] }), tfl.layers.dense({ units: 3, activation: 'softmax' })] });
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const before = tf.memory().numTensors;
    src.calls.length = 0;
    const history = await model.fitDataset(ds, { epochs: 2, verbose: 0 });
    expect(history.history.loss).toHaveLength(2);
    expect(src.calls).toHaveLength(48);
    const epoch0 = src.calls.slice(0, 24), epoch1 = src.calls.slice(24);
    expect([...epoch0].sort((a, b) => a - b)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(epoch1).not.toEqual(epoch0);
    // Same as iterateBatches for epochs 0 and 1.
    const direct0 = (await collect(iterateBatches(src, { batchSize: 8, shuffle: true, seed: 5, epoch: 0 }))).rows.flat();
    expect(epoch0).toEqual(direct0);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('repeat: runs across epochs for fitDataset({ batchesPerEpoch })', async () => {
    const src = memorySource(6);
    const ds = toTfDataset(src, { batchSize: 4, repeat: true });
    expect(ds.size).toBe(Infinity);
    const it = await ds.iterator();
    const sizes: number[] = [];
    for (let k = 0; k < 5; k++) {
      const r = await it.next();
      expect(r.done).toBe(false);
      sizes.push(r.value.indices.length);
      tf.dispose([r.value.xs, r.value.ys]);
    }
    expect(sizes).toEqual([4, 2, 4, 2, 4]);
  });
});
