import * as tfl from '@tensorflow/tfjs-layers';
import type { LabeledImageSource } from '../../data/types.js';
import { MultiClassMetrics } from '../../metrics/multiclass-metrics.js';
import { runInference } from '../inference.js';
import type { CallbackLogs } from './monitor.js';

/** Options of {@link validationAuc}. */
export interface ValidationAucOptions {
  /** Validation images and labels. */
  source: LabeledImageSource;
  /** Rows of `source` to use (default all). */
  indices?: ArrayLike<number>;
  /** Images per forward pass. Default 32. */
  batchSize?: number;
  /** Log key to write. Default `'val_auc'`. */
  name?: string;
}

/**
 * Adds the validation macro one-vs-rest ROC AUC to the epoch logs of plain `model.fit` / `model.fitDataset`,
 * which cannot compute it (tfjs has no AUC metric). Put it before the callbacks that monitor it:
 * `callbacks: [validationAuc({ source, indices }), earlyStopping(), modelCheckpoint({ dir })]`. Not needed with
 * {@link trainNeuroStageNet}, which logs `val_auc` itself.
 */
export class ValidationAuc extends tfl.Callback {
  /** AUC of every epoch so far. */
  readonly values: (number | undefined)[] = [];

  /** @param options See {@link ValidationAucOptions}. */
  constructor(private readonly options: ValidationAucOptions) {
    super();
  }

  /** Clears the recorded values. */
  override async onTrainBegin(): Promise<void> {
    this.values.length = 0;
  }

  /** Runs the validation rows in inference mode and writes their macro AUC into the logs. */
  override async onEpochEnd(_epoch: number, logs?: CallbackLogs): Promise<void> {
    const pass = await runInference(this.model, this.options.source, {
      indices: this.options.indices,
      batchSize: this.options.batchSize,
    });
    const auc = new MultiClassMetrics({ numClasses: pass.numClasses }).update(pass.labels, pass.probabilities).compute().macro.auc;
    this.values.push(auc);
    if (logs && auc !== undefined) logs[this.options.name ?? 'val_auc'] = auc;
  }
}

/**
 * Creates a {@link ValidationAuc} callback.
 * @param options Validation rows and batch size.
 * @returns A tfjs-layers callback for `model.fit`.
 */
export function validationAuc(options: ValidationAucOptions): ValidationAuc {
  return new ValidationAuc(options);
}
