// Runs on the real data in ../shared (must be present: these tests fail loudly, not skip, when it is missing).
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ParquetImageDataset, StratifiedSplit, compareSliceLevels, findNearDuplicates, headFootprints, percentileOfSorted, summarizeDataset } from '../../src/index.js';
import { sharedFile } from './helpers.js';

let train: ParquetImageDataset;
let test: ParquetImageDataset;
let manifest: Array<{ split: string; row: number; path: string; label: number; sha256: string; subject: string }>;

beforeAll(async () => {
  const trainPath = sharedFile('train.parquet');
  const testPath = sharedFile('test.parquet');
  manifest = readFileSync(sharedFile('manifest.csv'), 'utf8').trim().split('\n').slice(1).map((line) => {
    const [split, row, path, label, sha256, , subject] = line.split(',');
    return { split, row: Number(row), path, label: Number(label), sha256, subject: subject ?? '' };
  });
  [train, test] = await Promise.all([ParquetImageDataset.fromFile(trainPath), ParquetImageDataset.fromFile(testPath)]);
});

describe('real train/test parquet', () => {
  it('has the documented rows, classes and HuggingFace class names', () => {
    expect(train.length).toBe(5121);
    expect(test.length).toBe(635);
    expect(train.classCounts()).toEqual([717, 52, 2560, 1792]);
    expect(test.classCounts()).toEqual([90, 6, 317, 222]);
    expect(train.classNames).toEqual(['Mild_Demented', 'Moderate_Demented', 'Non_Demented', 'Very_Mild_Demented']);
    expect(train.skipped).toHaveLength(0);
  });

  it('matches manifest.csv row by row (path, label, sha256 of the image bytes)', () => {
    for (const [name, ds] of [['train', train], ['test', test]] as const) {
      const rows = manifest.filter((m) => m.split === name);
      expect(rows).toHaveLength(ds.length);
      for (const m of rows) {
        expect(ds.table.getChild('path')?.get(m.row)).toBe(m.path);
        expect(ds.labels[m.row]).toBe(m.label);
        expect(createHash('sha256').update(ds.imageBytes(m.row)).digest('hex')).toBe(m.sha256);
      }
    }
  });

  it('shows the documented train/test leakage (about 15% of test rows within RMS 16)', async () => {
    const r = await findNearDuplicates(train, test, { threshold: 16 });
    expect(r.sizeB).toBe(635);
    expect(r.fractionB).toBeGreaterThan(0.12);
    expect(r.fractionB).toBeLessThan(0.19);
    expect(r.medianNearestDistance).toBeGreaterThan(25);
    expect(r.medianNearestDistance).toBeLessThan(40);
  });

  it('test slices lie at another axial level than training slices, whatever their label', async () => {
    const [a, b] = [await headFootprints(train), await headFootprints(test)];
    const c = compareSliceLevels(a, b);
    // Measured independently (numpy, the same row-span rule): train median 0.513, test 0.476; 24 test rows inside.
    expect(c.referenceSpread.median).toBeCloseTo(0.513, 2);
    expect(c.comparedSpread.median).toBeCloseTo(0.476, 2);
    expect(c.comparedInsideFraction).toBeLessThan(0.06);
    expect(c.ks).toBeGreaterThan(0.9);
    expect(c.shifted).toBe(true);
    // The footprint follows the level, not the stage: per-class medians within 0.002 of each other in each file.
    for (const [ds, f] of [[train, a], [test, b]] as const) {
      const medians = [0, 1, 2, 3].map((k) => percentileOfSorted(Float64Array.from(f.filter((_, i) => ds.labels[i] === k)).sort(), 50));
      expect(Math.max(...medians) - Math.min(...medians)).toBeLessThan(0.002);
    }
  });

  it('summarises the test split', async () => {
    const s = await summarizeDataset(test);
    expect(s.formats).toEqual({ jpeg: 635 });
    expect(s.colorModes).toEqual({ gray: 635 });
    expect(s.sourceSizes).toEqual({ '128x128': 635 });
    expect(s.intensity.mean).toBeGreaterThan(40);
    expect(s.intensity.mean).toBeLessThan(100);
  });

  it('a grouped split of the test rows by subject keeps every subject on one side', () => {
    const subjects = manifest.filter((m) => m.split === 'test').sort((a, b) => a.row - b.row).map((m) => m.subject);
    expect(new Set(subjects).size).toBe(100); // 14 + 1 + 50 + 35 subjects
    const { train: a, test: b } = new StratifiedSplit({ testSize: 0.5, seed: 1 }).split(test.labels, subjects);
    const sideA = new Set(Array.from(a, (i) => subjects[i]));
    for (const i of b) expect(sideA.has(subjects[i])).toBe(false);
    expect(a.length + b.length).toBe(635);
  });
});
