// `neurostagenet predict ... --out results.csv`: batch scoring that a job scheduler can fan out. Every input row
// (Parquet rows, image files, folders of images, the slices of scans) gets one CSV row; `--shard i/n` scores a
// contiguous 1/n of the rows (the same rows on every machine given the same inputs), `--resume` skips the rows an
// earlier, killed run already wrote; memory holds one Parquet file's bytes and one window's pixels at a time.
import { readdirSync, statSync } from 'node:fs';
import { appendFile, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ParquetImageDataset } from '../data/dataset.js';
import { EmptyDatasetError } from '../data/errors.js';
import { parquetRowCount } from '../data/parquet.js';
import { readVolume } from '../data/volume/read.js';
import { applyTemperature } from '../metrics/calibration.js';
import { predictVolume } from '../models/predict-volume.js';
import type { PretrainedNeuroStageNet } from '../models/pretrained.js';
import { UsageError, stringOption, type Values } from './args.js';
import type { CliContext, OutStream } from './context.js';
import { EXIT_ALL_REFUSED, predictAll, rowsOf } from './inference.js';
import { isVolumePath, openInputs } from './inputs.js';

/** Options of batch scoring (on `predict`). */
export const SCORE_OPTIONS = {
  out: { type: 'string' },
  shard: { type: 'string' },
  resume: { type: 'boolean' },
  window: { type: 'string' },
} as const;

/** Help lines of the scoring options. */
export const SCORE_HELP = `  --out FILE.csv          batch scoring: one CSV row per input row (Parquet rows, image files, folders
                          of images, scan slices): source,row,subject,slice,stage,p_<class>...,
                          input_check,reason; progress and throughput on stderr, a summary line on stdout
  --shard I/N             score only the I-th of N contiguous parts of the rows (1-based; the same rows
                          on every machine for the same inputs): one part per job of an array
  --resume                keep the rows FILE already has (a killed run) and score the rest
  --window N              Parquet rows decoded at a time (default 1024; memory is one window's pixels)`;

/** A shard: the `index`-th (0-based) of `count` parts. */
interface Shard {
  index: number;
  count: number;
}

/** One input as scored: a Parquet file (many rows), an image file (one row) or a scan (one unit, a row per slice). */
interface Segment {
  source: string;
  kind: 'parquet' | 'image' | 'volume';
  /** Units: Parquet rows, else 1. */
  units: number;
}

const IMAGE_NAME = /\.(png|jpe?g)$/i;
const SILENT: OutStream = { write: () => true, isTTY: false };

/** Parses `--shard I/N` (1-based on the command line). */
export function shardOption(values: Values, command: string): Shard | undefined {
  const raw = stringOption(values, 'shard');
  if (raw === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(raw);
  const i = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!(Number.isInteger(i) && Number.isInteger(n) && n >= 1 && i >= 1 && i <= n)) {
    throw new UsageError(`--shard must be I/N with 1 <= I <= N (e.g. 2/8), got '${raw}'`, command);
  }
  return { index: i - 1, count: n };
}

// Inputs in command-line order; a folder of PNG/JPEG files gives its images sorted by name (byte order: the same on
// every machine), any other folder is a DICOM series.
async function listSegments(paths: readonly string[], command: string): Promise<Segment[]> {
  const segments: Segment[] = [];
  for (const path of paths) {
    if (statSync(path).isDirectory()) {
      const images = readdirSync(path).filter((f) => IMAGE_NAME.test(f) && !f.startsWith('.')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (images.length > 0) {
        for (const f of images) segments.push({ source: join(path, f), kind: 'image', units: 1 });
        continue;
      }
    }
    if (isVolumePath(path)) {
      segments.push({ source: path, kind: 'volume', units: 1 });
      continue;
    }
    const bytes = new Uint8Array(await readFile(path));
    const head = bytes.subarray(0, 4);
    if (String.fromCharCode(...head) === 'PAR1') segments.push({ source: path, kind: 'parquet', units: parquetRowCount(bytes, path) });
    else if (IMAGE_NAME.test(path) || head[0] === 0x89 || head[0] === 0xff) segments.push({ source: path, kind: 'image', units: 1 });
    else throw new UsageError(`'${path}' is not a Parquet file, a PNG / JPEG image, a scan or a folder of images`, command);
  }
  return segments;
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// Splits one CSV line written by csvField (quoted fields may hold commas and doubled quotes).
function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let j = i + 1;
      let s = '';
      while (j < line.length) {
        if (line[j] === '"' && line[j + 1] === '"') { s += '"'; j += 2; } else if (line[j] === '"') break; else s += line[j++];
      }
      out.push(s);
      i = j + 2;
    } else {
      const j = line.indexOf(',', i);
      out.push(line.slice(i, j < 0 ? line.length : j));
      i = j < 0 ? line.length + 1 : j + 1;
    }
  }
  return out;
}

/** Rows an earlier run wrote (`source` NUL `row` -> byte offset of its line); a partly written last line is cut off. */
async function resumeFrom(out: string, header: string): Promise<{ done: Map<string, number>; doneSources: Set<string>; rows: number }> {
  const bytes = await readFile(out);
  const complete = bytes.lastIndexOf(0x0a) + 1;
  if (complete < bytes.length) await truncate(out, complete);
  const done = new Map<string, number>();
  const doneSources = new Set<string>();
  if (complete === 0) {
    await writeFile(out, `${header}\n`);
    return { done, doneSources, rows: 0 };
  }
  let start = 0;
  let rows = -1;
  while (start < complete) {
    const end = bytes.indexOf(0x0a, start);
    const text = bytes.toString('utf8', start, end);
    if (rows < 0 && text !== header) {
      throw new UsageError(`--resume: ${out} has the columns '${text}', not '${header}' (another model or class names?): give a new --out`, 'predict');
    }
    if (rows >= 0) {
      const [source, row] = parseCsvLine(text);
      done.set(`${source}\u0000${row}`, start);
      doneSources.add(source);
    }
    rows++;
    start = end + 1;
  }
  return { done, doneSources, rows };
}

/** Counts of one scoring run. */
interface Tally {
  scored: number;
  refused: number;
  unreadable: number;
  resumed: number;
}

/**
 * Scores `paths` into a CSV file: see the module comment. Returns the exit code: 0, or 3 when every row scored was
 * refused by the input check.
 */
export async function scoreToCsv(paths: string[], model: PretrainedNeuroStageNet, values: Values, options: { batchSize: number; allowUnchecked: boolean }, ctx: CliContext): Promise<number> {
  const out = stringOption(values, 'out') as string;
  const shard = shardOption(values, 'predict') ?? { index: 0, count: 1 };
  const windowRaw = stringOption(values, 'window') ?? '1024';
  const window = Number(windowRaw);
  if (!(Number.isInteger(window) && window >= 1)) throw new UsageError(`--window must be a positive integer, got '${windowRaw}'`, 'predict');
  const names = model.classNames;
  const k = names.length;
  const header = ['source', 'row', 'subject', 'slice', 'stage', ...names.map((n) => `p_${n}`), 'input_check', 'reason'].join(',');
  const segments = await listSegments(paths, 'predict');
  const total = segments.reduce((s, g) => s + g.units, 0);
  // Contiguous parts, cut at multiples of the batch size, and batches at multiples of it in every run: each row is
  // classified in the same batch (same numbers, to the last bit on any backend) sharded or not, resumed or not.
  const B = options.batchSize;
  const batches = Math.ceil(total / B);
  const lo = Math.min(total, Math.floor((shard.index * batches) / shard.count) * B);
  const hi = Math.min(total, Math.floor(((shard.index + 1) * batches) / shard.count) * B);
  const W = Math.ceil(window / B) * B;
  let previous = { done: new Map<string, number>(), doneSources: new Set<string>(), rows: 0 };
  const exists = await stat(out).then((s) => s.isFile(), () => false);
  if (values.resume && exists) previous = await resumeFrom(out, header);
  else await writeFile(out, `${header}\n`);
  const tally: Tally = { scored: 0, refused: 0, unreadable: 0, resumed: previous.rows };
  const T = model.temperature;
  const line = (source: string, row: number, subject: string, slice: string | number, probs: ArrayLike<number> | undefined, verdict: string, reason = '') => {
    const stage = probs ? names[Array.prototype.indexOf.call(probs, Math.max(...Array.from(probs)))] : '';
    const p = probs ? Array.from(probs, (v) => Number(v).toPrecision(6)) : new Array<string>(k).fill('');
    return [source, row, subject, slice, stage, ...p, verdict, reason].map(csvField).join(',');
  };
  const calibrated = (logits: Float32Array, probabilities: Float32Array): ArrayLike<number>[] =>
    T === 1 ? rowsOf(probabilities, k) : applyTemperature(rowsOf(logits, k), T);
  const verdictOf = (inputCheck: string) => (inputCheck === 'checked' ? 'accepted' : inputCheck);

  const t0 = performance.now();
  let unitBase = 0;
  let lastReport = 0;
  const report = (force = false) => {
    const now = performance.now();
    if (!force && now - lastReport < 2000) return;
    lastReport = now;
    const s = (now - t0) / 1000;
    ctx.note(`scored ${tally.scored + tally.refused + tally.unreadable} rows of shard ${shard.index + 1}/${shard.count} (${hi - lo} units), ${(tally.scored / Math.max(s, 1e-9)).toFixed(1)} rows/s`);
  };
  for (const seg of segments) {
    const a = Math.max(lo, unitBase) - unitBase;
    const b = Math.min(hi, unitBase + seg.units) - unitBase;
    unitBase += seg.units;
    if (a >= b) continue;
    if (seg.kind === 'parquet') {
      const bytes = new Uint8Array(await readFile(seg.source));
      const base = unitBase - seg.units; // global unit of the file's row 0
      // Windows and batches start at global multiples of W and B (clipped to this file and shard).
      for (let ws = a; ws < b; ws = Math.min(b, (Math.floor((base + ws) / W) + 1) * W - base)) {
        const we = Math.min(b, (Math.floor((base + ws) / W) + 1) * W - base);
        const batchRows: number[][] = [];
        for (let bs = ws; bs < we; bs = Math.min(we, (Math.floor((base + bs) / B) + 1) * B - base)) {
          const be = Math.min(we, (Math.floor((base + bs) / B) + 1) * B - base);
          const rows = Array.from({ length: be - bs }, (_, i) => bs + i);
          const present = rows.filter((r) => previous.done.has(`${seg.source}\u0000${r}`));
          if (present.length === rows.length) continue;
          if (present.length > 0) {
            // A batch cut short by a kill: it was the last one written; drop its rows and score it whole again.
            const offset = Math.min(...present.map((r) => previous.done.get(`${seg.source}\u0000${r}`)!));
            if ([...previous.done.values()].some((o) => o > offset && !present.some((r) => previous.done.get(`${seg.source}\u0000${r}`) === o))) {
              throw new UsageError(`--resume: ${out} holds part of rows ${bs}..${be - 1} of ${seg.source} and rows after them: it was not written by one run of these inputs; give a new --out`, 'predict');
            }
            await truncate(out, offset);
            for (const r of present) previous.done.delete(`${seg.source}\u0000${r}`);
            tally.resumed -= present.length;
          }
          batchRows.push(rows);
        }
        if (batchRows.length === 0) continue;
        const first = batchRows[0][0];
        const last = batchRows[batchRows.length - 1][batchRows[batchRows.length - 1].length - 1];
        let ds: ParquetImageDataset;
        try {
          ds = await ParquetImageDataset.fromFile(bytes, {
            name: seg.source, rows: [first, last + 1], targetSize: model.imageSize, onError: 'skip', cache: true, parallel: { threshold: 256 },
            imageColumn: stringOption(values, 'image-column'), labelColumn: stringOption(values, 'label-column'),
          });
        } catch (e) {
          if (!(e instanceof EmptyDatasetError)) throw e;
          const rows = batchRows.flat();
          await appendFile(out, `${rows.map((r) => line(seg.source, r, '', '', undefined, 'unreadable', e.reason)).join('\n')}\n`);
          tally.unreadable += rows.length;
          continue;
        }
        const byRow = new Map<number, number>();
        ds.sourceRows.forEach((r, i) => byRow.set(r, i));
        const skipped = new Map(ds.skipped.map((x) => [x.row, x.reason]));
        for (const rows of batchRows) {
          const wanted = rows.filter((r) => byRow.has(r)).map((r) => byRow.get(r)!);
          const result = new Map<number, string>();
          if (wanted.length > 0) {
            const pred = await predictAll(model.model, ds, { indices: wanted, batchSize: B, stream: SILENT, allowUnchecked: options.allowUnchecked });
            const probs = calibrated(pred.logits, pred.probabilities);
            pred.indices.forEach((i, j) => result.set(i, line(seg.source, ds.sourceRows[i], ds.subjects?.[i] ?? '', ds.slices?.[i] ?? '', probs[j], verdictOf(pred.inputCheck))));
            for (const r of pred.refused) result.set(r.row, line(seg.source, ds.sourceRows[r.row], ds.subjects?.[r.row] ?? '', ds.slices?.[r.row] ?? '', undefined, 'refused', r.reason));
            tally.scored += pred.indices.length;
            tally.refused += pred.refused.length;
          }
          tally.unreadable += rows.length - wanted.length;
          const lines = rows.map((r) => (byRow.has(r) ? result.get(byRow.get(r)!)! : line(seg.source, r, '', '', undefined, 'unreadable', skipped.get(r) ?? 'unreadable')));
          await appendFile(out, `${lines.join('\n')}\n`);
          report();
        }
      }
    } else if (seg.kind === 'image') {
      if (previous.done.has(`${seg.source}\u00000`)) continue;
      const input = await openInputs([seg.source], values, model, 'predict');
      const pred = await predictAll(input.model.model, input.source, { batchSize: 1, stream: SILENT, allowUnchecked: options.allowUnchecked });
      const text = pred.refused.length > 0
        ? line(seg.source, 0, '', '', undefined, 'refused', pred.refused[0].reason)
        : line(seg.source, 0, '', '', calibrated(pred.logits, pred.probabilities)[0], verdictOf(pred.inputCheck));
      if (pred.refused.length > 0) tally.refused++;
      else tally.scored++;
      await appendFile(out, `${text}\n`);
      report();
    } else {
      if (previous.doneSources.has(seg.source)) continue;
      const volume = await readVolume(seg.source, { series: stringOption(values, 'series') });
      const result = await predictVolume(model, volume, { allowUnchecked: options.allowUnchecked, batchSize: options.batchSize });
      const lines = result.slices.map((s, i) => {
        const verdict = result.inputCheck === 'checked' ? (s.accepted ? 'accepted' : 'refused') : result.inputCheck;
        if (s.probabilities) tally.scored++;
        else tally.refused++;
        return line(seg.source, i, seg.source, s.levelMm.toFixed(1), s.probabilities, verdict, s.reason ?? '');
      });
      await appendFile(out, `${lines.join('\n')}\n`);
      report();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  report(true);
  // One line a scheduler can parse: key=value pairs.
  ctx.print(`scored=${tally.scored} refused=${tally.refused} unreadable=${tally.unreadable} resumed=${tally.resumed} shard=${shard.index + 1}/${shard.count} ` +
    `units=${hi - lo}/${total} seconds=${seconds.toFixed(1)} rows_per_s=${(tally.scored / Math.max(seconds, 1e-9)).toFixed(1)} out=${out}`);
  return tally.scored === 0 && tally.refused > 0 ? EXIT_ALL_REFUSED : 0;
}
