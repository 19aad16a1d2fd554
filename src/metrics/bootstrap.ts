// Figures per slice and per person with bootstrap intervals that resample people: slices of one person are
// near-duplicates, so resampling slices would pretend there are 32 times more independent cases than there are.
import { createRng, mixSeed } from '../random.js';
import { percentileOfSorted } from '../stats.js';
import { MetricsInputError } from './errors.js';
import { aggregateByGroup } from './group-aggregate.js';
import { computeMetrics, type MultiClassMetricsResult } from './multiclass-metrics.js';
import { reliabilityBins, type ReliabilitySummary } from './reliability.js';

/** How the intervals are drawn. */
export interface BootstrapOptions {
  /** Number of resamples (at least 100). Default 2000. */
  resamples?: number;
  /** Coverage of the percentile interval, in (0, 1). Default 0.95. */
  confidence?: number;
  /** Seed of the resampling: the same seed and data give the same intervals. Default 0. */
  seed?: number;
}

/** A figure with its percentile bootstrap interval. */
export interface Interval {
  /** The figure on the whole evaluation set. */
  value: number;
  /** Lower end of the interval (NaN when no resample defined the figure). */
  low: number;
  /** Upper end of the interval. */
  high: number;
}

/** A class left out of the class averages. */
export interface ExcludedClass {
  /** Class index. */
  class: number;
  /** Class name. */
  name: string;
  /** Why, e.g. `1 person, fewer than 2: no honest class figure`. */
  reason: string;
}

/** The headline figures of one level (slices or people), each with its interval, and what they cover. */
export interface HeadlineFigures {
  /** What a row is: a slice, or a person (the mean of their slices' probabilities). */
  unit: 'slice' | 'person';
  /** Rows scored (slices or people). */
  count: number;
  /** What the bootstrap resampled: people (when subjects are known), else rows. */
  resampledBy: 'person' | 'row';
  /** Number of units resampled (people, or rows without subjects). */
  resampledUnits: number;
  /** Classes that balanced accuracy and macro AUC average over (see `excludedClasses`). */
  classes: number[];
  /** Names of `classes`. */
  classNamesCovered: string[];
  /** Classes left out of the class averages, and why (e.g. one person only: no honest figure). */
  excludedClasses: ExcludedClass[];
  /** Share of rows whose top class is the label (all rows, all classes). */
  accuracy: Interval;
  /** Mean recall over `classes`. */
  balancedAccuracy: Interval;
  /** Mean one-vs-rest ROC AUC over `classes` (the rest includes every other row); undefined when none has one. */
  macroAuc: Interval | undefined;
  /** Quadratic-weighted kappa in severity order, over all rows and classes. */
  quadraticKappa: Interval;
  /** Resamples drawn. */
  resamples: number;
  /** Interval coverage. */
  confidence: number;
  /** Resampling seed. */
  seed: number;
}

/** Inputs of {@link index!figuresByPerson}. */
export interface FiguresByPersonOptions extends BootstrapOptions {
  /** Number of classes K. */
  numClasses: number;
  /** Class names (for the coverage notes). Default `'0'`, `'1'`, ... */
  classNames?: readonly string[];
  /** Severity order for kappa (e.g. `[2, 3, 0, 1]`). Default label order. */
  ordinalOrder?: readonly number[];
  /** Person of every row; without it the figures are per slice only and the bootstrap resamples rows. */
  subjects?: ArrayLike<string | number>;
  /**
   * A class enters balanced accuracy and macro AUC only with at least this many people (rows, without subjects).
   * Default 2: one person's slices are one case, and a figure over one case is not a class figure.
   */
  minPeoplePerClass?: number;
}

/** One level's full metrics (as {@link index!MultiClassMetrics} reports them) and its headline figures with intervals. */
export interface LevelFigures {
  /** Every figure of {@link MultiClassMetricsResult} at this level. */
  metrics: MultiClassMetricsResult;
  /** Accuracy, balanced accuracy, macro AUC and kappa with their intervals. */
  headline: HeadlineFigures;
}

/** What {@link index!figuresByPerson} returns. */
export interface FiguresByPerson {
  /** Figures over slices (intervals resample people when subjects are known). */
  slices: LevelFigures;
  /** Figures over people, each person's slice probabilities averaged; absent without subjects. */
  people?: LevelFigures & {
    /** Person of each row of `labels` / `probabilities`, in order of first appearance. */
    subjects: Array<string | number>;
    /** Each person's label. */
    labels: Int32Array;
    /** Each person's averaged probabilities, row-major `[people * K]`. */
    probabilities: Float32Array;
    /** Slices per person. */
    sizes: Int32Array;
  };
}

/**
 * Slice and person figures, each with percentile bootstrap intervals that resample **people** (a resampled person
 * brings all their slices), seeded. Person figures score each person once, on the mean of their slices'
 * probabilities. Balanced accuracy and macro AUC average only over classes with at least `minPeoplePerClass`
 * people, and say which (`classes`, `excludedClasses`): in the shipped data Moderate has one person per file.
 * @param labels True class per slice, `[N]`.
 * @param probabilities Per-slice probabilities, row-major `[N * K]`.
 * @param options Classes, severity order, subjects and bootstrap settings.
 * @returns Slice figures, and person figures when subjects are given.
 * @throws {@link MetricsInputError} for mismatched lengths or bad options.
 * @example
 * ```ts
 * const f = figuresByPerson(labels, probabilities, { numClasses: 4, ordinalOrder: ALZHEIMER_SEVERITY_ORDER, subjects: ds.subjects });
 * console.log(f.people?.headline.accuracy); // { value, low, high }
 * ```
 */
export function figuresByPerson(labels: ArrayLike<number>, probabilities: ArrayLike<number>, options: FiguresByPersonOptions): FiguresByPerson {
  const k = options.numClasses;
  const n = labels.length;
  if (!Number.isInteger(k) || k < 2) throw new MetricsInputError(`figuresByPerson: numClasses must be an integer >= 2, got ${k}`);
  if (n === 0) throw new MetricsInputError('figuresByPerson: no samples');
  if (probabilities.length !== n * k) throw new MetricsInputError(`figuresByPerson: ${probabilities.length} probabilities for ${n} rows x ${k} classes`);
  const resamples = options.resamples ?? 2000;
  if (!Number.isInteger(resamples) || resamples < 100) throw new MetricsInputError(`figuresByPerson: resamples must be an integer >= 100, got ${resamples}`);
  const confidence = options.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1)) throw new MetricsInputError(`figuresByPerson: confidence must be in (0, 1), got ${confidence}`);
  const seed = options.seed ?? 0;
  if (!Number.isFinite(seed)) throw new MetricsInputError(`figuresByPerson: seed must be a finite number, got ${seed}`);
  const minPeople = options.minPeoplePerClass ?? 2;
  const classNames = options.classNames ?? Array.from({ length: k }, (_, i) => String(i));
  const metricOptions = { numClasses: k, classNames, ordinalOrder: options.ordinalOrder };
  const y = Int32Array.from(labels);
  const p = Float64Array.from(probabilities);
  const settings = { resamples, confidence, seed };

  if (!options.subjects) {
    const { classes, excluded } = coverage(y, k, minPeople, classNames, 'rows');
    // Every row its own unit: the honest choice only when rows are independent cases.
    const units = Array.from({ length: n }, (_, i) => [i]);
    const metrics = computeMetrics(y, p, metricOptions);
    const headline = bootstrap(y, p, units, metrics, { ...settings, metricOptions, classes, excluded, unit: 'slice', resampledBy: 'row' });
    return { slices: { metrics, headline } };
  }
  const subjects = options.subjects;
  if (subjects.length !== n) throw new MetricsInputError(`figuresByPerson: subjects has ${subjects.length} entries but labels has ${n}`);
  const people = aggregateByGroup(p, y, subjects, k);
  const index = new Map(people.groups.map((g, i) => [g, i]));
  const rowsOfPerson = people.groups.map(() => [] as number[]);
  for (let i = 0; i < n; i++) rowsOfPerson[index.get(subjects[i]) as number].push(i);
  const { classes, excluded } = coverage(people.labels, k, minPeople, classNames, 'people');
  const sliceMetrics = computeMetrics(y, p, metricOptions);
  const personProbabilities = Float64Array.from(people.probabilities);
  const personMetrics = computeMetrics(people.labels, personProbabilities, metricOptions);
  const common = { ...settings, metricOptions, classes, excluded, resampledBy: 'person' as const };
  // Same seed for both levels: the same people are drawn in each resample.
  const sliceHeadline = bootstrap(y, p, rowsOfPerson, sliceMetrics, { ...common, unit: 'slice' });
  const personUnits = people.groups.map((_, g) => [g]);
  const personHeadline = bootstrap(people.labels, personProbabilities, personUnits, personMetrics, { ...common, unit: 'person' });
  return {
    slices: { metrics: sliceMetrics, headline: sliceHeadline },
    people: { metrics: personMetrics, headline: personHeadline, subjects: people.groups, labels: people.labels, probabilities: people.probabilities, sizes: people.sizes },
  };
}

/**
 * One line per level for a report, e.g. `people (41): accuracy 0.512 [0.366, 0.659], ...`.
 * @param f Headline figures.
 * @param digits Decimals (default 3).
 */
export function formatHeadline(f: HeadlineFigures, digits = 3): string {
  const iv = (x: Interval | undefined): string =>
    x === undefined || !Number.isFinite(x.value) ? 'n/a' : `${x.value.toFixed(digits)} [${Number.isFinite(x.low) ? x.low.toFixed(digits) : 'n/a'}, ${Number.isFinite(x.high) ? x.high.toFixed(digits) : 'n/a'}]`;
  const n = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;
  const unit = f.unit === 'person' ? n(f.count, 'person', 'people') : n(f.count, 'slice', 'slices');
  const by = f.resampledBy === 'person' ? `${n(f.resampledUnits, 'person', 'people')} resampled` : `${n(f.resampledUnits, 'row', 'rows')} resampled (no subjects)`;
  const covers = f.classes.length === 0 ? 'none' : f.classNamesCovered.join(', ');
  return [
    `${f.unit === 'person' ? 'per person' : 'per slice'} (${unit}; ${Math.round(f.confidence * 100)}% bootstrap intervals, ${f.resamples} resamples, ${by})`,
    `  accuracy           ${iv(f.accuracy)}`,
    `  balanced accuracy  ${iv(f.balancedAccuracy)}   (classes ${covers})`,
    `  macro AUC (OvR)    ${iv(f.macroAuc)}   (classes ${covers})`,
    `  quadratic kappa    ${iv(f.quadraticKappa)}`,
    ...f.excludedClasses.map((e) => `  not in the class averages: ${e.name} (${e.reason})`),
  ].join('\n');
}

/** Accuracy, balanced accuracy and macro AUC over `classes`, and kappa, from a full metrics result. */
function headlineValues(m: MultiClassMetricsResult, classes: readonly number[]): [number, number, number | undefined, number] {
  const recalls = classes.filter((c) => m.perClass[c].support > 0).map((c) => m.perClass[c].recall);
  const aucs = classes.map((c) => m.perClass[c].auc).filter((a): a is number => a !== undefined);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [m.accuracy, recalls.length ? mean(recalls) : NaN, aucs.length ? mean(aucs) : undefined, m.quadraticKappa];
}

function coverage(unitLabels: Int32Array, k: number, minPeople: number, names: readonly string[], what: 'people' | 'rows') {
  const counts = new Array<number>(k).fill(0);
  for (const l of unitLabels) counts[l]++;
  const classes: number[] = [];
  const excluded: HeadlineFigures['excludedClasses'] = [];
  for (let c = 0; c < k; c++) {
    if (counts[c] >= minPeople) classes.push(c);
    else {
      const reason = counts[c] === 0 ? `no ${what === 'people' ? 'person' : 'row'} of this class` : `${counts[c]} ${what === 'people' ? (counts[c] === 1 ? 'person' : 'people') : 'rows'}, fewer than ${minPeople}: no honest class figure`;
      excluded.push({ class: c, name: names[c], reason });
    }
  }
  return { classes, excluded };
}

interface BootstrapSettings {
  resamples: number;
  confidence: number;
  seed: number;
  metricOptions: { numClasses: number; classNames: readonly string[]; ordinalOrder?: readonly number[] };
  classes: number[];
  excluded: HeadlineFigures['excludedClasses'];
  unit: 'slice' | 'person';
  resampledBy: 'person' | 'row';
}

// Percentile bootstrap: draw as many units as there are, with replacement; each brings all its rows.
function bootstrap(y: Int32Array, p: Float64Array, units: number[][], full: MultiClassMetricsResult, s: BootstrapSettings): HeadlineFigures {
  const k = s.metricOptions.numClasses;
  const u = units.length;
  const draws: number[][] = [[], [], [], []];
  forEachResample(units, s.resamples, s.seed, (rows) => {
    const yb = new Int32Array(rows.length);
    const pb = new Float64Array(rows.length * k);
    rows.forEach((r, i) => {
      yb[i] = y[r];
      pb.set(p.subarray(r * k, (r + 1) * k), i * k);
    });
    const values = headlineValues(computeMetrics(yb, pb, s.metricOptions), s.classes);
    values.forEach((v, f) => {
      if (v !== undefined && Number.isFinite(v)) draws[f].push(v);
    });
  });
  const [accuracy, balanced, auc, kappa] = headlineValues(full, s.classes);
  const interval = (value: number, d: number[]): Interval => percentileInterval(value, d, s.confidence);
  return {
    unit: s.unit,
    count: y.length,
    resampledBy: s.resampledBy,
    resampledUnits: u,
    classes: s.classes,
    classNamesCovered: s.classes.map((c) => s.metricOptions.classNames[c]),
    excludedClasses: s.excluded,
    accuracy: interval(accuracy, draws[0]),
    balancedAccuracy: interval(balanced, draws[1]),
    macroAuc: auc === undefined ? undefined : interval(auc, draws[2]),
    quadraticKappa: interval(kappa, draws[3]),
    resamples: s.resamples,
    confidence: s.confidence,
    seed: s.seed,
  };
}

// The resampling shared by every interval here: `resamples` draws of as many units (people) as there are, with
// replacement, each bringing all its rows; the same seed draws the same people whatever is measured on them.
function forEachResample(units: number[][], resamples: number, seed: number, visit: (rows: number[]) => void): void {
  const u = units.length;
  const rng = createRng(mixSeed(seed, 0xb007));
  for (let b = 0; b < resamples; b++) {
    const rows: number[] = [];
    for (let j = 0; j < u; j++) for (const r of units[Math.floor(rng() * u)]) rows.push(r);
    visit(rows);
  }
}

// Percentile interval of the finite draws (NaN ends when there are none).
function percentileInterval(value: number, draws: number[], confidence: number): Interval {
  const sorted = Float64Array.from(draws).sort();
  const lowQ = ((1 - confidence) / 2) * 100;
  const highQ = (1 - (1 - confidence) / 2) * 100;
  return { value, low: percentileOfSorted(sorted, lowQ), high: percentileOfSorted(sorted, highQ) };
}

/** Options of {@link reliabilityIntervals}. */
export interface ReliabilityIntervalOptions extends BootstrapOptions {
  /** Number of equal-width confidence bins (as {@link reliabilityBins}). Default 15. */
  numBins?: number;
}

/** Reliability bins with per-person bootstrap intervals of each bin's accuracy and of the ECE. */
export interface ReliabilityIntervals {
  /** The reliability summary of all rows ({@link reliabilityBins}). */
  summary: ReliabilitySummary;
  /**
   * Per bin, the interval of its accuracy over the resamples in which the bin is not empty (NaN ends when it is
   * empty in every resample, e.g. an empty bin); `value` is the bin's accuracy on all rows.
   */
  binAccuracy: Interval[];
  /** Interval of the expected calibration error. */
  ece: Interval;
  /** Number of people resampled. */
  people: number;
  /** Number of resamples. */
  resamples: number;
  /** Coverage of the intervals. */
  confidence: number;
  /** Seed of the resampling. */
  seed: number;
}

/**
 * Reliability bins with 95% percentile bootstrap intervals that resample PEOPLE (the same machinery and seed as
 * {@link figuresByPerson}, so the same people are drawn): for each confidence bin an interval of its accuracy, and
 * one of the ECE. Rows are slices; a person's slices are drawn together.
 * @param confidences Top-label confidence per row.
 * @param correct Whether the top label is right, per row.
 * @param subjects Person of each row.
 * @param options Bins and bootstrap settings (default 15 bins, 2000 resamples, 0.95, seed 0).
 * @returns The bins, per-bin accuracy intervals and the ECE interval.
 * @throws {@link MetricsInputError} for mismatched lengths or bad options.
 * @example
 * ```ts
 * const r = reliabilityIntervals(confidences, correct, ds.subjects);
 * console.log(r.ece); // { value, low, high }
 * ```
 */
export function reliabilityIntervals(
  confidences: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  subjects: ArrayLike<string | number>,
  options: ReliabilityIntervalOptions = {},
): ReliabilityIntervals {
  const n = confidences.length;
  if (n === 0) throw new MetricsInputError('reliabilityIntervals: no samples');
  if (correct.length !== n) throw new MetricsInputError(`reliabilityIntervals: correct has ${correct.length} entries but confidences has ${n}`);
  if (subjects.length !== n) throw new MetricsInputError(`reliabilityIntervals: subjects has ${subjects.length} entries but confidences has ${n}`);
  const numBins = options.numBins ?? 15;
  if (!Number.isInteger(numBins) || numBins < 1) throw new MetricsInputError(`reliabilityIntervals: numBins must be an integer >= 1, got ${numBins}`);
  const resamples = options.resamples ?? 2000;
  if (!Number.isInteger(resamples) || resamples < 100) throw new MetricsInputError(`reliabilityIntervals: resamples must be an integer >= 100, got ${resamples}`);
  const confidence = options.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1)) throw new MetricsInputError(`reliabilityIntervals: confidence must be in (0, 1), got ${confidence}`);
  const seed = options.seed ?? 0;
  if (!Number.isFinite(seed)) throw new MetricsInputError(`reliabilityIntervals: seed must be a finite number, got ${seed}`);
  const conf = Float64Array.from(confidences);
  const ok = Uint8Array.from(Array.from({ length: n }, (_, i) => (correct[i] ? 1 : 0)));
  // People in order of first appearance, as aggregateByGroup.
  const index = new Map<string | number, number>();
  const units: number[][] = [];
  for (let i = 0; i < n; i++) {
    let g = index.get(subjects[i]);
    if (g === undefined) {
      g = units.length;
      index.set(subjects[i], g);
      units.push([]);
    }
    units[g].push(i);
  }
  const summary = reliabilityBins(conf, ok, numBins);
  const binDraws: number[][] = summary.bins.map(() => []);
  const eceDraws: number[] = [];
  forEachResample(units, resamples, seed, (rows) => {
    const r = reliabilityBins(rows.map((i) => conf[i]), rows.map((i) => ok[i]), numBins);
    r.bins.forEach((b, j) => {
      if (b.count > 0) binDraws[j].push(b.accuracy);
    });
    eceDraws.push(r.ece);
  });
  return {
    summary,
    binAccuracy: summary.bins.map((b, j) => percentileInterval(b.accuracy, binDraws[j], confidence)),
    ece: percentileInterval(summary.ece, eceDraws, confidence),
    people: units.length,
    resamples,
    confidence,
    seed,
  };
}
