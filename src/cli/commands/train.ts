// neurostagenet train <train.parquet> [--test test.parquet]: the training pipeline from the command line (split by
// person, NeuroStageNet, training with the recipe's callbacks, calibration, test report): runTrainingPipeline does the
// work; this file reads the arguments and prints.
import { resolve } from 'node:path';
import { writeEvaluationReport } from '../../metrics/report-writer.js';
import { TrainingFlagError } from '../../train/flags.js';
import { runTrainingPipeline } from '../../train/pipeline.js';
import { barProgress, lineProgress } from '../../train/progress.js';
import type { ProgressReporter } from '../../train/types.js';
import { UsageError, expectPositionals, parseCommand, requireExistingPath, requireInputFile, stringOption } from '../args.js';
import { activateBackend } from '../backend.js';
import type { CliContext } from '../context.js';
import { PARQUET_OPTIONS, SUBJECT_COLUMN_HELP, openParquet } from '../inputs.js';
import { parseTrainFlags, TRAIN_OPTIONS, TRAIN_OPTIONS_HELP } from '../train-options.js';

export const TRAIN_HELP = `Usage: neurostagenet train <train.parquet> [--test <test.parquet>] [options]

Trains NeuroStageNet (the training pipeline, runTrainingPipeline): stratified train / validation
split of the training file (by person when it has a subject column), training-only augmentation,
early stopping on validation AUC (per person when split by subject; best weights restored),
learning rate halved on plateau (or the scratch recipe's schedule), best checkpoint, temperature
calibration on the validation rows (kept only when it lowers their NLL and ECE), and with --test a
report (per slice and, with a subject column, per person) on the test file. Writes to --out: model/ (model.json, weights.bin, metadata.json with the class
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
  const trainPath = requireInputFile(positionals[0], cmd, 'a Parquet file');
  const testPath = stringOption(values, 'test');
  if (testPath !== undefined) requireInputFile(testPath, cmd, 'a Parquet file');
  if (o.backboneWeights !== undefined) requireExistingPath(o.backboneWeights, 'backbone weights file', cmd);
  const out = resolve(stringOption(values, 'out', 'neurostagenet-train') as string);

  const started = performance.now();
  const backend = await activateBackend(values.backend as string | undefined, ctx, cmd);
  const size = [o.imageSize, o.imageSize] as const;
  const train = await openParquet(trainPath, values, size, cmd);
  const test = testPath === undefined ? undefined : await openParquet(testPath, values, size, cmd);
  ctx.print(`data: ${train.file}: ${train.length} rows, classes ${train.classNames.map((c, i) => `${c} ${train.classCounts()[i]}`).join(', ')}`);

  const useBar = o.progress === 'bar' || (o.progress === 'auto' && ctx.io.stdout.isTTY === true);
  const progress: ProgressReporter | 'none' = o.progress === 'none'
    ? 'none'
    : useBar ? barProgress(ctx.io.stdout as unknown as NodeJS.WritableStream) : lineProgress((line) => ctx.print(line));
  let run;
  try {
    run = await runTrainingPipeline({ ...o, progress, data: train, test, out, writeReport: writeEvaluationReport, runInfo: { argv: args, trainPath, testPath }, log: (line) => ctx.print(line) });
  } catch (e) {
    if (e instanceof TrainingFlagError) throw new UsageError(e.message, cmd);
    throw e;
  }
  run.model.dispose();
  ctx.print(`model: ${run.files.model} (use: neurostagenet predict ${run.files.model} <images>)`);
  ctx.note(`wall time ${((performance.now() - started) / 1000).toFixed(0)} s (${backend})`);
  return 0;
}
