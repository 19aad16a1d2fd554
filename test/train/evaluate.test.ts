import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/train/evaluate.js';
import { TrainingError } from '../../src/train/errors.js';
import { compileTiny, makeModel, makeSource } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const source = makeSource(20);

// Reference forward pass over all rows, straight through the layers.
function reference(model: ReturnType<typeof makeModel>, rows: number[]): { probs: number[][]; logits: number[][] | null } {
  const xs = tf.tensor4d(
    Float32Array.from({ length: rows.length * 64 }, (_, j) => (source.get(rows[Math.floor(j / 64)]) as { image: Float32Array }).image[j % 64]),
    [rows.length, 8, 8, 1],
  );
  const probsT = model.predict(xs) as tf.Tensor;
  const probs = probsT.arraySync() as number[][];
  let logits: number[][] | null = null;
  const logitsLayer = model.layers.find((l) => l.name === 'logits');
  if (logitsLayer) {
    const [w, b] = logitsLayer.getWeights();
    // the hidden features: every layer up to the logits layer, applied in order
    const t = tf.tidy(() => {
      const hidden = model.layers.slice(1, model.layers.indexOf(logitsLayer)).reduce((h: tf.Tensor, l) => l.apply(h) as tf.Tensor, xs);
      return tf.add(tf.matMul(hidden as tf.Tensor2D, w as tf.Tensor2D), b);
    });
    logits = t.arraySync() as number[][];
    t.dispose();
  }
  tf.dispose([xs, probsT]);
  return { probs, logits };
}

describe('evaluate', () => {
  it('returns metrics, probabilities and the logits read from the input of the separate softmax', async () => {
    const model = compileTiny(makeModel());
    const rows = [3, 5, 7, 11, 13, 17, 19, 0];
    const before = tf.memory().numTensors;
    const progress: Array<[number, number]> = [];
    const result = await evaluate(model, source, {
      indices: rows,
      batchSize: 3,
      ordinalOrder: [2, 3, 0, 1],
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(tf.memory().numTensors).toBe(before);
    // 8 rows in batches of 3: progress after each forward pass.
    expect(progress).toEqual([[3, 8], [6, 8], [8, 8]]);
    expect(result.logitsFrom).toBe('layer');
    expect(Array.from(result.indices)).toEqual(rows);
    expect(Array.from(result.labels)).toEqual(rows.map((r) => source.labels[r]));
    const ref = reference(model, rows);
    rows.forEach((_, i) => {
      for (let c = 0; c < 4; c++) {
        expect(result.probabilities[i * 4 + c]).toBeCloseTo(ref.probs[i][c], 6);
        expect(result.logits[i * 4 + c]).toBeCloseTo(ref.logits![i][c], 5);
      }
    });
    // accuracy by hand
    let correct = 0;
    rows.forEach((r, i) => {
      const p = ref.probs[i];
      if (p.indexOf(Math.max(...p)) === source.labels[r]) correct++;
    });
    expect(result.metrics.accuracy).toBeCloseTo(correct / rows.length, 12);
    expect(result.metrics.count).toBe(rows.length);
    expect(result.metrics.classNames).toEqual(source.classNames);
    expect(result.metrics.ordinalOrder).toEqual([2, 3, 0, 1]);
  });

  it('falls back to log-probabilities when the softmax is inside the last Dense (same softmax at any temperature)', async () => {
    const model = compileTiny(makeModel({ separateSoftmax: false }));
    const result = await evaluate(model, source);
    expect(result.logitsFrom).toBe('log-probabilities');
    expect(result.labels).toHaveLength(20);
    for (let i = 0; i < 20; i++) {
      const z = Array.from(result.logits.subarray(i * 4, i * 4 + 4)).map((v) => v / 2); // temperature 2
      const zs = Array.from(result.probabilities.subarray(i * 4, i * 4 + 4)).map((p) => Math.log(p) / 2);
      const softmax = (v: number[]) => {
        const m = Math.max(...v);
        const e = v.map((x) => Math.exp(x - m));
        const s = e.reduce((a, b) => a + b, 0);
        return e.map((x) => x / s);
      };
      softmax(z).forEach((p, c) => expect(p).toBeCloseTo(softmax(zs)[c], 6));
    }
  });
});

describe('evaluate with test-time augmentation', () => {
  it("tta 'flip' averages the probabilities of each slice and its mirror image (mirrored by hand here)", async () => {
    const model = compileTiny(makeModel());
    const rows = [0, 1, 2, 3, 9, 14];
    const pixels = (mirror: boolean) =>
      Float32Array.from({ length: rows.length * 64 }, (_, j) => {
        const img = (source.get(rows[Math.floor(j / 64)]) as { image: Float32Array }).image;
        const p = j % 64;
        return img[mirror ? Math.floor(p / 8) * 8 + (7 - (p % 8)) : p];
      });
    const predict = (mirror: boolean) => tf.tidy(() => (model.predict(tf.tensor4d(pixels(mirror), [rows.length, 8, 8, 1])) as tf.Tensor).arraySync() as number[][]);
    const [plain, mirrored] = [predict(false), predict(true)];
    // The quadrant images make the mirror image a different input: the test would prove nothing otherwise.
    expect(Math.max(...plain.flat().map((v, i) => Math.abs(v - mirrored.flat()[i])))).toBeGreaterThan(1e-3);
    const before = tf.memory().numTensors;
    const r = await evaluate(model, source, { indices: rows, tta: 'flip', batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    rows.forEach((_, i) => {
      for (let c = 0; c < 4; c++) {
        const expected = (plain[i][c] + mirrored[i][c]) / 2;
        expect(r.probabilities[i * 4 + c]).toBeCloseTo(expected, 6);
        expect(r.logits[i * 4 + c]).toBeCloseTo(Math.log(expected), 5);
      }
    });
    expect(r.logitsFrom).toBe('log-probabilities');
    const none = await evaluate(model, source, { indices: rows, tta: 'none' });
    rows.forEach((_, i) => expect(none.probabilities[i * 4]).toBeCloseTo(plain[i][0], 6));
    await expect(evaluate(model, source, { indices: rows, tta: 'rotate' as 'flip' })).rejects.toThrow("tta must be 'none' or 'flip', got 'rotate'");
  });
});

describe('evaluate: images of another size (issue 15)', () => {
  it('throws a TrainingError naming both sizes before running the model, as the trainer does', async () => {
    const model = makeModel({ size: 8 });
    const before = tf.memory().numTensors;
    const error = await evaluate(model, makeSource(4, 16)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingError);
    expect((error as Error).message).toMatch(/^evaluate: the images are 16x16x1 but model '.*' takes \[8, 8, 1\]/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
