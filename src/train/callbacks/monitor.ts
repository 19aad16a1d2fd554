import type * as tf from '@tensorflow/tfjs-core';
import { TrainingError } from '../errors.js';

/**
 * Epoch or batch logs as tfjs-layers hands them to callbacks: plain numbers from {@link trainNeuroStageNet},
 * possibly scalar tensors from `model.fit` (its validation figures are not resolved before callbacks run).
 */
export type CallbackLogs = { [key: string]: number | tf.Scalar };

/** Whether a monitored figure improves when it goes up (`'max'`), down (`'min'`), or guessed from its name (`'auto'`). */
export type MonitorMode = 'min' | 'max' | 'auto';

// Figures where bigger is better; anything else (losses, errors, ECE, ...) is minimised under 'auto'.
const MAXIMISED = /(^|_)(acc|accuracy|auc|precision|recall|f1|kappa|balanced_accuracy)$/;

/** Resolves `'auto'` from the figure's name, as Keras does. */
export function resolveMode(monitor: string, mode: MonitorMode | undefined, who: string): 'min' | 'max' {
  const m = mode ?? 'auto';
  if (m === 'min' || m === 'max') return m;
  if (m !== 'auto') throw new TrainingError(`${who}: mode must be 'min', 'max' or 'auto', got ${String(m)}`);
  return MAXIMISED.test(monitor) ? 'max' : 'min';
}

/** Reads one figure from the logs, awaiting it if `model.fit` left a scalar tensor there. */
export async function readLog(logs: CallbackLogs | undefined, key: string): Promise<number | undefined> {
  const v = logs?.[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return Number.isNaN(v) ? undefined : v;
  if (typeof (v as tf.Scalar).data === 'function') {
    const x = (await (v as tf.Scalar).data())[0];
    return Number.isNaN(x) ? undefined : x;
  }
  return undefined;
}

/** Checks a numeric option: finite, and ≥ `min`. */
export function checkNumber(who: string, name: string, v: number, min = 0): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new TrainingError(`${who}: ${name} must be a finite number ≥ ${min}, got ${String(v)}`);
  }
  return v;
}

/** Logs the first time a monitored figure is missing, naming the figures that are there. */
export function warnMissing(who: string, monitor: string, logs: CallbackLogs | undefined, warned: Set<string>): void {
  if (warned.has(monitor)) return;
  warned.add(monitor);
  const have = Object.keys(logs ?? {}).join(', ') || 'none';
  console.warn(`${who}: '${monitor}' is not in the epoch logs (available: ${have}); skipping this epoch.`);
}
