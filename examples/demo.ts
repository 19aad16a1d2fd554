/**
 * The one-command demo: `npm run demo` (after `npm ci`).
 *
 * Loads the trained NeuroStageNet shipped in models/neurostagenet/ on the fastest installed backend, classifies
 * the bundled sample (examples/data/sample.parquet: four people, one per stage, 32 axial slices each), prints one
 * stage per person (the mean of their slices' probabilities), writes an evaluation report (metrics.json,
 * report.txt, confusion matrix, ROC curves, reliability diagram) and labelled LayerCAM overlays (a middle slice of
 * each person: true and predicted stage, colour scale, flat maps marked) to ./demo-output, and prints where and how long it took.
 *
 *   npm run demo -- [--backend tensorflow|wasm|cpu] [--out demo-output] [--images 128] [--gradcam 4] [--model dir]
 *
 * On the cpu backend (plain JavaScript, ~10x slower than wasm) the demo classifies 32 of the 128 images unless
 * --images says otherwise, to stay around a minute.
 *
 * The sample's four people are part of the training file, so its figures are not a test score: see models/README.md
 * for the model's figures on people it never saw. Research software, not a diagnosis.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import {
  ALZHEIMER_CLASS_NAMES,
  ALZHEIMER_SEVERITY_ORDER,
  GradCAM,
  MultiClassMetrics,
  ParquetImageDataset,
  PretrainedModelNotFoundError,
  aggregateByGroup,
  applyTemperature,
  buildNeuroStageNet,
  checkInputs,
  evaluate,
  loadPretrainedNeuroStageNet,
  selectBackend,
  type PretrainedNeuroStageNet,
} from 'neurostagenet';
import { headFootprints, selectRows, sliceLevelWarning } from 'neurostagenet/data';
import { renderExplanationPng, writeEvaluationReport } from 'neurostagenet/node';

const SAMPLE = join(dirname(fileURLToPath(import.meta.url)), 'data', 'sample.parquet');

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string' },
    out: { type: 'string', default: 'demo-output' },
    images: { type: 'string' },
    gradcam: { type: 'string', default: '4' },
    model: { type: 'string' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h' },
  },
});

async function main(): Promise<void> {
  if (args.help) {
    console.log('Usage: npm run demo -- [--backend tensorflow|wasm|cpu] [--out demo-output] [--images 128] [--gradcam 4] [--model dir]');
    return;
  }
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  const out = resolve(args.out as string);
  const camCount = Number(args.gradcam);
  if ((args.images !== undefined && !(Number.isInteger(Number(args.images)) && Number(args.images) >= 1)) || !Number.isInteger(camCount) || camCount < 0) {
    throw new Error('--images must be a positive integer and --gradcam a non-negative integer');
  }

  // 1. Backend: tfjs-node when installed, else wasm, else plain JavaScript (cpu).
  tf.env().set('PROD', true); // no "install tfjs-node" banner
  const backend = await selectBackend(args.backend ? args.backend.split(',') : undefined);
  const imageCount = args.images !== undefined ? Number(args.images) : backend === 'cpu' ? 32 : 128;
  console.log(`backend: ${backend}${backend === 'cpu' && args.images === undefined ? ' (slow: classifying 32 of the 128 images; --images 128 for all)' : ''}`);

  // 2. Model: the shipped one (or --model), else an untrained network so the pipeline still runs end to end.
  let net: PretrainedNeuroStageNet;
  let trained = true;
  try {
    net = await loadPretrainedNeuroStageNet({ location: args.model });
    console.log(`model: ${net.location}`);
  } catch (e) {
    if (!(e instanceof PretrainedModelNotFoundError)) throw e;
    trained = false;
    const bar = '!'.repeat(100);
    console.log(`${bar}\n!! ${e.message}\n!! no trained model shipped: using randomly initialised weights — predictions are meaningless\n${bar}`);
    const model = await buildNeuroStageNet({ seed: Number(args.seed) });
    net = {
      model,
      classNames: [...ALZHEIMER_CLASS_NAMES],
      ordinalOrder: [...ALZHEIMER_SEVERITY_ORDER],
      temperature: 1,
      imageSize: [128, 128],
      metadata: {},
      location: `untrained NeuroStageNet (seed ${args.seed})`,
    };
  }

  // 3. Data: the bundled sample, decoded at the model's input size. With --images < 128, rows of each class in turn,
  //    middle slices first (the ends of a scan hold little brain), so every person is present.
  const ds = await ParquetImageDataset.fromFile(SAMPLE, { targetSize: net.imageSize });
  const slices = ds.slices;
  const middle = slices ? (Math.min(...slices) + Math.max(...slices)) / 2 : 0;
  const centrality = (i: number) => (slices ? Math.abs(slices[i] - middle) : 0);
  const perClass = net.classNames.map((_, c) =>
    Array.from(ds.labels.keys()).filter((i) => ds.labels[i] === c).sort((a, b) => centrality(a) - centrality(b) || a - b));
  const rows: number[] = [];
  for (let k = 0; rows.length < Math.min(imageCount, ds.length); k++) {
    for (const list of perClass) if (k < list.length && rows.length < imageCount) rows.push(list[k]);
  }
  rows.sort((a, b) => a - b);

  // 4. Classification and the evaluation report (calibrated figures too when the model carries a temperature).
  const metricOptions = { numClasses: net.classNames.length, classNames: net.classNames, ordinalOrder: net.ordinalOrder };
  // evaluate() runs the model's input check first: a refused slice gets no stage and is in no figure.
  const result = await evaluate(net.model, ds, { indices: rows, ...metricOptions });
  for (const r of result.refused) console.log(`  row ${r.row}: refused, no stage (${r.reason})`);
  const k = result.numClasses;
  const classified = result.indices.length;
  const logitRows = Array.from({ length: classified }, (_, i) => result.logits.subarray(i * k, (i + 1) * k));
  // Per-image probabilities are the calibrated ones (softmax(logits / T)); T = 1 gives the model's own.
  const probabilityRows = applyTemperature(logitRows, net.temperature);
  const calibrated = net.temperature === 1
    ? undefined
    : new MultiClassMetrics(metricOptions).update(result.labels, probabilityRows).compute();
  const title = trained ? 'NeuroStageNet on the bundled sample' : 'UNTRAINED NeuroStageNet on the bundled sample';
  const files = await writeEvaluationReport(result.metrics, out, { calibrated, temperature: calibrated ? net.temperature : undefined, title });
  const csv = ['row,label,predicted,' + net.classNames.map((c) => `p_${c}`).join(',')];
  for (let i = 0; i < classified; i++) {
    const p = probabilityRows[i];
    const predicted = p.indexOf(Math.max(...p));
    csv.push(`${result.indices[i]},${net.classNames[result.labels[i]]},${net.classNames[predicted]},${Array.from(p, (v) => v.toFixed(5)).join(',')}`);
  }
  await writeFile(join(out, 'predictions.csv'), `${csv.join('\n')}\n`);
  const auc = result.metrics.macro.auc;
  console.log(`classified ${classified} of ${rows.length} images (input check: ${result.inputCheck}, ${result.refused.length} refused): accuracy ${result.metrics.accuracy.toFixed(3)}, macro AUC ${auc === undefined ? 'n/a' : auc.toFixed(3)}, ` +
    `quadratic kappa ${result.metrics.quadraticKappa.toFixed(3)} (${seconds()} s)`);
  // One stage per person: the mean of their slices' (calibrated) probabilities, as evaluate() scores people.
  if (ds.subjects) {
    const subjects = ds.subjects;
    const people = aggregateByGroup(probabilityRows.flat(), result.labels, Array.from(result.indices, (i) => subjects[i]), k);
    console.log('per person (mean of the slice probabilities):');
    people.groups.forEach((person, g) => {
      const p = Array.from(people.probabilities.subarray(g * k, (g + 1) * k));
      const predicted = p.indexOf(Math.max(...p));
      console.log(`  ${String(person).padEnd(12)} ${String(people.sizes[g]).padStart(2)} slices  true ${net.classNames[people.labels[g]].padEnd(19)} ` +
        `predicted ${net.classNames[predicted].padEnd(19)} p=${p[predicted].toFixed(3)}`);
    });
  }
  // The slice levels of the images against those the model was trained on (recorded in its metadata).
  if (net.trainingFootprint) {
    const footprints = await headFootprints(selectRows(ds, rows));
    const warning = sliceLevelWarning(footprints, net.trainingFootprint);
    console.log(warning ? `slice levels: ${warning}` : `slice levels: all ${rows.length} images lie within the model's training levels`);
  }

  // 4b. What the model was not made for: its input check refuses such images instead of giving them a stage.
  if (net.inputCheck) {
    const [h, w] = net.imageSize;
    const slice = ds.get(rows[0]).image;
    const wrong: Array<[string, Float32Array]> = [
      ['an all-black image', new Float32Array(h * w)],
      ['a slice scaled 0..1', slice.map((v) => v / 255)],
      ['a slice inverted', slice.map((v) => 255 - v)],
    ];
    const x = tf.tensor4d(Float32Array.from(wrong.flatMap(([, im]) => Array.from(im))), [wrong.length, h, w, 1]);
    const verdicts = await checkInputs(net, x);
    x.dispose();
    console.log('input check on images the model was not made for:');
    verdicts.forEach((v, j) => console.log(`  ${wrong[j][0].padEnd(20)} ${v.accepted ? 'accepted' : `refused: ${v.reason}`}`));
  } else console.log('input check: this model has none (its metadata holds no inputCheck): every image gets a stage, even a black one');

  // 5. Explanations (LayerCAM by default): a middle slice of each stage's person, labelled "input | overlay | heatmap"
  //    PNGs of the predicted class (true and predicted stage, colour scale; flat maps marked, as the CLI does).
  const accepted = new Set(result.indices);
  const camRows = perClass.map((list) => list.find((i) => accepted.has(i))).filter((i): i is number => i !== undefined).slice(0, camCount);
  if (camRows.length > 0) {
    const [h, w] = net.imageSize;
    const examples = camRows.map((i) => ds.get(i));
    const pixels = new Float32Array(camRows.length * h * w);
    examples.forEach((e, j) => pixels.set(e.image, j * h * w));
    const x = tf.tensor4d(pixels, [camRows.length, h, w, 1]);
    const cam = new GradCAM(net.model);
    const explanations = await cam.explain(x);
    x.dispose();
    const camDir = join(out, 'gradcam');
    await mkdir(camDir, { recursive: true });
    console.log(`${cam.method} (layer '${cam.layerName}'):`);
    for (let j = 0; j < camRows.length; j++) {
      const e = explanations[j];
      const calibrated = applyTemperature([e.logits], net.temperature)[0];
      const png = await renderExplanationPng(examples[j].image, e, {
        classNames: net.classNames,
        trueClass: examples[j].label,
        probabilities: calibrated,
        caption: `${cam.method} · ${cam.layerName}`,
      });
      const file = join(camDir, `row${camRows[j]}_${net.classNames[examples[j].label]}.png`);
      await writeFile(file, png);
      const flag = e.status === 'ok' ? '' : ` [map ${e.status}]`;
      console.log(`  row ${String(camRows[j]).padEnd(4)} true ${net.classNames[examples[j].label].padEnd(19)} predicted ${net.classNames[e.predictedClass].padEnd(19)} ` +
        `p=${calibrated[e.predictedClass].toFixed(3)}  ${file}${flag}`);
    }
  }

  console.log(`\nwrote ${out}:\n  ${[files.metricsJson, files.reportTxt, files.confusionMatrixPng, files.rocCurvesPng, files.reliabilityDiagramPng, join(out, 'predictions.csv')]
    .map((f) => f.slice(out.length + 1)).join(', ')}${camRows.length ? `, gradcam/ (${camRows.length} PNGs)` : ''}`);
  if (!trained) console.log('reminder: the weights were random — these figures only show that the pipeline runs.');
  else {
    // The sample's slices were trained on: its figures show memorisation, not what to expect on new people.
    const held = (net.metadata.test ?? {}) as { accuracy?: number; macroAuc?: number; count?: number; people?: number; personAccuracy?: number };
    const perPerson = typeof held.personAccuracy === 'number' ? `; per person ${held.personAccuracy.toFixed(3)} over ${held.people ?? 'the'} people` : '';
    const figures = typeof held.accuracy === 'number' && typeof held.macroAuc === 'number'
      ? `: accuracy ${held.accuracy.toFixed(3)}, macro AUC ${held.macroAuc.toFixed(3)} on ${held.count ?? 'the'} test slices of people it never saw${perPerson}`
      : '';
    console.log(`note: the sample's people are part of the training file, so these figures are not a test score; held-out figures are in models/README.md${figures}.`);
  }
  console.log(`wall time ${seconds()} s on ${backend}`);
}

main().catch((e: unknown) => {
  console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  if (process.env.DEBUG && e instanceof Error) console.error(e.stack);
  process.exit(1);
});
