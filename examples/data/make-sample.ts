// Makes examples/data/sample.parquet: a stratified sample of the real training set (the first 32 rows of each
// class in file order; the file is sorted by the sha256 of the image bytes, so this is a fixed pseudo-random pick),
// with the same schema (image: struct<bytes, path>, label: int64), the same HuggingFace metadata and the original
// JPEG bytes. Also writes examples/data/sample-rows.csv (sample row -> train row, path, label, sha256).
//
// Run from the repository root:  npx tsx examples/data/make-sample.ts [path/to/train.parquet]
// (needs the dev dependency parquet-wasm to write Parquet).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as arrow from 'apache-arrow';
import { parquetMetadata, parquetRead } from 'hyparquet';

const PER_CLASS = 32;
const here = path.dirname(fileURLToPath(import.meta.url));
const trainPath = process.argv[2] ?? path.resolve(here, '../../../shared/data/alzheimer-mri/train.parquet');

const buf = readFileSync(trainPath);
const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
const metadata = parquetMetadata(ab);
const hf = metadata.key_value_metadata?.find((kv) => kv.key === 'huggingface')?.value;
if (!hf) throw new Error(`${trainPath} has no 'huggingface' metadata`);
let rows: Array<{ image: { bytes: Uint8Array; path: string }; label: bigint }> = [];
await parquetRead({ file: ab, utf8: false, rowFormat: 'object', onComplete: (r) => { rows = r as typeof rows; } });

const taken = new Map<number, number>();
const picked: number[] = [];
rows.forEach((r, i) => {
  const c = Number(r.label);
  if ((taken.get(c) ?? 0) < PER_CLASS) {
    taken.set(c, (taken.get(c) ?? 0) + 1);
    picked.push(i);
  }
});

const image = arrow.vectorFromArray(
  picked.map((i) => ({ bytes: rows[i].image.bytes, path: rows[i].image.path })),
  new arrow.Struct([new arrow.Field('bytes', new arrow.Binary(), true), new arrow.Field('path', new arrow.Utf8(), true)]),
);
const label = arrow.vectorFromArray(picked.map((i) => rows[i].label), new arrow.Int64());
const table = new arrow.Table({ image, label });
table.schema.metadata.set('huggingface', hf);

const pw = await import('parquet-wasm');
const props = new pw.WriterPropertiesBuilder()
  .setCompression(pw.Compression.SNAPPY)
  .setMaxRowGroupSize(1000)
  .setCreatedBy('neurostagenet examples/data/make-sample.ts (parquet-wasm)')
  .setKeyValueMetadata(new Map([['huggingface', hf]]))
  .build();
const out = pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), props);
writeFileSync(path.join(here, 'sample.parquet'), out);

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const csv = ['sample_row,train_row,path,label,sha256', ...picked.map((i, k) => `${k},${i},${rows[i].image.path},${rows[i].label},${sha(rows[i].image.bytes)}`)];
writeFileSync(path.join(here, 'sample-rows.csv'), csv.join('\n') + '\n');
console.log(`wrote sample.parquet: ${picked.length} rows (${[...taken.entries()].sort().map(([c, n]) => `${c}:${n}`).join(' ')}), ${out.length} bytes; sha256 ${sha(out)}`);
