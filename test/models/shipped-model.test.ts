// The model shipped in models/neurostagenet: its card's test figures (per slice and per person, with intervals over
// people) reproduce on wasm from the files a user gets, it is small enough, its calibration decision is recorded,
// and it loads through the public loader. ship-model.ts measured them natively.
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { ParquetImageDataset, applyTemperature, evaluate, figuresByPerson, loadPretrainedNeuroStageNet, type HeadlineFigures } from '../../src/index.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MODEL_DIR = join(REPO, 'models', 'neurostagenet');
const TEST_PARQUET = join(REPO, '..', 'shared', 'data', 'alzheimer-mri-subjects', 'test.parquet');

interface ShippedMetadata {
  temperature: number;
  weights: 'float16' | 'float32';
  calibration: { temperature: number; kept: boolean; reason: string; fittedTemperature: number };
  test: {
    file: string; count: number; people: number; classesCovered: string[]; accuracy: number; macroAuc: number; quadraticKappa: number;
    personAccuracy: number; personMacroAuc: number; intervals: { slices: HeadlineFigures; people: HeadlineFigures };
    eceUncalibrated: number;
  };
}
const meta = JSON.parse(readFileSync(join(MODEL_DIR, 'metadata.json'), 'utf8')) as ShippedMetadata;

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
});

describe('shipped model (models/neurostagenet)', () => {
  it('is at most 15 MB, stores the weights its metadata names, and its card gives the figures with intervals', () => {
    const bytes = statSync(join(MODEL_DIR, 'model.json')).size + statSync(join(MODEL_DIR, 'weights.bin')).size;
    expect(bytes).toBeLessThanOrEqual(15e6);
    const manifest = JSON.parse(readFileSync(join(MODEL_DIR, 'model.json'), 'utf8')) as { weightsManifest: Array<{ weights: Array<{ dtype: string; quantization?: { dtype: string } }> }> };
    const stored = manifest.weightsManifest.flatMap((g) => g.weights).map((w) => w.quantization?.dtype ?? w.dtype);
    expect(new Set(stored.filter((d) => d !== 'int32'))).toEqual(new Set([meta.weights]));
    const card = readFileSync(join(REPO, 'models', 'README.md'), 'utf8');
    expect(card).toContain('not for diagnosis');
    const iv = (x: { value: number; low: number; high: number }) => `${x.value.toFixed(3)} [${x.low.toFixed(3)}, ${x.high.toFixed(3)}]`;
    expect(card).toContain(iv(meta.test.intervals.slices.accuracy));
    expect(card).toContain(iv(meta.test.intervals.people.accuracy));
    expect(card).toContain('Moderate_Demented: 1 person, fewer than 2: no honest class figure');
    expect(card).not.toMatch(/\{\{\w+\}\}/);
  });

  it('records the calibration decision: the served temperature is the fitted one only when kept', () => {
    expect(meta.temperature).toBe(meta.calibration.temperature);
    expect(meta.temperature).toBe(meta.calibration.kept ? meta.calibration.fittedTemperature : 1);
    expect(meta.calibration.reason).toMatch(meta.calibration.kept ? /^kept / : /^not kept: /);
  });

  it("reproduces the card's per-slice and per-person test figures from the shipped files on wasm", async () => {
    const net = await loadPretrainedNeuroStageNet();
    const test = await ParquetImageDataset.fromFile(TEST_PARQUET, { targetSize: net.imageSize });
    expect(test.length).toBe(meta.test.count);
    expect(new Set(test.subjects).size).toBe(meta.test.people);
    const before = tf.memory().numTensors;
    // The card's figures cover every test slice (recorded before the input check, which refuses 0.5% of them).
    const result = await evaluate(net.model, test, { classNames: net.classNames, ordinalOrder: net.ordinalOrder, bootstrap: { resamples: 200 }, allowUnchecked: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.metrics.ece).toBeCloseTo(meta.test.eceUncalibrated, 2);
    // The card's figures are those of the served probabilities (calibrated only when the temperature was kept).
    const k = result.numClasses;
    const served = net.temperature === 1
      ? result.figures
      : figuresByPerson(result.labels, Float32Array.from(applyTemperature(Array.from({ length: test.length }, (_, i) => result.logits.subarray(i * k, (i + 1) * k)), net.temperature).flat()), {
          numClasses: k, classNames: net.classNames, ordinalOrder: net.ordinalOrder, subjects: Array.from(result.indices, (i) => test.subjects![i]), resamples: 200,
        });
    const s = served.slices.headline;
    const p = served.people!.headline;
    // Another backend may flip an image whose top two classes are within float rounding: allow one image / person.
    expect(Math.abs(s.accuracy.value - meta.test.accuracy)).toBeLessThanOrEqual(1 / meta.test.count + 1e-9);
    expect(Math.abs(p.accuracy.value - meta.test.personAccuracy)).toBeLessThanOrEqual(1 / meta.test.people + 1e-9);
    expect(s.macroAuc!.value).toBeCloseTo(meta.test.macroAuc, 2);
    expect(p.macroAuc!.value).toBeCloseTo(meta.test.personMacroAuc, 2);
    expect(s.quadraticKappa.value).toBeCloseTo(meta.test.quadraticKappa, 1);
    expect(s.classNamesCovered).toEqual(meta.test.classesCovered);
    net.model.dispose();
  }, 300_000);
});
