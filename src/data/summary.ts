import type { LabeledImageSource } from './types.js';
import type { ImageHeader } from './decode.js';
import type { SkippedRow } from './dataset.js';
import { findNearDuplicates, type NearDuplicateOptions, type NearDuplicateReport } from './duplicates.js';
import { compareSliceLevels, headFootprint, headFootprints, type SliceLevelComparison } from './slice-level.js';
import { majorityLabel } from './split.js';

/** Options of {@link summarizeDataset}. */
export interface SummaryOptions extends NearDuplicateOptions {
  /**
   * A second dataset (e.g. the test set): adds `leakage` (its near-duplicates in this one), `sliceLevel`, and, when
   * both have subjects, `sharedPeople`.
   */
  compareWith?: LabeledImageSource;
}

/** What {@link summarizeDataset} reports. */
export interface DatasetSummary {
  /** Source file, when the dataset has one. */
  file?: string;
  /** Number of (kept) rows. */
  rows: number;
  /** Class names. */
  classNames: readonly string[];
  /** Rows per class, indexed by label. */
  classCounts: number[];
  /** `classCounts / rows`. */
  classFractions: number[];
  /** Decoded image size `[height, width]`. */
  imageSize: readonly [number, number];
  /** Source image sizes, `'WxH' -> rows` (only for datasets that expose `imageHeader(i)`). */
  sourceSizes: Record<string, number>;
  /** Source formats, e.g. `{ jpeg: 3808 }`. */
  formats: Record<string, number>;
  /** Source colour modes, e.g. `{ gray: 3808 }`. */
  colorModes: Record<string, number>;
  /** Source bit depths, e.g. `{ '8': 3808 }`. */
  bitDepths: Record<string, number>;
  /** Mean and standard deviation of all decoded pixels (0..255), and the mean per class. */
  intensity: {
    /** Mean pixel value. */
    mean: number;
    /** Standard deviation of pixel values. */
    std: number;
    /** Smallest pixel value. */
    min: number;
    /** Largest pixel value. */
    max: number;
    /** Mean pixel value per class (NaN for an empty class). */
    classMeans: number[];
  };
  /** Rows left out at load (undecodable images, bad labels...), when the dataset records them. */
  skipped: {
    /** Number of rows left out. */
    count: number;
    /** Each left-out row: its index in the file and why. */
    rows: Pick<SkippedRow, 'row' | 'reason'>[];
  };
  /** Near-duplicates of `compareWith` rows in this dataset, when `compareWith` was given. */
  leakage?: NearDuplicateReport;
  /** Slice levels of this dataset (reference) and `compareWith`, by head footprint, when `compareWith` was given. */
  sliceLevel?: SliceLevelComparison;
  /** The dataset's people, when it has `subjects`; `undefined` without a subject column. */
  people?: {
    /** Number of distinct subjects. */
    count: number;
    /**
     * People per class, indexed by label: each person counted once, under the label most of their rows carry (ties:
     * the smaller label, as {@link StratifiedSplit} stratifies them).
     */
    perClass: number[];
    /** Rows (slices) per person: smallest, median (mean of the two middle values for an even count) and largest. */
    slicesPerPerson: {
      /** Fewest rows of one person. */
      min: number;
      /** Median rows per person. */
      median: number;
      /** Most rows of one person. */
      max: number;
    };
    /**
     * Subjects whose rows carry more than one label, sorted by id, with those labels ascending: a data error (one
     * person has one diagnosis) worth seeing before per-person figures, which assume one label per person. Empty
     * when clean.
     */
    mixedLabels: Array<{
      /** Subject id. */
      subject: string;
      /** Distinct labels of the subject's rows, ascending. */
      labels: number[];
    }>;
  };
  /**
   * Subjects of `compareWith` that this dataset also has, when both have `subjects` (a person in both files leaks:
   * their slices are near-duplicates).
   */
  sharedPeople?: {
    /** Number of subjects present in both files (0 for a clean split by person). */
    count: number;
    /** Up to 10 of them, sorted. */
    subjects: string[];
    /** Number of distinct subjects in the compared file. */
    comparedCount: number;
  };
}

type PeopleSummary = NonNullable<DatasetSummary['people']>;

interface WithHeaders { imageHeader(i: number): ImageHeader }
interface WithSkipped { skipped: readonly SkippedRow[]; file?: string }

/**
 * The checks to run before training: row count, class balance, source image sizes / formats / colour modes /
 * bit depths, intensity statistics, rows skipped at load, the people when the source has `subjects` (count, people
 * per class, slices per person, subjects with more than one label), and, given `compareWith`, how many of its rows
 * have a near-duplicate here (see {@link findNearDuplicates}), how their slice levels compare, and which people the
 * two files share (a person in both files leaks: their slices are near-duplicates).
 * @param ds Dataset to summarise.
 * @param options `compareWith` and near-duplicate options.
 * @example
 * ```ts
 * const s = await summarizeDataset(train, { compareWith: test });
 * console.log(formatDatasetSummary(s));
 * ```
 */
export async function summarizeDataset(ds: LabeledImageSource, options: SummaryOptions = {}): Promise<DatasetSummary> {
  const k = ds.classNames.length;
  const classCounts = new Array<number>(k).fill(0);
  for (const l of ds.labels) if (l >= 0 && l < k) classCounts[l]++;
  const sourceSizes: Record<string, number> = {};
  const formats: Record<string, number> = {};
  const colorModes: Record<string, number> = {};
  const bitDepths: Record<string, number> = {};
  const inc = (m: Record<string, number>, key: string) => { m[key] = (m[key] ?? 0) + 1; };
  const headerOf = typeof (ds as Partial<WithHeaders>).imageHeader === 'function' ? (ds as unknown as WithHeaders) : null;
  let sum = 0, sumSq = 0, min = Infinity, max = -Infinity, count = 0;
  const classSums = new Array<number>(k).fill(0);
  const px = ds.imageSize[0] * ds.imageSize[1];
  const footprints = options.compareWith ? new Float32Array(ds.length) : null;
  for (let i = 0; i < ds.length; i++) {
    if (headerOf) {
      const h = headerOf.imageHeader(i);
      inc(sourceSizes, `${h.width}x${h.height}`);
      inc(formats, h.format);
      inc(colorModes, h.colorMode);
      inc(bitDepths, String(h.bitDepth));
    }
    const { image, label } = await ds.get(i);
    let s = 0, s2 = 0;
    for (let p = 0; p < image.length; p++) {
      const v = image[p];
      s += v;
      s2 += v * v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    sum += s;
    sumSq += s2;
    count += image.length;
    if (label >= 0 && label < k) classSums[label] += s / px;
    if (footprints) footprints[i] = headFootprint(image, ds.imageSize[0], ds.imageSize[1]);
  }
  const mean = count ? sum / count : NaN;
  const std = count ? Math.sqrt(Math.max(0, sumSq / count - mean * mean)) : NaN;
  const skippedRows = (ds as Partial<WithSkipped>).skipped ?? [];
  const summary: DatasetSummary = {
    file: (ds as Partial<WithSkipped>).file,
    rows: ds.length,
    classNames: ds.classNames,
    classCounts,
    classFractions: classCounts.map((c) => (ds.length ? c / ds.length : 0)),
    imageSize: ds.imageSize,
    sourceSizes,
    formats,
    colorModes,
    bitDepths,
    intensity: { mean, std, min: count ? min : NaN, max: count ? max : NaN, classMeans: classSums.map((s, c) => (classCounts[c] ? s / classCounts[c] : NaN)) },
    skipped: { count: skippedRows.length, rows: skippedRows.map(({ row, reason }) => ({ row, reason })) },
  };
  if (ds.subjects) summary.people = summarizePeople(ds.subjects, ds.labels, k);
  if (options.compareWith) {
    summary.leakage = await findNearDuplicates(ds, options.compareWith, options);
    summary.sliceLevel = compareSliceLevels(footprints as Float32Array, await headFootprints(options.compareWith));
    const other = options.compareWith.subjects;
    if (ds.subjects && other) {
      const here = new Set(ds.subjects);
      const there = new Set(other);
      const shared = [...there].filter((p) => here.has(p)).sort();
      summary.sharedPeople = { count: shared.length, subjects: shared.slice(0, 10), comparedCount: there.size };
    }
  }
  return summary;
}

function summarizePeople(subjects: readonly string[], labels: ArrayLike<number>, k: number): PeopleSummary {
  // Rows per label of every subject, in order of first appearance.
  const byPerson = new Map<string, Map<number, number>>();
  for (let i = 0; i < subjects.length; i++) {
    let counts = byPerson.get(subjects[i]);
    if (!counts) byPerson.set(subjects[i], (counts = new Map()));
    counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  }
  const perClass = new Array<number>(k).fill(0);
  const sizes: number[] = [];
  const mixedLabels: PeopleSummary['mixedLabels'] = [];
  for (const [subject, counts] of byPerson) {
    let size = 0;
    for (const c of counts.values()) size += c;
    const major = majorityLabel(counts);
    sizes.push(size);
    if (major >= 0 && major < k) perClass[major]++;
    if (counts.size > 1) mixedLabels.push({ subject, labels: [...counts.keys()].sort((a, b) => a - b) });
  }
  sizes.sort((a, b) => a - b);
  const n = sizes.length;
  const median = n === 0 ? NaN : n % 2 ? sizes[(n - 1) / 2] : (sizes[n / 2 - 1] + sizes[n / 2]) / 2;
  mixedLabels.sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
  return { count: n, perClass, slicesPerPerson: { min: n ? sizes[0] : NaN, median, max: n ? sizes[n - 1] : NaN }, mixedLabels };
}

/**
 * A readable multi-line report of a {@link DatasetSummary}.
 * @param s Summary.
 */
export function formatDatasetSummary(s: DatasetSummary): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const kv = (m: Record<string, number>) => Object.entries(m).map(([key, v]) => `${key}: ${v}`).join(', ') || 'n/a';
  const lines = [
    `${s.file ?? 'dataset'}: ${s.rows} rows, images ${s.imageSize[0]}x${s.imageSize[1]}`,
    `classes: ${s.classNames.map((n, i) => `${i} ${n} ${s.classCounts[i]} (${pct(s.classFractions[i])})`).join(', ')}`,
    `source sizes (WxH): ${kv(s.sourceSizes)}; formats: ${kv(s.formats)}; colour: ${kv(s.colorModes)}; bit depth: ${kv(s.bitDepths)}`,
    `intensity 0..255: mean ${s.intensity.mean.toFixed(2)}, std ${s.intensity.std.toFixed(2)}, range ${s.intensity.min}..${s.intensity.max}`,
    `skipped rows: ${s.skipped.count}${s.skipped.rows.slice(0, 5).map((r) => `\n  row ${r.row}: ${r.reason}`).join('')}`,
  ];
  if (s.people) {
    const p = s.people;
    const sp = p.slicesPerPerson;
    lines.push(
      `people: ${p.count} (subject column); per class: ${s.classNames.map((n, i) => `${i} ${n} ${p.perClass[i]}`).join(', ')}; ` +
        `slices per person: min ${sp.min}, median ${sp.median}, max ${sp.max}`,
    );
    if (p.mixedLabels.length) {
      const shown = p.mixedLabels.slice(0, 10).map((m) => `${m.subject} (labels ${m.labels.join(', ')})`).join(', ');
      const more = p.mixedLabels.length > 10 ? `, and ${p.mixedLabels.length - 10} more` : '';
      lines.push(`WARNING: ${p.mixedLabels.length} people carry more than one label (one person has one diagnosis): ${shown}${more}`);
    } else {
      lines.push('people with more than one label: 0');
    }
  } else {
    lines.push('people: unknown (no subject column; slices of one person are near-duplicates: groupNearDuplicates approximates people)');
  }
  if (s.sharedPeople) {
    const sh = s.sharedPeople;
    if (sh.count > 0) {
      const more = sh.count > sh.subjects.length ? `, and ${sh.count - sh.subjects.length} more` : '';
      lines.push(`WARNING: ${sh.count} people appear in both files: ${sh.subjects.join(', ')}${more} (their slices leak between the files)`);
    } else {
      lines.push(`shared people: 0 (none of the compared file's ${sh.comparedCount} people is here)`);
    }
  }
  if (s.leakage) {
    const l = s.leakage;
    lines.push(
      `leakage: ${l.countB} of ${l.sizeB} compared rows (${pct(l.fractionB)}) have a near-duplicate here ` +
        `(RMS distance <= ${l.threshold} on ${l.size}x${l.size} thumbnails; ${l.pairCount} pairs, ${l.countA} rows here involved); ` +
        `median nearest distance ${l.medianNearestDistance.toFixed(1)}`,
    );
  }
  if (s.sliceLevel) lines.push(formatSliceLevels(s.sliceLevel));
  return lines.join('\n');
}

/**
 * One line (two when shifted) on how the slice levels of two files compare.
 * @param c Output of {@link compareSliceLevels}.
 */
export function formatSliceLevels(c: SliceLevelComparison): string {
  const r = c.referenceSpread;
  const o = c.comparedSpread;
  const f = (x: number) => x.toFixed(3);
  const line =
    `slice level (head footprint, share of the image inside the head outline): here median ${f(r.median)} ` +
    `(1st-99th percentile ${f(r.p1)}-${f(r.p99)}), compared median ${f(o.median)} (${f(o.p1)}-${f(o.p99)}); ` +
    `${c.comparedInsideReference} of ${o.count} compared rows (${(100 * c.comparedInsideFraction).toFixed(1)}%) lie in this range; KS ${c.ks.toFixed(3)}`;
  if (!c.shifted) return line;
  return `${line}\n  WARNING: the files show different axial levels of the head: a model trained here is scored on the compared file out of the range it learned`;
}
