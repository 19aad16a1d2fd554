// neurostagenet evaluate <model-dir|--pretrained> <file.parquet>: metrics and the evaluation report files.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { groupNearDuplicates } from '../../data/groups.js';
import { selectRows } from '../../data/subset.js';
import { formatClassificationReport, formatMetricsSummary } from '../../metrics/classification-report.js';
import { aggregateByGroup } from '../../metrics/group-aggregate.js';
import { applyTemperature } from '../../metrics/calibration.js';
import { MultiClassMetrics } from '../../metrics/multiclass-metrics.js';
import { formatEvaluationReport, writeEvaluationReport } from '../../metrics/report-writer.js';
import { numberOption, parseCommand, stringOption, UsageError } from '../args.js';
import { activateBackend } from '../backend.js';
import type { CliContext } from '../context.js';
import { checkSliceLevels, predictAll, rowsOf, ttaOption } from '../inference.js';
import { MODEL_OPTIONS, PARQUET_OPTIONS, SUBJECT_COLUMN_HELP, openModel, openParquet } from '../inputs.js';

export const EVALUATE_HELP = `Usage: neurostagenet evaluate <model-dir> <file.parquet> [options]
       neurostagenet evaluate --pretrained <file.parquet> [options]

Evaluates a model on a labelled Parquet file and writes a report: metrics.json, report.txt
(classification report, macro / weighted AUC, quadratic kappa, ECE, confusion matrix),
confusion_matrix.png, roc_curves.png and reliability_diagram.png. When the model's metadata.json
has a calibration temperature, figures are given before and after calibration.

Options
  --out DIR               report directory (default ./neurostagenet-evaluation)
  --limit N               evaluate only the first N rows
  --by-subject            also score people, not slices: cluster near-duplicate slices (subject
                          proxies; slices of one person are near-duplicates) and average each
                          cluster's probabilities; writes subjects.json
  --group-threshold X     RMS distance (0..255) that links slices into one cluster (default 20)
  --batch-size N          images per forward pass (default 32)
  --tta none|flip         test-time augmentation: flip = average each slice's probabilities with its
                          left-right mirror image's (two passes; default none)
  --image-column NAME     image column (default 'image')
  --label-column NAME     label column (default 'label')
${SUBJECT_COLUMN_HELP}
  --backend NAME          tensorflow | wasm | cpu (default: the fastest installed)
  -v, --verbose           stack traces on errors
  -h, --help              this text

Examples
  neurostagenet evaluate ./run/model test.parquet --out ./run/test-report
  neurostagenet evaluate --pretrained test.parquet
  neurostagenet evaluate --pretrained test.parquet --by-subject
`;

/** Runs `evaluate`; returns the exit code. */
export async function evaluateCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommand('evaluate', args, {
    ...PARQUET_OPTIONS,
    ...MODEL_OPTIONS,
    limit: { type: 'string' },
    'batch-size': { type: 'string' },
    tta: { type: 'string' },
    'by-subject': { type: 'boolean' },
    'group-threshold': { type: 'string' },
  });
  const groupThreshold = numberOption(values, 'group-threshold', 20, { min: 0 }, 'evaluate');
  const limit = numberOption(values, 'limit', Infinity, { integer: true, min: 1 }, 'evaluate');
  const batchSize = numberOption(values, 'batch-size', 32, { integer: true, min: 1 }, 'evaluate');
  const tta = ttaOption(values, 'evaluate');
  const expected = values.pretrained ? 1 : 2;
  if (positionals.length !== expected) {
    throw new UsageError(`${positionals.length < expected ? 'missing argument' : `unexpected argument '${positionals[expected]}'`}: usage: neurostagenet evaluate <model-dir|--pretrained> <file.parquet>`, 'evaluate');
  }
  const backend = await activateBackend(values.backend as string | undefined, ctx, 'evaluate');
  const { model, rest } = await openModel(values, positionals, ctx, 'evaluate');
  const ds = await openParquet(rest[0], values, model.imageSize, 'evaluate');
  if (ds.classNames.length !== model.classNames.length) {
    throw new UsageError(`${rest[0]} has ${ds.classNames.length} classes but the model predicts ${model.classNames.length}`, 'evaluate');
  }
  const n = Math.min(limit, ds.length);
  const evaluatedRows = Int32Array.from({ length: n }, (_, i) => i);
  const t0 = performance.now();
  const pred = await predictAll(model.model, ds, { indices: evaluatedRows, batchSize, stream: ctx.io.stderr, tta });
  const seconds = (performance.now() - t0) / 1000;
  await checkSliceLevels(model, ds, pred.indices, ctx);
  const k = pred.numClasses;
  const metricOptions = { numClasses: k, classNames: model.classNames, ordinalOrder: model.ordinalOrder };
  const metrics = new MultiClassMetrics(metricOptions).update(pred.labels, pred.probabilities).compute();
  const calibratedProbabilities = model.temperature === 1 ? undefined : applyTemperature(rowsOf(pred.logits, k), model.temperature);
  const calibrated = calibratedProbabilities && new MultiClassMetrics(metricOptions).update(pred.labels, calibratedProbabilities).compute();
  const title = `NeuroStageNet on ${ds.file.split(/[\\/]/).pop()}`;
  const options = { calibrated, temperature: calibrated ? model.temperature : undefined, title };
  const out = resolve(stringOption(values, 'out', 'neurostagenet-evaluation') as string);
  const files = await writeEvaluationReport(metrics, out, options);
  ctx.print(formatEvaluationReport(metrics, options));
  ctx.print(`wrote ${out}: ${[files.metricsJson, files.reportTxt, files.confusionMatrixPng, files.rocCurvesPng, files.reliabilityDiagramPng].map((f) => f.split(/[\\/]/).pop()).join(', ')}`);
  if (values['by-subject']) {
    // Cluster only the evaluated rows, so that --limit and the clusters agree.
    const rows = n === ds.length ? ds : selectRows(ds, evaluatedRows);
    const clusters = await groupNearDuplicates(rows, { threshold: groupThreshold });
    const probabilities = calibratedProbabilities?.flat() ?? pred.probabilities;
    const people = aggregateByGroup(probabilities, pred.labels, clusters.groups, k);
    const subjectMetrics = new MultiClassMetrics(metricOptions).update(people.labels, people.probabilities).compute();
    const header = `per subject: ${clusters.count} clusters of near-duplicate slices (threshold ${groupThreshold}) stand in for people; each cluster's ${calibrated ? 'calibrated ' : ''}probabilities averaged`;
    ctx.print(`${header}\n${formatClassificationReport(subjectMetrics)}\n${formatMetricsSummary(subjectMetrics)}`);
    const file = join(out, 'subjects.json');
    await writeFile(file, `${JSON.stringify({ note: header, clusters: clusters.count, groupThreshold, metrics: subjectMetrics, sizes: Array.from(people.sizes) }, null, 2)}\n`);
    ctx.print(`wrote ${file}`);
  }
  ctx.note(`evaluated ${n} rows in ${seconds.toFixed(1)} s (${backend})`);
  return 0;
}
