// neurostagenet train <train.parquet> [--test test.parquet]: the seed's pipeline from the command line (split,
// augmentation, NeuroStageNet, early stopping on val AUC, LR on plateau, best checkpoint, calibration, report).
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { footprintRange, headFootprints } from '../../data/slice-level.js';
import { selectRows } from '../../data/subset.js';
import { saveModel } from '../../io/fs-model-io.js';
import { applyTemperature, chooseTemperature } from '../../metrics/calibration.js';
import { MultiClassMetrics } from '../../metrics/multiclass-metrics.js';
import { formatEvaluationReport } from '../../metrics/report-format.js';
import { writeEvaluationReport } from '../../metrics/report-writer.js';
import { buildNeuroStageNet, countParams } from '../../models/neurostagenet.js';
import { ALZHEIMER_SEVERITY_ORDER, writeModelMetadata } from '../../models/pretrained.js';
import { evaluate } from '../../train/evaluate.js';
import { barProgress, lineProgress } from '../../train/progress.js';
import { recipeCallbacks, recipeTrainOptions } from '../../train/recipe.js';
import { trainNeuroStageNet } from '../../train/trainer.js';
import type { ProgressReporter } from '../../train/types.js';
import { expectPositionals, parseCommand, requireExistingPath, stringOption } from '../args.js';
import { activateBackend } from '../backend.js';
import type { CliContext } from '../context.js';
import { rowsOf } from '../inference.js';
import { PARQUET_OPTIONS, SUBJECT_COLUMN_HELP, openParquet } from '../inputs.js';
import { flattenTrainFlags, monitorFor, parseTrainFlags, splitTrainingRows, TRAIN_OPTIONS, TRAIN_OPTIONS_HELP } from '../train-options.js';

export const TRAIN_HELP = `Usage: neurostagenet train <train.parquet> [--test <test.parquet>] [options]

Trains NeuroStageNet: stratified train / validation split of the training file, training-only
augmentation, early stopping on validation AUC (per person when the file has a subject column;
best weights restored), learning rate halved on
plateau, best checkpoint, temperature calibration on the validation rows (kept only when it lowers
their NLL and ECE), and with --test a report (per slice and, with a subject column, per person)
on the test file. Writes to --out: model/ (model.json, weights.bin, metadata.json with the class
names and the temperature: usable by predict / explain / evaluate), best-model/, history.json,
run.json and report/ (with --test).

Files
  --test FILE             test Parquet file, evaluated once after training
  --image-column NAME     image column (default 'image')
  --label-column NAME     label column (default 'label')
${SUBJECT_COLUMN_HELP}

${TRAIN_OPTIONS_HELP}

Run
  --out DIR               output directory (default ./neurostagenet-train)
  --progress MODE         auto (bar on a terminal, a line per epoch otherwise) | bar | lines | none
  --backend NAME          tensorflow | wasm | cpu (default: the fastest installed)
  -v, --verbose           stack traces on errors
  -h, --help              this text

Examples
  neurostagenet train train.parquet --test test.parquet --out run1
  neurostagenet train train.parquet --recipe scratch --backend tensorflow
  neurostagenet train train.parquet --backbone-weights efficientnetb0_notop.h5
  neurostagenet train sample.parquet --epochs 1 --image-size 64 --max-train 32   # smoke test
`;

/** Runs `train`; returns the exit code. */
export async function trainCommand(args: string[], ctx: CliContext): Promise<number> {
  const cmd = 'train';
  const { values, positionals } = parseCommand(cmd, args, {
    ...PARQUET_OPTIONS,
    test: { type: 'string' },
    ...TRAIN_OPTIONS,
  });
  expectPositionals(positionals, 1, 1, 'train <train.parquet> [--test test.parquet]', cmd);
  const o = parseTrainFlags(values, cmd);
  const r = o.recipe;
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

  const split = await splitTrainingRows(train, o);
  const trainRows = split.train;
  ctx.print(split.description);

  const model = await buildNeuroStageNet({
    inputShape: [o.imageSize, o.imageSize, 1],
    numClasses: train.classNames.length,
    backboneWeights: o.backboneWeights ?? null,
    fineTuneAt: r.allTrainable ? null : undefined,
    seed: o.seed,
  });
  ctx.print(`NeuroStageNet: ${countParams(model).total.toLocaleString('en-US')} parameters; recipe ${r.name}${o.backboneWeights ? ', ImageNet backbone' : ', backbone from scratch'}`);

  await mkdir(out, { recursive: true });
  const callbacks = recipeCallbacks(r, { checkpointDir: join(out, 'best-model'), monitor: monitorFor(o, split) });
  const useBar = o.progress === 'bar' || (o.progress === 'auto' && ctx.io.stdout.isTTY === true);
  const progress: ProgressReporter | 'none' = o.progress === 'none'
    ? 'none'
    : useBar ? barProgress(ctx.io.stdout as unknown as NodeJS.WritableStream) : lineProgress((line) => ctx.print(line));
  const result = await trainNeuroStageNet(model, {
    train: { source: train, indices: trainRows },
    validation: { source: train, indices: split.validation },
    ...recipeTrainOptions(r),
    seed: o.seed,
    callbacks,
    progress,
  });
  await writeFile(join(out, 'history.json'), `${JSON.stringify(result, null, 2)}\n`);
  const aucs = result.history.val_auc.filter((v) => Number.isFinite(v));
  const bestValAuc = aucs.length ? Math.max(...aucs) : undefined;
  ctx.print(`trained ${result.epochs.length} epoch(s) in ${result.seconds.toFixed(0)} s; best val_auc ${bestValAuc?.toFixed(4) ?? 'n/a'}`);

  // One temperature, fitted on the validation rows (never on the test file), served only where it helps them.
  const validation = await evaluate(model, train, { indices: split.validation, batchSize: r.batchSize, bootstrap: { resamples: 100 } });
  const calibration = chooseTemperature(validation.logits, validation.labels, { numClasses: validation.numClasses });
  const fit = calibration.fit;
  ctx.print(`temperature: ${calibration.reason}`);

  const classNames = [...train.classNames];
  const ordinalOrder = classNames.length === ALZHEIMER_SEVERITY_ORDER.length ? [...ALZHEIMER_SEVERITY_ORDER] : classNames.map((_, i) => i);
  const modelDir = join(out, 'model');
  await saveModel(model, modelDir);
  await writeModelMetadata(modelDir, {
    classNames,
    ordinalOrder,
    temperature: calibration.served,
    calibration: { temperature: calibration.served, kept: calibration.kept, reason: calibration.reason, fittedTemperature: fit.temperature, fittedOn: `validation (${validation.labels.length} rows)` },
    imageSize: [o.imageSize, o.imageSize],
    // The slice levels learned, so that predict / evaluate / explain can warn about images of other levels.
    trainingFootprint: footprintRange(await headFootprints(selectRows(train, trainRows))),
    training: { data: basename(trainPath), rows: trainRows.length, validationRows: split.validation.length, ...flattenTrainFlags(o, split), epochsRun: result.epochs.length, bestValAuc, seconds: result.seconds, backend },
  });

  let testSummary: Record<string, unknown> | undefined;
  if (test) {
    const evaluated = await evaluate(model, test, { batchSize: r.batchSize, classNames, ordinalOrder });
    const k = evaluated.numClasses;
    const calibrated = new MultiClassMetrics({ numClasses: k, classNames, ordinalOrder })
      .update(evaluated.labels, applyTemperature(rowsOf(evaluated.logits, k), fit.temperature))
      .compute();
    const title = `NeuroStageNet on ${basename(test.file)}`;
    const reportOptions = { calibrated, temperature: fit, title, figures: evaluated.figures, peopleSource: test.subjects ? 'the test file\'s subject column' : undefined };
    const files = await writeEvaluationReport(evaluated.metrics, join(out, 'report'), reportOptions);
    ctx.print(formatEvaluationReport(evaluated.metrics, reportOptions));
    ctx.print(`report: ${files.reportTxt}`);
    const people = evaluated.figures.people?.headline;
    testSummary = {
      accuracy: evaluated.metrics.accuracy,
      macroAuc: evaluated.metrics.macro.auc,
      quadraticKappa: evaluated.metrics.quadraticKappa,
      personAccuracy: people?.accuracy.value,
      personMacroAuc: people?.macroAuc?.value,
      eceBefore: evaluated.metrics.ece,
      eceAfter: calibrated.ece,
    };
  }
  const wallSeconds = (performance.now() - started) / 1000;
  await writeFile(join(out, 'run.json'), `${JSON.stringify({ args, options: flattenTrainFlags(o, split), backend, epochs: result.epochs.length, bestValAuc, temperature: calibration.served, calibration: calibration.reason, test: testSummary, wallSeconds }, null, 2)}\n`);
  ctx.print(`model: ${modelDir} (use: neurostagenet predict ${modelDir} <images>)`);
  ctx.note(`wall time ${wallSeconds.toFixed(0)} s (${backend})`);
  return 0;
}
