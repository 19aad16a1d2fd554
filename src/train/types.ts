import type * as tfl from '@tensorflow/tfjs-layers';
import type { AugmentOptions } from '../data/augment.js';
import type { LabeledImageSource } from '../data/types.js';

/** Rows of a data set to train or validate on. */
export interface DataSubset {
  /** Images and labels (e.g. a `ParquetImageDataset`). */
  source: LabeledImageSource;
  /** Row indices into `source` (e.g. one side of a `StratifiedSplit`); default all rows. */
  indices?: ArrayLike<number>;
}

/** Figures of one finished epoch, as recorded in {@link TrainResult.epochs}. */
export interface EpochRecord {
  /** Epoch number, 0-based. */
  epoch: number;
  /** Mean training loss over the epoch's examples (label-smoothed, class-weighted if asked, plus regularisation). */
  loss: number;
  /** Training accuracy (on augmented images, dropout active). */
  accuracy: number;
  /** Validation loss (inference mode, no class weights, plus regularisation as Keras reports it). */
  val_loss?: number;
  /** Validation accuracy. */
  val_accuracy?: number;
  /** Validation macro one-vs-rest ROC AUC ({@link index!MultiClassMetrics}); `undefined` if no class has an AUC. */
  val_auc?: number;
  /**
   * Validation macro one-vs-rest ROC AUC per person (each person's slice probabilities averaged), when the
   * validation source has `subjects`; the figure to choose a checkpoint on, since a diagnosis is a person's.
   */
  val_person_auc?: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Wall time of the epoch, validation included, in seconds. */
  seconds: number;
  /** Extra figures that callbacks added to the epoch logs. */
  [extra: string]: number | undefined;
}

/** What {@link TrainOptions.onBatchEnd} and progress reporters receive after each training step. */
export interface BatchProgress {
  /** Epoch number, 0-based. */
  epoch: number;
  /** Planned number of epochs. */
  epochs: number;
  /** Steps done in this epoch (1-based count). */
  step: number;
  /** Steps per epoch. */
  steps: number;
  /** Loss of this batch. */
  batchLoss: number;
  /** Accuracy of this batch. */
  batchAccuracy: number;
  /** Running mean loss of the epoch so far. */
  loss: number;
  /** Running accuracy of the epoch so far. */
  accuracy: number;
  /** Examples seen in this epoch so far. */
  seen: number;
  /** Training throughput of the epoch so far (images per second, data loading included). */
  imagesPerSecond: number;
  /** Learning rate used for this step. */
  lr: number;
  /** Seconds since the epoch started. */
  elapsedSeconds: number;
}

/**
 * Receives progress events of a training run. Built-in: a progress bar on a terminal, one line per epoch
 * otherwise (see {@link TrainOptions.progress}); implement this to show progress elsewhere.
 */
export interface ProgressReporter {
  /** A new epoch begins. */
  epochBegin?(info: { epoch: number; epochs: number; steps: number }): void | Promise<void>;
  /** A training step finished. */
  batchEnd?(info: BatchProgress): void | Promise<void>;
  /** Validation ran (if any) and the epoch's figures are final. */
  epochEnd?(record: EpochRecord, info: { epochs: number }): void | Promise<void>;
  /** Training ended (normally, by a callback, or by an error). */
  trainEnd?(): void | Promise<void>;
}

/** Options of {@link trainNeuroStageNet}. */
export interface TrainOptions {
  /** Training rows. */
  train: DataSubset;
  /** Validation rows (the figures `val_loss`, `val_accuracy`, `val_auc` need it). */
  validation?: DataSubset;
  /** Number of epochs (upper bound when early stopping is used). */
  epochs: number;
  /** Epoch to start from (0-based), e.g. when resuming from a checkpoint. Default 0. */
  initialEpoch?: number;
  /** Examples per training step. Default 32. */
  batchSize?: number;
  /** Examples per validation forward pass. Default `batchSize`. */
  validationBatchSize?: number;
  /**
   * Adam learning rate used when the model is not compiled yet. Default 5e-4 (the seed's). For a compiled
   * model the optimizer keeps its own rate unless this is given explicitly.
   */
  learningRate?: number;
  /** Label smoothing of the cross-entropy used when the model is not compiled yet. Default 0.15 (the seed's). */
  labelSmoothing?: number;
  /** Training-only augmentation: `true` = the default (flip, rotation, zoom, brightness, contrast). Default `true`. */
  augment?: boolean | AugmentOptions;
  /** Mixup of training batches: the Beta(alpha, alpha) shape (e.g. 0.2), 0 = off (see `mixupBatch`). Default 0. */
  mixup?: number;
  /**
   * tfjs-layers callbacks, e.g. `[earlyStopping(), reduceLROnPlateau(), modelCheckpoint({ dir })]`, run in order;
   * plain objects of hooks (`{ onEpochEnd(epoch, logs) {...} }`) are wrapped in a `tf.CustomCallback`, as `model.fit` does.
   */
  callbacks?: Array<tfl.Callback | tfl.CustomCallback | tfl.CustomCallbackArgs>;
  /** Seed of the shuffle, the augmentation and the dropout masks: the same seed gives the same run (cpu). Default 0. */
  seed?: number;
  /**
   * Per-class loss weights (index = class), or `'balanced'` for `n / (numClasses * count[class])` over the
   * training rows (scikit-learn's `compute_class_weight('balanced')`). Each example's loss is multiplied by its
   * class weight and averaged over the batch, as Keras does. `'balanced-sqrt'` takes the square root of the
   * balanced weights: a milder correction for extreme imbalance (here Moderate is 1% of the rows and would get a
   * weight of ~24, which makes the loss swing from batch to batch). Default none.
   */
  classWeight?: readonly number[] | 'balanced' | 'balanced-sqrt';
  /**
   * How to show progress: `'auto'` (default: a progress bar when stdout is a terminal, one line per epoch
   * otherwise, nothing outside Node), `'bar'`, `'lines'`, `'none'`, or your own {@link ProgressReporter}.
   */
  progress?: 'auto' | 'bar' | 'lines' | 'none' | ProgressReporter;
  /** Called after every training step (awaited). */
  onBatchEnd?: (info: BatchProgress) => void | Promise<void>;
  /** Called after every epoch, after the callbacks (awaited). */
  onEpochEnd?: (record: EpochRecord) => void | Promise<void>;
}

/** What {@link trainNeuroStageNet} returns. */
export interface TrainResult {
  /** One record per epoch run. */
  epochs: EpochRecord[];
  /** The same figures by name, Keras-style: `history.val_auc[i]` is epoch i's (NaN where undefined). */
  history: Record<string, number[]>;
  /** Whether a callback stopped training before `epochs`. */
  stoppedEarly: boolean;
  /** Total wall time in seconds. */
  seconds: number;
}
