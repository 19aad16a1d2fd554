import type { SKRSContext2D } from '@napi-rs/canvas';
import type { Interval } from './bootstrap.js';
import { importAtRunTime, optionalPeer } from '../env/optional-peer.js';
import { formatFixed } from './classification-report.js';
import type { MultiClassMetricsResult } from './multiclass-metrics.js';
import type { CalibrationBin } from './reliability.js';

/** Options shared by the PNG renderers. */
export interface PlotOptions {
  /** Pixel density: the picture is drawn at this multiple of its logical size (default 2, crisp on HiDPI). */
  scale?: number;
  /** Title above the plot; each renderer has a sensible default. */
  title?: string;
}

/** One panel of a reliability diagram. */
export interface ReliabilityPanel {
  /** Panel heading, e.g. "Before calibration". */
  label: string;
  /** The bins to draw (`result.calibrationBins`). */
  bins: CalibrationBin[];
  /** Expected calibration error shown in the heading. */
  ece: number;
  /**
   * Optional interval of each bin's accuracy, in the order of `bins` (e.g. `reliabilityIntervals(...).binAccuracy`,
   * a bootstrap over people): drawn as error bars. Ends that are not finite are not drawn.
   */
  intervals?: ReadonlyArray<Pick<Interval, 'low' | 'high'>>;
  /** Optional interval of the ECE, shown in the heading next to it. */
  eceInterval?: Pick<Interval, 'low' | 'high'>;
}

const FONT_FAMILY = '"DejaVu Sans", "Helvetica Neue", Arial, sans-serif';
const font = (size: number, weight: 'normal' | 'bold' = 'normal'): string => `${weight} ${size}px ${FONT_FAMILY}`;
const TEXT = '#222222';
const GRID = '#e3e3e3';
const AXIS = '#444444';
// matplotlib's tab10: distinct, colour-blind-tolerant line colours.
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * The native canvas (@napi-rs/canvas, ~35 MB of platform binaries) is an optional peer dependency: installing
 * neurostagenet does not install it; the plots import it on first use, and a missing one gives an
 * OptionalDependencyError naming `npm install @napi-rs/canvas`. Internal (tests replace the importer).
 */
export const canvasPeer = optionalPeer('@napi-rs/canvas', 'Drawing the report plots (PNG)', () => importAtRunTime<typeof import('@napi-rs/canvas')>('@napi-rs/canvas'));

async function newCanvas(width: number, height: number, scale: number) {
  const { createCanvas } = await canvasPeer.load();
  const canvas = createCanvas(Math.round(width * scale), Math.round(height * scale));
  const ctx = canvas.getContext('2d');
  ctx.scale(scale, scale);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  return { canvas, ctx };
}

/**
 * Draws one string on a report canvas in the plots' font and colour (internal, shared with the explanation
 * panels of `renderExplanationPng`). `rotate` is in radians about (x, y).
 */
export function text(
  ctx: SKRSContext2D,
  s: string,
  x: number,
  y: number,
  opts: { size?: number; weight?: 'normal' | 'bold'; align?: CanvasTextAlign; baseline?: CanvasTextBaseline; color?: string; rotate?: number } = {},
): void {
  ctx.save();
  ctx.font = font(opts.size ?? 13, opts.weight);
  ctx.fillStyle = opts.color ?? TEXT;
  ctx.textAlign = opts.align ?? 'left';
  ctx.textBaseline = opts.baseline ?? 'alphabetic';
  ctx.translate(x, y);
  if (opts.rotate) ctx.rotate(opts.rotate);
  ctx.fillText(s, 0, 0);
  ctx.restore();
}

function textWidth(ctx: SKRSContext2D, s: string, size = 13, weight: 'normal' | 'bold' = 'normal'): number {
  ctx.save();
  ctx.font = font(size, weight);
  const w = ctx.measureText(s).width;
  ctx.restore();
  return w;
}

// A centred bold title, shrunk (down to 10 px) so that a long caller-given title fits the picture instead of
// being clipped at both edges.
function title(ctx: SKRSContext2D, s: string, width: number, y: number): void {
  const room = width - 24;
  let size = 16;
  while (size > 10 && textWidth(ctx, s, size, 'bold') > room) size -= 1;
  // Still too long at 10 px: end it with an ellipsis rather than lose both ends off the picture.
  let shown = s;
  while (shown.length > 1 && textWidth(ctx, shown, size, 'bold') > room) shown = `${shown.slice(0, -2)}…`;
  text(ctx, shown, width / 2, y, { align: 'center', size, weight: 'bold' });
}

// The dashed y = x reference line of a unit plot (chance for ROC, perfect calibration for reliability).
function dashedDiagonal(ctx: SKRSContext2D, px: (v: number) => number, py: (v: number) => number, color: string, width: number): void {
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.setLineDash([6, 5]);
  ctx.beginPath();
  ctx.moveTo(px(0), py(0));
  ctx.lineTo(px(1), py(1));
  ctx.stroke();
  ctx.restore();
}

// Axes for a [0,1] x [0,1] plot: grid, frame, ticks every 0.2, axis titles.
function unitAxes(ctx: SKRSContext2D, box: Box, xLabel: string, yLabel: string, opts: { xTickLabels?: boolean } = {}): void {
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  ctx.save();
  ctx.lineWidth = 1;
  ctx.strokeStyle = GRID;
  for (const t of ticks) {
    const x = box.x + t * box.w;
    const y = box.y + box.h - t * box.h;
    ctx.beginPath();
    ctx.moveTo(x, box.y);
    ctx.lineTo(x, box.y + box.h);
    ctx.moveTo(box.x, y);
    ctx.lineTo(box.x + box.w, y);
    ctx.stroke();
  }
  ctx.strokeStyle = AXIS;
  ctx.strokeRect(box.x, box.y, box.w, box.h);
  for (const t of ticks) {
    const x = box.x + t * box.w;
    const y = box.y + box.h - t * box.h;
    ctx.beginPath();
    ctx.moveTo(x, box.y + box.h);
    ctx.lineTo(x, box.y + box.h + 5);
    ctx.moveTo(box.x - 5, y);
    ctx.lineTo(box.x, y);
    ctx.stroke();
    if (opts.xTickLabels !== false) text(ctx, t.toFixed(1), x, box.y + box.h + 19, { align: 'center', size: 12 });
    text(ctx, t.toFixed(1), box.x - 9, y, { align: 'right', baseline: 'middle', size: 12 });
  }
  ctx.restore();
  if (xLabel) text(ctx, xLabel, box.x + box.w / 2, box.y + box.h + 42, { align: 'center', size: 14 });
  text(ctx, yLabel, box.x - 48, box.y + box.h / 2, { align: 'center', size: 14, rotate: -Math.PI / 2 });
}

// Sequential white-to-blue scale (matplotlib "Blues" stops) for the confusion matrix.
const BLUES: [number, number, number][] = [
  [247, 251, 255],
  [198, 219, 239],
  [107, 174, 214],
  [33, 113, 181],
  [8, 48, 107],
];
function blues(v: number): string {
  const t = Math.min(Math.max(v, 0), 1) * (BLUES.length - 1);
  const i = Math.min(Math.floor(t), BLUES.length - 2);
  const f = t - i;
  const c = BLUES[i].map((a, j) => Math.round(a + (BLUES[i + 1][j] - a) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/**
 * The confusion matrix as a PNG: one cell per (true, predicted) pair with its count and its share of the true
 * class, shaded by that share, class names on both axes and a colour bar. Node only.
 * @param result Output of `MultiClassMetrics.compute()`.
 * @param options Scale and title.
 * @returns PNG bytes.
 */
export async function renderConfusionMatrixPng(result: MultiClassMetricsResult, options: PlotOptions = {}): Promise<Uint8Array> {
  const scale = options.scale ?? 2;
  const k = result.classNames.length;
  const names = result.classNames;
  const cell = Math.max(56, Math.min(118, Math.floor(600 / k)));
  const { ctx: probe } = await newCanvas(1, 1, 1);
  const nameWidth = Math.max(...names.map((s) => textWidth(probe, s, 13)));
  const rotateX = nameWidth > cell - 8;
  const left = 56 + nameWidth + 12;
  const top = 64;
  const bottom = (rotateX ? nameWidth * 0.75 + 24 : 30) + 40;
  const gridSize = cell * k;
  const width = left + gridSize + 110;
  const height = top + gridSize + bottom;
  const { canvas, ctx } = await newCanvas(width, height, scale);

  const heading = options.title ?? `Confusion matrix (N = ${result.count}, accuracy ${formatFixed(result.accuracy, 4)})`;
  title(ctx, heading, width, 32);
  const countSize = cell >= 90 ? 20 : 15;
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < k; c++) {
      const x = left + c * cell;
      const y = top + r * cell;
      const share = result.confusionMatrixNormalized[r][c];
      ctx.fillStyle = blues(share);
      ctx.fillRect(x, y, cell, cell);
      const color = share > 0.55 ? '#ffffff' : TEXT;
      text(ctx, String(result.confusionMatrix[r][c]), x + cell / 2, y + cell / 2 - 2, {
        align: 'center',
        size: countSize,
        weight: 'bold',
        color,
      });
      text(ctx, `${(share * 100).toFixed(1)}%`, x + cell / 2, y + cell / 2 + countSize - 2, {
        align: 'center',
        baseline: 'middle',
        size: 12,
        color,
      });
    }
  }
  ctx.strokeStyle = '#ffffff';
  ctx.lineWidth = 1.5;
  for (let i = 1; i < k; i++) {
    ctx.beginPath();
    ctx.moveTo(left + i * cell, top);
    ctx.lineTo(left + i * cell, top + gridSize);
    ctx.moveTo(left, top + i * cell);
    ctx.lineTo(left + gridSize, top + i * cell);
    ctx.stroke();
  }
  ctx.strokeStyle = AXIS;
  ctx.lineWidth = 1;
  ctx.strokeRect(left, top, gridSize, gridSize);
  names.forEach((name, i) => {
    const mid = i * cell + cell / 2;
    text(ctx, name, left - 10, top + mid, { align: 'right', baseline: 'middle', size: 13 });
    if (rotateX) {
      text(ctx, name, left + mid + 4, top + gridSize + 12, { align: 'right', baseline: 'middle', size: 13, rotate: -Math.PI / 4 });
    } else {
      text(ctx, name, left + mid, top + gridSize + 20, { align: 'center', size: 13 });
    }
  });
  text(ctx, 'Predicted class', left + gridSize / 2, height - 16, { align: 'center', size: 14, weight: 'bold' });
  text(ctx, 'True class', 24, top + gridSize / 2, { align: 'center', baseline: 'middle', size: 14, weight: 'bold', rotate: -Math.PI / 2 });

  // Colour bar: share of the true class.
  const bar: Box = { x: left + gridSize + 28, y: top, w: 18, h: gridSize };
  for (let i = 0; i < bar.h; i++) {
    ctx.fillStyle = blues(1 - i / bar.h);
    ctx.fillRect(bar.x, bar.y + i, bar.w, 1.5);
  }
  ctx.strokeStyle = AXIS;
  ctx.strokeRect(bar.x, bar.y, bar.w, bar.h);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const y = bar.y + bar.h - t * bar.h;
    ctx.beginPath();
    ctx.moveTo(bar.x + bar.w, y);
    ctx.lineTo(bar.x + bar.w + 4, y);
    ctx.stroke();
    text(ctx, `${t * 100}%`, bar.x + bar.w + 7, y, { baseline: 'middle', size: 11 });
  }
  text(ctx, 'share of true class', bar.x + bar.w + 52, bar.y + bar.h / 2, {
    align: 'center',
    baseline: 'middle',
    size: 11,
    rotate: Math.PI / 2,
    color: '#555555',
  });
  return canvas.encode('png');
}

function legend(ctx: SKRSContext2D, entries: { label: string; color: string; dash?: number[] }[], right: number, bottomY: number): void {
  const lineH = 20;
  const w = Math.max(...entries.map((e) => textWidth(ctx, e.label, 12))) + 46;
  const h = entries.length * lineH + 12;
  const x = right - w - 10;
  const y = bottomY - h - 10;
  ctx.save();
  ctx.fillStyle = 'rgba(255, 255, 255, 0.92)';
  ctx.strokeStyle = '#bbbbbb';
  ctx.fillRect(x, y, w, h);
  ctx.strokeRect(x, y, w, h);
  entries.forEach((e, i) => {
    const cy = y + 6 + i * lineH + lineH / 2;
    ctx.strokeStyle = e.color;
    ctx.lineWidth = 2.5;
    ctx.setLineDash(e.dash ?? []);
    ctx.beginPath();
    ctx.moveTo(x + 10, cy);
    ctx.lineTo(x + 34, cy);
    ctx.stroke();
    ctx.setLineDash([]);
    text(ctx, e.label, x + 40, cy, { baseline: 'middle', size: 12 });
  });
  ctx.restore();
}

/**
 * One-vs-rest ROC curves of every class in one PNG, with the chance diagonal and each class's AUC in the legend
 * (classes without an AUC are listed as "n/a"). Node only.
 * @param result Output of `MultiClassMetrics.compute()`.
 * @param options Scale and title.
 * @returns PNG bytes.
 */
export async function renderRocCurvesPng(result: MultiClassMetricsResult, options: PlotOptions = {}): Promise<Uint8Array> {
  const scale = options.scale ?? 2;
  const width = 620;
  const height = 620;
  const { canvas, ctx } = await newCanvas(width, height, scale);
  const box: Box = { x: 84, y: 64, w: 500, h: 480 };
  const macro = result.macro.auc === undefined ? 'n/a' : formatFixed(result.macro.auc, 4);
  title(ctx, options.title ?? `ROC curves, one vs rest (macro AUC ${macro})`, width, 34);
  unitAxes(ctx, box, 'False positive rate', 'True positive rate');
  const px = (v: number): number => box.x + v * box.w;
  const py = (v: number): number => box.y + box.h - v * box.h;
  dashedDiagonal(ctx, px, py, '#999999', 1.2); // chance
  const entries: { label: string; color: string; dash?: number[] }[] = [];
  result.roc.forEach((curve, c) => {
    const color = PALETTE[c % PALETTE.length];
    const auc = result.perClass[c].auc;
    entries.push(
      auc === undefined
        ? { label: `${result.classNames[c]} (no AUC: ${result.perClass[c].support ? 'only class' : 'absent'})`, color: '#cccccc' }
        : { label: `${result.classNames[c]} (AUC ${formatFixed(auc, 4)})`, color },
    );
    if (!curve) return;
    ctx.save();
    ctx.strokeStyle = color;
    ctx.lineWidth = 2.2;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    curve.fpr.forEach((f, i) => (i === 0 ? ctx.moveTo(px(f), py(curve.tpr[i])) : ctx.lineTo(px(f), py(curve.tpr[i]))));
    ctx.stroke();
    ctx.restore();
  });
  entries.push({ label: 'chance (AUC 0.5)', color: '#999999', dash: [6, 5] });
  legend(ctx, entries, box.x + box.w, box.y + box.h);
  return canvas.encode('png');
}

function reliabilityPanel(ctx: SKRSContext2D, panel: ReliabilityPanel, x0: number, y0: number): void {
  const box: Box = { x: x0 + 70, y: y0 + 40, w: 360, h: 340 };
  const hist: Box = { x: box.x, y: box.y + box.h + 14, w: box.w, h: 80 };
  const eceText = panel.eceInterval && Number.isFinite(panel.eceInterval.low) && Number.isFinite(panel.eceInterval.high)
    ? `ECE ${formatFixed(panel.ece, 3)} [${formatFixed(panel.eceInterval.low, 3)}, ${formatFixed(panel.eceInterval.high, 3)}]`
    : `ECE ${formatFixed(panel.ece, 4)}`;
  text(ctx, `${panel.label} (${eceText})`, box.x + box.w / 2, y0 + 22, {
    align: 'center',
    size: 14,
    weight: 'bold',
  });
  unitAxes(ctx, box, '', 'Accuracy', { xTickLabels: false });
  const px = (v: number): number => box.x + v * box.w;
  const py = (v: number): number => box.y + box.h - v * box.h;
  for (const b of panel.bins) {
    if (b.count === 0) continue;
    const x = px(b.lower) + 1;
    const w = px(b.upper) - px(b.lower) - 2;
    ctx.fillStyle = 'rgba(31, 119, 180, 0.85)';
    ctx.fillRect(x, py(b.accuracy), w, py(0) - py(b.accuracy));
    // Gap between accuracy and mean confidence: hatched red, like the usual reliability diagrams.
    const top = Math.min(b.accuracy, b.meanConfidence);
    const bottom = Math.max(b.accuracy, b.meanConfidence);
    ctx.fillStyle = 'rgba(214, 39, 40, 0.28)';
    ctx.fillRect(x, py(bottom), w, py(top) - py(bottom));
    ctx.strokeStyle = 'rgba(214, 39, 40, 0.9)';
    ctx.lineWidth = 1;
    ctx.strokeRect(x, py(bottom), w, py(top) - py(bottom));
  }
  dashedDiagonal(ctx, px, py, '#555555', 1.4); // perfect calibration
  const intervals = panel.intervals;
  if (intervals) {
    // Error bars of the bin accuracy (e.g. 95% per-person bootstrap), centred on the bin, with caps.
    ctx.save();
    ctx.strokeStyle = '#111111';
    ctx.lineWidth = 1.6;
    panel.bins.forEach((b, j) => {
      const iv = intervals[j];
      if (b.count === 0 || !iv || !Number.isFinite(iv.low) || !Number.isFinite(iv.high)) return;
      const cx = (px(b.lower) + px(b.upper)) / 2;
      const cap = Math.min(5, (px(b.upper) - px(b.lower)) / 3);
      ctx.beginPath();
      ctx.moveTo(cx, py(iv.low));
      ctx.lineTo(cx, py(iv.high));
      ctx.moveTo(cx - cap, py(iv.low));
      ctx.lineTo(cx + cap, py(iv.low));
      ctx.moveTo(cx - cap, py(iv.high));
      ctx.lineTo(cx + cap, py(iv.high));
      ctx.stroke();
    });
    ctx.restore();
  }
  ctx.save();
  const lx = box.x + 12;
  const ly = box.y + 12;
  const legendH = intervals ? 85 : 66;
  ctx.fillStyle = 'rgba(255, 255, 255, 0.92)';
  ctx.strokeStyle = '#bbbbbb';
  ctx.fillRect(lx, ly, 178, legendH);
  ctx.strokeRect(lx, ly, 178, legendH);
  if (intervals) {
    ctx.strokeStyle = '#111111';
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    ctx.moveTo(lx + 21, ly + 66);
    ctx.lineTo(lx + 21, ly + 78);
    ctx.moveTo(lx + 17, ly + 66);
    ctx.lineTo(lx + 25, ly + 66);
    ctx.moveTo(lx + 17, ly + 78);
    ctx.lineTo(lx + 25, ly + 78);
    ctx.stroke();
    text(ctx, '95% interval (people)', lx + 40, ly + 72, { baseline: 'middle', size: 12 });
  }
  ctx.fillStyle = 'rgba(31, 119, 180, 0.85)';
  ctx.fillRect(lx + 10, ly + 9, 22, 12);
  text(ctx, 'accuracy in bin', lx + 40, ly + 15, { baseline: 'middle', size: 12 });
  ctx.fillStyle = 'rgba(214, 39, 40, 0.28)';
  ctx.fillRect(lx + 10, ly + 28, 22, 12);
  ctx.strokeStyle = 'rgba(214, 39, 40, 0.9)';
  ctx.strokeRect(lx + 10, ly + 28, 22, 12);
  text(ctx, 'gap to confidence', lx + 40, ly + 34, { baseline: 'middle', size: 12 });
  ctx.strokeStyle = '#555555';
  ctx.lineWidth = 1.4;
  ctx.setLineDash([6, 5]);
  ctx.beginPath();
  ctx.moveTo(lx + 10, ly + 53);
  ctx.lineTo(lx + 32, ly + 53);
  ctx.stroke();
  ctx.setLineDash([]);
  text(ctx, 'perfect calibration', lx + 40, ly + 53, { baseline: 'middle', size: 12 });
  ctx.restore();

  // Sample share per bin underneath, so that sparse bins are read with care.
  const total = panel.bins.reduce((a, b) => a + b.count, 0) || 1;
  const maxShare = Math.max(...panel.bins.map((b) => b.count / total), 1e-9);
  ctx.strokeStyle = AXIS;
  ctx.lineWidth = 1;
  ctx.strokeRect(hist.x, hist.y, hist.w, hist.h);
  for (const b of panel.bins) {
    if (b.count === 0) continue;
    const h = ((b.count / total) / maxShare) * (hist.h - 6);
    ctx.fillStyle = '#7f7f7f';
    ctx.fillRect(px(b.lower) + 1, hist.y + hist.h - h, px(b.upper) - px(b.lower) - 2, h);
  }
  for (const t of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
    const x = px(t);
    ctx.beginPath();
    ctx.moveTo(x, hist.y + hist.h);
    ctx.lineTo(x, hist.y + hist.h + 5);
    ctx.stroke();
    text(ctx, t.toFixed(1), x, hist.y + hist.h + 19, { align: 'center', size: 12 });
  }
  // Bars are scaled to the fullest bin: label the top with its share and the bottom with 0.
  text(ctx, `${(maxShare * 100).toFixed(0)}%`, hist.x - 9, hist.y + 6, { align: 'right', baseline: 'middle', size: 11 });
  text(ctx, '0', hist.x - 9, hist.y + hist.h, { align: 'right', baseline: 'middle', size: 11 });
  text(ctx, 'Samples', hist.x - 48, hist.y + hist.h / 2, { align: 'center', size: 13, rotate: -Math.PI / 2 });
  text(ctx, 'Confidence (top-label probability)', box.x + box.w / 2, hist.y + hist.h + 42, { align: 'center', size: 14 });
}

/**
 * Reliability diagram(s) as a PNG: per confidence bin, accuracy against mean confidence with the gap shaded,
 * the perfect-calibration diagonal, and the share of samples per bin underneath. Pass two panels to show
 * before and after temperature scaling side by side. Node only.
 * @param panels One panel per diagram (usually 1 or 2).
 * @param options Scale and title.
 * @returns PNG bytes.
 */
export async function renderReliabilityDiagramPng(panels: ReliabilityPanel[], options: PlotOptions = {}): Promise<Uint8Array> {
  const scale = options.scale ?? 2;
  const panelW = 460;
  const width = panelW * Math.max(panels.length, 1) + 20;
  const height = 595;
  const { canvas, ctx } = await newCanvas(width, height, scale);
  title(ctx, options.title ?? 'Reliability diagram', width, 30);
  panels.forEach((p, i) => reliabilityPanel(ctx, p, 10 + i * panelW, 50));
  return canvas.encode('png');
}

/** One sample of {@link renderHistogramsPng}. */
export interface HistogramSeries {
  /** Legend label, e.g. the file name. */
  label: string;
  /** The values. */
  values: ArrayLike<number>;
}

/**
 * Overlaid histograms of several samples on shared bins, each as the share of its own rows per bin (so that files of
 * different sizes compare), e.g. the head footprints of a training and a test file. Node only.
 * @param series Samples to draw (one colour each).
 * @param options Scale, title, x-axis label and number of bins (default 40).
 * @returns PNG bytes.
 */
export async function renderHistogramsPng(
  series: HistogramSeries[],
  options: PlotOptions & { xLabel?: string; bins?: number } = {},
): Promise<Uint8Array> {
  const scale = options.scale ?? 2;
  const width = 720;
  const height = 460;
  const { canvas, ctx } = await newCanvas(width, height, scale);
  const box: Box = { x: 84, y: 84, w: 600, h: 300 };
  title(ctx, options.title ?? 'Histogram', width, 32);
  // The legend sits in one row above the plot, where it can never hide a bar.
  const labels = series.map((s) => `${s.label} (${s.values.length} rows)`);
  const rowWidth = labels.reduce((w, l) => w + 20 + textWidth(ctx, l, 12) + 24, -24);
  let lx = (width - rowWidth) / 2;
  labels.forEach((l, k) => {
    ctx.fillStyle = PALETTE[k % PALETTE.length];
    ctx.globalAlpha = 0.55;
    ctx.fillRect(lx, 56, 14, 14);
    ctx.globalAlpha = 1;
    text(ctx, l, lx + 20, 63, { baseline: 'middle', size: 12 });
    lx += 20 + textWidth(ctx, l, 12) + 24;
  });
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) for (let i = 0; i < s.values.length; i++) {
    lo = Math.min(lo, s.values[i]);
    hi = Math.max(hi, s.values[i]);
  }
  if (!Number.isFinite(lo)) lo = hi = 0;
  if (hi === lo) hi = lo + 1;
  const bins = Math.max(1, Math.floor(options.bins ?? 40));
  const step = (hi - lo) / bins;
  const shares = series.map((s) => {
    const counts = new Float64Array(bins);
    for (let i = 0; i < s.values.length; i++) counts[Math.min(bins - 1, Math.floor((s.values[i] - lo) / step))]++;
    return counts.map((c) => (s.values.length ? c / s.values.length : 0));
  });
  const top = 1.08 * Math.max(1e-9, ...shares.flatMap((s) => Array.from(s)));
  const px = (v: number): number => box.x + ((v - lo) / (hi - lo)) * box.w;
  const py = (share: number): number => box.y + box.h - (share / top) * box.h;
  ctx.save();
  ctx.strokeStyle = GRID;
  for (let t = 0; t <= 4; t++) {
    const y = box.y + box.h - (t / 4) * box.h;
    ctx.beginPath();
    ctx.moveTo(box.x, y);
    ctx.lineTo(box.x + box.w, y);
    ctx.stroke();
    text(ctx, `${((100 * t * top) / 4).toFixed(1)}%`, box.x - 9, y, { align: 'right', baseline: 'middle', size: 12 });
  }
  shares.forEach((s, k) => {
    ctx.fillStyle = PALETTE[k % PALETTE.length];
    ctx.globalAlpha = 0.55;
    s.forEach((share, b) => {
      if (share > 0) ctx.fillRect(px(lo + b * step), py(share), Math.max(1, px(lo + (b + 1) * step) - px(lo + b * step) - 1), box.y + box.h - py(share));
    });
  });
  ctx.globalAlpha = 1;
  ctx.strokeStyle = AXIS;
  ctx.strokeRect(box.x, box.y, box.w, box.h);
  ctx.restore();
  for (let t = 0; t <= 5; t++) {
    const v = lo + (t / 5) * (hi - lo);
    text(ctx, v.toFixed(3), px(v), box.y + box.h + 19, { align: 'center', size: 12 });
  }
  if (options.xLabel) text(ctx, options.xLabel, box.x + box.w / 2, box.y + box.h + 44, { align: 'center', size: 14 });
  text(ctx, 'share of rows', box.x - 58, box.y + box.h / 2, { align: 'center', size: 14, rotate: -Math.PI / 2 });
  return canvas.encode('png');
}
