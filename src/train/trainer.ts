import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { countBatches, iterateBatches } from '../data/batches.js';
import type { LabeledImageSource } from '../data/types.js';
import { MetricsInputError } from '../metrics/errors.js';
import { MultiClassMetrics } from '../metrics/multiclass-metrics.js';
import { aggregateByGroup } from '../metrics/group-aggregate.js';
import { compileNeuroStageNet } from './compile.js';
import { TrainingError } from './errors.js';
import { checkImageSize, modelNumClasses, runInference } from './inference.js';
import { checkLabelSmoothing, type LossFunction } from './loss.js';
import { getLearningRate, setLearningRate } from './learning-rate.js';
import { resolveProgress } from './progress.js';
import { findSeedableLayers, withStepSeeds } from './step-seeds.js';
import { withTrainingGradients } from '../backends/training-gradients.js';
import { holdKerasFreezing } from '../layers/freezing.js';
import type { BatchProgress, DataSubset, EpochRecord, TrainOptions, TrainResult } from './types.js';

/**
 * Trains a classifier (NeuroStageNet or any single-output softmax model taking `[N, H, W, 1]` images in 0..255)
 * with the seed's recipe, and returns the per-epoch history.
 *
 * Per epoch: the training rows are shuffled (seeded by `(seed, epoch)`), batched, augmented (training only), and
 * each batch takes one optimizer step on the compiled loss plus the model's regularisation losses (as Keras),
 * optionally class-weighted; then the validation rows run in inference mode and give `val_loss`,
 * `val_accuracy` and `val_auc` (macro one-vs-rest ROC AUC), and when the validation source has `subjects` also
 * `val_person_auc` (the same AUC over people, each person's slice probabilities averaged). Callbacks (tfjs-layers `Callback`s such as
 * {@link earlyStopping}, {@link reduceLROnPlateau}, {@link modelCheckpoint}) see the epoch logs and may set
 * `model.stopTraining`; training then stops cleanly after the current step or epoch.
 *
 * Freezing follows Keras 3 at any depth: a layer that is not trainable, or lies below a non-trainable container (a
 * nested model, however deep, whether built by this package or a plain `tf.model`), is frozen: its weights are not
 * trained and this package's BatchNormalization layers in it run in inference mode (moving statistics used and left
 * unchanged). Dropout layers still drop, as in Keras.
 *
 * If the model is not compiled, it is compiled with {@link compileNeuroStageNet}: Adam(`learningRate`) and
 * categorical cross-entropy with `labelSmoothing`. That optimizer is then owned by the model (as one tfjs creates
 * from `compile({ optimizer: 'adam' })`): it stays for a further run, and `model.dispose()` frees its state. An
 * optimizer the caller compiled the model with stays the caller's to dispose, as in tfjs. The same `seed` on the cpu backend gives the same history
 * (shuffle, augmentation and tfjs `Dropout` masks are all seeded; weight initialisation is the model's).
 *
 * Why a custom loop rather than `model.fit`: `fit` needs all data as tensors or a tf.data pipeline, reports no
 * AUC, and cannot vary augmentation per epoch from a seed; `trainOnBatch` has no class weights.
 *
 * @param model The model to train (changed in place).
 * @param options Data, epochs, recipe, callbacks and progress; see {@link TrainOptions}.
 * @returns The history of the epochs run.
 * @throws {@link TrainingError} for bad options, an image size the model does not take, or a training that diverges:
 * a step's loss that is NaN or ±Inf, or weights that become so (checked after every step by one reduction over all the
 * model's weights, trainable or not), naming the epoch and step (1-based).
 * @example
 * ```ts
 * const split = new StratifiedSplit({ testSize: 0.2, seed: 42 }).split(ds.labels);
 * const result = await trainNeuroStageNet(model, {
 *   train: { source: ds, indices: split.train },
 *   validation: { source: ds, indices: split.test },
 *   epochs: 30,
 *   callbacks: [earlyStopping({ patience: 5 }), reduceLROnPlateau(), modelCheckpoint({ dir: 'ckpt' })],
 * });
 * console.log(result.history.val_auc);
 * ```
 */
export async function trainNeuroStageNet(model: tfl.LayersModel, options: TrainOptions): Promise<TrainResult> {
  const plan = checkOptions(model, options);
  const { epochs, initialEpoch, batchSize, seed, numClasses } = plan;
  const started = performance.now();

  if (!model.optimizer) {
    compileNeuroStageNet(model, { learningRate: options.learningRate ?? 5e-4, labelSmoothing: options.labelSmoothing ?? 0.15 });
    // The Adam created here belongs to the model, as one tfjs creates from `compile({ optimizer: 'adam' })`:
    // `model.dispose()` frees its state, and a further run continues with it. (tfjs' setter clears the flag when
    // the optimizer is replaced, so a caller who frees it and sets `model.optimizer = null` never frees it twice.)
    (model as unknown as { isOptimizerOwned: boolean }).isOptimizerOwned = true;
  } else if (options.learningRate !== undefined) {
    setLearningRate(model.optimizer, options.learningRate);
  }
  const optimizer = model.optimizer;
  const lossFn = model.lossFunctions?.[0] as LossFunction | undefined;
  if (!optimizer || !lossFn) throw new TrainingError('the model has no optimizer or loss after compiling');

  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (variables.length === 0) throw new TrainingError(`model '${model.name}' has no trainable weights`);
  const seedable = findSeedableLayers(model);
  const steps = countBatches(options.train.source, { indices: options.train.indices, batchSize });
  const trainCount = options.train.indices ? options.train.indices.length : options.train.source.length;

  const callbacks = new tfl.CallbackList(
    (options.callbacks ?? []).map((cb) =>
      cb instanceof tfl.Callback || cb instanceof tfl.CustomCallback ? cb : new tfl.CustomCallback(cb as tfl.CustomCallbackArgs),
    ),
  );
  callbacks.setModel(model);
  callbacks.setParams({
    epochs,
    initialEpoch,
    samples: trainCount,
    steps,
    batchSize,
    verbose: 0,
    doValidation: options.validation !== undefined,
    metrics: ['loss', 'accuracy', ...(options.validation ? ['val_loss', 'val_accuracy', 'val_auc'] : []),
      ...(options.validation?.source.subjects ? ['val_person_auc'] : [])],
  });
  const progress = resolveProgress(options.progress);
  const classWeights = plan.classWeights ? tf.tensor1d(plan.classWeights) : null;
  const records: EpochRecord[] = [];
  let stoppedEarly = false;
  // val_person_auc cannot be computed when a validation subject's rows carry two labels: said once per run.
  const personWarning = { warned: false };

  model.stopTraining = false;
  // Keras 3 freezing at any depth: tfjs' trainableWeights (the variables above) already stops at a non-trainable
  // container; the BN layers below one, whose own flags tfjs' Container.trainable setter does not reach, are held in
  // inference mode for the run.
  const releaseFreezing = holdKerasFreezing(model);
  try {
    await callbacks.onTrainBegin();
    for (let epoch = initialEpoch; epoch < epochs; epoch++) {
      const epochStart = performance.now();
      await callbacks.onEpochBegin(epoch);
      await progress?.epochBegin?.({ epoch, epochs, steps });
      let lossSum = 0;
      let correctSum = 0;
      let seen = 0;
      let step = 0;
      let lr = getLearningRate(optimizer);
      const batches = iterateBatches(options.train.source, {
        indices: options.train.indices,
        batchSize,
        shuffle: true,
        seed,
        epoch,
        augment: options.augment ?? true,
        mixup: options.mixup ?? 0,
        numClasses,
      });
      for await (const batch of batches) {
        const m = batch.indices.length;
        await callbacks.onBatchBegin(step, { batch: step, size: m });
        lr = getLearningRate(optimizer); // a per-step schedule may just have changed it
        let outputs: tf.Tensor[] = [];
        try {
          // The cheaper FusedBatchNorm gradient (frozen BN layers between the trainable input projection and the loss)
          // is registered for this synchronous step only: no other model in the process sees it.
          outputs = withStepSeeds(seedable, [seed, epoch, step], () =>
            withTrainingGradients(() => trainStep(model, optimizer, variables, lossFn, batch.xs, batch.ys, classWeights)),
          );
        } finally {
          tf.dispose([batch.xs, batch.ys]);
        }
        const [lossValue, correctValue] = await Promise.all(outputs.map((t) => t.data()));
        tf.dispose(outputs);
        const batchLoss = lossValue[0];
        if (!Number.isFinite(batchLoss)) {
          throw new TrainingError(`the training loss became ${batchLoss} at epoch ${epoch + 1}, step ${step + 1} (learning rate ${lr})`);
        }
        // The weights after the step (the loss above is the one before it), trainable and not (BN moving statistics):
        // one reduction per weight and one number read per step.
        const sumTensor = weightsSumOf(model);
        const weightsSum = (await sumTensor.data())[0];
        sumTensor.dispose();
        if (!Number.isFinite(weightsSum)) {
          throw new TrainingError(
            `the weights became non-finite at epoch ${epoch + 1}, step ${step + 1} (learning rate ${lr}; ` +
              `${describeNonFinite(model)}) while the training loss of the step was ${batchLoss}: the training diverged, lower the learning rate`,
          );
        }
        lossSum += batchLoss * m;
        correctSum += correctValue[0];
        seen += m;
        const elapsedSeconds = (performance.now() - epochStart) / 1000;
        const info: BatchProgress = {
          epoch,
          epochs,
          step: step + 1,
          steps,
          batchLoss,
          batchAccuracy: correctValue[0] / m,
          loss: lossSum / seen,
          accuracy: correctSum / seen,
          seen,
          imagesPerSecond: elapsedSeconds > 0 ? seen / elapsedSeconds : 0,
          lr,
          elapsedSeconds,
        };
        await callbacks.onBatchEnd(step, { batch: step, size: m, loss: batchLoss, accuracy: info.batchAccuracy });
        await progress?.batchEnd?.(info);
        await options.onBatchEnd?.(info);
        step += 1;
        if (model.stopTraining) break; // the batch iterator's return() releases its prefetched batches
      }

      const record: EpochRecord = { epoch, loss: lossSum / Math.max(seen, 1), accuracy: correctSum / Math.max(seen, 1), lr, seconds: 0 };
      if (options.validation) Object.assign(record, await validate(model, options.validation, plan, lossFn, personWarning));
      record.seconds = (performance.now() - epochStart) / 1000;

      const logs: Record<string, number> = {};
      for (const [key, value] of Object.entries(record)) if (key !== 'epoch' && typeof value === 'number') logs[key] = value;
      await callbacks.onEpochEnd(epoch, logs);
      // Record the logs as the callbacks left them (one may add a figure it computed), as Keras' History does.
      for (const [key, value] of Object.entries(logs)) if (key !== 'epoch' && typeof value === 'number') record[key] = value;
      records.push(record);
      await progress?.epochEnd?.(record, { epochs });
      await options.onEpochEnd?.(record);
      if (model.stopTraining) {
        stoppedEarly = epoch + 1 < epochs;
        break;
      }
    }
    await callbacks.onTrainEnd();
  } finally {
    releaseFreezing();
    tf.dispose(classWeights ?? []);
    await progress?.trainEnd?.();
  }
  return { epochs: records, history: toHistory(records), stoppedEarly, seconds: (performance.now() - started) / 1000 };
}

/** One optimizer step; returns `[loss, number of correct predictions]` (scalars the caller disposes). */
function trainStep(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  lossFn: LossFunction,
  xs: tf.Tensor,
  ys: tf.Tensor,
  classWeights: tf.Tensor1D | null,
): tf.Tensor[] {
  return tf.tidy(() => {
    let correct: tf.Tensor | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const probs = model.apply(xs, { training: true }) as tf.Tensor;
      correct = tf.keep(countCorrect(probs, ys));
      const perExample = lossFn(ys, probs);
      let loss: tf.Tensor = classWeights
        ? tf.mean(tf.mul(perExample, tf.sum(tf.mul(ys, classWeights), -1)))
        : tf.mean(perExample);
      // Regularisation penalties (e.g. the head's L2), added to the loss as Keras and tfjs' fit do.
      for (const penalty of model.calculateLosses()) loss = tf.add(loss, penalty);
      return loss as tf.Scalar;
    }, variables);
    optimizer.applyGradients(grads);
    return [value, correct as unknown as tf.Tensor];
  });
}

/**
 * `Σ 0·w` over every weight of the model (one scalar the caller disposes): 0 when all are finite, NaN as soon as one
 * is NaN or ±Inf (0·Inf is NaN), and unlike a plain sum it cannot overflow.
 */
function weightsSumOf(model: tfl.LayersModel): tf.Scalar {
  return tf.tidy(() => {
    const sums = model.weights.map((w) => tf.sum(tf.mul(w.read(), 0)));
    return (sums.length === 0 ? tf.scalar(0) : sums.length === 1 ? sums[0] : tf.addN(sums)) as tf.Scalar;
  });
}

/** The model's weights holding NaN or ±Inf, with their counts (the error path only: reads every weight). */
function describeNonFinite(model: tfl.LayersModel): string {
  const bad: string[] = [];
  for (const w of model.weights) {
    const values = w.read().dataSync();
    let count = 0;
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) count += 1;
    if (count > 0) bad.push(`${w.originalName} has ${count} of ${values.length} values non-finite`);
  }
  return bad.length > 0 ? bad.slice(0, 3).join(', ') + (bad.length > 3 ? `, and ${bad.length - 3} more weights` : '') : 'a weight is non-finite';
}

function countCorrect(probs: tf.Tensor, ys: tf.Tensor): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), tf.argMax(ys, -1)), 'float32'));
}

/** Validation figures of one epoch: loss (+ regularisation, as Keras reports it), accuracy, macro OvR AUC. */
async function validate(
  model: tfl.LayersModel,
  validation: DataSubset,
  plan: Plan,
  lossFn: LossFunction,
  personWarning: { warned: boolean },
): Promise<Pick<EpochRecord, 'val_loss' | 'val_accuracy' | 'val_auc' | 'val_person_auc'>> {
  const pass = await runInference(model, validation.source, {
    caller: 'trainNeuroStageNet: validation',
    indices: validation.indices,
    batchSize: plan.validationBatchSize,
    loss: lossFn,
  });
  const n = pass.labels.length;
  const penalty = tf.tidy(() => model.calculateLosses().reduce((acc: tf.Tensor, p) => tf.add(acc, p), tf.scalar(0)));
  const penaltyValue = (await penalty.data())[0];
  penalty.dispose();
  const metrics = new MultiClassMetrics({ numClasses: pass.numClasses });
  metrics.update(pass.labels, pass.probabilities);
  const record: Pick<EpochRecord, 'val_loss' | 'val_accuracy' | 'val_auc' | 'val_person_auc'> = {
    val_loss: pass.lossSum / n + penaltyValue,
    val_accuracy: pass.correct / n,
    val_auc: metrics.compute().macro.auc,
  };
  const subjects = validation.source.subjects;
  if (subjects) {
    // A person's figure from the mean of their slice probabilities, as evaluate() reports it. A subject whose rows
    // carry two labels has no person label: the epoch goes without val_person_auc rather than ending the training.
    let people: ReturnType<typeof aggregateByGroup> | undefined;
    try {
      people = aggregateByGroup(pass.probabilities, pass.labels, Array.from(pass.indices, (i) => subjects[i]), pass.numClasses);
    } catch (e) {
      if (!(e instanceof MetricsInputError)) throw e;
      if (!personWarning.warned) {
        personWarning.warned = true;
        console.warn(`warning: no val_person_auc: ${e.message}`);
      }
    }
    if (people && people.groups.length >= 2) {
      record.val_person_auc = new MultiClassMetrics({ numClasses: pass.numClasses }).update(people.labels, people.probabilities).compute().macro.auc;
    }
  }
  return record;
}

function toHistory(records: EpochRecord[]): Record<string, number[]> {
  const keys = new Set<string>();
  for (const r of records) for (const k of Object.keys(r)) if (k !== 'epoch') keys.add(k);
  const history: Record<string, number[]> = {};
  for (const k of keys) history[k] = records.map((r) => (typeof r[k] === 'number' ? (r[k] as number) : NaN));
  return history;
}

interface Plan {
  epochs: number;
  initialEpoch: number;
  batchSize: number;
  validationBatchSize: number;
  seed: number;
  numClasses: number;
  classWeights: Float32Array | null;
}

function checkOptions(model: tfl.LayersModel, options: TrainOptions): Plan {
  if (!options || typeof options !== 'object') throw new TrainingError('trainNeuroStageNet: options are required');
  const int = (name: string, v: unknown, min: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new TrainingError(`trainNeuroStageNet: ${name} must be an integer ≥ ${min}, got ${String(v)}`);
    }
    return v;
  };
  const epochs = int('epochs', options.epochs, 1);
  const initialEpoch = int('initialEpoch', options.initialEpoch ?? 0, 0);
  const batchSize = int('batchSize', options.batchSize ?? 32, 1);
  const validationBatchSize = int('validationBatchSize', options.validationBatchSize ?? batchSize, 1);
  const seed = int('seed', options.seed ?? 0, 0);
  if (options.learningRate !== undefined && !(Number.isFinite(options.learningRate) && options.learningRate > 0)) {
    throw new TrainingError(`trainNeuroStageNet: learningRate must be a positive number, got ${String(options.learningRate)}`);
  }
  if (options.labelSmoothing !== undefined) checkLabelSmoothing(options.labelSmoothing, 'trainNeuroStageNet');
  const numClasses = modelNumClasses(model);
  checkSubset('train', options.train, model, numClasses);
  const trainCount = options.train.indices ? options.train.indices.length : options.train.source.length;
  if (trainCount === 0) throw new TrainingError('trainNeuroStageNet: the training subset is empty');
  if (options.validation) {
    checkSubset('validation', options.validation, model, numClasses);
    const n = options.validation.indices ? options.validation.indices.length : options.validation.source.length;
    if (n === 0) throw new TrainingError('trainNeuroStageNet: the validation subset is empty');
  }
  return {
    epochs,
    initialEpoch,
    batchSize,
    validationBatchSize,
    seed,
    numClasses,
    classWeights: resolveClassWeight(options, numClasses),
  };
}

function checkSubset(name: string, subset: DataSubset | undefined, model: tfl.LayersModel, numClasses: number): void {
  const source: LabeledImageSource | undefined = subset?.source;
  if (!source || typeof source.get !== 'function' || !source.labels) {
    throw new TrainingError(`trainNeuroStageNet: ${name}.source must be a LabeledImageSource (e.g. a ParquetImageDataset)`);
  }
  checkImageSize(model, source, `trainNeuroStageNet: ${name}`);
  if (source.classNames.length > numClasses) {
    throw new TrainingError(
      `trainNeuroStageNet: ${name} has ${source.classNames.length} classes but the model predicts ${numClasses}`,
    );
  }
}

function resolveClassWeight(options: TrainOptions, numClasses: number): Float32Array | null {
  const cw = options.classWeight;
  if (cw === undefined) return null;
  if (cw === 'balanced' || cw === 'balanced-sqrt') {
    const { source, indices } = options.train;
    const counts = new Float64Array(numClasses);
    const n = indices ? indices.length : source.length;
    for (let i = 0; i < n; i++) counts[source.labels[indices ? indices[i] : i]] += 1;
    // scikit-learn's compute_class_weight('balanced'): n / (K * count); an absent class gets 1 (it never occurs).
    const balanced = Float32Array.from(counts, (c) => (c > 0 ? n / (numClasses * c) : 1));
    return cw === 'balanced' ? balanced : balanced.map(Math.sqrt);
  }
  if (!Array.isArray(cw) || cw.length !== numClasses || cw.some((w) => !(Number.isFinite(w) && w >= 0))) {
    throw new TrainingError(
      `trainNeuroStageNet: classWeight must be 'balanced', 'balanced-sqrt' or ${numClasses} finite weights ≥ 0, got ${JSON.stringify(cw)}`,
    );
  }
  return Float32Array.from(cw);
}
