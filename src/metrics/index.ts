/**
 * Evaluation: streaming multi-class metrics equal to scikit-learn, temperature-scaling calibration and
 * evaluation reports (JSON, text, PNG plots).
 * @module
 */
export { MetricsInputError } from './errors.js';
export type { LabelsInput, MatrixInput } from './inputs.js';
export { rocCurve, rocAuc, trapezoidArea, type RocCurve } from './roc.js';
export { reliabilityBins, binEdges, type CalibrationBin, type ReliabilitySummary } from './reliability.js';
export {
  MultiClassMetrics,
  computeMetrics,
  type MultiClassMetricsOptions,
  type MultiClassMetricsResult,
  type ClassMetrics,
  type AveragedMetrics,
} from './multiclass-metrics.js';
export {
  formatClassificationReport,
  formatMetricsSummary,
  formatFixed,
  type ReportFormatOptions,
} from './classification-report.js';
export {
  figuresByPerson,
  formatHeadline,
  type BootstrapOptions,
  type ExcludedClass,
  type FiguresByPerson,
  type FiguresByPersonOptions,
  type HeadlineFigures,
  type Interval,
  type LevelFigures,
} from './bootstrap.js';
export { aggregateByGroup, type AggregateByGroupOptions, type GroupedPredictions } from './group-aggregate.js';
export {
  fitTemperature,
  decideTemperature,
  chooseTemperature,
  type CalibrationDecision,
  applyTemperature,
  type FitTemperatureOptions,
  type TemperatureFit,
} from './calibration.js';
export {
  renderConfusionMatrixPng,
  renderRocCurvesPng,
  renderReliabilityDiagramPng,
  renderHistogramsPng,
  type HistogramSeries,
  type PlotOptions,
  type ReliabilityPanel,
} from './plots.js';
export {
  writeEvaluationReport,
  formatEvaluationReport,
  formatFigures,
  type EvaluationReportOptions,
  type EvaluationReportFiles,
} from './report-writer.js';
