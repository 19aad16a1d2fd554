// neurostagenet evaluate <model-dir|--pretrained> <file.parquet>: metrics and the evaluation report files.
import { resolve } from 'node:path';
import { groupNearDuplicates } from '../../data/groups.js';
import { selectRows } from '../../data/subset.js';
import { figuresByPerson, reliabilityIntervals } from '../../metrics/bootstrap.js';
import { argmaxRow } from '../../metrics/inputs.js';
import { applyTemperature } from '../../metrics/calibration.js';
import { MultiClassMetrics } from '../../metrics/multiclass-metrics.js';
import { formatEvaluationReport } from '../../metrics/report-format.js';
import { writeEvaluationReport } from '../../metrics/report-writer.js';
import { numberOption, parseCommand, requireExistingPath, requireInputFile, stringOption, UsageError } from '../args.js';
import { withDataClassNames } from '../../models/pretrained.js';
import { activateBackend } from '../backend.js';
import type { CliContext } from '../context.js';
import { ALLOW_UNCHECKED_HELP, CALIBRATION_HELP, CALIBRATION_OPTIONS, CHECK_OPTIONS, calibrationOption, EXIT_ALL_REFUSED, checkSliceLevels, predictAll, reportRefusals, rowsOf, ttaOption } from '../inference.js';
import { MODEL_OPTIONS, PARQUET_OPTIONS, SUBJECT_COLUMN_HELP, openModel, openParquet } from '../inputs.js';

export const EVALUATE_HELP = `Usage: neurostagenet evaluate <model-dir> <file.parquet> [options]
       neurostagenet evaluate --pretrained <file.parquet> [options]

Evaluates a model on a labelled Parquet file and writes a report: metrics.json, report.txt
(classification report, macro / weighted AUC, quadratic kappa, ECE, confusion matrix),
confusion_matrix.png, roc_curves.png and reliability_diagram.png. When the model's metadata.json
has a calibration temperature, figures are given before and after calibration.

When the file has a subject column, it also scores people (a person's slice probabilities
averaged): accuracy, balanced accuracy, macro AUC and quadratic kappa per slice and per person,
each with a 95% bootstrap interval that resamples people, and confusion_matrix_people.png /
roc_curves_people.png. Class averages leave out classes with fewer than 2 people, and say so.

Options
  --out DIR               report directory (default ./neurostagenet-evaluation)
  --limit N               evaluate only the first N rows
  --by-subject            for a file without a subject column: clusters of near-duplicate
                          slices stand in for people (slices of one person are near-duplicates)
  --group-threshold X     RMS distance (0..255) that links slices into one cluster (default 20)
  --resamples N           bootstrap resamples of the intervals (default 2000)
  --seed N                bootstrap seed (default 0)
  --batch-size N          images per forward pass (default 32)
  --tta none|flip         test-time augmentation: flip = average each slice's probabilities with its
                          left-right mirror image's (two passes; default none)
${ALLOW_UNCHECKED_HELP}
${CALIBRATION_HELP}
  --image-column NAME     image column (default 'image')
  --label-column NAME     label column (default 'label')
${SUBJECT_COLUMN_HELP}
  --backend NAME          tensorflow | wasm | cpu (default: the fastest installed)
  -v, --verbose           stack traces on errors
  -h, --help              this text

Examples
  neurostagenet evaluate ./run/model test.parquet --out ./run/test-report
  neurostagenet evaluate --pretrained test.parquet
  neurostagenet evaluate --pretrained no-subject-column.parquet --by-subject
`;

/** Runs `evaluate`; returns the exit code. */
export async function evaluateCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommand('evaluate', args, {
    ...PARQUET_OPTIONS,
    ...MODEL_OPTIONS,
    limit: { type: 'string' },
    'batch-size': { type: 'string' },
    tta: { type: 'string' },
    ...CHECK_OPTIONS,
    ...CALIBRATION_OPTIONS,
    'by-subject': { type: 'boolean' },
    'group-threshold': { type: 'string' },
    resamples: { type: 'string' },
    seed: { type: 'string' },
  });
  const resamples = numberOption(values, 'resamples', 2000, { integer: true, min: 100 }, 'evaluate');
  const bootstrapSeed = numberOption(values, 'seed', 0, { integer: true }, 'evaluate');
  const groupThreshold = numberOption(values, 'group-threshold', 20, { min: 0 }, 'evaluate');
  const limit = numberOption(values, 'limit', Infinity, { integer: true, min: 1 }, 'evaluate');
  const batchSize = numberOption(values, 'batch-size', 32, { integer: true, min: 1 }, 'evaluate');
  const tta = ttaOption(values, 'evaluate');
  const expected = values.pretrained ? 1 : 2;
  if (positionals.length !== expected) {
    throw new UsageError(`${positionals.length < expected ? 'missing argument' : `unexpected argument '${positionals[expected]}'`}: usage: neurostagenet evaluate <model-dir|--pretrained> <file.parquet>`, 'evaluate');
  }
  // The data file and the model directory first: a wrong path is reported before the backend and the model load.
  requireInputFile(positionals[positionals.length - 1], 'evaluate', 'a Parquet file');
  if (!values.pretrained) requireExistingPath(positionals[0], 'model directory', 'evaluate');
  const backend = await activateBackend(values.backend as string | undefined, ctx, 'evaluate');
  const opened = await openModel(values, positionals, ctx, 'evaluate');
  const { rest } = opened;
  const ds = await openParquet(rest[0], values, opened.model.imageSize, 'evaluate');
  const model = withDataClassNames(opened.model, ds.classNames); // a model without class names takes the file's
  const calibration = calibrationOption(values, model, 'evaluate');
  ctx.note(calibration.description);
  if (ds.classNames.length !== model.classNames.length) {
    throw new UsageError(`${rest[0]} has ${ds.classNames.length} classes but the model predicts ${model.classNames.length}`, 'evaluate');
  }
  const n = Math.min(limit, ds.length);
  const evaluatedRows = Int32Array.from({ length: n }, (_, i) => i);
  const t0 = performance.now();
  const pred = await predictAll(model.model, ds, { indices: evaluatedRows, batchSize, stream: ctx.io.stderr, tta, allowUnchecked: values['allow-unchecked'] === true });
  const seconds = (performance.now() - t0) / 1000;
  reportRefusals(pred, (row) => `row ${row}`, ctx);
  if (pred.indices.length === 0) {
    ctx.note(`evaluate: the input check refused all ${n} rows: no figures (--allow-unchecked to evaluate them anyway)`);
    return EXIT_ALL_REFUSED;
  }
  await checkSliceLevels(model, ds, pred.indices, ctx);
  const k = pred.numClasses;
  const metricOptions = { numClasses: k, classNames: model.classNames, ordinalOrder: model.ordinalOrder };
  const metrics = new MultiClassMetrics(metricOptions).update(pred.labels, pred.probabilities).compute();
  const calibratedProbabilities = calibration.temperature === 1 ? undefined : applyTemperature(rowsOf(pred.logits, k), calibration.temperature);
  const calibrated = calibratedProbabilities && new MultiClassMetrics(metricOptions).update(pred.labels, calibratedProbabilities).compute();

  // People: the file's subject column; else, with --by-subject, clusters of near-duplicate slices stand in for them.
  let subjects: string[] | undefined;
  let peopleSource: string | undefined;
  if (ds.subjects) {
    const all = ds.subjects;
    subjects = Array.from(pred.indices, (i) => all[i]);
    peopleSource = `the file's subject column (${new Set(subjects).size} people)`;
  } else if (values['by-subject']) {
    // Cluster only the evaluated rows, so that --limit and the clusters agree.
    const rows = n === ds.length ? ds : selectRows(ds, evaluatedRows);
    const clusters = await groupNearDuplicates(rows, { threshold: groupThreshold });
    // Evaluated rows are 0..n-1, so a classified row's index is its position among them.
    subjects = Array.from(pred.indices, (i) => `cluster-${clusters.groups[i]}`);
    peopleSource = `${clusters.count} clusters of near-duplicate slices (threshold ${groupThreshold}) stand in for people (the file has no subject column)`;
  }
  // The figures of the probabilities the model serves: calibrated when it has a temperature.
  const served = calibratedProbabilities ? Float32Array.from(calibratedProbabilities.flat()) : pred.probabilities;
  const figures = figuresByPerson(pred.labels, served, { ...metricOptions, subjects, resamples, seed: bootstrapSeed });
  if (calibrated) peopleSource = `${peopleSource ?? 'no people'}; figures with intervals use the calibrated probabilities (T = ${calibration.temperature.toFixed(3)})`;
  const title = `NeuroStageNet on ${ds.file.split(/[\\/]/).pop()}`;
  // Reliability diagrams with intervals over people (each person's slices resampled together).
  const correctOf = (probabilities: ArrayLike<number>) => Array.from(pred.labels, (label, i) => argmaxRow(probabilities, i * k, k) === label);
  const confidenceOf = (probabilities: ArrayLike<number>) => Array.from(pred.labels, (_, i) => Math.max(...Array.from({ length: k }, (_, c) => probabilities[i * k + c])));
  const intervalsOf = (probabilities: ArrayLike<number>) => subjects && reliabilityIntervals(confidenceOf(probabilities), correctOf(probabilities), subjects, { resamples, seed: bootstrapSeed, numBins: metrics.calibrationBins.length });
  const reliability = subjects
    ? { model: intervalsOf(pred.probabilities), ...(calibratedProbabilities ? { calibrated: intervalsOf(Float32Array.from(calibratedProbabilities.flat())) } : {}) }
    : undefined;
  const options = { calibrated, temperature: calibrated ? calibration.temperature : undefined, title, figures, peopleSource, ...(reliability ? { reliabilityIntervals: reliability } : {}) };
  const out = resolve(stringOption(values, 'out', 'neurostagenet-evaluation') as string);
  const files = await writeEvaluationReport(metrics, out, options);
  if (pred.refused.length) ctx.print(`input check: ${pred.refused.length} of ${n} rows refused (unlike the training slices): not in these figures`);
  ctx.print(formatEvaluationReport(metrics, options));
  const written = [files.metricsJson, files.reportTxt, files.confusionMatrixPng, files.rocCurvesPng, files.reliabilityDiagramPng, files.peopleConfusionMatrixPng, files.peopleRocCurvesPng];
  ctx.print(`wrote ${out}: ${written.filter((f): f is string => f !== undefined).map((f) => f.split(/[\\/]/).pop()).join(', ')}`);
  ctx.note(`evaluated ${pred.indices.length} of ${n} rows in ${seconds.toFixed(1)} s (${backend})`);
  return 0;
}
