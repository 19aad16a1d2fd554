/** Formats bench results as a Markdown report (the console shows the same text). */
import type { BackendResult, ChildOptions, Figure } from './types.js';

/** What bench/keras_bench.py prints (only the fields the report reads). */
export interface KerasResult {
  keras: string;
  tensorflow: string;
  python: string;
  jit_compile?: boolean;
  compile: string;
  batch: number;
  steps: number;
  warmup: number;
  results: Record<string, { img_per_s: number; median_ms: number; steps: number; times_ms: number[]; trainable_params?: number } | number>;
  peak_rss_mb: number;
}

/** Context printed above the tables. */
export interface ReportContext extends Pick<ChildOptions, 'batch' | 'size' | 'steps' | 'warmup' | 'inferSteps' | 'budgetS'> {
  date: string;
  command: string;
  machine: string[];
  quick: boolean;
  keras: KerasResult | null;
  kerasNote: string | null;
  results: BackendResult[];
  seconds: number;
}

const MARK: Partial<Record<Figure['status'], string>> = { reduced: '†', 'too-slow': '*' };

function num(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

function imgCell(f: Figure | undefined): string {
  if (f == null) return '–';
  if (f.status === 'error') return 'error';
  if (f.status === 'unavailable') return 'n/a';
  const v = num(f.imgPerS!);
  return f.status === 'too-slow' ? `~${v}${MARK[f.status]}` : `${v}${MARK[f.status] ?? ''}`;
}

function msPerImageCell(f: Figure | undefined): string {
  if (f == null) return '–';
  if (f.status === 'error') return 'error';
  if (f.status === 'unavailable') return 'n/a';
  const v = num(1000 / f.imgPerS!);
  return f.status === 'too-slow' ? `~${v}${MARK[f.status]}` : `${v}${MARK[f.status] ?? ''}`;
}

function kerasFigure(k: KerasResult | null, key: string): number | undefined {
  const r = k?.results[key];
  return typeof r === 'object' && r != null ? r.img_per_s : undefined;
}

function ratioCell(f: Figure | undefined, keras: number | undefined): string {
  if (f?.imgPerS == null || keras == null || f.status === 'error' || f.status === 'unavailable') return '–';
  const r = f.imgPerS / keras;
  const v = r >= 0.1 ? r.toFixed(2) : r.toPrecision(2);
  return `${f.status === 'too-slow' ? '~' : ''}${v}${MARK[f.status] ?? ''}`;
}

/** The Markdown report: context, main table, tfjs/Keras ratios, notes. */
export function formatReport(c: ReportContext): string {
  const b = c.batch;
  const lines: string[] = [];
  lines.push(`# NeuroStageNet benchmark, ${c.date}`, '');
  if (c.quick) lines.push('**Quick run** (`--quick`): fewer timed steps than the ≥5 the full bench uses; figures are indicative.', '');
  lines.push(`Command: \`${c.command}\` (${c.seconds.toFixed(0)} s)`, '');
  lines.push(...c.machine.map((m) => `- ${m}`));
  lines.push(
    `- Model: NeuroStageNet (src/models buildNeuroStageNet / Keras golden build_neurostagenet), ${c.size}×${c.size}×1, random weights;`
      + ' compile: Adam 5e-4, CCE label smoothing 0.15, accuracy.',
    `- Method: median of ${c.steps} timed steps after ${c.warmup} warm-up (batch-1 figures: ${c.inferSteps} steps); each backend in its own`
      + ` process (peak RSS per process); time budget ${c.budgetS} s per figure (beyond it: † fewer steps, * estimate — see notes).`,
    '- Inference: `model.predict` + `data()` (tfjs), `predict_on_batch` (Keras). Training: `trainOnBatch` / `train_on_batch`, batch '
      + `${b}; fine-tune = backbone layers < 150 frozen (Keras C4), all = everything trainable. Grad-CAM: \`new GradCAM(model).explain(x)\``
      + ' (default target layer), ms per image.',
    '',
  );

  const rows: string[][] = [];
  for (const r of c.results) {
    if (!r.ok || r.figures == null) {
      rows.push([`tfjs ${r.backend}`, 'error', 'error', 'error', 'error', '–', '–', r.peakRssMiB.toFixed(0)]);
      continue;
    }
    const f = r.figures;
    rows.push([
      `tfjs ${r.backend}`, imgCell(f.inferB1), imgCell(f.inferBatch), imgCell(f.trainFineTune), imgCell(f.trainAll),
      msPerImageCell(f.gradcamB1), msPerImageCell(f.gradcamBatch), r.peakRssMiB.toFixed(0),
    ]);
    if (f.optimized) {
      const g = f.optimized;
      rows.push([`tfjs ${r.backend}, optimizeForInference (${g.folded} BN folded)`, imgCell(g.inferB1), imgCell(g.inferBatch), '–', '–',
        msPerImageCell(g.gradcamB1), msPerImageCell(g.gradcamBatch), '']);
    }
  }
  if (c.keras != null) {
    const k = c.keras;
    const cell = (key: string) => {
      const v = kerasFigure(k, key);
      return v == null ? '–' : num(v);
    };
    rows.push([`Keras ${k.keras} (TF ${k.tensorflow})`, cell('infer_b1'), cell(`infer_b${k.batch}`), cell('train_ft'), cell('train_all'),
      'n/a', 'n/a', k.peak_rss_mb.toFixed(0)]);
  }
  lines.push(
    `| backend | infer b1 img/s | infer b${b} img/s | train fine-tune b${b} img/s | train all b${b} img/s | Grad-CAM b1 ms/img | Grad-CAM b${b} ms/img | peak RSS MiB |`,
    '|---|--:|--:|--:|--:|--:|--:|--:|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  );

  if (c.keras != null) {
    const k = c.keras;
    lines.push(`Ratio tfjs / Keras (img/s; > 1 = tfjs faster):`, '',
      `| backend | infer b1 | infer b${b} | train fine-tune | train all |`, '|---|--:|--:|--:|--:|');
    for (const r of c.results) {
      const f = r.figures;
      lines.push(`| tfjs ${r.backend} | ${ratioCell(f?.inferB1, kerasFigure(k, 'infer_b1'))} | ${ratioCell(f?.inferBatch, kerasFigure(k, `infer_b${k.batch}`))}`
        + ` | ${ratioCell(f?.trainFineTune, kerasFigure(k, 'train_ft'))} | ${ratioCell(f?.trainAll, kerasFigure(k, 'train_all'))} |`);
      if (f?.optimized) {
        lines.push(`| tfjs ${r.backend}, optimizeForInference | ${ratioCell(f.optimized.inferB1, kerasFigure(k, 'infer_b1'))} | ${ratioCell(f.optimized.inferBatch, kerasFigure(k, `infer_b${k.batch}`))} | – | – |`);
      }
    }
    lines.push('');
  } else {
    lines.push(`Keras: not measured (${c.kerasNote ?? 'unknown reason'}).`, '');
  }

  // Load from other processes only ever adds time, so the fastest step is a useful second view on a busy machine.
  const best = (times: number[] | undefined, batch: number) => (times?.length ? num((batch * 1000) / Math.min(...times)) : '–');
  const kBest = (key: string, batch: number) => {
    const r = c.keras?.results[key];
    return typeof r === 'object' && r != null ? best(r.times_ms, batch) : '–';
  };
  lines.push(`Fastest timed step, img/s (same runs; less sensitive to other load on the machine):`, '',
    `| backend | infer b1 | infer b${b} | train fine-tune | train all |`, '|---|--:|--:|--:|--:|');
  for (const r of c.results) {
    const f = r.figures;
    const cell = (x: Figure | undefined) => (x == null || x.status === 'too-slow' || x.status === 'error' || x.status === 'unavailable' ? '–' : best(x.timesMs, x.batch));
    lines.push(`| tfjs ${r.backend} | ${cell(f?.inferB1)} | ${cell(f?.inferBatch)} | ${cell(f?.trainFineTune)} | ${cell(f?.trainAll)} |`);
  }
  if (c.keras != null) {
    lines.push(`| Keras | ${kBest('infer_b1', 1)} | ${kBest(`infer_b${c.keras.batch}`, c.keras.batch)} | ${kBest('train_ft', c.keras.batch)} | ${kBest('train_all', c.keras.batch)} |`);
  }
  lines.push('');

  const notes: string[] = [];
  for (const r of c.results) {
    const info = Object.entries(r.info).map(([key, v]) => `${key} ${String(v)}`).join(', ');
    const extra = [
      info,
      r.wasmHeapMiB != null ? `wasm heap ${r.wasmHeapMiB.toFixed(0)} MiB` : '',
      r.tensorDelta != null ? `tensor delta ${r.tensorDelta}` : '',
      r.trainableParams ? `trainable params ${r.trainableParams.fineTune} (fine-tune) / ${r.trainableParams.all} (all)` : '',
      `${r.seconds.toFixed(0)} s`,
    ].filter((s) => s !== '').join('; ');
    notes.push(`tfjs ${r.backend}: ${r.ok ? extra : `failed: ${r.error}`}`);
    for (const f of Object.values(r.figures ?? {})) if (f.note) notes.push(`tfjs ${r.backend}: ${f.note}`);
  }
  if (c.keras != null) {
    const k = c.keras;
    notes.push(`Keras: python ${k.python}, jit_compile ${String(k.jit_compile ?? 'n/a')}, compile: ${k.compile}; ${k.steps} timed steps after ${k.warmup} warm-up`);
  }
  if (c.kerasNote && c.keras != null) notes.push(`Keras: ${c.kerasNote}`);
  if (notes.length) lines.push('Notes:', '', ...notes.map((n) => `- ${n}`), '');
  lines.push('Legend: † fewer timed steps than requested (time budget); * not run at this batch, estimated from a small-batch probe; n/a not available.', '');
  return lines.join('\n');
}
