import * as tfl from '@tensorflow/tfjs-layers';
import { getLearningRate, setLearningRate } from '../learning-rate.js';
import { TrainingError } from '../errors.js';

/** A learning rate set by {@link LearningRateScheduler} at the start of an epoch. */
export interface ScheduledLearningRate {
  /** Epoch (0-based). */
  epoch: number;
  /** Learning rate set for it. */
  lr: number;
}

/** Options of {@link learningRateScheduler}. */
export interface LearningRateSchedulerOptions {
  /**
   * Update before every batch with a fractional epoch `epoch + batch / stepsPerEpoch` (smooth warm-up and cosine
   * decay) instead of once per epoch. Default `false` (Keras' `LearningRateScheduler`).
   */
  perStep?: boolean;
}

/**
 * Sets the learning rate from a schedule `(epoch, currentLr) => lr` at the start of every epoch (or, with
 * `perStep`, before every batch) — Keras' `LearningRateScheduler`. Use it with
 * {@link warmupCosineSchedule} for the from-scratch recipe. Do not combine with {@link ReduceLROnPlateau}:
 * the schedule would overwrite its reductions.
 */
export class LearningRateScheduler extends tfl.Callback {
  /** Every rate set: fractional epoch and rate. */
  readonly applied: ScheduledLearningRate[] = [];
  private readonly perStep: boolean;
  private epoch = 0;

  /**
   * @param schedule Learning rate for a (possibly fractional) epoch, given the current rate.
   * @param options See {@link LearningRateSchedulerOptions}.
   */
  constructor(
    private readonly schedule: (epoch: number, currentLr: number) => number,
    options: LearningRateSchedulerOptions = {},
  ) {
    super();
    if (typeof schedule !== 'function') throw new TrainingError('learningRateScheduler: schedule must be a function');
    this.perStep = options.perStep ?? false;
  }

  private apply(t: number): void {
    const optimizer = this.model.optimizer;
    if (!optimizer) throw new TrainingError('learningRateScheduler: the model has no optimizer (compile it first)');
    const lr = this.schedule(t, getLearningRate(optimizer));
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
      throw new TrainingError(`learningRateScheduler: the schedule returned ${String(lr)} for epoch ${t}`);
    }
    setLearningRate(optimizer, lr);
    this.applied.push({ epoch: t, lr });
  }

  /** Clears the record of applied rates. */
  override async onTrainBegin(): Promise<void> {
    this.applied.length = 0;
  }

  /** Sets the rate of the epoch (per-epoch mode). */
  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
    if (!this.perStep) this.apply(epoch);
  }

  /** Sets the rate of the step (per-step mode). */
  override async onBatchBegin(batch: number): Promise<void> {
    if (!this.perStep) return;
    const p = this.params ?? {};
    const steps =
      typeof p.steps === 'number' && p.steps > 0
        ? p.steps
        : typeof p.samples === 'number' && typeof p.batchSize === 'number' && p.batchSize > 0
          ? Math.ceil(p.samples / p.batchSize)
          : undefined;
    if (steps === undefined) {
      throw new TrainingError('learningRateScheduler: perStep needs the steps per epoch (params.steps or samples/batchSize)');
    }
    this.apply(this.epoch + batch / steps);
  }
}

/**
 * Creates a {@link LearningRateScheduler} callback.
 * @param schedule `(epoch, currentLr) => lr`; e.g. `warmupCosineSchedule({...})`.
 * @param options See {@link LearningRateSchedulerOptions}.
 * @returns A tfjs-layers callback for {@link trainNeuroStageNet} or `model.fit`.
 * @example
 * ```ts
 * const cb = learningRateScheduler(warmupCosineSchedule({ peakLr: 1e-3, warmupEpochs: 2, totalEpochs: 30 }), { perStep: true });
 * ```
 */
export function learningRateScheduler(
  schedule: (epoch: number, currentLr: number) => number,
  options: LearningRateSchedulerOptions = {},
): LearningRateScheduler {
  return new LearningRateScheduler(schedule, options);
}
