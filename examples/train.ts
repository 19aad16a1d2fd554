/**
 * The seed's whole run with neurostagenet: data summary and leakage check, stratified 80/20 split (seed 42),
 * augmentation, NeuroStageNet, training with early stopping on val AUC (best weights restored), LR on plateau
 * and a best-model checkpoint, evaluation on the test file, temperature calibration, report.
 *
 *   npx tsx examples/train.ts [train.parquet] [test.parquet] [options]
 *
 * Defaults: train = examples/data/sample.parquet (the bundled sample); test = ../shared/data/alzheimer-mri/test.parquet
 * when present, else the sample. Run with --help for the options. Outputs go to --out (default ./train-output):
 * best-model/ (checkpoint), model/ (final, = best after restoring), history.json, summary.txt, report/
 * (metrics.json, report.txt, confusion matrix, ROC curves, reliability diagram), run.json.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  MultiClassMetrics,
  ParquetImageDataset,
  StratifiedSplit,
  applyTemperature,
  buildNeuroStageNet,
  countParams,
  earlyStopping,
  evaluate,
  fitTemperature,
  formatDatasetSummary,
  formatEvaluationReport,
  learningRateScheduler,
  modelCheckpoint,
  reduceLROnPlateau,
  saveModel,
  selectBackend,
  summarizeDataset,
  trainNeuroStageNet,
  warmupCosineSchedule,
  writeEvaluationReport,
} from '../src/index.js';
import type * as tfl from '@tensorflow/tfjs-layers';

const here = dirname(fileURLToPath(import.meta.url));
const SAMPLE = join(here, 'data', 'sample.parquet');
const SHARED_TEST = resolve(here, '..', '..', 'shared', 'data', 'alzheimer-mri', 'test.parquet');
// The dataset's labels are 0 Mild, 1 Moderate, 2 Non, 3 Very Mild: severity order for the ordinal figures.
const SEVERITY_ORDER = [2, 3, 0, 1];

const HELP = `Usage: npx tsx examples/train.ts [train.parquet] [test.parquet] [options]

Trains NeuroStageNet with the seed's recipe and writes a test-set report.

Data
  train.parquet               default: examples/data/sample.parquet (bundled sample)
  test.parquet                default: ../shared/data/alzheimer-mri/test.parquet if present, else the sample
  --image-size N              decode and train at N x N (default 128)
  --max-train N               use at most N training rows after the split (quick runs)
  --val-fraction F            validation share of the stratified split (default 0.2)
  --seed N                    split, shuffle, augmentation and dropout seed (default 42)
  --no-augment                no training augmentation

Recipe (defaults = the seed's)
  --epochs N                  upper bound on epochs (default 30; early stopping usually ends sooner)
  --batch-size N              default 32
  --lr X                      Adam learning rate (default 5e-4)
  --label-smoothing X         default 0.15
  --patience N                early-stopping patience in epochs (default 5)
  --backbone-weights FILE     Keras efficientnetb0_notop.h5: fine-tune from ImageNet (layers < 150 frozen)
  --recipe seed|scratch       'scratch' = the from-scratch recipe: --all-trainable, --warmup-epochs 2,
                              --cosine, --class-weight balanced, --lr 1e-3 (each can still be overridden)
  --all-trainable             train every backbone layer (default when no backbone weights are given)
  --warmup-epochs N           linear warm-up before a cosine decay (per step; replaces LR-on-plateau)
  --cosine                    cosine decay to lr/100 over --epochs (replaces LR-on-plateau)
  --class-weight none|balanced|balanced-sqrt
                              weight the loss by n / (K * count[class]) (or its square root)

Run
  --backend NAME              tensorflow | wasm | cpu ... (default: the fastest installed)
  --out DIR                   output directory (default ./train-output)
  --progress auto|bar|lines|none   (default auto)
  -h, --help                  this text
`;

/** Parsed command line. */
interface RunOptions {
  trainPath: string;
  testPath: string;
  imageSize: number;
  maxTrain?: number;
  valFraction: number;
  seed: number;
  augment: boolean;
  epochs: number;
  batchSize: number;
  lr: number;
  labelSmoothing: number;
  patience: number;
  backboneWeights?: string;
  allTrainable: boolean;
  warmupEpochs: number;
  cosine: boolean;
  classWeight?: 'balanced' | 'balanced-sqrt';
  backend?: string;
  out: string;
  progress: 'auto' | 'bar' | 'lines' | 'none';
  recipe: 'seed' | 'scratch';
}

function parse(argv: string[]): RunOptions | null {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'image-size': { type: 'string' },
      'max-train': { type: 'string' },
      'val-fraction': { type: 'string' },
      seed: { type: 'string' },
      'no-augment': { type: 'boolean' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      'label-smoothing': { type: 'string' },
      patience: { type: 'string' },
      'backbone-weights': { type: 'string' },
      recipe: { type: 'string' },
      'all-trainable': { type: 'boolean' },
      'warmup-epochs': { type: 'string' },
      cosine: { type: 'boolean' },
      'class-weight': { type: 'string' },
      backend: { type: 'string' },
      out: { type: 'string' },
      progress: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const num = (name: string, fallback: number, integer = false): number => {
    const raw = values[name as keyof typeof values];
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) throw new UsageError(`--${name} expects a${integer ? 'n integer' : ' number'}, got '${raw}'`);
    return v;
  };
  const recipe = (values.recipe ?? 'seed') as RunOptions['recipe'];
  if (recipe !== 'seed' && recipe !== 'scratch') throw new UsageError(`--recipe must be 'seed' or 'scratch', got '${values.recipe}'`);
  const scratch = recipe === 'scratch';
  const classWeightFlag = values['class-weight'];
  if (classWeightFlag !== undefined && !['none', 'balanced', 'balanced-sqrt'].includes(classWeightFlag)) {
    throw new UsageError(`--class-weight must be none, balanced or balanced-sqrt, got '${classWeightFlag}'`);
  }
  const progress = (values.progress ?? 'auto') as RunOptions['progress'];
  if (!['auto', 'bar', 'lines', 'none'].includes(progress)) throw new UsageError(`--progress must be auto, bar, lines or none`);
  if (positionals.length > 2) throw new UsageError(`expected at most two Parquet files, got ${positionals.length}`);
  const trainPath = positionals[0] ?? SAMPLE;
  const testPath = positionals[1] ?? (existsSync(SHARED_TEST) ? SHARED_TEST : SAMPLE);
  for (const p of [trainPath, testPath]) if (!existsSync(p)) throw new UsageError(`no such file: ${p}`);
  return {
    trainPath,
    testPath,
    imageSize: num('image-size', 128, true),
    maxTrain: values['max-train'] === undefined ? undefined : num('max-train', 0, true),
    valFraction: num('val-fraction', 0.2),
    seed: num('seed', 42, true),
    augment: !values['no-augment'],
    epochs: num('epochs', 30, true),
    batchSize: num('batch-size', 32, true),
    lr: num('lr', scratch ? 1e-3 : 5e-4),
    labelSmoothing: num('label-smoothing', 0.15),
    patience: num('patience', 5, true),
    backboneWeights: values['backbone-weights'],
    allTrainable: values['all-trainable'] ?? scratch,
    warmupEpochs: num('warmup-epochs', scratch ? 2 : 0),
    cosine: values.cosine ?? scratch,
    classWeight:
      classWeightFlag === 'none' ? undefined : ((classWeightFlag as 'balanced' | 'balanced-sqrt' | undefined) ?? (scratch ? 'balanced' : undefined)),
    backend: values.backend,
    out: resolve(values.out ?? 'train-output'),
    progress,
    recipe,
  };
}

/** A command-line mistake: printed as one line, exit code 2. */
class UsageError extends Error {}

/** What {@link main} returns (used by the end-to-end test). */
export interface RunSummary {
  backend: string;
  epochs: number;
  secondsPerEpoch: number[];
  bestValAuc: number | undefined;
  test: { accuracy: number; macroAuc: number | undefined; kappa: number; eceBefore: number; eceAfter: number; temperature: number };
  out: string;
}

/**
 * Runs the whole pipeline.
 * @param argv Command-line arguments (without `node` and the script).
 * @returns Figures of the run, or null after printing --help.
 */
export async function main(argv: string[]): Promise<RunSummary | null> {
  const o = parse(argv);
  if (!o) {
    console.log(HELP);
    return null;
  }
  const started = performance.now();
  const backend = await selectBackend(o.backend);
  console.log(`backend: ${backend}`);
  await mkdir(o.out, { recursive: true });

  // 1. Data: summary and leakage check (near-duplicate slices of the test file inside the training file).
  const targetSize = [o.imageSize, o.imageSize] as const;
  const train = await ParquetImageDataset.fromFile(o.trainPath, { targetSize });
  const test = o.testPath === o.trainPath ? train : await ParquetImageDataset.fromFile(o.testPath, { targetSize });
  const summary = formatDatasetSummary(await summarizeDataset(train, { compareWith: test }));
  console.log(summary);
  await writeFile(join(o.out, 'summary.txt'), `${summary}\n`);
  if (o.testPath === o.trainPath) console.log('note: test file = training file (sample only): test figures are not a generalisation estimate');

  // 2. Stratified split of the training file into train / validation.
  const split = new StratifiedSplit({ testSize: o.valFraction, seed: o.seed }).split(train.labels);
  const trainRows = o.maxTrain ? split.train.subarray(0, o.maxTrain) : split.train;
  console.log(`split (seed ${o.seed}): ${trainRows.length} train / ${split.test.length} validation rows`);

  // 3. Model. Without ImageNet weights the backbone trains from scratch (all layers trainable).
  const model = await buildNeuroStageNet({
    inputShape: [o.imageSize, o.imageSize, 1],
    numClasses: train.classNames.length,
    backboneWeights: o.backboneWeights ?? null,
    fineTuneAt: o.allTrainable ? null : undefined,
    seed: o.seed,
  });
  const params = countParams(model);
  console.log(`NeuroStageNet: ${JSON.stringify(params)}; recipe: ${o.recipe}`);

  // 4. Training with the seed's three callbacks (the LR schedule replaces LR-on-plateau when asked for).
  const callbacks: tfl.Callback[] = [
    earlyStopping({ monitor: 'val_auc', mode: 'max', patience: o.patience, restoreBestWeights: true, verbose: true }),
    modelCheckpoint({ dir: join(o.out, 'best-model'), monitor: 'val_auc', saveBestOnly: true }),
  ];
  if (o.cosine || o.warmupEpochs > 0) {
    const schedule = warmupCosineSchedule({
      peakLr: o.lr,
      warmupEpochs: Math.min(o.warmupEpochs, o.epochs),
      totalEpochs: o.cosine ? o.epochs : Number.MAX_SAFE_INTEGER,
      initialLr: o.warmupEpochs > 0 ? o.lr / 10 : o.lr,
      minLr: o.lr / 100,
    });
    callbacks.push(learningRateScheduler(schedule, { perStep: true }));
  } else {
    callbacks.push(reduceLROnPlateau({ monitor: 'val_loss', factor: 0.5, patience: 2, minLr: 1e-6, verbose: true }));
  }
  const result = await trainNeuroStageNet(model, {
    train: { source: train, indices: trainRows },
    validation: { source: train, indices: split.test },
    epochs: o.epochs,
    batchSize: o.batchSize,
    learningRate: o.lr,
    labelSmoothing: o.labelSmoothing,
    augment: o.augment,
    classWeight: o.classWeight,
    seed: o.seed,
    callbacks,
    progress: o.progress,
  });
  await writeFile(join(o.out, 'history.json'), JSON.stringify(result, null, 2));
  const valAucs = result.history.val_auc.filter((v) => Number.isFinite(v));
  const bestValAuc = valAucs.length ? Math.max(...valAucs) : undefined;
  console.log(`trained ${result.epochs.length} epochs in ${result.seconds.toFixed(0)} s; best val_auc ${bestValAuc?.toFixed(4)}`);

  // 5. Calibration: one temperature fitted on the validation logits (never on the test set).
  const validation = await evaluate(model, train, { indices: split.test, batchSize: o.batchSize });
  const fit = fitTemperature(validation.logits, validation.labels, { numClasses: validation.numClasses });
  console.log(`temperature ${fit.temperature.toFixed(3)} (validation NLL ${fit.nllBefore.toFixed(4)} -> ${fit.nllAfter.toFixed(4)})`);

  // 6. Test-set evaluation, before and after calibration, and the report.
  const classNames = test.classNames;
  const evaluated = await evaluate(model, test, { batchSize: o.batchSize, classNames, ordinalOrder: SEVERITY_ORDER });
  const k = evaluated.numClasses;
  const rows = Array.from({ length: evaluated.labels.length }, (_, i) => evaluated.logits.subarray(i * k, (i + 1) * k));
  const calibrated = new MultiClassMetrics({ numClasses: k, classNames, ordinalOrder: SEVERITY_ORDER })
    .update(evaluated.labels, applyTemperature(rows, fit.temperature))
    .compute();
  const title = `NeuroStageNet on ${basename(o.testPath)}`; // short: the plots put it above each figure
  const files = await writeEvaluationReport(evaluated.metrics, join(o.out, 'report'), { calibrated, temperature: fit, title });
  console.log(formatEvaluationReport(evaluated.metrics, { calibrated, temperature: fit, title: `${title} (${o.recipe} recipe, ${result.epochs.length} epochs, ${backend})` }));
  await saveModel(model, join(o.out, 'model'));

  const summaryOut: RunSummary = {
    backend,
    epochs: result.epochs.length,
    secondsPerEpoch: result.history.seconds,
    bestValAuc,
    test: {
      accuracy: evaluated.metrics.accuracy,
      macroAuc: evaluated.metrics.macro.auc,
      kappa: evaluated.metrics.quadraticKappa,
      eceBefore: evaluated.metrics.ece,
      eceAfter: calibrated.ece,
      temperature: fit.temperature,
    },
    out: o.out,
  };
  await writeFile(
    join(o.out, 'run.json'),
    JSON.stringify({ argv, options: o, params, wallSeconds: (performance.now() - started) / 1000, ...summaryOut, files }, null, 2),
  );
  console.log(`wrote ${o.out} (report: ${files.reportTxt}); wall time ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return summaryOut;
}

// Run when executed directly (not when imported by the end-to-end test).
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    if (e instanceof UsageError || (e instanceof Error && e.name === 'TypeError' && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`error: ${e.message}\n(run with --help for usage)`);
      process.exit(2);
    }
    console.error(e instanceof Error ? `error: ${e.name}: ${e.message}` : e);
    if (process.env.DEBUG) console.error(e);
    process.exit(1);
  });
}
