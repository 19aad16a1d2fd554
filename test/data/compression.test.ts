import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { ParquetImageDataset } from '../../src/data/index.js';
import { repoRoot } from './helpers.js';

// Fixtures written by test/fixtures/data/make_compression_fixtures.py (pyarrow): the same 6 rows once per codec.
const fixture = (codec: string) => path.join(repoRoot, 'test/fixtures/data/compression', `${codec}.parquet`);

describe('Parquet compression codecs (issue 15)', () => {
  it('GZIP, BROTLI, ZSTD and LZ4 (LZ4_RAW) files read with the same pixels, labels and subjects as the uncompressed one', async () => {
    const plain = await ParquetImageDataset.fromFile(fixture('none'), { targetSize: [8, 8] });
    expect(plain.length).toBe(6);
    expect(Array.from(plain.labels)).toEqual([0, 1, 2, 3, 0, 1]);
    for (const codec of ['snappy', 'gzip', 'brotli', 'zstd', 'lz4']) {
      const ds = await ParquetImageDataset.fromFile(fixture(codec), { targetSize: [8, 8] });
      expect(ds.length, codec).toBe(6);
      expect(Array.from(ds.labels), codec).toEqual(Array.from(plain.labels));
      expect(ds.subjects, codec).toEqual(plain.subjects);
      for (let i = 0; i < ds.length; i++) {
        expect(ds.imagePath(i), codec).toBe(plain.imagePath(i));
        expect(Array.from(ds.get(i).image), `${codec} row ${i}`).toEqual(Array.from(plain.get(i).image));
      }
    }
  });
});
