/** Result shapes exchanged between bench/bench.ts and its per-backend child processes. */

/** How a figure was obtained. */
export type FigureStatus =
  /** median of the requested number of timed steps after warm-up */
  | 'measured'
  /** timed with fewer steps than requested because the full run would exceed the time budget */
  | 'reduced'
  /** not run at the requested batch: too slow for the budget; `imgPerS` is an estimate from a small probe */
  | 'too-slow'
  /** the feature is missing (e.g. no GradCAM in src/explain) */
  | 'unavailable'
  /** it threw; see `note` */
  | 'error';

/** One measured (or estimated) figure. */
export interface Figure {
  status: FigureStatus;
  /** Images per second (measured median, or the estimate for 'too-slow'). */
  imgPerS?: number;
  /** Median wall time of one step, ms (for 'too-slow': the extrapolated time at the full batch). */
  medianMs?: number;
  /** Batch size of the timed steps (for 'too-slow': the probe's batch). */
  batch: number;
  /** Timed steps behind the median. */
  steps: number;
  /** Untimed warm-up steps before them. */
  warmup: number;
  /** Every timed step, ms. */
  timesMs?: number[];
  /** Why the figure is reduced / estimated / missing. */
  note?: string;
}

/** Figures a backend child reports. */
export interface BackendFigures {
  inferB1: Figure;
  inferBatch: Figure;
  trainFineTune: Figure;
  trainAll: Figure;
  gradcamB1: Figure;
  gradcamBatch: Figure;
  /** The same inference and Grad-CAM on optimizeForInference's copy (what predict, evaluate and the page run). */
  optimized?: { inferB1: Figure; inferBatch: Figure; gradcamB1: Figure; gradcamBatch: Figure; folded: number };
}

/** Everything one backend child reports. */
export interface BackendResult {
  backend: string;
  ok: boolean;
  error?: string;
  /** e.g. tfjs-core version, libtensorflow version, wasm SIMD/threads flags. */
  info: Record<string, string | number | boolean>;
  figures?: BackendFigures;
  /** Peak RSS of the child process, MiB. */
  peakRssMiB: number;
  /** wasm only: final size of the wasm heap, MiB (it only grows). */
  wasmHeapMiB?: number;
  /** Tensors alive at the end minus at the start (0 = no leak). */
  tensorDelta?: number;
  /** Trainable parameter counts of the two training configurations. */
  trainableParams?: { fineTune: number; all: number };
  /** Wall time of the child, s. */
  seconds: number;
}

/** Options passed from the parent to each child. */
export interface ChildOptions {
  backend: string;
  batch: number;
  size: number;
  steps: number;
  warmup: number;
  /** Timed steps of the batch-1 figures (inference, Grad-CAM): more than `steps`, they are cheap and noisy. */
  inferSteps: number;
  /** Seconds one figure may take before it is reduced or estimated. */
  budgetS: number;
  /** Skip training figures entirely. */
  noTrain: boolean;
}
