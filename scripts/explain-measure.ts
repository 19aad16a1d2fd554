/**
 * Measures how well the explanation maps point at the brain (issue 15, docs/explain.md): per method x target
 * layer, over the test file,
 *
 * - flat maps: share of maps with status other than 'ok', over all slices and over correctly classified ones;
 * - heat inside the head: mean over non-flat maps of `heatMassInside(heatmap, headMask(image))` (tissue =
 *   pixel > 15 on 0..255, filled per row from the first to the last tissue pixel, as `headFootprint`), and the
 *   share of non-flat maps with >= 90% of their mass inside;
 * - deletion (black baseline) and insertion (blurred start, σ 5 px) AUC of the class probability, `--steps`
 *   steps, against one random pixel order (seeded) and against a centred Gaussian map (σ = 0.25 · side):
 *   share of slices where the map beats each baseline (deletion: lower AUC; insertion: higher AUC).
 *
 * The explained class is the predicted one. Flat / heat figures use all rows (or --flat-n rows, seeded
 * subsample); the curves use --curve-n rows (seeded subsample, seed --seed), since each costs 2·(steps+1)
 * forward passes per map.
 *
 *   npx tsx scripts/explain-measure.ts --backend tensorflow \
 *     [--data ../shared/data/alzheimer-mri-subjects/test.parquet] [--methods gradcam,gradcam++,hirescam,layercam]
 *     [--layers se_excite,default,...] [--flat-n 0 (= all)] [--curve-n 96] [--steps 16] [--seed 1] [--json out.json]
 */
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { ParquetImageDataset, loadPretrainedNeuroStageNet, selectBackend } from '../src/index.js';
import {
  CAM_METHODS,
  GradCAM,
  defaultTargetLayer,
  deletionCurve,
  gaussianBaselineMap,
  headMask,
  heatMassInside,
  insertionCurve,
  randomSaliency,
  type CamMethod,
  type Explanation,
} from '../src/explain/index.js';
import { createRng, shuffleInPlace } from '../src/random.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string' },
    data: { type: 'string', default: path.resolve('..', 'shared', 'data', 'alzheimer-mri-subjects', 'test.parquet') },
    model: { type: 'string' },
    methods: { type: 'string', default: CAM_METHODS.join(',') },
    layers: { type: 'string', default: 'se_excite,default' },
    'flat-n': { type: 'string', default: '0' },
    'curve-n': { type: 'string', default: '96' },
    steps: { type: 'string', default: '16' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});

function subsample(n: number, k: number, seed: number): number[] {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  if (k <= 0 || k >= n) return Array.from(all);
  return Array.from(shuffleInPlace(all, createRng(seed)).subarray(0, k)).sort((a, b) => a - b);
}

interface Row {
  method: CamMethod;
  layer: string;
  featureShape: string;
  flatAll: number;
  flatCorrect: number;
  heatInside: number;
  heatInside90: number;
  delBeatsRandom: number;
  delBeatsGauss: number;
  insBeatsRandom: number;
  insBeatsGauss: number;
  meanDel: number;
  meanIns: number;
}

async function main(): Promise<void> {
  tf.env().set('PROD', true);
  const backend = await selectBackend(args.backend ? args.backend.split(',') : undefined);
  const net = await loadPretrainedNeuroStageNet({ location: args.model });
  const ds = await ParquetImageDataset.fromFile(args.data as string, { targetSize: net.imageSize });
  const [h, w] = net.imageSize;
  const seed = Number(args.seed);
  const steps = Number(args.steps);
  const flatRows = subsample(ds.length, Number(args['flat-n']), seed);
  const curveRows = subsample(ds.length, Number(args['curve-n']), seed + 1000);
  const methods = (args.methods as string).split(',') as CamMethod[];
  const layers = (args.layers as string).split(',').map((l) => (l === 'default' ? defaultTargetLayer(net.model) : l));
  console.log(`backend ${backend}, model ${net.location} (${h}x${w}), ${ds.length} rows in ${args.data}`);
  console.log(`flat/heat over ${flatRows.length} rows; curves over ${curveRows.length} rows (seed ${seed + 1000}), ${steps} steps; layers ${layers.join(', ')}`);
  const t0 = performance.now();

  const images = (rows: number[]) => rows.map((i) => ds.get(i).image);
  const masks = new Map<number, Uint8Array>();
  const maskOf = (i: number) => {
    let m = masks.get(i);
    if (!m) masks.set(i, (m = headMask(ds.get(i).image, w, h)));
    return m;
  };
  async function explainRows(cam: GradCAM, rows: number[]): Promise<Explanation[]> {
    const out: Explanation[] = [];
    for (let s = 0; s < rows.length; s += 32) {
      const chunk = rows.slice(s, s + 32);
      const px = new Float32Array(chunk.length * h * w);
      images(chunk).forEach((im, j) => px.set(im, j * h * w));
      const x = tf.tensor4d(px, [chunk.length, h, w, 1]);
      try {
        out.push(...(await cam.explain(x)));
      } finally {
        x.dispose();
      }
    }
    return out;
  }

  // Baselines of the curves, once per row (they do not depend on the method or layer).
  const gauss = gaussianBaselineMap(w, h);
  const base = new Map<number, { cls: number; rDel: number; rIns: number; gDel: number; gIns: number }>();
  {
    const cam = new GradCAM(net.model, { layerName: layers[0] });
    const ex = await explainRows(cam, curveRows);
    for (let j = 0; j < curveRows.length; j++) {
      const i = curveRows[j];
      const img = ds.get(i).image;
      const cls = ex[j].predictedClass;
      const rnd = randomSaliency(h * w, seed + i);
      const opts = { steps, seed: seed + i };
      base.set(i, {
        cls,
        rDel: (await deletionCurve(net.model, img, rnd, cls, opts)).auc,
        rIns: (await insertionCurve(net.model, img, rnd, cls, opts)).auc,
        gDel: (await deletionCurve(net.model, img, gauss, cls, opts)).auc,
        gIns: (await insertionCurve(net.model, img, gauss, cls, opts)).auc,
      });
    }
    console.log(`baselines done (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }

  const table: Row[] = [];
  for (const layer of layers) {
    for (const method of methods) {
      const cam = new GradCAM(net.model, { layerName: layer, method });
      const ex = await explainRows(cam, flatRows);
      let flat = 0, correct = 0, flatCorrect = 0, heatSum = 0, heatN = 0, heat90 = 0;
      ex.forEach((e, j) => {
        const i = flatRows[j];
        const ok = e.predictedClass === ds.labels[i];
        if (ok) correct++;
        if (e.status !== 'ok') {
          flat++;
          if (ok) flatCorrect++;
          return;
        }
        const m = heatMassInside(e.heatmap, maskOf(i));
        heatSum += m;
        heatN++;
        if (m >= 0.9) heat90++;
      });
      const cex = await explainRows(cam, curveRows);
      let dR = 0, dG = 0, iR = 0, iG = 0, dSum = 0, iSum = 0;
      for (let j = 0; j < curveRows.length; j++) {
        const i = curveRows[j];
        const b = base.get(i)!;
        const img = ds.get(i).image;
        // A flat map is all zeros: its pixel order is random (ties broken with another seed than the baseline's).
        const opts = { steps, seed: seed + i + 7919 };
        const d = (await deletionCurve(net.model, img, cex[j].heatmap, b.cls, opts)).auc;
        const ins = (await insertionCurve(net.model, img, cex[j].heatmap, b.cls, opts)).auc;
        dSum += d;
        iSum += ins;
        if (d < b.rDel) dR++;
        if (d < b.gDel) dG++;
        if (ins > b.rIns) iR++;
        if (ins > b.gIns) iG++;
      }
      const n = curveRows.length;
      const row: Row = {
        method, layer, featureShape: cam.featureShape.join('x'),
        flatAll: flat / ex.length, flatCorrect: flatCorrect / correct,
        heatInside: heatSum / heatN, heatInside90: heat90 / heatN,
        delBeatsRandom: dR / n, delBeatsGauss: dG / n, insBeatsRandom: iR / n, insBeatsGauss: iG / n,
        meanDel: dSum / n, meanIns: iSum / n,
      };
      table.push(row);
      console.log(`${method} ${layer}: ${JSON.stringify(row)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
  }
  const mean = (k: 'rDel' | 'rIns' | 'gDel' | 'gIns') => [...base.values()].reduce((s, b) => s + b[k], 0) / base.size;
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  console.log(`\nmean AUC of the baselines: random deletion ${mean('rDel').toFixed(3)}, insertion ${mean('rIns').toFixed(3)}; Gaussian deletion ${mean('gDel').toFixed(3)}, insertion ${mean('gIns').toFixed(3)}`);
  console.log('\n| method | layer | map | flat (all) | flat (correct) | heat in head (mean) | maps ≥ 90% in head | deletion < random | deletion < Gaussian | insertion > random | insertion > Gaussian | mean deletion AUC | mean insertion AUC |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of table) {
    console.log(`| ${r.method} | ${r.layer} | ${r.featureShape} | ${pct(r.flatAll)} | ${pct(r.flatCorrect)} | ${pct(r.heatInside)} | ${pct(r.heatInside90)} | ${pct(r.delBeatsRandom)} | ${pct(r.delBeatsGauss)} | ${pct(r.insBeatsRandom)} | ${pct(r.insBeatsGauss)} | ${r.meanDel.toFixed(3)} | ${r.meanIns.toFixed(3)} |`);
  }
  if (args.json) await writeFile(args.json, JSON.stringify({ backend, rows: flatRows.length, curveRows: curveRows.length, steps, seed, baselines: { randomDeletion: mean('rDel'), randomInsertion: mean('rIns'), gaussianDeletion: mean('gDel'), gaussianInsertion: mean('gIns') }, table }, null, 2));
  console.log(`wall ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
