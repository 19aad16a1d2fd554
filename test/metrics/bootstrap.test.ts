// figuresByPerson against scikit-learn (point figures) and scipy.stats.bootstrap (percentile intervals over people):
// test/fixtures/metrics/make_bootstrap_fixture.py.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MetricsInputError, figuresByPerson, formatHeadline, type HeadlineFigures } from '../../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
interface Figure { value: number; low: number; high: number }
type Level = Record<'accuracy' | 'balancedAccuracy' | 'macroAuc' | 'quadraticKappa', Figure>;
const fixture = JSON.parse(readFileSync(join(here, '../fixtures/metrics/bootstrap_cases.json'), 'utf8')) as {
  numClasses: number; ordinalOrder: number[]; covered: number[]; labels: number[]; probabilities: number[]; subjects: string[];
  resamples: number; levels: { slices: Level; people: Level };
};

const figures = figuresByPerson(fixture.labels, fixture.probabilities, {
  numClasses: fixture.numClasses,
  ordinalOrder: fixture.ordinalOrder,
  subjects: fixture.subjects,
  resamples: fixture.resamples,
  seed: 3,
});

function compare(ours: HeadlineFigures, ref: Level): void {
  for (const name of ['accuracy', 'balancedAccuracy', 'macroAuc', 'quadraticKappa'] as const) {
    const mine = ours[name];
    expect(mine, name).toBeDefined();
    // Point figures: the same definitions as scikit-learn.
    expect(mine!.value, name).toBeCloseTo(ref[name].value, 12);
    // Intervals: another random stream than scipy's, 10,000 resamples each; Monte Carlo error is well below 0.02.
    expect(Math.abs(mine!.low - ref[name].low), `${name} low`).toBeLessThan(0.02);
    expect(Math.abs(mine!.high - ref[name].high), `${name} high`).toBeLessThan(0.02);
  }
}

describe('figuresByPerson', () => {
  it('matches scikit-learn and scipy.stats.bootstrap per slice (people resampled with all their slices)', () => {
    expect(figures.slices.headline.resampledBy).toBe('person');
    expect(figures.slices.headline.resampledUnits).toBe(30);
    compare(figures.slices.headline, fixture.levels.slices);
  });

  it('matches them per person (each person scored once on the mean of their slice probabilities)', () => {
    expect(figures.people?.headline.count).toBe(30);
    compare(figures.people!.headline, fixture.levels.people);
    // The person rows are the mean of their slices' probabilities.
    const first = fixture.subjects[0];
    const rows = fixture.subjects.flatMap((s, i) => (s === first ? [i] : []));
    for (let c = 0; c < 4; c++) {
      const mean = rows.reduce((a, i) => a + fixture.probabilities[i * 4 + c], 0) / rows.length;
      expect(figures.people!.probabilities[c]).toBeCloseTo(mean, 6);
    }
  });

  it('leaves a class with one person out of the class averages and says so', () => {
    for (const h of [figures.slices.headline, figures.people!.headline]) {
      expect(h.classes).toEqual(fixture.covered);
      expect(h.excludedClasses).toEqual([{ class: 1, name: '1', reason: '1 person, fewer than 2: no honest class figure' }]);
    }
    expect(formatHeadline(figures.people!.headline)).toMatch(/not in the class averages: 1 \(1 person/);
  });

  it('is seeded: the same seed gives the same intervals, another seed other ones', () => {
    const opts = { numClasses: 4, ordinalOrder: fixture.ordinalOrder, subjects: fixture.subjects, resamples: 200 };
    const a = figuresByPerson(fixture.labels, fixture.probabilities, { ...opts, seed: 5 });
    const b = figuresByPerson(fixture.labels, fixture.probabilities, { ...opts, seed: 5 });
    const c = figuresByPerson(fixture.labels, fixture.probabilities, { ...opts, seed: 6 });
    expect(a.people!.headline).toEqual(b.people!.headline);
    expect(a.people!.headline.accuracy.low === c.people!.headline.accuracy.low && a.people!.headline.macroAuc!.high === c.people!.headline.macroAuc!.high).toBe(false);
  });

  it('without subjects gives slice figures only, resampling rows, and says so', () => {
    const f = figuresByPerson(fixture.labels, fixture.probabilities, { numClasses: 4, resamples: 100 });
    expect(f.people).toBeUndefined();
    expect(f.slices.headline.resampledBy).toBe('row');
    expect(f.slices.headline.resampledUnits).toBe(fixture.labels.length);
    expect(formatHeadline(f.slices.headline)).toMatch(/rows resampled \(no subjects\)/);
  });

  it('rejects bad input with a typed error', () => {
    expect(() => figuresByPerson([0, 1], [0.5, 0.5], { numClasses: 2 })).toThrow(MetricsInputError);
    expect(() => figuresByPerson([], [], { numClasses: 2 })).toThrow(/no samples/);
    expect(() => figuresByPerson([0, 1], [1, 0, 0, 1], { numClasses: 2, subjects: ['a'] })).toThrow(/subjects has 1 entries/);
    expect(() => figuresByPerson([0, 1], [1, 0, 0, 1], { numClasses: 2, resamples: 10 })).toThrow(/resamples/);
    expect(() => figuresByPerson([0, 1], [1, 0, 0, 1], { numClasses: 2, confidence: 1 })).toThrow(/confidence/);
  });
});
