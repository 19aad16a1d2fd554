// summarizeDataset / formatDatasetSummary: the people lines, on small generated Parquet files.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ParquetImageDataset } from '../../src/index.js';
import { formatDatasetSummary, summarizeDataset, selectRows } from '../../src/data/index.js';
import { runInProcess } from '../cli/helpers.js';
import { encodePng, makeParquet, pseudoRandom, sharedFile } from './helpers.js';

const png = (seed: number) => encodePng({ width: 4, height: 4, colorType: 0, bitDepth: 8, samples: pseudoRandom(16, 256, seed) });
const SIZE: [number, number] = [4, 4];

/** A file of `people` (id, label, slices): one row per slice. */
async function peopleFile(people: Array<[string, number[]]>, seed = 1): Promise<ParquetImageDataset> {
  const subjects: string[] = [];
  const labels: number[] = [];
  const slices: number[] = [];
  for (const [id, rowLabels] of people) {
    rowLabels.forEach((l, k) => { subjects.push(id); labels.push(l); slices.push(k + 1); });
  }
  const bytes = await makeParquet({ images: labels.map((_, i) => png(seed * 1000 + i)), labels, subjects, slices, hfNames: ['A', 'B', 'C'] });
  return ParquetImageDataset.fromFile(bytes, { targetSize: SIZE, name: `people-${seed}.parquet` });
}

describe('summarizeDataset: people', () => {
  it('counts people, people per class (majority label), slices per person, and lists people with two labels', async () => {
    const ds = await peopleFile([
      ['p1', [0, 0, 0]],
      ['p2', [2, 2, 2, 2, 2]],
      ['p3', [0, 1, 1, 1]], // mostly B: one stray A row
      ['p4', [2]],
      ['p5', [1, 2]], // a tie: counted under the smaller label (B)
    ]);
    const s = await summarizeDataset(ds);
    expect(s.people).toEqual({
      count: 5,
      perClass: [1, 2, 2],
      slicesPerPerson: { min: 1, median: 3, max: 5 },
      mixedLabels: [{ subject: 'p3', labels: [0, 1] }, { subject: 'p5', labels: [1, 2] }],
    });
    expect(s.sharedPeople).toBeUndefined();
    const text = formatDatasetSummary(s);
    expect(text).toContain('people: 5 (subject column); per class: 0 A 1, 1 B 2, 2 C 2; slices per person: min 1, median 3, max 5');
    expect(text).toContain('WARNING: 2 people carry more than one label (one person has one diagnosis): p3 (labels 0, 1), p5 (labels 1, 2)');
    expect(text).not.toContain('people with more than one label: 0');
  });

  it('an even number of people: the median is the mean of the two middle counts; clean data says 0 mixed', async () => {
    const ds = await peopleFile([['a', [0, 0]], ['b', [1, 1, 1]], ['c', [2, 2, 2, 2, 2, 2]], ['d', [0]]]);
    const s = await summarizeDataset(ds);
    expect(s.people?.slicesPerPerson).toEqual({ min: 1, median: 2.5, max: 6 });
    expect(s.people?.mixedLabels).toEqual([]);
    expect(formatDatasetSummary(s)).toContain('people with more than one label: 0');
    expect(formatDatasetSummary(s)).not.toContain('WARNING');
  });

  it('without a subject column there is no people section, and the report says people are unknown', async () => {
    const bytes = await makeParquet({ images: [png(1), png(2)], labels: [0, 1] });
    const ds = await ParquetImageDataset.fromFile(bytes, { targetSize: SIZE });
    const s = await summarizeDataset(ds, { compareWith: ds });
    expect(s.people).toBeUndefined();
    expect(s.sharedPeople).toBeUndefined();
    const text = formatDatasetSummary(s);
    expect(text).toContain('people: unknown (no subject column');
    expect(text).not.toContain('shared people');
    expect(text).not.toMatch(/people appear in both files/);
  });

  it('with compareWith: the people both files share (count, the first 10 sorted ids), a warning when any', async () => {
    const many = Array.from({ length: 14 }, (_, p) => [`s${String(p).padStart(2, '0')}`, [p % 3, p % 3]] as [string, number[]]);
    const a = await peopleFile(many, 1);
    // b: 12 of a's people (s02..s13) plus two others.
    const b = await peopleFile([...many.slice(2), ['x1', [0]], ['x2', [1]]], 2);
    const s = await summarizeDataset(a, { compareWith: b });
    const sharedIds = many.slice(2).map(([id]) => id);
    expect(s.sharedPeople).toEqual({ count: 12, subjects: sharedIds.slice(0, 10), comparedCount: 14 });
    const text = formatDatasetSummary(s);
    expect(text).toContain(`WARNING: 12 people appear in both files: ${sharedIds.slice(0, 10).join(', ')}, and 2 more`);
    // Disjoint people: a plain line saying 0.
    const c = await peopleFile([['y1', [0, 0]], ['y2', [2]]], 3);
    const clean = await summarizeDataset(a, { compareWith: c });
    expect(clean.sharedPeople).toEqual({ count: 0, subjects: [], comparedCount: 2 });
    const cleanText = formatDatasetSummary(clean);
    expect(cleanText).toContain("shared people: 0 (none of the compared file's 2 people is here)");
    expect(cleanText).not.toContain('appear in both files');
    // Exactly the shared ones, all listed when 10 or fewer.
    const few = await summarizeDataset(a, { compareWith: selectRows(b, [0, 1, 2, 3, 24]) });
    expect(few.sharedPeople).toEqual({ count: 2, subjects: ['s02', 's03'], comparedCount: 3 });
    expect(formatDatasetSummary(few)).toMatch(/WARNING: 2 people appear in both files: s02, s03 \(/);
  });

  it('a compared file without subjects: no shared-people figure', async () => {
    const a = await peopleFile([['p', [0, 0]]]);
    const bytes = await makeParquet({ images: [png(9)], labels: [0], hfNames: ['A', 'B', 'C'] });
    const b = await ParquetImageDataset.fromFile(bytes, { targetSize: SIZE });
    const s = await summarizeDataset(a, { compareWith: b });
    expect(s.people?.count).toBe(1);
    expect(s.sharedPeople).toBeUndefined();
  });
});

describe('CLI inspect prints the people lines', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'nsn-inspect-'));
  async function write(name: string, subjects: string[], labels: number[], seed: number): Promise<string> {
    const file = path.join(tmp, name);
    const bytes = await makeParquet({ images: labels.map((_, i) => png(seed * 100 + i)), labels, subjects, slices: labels.map((_, i) => i + 1) });
    writeFileSync(file, bytes);
    return file;
  }

  it('on small files: people, shared people with a warning, --json, --subject-column none', async () => {
    const a = await write('a.parquet', ['p1', 'p1', 'p2', 'p2', 'p3'], [0, 0, 1, 1, 2], 1);
    const b = await write('b.parquet', ['p2', 'p3', 'q1'], [1, 2, 3], 2);
    const r = await runInProcess(['inspect', a, '--compare', b, '--image-size', '32']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('people: 3 (subject column); per class: 0 0 1, 1 1 1, 2 2 1, 3 3 0; slices per person: min 1, median 2, max 2');
    expect(r.stdout).toContain('people with more than one label: 0');
    expect(r.stdout).toMatch(/^WARNING: 2 people appear in both files: p2, p3 \(/m);
    const json = await runInProcess(['inspect', a, '--compare', b, '--image-size', '32', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as { people: { count: number }; sharedPeople: { count: number; subjects: string[] } };
    expect(parsed.people.count).toBe(3);
    expect(parsed.sharedPeople).toEqual({ count: 2, subjects: ['p2', 'p3'], comparedCount: 3 });
    const ignored = await runInProcess(['inspect', a, '--compare', b, '--image-size', '32', '--subject-column', 'none']);
    expect(ignored.code, ignored.stderr).toBe(0);
    expect(ignored.stdout).toContain('people: unknown (no subject column');
    expect(ignored.stdout).not.toContain('appear in both files');
  });

  it('on the real files: 119 people, 0 shared with the test file\'s 41, no warning', async () => {
    const r = await runInProcess(['inspect', sharedFile('train.parquet'), '--compare', sharedFile('test.parquet')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('people: 119 (subject column)');
    expect(r.stdout).toContain("shared people: 0 (none of the compared file's 41 people is here)");
    expect(r.stdout).not.toContain('WARNING');
  }, 120_000);
});
