/**
 * Ships a trained NeuroStageNet: takes a training run of examples/train.ts (or `neurostagenet train`), picks float16 or
 * float32 weights, and runs the training pipeline on its best checkpoint (`runTrainingPipeline` with `trainedModel`:
 * the run's split re-created, the temperature fitted on its validation people and kept only where it helps them, the
 * test file evaluated once, the model written with metadata.json, the report); then checks the written directory and
 * writes the model card. This file is the command line and the orchestration: reading the run is
 * scripts/training-run.ts, the card (scripts/model-card.template.md filled with the run's facts) scripts/model-card.ts.
 *
 *   npx tsx scripts/ship-model.ts --run runs/scratch128b [--out models/neurostagenet] [--card models/README.md]
 *                                 [--backend tensorflow]
 *
 * Steps: load the run's best checkpoint; save float32 and float16 copies to a temporary directory and evaluate both
 * on the test file; keep float16 when its test accuracy is within 0.5 points of float32 (else float32, and the card
 * says so); check the size (<= 15 MB); run the pipeline on the kept weights; reload the written directory with
 * loadPretrainedNeuroStageNet and check that it predicts what was evaluated; write the card.
 *
 * The run's facts come from run.json / history.json (written by the pipeline when the run ends). For a run still in
 * progress, they come from flags (--val-fraction, --seed, --image-size, --train-command) and from the epoch lines of
 * the run's log (default: `<run>.log`).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ParquetImageDataset, evaluate, loadPretrainedNeuroStageNet, selectBackend, type EvaluationResult } from 'neurostagenet';
import { summarizeDataset, type DatasetSummary } from 'neurostagenet/data';
import { recordedValidation, runTrainingPipeline, trainingFlagsFromRunOptions, type DataFacts, type TrainingPipelineFacts } from 'neurostagenet/train';
import { loadModel, saveModel, writeEvaluationReport } from 'neurostagenet/node';
import { MODEL_CARD_TEMPLATE, f4, mb, pct, renderModelCard, type FileFacts, type ModelCardFacts } from './model-card.js';
import { UsageError, checkpointEpochIndex, currentEpochs, readRun, snapshotCheckpoint } from './training-run.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED_DATA = resolve(REPO, '..', 'shared', 'data', 'alzheimer-mri-subjects');
/** float16 is kept when its test accuracy is within this many percentage points of float32 (issue 7). */
const MAX_FP16_ACCURACY_DROP_POINTS = 0.5;
/** Size limit of the shipped model (model.json + weights.bin), in MB (10^6 bytes). */
const MAX_MODEL_MB = 15;

const HELP = `Usage: npx tsx scripts/ship-model.ts --run DIR [options]

Calibrates, quantizes (if harmless), evaluates and writes a run's best model with its model card.

  --run DIR              training run directory of examples/train.ts (best-model/, run.json, history.json)
  --out DIR              model directory to write (default models/neurostagenet)
  --card FILE            model card to write (default models/README.md)
  --report DIR           evaluation report directory (default <out>/report)
  --train FILE           training Parquet (default: run.json's, else ../shared/data/alzheimer-mri-subjects/train.parquet)
  --test FILE            test Parquet (default: run.json's, else ../shared/data/alzheimer-mri-subjects/test.parquet)
  --resamples N          bootstrap resamples of the intervals (default 2000)
  --bootstrap-seed N     bootstrap seed (default 0)
  --backend NAME         tensorflow | wasm | cpu (default: the fastest installed)
  --batch-size N         images per forward pass (default 32)
  --weights auto|float16|float32   auto = float16 if within ${MAX_FP16_ACCURACY_DROP_POINTS} accuracy points (default auto)
Only needed while run.json / history.json do not exist yet (run in progress):
  --log FILE             the run's log with its epoch lines (default <run>.log)
  --val-fraction F       validation share of the run's split (default 0.2)
  --seed N               the run's seed (default 42)
  --image-size N         the run's image size (default 128)
  --train-command ARGS   the arguments the run was started with (for the card's recipe and command)
  -h, --help             this text
`;

/** Numeric flags and their defaults. */
const NUMERIC_FLAGS = { 'batch-size': 32, 'val-fraction': 0.2, seed: 42, 'image-size': 128, resamples: 2000, 'bootstrap-seed': 0 } as const;
const STRING_FLAGS = ['run', 'out', 'card', 'report', 'train', 'test', 'backend', 'weights', 'log', 'train-command'] as const;

interface Cli {
  run: string;
  out: string;
  card: string;
  report: string;
  train?: string;
  test?: string;
  backend?: string;
  weights: 'auto' | 'float16' | 'float32';
  log?: string;
  trainCommand?: string;
  batchSize: number;
  valFraction: number;
  seed: number;
  imageSize: number;
  resamples: number;
  bootstrapSeed: number;
}

function parseCli(argv: string[]): Cli | null {
  const options = Object.fromEntries([...STRING_FLAGS, ...Object.keys(NUMERIC_FLAGS)].map((k) => [k, { type: 'string' as const }]));
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...options, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return null;
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const text = values as Record<string, string | undefined>;
  if (!text.run) throw new UsageError('missing --run DIR (a training run directory of examples/train.ts)');
  const run = resolve(text.run);
  if (!existsSync(join(run, 'best-model', 'model.json'))) throw new UsageError(`no best-model/model.json in ${run}`);
  const num = (name: keyof typeof NUMERIC_FLAGS): number => {
    const raw = text[name];
    const v = Number(raw ?? NUMERIC_FLAGS[name]);
    if (!Number.isFinite(v)) throw new UsageError(`--${name} expects a number, got '${raw}'`);
    return v;
  };
  const weights = (text.weights ?? 'auto') as Cli['weights'];
  if (!['auto', 'float16', 'float32'].includes(weights)) throw new UsageError(`--weights must be auto, float16 or float32`);
  const out = resolve(text.out ?? join(REPO, 'models', 'neurostagenet'));
  return {
    run,
    out,
    card: resolve(text.card ?? join(REPO, 'models', 'README.md')),
    report: resolve(text.report ?? join(out, 'report')),
    train: text.train,
    test: text.test,
    backend: text.backend,
    weights,
    log: text.log,
    trainCommand: text['train-command'],
    batchSize: num('batch-size'),
    valFraction: num('val-fraction'),
    seed: num('seed'),
    imageSize: num('image-size'),
    resamples: num('resamples'),
    bootstrapSeed: num('bootstrap-seed'),
  };
}

// Repository-relative form of a path (for commands and the card), or the path as given when outside the repo.
function repoPath(p: string): string {
  const r = relative(REPO, resolve(p));
  return r.startsWith('..') && !r.startsWith(`..${'/'}shared`) ? resolve(p) : r || '.';
}

// The predicted class of each row of an evaluation (first maximum).
function argmaxRows(e: EvaluationResult): Int32Array {
  const k = e.numClasses;
  const out = new Int32Array(e.labels.length);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (e.probabilities[i * k + j] > e.probabilities[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

async function dirBytes(dir: string): Promise<number> {
  return (await stat(join(dir, 'model.json'))).size + (await stat(join(dir, 'weights.bin'))).size;
}

const sha256Of = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

/** What {@link main} returns. */
export interface ShipResult {
  /** The facts the card was rendered from. */
  facts: ModelCardFacts;
  /** The model directory written. */
  out: string;
  /** The card written. */
  card: string;
}

/**
 * Runs the whole shipping procedure.
 * @param argv Arguments (without node and the script).
 * @returns The facts written, or null after --help.
 */
export async function main(argv: string[]): Promise<ShipResult | null> {
  const o = parseCli(argv);
  if (!o) {
    console.log(HELP);
    return null;
  }
  const backend = await selectBackend(o.backend);
  console.log(`backend: ${backend}`);

  // 1. The run's facts and its data.
  const run = await readRun(o);
  const { recipe, runJson, log } = run;
  const trainPath = resolve(o.train ?? runJson?.options.trainPath ?? join(SHARED_DATA, 'train.parquet'));
  const testPath = resolve(o.test ?? runJson?.options.testPath ?? join(SHARED_DATA, 'test.parquet'));
  for (const p of [trainPath, testPath]) if (!existsSync(p)) throw new UsageError(`no such file: ${p}`);
  const targetSize = [recipe.imageSize, recipe.imageSize] as const;
  const trainSet = await ParquetImageDataset.fromFile(trainPath, { targetSize });
  const testSet = await ParquetImageDataset.fromFile(testPath, { targetSize });
  const summary = await summarizeDataset(trainSet, { compareWith: testSet });
  const testSummary = await summarizeDataset(testSet);

  // 2. float32 and float16 copies of the best checkpoint, both evaluated on test.
  const tmp = await mkdtemp(join(tmpdir(), 'ship-model-'));
  try {
    // A running training may rewrite best-model/ at any time: work on a consistent copy of it.
    const checkpoint = await snapshotCheckpoint(join(o.run, 'best-model'), join(tmp, 'checkpoint'));
    const model32 = await loadModel(checkpoint);
    const dir32 = join(tmp, 'float32');
    const dir16 = join(tmp, 'float16');
    await saveModel(model32, dir32);
    await saveModel(model32, dir16, { quantize: 'float16' });
    const model16 = await loadModel(dir16);
    const quick = { batchSize: o.batchSize, bootstrap: { resamples: 100 } };
    const test32 = await evaluate(model32, testSet, quick);
    const test16 = await evaluate(model16, testSet, quick);
    const p32 = argmaxRows(test32);
    const p16 = argmaxRows(test16);
    const agreement = p32.reduce((n, p, i) => n + (p === p16[i] ? 1 : 0), 0) / p32.length;
    const dropPoints = 100 * (test32.metrics.accuracy - test16.metrics.accuracy);
    const kept: 'float16' | 'float32' = o.weights === 'auto' ? (Math.abs(dropPoints) <= MAX_FP16_ACCURACY_DROP_POINTS ? 'float16' : 'float32') : o.weights;
    console.log(`float32 on test: accuracy ${f4(test32.metrics.accuracy)}, macro AUC ${f4(test32.metrics.macro.auc)}; float16: ${f4(test16.metrics.accuracy)}, ${f4(test16.metrics.macro.auc)}`);
    console.log(`keeping ${kept} (float16 accuracy ${dropPoints >= 0 ? '-' : '+'}${Math.abs(dropPoints).toFixed(2)} points, same class for ${pct(agreement, 2)} of test slices)`);
    const keptDir = kept === 'float16' ? dir16 : dir32;
    const modelBytes = await dirBytes(keptDir);
    if (modelBytes > MAX_MODEL_MB * 1e6) throw new Error(`the ${kept} model is ${mb(modelBytes)}, above the ${MAX_MODEL_MB} MB limit: nothing written`);
    const sha256 = await sha256Of(join(keptDir, 'weights.bin'));

    // 3. The pipeline on the kept weights: the run's split re-created, calibration on its validation people, the test
    //    file once, the model with metadata and the report. The card's facts are gathered before anything is written.
    let facts: ModelCardFacts | undefined;
    const cardFacts = async (f: TrainingPipelineFacts): Promise<ModelCardFacts> => {
      if (log?.split && (log.split.seed !== recipe.seed || log.split.validationRows !== f.split.validation.length)) {
        throw new UsageError(`the run's log says split seed ${log.split.seed} with ${log.split.validationRows} validation rows, but seed ${recipe.seed} / val fraction ${recipe.valFraction} / split ${f.split.mode} gives ${f.split.validation.length}`);
      }
      if (!f.test) throw new Error('the pipeline evaluated no test file');
      // Which epoch the checkpoint is: the best monitored figure of the run, checked against the figure just measured
      // (a run in progress may have saved a checkpoint before logging it).
      const epochs = await currentEpochs(run);
      const monitored = epochs.map((e) => e.values[f.monitor] ?? NaN);
      const measured = f.monitor === 'val_person_auc' ? f.validation.figures.people?.metrics.macro.auc : f.validation.metrics.macro.auc;
      const bestIdx = checkpointEpochIndex(monitored, measured);
      const shipArgs = ['--run', repoPath(o.run)];
      const shippedHere = resolve(o.out) === join(REPO, 'models', 'neurostagenet');
      if (!shippedHere) shipArgs.push('--out', repoPath(o.out));
      if (o.card !== join(REPO, 'models', 'README.md')) shipArgs.push('--card', repoPath(o.card));
      if (o.backend) shipArgs.push('--backend', o.backend);
      const fileFacts = (d: DataFacts, s: DatasetSummary): FileFacts => ({
        ...d,
        name: d.name ?? 'data',
        slicesPerPerson: s.people && { min: s.people.slicesPerPerson.min, max: s.people.slicesPerPerson.max },
        sourceSizes: s.sourceSizes,
      });
      return {
        date: new Date().toISOString().slice(0, 10),
        modelDir: repoPath(o.out),
        report: { dir: repoPath(o.report), link: relative(dirname(o.card), o.report).split('\\').join('/') || '.' },
        storage: {
          kept,
          forced: o.weights !== 'auto',
          modelBytes,
          float32Bytes: (await stat(join(dir32, 'weights.bin'))).size,
          float16Bytes: (await stat(join(dir16, 'weights.bin'))).size,
          sha256,
          float32: { accuracy: test32.metrics.accuracy, macroAuc: test32.metrics.macro.auc },
          float16: { accuracy: test16.metrics.accuracy, macroAuc: test16.metrics.macro.auc },
          agreement,
          maxModelMb: MAX_MODEL_MB,
          maxFloat16DropPoints: MAX_FP16_ACCURACY_DROP_POINTS,
        },
        params: runJson?.params ?? log?.params ?? f.params,
        recipe: { ...f.options },
        data: {
          train: fileFacts(f.data.train, summary),
          test: fileFacts(f.data.test ?? f.data.train, testSummary),
          check: summary.leakage && summary.sliceLevel ? { leakage: summary.leakage, sliceLevel: summary.sliceLevel } : undefined,
          dir: dirname(trainPath) === dirname(testPath) ? repoPath(dirname(trainPath)) : undefined,
          sharedPeople: summary.sharedPeople?.count,
        },
        split: {
          trainRows: f.split.train.length,
          validationRows: f.split.validation.length,
          trainPeople: f.split.people?.train,
          validationPeople: f.split.people?.validation,
          validationPeoplePerClass: f.split.people?.validationPerClass,
          description: f.split.description,
        },
        training: {
          runDir: repoPath(o.run),
          complete: runJson !== undefined,
          source: run.historyJson ? 'history.json' : 'log',
          epochs,
          plannedEpochs: recipe.epochs ?? log?.plannedEpochs ?? epochs.length,
          monitor: f.monitor,
          bestEpoch: bestIdx >= 0 ? epochs[bestIdx].epoch : undefined,
          bestValue: bestIdx >= 0 ? monitored[bestIdx] : undefined,
          epochSeconds: epochs.reduce((s, e) => s + e.seconds, 0),
          wallSeconds: runJson?.wallSeconds,
          backend: runJson?.backend ?? log?.backend,
          stoppedEarly: run.historyJson?.stoppedEarly,
        },
        validation: recordedValidation(f),
        calibration: f.calibration,
        test: { file: f.data.test?.name ?? 'test', metrics: f.test.evaluation.metrics, calibrated: f.test.calibrated, figures: f.test.figures },
        commands: {
          train: run.trainArgs ? `npx tsx examples/train.ts ${run.trainArgs.map((a) => (a.startsWith('/') ? repoPath(a) : a)).join(' ')}` : undefined,
          ship: `npx tsx scripts/ship-model.ts ${shipArgs.join(' ')}`,
          evaluate: `npm run cli -- evaluate ${shippedHere ? 'models/neurostagenet' : repoPath(o.out)} ${repoPath(testPath)}${o.backend ? ` --backend ${o.backend}` : ''}`,
        },
        evaluationBackend: backend,
      };
    };
    const model = kept === 'float16' ? model16 : model32;
    const shipped = await runTrainingPipeline({
      ...trainingFlagsFromRunOptions(recipe),
      data: trainSet,
      test: testSet,
      trainedModel: model,
      batchSize: o.batchSize,
      bootstrap: { resamples: o.resamples, seed: o.bootstrapSeed },
      out: { model: o.out, report: o.report },
      writeReport: writeEvaluationReport,
      quantize: kept === 'float16' ? 'float16' : undefined,
      log: (line) => console.log(line),
      metadata: async (f) => {
        const card = (facts = await cardFacts(f));
        const t = card.training;
        return {
          weights: kept,
          training: {
            command: card.commands.train,
            epochsRun: t.epochs.length,
            bestEpoch: t.bestEpoch,
            bestValue: t.bestValue,
            trainingSeconds: Math.round(t.epochSeconds),
            backend: t.backend,
            complete: t.complete,
            backbone: recipe.backboneWeights ? `EfficientNetB0 from ImageNet weights (${recipe.backboneWeights})` : 'EfficientNetB0 trained from scratch (no ImageNet weights)',
          },
          intendedUse: 'research and teaching only; not for diagnosis',
        };
      },
    });
    if (!facts || !shipped.test) throw new Error('the pipeline returned no test figures');

    // 4. The written directory holds the weights chosen, loads through the public loader and predicts what was evaluated.
    if ((await sha256Of(join(o.out, 'weights.bin'))) !== sha256) throw new Error(`${o.out}/weights.bin differs from the ${kept} weights evaluated`);
    const reloaded = await loadPretrainedNeuroStageNet({ location: o.out });
    const probe = Int32Array.from({ length: Math.min(16, testSet.length) }, (_, i) => i);
    const again = await evaluate(reloaded.model, testSet, { indices: probe, batchSize: o.batchSize, bootstrap: { resamples: 100 } });
    let maxDiff = 0;
    for (let i = 0; i < again.probabilities.length; i++) maxDiff = Math.max(maxDiff, Math.abs(again.probabilities[i] - shipped.test.evaluation.probabilities[i]));
    reloaded.model.dispose();
    if (maxDiff > 1e-5 || Math.abs(reloaded.temperature - shipped.calibration.served) > 1e-12) {
      throw new Error(`the written model in ${o.out} does not reproduce the evaluated one (max probability difference ${maxDiff})`);
    }

    // 5. The card.
    await mkdir(dirname(o.card), { recursive: true });
    await writeFile(o.card, renderModelCard(facts, await readFile(MODEL_CARD_TEMPLATE, 'utf8')));
    console.log(`wrote ${o.out} (${kept}, ${mb(modelBytes)}), report ${o.report}, card ${o.card}`);
    model16.dispose();
    model32.dispose();
    return { facts, out: o.out, card: o.card };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    if (e instanceof UsageError || (e instanceof Error && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`error: ${e.message}\n(run with --help for usage)`);
      process.exit(2);
    }
    console.error(e instanceof Error ? `error: ${e.name}: ${e.message}` : e);
    if (process.env.DEBUG) console.error(e);
    process.exit(1);
  });
}
