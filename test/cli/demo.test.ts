// `npm run demo` (examples/demo.ts) end to end on wasm, kept fast with 8 images and 2 Grad-CAM overlays.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runScript } from './helpers.js';

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'neurostagenet-demo-'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('demo', () => {
  it('classifies the sample, writes the report and Grad-CAM PNGs, prints where and the wall time', async () => {
    const out = join(tmp, 'demo-output');
    const r = await runScript(join(REPO, 'examples', 'demo.ts'), ['--backend', 'wasm', '--images', '8', '--gradcam', '2', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const shipped = existsSync(join(REPO, 'models', 'neurostagenet', 'model.json'));
    if (shipped) {
      expect(r.stdout).toMatch(/^model: .*models[\\/]neurostagenet/m);
      // The sample's people were trained on: the demo must say its figures are no test score and point to the card,
      // with the held-out figures when the metadata records them (any count: the shipped model is re-trained on the
      // split by person; the per-person figure only when the metadata has test.personAccuracy).
      expect(r.stdout).toMatch(
        /note: the sample's people are part of the training file, so these figures are not a test score; held-out figures are in models\/README\.md(: accuracy \d\.\d{3}, macro AUC \d\.\d{3} on (\d+|the) test slices of people it never saw(; per person \d\.\d{3} over (\d+|the) people)?)?\.$/m,
      );
      const test = (JSON.parse(readFileSync(join(REPO, 'models', 'neurostagenet', 'metadata.json'), 'utf8')) as { test?: { accuracy?: number; personAccuracy?: number } }).test;
      if (typeof test?.accuracy === 'number') expect(r.stdout).toContain(`held-out figures are in models/README.md: accuracy ${test.accuracy.toFixed(3)}`);
      if (typeof test?.personAccuracy === 'number') expect(r.stdout).toContain(`; per person ${test.personAccuracy.toFixed(3)} over`);
      // The shipped metadata records the training levels; the sample is training data, so it lies within them.
      expect(r.stdout).toContain("slice levels: all 8 images lie within the model's training levels");
    }
    else expect(r.stdout).toContain('no trained model shipped: using randomly initialised weights — predictions are meaningless');
    expect(r.stdout).toMatch(/classified 8 of 8 images \(input check: (checked|unchecked), 0 refused\): accuracy \d\.\d{3}/);
    // The demo shows what the input check refuses (the shipped model carries one).
    if (r.stdout.includes('input check: checked')) {
      expect(r.stdout).toMatch(/an all-black image +refused: a constant image \(every pixel 0\)/);
      expect(r.stdout).toMatch(/a slice scaled 0\.\.1 +refused: .*the model takes 0\.\.255/);
      expect(r.stdout).toMatch(/a slice inverted +refused: /);
    }
    // One stage per person: the 8 images are 2 middle slices of each of the 4 people, in the file's order.
    const text = r.stdout.split('\n');
    const start = text.indexOf('per person (mean of the slice probabilities):');
    expect(start, r.stdout).toBeGreaterThan(0);
    const people = text.slice(start + 1, start + 5).map((l) => /^ {2}(subject-\d{3})\s+(\d+) slices {2}true (\w+)\s+predicted (\w+)\s+p=(\d\.\d{3})$/.exec(l));
    expect(people.every((m) => m !== null), text.slice(start, start + 6).join('\n')).toBe(true);
    expect(people.map((m) => [m![1], Number(m![2]), m![3]])).toEqual([
      ['subject-001', 2, 'Mild_Demented'],
      ['subject-147', 2, 'Moderate_Demented'],
      ['subject-004', 2, 'Non_Demented'],
      ['subject-002', 2, 'Very_Mild_Demented'],
    ]);
    expect(text[start + 5]).not.toMatch(/^ {2}subject-/);
    expect(r.stdout).toContain(`wrote ${out}`);
    expect(r.stdout).toMatch(/wall time \d+\.\d s on wasm/);

    for (const f of ['metrics.json', 'report.txt', 'confusion_matrix.png', 'roc_curves.png', 'reliability_diagram.png', 'predictions.csv']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { count: number; perClass: Array<{ support: number }> };
    expect(metrics.count).toBe(8);
    expect(metrics.perClass.map((c) => c.support)).toEqual([2, 2, 2, 2]); // 8 images, 2 per class
    expect(readFileSync(join(out, 'predictions.csv'), 'utf8').trim().split('\n')).toHaveLength(9);
    const pngs = readdirSync(join(out, 'gradcam'));
    expect(pngs).toHaveLength(2);
    // One per class, first classes first: Mild (0) and Moderate (1).
    expect(pngs.some((f) => /^row\d+_Mild_Demented\.png$/.test(f)), pngs.join()).toBe(true);
    expect(pngs.some((f) => /^row\d+_Moderate_Demented\.png$/.test(f)), pngs.join()).toBe(true);
  });
});
