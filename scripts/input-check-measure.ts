/**
 * The input check, measured (issue 15; the refusal table of docs/evaluation.md):
 *
 *   npx tsx scripts/input-check-measure.ts [--model models/neurostagenet] [--backend tensorflow] [--write]
 *
 * Fits the check on the shipped model's own training people (the split its metadata records), sets the threshold on
 * its validation people, then reports the share accepted of the test file's slices and the share refused of each kind
 * of negative, for the appearance check and, for comparison, for an energy score on the model's logits
 * (`logsumexp`, threshold at the same validation quantile). `--write` stores the check in the model's metadata.json.
 * The volume slices come from `python3 test/fixtures/input-check/make_negatives.py runs/negatives/volume-slices-128`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { ParquetImageDataset } from '../src/data/dataset.js';
import { fitInputCheck, inputVerdict, serializeInputCheck } from '../src/data/input-check.js';
import { loadPretrainedNeuroStageNet } from '../src/models/pretrained.js';
import { selectBackend } from '../src/backends/select-backend.js';
import { splitTrainingRows } from '../src/train/pipeline.js';
import { plotNegatives, syntheticNegatives, transformedSlices, volumeNegatives, type NegativeKind } from './input-check-negatives.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/neurostagenet' },
    backend: { type: 'string', default: 'tensorflow' },
    data: { type: 'string', default: '../shared/data/alzheimer-mri-subjects' },
    volumes: { type: 'string', default: 'runs/negatives/volume-slices-128' },
    write: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

async function logsumexp(model: Awaited<ReturnType<typeof loadPretrainedNeuroStageNet>>['model'], images: Float32Array[], size: [number, number]): Promise<Float32Array> {
  const { logitsAndProbabilitiesModel } = await import('../src/train/inference.js');
  const two = logitsAndProbabilitiesModel(model);
  const out = new Float32Array(images.length);
  for (let s = 0; s < images.length; s += 64) {
    const chunk = images.slice(s, s + 64);
    const values = tf.tidy(() => {
      const x = tf.tensor4d(Float32Array.from(chunk.flatMap((c) => Array.from(c))), [chunk.length, size[0], size[1], 1]);
      const logits = two ? (two.predict(x) as tf.Tensor[])[0] : tf.log(model.predict(x) as tf.Tensor);
      return tf.logSumExp(logits, -1);
    });
    out.set(await values.data(), s);
    values.dispose();
  }
  return out;
}

async function main(): Promise<void> {
  tf.env().set('PROD', true);
  await selectBackend([args.backend as string]);
  const net = await loadPretrainedNeuroStageNet({ location: resolve(args.model as string) });
  const size = net.imageSize;
  const recipe = (net.metadata.training as { split?: { seed?: number; valFraction?: number } } | undefined)?.split ?? {};
  const train = await ParquetImageDataset.fromFile(join(args.data as string, 'train.parquet'), { targetSize: size });
  const test = await ParquetImageDataset.fromFile(join(args.data as string, 'test.parquet'), { targetSize: size });
  const rows = await splitTrainingRows(train, { split: 'subjects', seed: recipe.seed ?? 42, valFraction: recipe.valFraction ?? 0.2 });
  console.log(rows.description);
  const t0 = performance.now();
  const check = await fitInputCheck(train, rows);
  console.log(`fitted in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${check.variances.length} axes on a ${check.grid.join('x')} grid, ` +
    `threshold ${check.threshold.toFixed(3)} (${check.fittedOn.thresholdImages} validation slices, accepted ${(100 * check.fittedOn.acceptedShare).toFixed(1)}%)`);

  const all = (source: ParquetImageDataset, idx?: ArrayLike<number>) => Promise.all(Array.from(idx ?? source.labels.keys(), async (i) => (await source.get(i)).image));
  const validationImages = await all(train, rows.validation);
  const testImages = await all(test);
  const kinds: NegativeKind[] = [
    ...syntheticNegatives(size, 50),
    await plotNegatives('models/neurostagenet/report', size),
    ...(await transformedSlices(test, Array.from({ length: 200 }, (_, i) => Math.floor((i * test.length) / 200)))),
    ...(existsSync(`${args.volumes}.json`) ? await volumeNegatives(args.volumes as string, size) : []),
  ];
  // The energy score's threshold: the same validation quantile (0.5% lowest logsumexp refused).
  const validationEnergy = Array.from(await logsumexp(net.model, validationImages, size)).sort((a, b) => a - b);
  const energyThreshold = validationEnergy[Math.floor(0.005 * (validationEnergy.length - 1))];
  const rowsOut: Array<{ kind: string; count: number; refused: number; energyRefused: number; example?: string }> = [];
  const measure = async (kind: string, images: Float32Array[], positive: boolean) => {
    const verdicts = images.map((im) => inputVerdict(check, im, size[0], size[1]));
    const energy = await logsumexp(net.model, images, size);
    const refused = verdicts.filter((v) => !v.accepted).length;
    const energyRefused = Array.from(energy).filter((e) => e < energyThreshold).length;
    rowsOut.push({ kind, count: images.length, refused, energyRefused, example: verdicts.find((v) => !v.accepted)?.reason });
    const share = (n: number) => `${(100 * (positive ? 1 - n / images.length : n / images.length)).toFixed(1)}%`;
    console.log(`${kind.padEnd(44)} ${String(images.length).padStart(5)}  ${positive ? 'accepted' : 'refused'} ${share(refused).padStart(6)}  energy ${share(energyRefused).padStart(6)}`);
  };
  await measure('validation people (threshold set here)', validationImages, true);
  await measure('test file (41 other people)', testImages, true);
  for (const k of kinds) await measure(k.kind, k.images, false);
  if (args.json) await writeFile(args.json as string, JSON.stringify({ check: { axes: check.variances.length, grid: check.grid, threshold: check.threshold, ranges: check.ranges, fittedOn: check.fittedOn }, energyThreshold, rows: rowsOut }, null, 1));
  if (args.write) {
    const path = join(args.model as string, 'metadata.json');
    const metadata = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    metadata.inputCheck = { ...serializeInputCheck(check), command: 'npx tsx scripts/input-check-measure.ts --write' };
    await writeFile(path, `${JSON.stringify(metadata, null, 2)}\n`);
    console.log(`wrote the input check to ${path}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
