import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareWithRandom, deletionCurve, gaussianBlur, insertionCurve, randomSaliency } from '../../src/explain/index.js';
import { pixelOrder } from '../../src/explain/faithfulness.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** 8x8 input; logit 1 = 0.25 x sum of the top-left 4x4 quadrant, logit 0 = 0; then softmax. */
function quadrantModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [8, 8, 1] });
  const flat = tfl.layers.flatten().apply(input) as tfl.SymbolicTensor;
  const dense = tfl.layers.dense({ units: 2, name: 'logits' });
  const logits = dense.apply(flat) as tfl.SymbolicTensor;
  const out = tfl.layers.activation({ activation: 'softmax' }).apply(logits) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  const w = new Float32Array(64 * 2);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) w[(y * 8 + x) * 2 + 1] = 0.25;
  dense.setWeights([tf.tensor2d(w, [64, 2]), tf.zeros([2])]);
  return model;
}

const quadrant = Float32Array.from({ length: 64 }, (_, i) => (Math.floor(i / 8) < 4 && i % 8 < 4 ? 1 : 0));
const ones = new Float32Array(64).fill(1);

describe('deletion and insertion curves', () => {
  it('give the hand-computed logit curves and AUCs for a perfect map', async () => {
    const model = quadrantModel();
    const before = tf.memory().numTensors;
    const del = await deletionCurve(model, ones, quadrant, 1, { steps: 4, score: 'logit' });
    expect(Array.from(del.fractions)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(Array.from(del.scores)).toEqual([4, 0, 0, 0, 0]);
    expect(del.auc).toBeCloseTo(0.5, 6);
    const ins = await insertionCurve(model, ones, quadrant, 1, { steps: 4, score: 'logit', baseline: 'zero', batchSize: 2 });
    expect(Array.from(ins.scores)).toEqual([0, 4, 4, 4, 4]);
    expect(ins.auc).toBeCloseTo(3.5, 6);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a perfect map beats random orders on probabilities', async () => {
    const model = quadrantModel();
    const r = await compareWithRandom(model, ones, quadrant, 1, { steps: 16, randomRepeats: 3, insertionBaseline: 'zero' });
    expect(r.deletion.auc).toBeLessThan(r.randomDeletionAuc - 0.1);
    expect(r.insertion.auc).toBeGreaterThan(r.randomInsertionAuc + 0.1);
    expect(r.deletion.scores[0]).toBeCloseTo(1 / (1 + Math.exp(-4)), 6);
    expect(r.deletion.scores[16]).toBeCloseTo(0.5, 6);
  });

  it('rejects wrong sizes', async () => {
    const model = quadrantModel();
    await expect(deletionCurve(model, new Float32Array(10), quadrant, 1)).rejects.toThrow(/64/);
    await expect(deletionCurve(model, ones, quadrant, 5)).rejects.toThrow(/classIndex/);
  });
});

describe('helpers', () => {
  it('pixelOrder sorts by heat and breaks ties with the seed', () => {
    expect(Array.from(pixelOrder([0.1, 0.9, 0.5]))).toEqual([1, 2, 0]);
    const flat = new Float32Array(100);
    const a = pixelOrder(flat, 1);
    expect(Array.from(pixelOrder(flat, 1))).toEqual(Array.from(a));
    expect(Array.from(pixelOrder(flat, 2))).not.toEqual(Array.from(a));
    expect(new Set(a).size).toBe(100);
    expect(Array.from(a)).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('randomSaliency is seeded', () => {
    expect(Array.from(randomSaliency(5, 3))).toEqual(Array.from(randomSaliency(5, 3)));
    expect(Array.from(randomSaliency(5, 3))).not.toEqual(Array.from(randomSaliency(5, 4)));
  });

  it('gaussianBlur keeps constants and spreads an impulse as a normalised Gaussian', () => {
    const c = gaussianBlur(new Float32Array(25).fill(3), 5, 5, 1, 1);
    expect(c.every((v) => Math.abs(v - 3) < 1e-5)).toBe(true);
    const imp = new Float32Array(21 * 21);
    imp[10 * 21 + 10] = 1;
    const b = gaussianBlur(imp, 21, 21, 1, 2);
    const g1 = (d: number) => Math.exp(-(d * d) / 8);
    let z = 0;
    for (let d = -6; d <= 6; d++) z += g1(d);
    expect(b[10 * 21 + 10]).toBeCloseTo(1 / (z * z), 6);
    expect(b[10 * 21 + 13]).toBeCloseTo(g1(3) / (z * z), 6);
    expect(b.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
  });
});
