import { describe, expect, it } from 'vitest';
import { aggregateByGroup, MetricsInputError, MultiClassMetrics } from '../../src/index.js';

describe('aggregateByGroup (per-subject predictions)', () => {
  const probs = Float32Array.from([0.6, 0.4, 0.2, 0.8, 0.9, 0.1]);
  const labels = [1, 1, 0];
  const groups = ['s1', 's1', 's2'];

  it('averages a group\'s probabilities (hand-computed), groups in order of first appearance', () => {
    const r = aggregateByGroup(probs, labels, groups, 2);
    expect(r.groups).toEqual(['s1', 's2']);
    expect(Array.from(r.labels)).toEqual([1, 0]);
    expect(Array.from(r.sizes)).toEqual([2, 1]);
    expect(Array.from(r.probabilities).map((v) => +v.toFixed(6))).toEqual([0.4, 0.6, 0.9, 0.1]);
  });

  it('geometric: normalised product, sqrt(0.6*0.2) : sqrt(0.4*0.8)', () => {
    const r = aggregateByGroup(probs, labels, groups, 2, { combine: 'geometric' });
    const a = Math.sqrt(0.12);
    const b = Math.sqrt(0.32);
    expect(r.probabilities[0]).toBeCloseTo(a / (a + b), 6);
    expect(r.probabilities[1]).toBeCloseTo(b / (a + b), 6);
    expect(r.probabilities[2]).toBeCloseTo(0.9, 6);
  });

  it('scores people: two wrong-ish slices of one person can still make a right subject call', () => {
    // Person s1 (class 1): slice 1 says 0 (0.6), slice 2 says 1 (0.8): slice accuracy 1/2 for s1, subject right.
    const slice = new MultiClassMetrics({ numClasses: 2 }).update(labels, [[0.6, 0.4], [0.2, 0.8], [0.9, 0.1]]).compute();
    const g = aggregateByGroup(probs, labels, groups, 2);
    const person = new MultiClassMetrics({ numClasses: 2 }).update(g.labels, g.probabilities).compute();
    expect(slice.accuracy).toBeCloseTo(2 / 3, 10);
    expect(person.accuracy).toBe(1);
  });

  it('names a group that mixes labels, and rejects mismatched lengths', () => {
    expect(() => aggregateByGroup(probs, [1, 0, 0], groups, 2)).toThrow(MetricsInputError);
    expect(() => aggregateByGroup(probs, [1, 0, 0], groups, 2)).toThrow(/group s1 mixes labels 1 and 0 \(row 1\)/);
    expect(() => aggregateByGroup(probs, labels, ['a'], 2)).toThrow(/groups has 1 entries but labels has 3/);
    expect(() => aggregateByGroup(probs.subarray(1), labels, groups, 2)).toThrow(/expected 3 rows x 2 classes/);
  });
});
