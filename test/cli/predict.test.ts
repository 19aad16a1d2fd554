// predict / explain / evaluate on the bundled sample with a small untrained NeuroStageNet (32x32 input) saved in
// a temporary directory with a calibration temperature in its metadata.json.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParquetImageDataset, applyTemperature, evaluate, buildNeuroStageNet } from '../../src/index.js';
import { groupNearDuplicates, headFootprint } from '../../src/data/index.js';
import { encodePng, grayToRgba } from '../../src/explain/index.js';
import { saveModel, writeModelMetadata } from '../../src/node/index.js';
import { makeModel } from '../train/helpers.js';
import { SAMPLE, errorLines, runCli, runInProcess } from './helpers.js';

let tmp: string;
let modelDir: string;
let sample: ParquetImageDataset;
// Calibrated probabilities of the first rows, computed here independently of the CLI (cpu backend).
let expectedFirst: number[][];
const TEMPERATURE = 1.5;
const FIRST = 4;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-predict-'));
  const model = await buildNeuroStageNet({ inputShape: [32, 32, 1], seed: 7 });
  modelDir = join(tmp, 'model');
  await saveModel(model, modelDir);
  await writeModelMetadata(modelDir, { temperature: TEMPERATURE, note: 'test model' });
  sample = await ParquetImageDataset.fromFile(SAMPLE, { targetSize: [32, 32] });
  const pixels = new Float32Array(FIRST * 32 * 32);
  for (let i = 0; i < FIRST; i++) pixels.set(sample.get(i).image, i * 32 * 32);
  const logits = tf.tidy(() => {
    const x = tf.tensor4d(pixels, [FIRST, 32, 32, 1]);
    // log-probabilities differ from the logits by a per-row constant: same softmax at any temperature
    return tf.log(model.predict(x) as tf.Tensor2D);
  });
  expectedFirst = applyTemperature(logits.arraySync() as number[][], TEMPERATURE);
  logits.dispose();
  model.dispose();
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('neurostagenet predict / explain / evaluate', () => {
  it('predict --json (spawned): one calibrated prediction per row, probabilities summing to 1', async () => {
    const r = await runCli(['predict', modelDir, SAMPLE, '--json', '--backend', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      backend: string;
      temperature: number;
      classNames: string[];
      predictions: Array<{ row: number; subject: string; slice: number; label: number; predicted: number; probabilities: number[] }>;
      people: Array<{ subject: string; slices: number }>;
    };
    expect(out.backend).toBe('wasm');
    expect(out.temperature).toBe(TEMPERATURE);
    expect(out.classNames).toEqual(['Mild_Demented', 'Moderate_Demented', 'Non_Demented', 'Very_Mild_Demented']);
    expect(out.predictions).toHaveLength(128);
    out.predictions.forEach((p, i) => {
      expect(p.row).toBe(i);
      expect(p.label).toBe(sample.labels[i]);
      expect([p.subject, p.slice]).toEqual([sample.subjects![i], sample.slices![i]]);
      expect(p.probabilities).toHaveLength(4);
      expect(p.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      // The untrained model gives near-uniform rows that tie after the 6-decimal rounding of the output, so check
      // that the predicted class holds the (rounded) maximum rather than that it is the first index of it.
      expect(p.probabilities[p.predicted]).toBe(Math.max(...p.probabilities));
    });
    // Same calibrated probabilities as computed here on cpu (wasm vs cpu round-off only).
    for (let i = 0; i < FIRST; i++) {
      out.predictions[i].probabilities.forEach((v, j) => expect(v).toBeCloseTo(expectedFirst[i][j], 3));
    }
    // One entry per person of the sample: 4 people, 32 slices each.
    expect(out.people.map((p) => [p.subject, p.slices])).toEqual([['subject-001', 32], ['subject-147', 32], ['subject-004', 32], ['subject-002', 32]]);
    // Progress went to stderr as plain lines (not a TTY), stdout is pure JSON.
    expect(r.stderr).toMatch(/classifying: 128\/128/);
  });

  it('predict and evaluate warn about slices outside the training levels the metadata records', async () => {
    // Training levels = the 10th..90th percentiles of the sample's head footprints (at the model's 32x32), so that
    // some rows fall outside on both sides; the rows outside are computed here independently of the CLI.
    const footprints = Array.from({ length: sample.length }, (_, i) => headFootprint(sample.get(i).image, 32, 32));
    const sorted = [...footprints].sort((a, b) => a - b);
    const trainingFootprint = { p1: sorted[13], median: sorted[64], p99: sorted[114] };
    const outside = footprints.map((f) => f < trainingFootprint.p1 || f > trainingFootprint.p99);
    const count = outside.filter(Boolean).length;
    expect(count).toBeGreaterThan(10);
    await writeModelMetadata(modelDir, { temperature: TEMPERATURE, trainingFootprint });
    try {
      const r = await runInProcess(['predict', modelDir, SAMPLE, '--json', '--backend', 'wasm']);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { trainingFootprint: unknown; predictions: Array<{ headFootprint: number; outsideTrainingLevels: boolean }> };
      expect(out.trainingFootprint).toEqual(trainingFootprint);
      expect(out.predictions.map((p) => p.outsideTrainingLevels)).toEqual(outside);
      out.predictions.forEach((p, i) => expect(p.headFootprint).toBeCloseTo(footprints[i], 4));
      expect(r.stderr).toContain(`warning: ${count} of 128 images lie outside the slice levels of 98% of the model's training slices`);
      // All rows: the sample is ordered by person and slice, so the first rows are one person's lowest slices.
      const e = await runInProcess(['evaluate', modelDir, SAMPLE, '--resamples', '200', '--out', join(tmp, 'eval-levels'), '--backend', 'wasm']);
      expect(e.code, e.stderr).toBe(0);
      expect(e.stderr).toContain(`warning: ${count} of 128 images lie outside`);
    } finally {
      await writeModelMetadata(modelDir, { temperature: TEMPERATURE, note: 'test model' });
    }
    // Without training levels in the metadata: no check, no warning.
    const plain = await runInProcess(['predict', modelDir, SAMPLE, '--limit', '3', '--json', '--backend', 'wasm']);
    expect(plain.stderr).not.toContain('slice levels');
    expect(JSON.parse(plain.stdout).predictions[0]).not.toHaveProperty('outsideTrainingLevels');
  });

  it('predict --tta flip gives evaluate(..., { tta: "flip" })\'s probabilities', async () => {
    // A small dense model (not the untrained NeuroStageNet, whose near-uniform outputs hardly move with a mirror).
    const tinyDir = join(tmp, 'tiny');
    const tiny = makeModel({ size: 32, seed: 5 });
    await saveModel(tiny, tinyDir);
    const rows = Array.from({ length: FIRST }, (_, i) => i);
    const expected = (await evaluate(tiny, sample, { indices: rows, tta: 'flip' })).probabilities;
    const plain = (await evaluate(tiny, sample, { indices: rows })).probabilities;
    tiny.dispose();
    const run = async (extra: string[]) => {
      const r = await runInProcess(['predict', tinyDir, SAMPLE, '--limit', String(FIRST), '--json', '--backend', 'cpu', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { predictions: Array<{ probabilities: number[] }> }).predictions.flatMap((p) => p.probabilities);
    };
    const [flipped, none] = [await run(['--tta', 'flip']), await run([])];
    flipped.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    none.forEach((v, i) => expect(v).toBeCloseTo(plain[i], 5));
    // The mirror images change the answer, so the two checks above tell the flag's two settings apart.
    expect(Math.max(...flipped.map((v, i) => Math.abs(v - none[i])))).toBeGreaterThan(1e-3);
  });

  it('predict prints a table with the label, the prediction and the probabilities', async () => {
    const r = await runInProcess(['predict', modelDir, SAMPLE, '--limit', '5', '--backend', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('sample.parquet row'));
    expect(rows).toHaveLength(5);
    expect(r.stdout).toMatch(/accuracy on these 5 rows: \d\.\d{3}/);
  });

  it('predict and explain take PNG files', async () => {
    const full = await ParquetImageDataset.fromFile(SAMPLE, { targetSize: [128, 128] });
    const png = join(tmp, 'slice.png');
    await writeFile(png, await encodePng(grayToRgba(full.get(3).image, 128, 128)));
    const r = await runInProcess(['predict', modelDir, png, '--json', '--backend', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { predictions: Array<{ input: string; label?: number; probabilities: number[] }> };
    expect(out.predictions).toHaveLength(1);
    expect(out.predictions[0].input).toBe(png);
    expect(out.predictions[0].label).toBeUndefined();
    expect(out.predictions[0].probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);

    const camDir = join(tmp, 'cam-png');
    const e = await runInProcess(['explain', modelDir, png, '--out', camDir, '--backend', 'wasm', '--method', 'gradcam++']);
    expect(e.code, e.stderr).toBe(0);
    expect(readdirSync(camDir)).toEqual([expect.stringMatching(/^slice_\w+_gradcampp\.png$/)]);
  });

  it('explain writes one overlay PNG per requested row', async () => {
    const out = join(tmp, 'cam');
    const r = await runInProcess(['explain', modelDir, SAMPLE, '--rows', '0,5', '--out', out, '--backend', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toMatch(/^row0_\w+_layercam\.png$/);
    expect(files[1]).toMatch(/^row5_\w+_layercam\.png$/);
    // A labelled PNG (renderExplanationPng): input | overlay | heatmap at 3x (64 px -> 192), 6 px gaps, 8 px margin,
    // 64 px colour scale; 58 px header and 18 px panel labels above, 8 px below.
    const bytes = readFileSync(join(out, files[0]));
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([8 + 3 * 192 + 12 + 64, 58 + 18 + 192 + 8]);
    const bad = await runInProcess(['explain', modelDir, SAMPLE, '--rows', '999', '--out', out, '--backend', 'wasm']);
    expect(bad.code).toBe(2);
    expect(errorLines(bad.stderr)).toEqual([expect.stringMatching(/^neurostagenet: error: --rows: the file has no row 999/)]);
  });

  it('evaluate writes the report with before / after calibration figures', async () => {
    const out = join(tmp, 'eval');
    const r = await runInProcess(['evaluate', modelDir, SAMPLE, '--limit', '24', '--out', out, '--backend', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['metrics.json', 'report.txt', 'confusion_matrix.png', 'roc_curves.png', 'reliability_diagram.png']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { count: number; calibration: { temperature: number } };
    expect(metrics.count).toBe(24);
    expect(metrics.calibration.temperature).toBe(TEMPERATURE);
    expect(r.stdout).toContain('temperature T  1.5000');
  });

  it('evaluate --by-subject on a file read without its subject column scores clusters of near-duplicate slices', async () => {
    // --subject-column none: the file's people are ignored, so clusters (groupNearDuplicates) stand in for them.
    const out = join(tmp, 'eval-subjects');
    const r = await runInProcess(['evaluate', modelDir, SAMPLE, '--limit', '40', '--subject-column', 'none', '--by-subject', '--group-threshold', '40', '--resamples', '200', '--out', out, '--backend', 'wasm']);
    expect(r.code, r.stderr).toBe(0);
    const first40 = { length: 40, labels: sample.labels.subarray(0, 40), classNames: sample.classNames, imageSize: sample.imageSize, get: (i: number) => sample.get(i) };
    const clusters = await groupNearDuplicates(first40, { threshold: 40 });
    expect(clusters.count).toBeLessThan(40); // some slices do share a cluster at this threshold
    expect(clusters.count).toBeGreaterThan(1);
    const saved = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as {
      figures: { people: { source: string; headline: { count: number }; subjects: string[]; sizes: number[]; metrics: { perClass: Array<{ support: number }> } } };
    };
    const people = saved.figures.people;
    expect(people.headline.count).toBe(clusters.count);
    expect(people.subjects.every((s) => /^cluster-\d+$/.test(s))).toBe(true);
    expect(people.sizes.reduce((a, b) => a + b, 0)).toBe(40);
    // The cluster sizes are those groupNearDuplicates finds.
    const sizes = new Map<number, number>();
    for (const g of clusters.groups) sizes.set(g, (sizes.get(g) ?? 0) + 1);
    expect([...people.sizes].sort((a, b) => a - b)).toEqual([...sizes.values()].sort((a, b) => a - b));
    // Each cluster counts once, under its label.
    const perLabel = [0, 0, 0, 0];
    const seen = new Set<number>();
    for (let i = 0; i < 40; i++) if (!seen.has(clusters.groups[i])) { seen.add(clusters.groups[i]); perLabel[sample.labels[i]]++; }
    expect(people.metrics.perClass.map((c) => c.support)).toEqual(perLabel);
    expect(r.stdout).toContain(`per person (${clusters.count} people;`);
    expect(r.stdout).toContain(`people: ${clusters.count} clusters of near-duplicate slices (threshold 40) stand in for people (the file has no subject column)`);
  });
});
