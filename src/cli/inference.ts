// Classifying a whole source with progress: evaluate() chunk by chunk (it returns probabilities and logits).
import { evaluate } from '../train/evaluate.js';
import type { LabeledImageSource } from '../data/types.js';
import type { OutStream } from './context.js';
import { startProgress } from './progress.js';

/** Predictions of a pass over a source. */
export interface Predictions {
  /** Source rows, in the order of the arrays below. */
  indices: Int32Array;
  /** Labels of those rows (meaningless for unlabelled inputs). */
  labels: Int32Array;
  /** Model probabilities, row-major `[N * K]`. */
  probabilities: Float32Array;
  /** Pre-softmax scores, row-major `[N * K]`. */
  logits: Float32Array;
  /** K. */
  numClasses: number;
}

/**
 * Runs the model over `indices` (default all rows) of `source` in chunks of `batchSize`, reporting progress.
 */
export async function predictAll(
  model: Parameters<typeof evaluate>[0],
  source: LabeledImageSource,
  options: { indices?: ArrayLike<number>; batchSize: number; stream: OutStream; label?: string },
): Promise<Predictions> {
  const rows = options.indices ? Int32Array.from(options.indices) : Int32Array.from({ length: source.length }, (_, i) => i);
  const progress = await startProgress(options.label ?? 'classifying', rows.length, options.stream);
  const parts: Awaited<ReturnType<typeof evaluate>>[] = [];
  try {
    for (let start = 0; start < rows.length; start += options.batchSize) {
      const chunk = rows.subarray(start, Math.min(rows.length, start + options.batchSize));
      parts.push(await evaluate(model, source, { indices: chunk, batchSize: options.batchSize }));
      progress.update(start + chunk.length);
    }
  } finally {
    progress.stop();
  }
  const k = parts[0]?.numClasses ?? (model.outputs[0].shape[1] as number);
  const concat = (pick: (p: (typeof parts)[number]) => Float32Array | Int32Array, Type: Float32ArrayConstructor | Int32ArrayConstructor) => {
    const out = new Type(parts.reduce((n, p) => n + pick(p).length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(pick(p), o);
      o += pick(p).length;
    }
    return out;
  };
  return {
    indices: concat((p) => p.indices, Int32Array) as Int32Array,
    labels: concat((p) => p.labels, Int32Array) as Int32Array,
    probabilities: concat((p) => p.probabilities, Float32Array) as Float32Array,
    logits: concat((p) => p.logits, Float32Array) as Float32Array,
    numClasses: k,
  };
}

/** Rows of a flat `[N * K]` array as subarrays. */
export function rowsOf(flat: Float32Array, k: number): Float32Array[] {
  return Array.from({ length: flat.length / k }, (_, i) => flat.subarray(i * k, (i + 1) * k));
}

/** Up to `perClass` rows of each class, interleaved (class 0, 1, 2, ... then the next of each). */
export function rowsPerClass(labels: Int32Array, numClasses: number, count: number): number[] {
  const byClass = Array.from({ length: numClasses }, (_, c) => Array.from(labels.keys()).filter((i) => labels[i] === c));
  const rows: number[] = [];
  for (let k = 0; rows.length < count && byClass.some((l) => k < l.length); k++) {
    for (const list of byClass) if (k < list.length && rows.length < count) rows.push(list[k]);
  }
  return rows;
}
