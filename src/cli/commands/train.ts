// neurostagenet train <train.parquet> [--test test.parquet]: the seed's pipeline from the command line (split,
// augmentation, NeuroStageNet, early stopping on val AUC, LR on plateau, best checkpoint, calibration, report).
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { StratifiedSplit } from '../../data/split.js';
import { saveModel } from '../../io/fs-model-io.js';
import { applyTemperature, fitTemperature } from '../../metrics/calibration.js';
import { MultiClassMetrics } from '../../metrics/multiclass-metrics.js';
import { formatEvaluationReport, writeEvaluationReport } from '../../metrics/report-writer.js';
import { buildNeuroStageNet, countParams } from '../../models/neurostagenet.js';
import { ALZHEIMER_SEVERITY_ORDER, writeModelMetadata } from '../../models/pretrained.js';
import { earlyStopping } from '../../train/callbacks/early-stopping.js';
import { learningRateScheduler } from '../../train/callbacks/learning-rate-scheduler.js';
import { modelCheckpoint } from '../../train/callbacks/model-checkpoint.js';
import { reduceLROnPlateau } from '../../train/callbacks/reduce-lr-on-plateau.js';
import { evaluate } from '../../train/evaluate.js';
import { warmupCosineSchedule } from '../../train/learning-rate.js';
import { barProgress, lineProgress } from '../../train/progress.js';
import { trainNeuroStageNet } from '../../train/trainer.js';
import type { ProgressReporter } from '../../train/types.js';
import { expectPositionals, numberOption, parseCommand, requireExistingPath, stringOption, UsageError } from '../args.js';
import { activateBackend } from '../backend.js';
import type { CliContext } from '../context.js';
import { rowsOf } from '../inference.js';
import { PARQUET_OPTIONS, openParquet } from '../inputs.js';

export const TRAIN_HELP = `Usage: neurostagenet train <train.parquet> [--test <test.parquet>] [options]

Trains NeuroStageNet: stratified train / validation split of the training file, training-only
augmentation, early stopping on validation AUC (best weights restored), learning rate halved on
plateau, best checkpoint, temperature calibration on the validation rows, and with --test a report
on the test file. Writes to --out: model/ (model.json, weights.bin, metadata.json with the class
names and the temperature: usable by predict / explain / evaluate), best-model/, history.json,
run.json and report/ (with --test).

Data
  --test FILE             test Parquet file, evaluated once after training
  --image-size N          train at N x N (default 128)
  --val-fraction F        validation share of the stratified split (default 0.2)
  --max-train N           use at most N training rows (quick runs)
  --seed N                split, shuffle, augmentation, dropout and initialisation seed (default 42)
  --no-augment            no training augmentation
  --image-column NAME     image column (default 'image')
  --label-column NAME     label column (default 'label')

Recipe (defaults = the seed's, meant for ImageNet backbone weights)
  --epochs N              upper bound on epochs (default 30)
  --batch-size N          default 32
  --lr X                  Adam learning rate (default 5e-4)
  --label-smoothing X     default 0.15
  --patience N            early-stopping patience on val AUC (default 5)
  --backbone-weights FILE Keras efficientnetb0_notop.h5 (ImageNet; layers < 150 frozen)
  --recipe seed|scratch   'scratch' = --all-trainable --warmup-epochs 2 --cosine
                          --class-weight balanced --lr 1e-3 (each can be overridden)
  --all-trainable         train every backbone layer
  --warmup-epochs N       linear warm-up, then constant or cosine (replaces LR on plateau)
  --cosine                cosine decay to lr/100 over --epochs (replaces LR on plateau)
  --class-weight none|balanced|balanced-sqrt
                          weight the loss by n / (K * count[class]) (or its square root)

Run
  --out DIR               output directory (default ./neurostagenet-train)
  --progress MODE         auto (bar on a terminal, a line per epoch otherwise) | bar | lines | none
  --backend NAME          tensorflow | wasm | cpu (default: the fastest installed)
  -v, --verbose           stack traces on errors
  -h, --help              this text

Examples
  neurostagenet train train.parquet --test test.parquet --out run1
  neurostagenet train train.parquet --recipe scratch --epochs 40 --backend tensorflow
  neurostagenet train train.parquet --backbone-weights efficientnetb0_notop.h5
  neurostagenet train sample.parquet --epochs 1 --image-size 64 --max-train 32   # smoke test
`;

/** Runs `train`; returns the exit code. */
export async function trainCommand(args: string[], ctx: CliContext): Promise<number> {
  const cmd = 'train';
  const { values, positionals } = parseCommand(cmd, args, {
    ...PARQUET_OPTIONS,
    test: { type: 'string' },
    'image-size': { type: 'string' },
    'val-fraction': { type: 'string' },
    'max-train': { type: 'string' },
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
    progress: { type: 'string' },
  });
  expectPositionals(positionals, 1, 1, 'train <train.parquet> [--test test.parquet]', cmd);
  const recipe = stringOption(values, 'recipe', 'seed');
  if (recipe !== 'seed' && recipe !== 'scratch') throw new UsageError(`--recipe must be 'seed' or 'scratch', got '${recipe}'`, cmd);
  const scratch = recipe === 'scratch';
  const classWeightArg = stringOption(values, 'class-weight');
  if (classWeightArg !== undefined && !['none', 'balanced', 'balanced-sqrt'].includes(classWeightArg)) {
    throw new UsageError(`--class-weight must be none, balanced or balanced-sqrt, got '${classWeightArg}'`, cmd);
  }
  const progressMode = stringOption(values, 'progress', 'auto') as string;
  if (!['auto', 'bar', 'lines', 'none'].includes(progressMode)) throw new UsageError(`--progress must be auto, bar, lines or none, got '${progressMode}'`, cmd);
  const o = {
    imageSize: numberOption(values, 'image-size', 128, { integer: true, min: 32 }, cmd),
    valFraction: numberOption(values, 'val-fraction', 0.2, { min: 0, max: 0.9, exclusiveMin: true }, cmd),
    maxTrain: values['max-train'] === undefined ? undefined : numberOption(values, 'max-train', 0, { integer: true, min: 1 }, cmd),
    seed: numberOption(values, 'seed', 42, { integer: true }, cmd),
    augment: !values['no-augment'],
    epochs: numberOption(values, 'epochs', 30, { integer: true, min: 1 }, cmd),
    batchSize: numberOption(values, 'batch-size', 32, { integer: true, min: 1 }, cmd),
    lr: numberOption(values, 'lr', scratch ? 1e-3 : 5e-4, { min: 0, exclusiveMin: true }, cmd),
    labelSmoothing: numberOption(values, 'label-smoothing', 0.15, { min: 0, max: 1 }, cmd),
    patience: numberOption(values, 'patience', 5, { integer: true, min: 0 }, cmd),
    warmupEpochs: numberOption(values, 'warmup-epochs', scratch ? 2 : 0, { min: 0 }, cmd),
    cosine: Boolean(values.cosine) || scratch,
    allTrainable: Boolean(values['all-trainable']) || scratch,
    classWeight: (classWeightArg === 'none' ? undefined : (classWeightArg ?? (scratch ? 'balanced' : undefined))) as
      | 'balanced'
      | 'balanced-sqrt'
      | undefined,
    backboneWeights: stringOption(values, 'backbone-weights'),
    recipe,
  };
  const trainPath = requireExistingPath(positionals[0], 'file', cmd);
  const testPath = stringOption(values, 'test');
  if (testPath !== undefined) requireExistingPath(testPath, 'file', cmd);
  if (o.backboneWeights !== undefined) requireExistingPath(o.backboneWeights, 'backbone weights file', cmd);
  const out = resolve(stringOption(values, 'out', 'neurostagenet-train') as string);

  const started = performance.now();
  const backend = await activateBackend(values.backend as string | undefined, ctx, cmd);
  const size = [o.imageSize, o.imageSize] as const;
  const train = await openParquet(trainPath, values, size, cmd);
  const test = testPath === undefined ? undefined : await openParquet(testPath, values, size, cmd);
  ctx.print(`data: ${train.file}: ${train.length} rows, classes ${train.classNames.map((c, i) => `${c} ${train.classCounts()[i]}`).join(', ')}`);

  const split = new StratifiedSplit({ testSize: o.valFraction, seed: o.seed }).split(train.labels);
  const trainRows = o.maxTrain ? split.train.subarray(0, o.maxTrain) : split.train;
  ctx.print(`split (seed ${o.seed}): ${trainRows.length} train / ${split.test.length} validation rows`);

  const model = await buildNeuroStageNet({
    inputShape: [o.imageSize, o.imageSize, 1],
    numClasses: train.classNames.length,
    backboneWeights: o.backboneWeights ?? null,
    fineTuneAt: o.allTrainable ? null : undefined,
    seed: o.seed,
  });
  ctx.print(`NeuroStageNet: ${countParams(model).total.toLocaleString('en-US')} parameters; recipe ${o.recipe}${o.backboneWeights ? ', ImageNet backbone' : ', backbone from scratch'}`);

  await mkdir(out, { recursive: true });
  const callbacks: tfl.Callback[] = [
    earlyStopping({ monitor: 'val_auc', mode: 'max', patience: o.patience, restoreBestWeights: true, verbose: true }),
    modelCheckpoint({ dir: join(out, 'best-model'), monitor: 'val_auc', saveBestOnly: true }),
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
  const useBar = progressMode === 'bar' || (progressMode === 'auto' && ctx.io.stdout.isTTY === true);
  const progress: ProgressReporter | 'none' = progressMode === 'none'
    ? 'none'
    : useBar ? barProgress(ctx.io.stdout as unknown as NodeJS.WritableStream) : lineProgress((line) => ctx.print(line));
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
    progress,
  });
  await writeFile(join(out, 'history.json'), `${JSON.stringify(result, null, 2)}\n`);
  const aucs = result.history.val_auc.filter((v) => Number.isFinite(v));
  const bestValAuc = aucs.length ? Math.max(...aucs) : undefined;
  ctx.print(`trained ${result.epochs.length} epoch(s) in ${result.seconds.toFixed(0)} s; best val_auc ${bestValAuc?.toFixed(4) ?? 'n/a'}`);

  // One temperature, fitted on the validation rows (never on the test file).
  const validation = await evaluate(model, train, { indices: split.test, batchSize: o.batchSize });
  const fit = fitTemperature(validation.logits, validation.labels, { numClasses: validation.numClasses });
  ctx.print(`temperature ${fit.temperature.toFixed(3)} (validation NLL ${fit.nllBefore.toFixed(4)} -> ${fit.nllAfter.toFixed(4)})`);

  const classNames = [...train.classNames];
  const ordinalOrder = classNames.length === ALZHEIMER_SEVERITY_ORDER.length ? [...ALZHEIMER_SEVERITY_ORDER] : classNames.map((_, i) => i);
  const modelDir = join(out, 'model');
  await saveModel(model, modelDir);
  await writeModelMetadata(modelDir, {
    classNames,
    ordinalOrder,
    temperature: fit.temperature,
    imageSize: [o.imageSize, o.imageSize],
    training: { data: basename(trainPath), rows: trainRows.length, validationRows: split.test.length, ...o, epochsRun: result.epochs.length, bestValAuc, seconds: result.seconds, backend },
  });

  let testSummary: Record<string, unknown> | undefined;
  if (test) {
    const evaluated = await evaluate(model, test, { batchSize: o.batchSize, classNames, ordinalOrder });
    const k = evaluated.numClasses;
    const calibrated = new MultiClassMetrics({ numClasses: k, classNames, ordinalOrder })
      .update(evaluated.labels, applyTemperature(rowsOf(evaluated.logits, k), fit.temperature))
      .compute();
    const title = `NeuroStageNet on ${basename(test.file)}`;
    const files = await writeEvaluationReport(evaluated.metrics, join(out, 'report'), { calibrated, temperature: fit, title });
    ctx.print(formatEvaluationReport(evaluated.metrics, { calibrated, temperature: fit, title }));
    ctx.print(`report: ${files.reportTxt}`);
    testSummary = { accuracy: evaluated.metrics.accuracy, macroAuc: evaluated.metrics.macro.auc, quadraticKappa: evaluated.metrics.quadraticKappa, eceBefore: evaluated.metrics.ece, eceAfter: calibrated.ece };
  }
  const wallSeconds = (performance.now() - started) / 1000;
  await writeFile(join(out, 'run.json'), `${JSON.stringify({ args, options: o, backend, epochs: result.epochs.length, bestValAuc, temperature: fit.temperature, test: testSummary, wallSeconds }, null, 2)}\n`);
  ctx.print(`model: ${modelDir} (use: neurostagenet predict ${modelDir} <images>)`);
  ctx.note(`wall time ${wallSeconds.toFixed(0)} s (${backend})`);
  return 0;
}
