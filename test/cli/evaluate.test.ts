// neurostagenet evaluate / predict per slice and per person, on the bundled sample (4 people, one per stage, 32
// slices each, a subject column) and on a file without a subject column, with a tiny dense model (32x32 input) on
// the cpu backend. The person figures are checked against per-person means computed here.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParquetImageDataset } from '../../src/index.js';
import { encodePng, grayToRgba } from '../../src/explain/index.js';
import { saveModel } from '../../src/node/index.js';
import { makeParquet } from '../data/helpers.js';
import { makeModel } from '../train/helpers.js';
import { SAMPLE, runInProcess } from './helpers.js';

// The sample's people in file order: one per class, in label order (rows 0-31 Mild, 32-63 Moderate, ...), each in
// slice order 1..32.
const SUBJECTS = ['subject-001', 'subject-147', 'subject-004', 'subject-002'];
const NAMES = ['Mild_Demented', 'Moderate_Demented', 'Non_Demented', 'Very_Mild_Demented'];

let tmp: string;
let modelDir: string;
let noSubjects: string;
let sample: ParquetImageDataset;
// Computed here on cpu: per-slice probabilities of the sample, and each person's mean and label.
let sliceProbs: number[][];
let personMeans: Map<string, { label: number; mean: number[] }>;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-evaluate-'));
  const model = makeModel({ size: 32, seed: 5 });
  modelDir = join(tmp, 'tiny');
  await saveModel(model, modelDir);
  sample = await ParquetImageDataset.fromFile(SAMPLE, { targetSize: [32, 32] });
  const pixels = new Float32Array(sample.length * 32 * 32);
  for (let i = 0; i < sample.length; i++) pixels.set(sample.get(i).image, i * 32 * 32);
  const x = tf.tensor4d(pixels, [sample.length, 32, 32, 1]);
  const y = model.predict(x) as tf.Tensor;
  sliceProbs = y.arraySync() as number[][];
  tf.dispose([x, y]);
  model.dispose();
  personMeans = new Map();
  const subjects = sample.subjects as readonly string[];
  for (const s of new Set(subjects)) {
    const rows = [...subjects.keys()].filter((i) => subjects[i] === s);
    const mean = [0, 1, 2, 3].map((c) => rows.reduce((a, i) => a + sliceProbs[i][c], 0) / rows.length);
    personMeans.set(s, { label: sample.labels[rows[0]], mean });
  }
  // 8 slices of the sample (2 per class) as PNGs, in a file with image and label columns only.
  const rows = [0, 1, 32, 33, 64, 65, 96, 97];
  noSubjects = join(tmp, 'no-subjects.parquet');
  const images = await Promise.all(rows.map(async (i) => new Uint8Array(await encodePng(grayToRgba(sample.get(i).image, 32, 32)))));
  await writeFile(noSubjects, await makeParquet({ images, labels: rows.map((i) => sample.labels[i]), hfNames: NAMES }));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface HeadlineJson { count: number; resampledBy: string; resampledUnits: number; resamples: number; accuracy: { value: number; low: number; high: number }; excludedClasses: Array<{ name: string }> }

describe('neurostagenet evaluate per slice and per person', () => {
  it('on the sample: both blocks with intervals over the 4 people, Moderate named as left out, figures in metrics.json, person PNGs', async () => {
    const out = join(tmp, 'eval');
    const r = await runInProcess(['evaluate', modelDir, SAMPLE, '--out', out, '--resamples', '200', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/per slice \(128 slices; 95% bootstrap intervals, 200 resamples, 4 people resampled\)/);
    expect(r.stdout).toMatch(/per person \(4 people; 95% bootstrap intervals, 200 resamples, 4 people resampled\)/);
    expect(r.stdout).toMatch(/^ {2}accuracy {11}\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]$/m);
    // One person per class: no class has the 2 people a class figure needs, Moderate included (in both blocks).
    const moderate = r.stdout.split('\n').filter((l) => l === '  not in the class averages: Moderate_Demented (1 person, fewer than 2: no honest class figure)');
    expect(moderate).toHaveLength(2);
    expect(r.stdout).toContain("people: the file's subject column (4 people)");
    expect(r.stdout).toContain('confusion_matrix_people.png');

    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as {
      count: number;
      figures: { slices: HeadlineJson; people: { headline: HeadlineJson; subjects: string[]; labels: number[]; sizes: number[]; probabilities: number[] } };
    };
    expect(metrics.count).toBe(128);
    const { slices, people } = metrics.figures;
    expect([slices.count, slices.resampledBy, slices.resampledUnits, slices.resamples]).toEqual([128, 'person', 4, 200]);
    expect(people.headline.count).toBe(4);
    expect(people.headline.excludedClasses.map((e) => e.name)).toEqual(NAMES);
    expect(people.subjects).toEqual(SUBJECTS);
    expect(people.sizes).toEqual([32, 32, 32, 32]);
    // The person figures are the means of the slice probabilities computed here (cpu both sides).
    let right = 0;
    people.subjects.forEach((s, g) => {
      const expected = personMeans.get(s)!;
      expect(people.labels[g]).toBe(expected.label);
      expected.mean.forEach((v, c) => expect(people.probabilities[g * 4 + c]).toBeCloseTo(v, 5));
      if (expected.mean.indexOf(Math.max(...expected.mean)) === expected.label) right++;
    });
    expect(people.headline.accuracy.value).toBeCloseTo(right / 4, 10);
    const sliceRight = sliceProbs.filter((p, i) => p.indexOf(Math.max(...p)) === sample.labels[i]).length;
    expect(slices.accuracy.value).toBeCloseTo(sliceRight / 128, 10);
    expect(slices.accuracy.low).toBeLessThanOrEqual(slices.accuracy.value);
    expect(slices.accuracy.high).toBeGreaterThanOrEqual(slices.accuracy.value);

    for (const f of ['confusion_matrix_people.png', 'roc_curves_people.png']) {
      const bytes = readFileSync(join(out, f));
      expect(bytes.subarray(0, 8).toString('latin1'), f).toBe('\x89PNG\r\n\x1a\n');
    }
    expect(readFileSync(join(out, 'report.txt'), 'utf8')).toContain('per person (4 people;');
  });

  it('a file without a subject column, or --subject-column none: per slice only, "per person: not available"', async () => {
    for (const [file, extra, count] of [[noSubjects, [], 8], [SAMPLE, ['--subject-column', 'none'], 128]] as const) {
      const out = join(tmp, `eval-none-${count}`);
      const r = await runInProcess(['evaluate', modelDir, file, '--out', out, '--resamples', '200', '--backend', 'cpu', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`per slice \\(${count} slices; 95% bootstrap intervals, 200 resamples, ${count} rows resampled \\(no subjects\\)\\)`));
      expect(r.stdout).toContain('per person: not available (no subject column');
      expect(r.stdout).not.toMatch(/per person \(\d+ people/);
      expect(existsSync(join(out, 'confusion_matrix_people.png'))).toBe(false);
      const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { figures: { slices: HeadlineJson; people?: unknown } };
      expect(metrics.figures.slices.count).toBe(count);
      expect(metrics.figures.people ?? null).toBeNull(); // absent (metrics.json writes it as null)
    }
  });
});

describe('neurostagenet predict per person', () => {
  it('prints one line per person after the slice table: the 4 subjects, 32 slices each, their label and the mean', async () => {
    const r = await runInProcess(['predict', modelDir, SAMPLE, '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout.split('\n');
    expect(text.filter((l) => l.startsWith('sample.parquet row'))).toHaveLength(128);
    const start = text.indexOf("per person (mean of each person's slice probabilities)");
    expect(start, r.stdout).toBeGreaterThan(0);
    expect(text[start + 1]).toMatch(/^person\s+slices\s+label\s+predicted/);
    const people = text.slice(start + 2).filter((l) => /^subject-/.test(l));
    expect(people).toHaveLength(4);
    const short = ['Mild', 'Moderate', 'Non', 'Very Mild'];
    const seen = people.map((l) => {
      const m = /^(subject-\d+)\s+(\d+)\s+(Mild|Moderate|Non|Very Mild)\s+(Mild|Moderate|Non|Very Mild)\s+((?:\d\.\d{3}\s*){4})$/.exec(l);
      expect(m, l).not.toBeNull();
      const expected = personMeans.get(m![1])!;
      expect(Number(m![2])).toBe(32);
      expect(m![3]).toBe(short[expected.label]);
      m![5].trim().split(/\s+/).map(Number).forEach((v, c) => expect(v).toBeCloseTo(expected.mean[c], 3));
      return m![1];
    });
    expect(seen).toEqual(SUBJECTS); // in the file's order
    expect(r.stdout).toMatch(/accuracy over these 4 people: \d\.\d{3}/);
  });

  it('--json: people (4, with slices and probabilities) and subject / slice on every prediction', async () => {
    const r = await runInProcess(['predict', modelDir, SAMPLE, '--json', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      predictions: Array<{ row: number; subject: string; slice: number; label: number }>;
      people: Array<{ subject: string; slices: number; label: number; labelName: string; predicted: number; probabilities: number[] }>;
    };
    expect(out.predictions).toHaveLength(128);
    out.predictions.forEach((p, i) => {
      expect(p.subject).toBe(sample.subjects![i]);
      expect(p.slice).toBe(sample.slices![i]);
    });
    // 32 slices 1..32 of each person in turn.
    expect(out.predictions.map((p) => p.subject)).toEqual(SUBJECTS.flatMap((s) => Array<string>(32).fill(s)));
    expect(out.predictions.map((p) => p.slice)).toEqual(SUBJECTS.flatMap(() => Array.from({ length: 32 }, (_, i) => i + 1)));
    expect(out.people.map((p) => [p.subject, p.slices])).toEqual(SUBJECTS.map((s) => [s, 32]));
    for (const p of out.people) {
      const expected = personMeans.get(p.subject)!;
      expect(p.label).toBe(expected.label);
      expect(p.labelName).toBe(NAMES[expected.label]);
      p.probabilities.forEach((v, c) => expect(v).toBeCloseTo(expected.mean[c], 5));
      expect(p.predicted).toBe(p.probabilities.indexOf(Math.max(...p.probabilities)));
    }
    expect(out.people.map((p) => p.labelName)).toEqual(NAMES);
  });

  it('a file without a subject column: no per-person lines, no people and no subject / slice in --json', async () => {
    const table = await runInProcess(['predict', modelDir, noSubjects, '--backend', 'cpu']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n').filter((l) => l.startsWith('no-subjects.parquet row'))).toHaveLength(8);
    expect(table.stdout).not.toContain('per person');
    const json = await runInProcess(['predict', modelDir, noSubjects, '--json', '--backend', 'cpu']);
    expect(json.code, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout) as { predictions: Array<Record<string, unknown>>; people?: unknown };
    expect(out).not.toHaveProperty('people');
    expect(out.predictions).toHaveLength(8);
    for (const p of out.predictions) {
      expect(p).not.toHaveProperty('subject');
      expect(p).not.toHaveProperty('slice');
    }
    // --subject-column none on the sample: no people; the slice column is still read.
    const none = await runInProcess(['predict', modelDir, SAMPLE, '--subject-column', 'none', '--limit', '4', '--json', '--backend', 'cpu']);
    expect(none.code, none.stderr).toBe(0);
    const noneOut = JSON.parse(none.stdout) as { predictions: Array<Record<string, unknown>> };
    expect(noneOut).not.toHaveProperty('people');
    expect(noneOut.predictions.map((p) => [p.subject, p.slice])).toEqual([[undefined, 1], [undefined, 2], [undefined, 3], [undefined, 4]]);
  });
});
