// Test helpers: write small Parquet files (apache-arrow + parquet-wasm, a dev dependency) and encode images.
import * as arrow from 'apache-arrow';
import { deflateSync, crc32 } from 'node:zlib';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Repository root. */
export const repoRoot = path.resolve(here, '../..');
/** The shared real data folder (outside the repo): whole people, a subject and a slice column on every row. */
export const sharedDataDir = path.resolve(repoRoot, '../shared/data/alzheimer-mri-subjects');
/** The bundled sample. */
export const samplePath = path.resolve(repoRoot, 'examples/data/sample.parquet');

/** Path of a shared data file; throws a clear error when ../shared is missing (tests must not pass silently). */
export function sharedFile(name: 'train.parquet' | 'test.parquet' | 'manifest-train.csv' | 'manifest-test.csv'): string {
  const p = path.join(sharedDataDir, name);
  if (!existsSync(p)) {
    throw new Error(`Real data missing: ${p} not found. These tests need ../shared/data/alzheimer-mri-subjects next to the repo (see the data README).`);
  }
  return p;
}

export interface TableSpec {
  images: Array<Uint8Array | null>;
  labels: Array<number | bigint | string | null>;
  paths?: Array<string | null>;
  /** HuggingFace layout: image is struct<bytes, path>. Default true. */
  struct?: boolean;
  labelType?: 'int64' | 'int32' | 'utf8';
  imageColumn?: string;
  labelColumn?: string;
  /** HuggingFace ClassLabel names to put in the metadata. */
  hfNames?: string[];
  /** Optional subject column (strings, or integers as int64 / int32 per `subjectType`); `null` cells allowed. */
  subjects?: Array<string | number | null>;
  /** Type of the subject column. Default `'utf8'` (numbers are written as their text). */
  subjectType?: 'utf8' | 'int64' | 'int32';
  /** Name of the subject column. Default `'subject'`. */
  subjectColumn?: string;
  /** Optional slice column (int32 unless `sliceType` says otherwise); `null` cells allowed. */
  slices?: Array<number | null>;
  /** Type of the slice column. Default `'int32'`; `'float64'` writes non-integers such as 2.5. */
  sliceType?: 'int32' | 'int64' | 'float64';
  /** Name of the slice column. Default `'slice'`. */
  sliceColumn?: string;
}

/** Builds an Arrow table like the HuggingFace `datasets` layout (or plain binary). */
export function imageTable(spec: TableSpec): arrow.Table {
  const struct = spec.struct ?? true;
  const imageColumn = spec.imageColumn ?? 'image';
  const labelColumn = spec.labelColumn ?? 'label';
  const labelType = spec.labelType ?? 'int64';
  const image = struct
    ? arrow.vectorFromArray(
        spec.images.map((b, i) => (b === null ? null : { bytes: b, path: spec.paths?.[i] ?? `img_${i}.png` })),
        new arrow.Struct([new arrow.Field('bytes', new arrow.Binary(), true), new arrow.Field('path', new arrow.Utf8(), true)]),
      )
    : arrow.vectorFromArray(spec.images, new arrow.Binary());
  const label =
    labelType === 'utf8'
      ? arrow.vectorFromArray(spec.labels.map((l) => (l === null ? null : String(l))), new arrow.Utf8())
      : labelType === 'int32'
        ? arrow.vectorFromArray(spec.labels.map((l) => (l === null ? null : Number(l))), new arrow.Int32())
        : arrow.vectorFromArray(spec.labels.map((l) => (l === null ? null : BigInt(l as number))), new arrow.Int64());
  const columns: Record<string, arrow.Vector> = { [imageColumn]: image, [labelColumn]: label };
  if (spec.subjects) {
    const t = spec.subjectType ?? 'utf8';
    columns[spec.subjectColumn ?? 'subject'] =
      t === 'utf8'
        ? arrow.vectorFromArray(spec.subjects.map((v) => (v === null ? null : String(v))), new arrow.Utf8())
        : t === 'int32'
          ? arrow.vectorFromArray(spec.subjects.map((v) => (v === null ? null : Number(v))), new arrow.Int32())
          : arrow.vectorFromArray(spec.subjects.map((v) => (v === null ? null : BigInt(v as number))), new arrow.Int64());
  }
  if (spec.slices) {
    const t = spec.sliceType ?? 'int32';
    columns[spec.sliceColumn ?? 'slice'] =
      t === 'int32'
        ? arrow.vectorFromArray(spec.slices, new arrow.Int32())
        : t === 'int64'
          ? arrow.vectorFromArray(spec.slices.map((v) => (v === null ? null : BigInt(v))), new arrow.Int64())
          : arrow.vectorFromArray(spec.slices, new arrow.Float64());
  }
  return new arrow.Table(columns);
}

/** Serialises an Arrow table to Parquet bytes (Snappy), with optional key/value metadata. */
export async function writeParquet(table: arrow.Table, kv: Record<string, string> = {}, rowGroupSize = 1000): Promise<Uint8Array> {
  const pw = await import('parquet-wasm');
  const wasmTable = pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'));
  let b = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.SNAPPY).setMaxRowGroupSize(rowGroupSize);
  if (Object.keys(kv).length) b = b.setKeyValueMetadata(new Map(Object.entries(kv)));
  return pw.writeParquet(wasmTable, b.build());
}

/** Table spec -> Parquet bytes, with HF metadata when `hfNames` is given. */
export async function makeParquet(spec: TableSpec): Promise<Uint8Array> {
  const kv: Record<string, string> = {};
  if (spec.hfNames) {
    kv.huggingface = JSON.stringify({
      info: { features: { [spec.imageColumn ?? 'image']: { _type: 'Image' }, [spec.labelColumn ?? 'label']: { names: spec.hfNames, _type: 'ClassLabel' } } },
    });
  }
  return writeParquet(imageTable(spec), kv);
}

function chunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), Buffer.from(data)]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/**
 * Minimal independent PNG encoder (any colour type; bit depth 1/2/4 for gray and palette, 8 or 16 otherwise) so
 * decoder tests do not rely on the decoder's own library to make their inputs. `samples` are interleaved per pixel.
 */
export function encodePng(opts: {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  samples: ArrayLike<number>;
  palette?: Array<[number, number, number]>;
}): Uint8Array {
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[opts.colorType];
  const bits = opts.bitDepth;
  if (bits < 8 && channels !== 1) throw new Error(`bit depth ${bits} is only valid for gray and palette PNGs`);
  // Sub-byte samples are packed most-significant bits first; each row starts on a byte boundary (PNG spec 7.2).
  const rowBytes = Math.ceil((opts.width * channels * bits) / 8);
  const raw = Buffer.alloc((rowBytes + 1) * opts.height);
  for (let y = 0; y < opts.height; y++) {
    const rowStart = y * (rowBytes + 1) + 1;
    raw[rowStart - 1] = 0; // filter: none
    for (let i = 0; i < opts.width * channels; i++) {
      const v = opts.samples[y * opts.width * channels + i];
      if (v < 0 || v >= 2 ** bits) throw new Error(`sample ${v} does not fit in ${bits} bits`);
      if (bits === 16) raw.writeUInt16BE(v, rowStart + i * 2);
      else if (bits === 8) raw[rowStart + i] = v;
      else {
        const bit = i * bits;
        raw[rowStart + (bit >> 3)] |= v << (8 - bits - (bit & 7));
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(opts.width, 0);
  ihdr.writeUInt32BE(opts.height, 4);
  ihdr[8] = opts.bitDepth;
  ihdr[9] = opts.colorType;
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  if (opts.colorType === 3) parts.push(chunk('PLTE', Buffer.from((opts.palette ?? []).flat())));
  parts.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0)));
  return new Uint8Array(Buffer.concat(parts));
}

/** Deterministic pseudo-random integers in [0, max) for test images. */
export function pseudoRandom(n: number, max: number, seed = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % max;
  });
}
