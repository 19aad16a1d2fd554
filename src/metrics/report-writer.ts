import { formatClassificationReport, formatFixed, formatMetricsSummary } from './classification-report.js';
import type { TemperatureFit } from './calibration.js';
import type { MultiClassMetricsResult } from './multiclass-metrics.js';
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
 * Writes an evaluation report to `dir` (created if missing): `metrics.json`, `report.txt`,
 * `confusion_matrix.png`, `roc_curves.png` and `reliability_diagram.png`. Node only (file system and the
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
  const json = { ...result, ...(calibration ? { calibration } : {}) };
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
  await fs.writeFile(files.reliabilityDiagramPng, await renderReliabilityDiagramPng(panels, { scale, title: titled(`reliability diagram (top label, ${result.calibrationBins.length} bins)`) }));
  return files;
}
