import type * as tf from '@tensorflow/tfjs-core';
import { TrainingError } from './errors.js';

// tfjs optimizers keep the rate in a protected `learningRate` field that `applyGradients` reads on every step
// (Adam, Adamax, RMSProp, Adagrad, Adadelta); SGD and Momentum cache `-learningRate` in a scalar and must be told
// through `setLearningRate`. This view reaches both without casting at every call site.
interface OptimizerWithRate {
  learningRate?: unknown;
  setLearningRate?: (lr: number) => void;
}

/**
 * The learning rate an optimizer uses for its next step.
 * @param optimizer A tfjs optimizer (e.g. `model.optimizer`).
 * @returns The current learning rate.
 * @throws {@link TrainingError} when the optimizer keeps no numeric learning rate.
 */
export function getLearningRate(optimizer: tf.Optimizer): number {
  const lr = (optimizer as unknown as OptimizerWithRate).learningRate;
  if (typeof lr !== 'number' || !Number.isFinite(lr)) {
    throw new TrainingError(`optimizer ${optimizer.getClassName()} has no numeric learningRate (got ${String(lr)})`);
  }
  return lr;
}

/**
 * Changes the learning rate of an optimizer in place; the next `applyGradients` (a training step of
 * `model.fit`, `trainOnBatch` or {@link trainNeuroStageNet}) uses it. Works for every tfjs-core optimizer:
 * SGD and Momentum through their `setLearningRate`, the others through the field their update reads.
 * @param optimizer A tfjs optimizer (e.g. `model.optimizer`).
 * @param learningRate New learning rate, finite and ≥ 0.
 * @throws {@link TrainingError} for a negative or non-finite rate, or an optimizer without a learning rate.
 */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  if (typeof learningRate !== 'number' || !Number.isFinite(learningRate) || learningRate < 0) {
    throw new TrainingError(`learning rate must be a finite number ≥ 0, got ${String(learningRate)}`);
  }
  getLearningRate(optimizer); // validates that the optimizer has one
  const o = optimizer as unknown as OptimizerWithRate;
  if (typeof o.setLearningRate === 'function') o.setLearningRate(learningRate);
  else o.learningRate = learningRate;
}

/** Options of {@link warmupCosineSchedule}. */
export interface WarmupCosineOptions {
  /** Peak learning rate, reached at the end of the warm-up. */
  peakLr: number;
  /** Length of the linear warm-up, in epochs (fractions allowed). Default 1. */
  warmupEpochs?: number;
  /** Epoch at which the cosine decay reaches `minLr` (usually the planned number of epochs). */
  totalEpochs: number;
  /** Learning rate at the start of the warm-up. Default `peakLr / 10`. */
  initialLr?: number;
  /** Learning rate at the end of the cosine decay (and after it). Default 0. */
  minLr?: number;
}

/**
 * A learning-rate schedule: linear warm-up from `initialLr` to `peakLr` over `warmupEpochs`, then a half-cosine
 * decay to `minLr` at `totalEpochs`. It takes a fractional epoch (`epoch + step / stepsPerEpoch`) so that it can
 * be applied per step ({@link learningRateScheduler} with `perStep: true`) or per epoch.
 * @param options Schedule shape.
 * @returns `t => learningRate`, with `t` in epochs.
 * @throws {@link TrainingError} for inconsistent options.
 * @example
 * ```ts
 * const schedule = warmupCosineSchedule({ peakLr: 1e-3, warmupEpochs: 2, totalEpochs: 30 });
 * schedule(0); // 1e-4
 * schedule(2); // 1e-3
 * schedule(30); // 0
 * ```
 */
export function warmupCosineSchedule(options: WarmupCosineOptions): (epoch: number) => number {
  const { peakLr, totalEpochs } = options;
  const warmupEpochs = options.warmupEpochs ?? 1;
  const initialLr = options.initialLr ?? peakLr / 10;
  const minLr = options.minLr ?? 0;
  for (const [name, v] of Object.entries({ peakLr, totalEpochs, warmupEpochs, initialLr, minLr })) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new TrainingError(`warmupCosineSchedule: ${name} must be a finite number ≥ 0, got ${String(v)}`);
    }
  }
  if (warmupEpochs > totalEpochs) {
    throw new TrainingError(`warmupCosineSchedule: warmupEpochs (${warmupEpochs}) exceeds totalEpochs (${totalEpochs})`);
  }
  return (t: number): number => {
    if (t < warmupEpochs) return initialLr + (peakLr - initialLr) * (t / warmupEpochs);
    const span = totalEpochs - warmupEpochs;
    if (span <= 0 || t >= totalEpochs) return t >= totalEpochs ? minLr : peakLr;
    const progress = (t - warmupEpochs) / span;
    return minLr + 0.5 * (peakLr - minLr) * (1 + Math.cos(Math.PI * progress));
  };
}
