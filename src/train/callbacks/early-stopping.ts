import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { checkNumber, readLog, resolveMode, warnMissing, type CallbackLogs, type MonitorMode } from './monitor.js';

/** Options of {@link earlyStopping}. */
export interface EarlyStoppingOptions {
  /** Epoch figure to watch. Default `'val_auc'` (the seed's choice). */
  monitor?: string;
  /** Direction of improvement. Default `'auto'` (`max` for accuracy/AUC-like names, else `min`). */
  mode?: MonitorMode;
  /** Epochs without improvement after which training stops. Default 0 (as Keras). */
  patience?: number;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** Put the weights of the best epoch back into the model when training ends. Default `true`. */
  restoreBestWeights?: boolean;
  /** Epochs to wait before counting (warm-up). Default 0. */
  startFromEpoch?: number;
  /** A value the figure must beat for the patience counter to reset. Default none. */
  baseline?: number;
  /** Print a line when stopping / restoring. Default `false`. */
  verbose?: boolean;
}

/**
 * Stops training when a monitored figure has stopped improving, and (unlike tfjs-layers' own `EarlyStopping`)
 * puts the best epoch's weights back. Follows Keras' `EarlyStopping` (improvement = better than the best by more
 * than `minDelta`; stop when `patience` epochs in a row did not improve, never after the first epoch), with one
 * deliberate difference: with `restoreBestWeights` the best weights are restored also when training ends by
 * running out of epochs, not only on an early stop, so the model always ends at its best validated epoch.
 *
 * The snapshot holds every weight (trainable and not, e.g. BatchNorm moving statistics), as Keras'
 * `get_weights()`. Works with {@link trainNeuroStageNet} and with `model.fit` / `model.fitDataset`.
 */
export class EarlyStopping extends tfl.Callback {
  /** Monitored figure. */
  readonly monitor: string;
  /** Resolved direction. */
  readonly mode: 'min' | 'max';
  /** Patience in epochs. */
  readonly patience: number;
  /** Minimum improvement. */
  readonly minDelta: number;
  /** Whether the best weights are restored. */
  readonly restoreBestWeights: boolean;
  /** First epoch that counts. */
  readonly startFromEpoch: number;
  /** Optional baseline. */
  readonly baseline: number | undefined;
  /** Best value seen so far (`undefined` before the first epoch). */
  best: number | undefined;
  /** Epoch (0-based) of the best value, or -1. */
  bestEpoch = -1;
  /** Epoch (0-based) at which training was stopped, or -1 if it was not. */
  stoppedEpoch = -1;
  /** Epochs since the last improvement. */
  wait = 0;
  private readonly verbose: boolean;
  private bestWeights: tf.Tensor[] | null = null;
  private restored = false;
  private readonly warned = new Set<string>();

  /** @param options See {@link EarlyStoppingOptions}. */
  constructor(options: EarlyStoppingOptions = {}) {
    super();
    const who = 'earlyStopping';
    this.monitor = options.monitor ?? 'val_auc';
    this.mode = resolveMode(this.monitor, options.mode, who);
    this.patience = checkNumber(who, 'patience', options.patience ?? 0);
    this.minDelta = Math.abs(checkNumber(who, 'minDelta', options.minDelta ?? 0));
    this.startFromEpoch = checkNumber(who, 'startFromEpoch', options.startFromEpoch ?? 0);
    this.restoreBestWeights = options.restoreBestWeights ?? true;
    this.baseline = options.baseline;
    this.verbose = options.verbose ?? false;
  }

  private isImprovement(value: number, reference: number | undefined): boolean {
    if (reference === undefined) return true;
    return this.mode === 'max' ? value - this.minDelta > reference : value + this.minDelta < reference;
  }

  private disposeSnapshot(): void {
    if (this.bestWeights) tf.dispose(this.bestWeights);
    this.bestWeights = null;
  }

  private restore(): void {
    if (!this.bestWeights || this.restored) return;
    this.model.setWeights(this.bestWeights);
    this.restored = true;
    if (this.verbose) console.log(`earlyStopping: restored the weights of epoch ${this.bestEpoch + 1}`);
  }

  /** Resets the state (a callback object can be reused across trainings). */
  override async onTrainBegin(): Promise<void> {
    this.disposeSnapshot();
    this.best = undefined;
    this.bestEpoch = -1;
    this.stoppedEpoch = -1;
    this.wait = 0;
    this.restored = false;
  }

  /** Compares the epoch's figure with the best, snapshots on improvement, stops after `patience` flat epochs. */
  override async onEpochEnd(epoch: number, logs?: CallbackLogs): Promise<void> {
    const current = await readLog(logs, this.monitor);
    if (current === undefined) {
      warnMissing('earlyStopping', this.monitor, logs, this.warned);
      return;
    }
    if (epoch < this.startFromEpoch) return;
    this.wait += 1;
    if (this.isImprovement(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) {
        this.disposeSnapshot();
        // getWeights() returns the live variables: clone so later steps do not change the snapshot.
        this.bestWeights = this.model.getWeights().map((w) => tf.clone(w));
      }
      if (this.baseline === undefined || this.isImprovement(current, this.baseline)) {
        this.wait = 0;
        return;
      }
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
      if (this.verbose) {
        console.log(`earlyStopping: no improvement of ${this.monitor} for ${this.wait} epochs; stopping after epoch ${epoch + 1}`);
      }
      if (this.restoreBestWeights) this.restore();
    }
  }

  /** Restores the best weights (if not done at the stop) and frees the snapshot. */
  override async onTrainEnd(): Promise<void> {
    if (this.restoreBestWeights) this.restore();
    this.disposeSnapshot();
  }
}

/**
 * Creates an {@link EarlyStopping} callback (the seed's: `earlyStopping({ monitor: 'val_auc', mode: 'max',
 * patience, restoreBestWeights: true })`).
 * @param options See {@link EarlyStoppingOptions}.
 * @returns A tfjs-layers callback for {@link trainNeuroStageNet} or `model.fit`.
 * @throws {@link TrainingError} for a bad option.
 */
export function earlyStopping(options: EarlyStoppingOptions = {}): EarlyStopping {
  return new EarlyStopping(options);
}
