// Runs on the real data in ../shared/data/alzheimer-mri-subjects (must be present: these tests fail loudly, not skip,
// when it is missing).
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ParquetImageDataset } from '../../src/index.js';
import { compareSliceLevels, findNearDuplicates, formatDatasetSummary, headFootprints, selectRows, summarizeDataset, type DatasetSummary } from '../../src/data/index.js';
import { percentileOfSorted } from '../../src/stats.js';
import { sharedFile } from './helpers.js';

/** One row of manifest-train.csv / manifest-test.csv. */
interface ManifestRow { row: number; subject: string; slice: number; label: number; path: string; sha256: string; kaggle: string }

function readManifest(name: 'manifest-train.csv' | 'manifest-test.csv'): ManifestRow[] {
  const [header, ...lines] = readFileSync(sharedFile(name), 'utf8').trim().split(/\r?\n/); // the manifests have CRLF line ends
  expect(header).toBe('row,subject,slice,label,path,sha256,kaggle_original_path');
  return lines.map((line) => {
    const cells = line.split(',');
    expect(cells).toHaveLength(7);
    const [row, subject, slice, label, path, sha256, kaggle] = cells;
    return { row: Number(row), subject, slice: Number(slice), label: Number(label), path, sha256, kaggle };
  });
}

const NAMES = ['Mild_Demented', 'Moderate_Demented', 'Non_Demented', 'Very_Mild_Demented'];
let train: ParquetImageDataset;
let test: ParquetImageDataset;
let manifests: { train: ManifestRow[]; test: ManifestRow[] };

/** Label of every subject; fails when a subject's rows carry two labels. */
function labelOfSubject(ds: ParquetImageDataset): Map<string, number> {
  const out = new Map<string, number>();
  ds.subjects!.forEach((s, i) => {
    const prev = out.get(s);
    if (prev !== undefined) expect(prev, `subject ${s} row ${i}`).toBe(ds.labels[i]);
    out.set(s, ds.labels[i]);
  });
  return out;
}

beforeAll(async () => {
  manifests = { train: readManifest('manifest-train.csv'), test: readManifest('manifest-test.csv') };
  [train, test] = await Promise.all([ParquetImageDataset.fromFile(sharedFile('train.parquet')), ParquetImageDataset.fromFile(sharedFile('test.parquet'))]);
});

describe('real train/test parquet (split by person)', () => {
  it('has the documented rows, classes, HuggingFace class names, and a subject and slice on every row', () => {
    expect(train.length).toBe(3808);
    expect(test.length).toBe(1312);
    expect(train.classCounts()).toEqual([512, 32, 1920, 1344]);
    expect(test.classCounts()).toEqual([192, 32, 640, 448]);
    expect(train.classNames).toEqual(NAMES);
    expect(test.classNames).toEqual(NAMES);
    expect(train.skipped).toHaveLength(0);
    expect(test.skipped).toHaveLength(0);
    for (const ds of [train, test]) {
      expect(ds.subjects).toHaveLength(ds.length);
      expect(ds.slices).toBeInstanceOf(Int32Array);
      expect(ds.slices).toHaveLength(ds.length);
      for (const s of ds.subjects!) expect(s).toMatch(/^subject-\d{3}$/);
    }
  });

  it('holds 119 / 41 whole people, each with slices 1..32 exactly once, one label per person', () => {
    for (const [ds, people, perClass] of [[train, 119, [16, 1, 60, 42]], [test, 41, [6, 1, 20, 14]]] as const) {
      const labels = labelOfSubject(ds);
      expect(labels.size).toBe(people);
      expect([0, 1, 2, 3].map((k) => [...labels.values()].filter((l) => l === k).length)).toEqual(perClass);
      const slicesOf = new Map<string, number[]>();
      ds.subjects!.forEach((s, i) => slicesOf.set(s, [...(slicesOf.get(s) ?? []), ds.slices![i]]));
      for (const [s, slices] of slicesOf) {
        expect(slices.sort((a, b) => a - b), s).toEqual(Array.from({ length: 32 }, (_, j) => j + 1));
      }
    }
  });

  it('no person has slices in both files', () => {
    const inTrain = new Set(train.subjects);
    const shared = [...new Set(test.subjects)].filter((s) => inTrain.has(s));
    expect(shared).toEqual([]);
    // ... and the two files together are 160 distinct people.
    expect(new Set([...train.subjects!, ...test.subjects!]).size).toBe(160);
  });

  it('matches manifest-train.csv / manifest-test.csv row by row (subject, slice, label, path, sha256 of the image bytes)', () => {
    for (const [name, ds] of [['train', train], ['test', test]] as const) {
      const rows = manifests[name];
      expect(rows).toHaveLength(ds.length);
      rows.forEach((m, i) => {
        expect(m.row).toBe(i);
        expect(ds.subjects![m.row]).toBe(m.subject);
        expect(ds.slices![m.row]).toBe(m.slice);
        expect(ds.labels[m.row]).toBe(m.label);
        expect(ds.imagePath(m.row)).toBe(m.path);
        expect(createHash('sha256').update(ds.imageBytes(m.row)).digest('hex')).toBe(m.sha256);
      });
      // Rows are sorted by the sha256 of the image bytes, as the README says.
      const hashes = rows.map((m) => m.sha256);
      expect(hashes).toEqual([...hashes].sort());
    }
  });

  it('no image appears twice, within or across the files', () => {
    const all = [...manifests.train, ...manifests.test].map((m) => m.sha256);
    expect(new Set(all).size).toBe(3808 + 1312);
  });

  it('no test slice has a near-duplicate in the training file (RMS <= 16): people do not leak', async () => {
    const r = await findNearDuplicates(train, test, { threshold: 16 });
    expect(r.sizeB).toBe(1312);
    expect(r.countB).toBe(0);
    expect(r.medianNearestDistance).toBeGreaterThan(25);
    expect(r.medianNearestDistance).toBeLessThan(40);
    // Within a person, adjacent slices are near-duplicates: most test rows have one among the other test rows.
    const within = await findNearDuplicates(test, test, { threshold: 16 });
    expect(within.fractionB).toBeGreaterThan(0.5);
  }, 120_000);

  it('both files cover the same slice levels; the footprint follows the slice level, not the stage', async () => {
    const [a, b] = [await headFootprints(train), await headFootprints(test)];
    const c = compareSliceLevels(a, b);
    // Measured (this repo, npx tsx src/cli/main.ts inspect ... --compare ...): both medians 0.509, KS 0.011.
    expect(c.referenceSpread.median).toBeCloseTo(0.509, 2);
    expect(c.comparedSpread.median).toBeCloseTo(0.509, 2);
    expect(c.ks).toBeLessThan(0.05);
    expect(c.comparedInsideFraction).toBeGreaterThan(0.95);
    expect(c.shifted).toBe(false);
    const median = (f: Float32Array, keep: (i: number) => boolean) => percentileOfSorted(Float64Array.from(f.filter((_, i) => keep(i))).sort(), 50);
    for (const [ds, f] of [[train, a], [test, b]] as const) {
      // Per-class medians within 0.002 of each other.
      const byClass = [0, 1, 2, 3].map((k) => median(f, (i) => ds.labels[i] === k));
      expect(Math.max(...byClass) - Math.min(...byClass)).toBeLessThan(0.002);
      // Higher slices (towards the top of the head) have smaller footprints.
      expect(median(f, (i) => ds.slices![i] >= 27)).toBeLessThan(median(f, (i) => ds.slices![i] <= 20) - 0.02);
    }
    // docs/data.md quotes the training file's: 0.517 at slices 7-10, 0.466 at slice 32.
    expect(median(a, (i) => train.slices![i] >= 7 && train.slices![i] <= 10)).toBeCloseTo(0.517, 3);
    expect(median(a, (i) => train.slices![i] === 32)).toBeCloseTo(0.466, 3);
    // The old Kaggle split was by slice level within each person (train slices 1-26, test 27-32): that, not the
    // people, was the "slice-level shift" of the old files. Re-made on these files, the check flags it.
    const kaggleLike = compareSliceLevels(a.filter((_, i) => train.slices![i] <= 26), b.filter((_, i) => test.slices![i] >= 27));
    expect(kaggleLike.shifted).toBe(true);
    // docs/data.md quotes these: 0 of the 246 high test slices (41 people x 6) in the low slices' range, KS 1.000.
    expect(kaggleLike.comparedSpread.count).toBe(246);
    expect(kaggleLike.comparedInsideReference).toBe(0);
    expect(kaggleLike.ks).toBeGreaterThan(0.995);
  });

  describe('summarizeDataset / formatDatasetSummary', () => {
    let trainVsTest: DatasetSummary;
    beforeAll(async () => {
      trainVsTest = await summarizeDataset(train, { compareWith: test });
    }, 120_000);

    it('reports the files\' formats and intensities', async () => {
      const s = await summarizeDataset(test);
      expect(s.formats).toEqual({ jpeg: 1312 });
      expect(s.colorModes).toEqual({ gray: 1312 });
      expect(s.sourceSizes).toEqual({ '128x128': 1312 });
      expect(s.intensity.mean).toBeGreaterThan(40);
      expect(s.intensity.mean).toBeLessThan(100);
      expect(s.people).toEqual({ count: 41, perClass: [6, 1, 20, 14], slicesPerPerson: { min: 32, median: 32, max: 32 }, mixedLabels: [] });
      expect(s.sharedPeople).toBeUndefined();
    });

    it('train vs test: 119 people (16 / 1 / 60 / 42), 32 slices each, none mixing labels, 0 shared people', () => {
      const s = trainVsTest;
      expect(s.people).toEqual({ count: 119, perClass: [16, 1, 60, 42], slicesPerPerson: { min: 32, median: 32, max: 32 }, mixedLabels: [] });
      expect(s.sharedPeople).toEqual({ count: 0, subjects: [], comparedCount: 41 });
      const text = formatDatasetSummary(s);
      expect(text).toContain('people: 119 (subject column); per class: 0 Mild_Demented 16, 1 Moderate_Demented 1, 2 Non_Demented 60, 3 Very_Mild_Demented 42; slices per person: min 32, median 32, max 32');
      expect(text).toContain('people with more than one label: 0');
      expect(text).toContain("shared people: 0 (none of the compared file's 41 people is here)");
      expect(text).toContain('leakage: 0 of 1312 compared rows (0.0%)');
      expect(text).not.toContain('WARNING');
    });

    it('a file compared with itself shares all its people, and the summary warns', async () => {
      // The training file against itself: 119 shared people; the warning lists the first 10 ids in order.
      const s = await summarizeDataset(train, { compareWith: train });
      expect(s.sharedPeople?.count).toBe(119);
      const sorted = [...new Set(train.subjects)].sort();
      expect(s.sharedPeople?.subjects).toEqual(sorted.slice(0, 10));
      const text = formatDatasetSummary(s);
      expect(text).toContain(`WARNING: 119 people appear in both files: ${sorted.slice(0, 10).join(', ')}, and 109 more`);
      // Half the test people against the whole test file: the shared ones are exactly the half's.
      const half = selectRows(test, Int32Array.from({ length: test.length }, (_, i) => i).filter((i) => test.subjects![i] < 'subject-100'));
      const h = await summarizeDataset(half, { compareWith: test });
      const halfPeople = new Set(half.subjects);
      expect(h.sharedPeople?.count).toBe(halfPeople.size);
      expect(halfPeople.size).toBeGreaterThan(0);
      expect(halfPeople.size).toBeLessThan(41);
    }, 120_000);
  });
});
