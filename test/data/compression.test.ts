import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ParquetImageDataset } from '../../src/data/index.js';
import { TruncatedParquetError, UnsupportedCompressionError } from '../../src/data/errors.js';
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

  it('a codec that cannot be decompressed (LZO) is an UnsupportedCompressionError naming codec and column', async () => {
    // gzip.parquet with its footer's codec fields set to LZO. In the thrift-compact footer, ColumnMetaData's codec
    // (field 4, header 0x15, zigzag 4 = GZIP) directly follows path_in_schema, whose last string is the leaf name.
    const bytes = new Uint8Array(readFileSync(fixture('gzip')));
    const footerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 8, true);
    const leaves = ['bytes', 'path', 'label', 'subject'].map((n) => Array.from(n, (c) => c.charCodeAt(0)));
    let patched = 0;
    for (let i = bytes.length - 8 - footerLength; i < bytes.length - 9; i++) {
      if (bytes[i] !== 0x15 || bytes[i + 1] !== 0x04) continue;
      if (!leaves.some((l) => l.every((c, k) => bytes[i - l.length + k] === c))) continue;
      bytes[i + 1] = 0x06; // LZO
      patched++;
    }
    expect(patched).toBe(4);
    let err: unknown;
    try { await ParquetImageDataset.fromFile(bytes, { name: 'lzo.parquet', targetSize: [8, 8] }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(UnsupportedCompressionError);
    const e = err as UnsupportedCompressionError;
    expect(e.file).toBe('lzo.parquet');
    expect(e.column).toBe('image.bytes');
    expect(e.message).toMatch(/compressed with LZO.*supported: UNCOMPRESSED, SNAPPY, GZIP/);
  });

  it('a footer that parses but describes an impossible schema is a TruncatedParquetError, not a TypeError', async () => {
    // Every i32 of value 2 in the footer set to 6: schema types and child counts included.
    const bytes = new Uint8Array(readFileSync(fixture('gzip')));
    const footerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 8, true);
    for (let i = bytes.length - 8 - footerLength; i < bytes.length - 9; i++) if (bytes[i] === 0x15 && bytes[i + 1] === 0x04) bytes[i + 1] = 0x06;
    await expect(ParquetImageDataset.fromFile(bytes, { name: 'bad-footer.parquet' })).rejects.toThrow(TruncatedParquetError);
    await expect(ParquetImageDataset.fromFile(bytes, { name: 'bad-footer.parquet' })).rejects.toThrow(/footer cannot be read.*file bad-footer\.parquet/);
  });
});
