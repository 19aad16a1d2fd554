/**
 * Measures how well `groupNearDuplicates` (clusters of near-duplicate slices, the person proxy for data without
 * subject ids) recovers the true people of a file that has a subject column.
 *
 *   npx tsx scripts/measure-groups.ts [--file ../shared/data/alzheimer-mri-subjects/train.parquet]
 *                                     [--thresholds 12,16,20,24,28] [--cap 32] [--seed 42] [--seeds 10]
 *                                     [--leak-threshold 16] [--json]
 *
 * For every threshold (and once more at the default threshold 20 with `maxGroupSize: --cap`), against the file's
 * subjects: the adjusted Rand index of clusters vs people, the share of people cut into several clusters, the
 * clusters that mix people, the number of clusters; and what that does to a validation split made by the clusters
 * (`StratifiedSplit({ testSize: 0.2, seed })`, averaged over `--seeds` seeds from `--seed` on): people with slices on
 * both sides, the share of validation rows whose person also has training rows, and the validation share of the rows
 * (0.2 asked; big clusters make it drift). Then, for one split by rows and one by subject (seed `--seed`), how many
 * validation rows have a near-duplicate (RMS <= `--leak-threshold`, default 16) among the training rows. Prints a
 * Markdown table
 * (docs/data.md quotes it).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ParquetImageDataset, StratifiedSplit } from '../src/index.js';
import { findNearDuplicates, groupNearDuplicates, selectRows } from '../src/data/index.js';

/**
 * Adjusted Rand index of two labelings of the same rows (Hubert & Arabie 1985), equal to scikit-learn's
 * `adjusted_rand_score(truth, predicted)`: from the pair confusion matrix, 1 when both put every pair of rows
 * alike (including the degenerate cases scikit-learn returns 1.0 for), about 0 for unrelated labelings, negative
 * below chance. Products are taken in BigInt, so that it is exact for any row count below 2^26.
 * @param truth Reference cluster of every row (e.g. subject ids).
 * @param predicted Cluster of every row to score (e.g. near-duplicate group ids).
 * @returns The index in [-0.5, 1].
 * @throws Error when the lengths differ.
 */
export function adjustedRandIndex(truth: ArrayLike<string | number>, predicted: ArrayLike<string | number>): number {
  const n = truth.length;
  if (predicted.length !== n) throw new Error(`adjustedRandIndex: ${n} truth labels but ${predicted.length} predicted`);
  const cells = new Map<string, number>();
  const rows = new Map<string | number, number>();
  const cols = new Map<string | number, number>();
  for (let i = 0; i < n; i++) {
    const key = `${typeof truth[i]}:${String(truth[i])}\u0000${typeof predicted[i]}:${String(predicted[i])}`;
    cells.set(key, (cells.get(key) ?? 0) + 1);
    rows.set(truth[i], (rows.get(truth[i]) ?? 0) + 1);
    cols.set(predicted[i], (cols.get(predicted[i]) ?? 0) + 1);
  }
  // scikit-learn's pair_confusion_matrix (ordered pairs): tp = same in both, fp / fn = same in one only.
  const big = (x: number) => BigInt(x);
  let sumSquares = 0n;
  for (const c of cells.values()) sumSquares += big(c) * big(c);
  let rowSquares = 0n;
  for (const a of rows.values()) rowSquares += big(a) * big(a);
  let colSquares = 0n;
  for (const b of cols.values()) colSquares += big(b) * big(b);
  const N = big(n);
  const tp = sumSquares - N;
  const fp = colSquares - sumSquares; // same predicted cluster, different truth
  const fn = rowSquares - sumSquares; // same truth, different predicted cluster
  const tn = N * N - fp - fn - sumSquares;
  if (fn === 0n && fp === 0n) return 1;
  const num = 2n * (tp * tn - fn * fp);
  const den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn);
  return Number(num) / Number(den);
}

/** How a clustering compares with the true people ({@link groupAgreement}). */
export interface GroupAgreement {
  /** {@link adjustedRandIndex} of the clusters against the people. */
  ari: number;
  /** Number of distinct people. */
  people: number;
  /** Number of clusters. */
  clusters: number;
  /** People whose rows fall into more than one cluster. */
  peopleCut: number;
  /** `peopleCut / people`. */
  peopleCutShare: number;
  /** Clusters holding rows of more than one person. */
  mixedClusters: number;
  /** Rows in clusters that hold more than one person. */
  rowsInMixedClusters: number;
  /** Rows of the largest cluster. */
  largestCluster: number;
}

/**
 * Compares clusters with the true people of the same rows.
 * @param people Person of every row.
 * @param clusters Cluster of every row.
 */
export function groupAgreement(people: ArrayLike<string | number>, clusters: ArrayLike<string | number>): GroupAgreement {
  const n = people.length;
  if (clusters.length !== n) throw new Error(`groupAgreement: ${n} people but ${clusters.length} cluster ids`);
  const clustersOf = new Map<string | number, Set<string | number>>();
  const peopleOf = new Map<string | number, Set<string | number>>();
  const size = new Map<string | number, number>();
  for (let i = 0; i < n; i++) {
    const p = people[i];
    const c = clusters[i];
    if (!clustersOf.has(p)) clustersOf.set(p, new Set());
    clustersOf.get(p)!.add(c);
    if (!peopleOf.has(c)) peopleOf.set(c, new Set());
    peopleOf.get(c)!.add(p);
    size.set(c, (size.get(c) ?? 0) + 1);
  }
  const peopleCut = [...clustersOf.values()].filter((s) => s.size > 1).length;
  const mixed = [...peopleOf].filter(([, s]) => s.size > 1).map(([c]) => c);
  return {
    ari: adjustedRandIndex(people, clusters),
    people: clustersOf.size,
    clusters: peopleOf.size,
    peopleCut,
    peopleCutShare: clustersOf.size ? peopleCut / clustersOf.size : 0,
    mixedClusters: mixed.length,
    rowsInMixedClusters: mixed.reduce<number>((a, c) => a + (size.get(c) ?? 0), 0),
    largestCluster: Math.max(0, ...size.values()),
  };
}

/**
 * What a train / validation split by `groups` does to people: those with rows on both sides, and the share of
 * validation rows whose person also has training rows.
 * @param people Person of every row.
 * @param train Training rows.
 * @param validation Validation rows.
 */
export function splitLeak(people: ArrayLike<string | number>, train: ArrayLike<number>, validation: ArrayLike<number>): { peopleOnBothSides: number; leakedValidationShare: number } {
  const inTrain = new Set(Array.from(train, (i) => people[i]));
  const valPeople = new Set(Array.from(validation, (i) => people[i]));
  const both = [...valPeople].filter((p) => inTrain.has(p)).length;
  const leaked = Array.from(validation).filter((i) => inTrain.has(people[i])).length;
  return { peopleOnBothSides: both, leakedValidationShare: validation.length ? leaked / validation.length : 0 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      file: { type: 'string', default: '../shared/data/alzheimer-mri-subjects/train.parquet' },
      thresholds: { type: 'string', default: '12,16,20,24,28' },
      cap: { type: 'string', default: '32' },
      seed: { type: 'string', default: '42' },
      seeds: { type: 'string', default: '10' },
      'leak-threshold': { type: 'string', default: '16' },
      json: { type: 'boolean', default: false },
    },
  });
  const file = resolve(values.file as string);
  const ds = await ParquetImageDataset.fromFile(file);
  if (!ds.subjects) throw new Error(`${file} has no subject column: nothing to measure against`);
  const subjects = ds.subjects;
  const seed = Number(values.seed);
  const seeds = Array.from({ length: Number(values.seeds) }, (_, k) => seed + k);
  // Mean over the seeds of what a split by `groups` leaks.
  const meanLeak = (groups?: ArrayLike<string | number>) => {
    const leaks = seeds.map((sd) => {
      const splitter = new StratifiedSplit({ testSize: 0.2, seed: sd });
      const split = groups ? splitter.split(ds.labels, groups) : splitter.split(ds.labels);
      return { ...splitLeak(subjects, split.train, split.test), validationShare: split.test.length / ds.length };
    });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      peopleOnBothSides: mean(leaks.map((l) => l.peopleOnBothSides)),
      leakedValidationShare: mean(leaks.map((l) => l.leakedValidationShare)),
      validationShare: mean(leaks.map((l) => l.validationShare)),
    };
  };
  const settings: Array<{ threshold: number; maxGroupSize?: number }> = String(values.thresholds).split(',').map((t) => ({ threshold: Number(t) }));
  const cap = Number(values.cap);
  if (cap > 0) settings.push({ threshold: 20, maxGroupSize: cap });
  const rows: Array<Record<string, number | string>> = [];
  for (const s of settings) {
    const t0 = performance.now();
    const g = await groupNearDuplicates(ds, s);
    const a = groupAgreement(subjects, g.groups);
    const leak = meanLeak(g.groups);
    rows.push({
      setting: s.maxGroupSize ? `${s.threshold}, cap ${s.maxGroupSize}` : String(s.threshold),
      ari: a.ari, clusters: a.clusters, people: a.people, peopleCut: a.peopleCut, peopleCutShare: a.peopleCutShare,
      mixedClusters: a.mixedClusters, rowsInMixedClusters: a.rowsInMixedClusters, largestCluster: a.largestCluster,
      singletons: g.singletons, ...leak, seconds: (performance.now() - t0) / 1000,
    });
  }
  const reference = { subjects: meanLeak(subjects), rows: meanLeak() };
  // Near-duplicate leakage of one split each way (seed `--seed`): validation rows with a near-twin in training.
  const leakThreshold = Number(values['leak-threshold']);
  const nearTwins: Record<string, { rows: number; validation: number }> = {};
  for (const [name, split] of [
    ['rows', new StratifiedSplit({ testSize: 0.2, seed }).split(ds.labels)],
    ['subjects', new StratifiedSplit({ testSize: 0.2, seed }).splitSource(ds)],
  ] as const) {
    const r = await findNearDuplicates(selectRows(ds, split.train), selectRows(ds, split.test), { threshold: leakThreshold });
    nearTwins[name] = { rows: r.countB, validation: r.sizeB };
  }
  if (values.json) {
    console.log(JSON.stringify({ file, rows: ds.length, people: new Set(subjects).size, seeds, settings: rows, reference, leakThreshold, nearTwins }, null, 2));
    return;
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log(`${file}: ${ds.length} rows, ${new Set(subjects).size} people; validation splits testSize 0.2, seeds ${seeds[0]}-${seeds[seeds.length - 1]} (mean)\n`);
  console.log('| threshold | ARI | clusters | people cut in several clusters | clusters mixing people (their rows) | largest cluster | split by clusters: people on both sides | validation rows whose person is in training | validation share of rows |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.setting} | ${(r.ari as number).toFixed(3)} | ${r.clusters} | ${r.peopleCut} of ${r.people} (${pct(r.peopleCutShare as number)}) | ` +
        `${r.mixedClusters} (${r.rowsInMixedClusters}) | ${r.largestCluster} | ${(r.peopleOnBothSides as number).toFixed(1)} | ${pct(r.leakedValidationShare as number)} | ${pct(r.validationShare as number)} |`,
    );
  }
  console.log(`| split by subject (splitSource) | | | | | | ${reference.subjects.peopleOnBothSides.toFixed(1)} | ${pct(reference.subjects.leakedValidationShare)} | ${pct(reference.subjects.validationShare)} |`);
  console.log(`| split by rows | | | | | | ${reference.rows.peopleOnBothSides.toFixed(1)} | ${pct(reference.rows.leakedValidationShare)} | ${pct(reference.rows.validationShare)} |`);
  console.log(
    `\nvalidation rows with a near-duplicate (RMS <= ${leakThreshold}) in training, seed ${seed}: split by rows ${nearTwins.rows.rows} of ${nearTwins.rows.validation} ` +
      `(${pct(nearTwins.rows.rows / nearTwins.rows.validation)}), split by subject ${nearTwins.subjects.rows} of ${nearTwins.subjects.validation}`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
