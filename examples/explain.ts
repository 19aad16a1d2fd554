/**
 * Grad-CAM example: explains a few test images of the Alzheimer MRI Parquet file, writes
 * `input | overlay | heatmap` PNGs, and prints deletion / insertion AUCs against random pixel orders.
 *
 *   npx tsx examples/explain.ts [--model <dir with model.json>] [--keras-weights <neurostagenet .h5>]
 *       [--data ../shared/data/alzheimer-mri-subjects/test.parquet] [--out examples/out/explain] [--n 4]
 *       [--layer se_excite] [--method layercam|gradcam|gradcam++|hirescam] [--backend tensorflow|wasm|cpu] [--steps 16] [--bench]
 *
 * Without --model the example builds NeuroStageNet and loads the Keras reference's random weights
 * (../shared/golden/keras-neurostagenet-seed1/neurostagenet_random_seed1.h5) when present, or --keras-weights:
 * such maps show the mechanics, not medicine. Pass a trained model's directory for meaningful maps.
 * --bench only times `explain` (ms/image at batch 1 and 16) on the chosen backend and exits.
 * --backend defaults to the fastest installed (selectBackend).
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { GradCAM, ParquetImageDataset, buildNeuroStageNet, selectBackend, type CamMethod } from 'neurostagenet';
import { CAM_METHODS, DEFAULT_CAM_METHOD, compareWithRandom } from 'neurostagenet/explain';
import { loadKerasWeights, loadModel, renderExplanationPng } from 'neurostagenet/node';
import { writeFile } from 'node:fs/promises';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    'keras-weights': { type: 'string' },
    data: { type: 'string', default: path.resolve('..', 'shared', 'data', 'alzheimer-mri-subjects', 'test.parquet') },
    out: { type: 'string', default: path.join('examples', 'out', 'explain') },
    n: { type: 'string', default: '4' },
    layer: { type: 'string' },
    method: { type: 'string', default: DEFAULT_CAM_METHOD },
    backend: { type: 'string' },
    steps: { type: 'string', default: '16' },
    bench: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});

const USAGE = `Usage: npx tsx examples/explain.ts [--model <dir with model.json>] [--keras-weights <neurostagenet .h5>]
    [--data ../shared/data/alzheimer-mri-subjects/test.parquet] [--out examples/out/explain] [--n 4]
    [--layer se_excite] [--method layercam|gradcam|gradcam++|hirescam] [--backend tensorflow|wasm|cpu] [--steps 16] [--bench]`;

async function main(): Promise<void> {
  if (args.help) {
    console.log(USAGE);
    return;
  }
  console.log(`backend: ${await selectBackend(args.backend)}`);

  let model: tfl.LayersModel;
  if (args.model) {
    model = await loadModel(args.model);
    console.log(`model: ${args.model}`);
  } else {
    model = await buildNeuroStageNet();
    const golden = path.resolve('..', 'shared', 'golden', 'keras-neurostagenet-seed1', 'neurostagenet_random_seed1.h5');
    const weights = args['keras-weights'] ?? (existsSync(golden) ? golden : undefined);
    if (weights) await loadKerasWeights(model, weights);
    console.log(`model: NeuroStageNet built here (${weights ? `weights ${weights}` : 'untrained, seed 1'}) — maps show the mechanics only`);
  }
  if (args.bench) return bench(model);

  // Decode at the model's input size (the shipped model takes 64x64, a freshly built one 128x128).
  const [, inH, inW] = model.inputs[0].shape as number[];
  const ds = await ParquetImageDataset.fromFile(args.data as string, { targetSize: [inH, inW] });
  const [h, w] = ds.imageSize;
  // One image per class first (then the next of each class), so that every stage appears.
  const n = Math.min(Number(args.n), ds.length);
  const byClass = ds.classNames.map((_, c) => Array.from(ds.labels.keys()).filter((i) => ds.labels[i] === c));
  const rows: number[] = [];
  for (let k = 0; rows.length < n; k++) for (const list of byClass) if (k < list.length && rows.length < n) rows.push(list[k]);
  const examples = await Promise.all(rows.map((i) => ds.get(i)));
  const pixels = new Float32Array(rows.length * h * w);
  examples.forEach((e, i) => pixels.set(e.image, i * h * w));
  const x = tf.tensor4d(pixels, [rows.length, h, w, 1]);

  const cam = new GradCAM(model, { layerName: args.layer, method: args.method as CamMethod });
  console.log(`Grad-CAM method ${cam.method}, layer '${cam.layerName}' ${JSON.stringify(cam.featureShape)}, logits = ${cam.logitSource}`);
  const t0 = performance.now();
  const explanations = await cam.explain(x);
  console.log(`explain: ${((performance.now() - t0) / rows.length).toFixed(0)} ms/image (batch ${rows.length}, ${tf.getBackend()})`);
  x.dispose();

  await mkdir(args.out as string, { recursive: true });
  console.log('\nrow  label            predicted (p)           deletion AUC (random)  insertion AUC (random)  file');
  for (let i = 0; i < rows.length; i++) {
    const e = explanations[i];
    const gray = examples[i].image;
    const png = await renderExplanationPng(gray, e, { classNames: ds.classNames, trueClass: examples[i].label, caption: `${cam.method} · ${cam.layerName}` });
    const file = path.join(args.out as string, `explain_row${rows[i]}_${ds.classNames[examples[i].label]}.png`);
    await writeFile(file, png);
    const cmp = await compareWithRandom(model, gray, e.heatmap, e.classIndex, { steps: Number(args.steps), randomRepeats: 2, seed: 1 });
    console.log(
      `${String(rows[i]).padEnd(4)} ${ds.classNames[examples[i].label].padEnd(16)} ${`${ds.classNames[e.predictedClass]} (${e.probabilities[e.predictedClass].toFixed(2)})`.padEnd(23)} ` +
        `${cmp.deletion.auc.toFixed(3)} (${cmp.randomDeletionAuc.toFixed(3)})`.padEnd(23) +
        `${cmp.insertion.auc.toFixed(3)} (${cmp.randomInsertionAuc.toFixed(3)})`.padEnd(24) +
        `${file}${e.status === 'ok' ? '' : ` [map ${e.status}]`}`,
    );
  }
  console.log('\nDeletion: lower than random = faithful. Insertion: higher than random = faithful (class probability, blurred start).');
}

/** Times `explain` at batch 1 and 16 (after one warm-up call) on random 0..255 images. */
async function bench(model: tfl.LayersModel): Promise<void> {
  const [, h, w, c] = model.inputs[0].shape as number[];
  for (const method of CAM_METHODS) {
    const cam = new GradCAM(model, { layerName: args.layer, method });
    for (const batch of [1, 16]) {
      const x = tf.randomUniform([batch, h, w, c], 0, 255, 'float32', 1) as tf.Tensor4D;
      await cam.explain(x);
      const reps = batch === 1 ? 3 : 1;
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) await cam.explain(x);
      const ms = (performance.now() - t0) / (reps * batch);
      console.log(`${tf.getBackend()} ${method} layer ${cam.layerName}: batch ${batch}: ${ms.toFixed(0)} ms/image`);
      x.dispose();
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
