// Data pipeline benchmark on the real train.parquet: Parquet read (hyparquet vs parquet-wasm), image decode
// (main thread vs worker threads), augmentation, and whole-pipeline batches/s.
//
//   npm run bench:data                               # everything
//   npm run bench:data -- --only=read,decode         # a subset: read, decode, augment, pipeline
//   npm run bench:data -- --file=path/to.parquet --reps=5 --batches=40 --backend=wasm
//
// Each figure is printed with the command line that reproduces it. Run on an otherwise idle machine.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { parquetRead } from 'hyparquet';
import * as arrow from 'apache-arrow';
import { ParquetImageDataset } from '../src/index.js';
import { augmentBatch, iterateBatches } from '../src/data/index.js';

const args = new Map(process.argv.slice(2).map((a) => { const [k, v] = a.replace(/^--/, '').split('='); return [k, v ?? 'true']; }));
const here = path.dirname(fileURLToPath(import.meta.url));
const file = args.get('file') ?? path.resolve(here, '../../shared/data/alzheimer-mri-subjects/train.parquet');
const reps = Number(args.get('reps') ?? 3);
const nBatches = Number(args.get('batches') ?? 40);
const backend = args.get('backend') ?? 'cpu';
const only = new Set((args.get('only') ?? 'read,decode,augment,pipeline').split(','));
const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
const fileArg = args.has('file') ? ` --file=${file}` : '';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
function report(what: string, value: string, cmd: string) {
  console.log(`${what.padEnd(46)} ${value.padStart(22)}   # npm run bench:data -- ${cmd}${fileArg}`);
}
async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const bytes = readFileSync(file);
const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
console.log(`file ${file} (${bytes.length} bytes), ${cores} logical cores, node ${process.version}, tfjs backend ${backend}, reps ${reps} (median)`);

if (only.has('read')) {
  let rows = 0;
  const hy: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    const ms = await time(() => parquetRead({ file: ab, utf8: false, rowFormat: 'object', columns: ['image', 'label'], onComplete: (x) => { rows = x.length; } }));
    if (r > 0) hy.push(ms); // first run warms up the JIT
  }
  report('Parquet read, hyparquet (utf8:false)', `${Math.round(rows / (median(hy) / 1000))} rows/s (${median(hy).toFixed(0)} ms)`, '--only=read');
  const pw = await import('parquet-wasm');
  const cold = await time(() => arrow.tableFromIPC(pw.readParquet(new Uint8Array(ab)).intoIPCStream()));
  const pws: number[] = [];
  for (let r = 0; r < reps; r++) pws.push(await time(() => { rows = arrow.tableFromIPC(pw.readParquet(new Uint8Array(ab)).intoIPCStream()).numRows; }));
  report('Parquet read, parquet-wasm -> Arrow (warm)', `${Math.round(rows / (median(pws) / 1000))} rows/s (${median(pws).toFixed(0)} ms)`, '--only=read');
  report('Parquet read, parquet-wasm first call', `${cold.toFixed(0)} ms incl. wasm init`, '--only=read');
}

if (only.has('decode')) {
  for (const [label, parallel] of [
    ['decode, main thread', false],
    ['decode, 1 worker thread', { threshold: 0, threads: 1 }],
    [`decode, ${cores} worker threads (all cores)`, { threshold: 0, threads: cores }],
  ] as const) {
    const ms: number[] = [];
    let n = 0;
    for (let r = 0; r < reps; r++) {
      const ds = await ParquetImageDataset.fromFile(new Uint8Array(ab), { parallel });
      ms.push(ds.loadStats.decodeMs);
      n = ds.length;
    }
    report(`${label} (JPEG -> float32 cache)`, `${Math.round(n / (median(ms) / 1000))} rows/s (${median(ms).toFixed(0)} ms)`, '--only=decode');
  }
}

let ds: ParquetImageDataset | null = null;
if (only.has('augment') || only.has('pipeline')) {
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend(backend);
  ds = await ParquetImageDataset.fromFile(new Uint8Array(ab));
}

if (only.has('augment') && ds) {
  const batch = 32;
  const px = 128 * 128;
  const data = new Float32Array(batch * px);
  ds.readImagesInto(Int32Array.from({ length: batch }, (_, i) => i), data);
  const x = tf.tensor4d(data, [batch, 128, 128, 1]);
  tf.dispose(augmentBatch(x, true, 0)); // warm-up
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    ms.push(await time(() => { for (let k = 0; k < 5; k++) { const y = augmentBatch(x, true, k); y.dataSync(); tf.dispose(y); } }));
  }
  tf.dispose(x);
  report(`augmentation (defaults, batch 32, ${backend})`, `${Math.round((5 * batch) / (median(ms) / 1000))} images/s`, `--only=augment --backend=${backend}`);
}

if (only.has('pipeline') && ds) {
  for (const augment of [false, true]) {
    const ms: number[] = [];
    for (let r = 0; r < reps; r++) {
      ms.push(await time(async () => {
        let k = 0;
        for await (const b of iterateBatches(ds as ParquetImageDataset, { batchSize: 32, shuffle: true, seed: r, augment })) {
          b.xs.dataSync();
          tf.dispose([b.xs, b.ys]);
          if (++k >= nBatches) break;
        }
      }));
    }
    report(`pipeline batches of 32 (shuffle${augment ? ', augment' : ''}, ${backend})`, `${(nBatches / (median(ms) / 1000)).toFixed(1)} batches/s`, `--only=pipeline --batches=${nBatches} --backend=${backend}`);
  }
}
