import type { MultiClassMetricsResult } from './multiclass-metrics.js';

/** Options of {@link formatClassificationReport}. */
export interface ReportFormatOptions {
  /** Digits after the decimal point (default 4). */
  digits?: number;
}

/**
 * `x` with `digits` decimals, rounded like Python's `format(x, '.Nf')`: correctly rounded from the exact binary
 * value, exact ties to even. (`toFixed` also rounds the exact value but sends ties up, e.g. 1/32 to 4 digits.)
 */
export function formatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : x < 0 ? '-inf' : 'nan';
  const rounded = x.toFixed(digits);
  // toFixed(100) is the exact expansion for the magnitudes met here; a tie is "...5" followed by zeros only.
  const exact = Math.abs(x).toFixed(100);
  const dot = exact.indexOf('.');
  const tail = exact.slice(dot + 1 + digits);
  if (!/^50*$/.test(tail)) return rounded;
  // Tie: toFixed rounded away from zero; keep it only if that made the last digit even.
  const lastDigit = Number(rounded[rounded.length - 1]);
  if (lastDigit % 2 === 0) return rounded;
  return (x < 0 ? '-' : '') + exact.slice(0, digits > 0 ? dot + 1 + digits : dot);
}

/**
 * Text report laid out exactly as scikit-learn's `classification_report(..., digits=digits)` with
 * `labels=range(K)`, `target_names=classNames` and `zero_division=0`: one row per class, then accuracy,
 * macro avg and weighted avg.
 * @param result Output of {@link MultiClassMetrics.compute}.
 * @param options `digits` (default 4).
 */
export function formatClassificationReport(result: MultiClassMetricsResult, options: ReportFormatOptions = {}): string {
  const digits = options.digits ?? 4;
  const headers = ['precision', 'recall', 'f1-score', 'support'];
  const lastHeading = 'weighted avg';
  const width = Math.max(...result.classNames.map((s) => s.length), lastHeading.length, digits);
  const cell = (s: string): string => ' ' + s.padStart(9);
  const num = (x: number): string => cell(formatFixed(x, digits));
  // scikit-learn quirk reproduced: with no correct prediction at all its supports come out as floats ("8.0").
  const noneCorrect = result.errorCount === result.count;
  const support = (s: number): string => cell(noneCorrect ? `${s}.0` : String(s));
  const row = (name: string, p: number, r: number, f: number, s: number): string =>
    name.padStart(width) + ' ' + num(p) + num(r) + num(f) + support(s) + '\n';

  let report = ''.padStart(width) + ' ' + headers.map(cell).join('') + '\n\n';
  for (const m of result.perClass) report += row(m.className, m.precision, m.recall, m.f1, m.support);
  report += '\n';
  report += 'accuracy'.padStart(width) + ' ' + cell('') + cell('') + num(result.accuracy) + support(result.count) + '\n';
  report += row('macro avg', result.macro.precision, result.macro.recall, result.macro.f1, result.count);
  report += row(lastHeading, result.weighted.precision, result.weighted.recall, result.weighted.f1, result.count);
  return report;
}

const show = (x: number | undefined, digits: number): string => (x === undefined ? 'n/a' : formatFixed(x, digits));

/**
 * The figures {@link formatClassificationReport} leaves out, as text: per-class and averaged one-vs-rest AUC,
 * balanced accuracy, quadratic kappa (with the severity order), adjacent-error share, ECE, Brier score, log loss
 * and the confusion matrix.
 * @param result Output of {@link MultiClassMetrics.compute}.
 * @param options `digits` (default 4).
 */
export function formatMetricsSummary(result: MultiClassMetricsResult, options: ReportFormatOptions = {}): string {
  const d = options.digits ?? 4;
  const names = result.classNames;
  const width = Math.max(...names.map((s) => s.length), 'weighted avg'.length);
  let out = ''.padStart(width) + '   ROC AUC (one-vs-rest)\n';
  result.perClass.forEach((m) => (out += m.className.padStart(width) + '   ' + show(m.auc, d) + '\n'));
  out += 'macro avg'.padStart(width) + '   ' + show(result.macro.auc, d) + '\n';
  out += 'weighted avg'.padStart(width) + '   ' + show(result.weighted.auc, d) + '\n\n';
  const order = result.ordinalOrder.map((c) => names[c]).join(' < ');
  const lines: [string, string][] = [
    ['balanced accuracy', show(result.balancedAccuracy, d)],
    [`quadratic kappa (${order})`, show(result.quadraticKappa, d)],
    [
      'adjacent-stage share of errors',
      `${show(result.adjacentErrorShare, d)} (${result.errorCount} errors of ${result.count})`,
    ],
    [`ECE (${result.calibrationBins.length} bins, top label)`, show(result.ece, d)],
    ['Brier score (sum over classes)', show(result.brier, d)],
    ['log loss', show(result.logLoss, d)],
  ];
  const labelWidth = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) out += k.padEnd(labelWidth) + '  ' + v + '\n';
  out += '\nconfusion matrix (rows = true, columns = predicted)\n';
  const cellWidth = Math.max(...names.map((s) => s.length), ...result.confusionMatrix.flat().map((v) => String(v).length));
  out += ''.padStart(width) + ' ' + names.map((s) => ' ' + s.padStart(cellWidth)).join('') + '\n';
  result.confusionMatrix.forEach((row, r) => {
    out += names[r].padStart(width) + ' ' + row.map((v) => ' ' + String(v).padStart(cellWidth)).join('') + '\n';
  });
  return out;
}
