import * as tfl from '@tensorflow/tfjs-layers';
import { getLearningRate, setLearningRate } from '../learning-rate.js';
import { checkNumber, readLog, resolveMode, warnMissing, type CallbackLogs, type MonitorMode } from './monitor.js';
import { TrainingError } from '../errors.js';

/** One learning-rate cut made by {@link ReduceLROnPlateau}. */
export interface LearningRateReduction {
  /** Epoch (0-based) after which the rate was cut. */
  epoch: number;
  /** Rate before. */
  from: number;
  /** Rate after. */
  to: number;
}

/** Options of {@link reduceLROnPlateau}. */
export interface ReduceLROnPlateauOptions {
  /** Epoch figure to watch. Default `'val_loss'`. */
  monitor?: string;
  /** Direction of improvement. Default `'auto'` (`min` for a loss). */
  mode?: MonitorMode;
  /** Multiplier applied to the learning rate on a plateau, in (0, 1). Default 0.5. */
  factor?: number;
  /** Epochs without improvement before reducing. Default 2. */
  patience?: number;
  /** Lower bound of the learning rate. Default 0. */
  minLr?: number;
  /** Smallest change that counts as an improvement. Default 1e-4 (as Keras). */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting again. Default 0. */
  cooldown?: number;
  /** Print a line on every reduction. Default `false`. */
  verbose?: boolean;
}

/**
 * Reduces the optimizer's learning rate by `factor` when a monitored figure has not improved for `patience`
 * epochs — Keras' `ReduceLROnPlateau` (same improvement test, cooldown and `minLr` rules), which tfjs-layers
 * lacks. The new rate is written into `model.optimizer` (see {@link setLearningRate}), so the next training
 * step of {@link trainNeuroStageNet} or `model.fit` uses it.
 */
export class ReduceLROnPlateau extends tfl.Callback {
  /** Monitored figure. */
  readonly monitor: string;
  /** Resolved direction. */
  readonly mode: 'min' | 'max';
  /** Reduction factor. */
  readonly factor: number;
  /** Patience in epochs. */
  readonly patience: number;
  /** Learning-rate floor. */
  readonly minLr: number;
  /** Minimum improvement. */
  readonly minDelta: number;
  /** Cooldown in epochs. */
  readonly cooldown: number;
  /** Best value seen so far. */
  best: number | undefined;
  /** Epochs since the last improvement (outside cooldown). */
  wait = 0;
  /** Epochs of cooldown left. */
  cooldownCounter = 0;
  /** Every reduction made: epoch (0-based) and the old and new rates. */
  readonly reductions: LearningRateReduction[] = [];
  private readonly verbose: boolean;
  private readonly warned = new Set<string>();

  /** @param options See {@link ReduceLROnPlateauOptions}. */
  constructor(options: ReduceLROnPlateauOptions = {}) {
    super();
    const who = 'reduceLROnPlateau';
    this.monitor = options.monitor ?? 'val_loss';
    this.mode = resolveMode(this.monitor, options.mode, who);
    this.factor = options.factor ?? 0.5;
    if (!(this.factor > 0 && this.factor < 1)) {
      throw new TrainingError(`${who}: factor must be in (0, 1), got ${String(options.factor)}`);
    }
    this.patience = checkNumber(who, 'patience', options.patience ?? 2);
    this.minLr = checkNumber(who, 'minLr', options.minLr ?? 0);
    this.minDelta = Math.abs(checkNumber(who, 'minDelta', options.minDelta ?? 1e-4));
    this.cooldown = checkNumber(who, 'cooldown', options.cooldown ?? 0);
    this.verbose = options.verbose ?? false;
  }

  private isImprovement(value: number): boolean {
    if (this.best === undefined) return true;
    return this.mode === 'min' ? value < this.best - this.minDelta : value > this.best + this.minDelta;
  }

  /** Resets the state. */
  override async onTrainBegin(): Promise<void> {
    this.best = undefined;
    this.wait = 0;
    this.cooldownCounter = 0;
    this.reductions.length = 0;
  }

  /** Counts epochs without improvement and reduces the learning rate after `patience` of them. */
  override async onEpochEnd(epoch: number, logs?: CallbackLogs): Promise<void> {
    const current = await readLog(logs, this.monitor);
    if (current === undefined) {
      warnMissing('reduceLROnPlateau', this.monitor, logs, this.warned);
      return;
    }
    const optimizer = this.model.optimizer;
    if (!optimizer) throw new TrainingError('reduceLROnPlateau: the model has no optimizer (compile it first)');
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.wait = 0;
    }
    if (this.isImprovement(current)) {
      this.best = current;
      this.wait = 0;
      return;
    }
    if (this.cooldownCounter > 0) return;
    this.wait += 1;
    if (this.wait < this.patience) return;
    const oldLr = getLearningRate(optimizer);
    // Compare in float32, as Keras does, so a rate already at minLr is not "reduced" to itself forever.
    if (Math.fround(oldLr) > Math.fround(this.minLr)) {
      const newLr = Math.max(oldLr * this.factor, this.minLr);
      setLearningRate(optimizer, newLr);
      this.reductions.push({ epoch, from: oldLr, to: newLr });
      if (this.verbose) console.log(`reduceLROnPlateau: epoch ${epoch + 1}: learning rate ${oldLr} -> ${newLr}`);
      this.cooldownCounter = this.cooldown;
      this.wait = 0;
    }
  }
}

/**
 * Creates a {@link ReduceLROnPlateau} callback (the seed's: `reduceLROnPlateau({ monitor: 'val_loss', factor: 0.5,
 * patience: 2, minLr })`).
 * @param options See {@link ReduceLROnPlateauOptions}.
 * @returns A tfjs-layers callback for {@link trainNeuroStageNet} or `model.fit`.
 * @throws {@link TrainingError} for a bad option.
 */
export function reduceLROnPlateau(options: ReduceLROnPlateauOptions = {}): ReduceLROnPlateau {
  return new ReduceLROnPlateau(options);
}
