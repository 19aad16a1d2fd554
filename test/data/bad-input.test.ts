// Bad-input findings of issue 15: oversized PNG headers, string labels without class names, empty datasets.
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { DataError, ImageSizeError, ParquetImageDataset, decodeImage, readImageHeader } from '../../src/data/index.js';
import { MAX_IMAGE_PIXELS } from '../../src/data/decode.js';
import { EmptyDatasetError, InvalidLabelError } from '../../src/data/errors.js';
import { encodePng, makeParquet, pseudoRandom } from './helpers.js';

const png = (seed: number, w = 4, h = 3) => encodePng({ width: w, height: h, colorType: 0, bitDepth: 8, samples: pseudoRandom(w * h, 256, seed) });
const SMALL: [number, number] = [3, 4];

/** A small valid PNG whose IHDR (with a correct CRC) claims `width` x `height`. */
function pngClaiming(width: number, height: number): Uint8Array {
  const b = png(1).slice();
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  dv.setUint32(16, width);
  dv.setUint32(20, height);
  dv.setUint32(29, crc32(b.subarray(12, 29)));
  return b;
}

async function rejection(p: Promise<unknown>): Promise<DataError> {
  try { await p; } catch (e) { return e as DataError; }
  throw new Error('expected a rejection');
}

describe('PNG pixel cap (issue 15)', () => {
  it('a PNG header of 20000x20000 is an ImageSizeError from the header, before any inflate', async () => {
    const huge = pngClaiming(20000, 20000);
    expect(20000 * 20000).toBeGreaterThan(MAX_IMAGE_PIXELS);
    expect(() => readImageHeader(huge, { row: 7 })).toThrow(ImageSizeError);
    expect(() => readImageHeader(huge)).toThrow(/20000x20000 .*400\.0 megapixels, more than the 100 megapixels/);
    await expect(decodeImage(huge)).rejects.toThrow(ImageSizeError);
    // At the cap itself it is still read (10000x10000 = exactly 100 MP).
    expect(readImageHeader(pngClaiming(10000, 10000)).width).toBe(10000);
  });

  it('the dataset names the row, on the main thread and on decode workers, and skips it with onError: skip', async () => {
    const bytes = await makeParquet({ images: [png(1), pngClaiming(20000, 20000), png(3)], labels: [0, 1, 2] });
    for (const parallel of [false, { threshold: 1, threads: 2 }] as const) {
      const t0 = performance.now();
      const e = await rejection(ParquetImageDataset.fromFile(bytes, { name: 'big.parquet', targetSize: SMALL, parallel }));
      expect(e).toBeInstanceOf(ImageSizeError);
      expect(e.row).toBe(1);
      expect(e.message).toMatch(/20000x20000.*file big\.parquet, row 1, column 'image\.bytes'/);
      expect(performance.now() - t0).toBeLessThan(2000);
      const ds = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL, parallel, onError: 'skip' });
      expect(Array.from(ds.sourceRows)).toEqual([0, 2]);
      expect(ds.skipped[0].error).toBeInstanceOf(ImageSizeError);
    }
  });
});

describe('decodeInWorkers pixel cap', () => {
  it('a job whose header is over the cap is an ImageSizeError before any worker starts', async () => {
    const { decodeInWorkers } = await import('../../src/data/decode-pool.js');
    const header = { format: 'png' as const, width: 20000, height: 20000, colorMode: 'gray' as const, bitDepth: 8 };
    await expect(decodeInWorkers([{ bytes: pngClaiming(20000, 20000), header }], 1, () => {})).rejects.toThrow(ImageSizeError);
  });
});

describe('string labels need class names (issue 15)', () => {
  const NAMES = ['Mild_Demented', 'Moderate_Demented', 'Non_Demented', 'Very_Mild_Demented'];
  const images = [png(1), png(2), png(3), png(4)];

  it('without classNames or metadata: an InvalidLabelError naming file, row, column and value, saying to pass classNames', async () => {
    const bytes = await makeParquet({ images, labels: ['Mild_Demented', 'Non_Demented', 'Very_Mild_Demented', 'Non_Demented'], labelType: 'utf8' });
    const e = await rejection(ParquetImageDataset.fromFile(bytes, { name: 'test.parquet', targetSize: SMALL }));
    expect(e).toBeInstanceOf(InvalidLabelError);
    expect([e.file, e.row, e.column]).toEqual(['test.parquet', 0, 'label']);
    expect(e.message).toMatch(/label 'Mild_Demented'.*pass classNames/);
    // Thrown whatever onError says: it is about the whole file, not one row.
    await expect(ParquetImageDataset.fromFile(bytes, { targetSize: SMALL, onError: 'skip' })).rejects.toThrow(InvalidLabelError);
  });

  it('with classNames, a file lacking a class keeps every label at its own index (no shift)', async () => {
    // No Moderate_Demented here: numbering by the strings present would make Non_Demented 1 instead of 2.
    const bytes = await makeParquet({ images, labels: ['Mild_Demented', 'Non_Demented', 'Very_Mild_Demented', 'Non_Demented'], labelType: 'utf8' });
    const ds = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL, classNames: NAMES });
    expect(Array.from(ds.labels)).toEqual([0, 2, 3, 2]);
    expect(ds.classNames).toEqual(NAMES);
  });

  it('digit strings are class indices: "0", "2", "3" stay 0, 2, 3 (with or without classNames)', async () => {
    const bytes = await makeParquet({ images: images.slice(0, 3), labels: ['0', '2', '3'], labelType: 'utf8' });
    const plain = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL });
    expect(Array.from(plain.labels)).toEqual([0, 2, 3]);
    expect(plain.classNames).toEqual(['0', '1', '2', '3']);
    const named = await ParquetImageDataset.fromFile(bytes, { targetSize: SMALL, classNames: NAMES });
    expect(Array.from(named.labels)).toEqual([0, 2, 3]);
    const outOfRange = await makeParquet({ images: images.slice(0, 1), labels: ['7'], labelType: 'utf8' });
    await expect(ParquetImageDataset.fromFile(outOfRange, { targetSize: SMALL })).rejects.toThrow(/label 7 is out of range 0\.\.3/);
  });
});

describe('empty datasets (issue 15)', () => {
  it('a file of 0 rows is an EmptyDatasetError naming the file', async () => {
    const bytes = await makeParquet({ images: [], labels: [] });
    const e = await rejection(ParquetImageDataset.fromFile(bytes, { name: 'empty.parquet', targetSize: SMALL }));
    expect(e).toBeInstanceOf(EmptyDatasetError);
    expect(e.file).toBe('empty.parquet');
    expect(e.message).toMatch(/0 rows.*file empty\.parquet/);
  });

  it('every row skipped is an EmptyDatasetError naming the file and the first reason', async () => {
    const junk = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const bytes = await makeParquet({ images: [junk, junk], labels: [0, 1] });
    const e = await rejection(ParquetImageDataset.fromFile(bytes, { name: 'bad.parquet', targetSize: SMALL, onError: 'skip' }));
    expect(e).toBeInstanceOf(EmptyDatasetError);
    expect(e.message).toMatch(/all 2 rows were skipped.*row 0: not a recognised image.*file bad\.parquet/);
  });
});

describe('StratifiedSplit of nothing (issue 15)', () => {
  it('0 rows is an EmptyDatasetError (naming the file of a source that has one), not two empty sides', async () => {
    const { StratifiedSplit } = await import('../../src/data/split.js');
    const split = new StratifiedSplit({ testSize: 0.2, seed: 1 });
    expect(() => split.split([])).toThrow(EmptyDatasetError);
    const e = (() => { try { split.splitSource({ labels: new Int32Array(0), file: 'x.parquet' }); } catch (err) { return err as DataError; } })();
    expect(e).toBeInstanceOf(EmptyDatasetError);
    expect(e!.message).toMatch(/0 rows \(file x\.parquet\)/);
  });
});
