import { describe, expect, it } from 'vitest';
import { MetricsInputError, reliabilityBins, reliabilityIntervals } from '../../src/index.js';
import { createRng } from '../../src/random.js';

describe('reliabilityIntervals: per-person bootstrap of the reliability bins (issue 15)', () => {
  it('two people, one bin: every resample is AA, AB/BA or BB, so the bounds follow by hand', () => {
    // Person A: two slices at confidence 0.9, both right; person B: two at 0.9, both wrong.
    const conf = [0.9, 0.9, 0.9, 0.9];
    const correct = [1, 1, 0, 0];
    const subjects = ['A', 'A', 'B', 'B'];
    const r = reliabilityIntervals(conf, correct, subjects, { numBins: 10 });
    const bin = r.summary.bins.findIndex((b) => b.count > 0);
    // Resample accuracies: AA -> 1 (p 1/4), AB -> 1/2 (p 1/2), BB -> 0 (p 1/4): the 2.5% and 97.5% points are 0 and 1.
    expect(r.binAccuracy[bin].value).toBe(0.5);
    expect(r.binAccuracy[bin].low).toBe(0);
    expect(r.binAccuracy[bin].high).toBe(1);
    // ECE per resample: |0.9 - 1| = 0.1, |0.9 - 0.5| = 0.4, |0.9 - 0| = 0.9.
    expect(r.ece.value).toBeCloseTo(0.4, 12);
    expect(r.ece.low).toBeCloseTo(0.1, 12);
    expect(r.ece.high).toBeCloseTo(0.9, 12);
    expect(r.people).toBe(2);
    expect(r.resamples).toBe(2000);
    // Empty bins have no draws: NaN ends.
    expect(Number.isNaN(r.binAccuracy[0].low)).toBe(true);
  });

  it('three people in different bins: a bin held by one person is always that person (interval collapses)', () => {
    const conf = [0.95, 0.95, 0.55, 0.55, 0.35];
    const correct = [1, 0, 0, 0, 1];
    const subjects = [1, 1, 2, 2, 3];
    const r = reliabilityIntervals(conf, correct, subjects, { numBins: 10 });
    for (const [j, b] of r.summary.bins.entries()) {
      if (b.count === 0) continue;
      expect(r.binAccuracy[j].low).toBe(b.accuracy);
      expect(r.binAccuracy[j].high).toBe(b.accuracy);
    }
  });

  it('identical people in a single bin: every interval collapses to the point estimate', () => {
    const conf: number[] = [];
    const correct: number[] = [];
    const subjects: string[] = [];
    for (let p = 0; p < 6; p++) {
      conf.push(0.7, 0.8, 0.75);
      correct.push(1, 0, 1);
      subjects.push(`p${p}`, `p${p}`, `p${p}`);
    }
    const r = reliabilityIntervals(conf, correct, subjects, { numBins: 1 });
    expect(r.binAccuracy[0].low).toBeCloseTo(r.binAccuracy[0].value, 12);
    expect(r.binAccuracy[0].high).toBeCloseTo(r.binAccuracy[0].value, 12);
    expect(r.ece.low).toBeCloseTo(r.ece.value, 12);
    expect(r.ece.high).toBeCloseTo(r.ece.value, 12);
  });

  it('property: seeded random data, the intervals contain the point estimates; same seed same intervals', () => {
    for (let trial = 0; trial < 5; trial++) {
      const rng = createRng(100 + trial);
      const n = 120;
      const conf = Array.from({ length: n }, () => 0.25 + 0.75 * rng());
      const correct = conf.map((c) => (rng() < c ? 1 : 0));
      const subjects = Array.from({ length: n }, (_, i) => Math.floor(i / 6));
      const r = reliabilityIntervals(conf, correct, subjects, { resamples: 400, seed: trial });
      expect(r.summary).toEqual(reliabilityBins(conf, correct, 15));
      for (const [j, b] of r.summary.bins.entries()) {
        if (b.count === 0) continue;
        expect(r.binAccuracy[j].low).toBeLessThanOrEqual(b.accuracy + 1e-12);
        expect(r.binAccuracy[j].high).toBeGreaterThanOrEqual(b.accuracy - 1e-12);
        expect(r.binAccuracy[j].low).toBeGreaterThanOrEqual(0);
        expect(r.binAccuracy[j].high).toBeLessThanOrEqual(1);
      }
      expect(r.ece.low).toBeLessThanOrEqual(r.ece.high);
      expect(reliabilityIntervals(conf, correct, subjects, { resamples: 400, seed: trial })).toEqual(r);
    }
  });

  it('mismatched inputs and bad options are MetricsInputError', () => {
    expect(() => reliabilityIntervals([0.5], [1, 0], ['a'])).toThrow(MetricsInputError);
    expect(() => reliabilityIntervals([0.5], [1], ['a', 'b'])).toThrow(MetricsInputError);
    expect(() => reliabilityIntervals([], [], [])).toThrow(MetricsInputError);
    expect(() => reliabilityIntervals([0.5], [1], ['a'], { resamples: 10 })).toThrow(MetricsInputError);
    expect(() => reliabilityIntervals([0.5], [1], ['a'], { numBins: 0 })).toThrow(MetricsInputError);
  });
});

describe('writeEvaluationReport with reliability intervals (issue 15)', () => {
  it('records them in metrics.json and draws the diagram', async () => {
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { MultiClassMetrics } = await import('../../src/index.js');
    const { writeEvaluationReport } = await import('../../src/node/index.js');
    const rng = createRng(7);
    const n = 90;
    const labels: number[] = [];
    const probs: number[] = [];
    for (let i = 0; i < n; i++) {
      const y = i % 3;
      labels.push(y);
      const row = [rng(), rng(), rng()];
      row[y] += rng() * 2;
      const s = row.reduce((a, b) => a + b, 0);
      probs.push(...row.map((v) => v / s));
    }
    const subjects = labels.map((_, i) => `s${Math.floor(i / 5)}`);
    const m = new MultiClassMetrics({ numClasses: 3 });
    m.update(labels, labels.map((_, i) => probs.slice(i * 3, i * 3 + 3)));
    const result = m.compute();
    const conf: number[] = [];
    const correct: number[] = [];
    for (let i = 0; i < n; i++) {
      const row = probs.slice(i * 3, i * 3 + 3);
      const top = row.indexOf(Math.max(...row));
      conf.push(row[top]);
      correct.push(top === labels[i] ? 1 : 0);
    }
    const ri = reliabilityIntervals(conf, correct, subjects, { numBins: result.calibrationBins.length });
    const out = mkdtempSync(join(tmpdir(), 'nsn-rel-'));
    try {
      const files = await writeEvaluationReport(result, out, { reliabilityIntervals: { model: ri } });
      const json = JSON.parse(readFileSync(files.metricsJson, 'utf8'));
      expect(json.reliabilityIntervals.model.people).toBe(18);
      expect(json.reliabilityIntervals.model.ece.value).toBeCloseTo(result.ece, 12);
      expect(json.reliabilityIntervals.model.binAccuracy).toHaveLength(result.calibrationBins.length);
      expect(readFileSync(files.reliabilityDiagramPng).length).toBeGreaterThan(1000);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
