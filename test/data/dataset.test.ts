import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ParquetImageDataset, DataError } from '../../src/index.js';
import { EmptyFileError, ImageDecodeError, ImageSizeError, InvalidLabelError, InvalidSliceError, InvalidSubjectError, MissingColumnError, MissingImageError, NotParquetError, TruncatedParquetError, UnsupportedImageFormatError } from '../../src/data/index.js';
import { encodePng, makeParquet, pseudoRandom, repoRoot, samplePath } from './helpers.js';

const png = (seed: number, w = 4, h = 3) => encodePng({ width: w, height: h, colorType: 0, bitDepth: 8, samples: pseudoRandom(w * h, 256, seed) });
const SMALL: [number, number] = [3, 4];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'nsn-data-'));

/** Expects `promise` to reject with an error of `Ctor` whose message names the file, row and column given. */
async function expectDataError(promise: Promise<unknown>, Ctor: new (...a: never[]) => DataError, where: { file?: string; row?: number; column?: string }) {
  let err: unknown;
  try { await promise; } catch (e) { err = e; }
  expect(err).toBeInstanceOf(Ctor);
  const e = err as DataError;
  expect(e.name).toBe(Ctor.name);
  if (where.file !== undefined) { expect(e.file).toBe(where.file); expect(e.message).toContain(`file ${where.file}`); }
  if (where.row !== undefined) { expect(e.row).toBe(where.row); expect(e.message).toContain(`row ${where.row}`); }
  if (where.column !== undefined) { expect(e.column).toBe(where.column); expect(e.message).toContain(`column '${where.column}'`); }
  return e;
}

describe('ParquetImageDataset on the bundled sample', () => {
  it('reads rows, labels, class names from HuggingFace metadata, paths and pixels', async () => {
    const ds = await ParquetImageDataset.fromFile(samplePath);
    const [header, ...rows] = readFileSync(path.join(repoRoot, 'examples/data/sample-rows.csv'), 'utf8').trim().split(/\r?\n/).map((l) => l.split(','));
    // Columns by name: sample-rows.csv lists path and label, and subject / slice when the sample has them.
    const col = (name: string) => header.indexOf(name);
    const csv = rows.map((r) => ({ path: r[col('path')], label: Number(r[col('label')]), subject: r[col('subject')], slice: Number(r[col('slice')]) }));
    expect(col('path')).toBeGreaterThanOrEqual(0);
    expect(col('label')).toBeGreaterThanOrEqual(0);
    expect(ds.length).toBe(128);
    expect(ds.classNames).toEqual(['Mild_Demented', 'Moderate_Demented', 'Non_Demented', 'Very_Mild_Demented']);
    expect(ds.classCounts()).toEqual([32, 32, 32, 32]);
    expect(Array.from(ds.labels)).toEqual(csv.map((r) => r.label));
    if (col('subject') >= 0) {
      expect(ds.subjects).toEqual(csv.map((r) => r.subject));
      expect(Array.from(ds.slices!)).toEqual(csv.map((r) => r.slice));
    } else {
      expect(ds.subjects).toBeUndefined();
    }
    expect(ds.imageSize).toEqual([128, 128]);
    expect(ds.imageIsStruct).toBe(true);
    const ex = ds.get(5);
    expect(ex.path).toBe(csv[5].path);
    expect(ex.label).toBe(csv[5].label);
    expect(ex.image).toBeInstanceOf(Float32Array);
    expect(ex.image.length).toBe(128 * 128);
    const max = ex.image.reduce((a, b) => Math.max(a, b), 0);
    expect(max).toBeGreaterThan(100);
    expect(max).toBeLessThanOrEqual(255);
    // get() hands out a copy.
    ex.image[0] = -1;
    expect(ds.get(5).image[0]).not.toBe(-1);
    // Per-row accessors of the kept rows: source path, row in the file, encoded bytes.
    expect(ds.length).toBe(128);
    expect(ds.imagePath(5)).toBe(csv[5].path);
    expect(ds.sourceRows[5]).toBe(5);
    expect(ds.imageBytes(5).subarray(0, 3)).toEqual(new Uint8Array([0xff, 0xd8, 0xff])); // a JPEG
    expect(() => ds.imagePath(128)).toThrow(/out of range/);
    expect(ds.imageHeader(0)).toEqual({ format: 'jpeg', width: 128, height: 128, colorMode: 'gray', bitDepth: 8 });
  });

  it('cache: false decodes on demand to the same pixels; targetSize resizes', async () => {
    const cached = await ParquetImageDataset.fromFile(samplePath);
    const lazy = await ParquetImageDataset.fromFile(samplePath, { cache: false });
    expect(lazy.cached).toBe(false);
    expect(lazy.loadStats.decodeMs).toBe(0);
    expect(lazy.get(17).image).toEqual(cached.get(17).image);
    const small = await ParquetImageDataset.fromFile(new Uint8Array(readFileSync(samplePath)), { targetSize: [64, 32], name: 'sample' });
    expect(small.imageSize).toEqual([64, 32]);
    expect(small.get(0).image.length).toBe(64 * 32);
    await expectDataError(ParquetImageDataset.fromFile(samplePath, { targetSize: [64, 64], resize: 'reject' }), ImageSizeError, { row: 0, column: 'image.bytes' });
  });

  it('worker-thread decoding gives the same pixels as the main thread', async () => {
    const main = await ParquetImageDataset.fromFile(samplePath, { parallel: false });
    const workers = await ParquetImageDataset.fromFile(samplePath, { parallel: { threshold: 1, threads: 2 } });
    expect(main.loadStats.threads).toBe(1);
    expect(workers.loadStats.threads).toBe(2);
    for (const i of [0, 31, 64, 127]) expect(workers.get(i).image).toEqual(main.get(i).image);
  });
});

describe('column layouts and label kinds', () => {
  it('plain binary image column, int32 labels, default class names', async () => {
    const bytes = await makeParquet({ images: [png(1), png(2), png(3)], labels: [2, 0, 3], struct: false, labelType: 'int32' });
    const ds = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL });
    expect(ds.imageIsStruct).toBe(false);
    expect(ds.classNames).toEqual(['0', '1', '2', '3']);
    expect(Array.from(ds.labels)).toEqual([2, 0, 3]);
    expect(ds.get(1).path).toBeUndefined();
    expect(ds.imagePath(1)).toBeUndefined();
    expect(ds.imageBytes(1)).toEqual(png(2)); // the row's bytes as stored (a view of the packed buffer)
    expect(Array.from(ds.get(1).image)).toEqual(pseudoRandom(12, 256, 2));
  });

  it('string labels map through classNames (given or from metadata; never from the strings in the file)', async () => {
    const images = [png(1), png(2), png(3)];
    const bytes = await makeParquet({ images, labels: ['cat', 'ant', 'cat'], labelType: 'utf8' });
    await expectDataError(ParquetImageDataset.fromFile(bytes, { name: 's.parquet', targetSize: SMALL }), InvalidLabelError, { file: 's.parquet', row: 0, column: 'label' });
    const given = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL, classNames: ['cat', 'dog', 'ant'] });
    expect(Array.from(given.labels)).toEqual([0, 2, 0]);
    const meta = await makeParquet({ images, labels: ['b', 'a', 'c'], labelType: 'utf8', hfNames: ['c', 'b', 'a'] });
    expect(Array.from((await ParquetImageDataset.fromFile(meta, { targetSize: SMALL })).labels)).toEqual([1, 2, 0]);
  });

  it('custom column names', async () => {
    const bytes = await makeParquet({ images: [png(1)], labels: [1], imageColumn: 'scan', labelColumn: 'stage' });
    const ds = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL, imageColumn: 'scan', labelColumn: 'stage' });
    expect(ds.labels[0]).toBe(1);
  });
});

describe('bad input: typed errors naming file, row and column', () => {
  it('empty file, not Parquet, truncated Parquet', async () => {
    const empty = path.join(tmp, 'empty.parquet');
    writeFileSync(empty, new Uint8Array(0));
    await expectDataError(ParquetImageDataset.fromFile(empty), EmptyFileError, { file: empty });
    const csv = path.join(tmp, 'data.csv');
    writeFileSync(csv, 'image,label\n1,2\n');
    await expectDataError(ParquetImageDataset.fromFile(csv), NotParquetError, { file: csv });
    const good = await makeParquet({ images: [png(1), png(2)], labels: [0, 1] });
    const cut = path.join(tmp, 'cut.parquet');
    writeFileSync(cut, good.slice(0, Math.floor(good.length / 2)));
    await expectDataError(ParquetImageDataset.fromFile(cut), TruncatedParquetError, { file: cut });
    // Footer intact but a data page corrupted in the middle.
    const corrupt = good.slice();
    for (let i = 8; i < 60; i++) corrupt[i] = 0xee;
    await expectDataError(ParquetImageDataset.fromFile(corrupt, { name: 'corrupt.parquet' }), TruncatedParquetError, { file: 'corrupt.parquet' });
    await expect(ParquetImageDataset.fromFile(path.join(tmp, 'nope.parquet'))).rejects.toThrow(/cannot read file.*nope\.parquet/s);
  });

  it('missing image or label column, struct without bytes', async () => {
    const bytes = await makeParquet({ images: [png(1)], labels: [0] });
    await expectDataError(ParquetImageDataset.fromFile(bytes, { name: 'x.parquet', imageColumn: 'img' }), MissingColumnError, { file: 'x.parquet', column: 'img' });
    const e = await expectDataError(ParquetImageDataset.fromFile(bytes, { name: 'x.parquet', labelColumn: 'y' }), MissingColumnError, { column: 'y' });
    expect(e.message).toContain('columns are image, label');
  });

  it('null label, out-of-range label, unknown class name', async () => {
    const nullLabel = await makeParquet({ images: [png(1), png(2), png(3)], labels: [0, null, 1] });
    await expectDataError(ParquetImageDataset.fromFile(nullLabel, { name: 'n.parquet', targetSize: SMALL }), InvalidLabelError, { file: 'n.parquet', row: 1, column: 'label' });
    const outOfRange = await makeParquet({ images: [png(1), png(2), png(3)], labels: [0, 1, 4] });
    const e = await expectDataError(ParquetImageDataset.fromFile(outOfRange, { targetSize: SMALL }), InvalidLabelError, { row: 2, column: 'label' });
    expect(e.message).toMatch(/label 4 is out of range 0\.\.3/);
    const negative = await makeParquet({ images: [png(1)], labels: [-1] });
    await expectDataError(ParquetImageDataset.fromFile(negative, { targetSize: SMALL }), InvalidLabelError, { row: 0 });
    const unknown = await makeParquet({ images: [png(1), png(2)], labels: ['a', 'zebra'], labelType: 'utf8' });
    await expectDataError(ParquetImageDataset.fromFile(unknown, { targetSize: SMALL, classNames: ['a', 'b'] }), InvalidLabelError, { row: 1 });
  });

  it('undecodable bytes, unsupported format, null image', async () => {
    const junk = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const badBytes = await makeParquet({ images: [png(1), junk], labels: [0, 1] });
    await expectDataError(ParquetImageDataset.fromFile(badBytes, { name: 'b.parquet', targetSize: SMALL }), ImageDecodeError, { file: 'b.parquet', row: 1, column: 'image.bytes' });
    const corruptPng = png(2).slice(0, 45);
    const corrupt = await makeParquet({ images: [png(1), png(3), corruptPng], labels: [0, 1, 2], struct: false });
    await expectDataError(ParquetImageDataset.fromFile(corrupt, { targetSize: SMALL }), ImageDecodeError, { row: 2, column: 'image' });
    const gif = new TextEncoder().encode('GIF89a\x04\x00\x03\x00');
    const unsupported = await makeParquet({ images: [gif], labels: [0] });
    await expectDataError(ParquetImageDataset.fromFile(unsupported, { targetSize: SMALL }), UnsupportedImageFormatError, { row: 0, column: 'image.bytes' });
    const nullImage = await makeParquet({ images: [png(1), null], labels: [0, 0] });
    await expectDataError(ParquetImageDataset.fromFile(nullImage, { targetSize: SMALL }), MissingImageError, { row: 1 });
  });

  it('rows: [start, end) reads only those file rows, keeping the file row numbers in sourceRows, skipped rows and errors', async () => {
    const images = [png(1), new Uint8Array([9, 9, 9]), png(3), png(4), png(5, 8, 6), new TextEncoder().encode('GIF89a..'), png(7)];
    const bytes = await makeParquet({ images, labels: [0, 1, null, 7, 2, 3, 1] });
    const all = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL, resize: 'reject', onError: 'skip' });
    const part = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL, resize: 'reject', onError: 'skip', rows: [1, 7] });
    expect(Array.from(part.sourceRows)).toEqual([6]);
    expect(part.skipped.map((s) => s.row)).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(part.get(0).image)).toEqual(Array.from(all.get(1).image));
    await expectDataError(ParquetImageDataset.fromFile(bytes, { targetSize: SMALL, resize: 'reject', rows: [3, 5] }), InvalidLabelError, { row: 3, column: 'label' });
    await expect(ParquetImageDataset.fromFile(bytes, { targetSize: SMALL, rows: [5, 9] })).rejects.toThrow(/rows \[5, 9\) must lie within the file's 7 rows/);
  });

  it("onError: 'skip' keeps good rows and lists every bad one with its reason", async () => {
    const images = [png(1), new Uint8Array([9, 9, 9]), png(3), png(4), png(5, 8, 6), new TextEncoder().encode('GIF89a..'), png(7)];
    const bytes = await makeParquet({ images, labels: [0, 1, null, 7, 2, 3, 1] });
    const ds = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL, resize: 'reject', onError: 'skip' });
    expect(Array.from(ds.sourceRows)).toEqual([0, 6]);
    expect(Array.from(ds.labels)).toEqual([0, 1]);
    expect(ds.length + ds.skipped.length).toBe(images.length);
    expect(ds.skipped.map((s) => [s.row, s.error.name])).toEqual([
      [1, 'ImageDecodeError'],
      [2, 'InvalidLabelError'],
      [3, 'InvalidLabelError'],
      [4, 'ImageSizeError'],
      [5, 'UnsupportedImageFormatError'],
    ]);
    expect(ds.skipped[1].reason).toBe('label is null');
    expect(Array.from(ds.get(1).image)).toEqual(pseudoRandom(12, 256, 7));
    // Skipped rows found by the decoder (not only by the header check) also with cache off, and on workers.
    const corrupt = await makeParquet({ images: [png(1), png(2).slice(0, 45), png(3)], labels: [0, 1, 2] });
    for (const opts of [{ cache: false }, { parallel: { threshold: 1, threads: 2 } }]) {
      const d = await ParquetImageDataset.fromFile(corrupt, { targetSize: SMALL, onError: 'skip', ...opts });
      expect(d.skipped.map((s) => s.row)).toEqual([1]);
      expect(Array.from(d.get(1).image)).toEqual(pseudoRandom(12, 256, 3));
    }
  });
});

describe('subject and slice columns', () => {
  const images = [png(1), png(2), png(3), png(4)];
  const labels = [0, 0, 1, 1];

  it("reads a string subject column and an integer slice column by their default names", async () => {
    const bytes = await makeParquet({ images, labels, subjects: ['p-1', 'p-1', 'p-2', 'p-2'], slices: [1, 2, 1, 2] });
    const ds = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL });
    expect(ds.subjects).toEqual(['p-1', 'p-1', 'p-2', 'p-2']);
    expect(ds.slices).toBeInstanceOf(Int32Array);
    expect(Array.from(ds.slices!)).toEqual([1, 2, 1, 2]);
    // Frozen: a caller cannot relabel the people.
    expect(Object.isFrozen(ds.subjects)).toBe(true);
  });

  it('integer subject columns (int64, int32) become strings; int64 slices become integers', async () => {
    for (const subjectType of ['int64', 'int32'] as const) {
      const bytes = await makeParquet({ images, labels, subjects: [7, 7, 12, 3], subjectType, slices: [3, 4, 30, 1], sliceType: 'int64' });
      const ds = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL });
      expect(ds.subjects, subjectType).toEqual(['7', '7', '12', '3']);
      expect(Array.from(ds.slices!)).toEqual([3, 4, 30, 1]);
    }
  });

  it('absent columns give undefined; null ignores present ones; custom names are read', async () => {
    const plain = await makeParquet({ images, labels });
    const none = await ParquetImageDataset.fromFile(plain, { targetSize: SMALL });
    expect(none.subjects).toBeUndefined();
    expect(none.slices).toBeUndefined();
    const both = await makeParquet({ images, labels, subjects: ['a', 'b', 'c', 'd'], slices: [1, 1, 1, 1] });
    const ignored = await ParquetImageDataset.fromFile(both, { targetSize: SMALL, subjectColumn: null, sliceColumn: null });
    expect(ignored.subjects).toBeUndefined();
    expect(ignored.slices).toBeUndefined();
    expect(ignored.length).toBe(4);
    const onlySlices = await ParquetImageDataset.fromFile(both, { targetSize: SMALL, subjectColumn: null });
    expect(onlySlices.subjects).toBeUndefined();
    expect(Array.from(onlySlices.slices!)).toEqual([1, 1, 1, 1]);
    const custom = await makeParquet({ images, labels, subjects: ['x', 'x', 'y', 'y'], subjectColumn: 'patient', slices: [5, 6, 7, 8], sliceColumn: 'level' });
    const ds = await ParquetImageDataset.fromFile(custom, { targetSize: SMALL, subjectColumn: 'patient', sliceColumn: 'level' });
    expect(ds.subjects).toEqual(['x', 'x', 'y', 'y']);
    expect(Array.from(ds.slices!)).toEqual([5, 6, 7, 8]);
    // Without the names, the default 'subject' / 'slice' are absent: no error, nothing read.
    const defaults = await ParquetImageDataset.fromFile(custom, { targetSize: SMALL });
    expect(defaults.subjects).toBeUndefined();
    expect(defaults.slices).toBeUndefined();
  });

  it('a subject or slice column named in the options but absent is a MissingColumnError naming it', async () => {
    const plain = await makeParquet({ images, labels });
    const e = await expectDataError(ParquetImageDataset.fromFile(plain, { name: 'p.parquet', targetSize: SMALL, subjectColumn: 'patient' }), MissingColumnError, { file: 'p.parquet', column: 'patient' });
    expect(e.message).toContain('columns are image, label');
    await expectDataError(ParquetImageDataset.fromFile(plain, { name: 'p.parquet', targetSize: SMALL, sliceColumn: 'slice' }), MissingColumnError, { column: 'slice' });
  });

  it('a null or empty subject is an InvalidSubjectError naming file, row and column', async () => {
    const nullSubject = await makeParquet({ images, labels, subjects: ['a', 'a', null, 'b'] });
    const e = await expectDataError(ParquetImageDataset.fromFile(nullSubject, { name: 's.parquet', targetSize: SMALL }), InvalidSubjectError, { file: 's.parquet', row: 2, column: 'subject' });
    expect(e.message).toContain('subject is null');
    const empty = await makeParquet({ images, labels, subjects: ['a', '  ', 'b', 'b'], subjectColumn: 'patient' });
    const e2 = await expectDataError(ParquetImageDataset.fromFile(empty, { targetSize: SMALL, subjectColumn: 'patient' }), InvalidSubjectError, { row: 1, column: 'patient' });
    expect(e2.message).toContain('subject is empty');
    const nullInt = await makeParquet({ images, labels, subjects: [1, 2, 3, null], subjectType: 'int64' });
    await expectDataError(ParquetImageDataset.fromFile(nullInt, { targetSize: SMALL }), InvalidSubjectError, { row: 3 });
  });

  it('a null or non-integer slice is an InvalidSliceError naming file, row and column', async () => {
    const nullSlice = await makeParquet({ images, labels, slices: [1, null, 3, 4] });
    const e = await expectDataError(ParquetImageDataset.fromFile(nullSlice, { name: 'l.parquet', targetSize: SMALL }), InvalidSliceError, { file: 'l.parquet', row: 1, column: 'slice' });
    expect(e.message).toContain('slice is null');
    const fractional = await makeParquet({ images, labels, slices: [1, 2, 2.5, 4], sliceType: 'float64' });
    const e2 = await expectDataError(ParquetImageDataset.fromFile(fractional, { targetSize: SMALL }), InvalidSliceError, { row: 2, column: 'slice' });
    expect(e2.message).toContain('slice 2.5 is not an integer');
    // Whole-number doubles are accepted as integers.
    const whole = await makeParquet({ images, labels, slices: [1, 2, 3, 4], sliceType: 'float64' });
    expect(Array.from((await ParquetImageDataset.fromFile(whole, { targetSize: SMALL })).slices!)).toEqual([1, 2, 3, 4]);
  });

  it("onError: 'skip' leaves out rows with a bad subject or slice and keeps subjects / slices aligned with the kept rows", async () => {
    const six = [png(1), png(2), png(3), png(4), new Uint8Array([9, 9, 9]), png(6)];
    const bytes = await makeParquet({
      images: six,
      labels: [0, 1, 0, 1, 0, 1],
      subjects: ['a', null, 'b', 'c', 'd', 'e'],
      slices: [10, 11, null, 13, 14, 15],
    });
    const ds = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL, onError: 'skip' });
    expect(ds.skipped.map((s) => [s.row, s.error.name])).toEqual([
      [1, 'InvalidSubjectError'],
      [2, 'InvalidSliceError'],
      [4, 'ImageDecodeError'],
    ]);
    expect(Array.from(ds.sourceRows)).toEqual([0, 3, 5]);
    expect(ds.subjects).toEqual(['a', 'c', 'e']);
    expect(Array.from(ds.slices!)).toEqual([10, 13, 15]);
    expect(Array.from(ds.labels)).toEqual([0, 1, 1]);
    // Pixels of kept row 2 are file row 5's.
    expect(Array.from(ds.get(2).image)).toEqual(pseudoRandom(12, 256, 6));
  });
});
