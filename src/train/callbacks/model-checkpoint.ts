import * as tfl from '@tensorflow/tfjs-layers';
import { readLog, resolveMode, warnMissing, type CallbackLogs, type MonitorMode } from './monitor.js';
import { saveModel } from '../../io/fs-model-io.js';
import { TrainingError } from '../errors.js';

/** Options of {@link modelCheckpoint}. */
export interface ModelCheckpointOptions {
  /**
   * Where to save: a directory (written by {@link node!saveModel} as `model.json` + `weights.bin` with Node's file
   * system, on any backend; reload with {@link node!loadModel}), or a tfjs URL with a scheme such as `indexeddb://name` (passed to `model.save`). `{epoch}` is
   * replaced by the 1-based epoch number, e.g. `ckpt/epoch-{epoch}`.
   */
  dir: string;
  /** Epoch figure that decides which model is best. Default `'val_auc'`. */
  monitor?: string;
  /** Direction of improvement. Default `'auto'` (`max` for AUC). */
  mode?: MonitorMode;
  /** Save only when the figure improves on the best so far. Default `true`; `false` saves every epoch. */
  saveBestOnly?: boolean;
  /** Custom writer, e.g. to add files next to the model. Default: the directory / URL writer above. */
  save?: (model: tfl.LayersModel, dir: string) => Promise<void>;
  /** Print a line on every save. Default `false`. */
  verbose?: boolean;
}

/**
 * Saves the model at the end of an epoch — by default only when the monitored figure beats the best so far
 * (Keras' `ModelCheckpoint(save_best_only=True)`: strictly better, no `minDelta`), so `dir` always holds the
 * best model seen. tfjs-layers has no such callback.
 */
export class ModelCheckpoint extends tfl.Callback {
  /** Target directory or URL template. */
  readonly dir: string;
  /** Monitored figure. */
  readonly monitor: string;
  /** Resolved direction. */
  readonly mode: 'min' | 'max';
  /** Whether only improvements are saved. */
  readonly saveBestOnly: boolean;
  /** Best value seen so far. */
  best: number | undefined;
  /** Epoch (0-based) of the last save, or -1. */
  lastSavedEpoch = -1;
  /** Where the last save went, or `undefined`. */
  lastSavedPath: string | undefined;
  private readonly saveFn: (model: tfl.LayersModel, dir: string) => Promise<void>;
  private readonly verbose: boolean;
  private readonly warned = new Set<string>();

  /** @param options See {@link ModelCheckpointOptions}. */
  constructor(options: ModelCheckpointOptions) {
    super();
    if (!options || typeof options.dir !== 'string' || options.dir.length === 0) {
      throw new TrainingError(`modelCheckpoint: dir must be a non-empty string, got ${String(options?.dir)}`);
    }
    this.dir = options.dir;
    this.monitor = options.monitor ?? 'val_auc';
    this.mode = resolveMode(this.monitor, options.mode, 'modelCheckpoint');
    this.saveBestOnly = options.saveBestOnly ?? true;
    this.saveFn = options.save ?? defaultSave;
    this.verbose = options.verbose ?? false;
  }

  /** Resets the best value. */
  override async onTrainBegin(): Promise<void> {
    this.best = undefined;
    this.lastSavedEpoch = -1;
    this.lastSavedPath = undefined;
  }

  /** Saves the model when the epoch's figure improves (or every epoch without `saveBestOnly`). */
  override async onEpochEnd(epoch: number, logs?: CallbackLogs): Promise<void> {
    let improved = true;
    if (this.saveBestOnly) {
      const current = await readLog(logs, this.monitor);
      if (current === undefined) {
        warnMissing('modelCheckpoint', this.monitor, logs, this.warned);
        return;
      }
      improved = this.best === undefined || (this.mode === 'max' ? current > this.best : current < this.best);
      if (improved) this.best = current;
    }
    if (!improved) return;
    const target = this.dir.replaceAll('{epoch}', String(epoch + 1));
    await this.saveFn(this.model, target);
    this.lastSavedEpoch = epoch;
    this.lastSavedPath = target;
    if (this.verbose) console.log(`modelCheckpoint: epoch ${epoch + 1}: saved to ${target}`);
  }
}

async function defaultSave(model: tfl.LayersModel, dir: string): Promise<void> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dir) && !dir.startsWith('file://')) {
    await model.save(dir);
    return;
  }
  await saveModel(model, dir.startsWith('file://') ? dir.slice('file://'.length) : dir);
}

/**
 * Creates a {@link ModelCheckpoint} callback (the seed's: `modelCheckpoint({ dir, monitor: 'val_auc',
 * saveBestOnly: true })`).
 * @param options See {@link ModelCheckpointOptions}.
 * @returns A tfjs-layers callback for {@link trainNeuroStageNet} or `model.fit`.
 * @throws {@link TrainingError} for a bad option.
 */
export function modelCheckpoint(options: ModelCheckpointOptions): ModelCheckpoint {
  return new ModelCheckpoint(options);
}
