/**
 * The seed's whole run with neurostagenet: data summary and leakage check, stratified 80/20 split (seed 42),
 * augmentation, NeuroStageNet, training with early stopping on val AUC (best weights restored), LR on plateau
 * and a best-model checkpoint, evaluation on the test file, temperature calibration, report.
 *
 *   npx tsx examples/train.ts [train.parquet] [test.parquet] [options]
 *
 * Defaults: train = examples/data/sample.parquet (the bundled sample); test = ../shared/data/alzheimer-mri-subjects/test.parquet
 * when present, else the sample. Run with --help for the options. Outputs go to --out (default ./train-output):
 * best-model/ (checkpoint), model/ (final, = best after restoring), history.json, summary.txt, report/
 * (metrics.json, report.txt, confusion matrix, ROC curves, reliability diagram), run.json.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MultiClassMetrics, ParquetImageDataset, applyTemperature, buildNeuroStageNet, countParams, chooseTemperature, evaluate, formatEvaluationReport, selectBackend } from 'neurostagenet';
import { formatDatasetSummary, summarizeDataset } from 'neurostagenet/data';
import { recipeCallbacks, recipeTrainOptions, trainNeuroStageNet } from 'neurostagenet/train';
import { saveModel, writeEvaluationReport } from 'neurostagenet/node';
import { flattenTrainFlags, monitorFor, parseTrainFlags, splitTrainingRows, TRAIN_OPTIONS, TRAIN_OPTIONS_HELP, type TrainFlags } from '../src/cli/train-options.js';
import { UsageError } from '../src/cli/args.js';

const here = dirname(fileURLToPath(import.meta.url));
const SAMPLE = join(here, 'data', 'sample.parquet');
const SHARED_TEST = resolve(here, '..', '..', 'shared', 'data', 'alzheimer-mri-subjects', 'test.parquet');
// The dataset's labels are 0 Mild, 1 Moderate, 2 Non, 3 Very Mild: severity order for the ordinal figures.
const SEVERITY_ORDER = [2, 3, 0, 1];

const HELP = `Usage: npx tsx examples/train.ts [train.parquet] [test.parquet] [options]

Trains NeuroStageNet (the seed's recipe, or --recipe scratch) and writes a test-set report.

Files
  train.parquet               default: examples/data/sample.parquet (bundled sample)
  test.parquet                default: ../shared/data/alzheimer-mri-subjects/test.parquet if present, else the sample

${TRAIN_OPTIONS_HELP}

Run
  --backend NAME          tensorflow | wasm | cpu ... (default: the fastest installed)
  --out DIR               output directory (default ./train-output)
  --progress MODE         auto (bar on a terminal, a line per epoch otherwise) | bar | lines | none
  -h, --help              this text
`;

/** Parsed command line: the shared training flags plus the two files and the run's own options. */
interface RunOptions extends TrainFlags {
  trainPath: string;
  testPath: string;
  backend?: string;
  out: string;
}

function parse(argv: string[]): RunOptions | null {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...TRAIN_OPTIONS, backend: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return null;
  if (positionals.length > 2) throw new UsageError(`expected at most two Parquet files, got ${positionals.length}`);
  const trainPath = positionals[0] ?? SAMPLE;
  const testPath = positionals[1] ?? (existsSync(SHARED_TEST) ? SHARED_TEST : SAMPLE);
  for (const p of [trainPath, testPath]) if (!existsSync(p)) throw new UsageError(`no such file: ${p}`);
  return { ...parseTrainFlags(values), trainPath, testPath, backend: values.backend, out: resolve(values.out ?? 'train-output') };
}


/** What {@link main} returns (used by the end-to-end test). */
export interface RunSummary {
  backend: string;
  epochs: number;
  secondsPerEpoch: number[];
  bestValAuc: number | undefined;
  test: {
    accuracy: number;
    macroAuc: number | undefined;
    kappa: number;
    eceBefore: number;
    eceAfter: number;
    /** Served temperature: the fitted one when it lowered validation NLL and ECE, else 1. */
    temperature: number;
    personAccuracy?: number;
    personMacroAuc?: number;
  };
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
  const r = o.recipe;
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
  const split = await splitTrainingRows(train, o);
  const trainRows = split.train;
  console.log(split.description);

  // 3. Model. Without ImageNet weights the backbone trains from scratch (all layers trainable).
  const model = await buildNeuroStageNet({
    inputShape: [o.imageSize, o.imageSize, 1],
    numClasses: train.classNames.length,
    backboneWeights: o.backboneWeights ?? null,
    fineTuneAt: r.allTrainable ? null : undefined,
    seed: o.seed,
  });
  const params = countParams(model);
  console.log(`NeuroStageNet: ${JSON.stringify(params)}; recipe: ${r.name}`);

  // 4. Training with the recipe's callbacks: early stopping on val AUC (best weights restored), best-model
  //    checkpoint, and LR on plateau (seed) or warm-up + cosine (scratch).
  const callbacks = recipeCallbacks(r, { checkpointDir: join(o.out, 'best-model'), monitor: monitorFor(o, split) });
  const result = await trainNeuroStageNet(model, {
    train: { source: train, indices: trainRows },
    validation: { source: train, indices: split.validation },
    ...recipeTrainOptions(r),
    seed: o.seed,
    callbacks,
    progress: o.progress,
  });
  await writeFile(join(o.out, 'history.json'), JSON.stringify(result, null, 2));
  const valAucs = result.history.val_auc.filter((v) => Number.isFinite(v));
  const bestValAuc = valAucs.length ? Math.max(...valAucs) : undefined;
  console.log(`trained ${result.epochs.length} epochs in ${result.seconds.toFixed(0)} s; best val_auc ${bestValAuc?.toFixed(4)}`);

  // 5. Calibration: one temperature fitted on the validation logits (never on the test set), kept only where it
  //    lowers the validation NLL and ECE.
  const validation = await evaluate(model, train, { indices: split.validation, batchSize: r.batchSize, bootstrap: { resamples: 100 } });
  const calibration = chooseTemperature(validation.logits, validation.labels, { numClasses: validation.numClasses });
  const fit = calibration.fit;
  console.log(`temperature: ${calibration.reason}`);

  // 6. Test-set evaluation, before and after calibration, and the report.
  const classNames = test.classNames;
  const evaluated = await evaluate(model, test, { batchSize: r.batchSize, classNames, ordinalOrder: SEVERITY_ORDER });
  const k = evaluated.numClasses;
  const rows = Array.from({ length: evaluated.labels.length }, (_, i) => evaluated.logits.subarray(i * k, (i + 1) * k));
  const calibrated = new MultiClassMetrics({ numClasses: k, classNames, ordinalOrder: SEVERITY_ORDER })
    .update(evaluated.labels, applyTemperature(rows, fit.temperature))
    .compute();
  const title = `NeuroStageNet on ${basename(o.testPath)}`; // short: the plots put it above each figure
  const reportOptions = { calibrated, temperature: fit, title, figures: evaluated.figures, peopleSource: test.subjects ? "the test file's subject column" : undefined };
  const files = await writeEvaluationReport(evaluated.metrics, join(o.out, 'report'), reportOptions);
  console.log(formatEvaluationReport(evaluated.metrics, { ...reportOptions, title: `${title} (${r.name} recipe, ${result.epochs.length} epochs, ${backend})` }));
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
      temperature: calibration.served,
      personAccuracy: evaluated.figures.people?.headline.accuracy.value,
      personMacroAuc: evaluated.figures.people?.headline.macroAuc?.value,
    },
    out: o.out,
  };
  await writeFile(
    join(o.out, 'run.json'),
    JSON.stringify({ argv, options: { trainPath: o.trainPath, testPath: o.testPath, ...flattenTrainFlags(o, split), backend: o.backend, out: o.out, progress: o.progress }, params, wallSeconds: (performance.now() - started) / 1000, ...summaryOut, files }, null, 2),
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
