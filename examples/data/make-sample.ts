// Makes examples/data/sample.parquet: four whole people of the real training set, one of each stage (the
// lowest-numbered subject of each class: subject numbers say nothing about the class), all 32 slices each in slice
// order, with the same schema (image: struct<bytes, path>, label: int64, subject: string, slice: int32), the same
// HuggingFace metadata and the original JPEG bytes. Also writes examples/data/sample-rows.csv (sample row -> train
// row, subject, slice, path, label, sha256).
//
// Run from the repository root:  npx tsx examples/data/make-sample.ts [path/to/train.parquet]
// (needs the dev dependency parquet-wasm to write Parquet).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as arrow from 'apache-arrow';
import { parquetMetadata, parquetRead } from 'hyparquet';

const here = path.dirname(fileURLToPath(import.meta.url));
const trainPath = process.argv[2] ?? path.resolve(here, '../../../shared/data/alzheimer-mri-subjects/train.parquet');

const buf = readFileSync(trainPath);
const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
const metadata = parquetMetadata(ab);
const hf = metadata.key_value_metadata?.find((kv) => kv.key === 'huggingface')?.value;
if (!hf) throw new Error(`${trainPath} has no 'huggingface' metadata`);
let rows: Array<{ image: { bytes: Uint8Array; path: string }; label: bigint; subject: string; slice: number }> = [];
await parquetRead({ file: ab, utf8: false, rowFormat: 'object', onComplete: (r) => { rows = r as typeof rows; } });

// The lowest-numbered subject of each class, then all of that person's rows in slice order.
const personOf = new Map<number, string>();
for (const r of rows) {
  const c = Number(r.label);
  if (!personOf.has(c) || r.subject < (personOf.get(c) as string)) personOf.set(c, r.subject);
}
const people = [...personOf.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s);
const picked = people.flatMap((person) =>
  rows.flatMap((r, i) => (r.subject === person ? [i] : [])).sort((a, b) => rows[a].slice - rows[b].slice),
);
const taken = new Map<number, number>();
for (const i of picked) taken.set(Number(rows[i].label), (taken.get(Number(rows[i].label)) ?? 0) + 1);

const image = arrow.vectorFromArray(
  picked.map((i) => ({ bytes: rows[i].image.bytes, path: rows[i].image.path })),
  new arrow.Struct([new arrow.Field('bytes', new arrow.Binary(), true), new arrow.Field('path', new arrow.Utf8(), true)]),
);
const label = arrow.vectorFromArray(picked.map((i) => rows[i].label), new arrow.Int64());
const subject = arrow.vectorFromArray(picked.map((i) => rows[i].subject), new arrow.Utf8());
const slice = arrow.vectorFromArray(picked.map((i) => rows[i].slice), new arrow.Int32());
const table = new arrow.Table({ image, label, subject, slice });
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
const csv = [
  'sample_row,train_row,subject,slice,path,label,sha256',
  ...picked.map((i, k) => `${k},${i},${rows[i].subject},${rows[i].slice},${rows[i].image.path},${rows[i].label},${sha(rows[i].image.bytes)}`),
];
writeFileSync(path.join(here, 'sample-rows.csv'), csv.join('\n') + '\n');
console.log(`wrote sample.parquet: ${picked.length} rows of ${people.join(', ')} (${[...taken.entries()].sort().map(([c, n]) => `${c}:${n}`).join(' ')}), ${out.length} bytes; sha256 ${sha(out)}`);
