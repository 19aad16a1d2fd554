import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { MetricsInputError, MultiClassMetrics, formatMetricsSummary, rocAuc, type MultiClassMetricsResult } from '../../src/index.js';
import { formatFixed } from '../../src/metrics/classification-report.js';
import { trapezoidArea } from '../../src/metrics/roc.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Expected {
  accuracy: number;
  balancedAccuracy: number;
  perClass: { className: string; precision: number; recall: number; f1: number; support: number; auc: number | null }[];
  macro: { precision: number; recall: number; f1: number; auc: number | null };
  weighted: { precision: number; recall: number; f1: number; auc: number | null };
  sklearnOvrMacroAuc: number | null;
  sklearnOvrWeightedAuc: number | null;
  confusionMatrix: number[][];
  confusionMatrixNormalized: number[][];
  quadraticKappa: number | null;
  quadraticKappaSklearnDefault: number | null;
  adjacentErrorShare: number | null;
  errorCount: number;
  ece: number;
  calibrationBins: { lower: number; upper: number; count: number; meanConfidence: number; accuracy: number }[];
  brier: number;
  logLoss: number;
  roc: ({ fpr: number[]; tpr: number[]; thresholds: (number | 'Infinity')[] } | null)[];
  report: string;
}
interface Case {
  name: string;
  numClasses: number;
  classNames: string[];
  ordinalOrder: number[];
  labels: number[];
  probabilities: number[][];
  expected: Expected;
}
const fixture = JSON.parse(readFileSync(resolve(here, '../fixtures/metrics/metrics_cases.json'), 'utf8')) as {
  cases: Case[];
};
const cases = fixture.cases;

const COUNT_TOL = 1e-12;
const RANK_TOL = 1e-9; // AUC, kappa, ECE

function close(actual: number | undefined, expected: number | null, tol: number, what: string): void {
  if (expected === null) {
    expect(actual === undefined || Number.isNaN(actual), `${what}: expected undefined/NaN, got ${actual}`).toBe(true);
    return;
  }
  expect(actual, what).toBeTypeOf('number');
  expect(Math.abs((actual as number) - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tol);
}

function metricsFor(c: Case): MultiClassMetrics {
  return new MultiClassMetrics({ numClasses: c.numClasses, classNames: c.classNames, ordinalOrder: c.ordinalOrder });
}

function checkAgainst(r: MultiClassMetricsResult, c: Case): void {
  const e = c.expected;
  expect(r.count).toBe(c.labels.length);
  close(r.accuracy, e.accuracy, COUNT_TOL, 'accuracy');
  close(r.balancedAccuracy, e.balancedAccuracy, COUNT_TOL, 'balancedAccuracy');
  e.perClass.forEach((pc, k) => {
    const m = r.perClass[k];
    expect(m.className).toBe(pc.className);
    expect(m.support).toBe(pc.support);
    close(m.precision, pc.precision, COUNT_TOL, `precision[${k}]`);
    close(m.recall, pc.recall, COUNT_TOL, `recall[${k}]`);
    close(m.f1, pc.f1, COUNT_TOL, `f1[${k}]`);
    close(m.auc, pc.auc, RANK_TOL, `auc[${k}]`);
  });
  for (const avg of ['macro', 'weighted'] as const) {
    close(r[avg].precision, e[avg].precision, COUNT_TOL, `${avg} precision`);
    close(r[avg].recall, e[avg].recall, COUNT_TOL, `${avg} recall`);
    close(r[avg].f1, e[avg].f1, COUNT_TOL, `${avg} f1`);
    close(r[avg].auc, e[avg].auc, RANK_TOL, `${avg} auc`);
  }
  if (e.sklearnOvrMacroAuc !== null) close(r.macro.auc, e.sklearnOvrMacroAuc, RANK_TOL, 'sklearn ovr macro auc');
  if (e.sklearnOvrWeightedAuc !== null) close(r.weighted.auc, e.sklearnOvrWeightedAuc, RANK_TOL, 'sklearn ovr weighted');
  expect(r.confusionMatrix).toEqual(e.confusionMatrix);
  r.confusionMatrixNormalized.forEach((row, i) =>
    row.forEach((v, j) => close(v, e.confusionMatrixNormalized[i][j], COUNT_TOL, `cmNorm[${i}][${j}]`)),
  );
  close(r.quadraticKappa, e.quadraticKappa, RANK_TOL, 'quadraticKappa');
  expect(r.errorCount).toBe(e.errorCount);
  close(r.adjacentErrorShare, e.adjacentErrorShare, COUNT_TOL, 'adjacentErrorShare');
  close(r.ece, e.ece, RANK_TOL, 'ece');
  expect(r.calibrationBins.map((b) => b.count)).toEqual(e.calibrationBins.map((b) => b.count));
  r.calibrationBins.forEach((b, i) => {
    expect(b.lower).toBe(e.calibrationBins[i].lower);
    expect(b.upper).toBe(e.calibrationBins[i].upper);
    close(b.meanConfidence, e.calibrationBins[i].meanConfidence, RANK_TOL, `bin ${i} confidence`);
    close(b.accuracy, e.calibrationBins[i].accuracy, COUNT_TOL, `bin ${i} accuracy`);
  });
  close(r.brier, e.brier, COUNT_TOL, 'brier');
  close(r.logLoss, e.logLoss, COUNT_TOL, 'logLoss');
  e.roc.forEach((curve, k) => {
    const got = r.roc[k];
    if (curve === null) {
      expect(got).toBeUndefined();
      return;
    }
    expect(got).toBeDefined();
    expect(got!.thresholds).toEqual(curve.thresholds.map((t) => (t === 'Infinity' ? Infinity : t)));
    got!.fpr.forEach((v, i) => close(v, curve.fpr[i], COUNT_TOL, `roc[${k}].fpr[${i}]`));
    got!.tpr.forEach((v, i) => close(v, curve.tpr[i], COUNT_TOL, `roc[${k}].tpr[${i}]`));
    expect(got!.fpr.length).toBe(curve.fpr.length);
  });
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('MultiClassMetrics vs scikit-learn fixtures', () => {
  it('has the expected variety of cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    for (const name of ['perfect', 'constant', 'uniform', 'tied-0', 'missing-class-1', 'single-class-constant']) {
      expect(cases.some((c) => c.name === name)).toBe(true);
    }
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s: every figure equals scikit-learn', (_name, c) => {
    const m = metricsFor(c).update(c.labels, c.probabilities);
    checkAgainst(m.compute(), c);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s: format() is classification_report, digit for digit', (_n, c) => {
    const m = metricsFor(c).update(c.labels, c.probabilities);
    expect(m.format()).toBe(c.expected.report);
  });

  it('kappa uses all K classes as weights (differs from sklearn default only when a class is never seen)', () => {
    const c = cases.find((x) => x.name === 'missing-class-2-never-predicted')!;
    const r = metricsFor(c).update(c.labels, c.probabilities).compute();
    expect(c.expected.quadraticKappa).not.toBeCloseTo(c.expected.quadraticKappaSklearnDefault!, 6);
    close(r.quadraticKappa, c.expected.quadraticKappa, RANK_TOL, 'kappa');
  });
});

describe('MultiClassMetrics streaming and inputs', () => {
  const c = cases.find((x) => x.name === 'alzheimer-like')!;
  const k = c.numClasses;

  it('several batches of mixed input types equal one batch exactly', () => {
    const one = metricsFor(c).update(c.labels, c.probabilities).compute();
    const m = metricsFor(c);
    const cuts = [0, 17, 18, 120, 250, c.labels.length];
    for (let b = 0; b + 1 < cuts.length; b++) {
      const ys = c.labels.slice(cuts[b], cuts[b + 1]);
      const ps = c.probabilities.slice(cuts[b], cuts[b + 1]);
      if (b % 3 === 0) m.update(Int32Array.from(ys), Float64Array.from(ps.flat()));
      else if (b % 3 === 1) m.update(ys.map((y) => Array.from({ length: k }, (_, j) => (j === y ? 1 : 0))), ps);
      else m.update(ys, ps);
    }
    expect(m.count).toBe(c.labels.length);
    expect(m.compute()).toEqual(one);
  });

  it('accepts tensors (index and one-hot labels), leaks none and leaves them undisposed', () => {
    const one = metricsFor(c).update(c.labels, c.probabilities).compute();
    const before = tf.memory().numTensors;
    const yIdx = tf.tensor1d(c.labels.slice(0, 150), 'int32');
    const yHot = tf.tidy(() => tf.oneHot(tf.tensor1d(c.labels.slice(150), 'int32'), k));
    const p1 = tf.tensor2d(c.probabilities.slice(0, 150), undefined, 'float32');
    const p2 = tf.tensor2d(c.probabilities.slice(150), undefined, 'float32');
    const made = tf.memory().numTensors;
    const m = metricsFor(c).update(yIdx, p1).update(yHot, p2);
    const r = m.compute();
    m.format();
    expect(tf.memory().numTensors).toBe(made);
    expect(yIdx.isDisposed || p1.isDisposed).toBe(false);
    tf.dispose([yIdx, yHot, p1, p2]);
    expect(tf.memory().numTensors).toBe(before);
    // float32 rounding of the probabilities: counts identical, continuous figures close.
    expect(r.confusionMatrix).toEqual(one.confusionMatrix);
    expect(r.macro.auc).toBeCloseTo(one.macro.auc!, 5);
    expect(r.logLoss).toBeCloseTo(one.logLoss, 5);
  });

  it('reset() forgets everything', () => {
    const m = metricsFor(c).update(c.labels, c.probabilities);
    m.reset();
    expect(m.count).toBe(0);
    expect(() => m.compute()).toThrow(MetricsInputError);
    m.update([0, 1], [
      [0.9, 0.1, 0, 0],
      [0.1, 0.9, 0, 0],
    ]);
    expect(m.compute().accuracy).toBe(1);
  });

  it('reports ordinal figures in severity order', () => {
    // true Non(2) predicted Very Mild(3): adjacent; true Non predicted Moderate(1): 3 steps apart.
    const m = new MultiClassMetrics({ numClasses: 4, ordinalOrder: [2, 3, 0, 1] });
    m.update([2, 2, 0], [
      [0, 0, 0.4, 0.6],
      [0, 0.7, 0.3, 0],
      [1, 0, 0, 0],
    ]);
    const r = m.compute();
    expect(r.errorCount).toBe(2);
    expect(r.adjacentErrorShare).toBe(0.5);
    expect(formatMetricsSummary(r)).toContain('2 < 3 < 0 < 1');
  });
});

describe('MultiClassMetrics input errors', () => {
  const m = () => new MultiClassMetrics({ numClasses: 3 });
  it('names the bad row and value', () => {
    expect(() => m().update([0, 3], [[1, 0, 0], [0, 1, 0]])).toThrow(/row 1 is 3/);
    expect(() => m().update([0, 1.5], [[1, 0, 0], [0, 1, 0]])).toThrow(MetricsInputError);
    expect(() => m().update([0, 1], [[1, 0, 0], [0, NaN, 0]])).toThrow(/row 1, column 1 is NaN/);
    expect(() => m().update([0, 1], [[1, 0, 0], [0, 1]])).toThrow(/row 1 has 2 entries/);
    expect(() => m().update([0], [[1, 0, 0], [0, 1, 0]])).toThrow(/1 labels but 2/);
    expect(() => m().update([0], [[3.2, -1, 0]])).toThrow(/not logits/);
    expect(() => m().update([0], new Float32Array(4))).toThrow(/multiple of numClasses/);
    expect(() => new MultiClassMetrics({ numClasses: 3, ordinalOrder: [0, 0, 1] })).toThrow(/permutation/);
    expect(() => new MultiClassMetrics({ numClasses: 3, classNames: ['a'] })).toThrow(/classNames/);
    const t = tf.zeros([2, 4]);
    expect(() => m().update([0, 1], t)).toThrow(/shape \[N, 3\]/);
    t.dispose();
  });
});

describe('helpers', () => {
  it('formatFixed rounds exact ties to even like Python', () => {
    expect(formatFixed(0.03125, 4)).toBe('0.0312');
    expect(formatFixed(0.09375, 4)).toBe('0.0938');
    expect(formatFixed(2 / 3, 4)).toBe('0.6667');
    expect(formatFixed(0.5, 0)).toBe('0');
    expect(formatFixed(1.5, 0)).toBe('2');
    expect(formatFixed(-0.03125, 4)).toBe('-0.0312');
  });
  it('rocAuc counts ties as one half', () => {
    expect(rocAuc([1, 0], [0.5, 0.5])).toBe(0.5);
    expect(rocAuc([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.4])).toBe(0.875);
    expect(rocAuc([1, 1], [0.2, 0.3])).toBeUndefined();
  });
  it('trapezoidArea integrates by the trapezoid rule and rejects mismatched lengths', () => {
    // 0.5 * (1 + 1) / 2 + 0.5 * (1 + 0) / 2 = 0.75
    expect(trapezoidArea([0, 0.5, 1], [1, 1, 0])).toBeCloseTo(0.75, 12);
    expect(trapezoidArea(Float32Array.of(0, 0.25, 1), Float32Array.of(0, 1, 1))).toBeCloseTo(0.125 + 0.75, 6);
    expect(trapezoidArea([0.3], [2])).toBe(0);
    expect(() => trapezoidArea([0, 1], [1])).toThrow(MetricsInputError);
    expect(() => trapezoidArea([0, 1], [1])).toThrow(/2 x values but 1 y values/);
  });
});

describe('MultiClassMetrics: rows that do not sum to 1 (issue 15)', () => {
  it('rejects them as scikit-learn roc_auc_score(multi_class="ovr") does, naming the row and its sum', () => {
    const metrics = new MultiClassMetrics({ numClasses: 3 });
    const error = (() => {
      try {
        metrics.update([0, 1], [[0.7, 0.2, 0.1], [0.5, 0.5, 0.5]]);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MetricsInputError);
    expect((error as Error).message).toMatch(/row 1 sums to 1\.5; expected probabilities that sum to 1/);
    expect(() => metrics.update([0], [[0.3, 0.3, 0.3]])).toThrow(/row 0 sums to 0\.9|row 0 sums to 0\.8999/);
    // Nothing was added by the rejected batches.
    expect(() => metrics.compute()).toThrow(/no samples/);
  });

  it('accepts float32 softmax rows (np.allclose tolerance: 1e-5 relative)', () => {
    const logits = tf.tensor2d([[30, -4, 2.5, 0.1], [1e-3, 2e-3, -1e-3, 0], [-80, 80, 3, 3]]);
    const probs = tf.softmax(logits);
    const metrics = new MultiClassMetrics({ numClasses: 4 }).update([0, 1, 1], probs);
    expect(metrics.compute().accuracy).toBeGreaterThan(0);
    tf.dispose([logits, probs]);
    expect(() => new MultiClassMetrics({ numClasses: 2 }).update([0, 1], [[0.6, 0.400004], [1 - 2e-6, 0]])).not.toThrow();
    expect(() => new MultiClassMetrics({ numClasses: 2 }).update([0, 1], [[0.6, 0.40003], [0.5, 0.5]])).toThrow(/row 0 sums to/);
  });
});
