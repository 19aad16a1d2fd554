// Report text and JSON values, shared by the browser-safe formatter and the Node report writer.
import { formatClassificationReport, formatFixed, formatMetricsSummary } from './classification-report.js';
import type { TemperatureFit } from './calibration.js';
import type { MultiClassMetricsResult } from './multiclass-metrics.js';
import { formatHeadline, type FiguresByPerson, type ReliabilityIntervals } from './bootstrap.js';

/** Options of {@link formatEvaluationReport} and `writeEvaluationReport` (neurostagenet/node). */
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
   * Headline figures with intervals per slice and per person ({@link index!figuresByPerson}, or `evaluate()`'s
   * `figures`): adds them to report.txt and metrics.json, and with people `confusion_matrix_people.png` and
   * `roc_curves_people.png`.
   */
  figures?: FiguresByPerson;
  /** Where the people of `figures` came from, printed above their block (e.g. "subject column"). */
  peopleSource?: string;
  /**
   * Per-person bootstrap intervals of the reliability bins ({@link index!reliabilityIntervals}) of the model's
   * probabilities and, with `calibrated`, of the calibrated ones: drawn as error bars on `reliability_diagram.png`
   * and recorded in metrics.json (`reliabilityIntervals`).
   */
  reliabilityIntervals?: {
    /** Intervals of the bins of `result` (the first panel). */
    model?: ReliabilityIntervals;
    /** Intervals of the bins of `calibrated` (the second panel). */
    calibrated?: ReliabilityIntervals;
  };
}

// JSON has no Infinity / NaN / undefined: write null so that every key stays present with a parseable value.
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return value;
}

export function calibrationSection(result: MultiClassMetricsResult, options: EvaluationReportOptions): Record<string, unknown> | undefined {
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
 * The headline blocks of {@link index!figuresByPerson}: per slice, then per person, each with its intervals and the
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

