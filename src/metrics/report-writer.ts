import { formatFixed } from './classification-report.js';
import type { MultiClassMetricsResult } from './multiclass-metrics.js';
import { calibrationSection, formatEvaluationReport, jsonReplacer, type EvaluationReportOptions } from './report-format.js';
import type { ReliabilityIntervals } from './bootstrap.js';
import { renderConfusionMatrixPng, renderReliabilityDiagramPng, renderRocCurvesPng, type ReliabilityPanel } from './plots.js';
import { nodeFs, nodePath } from '../env/node-builtin.js';

/** Paths of the files {@link writeEvaluationReport} wrote. */
export interface EvaluationReportFiles {
  /** `metrics.json`: the result (non-finite numbers and undefined values as `null`) plus `calibration`. */
  metricsJson: string;
  /** `report.txt`: classification report, AUCs, ordinal and calibration figures, confusion matrix. */
  reportTxt: string;
  /** `confusion_matrix.png`. */
  confusionMatrixPng: string;
  /** `roc_curves.png`. */
  rocCurvesPng: string;
  /** `reliability_diagram.png` (before / after calibration side by side when `calibrated` is given). */
  reliabilityDiagramPng: string;
  /** `confusion_matrix_people.png`, when `figures` has people. */
  peopleConfusionMatrixPng?: string;
  /** `roc_curves_people.png`, when `figures` has people. */
  peopleRocCurvesPng?: string;
}

/**
 * Writes an evaluation report to `dir` (created if missing): `metrics.json`, `report.txt`,
 * `confusion_matrix.png`, `roc_curves.png` and `reliability_diagram.png`, and with per-person `figures` also
 * `confusion_matrix_people.png` and `roc_curves_people.png`. Node only (file system and the
 * native canvas are loaded on first call).
 *
 * @param result Metrics of the model's probabilities (`MultiClassMetrics.compute()`).
 * @param dir Output directory.
 * @param options Calibrated metrics and temperature (for before/after figures), title, digits, PNG scale.
 * @returns Paths of the written files.
 */
export async function writeEvaluationReport(
  result: MultiClassMetricsResult,
  dir: string,
  options: EvaluationReportOptions = {},
): Promise<EvaluationReportFiles> {
  const operation = `writing the evaluation report to '${dir}'`;
  const hint = 'in a browser, use formatEvaluationReport() for the text and the render*Png() plots, which need @napi-rs/canvas (Node)';
  const fs = nodeFs(operation, hint);
  const path = nodePath(operation, hint);
  await fs.mkdir(dir, { recursive: true });
  const files: EvaluationReportFiles = {
    metricsJson: path.resolve(dir, 'metrics.json'),
    reportTxt: path.resolve(dir, 'report.txt'),
    confusionMatrixPng: path.resolve(dir, 'confusion_matrix.png'),
    rocCurvesPng: path.resolve(dir, 'roc_curves.png'),
    reliabilityDiagramPng: path.resolve(dir, 'reliability_diagram.png'),
  };
  const calibration = calibrationSection(result, options);
  const figures = options.figures && {
    slices: options.figures.slices.headline,
    people: options.figures.people && {
      source: options.peopleSource,
      headline: options.figures.people.headline,
      metrics: options.figures.people.metrics,
      subjects: options.figures.people.subjects,
      labels: Array.from(options.figures.people.labels),
      sizes: Array.from(options.figures.people.sizes),
      probabilities: Array.from(options.figures.people.probabilities),
    },
  };
  const ri = options.reliabilityIntervals;
  // metrics.json keeps the intervals, not a second copy of the bins.
  const strip = (r: ReliabilityIntervals | undefined) =>
    r && { binAccuracy: r.binAccuracy, ece: r.ece, people: r.people, resamples: r.resamples, confidence: r.confidence, seed: r.seed, resampledBy: 'person' };
  const reliability = ri && (ri.model || ri.calibrated) ? { model: strip(ri.model), calibrated: strip(ri.calibrated) } : undefined;
  const json = { ...result, ...(calibration ? { calibration } : {}), ...(figures ? { figures } : {}), ...(reliability ? { reliabilityIntervals: reliability } : {}) };
  await fs.writeFile(files.metricsJson, JSON.stringify(json, jsonReplacer, 2) + '\n');
  await fs.writeFile(files.reportTxt, formatEvaluationReport(result, options));

  const scale = options.scale ?? 2;
  // "Title: confusion matrix ..." with a title, "Confusion matrix ..." without.
  const titled = (s: string): string => (options.title ? `${options.title}: ${s}` : s[0].toUpperCase() + s.slice(1));
  const macroAuc = result.macro.auc === undefined ? 'n/a' : formatFixed(result.macro.auc, 4);
  const cmTitle = titled(`confusion matrix (N = ${result.count}, accuracy ${formatFixed(result.accuracy, 4)})`);
  await fs.writeFile(files.confusionMatrixPng, await renderConfusionMatrixPng(result, { scale, title: cmTitle }));
  const rocTitle = titled(`ROC curves, one vs rest (macro AUC ${macroAuc})`);
  await fs.writeFile(files.rocCurvesPng, await renderRocCurvesPng(result, { scale, title: rocTitle }));
  const panels: ReliabilityPanel[] = [
    { label: options.calibrated ? 'Before calibration' : 'Model', bins: result.calibrationBins, ece: result.ece, intervals: ri?.model?.binAccuracy, eceInterval: ri?.model?.ece },
  ];
  if (options.calibrated) {
    const t = typeof options.temperature === 'number' ? options.temperature : options.temperature?.temperature;
    panels.push({
      label: t === undefined ? 'After calibration' : `After scaling, T = ${formatFixed(t, 3)}`,
      bins: options.calibrated.calibrationBins,
      ece: options.calibrated.ece,
      intervals: ri?.calibrated?.binAccuracy,
      eceInterval: ri?.calibrated?.ece,
    });
  }
  const people = options.figures?.people;
  if (people) {
    files.peopleConfusionMatrixPng = path.resolve(dir, 'confusion_matrix_people.png');
    files.peopleRocCurvesPng = path.resolve(dir, 'roc_curves_people.png');
    const pm = people.metrics;
    const pTitle = titled(`confusion matrix per person (N = ${pm.count} people, accuracy ${formatFixed(pm.accuracy, 4)})`);
    await fs.writeFile(files.peopleConfusionMatrixPng, await renderConfusionMatrixPng(pm, { scale, title: pTitle }));
    const pAuc = people.headline.macroAuc === undefined ? 'n/a' : formatFixed(people.headline.macroAuc.value, 4);
    const rTitle = titled(`ROC per person (macro AUC ${pAuc} over ${people.headline.classNamesCovered.join(', ')})`);
    await fs.writeFile(files.peopleRocCurvesPng, await renderRocCurvesPng(pm, { scale, title: rTitle }));
  }
  await fs.writeFile(files.reliabilityDiagramPng, await renderReliabilityDiagramPng(panels, { scale, title: titled(`reliability diagram (top label, ${result.calibrationBins.length} bins)`) }));
  return files;
}
