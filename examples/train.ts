/**
 * The seed's whole run with neurostagenet, through the package's public API: data summary and leakage check, then the
 * training pipeline (`runTrainingPipeline` of neurostagenet/train): split by person (80/20, seed 42), augmentation,
 * NeuroStageNet, training with early stopping on the validation AUC (best weights restored), LR on plateau (or the
 * scratch recipe's schedule) and a best-model checkpoint, temperature calibration on the validation people, evaluation
 * on the test file, the model saved with its metadata (the served temperature survives a reload), the report.
 *
 *   npx tsx examples/train.ts [train.parquet] [test.parquet] [options]
 *
 * Defaults: train = examples/data/sample.parquet (the bundled sample); test = ../shared/data/alzheimer-mri-subjects/test.parquet
 * when present, else the sample. Run with --help for the options. Outputs go to --out (default ./train-output):
 * best-model/ (checkpoint), model/ (final = best after restoring, with metadata.json), history.json, summary.txt,
 * report/ (metrics.json, report.txt, confusion matrix, ROC curves, reliability diagram), run.json.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ParquetImageDataset, selectBackend } from 'neurostagenet';
import { formatDatasetSummary, summarizeDataset } from 'neurostagenet/data';
import { parseTrainingFlags, runTrainingPipeline, TRAINING_FLAGS, TRAINING_FLAGS_HELP, TrainingFlagError, type TrainingRunRecord } from 'neurostagenet/train';
import { writeEvaluationReport } from 'neurostagenet/node';

const here = dirname(fileURLToPath(import.meta.url));
const SAMPLE = join(here, 'data', 'sample.parquet');
const SHARED_TEST = resolve(here, '..', '..', 'shared', 'data', 'alzheimer-mri-subjects', 'test.parquet');

const HELP = `Usage: npx tsx examples/train.ts [train.parquet] [test.parquet] [options]

Trains NeuroStageNet (the seed's recipe, or --recipe scratch) and writes a test-set report.

Files
  train.parquet               default: examples/data/sample.parquet (bundled sample)
  test.parquet                default: ../shared/data/alzheimer-mri-subjects/test.parquet if present, else the sample

${TRAINING_FLAGS_HELP}

Run
  --backend NAME          tensorflow | wasm | cpu ... (default: the fastest installed)
  --out DIR               output directory (default ./train-output)
  --progress MODE         auto (bar on a terminal, a line per epoch otherwise) | bar | lines | none
  -h, --help              this text
`;

/** A command-line mistake of this example (a bad flag is a TrainingFlagError): exit code 2. */
class UsageError extends Error {}

/** What {@link main} returns (used by the end-to-end test): the run's record (run.json) and where it was written. */
export type RunSummary = TrainingRunRecord & { out: string };

/**
 * Runs the whole pipeline.
 * @param argv Command-line arguments (without `node` and the script).
 * @returns The run's record, or null after printing --help.
 */
export async function main(argv: string[]): Promise<RunSummary | null> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...TRAINING_FLAGS, backend: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(HELP);
    return null;
  }
  if (positionals.length > 2) throw new UsageError(`expected at most two Parquet files, got ${positionals.length}`);
  const flags = parseTrainingFlags(values);
  const trainPath = positionals[0] ?? SAMPLE;
  const testPath = positionals[1] ?? (existsSync(SHARED_TEST) ? SHARED_TEST : SAMPLE);
  for (const p of [trainPath, testPath]) if (!existsSync(p)) throw new UsageError(`no such file: ${p}`);
  const out = resolve(values.out ?? 'train-output');

  const backend = await selectBackend(values.backend);
  console.log(`backend: ${backend}`);
  await mkdir(out, { recursive: true });

  // 1. Data: summary and leakage check (people of the test file in the training file, near-duplicate slices).
  const targetSize = [flags.imageSize, flags.imageSize] as const;
  const train = await ParquetImageDataset.fromFile(trainPath, { targetSize });
  const test = testPath === trainPath ? train : await ParquetImageDataset.fromFile(testPath, { targetSize });
  const summary = formatDatasetSummary(await summarizeDataset(train, { compareWith: test }));
  console.log(summary);
  await writeFile(join(out, 'summary.txt'), `${summary}\n`);
  if (testPath === trainPath) console.log('note: test file = training file (sample only): test figures are not a generalisation estimate');

  // 2. The pipeline: split by person -> build -> train -> calibrate -> evaluate -> save with metadata -> report.
  const run = await runTrainingPipeline({
    ...flags,
    data: train,
    test,
    out,
    writeReport: writeEvaluationReport, // the report's PNG plots need Node: neurostagenet/node
    runInfo: { argv, trainPath, testPath },
    log: (line) => console.log(line),
  });
  run.model.dispose();
  console.log(`wrote ${out} (model: ${run.files.model}, report: ${run.files.report?.reportTxt}); wall time ${run.seconds.toFixed(0)} s`);
  return { ...run.record, out };
}

// Run when executed directly (not when imported by the end-to-end test).
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    if (e instanceof UsageError || e instanceof TrainingFlagError || (e instanceof Error && e.name === 'TypeError' && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`error: ${e.message}\n(run with --help for usage)`);
      process.exit(2);
    }
    console.error(e instanceof Error ? `error: ${e.name}: ${e.message}` : e);
    if (process.env.DEBUG) console.error(e);
    process.exit(1);
  });
}
