/**
 * The SDK side of a tf.distribute trip: SDK weights out, Keras trains under a distribution strategy, SDK weights back.
 *
 *   npx tsx examples/distribute/roundtrip.mts [--python <python>] [--dir <work dir>] [--steps 3] [--batch-size 8]
 *       [--strategy mirrored] [--rows 0:32] [--model <SDK model dir>] [--train <parquet>] [--test <parquet>]
 *
 * 1. builds the seeded NeuroStageNet (64x64, seed 1, the shipped model's input size), or loads `--model`, and writes
 *    it with saveKerasWeights (Keras 3 `.weights.h5`);
 * 2. runs train_distributed.py (next to this file) for a few steps under the strategy, which loads that file into the
 *    Keras reference model, trains, saves `.weights.h5` and writes Keras' probabilities on test rows, before and
 *    after training, plus the images it decoded;
 * 3. loadKerasWeights the trained file into a differently seeded SDK model and compares the SDK's probabilities on
 *    the same test rows with Keras': max |SDK − Keras| and max relative error, before and after the trip; also the
 *    decoded pixels (the SDK's jpeg-js + bilinear resize against TensorFlow's decode_jpeg + tf.image.resize), and
 *    the SDK's probabilities on Keras' own pixels (weights alone, no decoder in the comparison).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildNeuroStageNet, ParquetImageDataset } from 'neurostagenet';
import { loadKerasWeights, loadModel, saveKerasWeights } from 'neurostagenet/node';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opt } = parseArgs({
  options: {
    python: { type: 'string', default: process.env.PYTHON ?? 'python3' },
    dir: { type: 'string', default: '/tmp/distribute-trip' },
    steps: { type: 'string', default: '3' },
    'batch-size': { type: 'string', default: '8' },
    strategy: { type: 'string', default: 'mirrored' },
    rows: { type: 'string', default: '0:32' },
    model: { type: 'string' },
    train: { type: 'string', default: resolve(here, '../../../shared/data/alzheimer-mri-subjects/train.parquet') },
    test: { type: 'string', default: resolve(here, '../../../shared/data/alzheimer-mri-subjects/test.parquet') },
  },
});

interface KerasRecord {
  rows: number[];
  labels: number[];
  before: number[][];
  after: number[][];
  versions: Record<string, string>;
  strategy: string;
  replicas: number;
  global_batch: number;
}

/** max |a − b| and max |a − b| / max |b|. */
function compare(a: number[][], b: number[][]): { abs: number; rel: number } {
  let abs = 0;
  let scale = 0;
  a.forEach((row, i) => row.forEach((v, j) => {
    abs = Math.max(abs, Math.abs(v - b[i][j]));
    scale = Math.max(scale, Math.abs(b[i][j]));
  }));
  return { abs, rel: abs / scale };
}

function predict(model: tfl.LayersModel, pixels: Float32Array, n: number, size: readonly [number, number]): number[][] {
  return tf.tidy(() => (model.predict(tf.tensor4d(pixels, [n, size[0], size[1], 1]), { batchSize: 32 }) as tf.Tensor).arraySync() as number[][]);
}

await tf.setBackend('cpu');
mkdirSync(opt.dir, { recursive: true });
const [start, end] = opt.rows.split(':').map(Number) as [number, number];

// 1. SDK weights out.
const model = opt.model ? await loadModel(opt.model) : await buildNeuroStageNet({ inputShape: [64, 64, 1], seed: 1 });
const size = model.inputs[0].shape.slice(1, 3) as [number, number];
const sdkFile = join(opt.dir, 'sdk.weights.h5');
const written = await saveKerasWeights(model, sdkFile);
console.log(`SDK: ${opt.model ?? 'NeuroStageNet seed 1'} ${size[0]}x${size[1]} -> ${sdkFile} (${written.format}, ${written.weights} weights, ${written.bytes} bytes)`);

const test = await ParquetImageDataset.fromFile(opt.test, { targetSize: size, rows: [start, end], parallel: false });
const sdkPixels = new Float32Array(test.length * size[0] * size[1]);
test.readImagesInto(Int32Array.from({ length: test.length }, (_, i) => i), sdkPixels);
const sdkBefore = predict(model, sdkPixels, test.length, size);
model.dispose();

// 2. Keras trains under tf.distribute.
const trained = join(opt.dir, 'trained.weights.h5');
const predictions = join(opt.dir, 'keras-predictions.json');
const kerasPixelsFile = join(opt.dir, 'keras-pixels.f32');
const args = [
  join(here, 'train_distributed.py'), '--strategy', opt.strategy, '--weights-in', sdkFile, '--weights-out', trained,
  '--train', opt.train, '--steps', opt.steps, '--batch-size', opt['batch-size'], '--image-size', String(size[0]),
  '--predict-parquet', opt.test, '--predict-rows', opt.rows, '--predict-out', predictions, '--dump-pixels', kerasPixelsFile,
];
console.log(`$ ${opt.python} ${args.join(' ')}`);
const run = spawnSync(opt.python, args, { stdio: 'inherit' });
if (run.status !== 0) throw new Error(`train_distributed.py failed (exit ${run.status ?? run.signal})`);
const keras = JSON.parse(readFileSync(predictions, 'utf8')) as KerasRecord;

// 3. SDK weights back, into a differently seeded model: every weight must come from the file.
const back = await buildNeuroStageNet({ inputShape: [size[0], size[1], 1], seed: 2 });
const loaded = await loadKerasWeights(back, trained);
console.log(`SDK: loadKerasWeights ${trained}: ${loaded.format}, ${loaded.loaded.length} weights loaded, ${loaded.missing.length} missing`);
const sdkAfter = predict(back, sdkPixels, test.length, size);
const raw = readFileSync(kerasPixelsFile);
const kerasPixels = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const sdkOnKerasPixels = predict(back, kerasPixels, test.length, size);

let pixelDiff = 0;
let pixelsDiffering = 0;
sdkPixels.forEach((v, k) => {
  const d = Math.abs(v - kerasPixels[k]);
  pixelDiff = Math.max(pixelDiff, d);
  if (d > 1e-3) pixelsDiffering++;
});
const fmt = ({ abs, rel }: { abs: number; rel: number }): string => `max abs ${abs.toExponential(2)}, max rel ${rel.toExponential(2)}`;
const agree = sdkAfter.filter((p, i) => p.indexOf(Math.max(...p)) === keras.after[i].indexOf(Math.max(...keras.after[i]))).length;
console.log(`\n${keras.strategy}, ${keras.replicas} replica(s), global batch ${keras.global_batch}, ${opt.steps} steps; TensorFlow ${keras.versions.tensorflow}, Keras ${keras.versions.keras}`);
console.log(`test rows ${start}..${end - 1} (${test.length} slices of ${opt.test})`);
console.log(`decoded pixels, SDK vs TensorFlow: max |diff| ${pixelDiff.toFixed(4)} (0..255), ${pixelsDiffering} of ${sdkPixels.length} differ`);
console.log(`before training (SDK file in Keras)  SDK vs Keras: ${fmt(compare(sdkBefore, keras.before))}`);
console.log(`after training (Keras file in SDK)   SDK vs Keras: ${fmt(compare(sdkAfter, keras.after))}; same stage on ${agree}/${test.length}`);
console.log(`after training, on Keras' own pixels SDK vs Keras: ${fmt(compare(sdkOnKerasPixels, keras.after))}`);
console.log(`row ${keras.rows[0]}: SDK ${sdkAfter[0].map((p) => p.toFixed(6)).join(' ')} | Keras ${keras.after[0].map((p) => p.toFixed(6)).join(' ')}`);
back.dispose();
