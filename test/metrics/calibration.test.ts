import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { MetricsInputError, MultiClassMetrics, applyTemperature, chooseTemperature, decideTemperature, fitTemperature } from '../../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
interface TCase {
  name: string;
  logits: number[][];
  labels: number[];
  temperature: number;
  gridTemperature: number;
  nllBefore: number;
  nllAfter: number;
  probabilitiesAtTemperature: number[][];
}
const cases = (
  JSON.parse(readFileSync(resolve(here, '../fixtures/metrics/temperature_cases.json'), 'utf8')) as { cases: TCase[] }
).cases;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('fitTemperature vs scipy reference', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const fit = fitTemperature(c.logits, c.labels);
    expect(Math.abs(fit.temperature - c.temperature) / c.temperature).toBeLessThan(1e-9);
    // The dense grid (step ~3e-4 in log T) agrees to its resolution.
    expect(Math.abs(Math.log(fit.temperature / c.gridTemperature))).toBeLessThan(4e-4);
    expect(Math.abs(fit.nllBefore - c.nllBefore)).toBeLessThan(1e-12);
    expect(Math.abs(fit.nllAfter - c.nllAfter)).toBeLessThan(1e-12);
    expect(fit.nllAfter).toBeLessThanOrEqual(fit.nllBefore);
    expect(fit.atBound).toBe(false);
    expect(fit.iterations).toBeLessThan(50);
    const probs = applyTemperature(c.logits.slice(0, 5), fit.temperature);
    probs.forEach((row, i) => row.forEach((p, j) => expect(Math.abs(p - c.probabilitiesAtTemperature[i][j])).toBeLessThan(1e-12)));
  });

  it('is deterministic and accepts tensors and one-hot labels without leaking', () => {
    const c = cases[1];
    const ref = fitTemperature(c.logits, c.labels);
    const before = tf.memory().numTensors;
    const z = tf.tensor2d(c.logits, undefined, 'float32');
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(c.labels, 'int32'), c.logits[0].length));
    const fit = fitTemperature(z, y);
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(fit.temperature).toBeCloseTo(ref.temperature, 5); // float32 logits
    expect(fitTemperature(c.logits, c.labels)).toEqual(ref);
    const p = applyTemperature(z, fit.temperature);
    expect(p.shape).toEqual(z.shape);
    expect(tf.memory().numTensors).toBe(before + 3);
    const arr = applyTemperature(c.logits, fit.temperature);
    const pd = p.arraySync() as number[][];
    expect(Math.abs(pd[3][1] - arr[3][1])).toBeLessThan(1e-6);
    tf.dispose([z, y, p]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('clamps to the search range when the optimum lies outside it', () => {
    // Labels independent of the logits: the best softmax is the flattest, T -> infinity.
    const logits = [[5, 0], [5, 0], [0, 5], [0, 5]];
    const fit = fitTemperature(logits, [1, 0, 0, 1], { maxTemperature: 50 });
    expect(fit.atBound).toBe(true);
    expect(fit.temperature).toBe(50);
    // Perfectly separable: the sharpest allowed softmax is best.
    const sharp = fitTemperature(logits, [0, 0, 1, 1], { minTemperature: 0.1 });
    expect(sharp.atBound).toBe(true);
    expect(sharp.temperature).toBe(0.1);
  });

  it('rejects bad input with a clear error', () => {
    expect(() => fitTemperature([[1, 2]], [0, 1])).toThrow(/1 logit rows/);
    expect(() => fitTemperature([[1, 2]], [2])).toThrow(MetricsInputError);
    expect(() => fitTemperature(new Float32Array(4), [0, 1])).toThrow(/numClasses/);
    expect(() => applyTemperature([[1, 2]], 0)).toThrow(/temperature/);
    expect(() => fitTemperature([[1, 2]], [0], { minTemperature: 2, maxTemperature: 1 })).toThrow(/minTemperature/);
  });
});

describe('chooseTemperature', () => {
  // Over-confident logits: true-class logit 1 above the rest on 70% of rows (else a wrong class), then scaled by 4.
  const n = 400, k = 3;
  const labels = Int32Array.from({ length: n }, (_, i) => i % k);
  const logits = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const top = (i * 7919) % 10 < 7 ? labels[i] : (labels[i] + 1) % k;
    for (let c = 0; c < k; c++) logits[i * k + c] = 4 * (c === top ? 1 : 0);
  }

  it('fits, measures validation ECE before and after, and keeps a temperature that lowers both NLL and ECE', () => {
    const d = chooseTemperature(logits, labels, { numClasses: k });
    const fit = fitTemperature(logits, labels, { numClasses: k });
    expect(d.fit.temperature).toBeCloseTo(fit.temperature, 12);
    const rows = Array.from({ length: n }, (_, i) => logits.subarray(i * k, (i + 1) * k));
    const ece = (t: number) => new MultiClassMetrics({ numClasses: k }).update(labels, applyTemperature(rows, t)).compute().ece;
    expect(d.validationEce.before).toBeCloseTo(ece(1), 12);
    expect(d.validationEce.after).toBeCloseTo(ece(fit.temperature), 12);
    expect(d.fit.temperature).toBeGreaterThan(1); // softens the over-confident scores
    expect(d.kept).toBe(true);
    expect(d.served).toBe(d.fit.temperature);
  });

  it('applies the decision rule to what it measured (under-confident scores: T < 1)', () => {
    const soft = logits.map((v) => v / 16);
    const d = chooseTemperature(soft, labels, { numClasses: k });
    expect(d.fit.temperature).toBeLessThan(1);
    expect(d).toEqual(decideTemperature(d.fit, d.validationEce));
  });
});
