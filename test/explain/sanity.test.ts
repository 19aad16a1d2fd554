import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelRandomizationCheck, spearmanCorrelation, ssim } from '../../src/explain/index.js';
import { buildNestedModel, randomImages } from './models.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ref = JSON.parse(readFileSync(path.join(here, '../fixtures/explain/reference.json'), 'utf8')) as {
  spearman: { a: number[]; b: number[]; rho: number }[];
  ssim: { width: number; height: number; x: number[]; y: number[]; z: number[]; xy: number; xz: number; xx: number };
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('similarity measures', () => {
  it('Spearman matches scipy (with and without ties); constant input gives 0', () => {
    for (const c of ref.spearman) expect(spearmanCorrelation(c.a, c.b)).toBeCloseTo(c.rho, 10);
    expect(spearmanCorrelation([1, 1, 1], [1, 2, 3])).toBe(0);
  });

  it('SSIM matches the scikit-image algorithm', () => {
    const s = ref.ssim;
    expect(ssim(s.x, s.y, s.width, s.height)).toBeCloseTo(s.xy, 10);
    expect(ssim(s.x, s.z, s.width, s.height)).toBeCloseTo(s.xz, 10);
    expect(ssim(s.x, s.x, s.width, s.height)).toBeCloseTo(1, 12);
  });
});

describe('modelRandomizationCheck', () => {
  it('maps change when weights are shuffled; weights are restored exactly; no leaks', async () => {
    const model = buildNestedModel(9);
    const x = randomImages(3, 91);
    const weightsBefore = model.weights.map((w) => w.read().dataSync().slice());
    const before = tf.memory().numTensors;
    const full = await modelRandomizationCheck(model, x, { seed: 1 });
    expect(full.stages.length).toBe(1);
    expect(full.passed).toBe(true);
    expect(full.stages[0].meanSpearman).toBeLessThan(0.5);
    const cascade = await modelRandomizationCheck(model, x, { mode: 'cascading', seed: 1, layerName: 'backbone/top_activation' });
    const weighted = model.layers.filter((l) => l.weights.length > 0).map((l) => l.name).reverse();
    expect(cascade.stages.map((s) => s.randomizedLayers[s.randomizedLayers.length - 1])).toEqual(weighted);
    expect(cascade.stages[0].randomizedLayers).toEqual(['predictions']);
    for (const s of cascade.stages) expect(s.spearman.every((v) => v >= -1 && v <= 1)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    model.weights.forEach((w, i) => expect(Array.from(w.read().dataSync())).toEqual(Array.from(weightsBefore[i])));
    // Same seed, same result.
    const again = await modelRandomizationCheck(model, x, { seed: 1 });
    expect(Array.from(again.stages[0].spearman)).toEqual(Array.from(full.stages[0].spearman));
    x.dispose();
  });
});
