// The model shipped in models/neurostagenet: its card's test figures reproduce (on wasm, from the files a user
// gets), it is small enough, and it loads through the public loader. ship-model.ts measured them natively.
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { ParquetImageDataset, applyTemperature, evaluate, loadPretrainedNeuroStageNet, MultiClassMetrics } from '../../src/index.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MODEL_DIR = join(REPO, 'models', 'neurostagenet');
const TEST_PARQUET = join(REPO, '..', 'shared', 'data', 'alzheimer-mri', 'test.parquet');

interface ShippedMetadata {
  temperature: number;
  weights: 'float16' | 'float32';
  test: { file: string; count: number; accuracy: number; macroAuc: number; quadraticKappa: number; eceBefore: number; eceAfter: number };
}

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
});

describe('shipped model (models/neurostagenet)', () => {
  it('is at most 15 MB, stores the weights its metadata names, and has a model card', () => {
    const meta = JSON.parse(readFileSync(join(MODEL_DIR, 'metadata.json'), 'utf8')) as ShippedMetadata;
    const bytes = statSync(join(MODEL_DIR, 'model.json')).size + statSync(join(MODEL_DIR, 'weights.bin')).size;
    expect(bytes).toBeLessThanOrEqual(15e6);
    const manifest = JSON.parse(readFileSync(join(MODEL_DIR, 'model.json'), 'utf8')) as { weightsManifest: Array<{ weights: Array<{ dtype: string; quantization?: { dtype: string } }> }> };
    const stored = manifest.weightsManifest.flatMap((g) => g.weights).map((w) => w.quantization?.dtype ?? w.dtype);
    expect(new Set(stored.filter((d) => d !== 'int32'))).toEqual(new Set([meta.weights]));
    const card = readFileSync(join(REPO, 'models', 'README.md'), 'utf8');
    expect(card).toContain('not for diagnosis');
    expect(card).toContain(meta.test.accuracy.toFixed(3));
  });

  it("reproduces the card's test figures from the shipped files on wasm", async () => {
    const meta = JSON.parse(readFileSync(join(MODEL_DIR, 'metadata.json'), 'utf8')) as ShippedMetadata;
    const net = await loadPretrainedNeuroStageNet();
    const test = await ParquetImageDataset.fromFile(TEST_PARQUET, { targetSize: net.imageSize });
    expect(test.length).toBe(meta.test.count);
    const before = tf.memory().numTensors;
    const result = await evaluate(net.model, test, { classNames: net.classNames, ordinalOrder: net.ordinalOrder });
    expect(tf.memory().numTensors).toBe(before);
    // Another backend may flip an image whose top two classes are within float rounding: allow one image.
    expect(Math.abs(result.metrics.accuracy - meta.test.accuracy)).toBeLessThanOrEqual(1 / meta.test.count + 1e-9);
    expect(result.metrics.macro.auc).toBeCloseTo(meta.test.macroAuc, 2);
    expect(result.metrics.quadraticKappa).toBeCloseTo(meta.test.quadraticKappa, 1);
    expect(result.metrics.ece).toBeCloseTo(meta.test.eceBefore, 2);
    const k = result.numClasses;
    const rows = Array.from({ length: test.length }, (_, i) => result.logits.subarray(i * k, (i + 1) * k));
    const calibrated = new MultiClassMetrics({ numClasses: k }).update(result.labels, applyTemperature(rows, net.temperature)).compute();
    expect(calibrated.ece).toBeCloseTo(meta.test.eceAfter, 2);
    expect(net.temperature).toBe(meta.temperature);
    net.model.dispose();
  }, 300_000);
});
