import { formatClassificationReport, formatFixed, formatMetricsSummary } from './classification-report.js';
import type { TemperatureFit } from './calibration.js';
import type { MultiClassMetricsResult } from './multiclass-metrics.js';
import { formatHeadline, type FiguresByPerson } from './bootstrap.js';
import { renderConfusionMatrixPng, renderReliabilityDiagramPng, renderRocCurvesPng, type ReliabilityPanel } from './plots.js';

/** Options of {@link writeEvaluationReport}. */
export interface EvaluationReportOptions {
  /** Metrics of the temperature-scaled probabilities; adds "after" figures and a second reliability panel. */
  calibrated?: MultiClassMetricsResult;
  /** The fitted temperature (a number or the whole {@link TemperatureFit}). */
  temperature?: number | TemperatureFit;
  /** First line of report.txt and title prefix, e.g. "NeuroStageNet, test set". */
  title?: string;
  /** Digits in report.txt (default 4). */
  digits?: number;
  /** Pixel density of the PNGs (default 2). */
  scale?: number;
  /**
   * Headline figures with intervals per slice and per person ({@link figuresByPerson}, or `evaluate()`'s
   * `figures`): adds them to report.txt and metrics.json, and with people `confusion_matrix_people.png` and
   * `roc_curves_people.png`.
   */
  figures?: FiguresByPerson;
  /** Where the people of `figures` came from, printed above their block (e.g. "subject column"). */
  peopleSource?: string;
}

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

// JSON has no Infinity / NaN / undefined: write null so that every key stays present with a parseable value.
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return value;
}

function calibrationSection(result: MultiClassMetricsResult, options: EvaluationReportOptions): Record<string, unknown> | undefined {
  const fit = typeof options.temperature === 'number' ? { temperature: options.temperature } : options.temperature;
  if (!fit && !options.calibrated) return undefined;
  return {
    ...(fit ?? {}),
    eceBefore: result.ece,
    eceAfter: options.calibrated?.ece,
    brierBefore: result.brier,
    brierAfter: options.calibrated?.brier,
    logLossBefore: result.logLoss,
    logLossAfter: options.calibrated?.logLoss,
    metrics: options.calibrated,
  };
}

/**
 * The report text: classification report (scikit-learn layout), AUCs, ordinal and calibration figures,
 * confusion matrix and, when given, the effect of temperature scaling.
 * @param result Metrics of the uncalibrated probabilities.
 * @param options Calibrated metrics, temperature, title, digits.
 */
export function formatEvaluationReport(result: MultiClassMetricsResult, options: EvaluationReportOptions = {}): string {
  const digits = options.digits ?? 4;
  const f = (x: number): string => formatFixed(x, digits);
  let out = '';
  if (options.title) out += `${options.title}\n${'='.repeat(options.title.length)}\n\n`;
  out += `samples: ${result.count}\n\n`;
  if (options.figures) out += `${formatFigures(options.figures, options.peopleSource)}\n\n`;
  out += formatClassificationReport(result, { digits }) + '\n';
  out += formatMetricsSummary(result, { digits });
  const cal = calibrationSection(result, options);
  if (cal) {
    out += '\ncalibration (temperature scaling)\n';
    if (cal.temperature !== undefined) out += `  temperature T  ${f(cal.temperature as number)}\n`;
    if (cal.nllBefore !== undefined) {
      out += `  NLL on the fitting set  ${f(cal.nllBefore as number)} -> ${f(cal.nllAfter as number)}\n`;
    }
    if (options.calibrated) {
      const c = options.calibrated;
      out += `  ECE       ${f(result.ece)} -> ${f(c.ece)}\n`;
      out += `  Brier     ${f(result.brier)} -> ${f(c.brier)}\n`;
      out += `  log loss  ${f(result.logLoss)} -> ${f(c.logLoss)}\n`;
      out += `  accuracy  ${f(result.accuracy)} -> ${f(c.accuracy)} (a single temperature keeps the ranking)\n`;
    }
  }
  return out;
}

/**
 * The headline blocks of {@link figuresByPerson}: per slice, then per person, each with its intervals and the
 * classes its averages cover.
 * @param figures Slice and person figures.
 * @param peopleSource Where the people came from (printed with the person block).
 */
export function formatFigures(figures: FiguresByPerson, peopleSource?: string): string {
  const blocks = [formatHeadline(figures.slices.headline)];
  if (figures.people) blocks.push(`${formatHeadline(figures.people.headline)}${peopleSource ? `\n  people: ${peopleSource}; a person's probabilities are the mean of their slices'` : ''}`);
  else blocks.push('per person: not available (no subject column; intervals resample slices, which treats near-duplicate slices as independent and makes them too narrow)');
  return blocks.join('\n');
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
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
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
  const json = { ...result, ...(calibration ? { calibration } : {}), ...(figures ? { figures } : {}) };
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
  const panels: ReliabilityPanel[] = [{ label: options.calibrated ? 'Before calibration' : 'Model', bins: result.calibrationBins, ece: result.ece }];
  if (options.calibrated) {
    const t = typeof options.temperature === 'number' ? options.temperature : options.temperature?.temperature;
    panels.push({
      label: t === undefined ? 'After calibration' : `After scaling, T = ${formatFixed(t, 3)}`,
      bins: options.calibrated.calibrationBins,
      ece: options.calibrated.ece,
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
