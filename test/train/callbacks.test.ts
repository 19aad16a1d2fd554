import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EarlyStopping, earlyStopping } from '../../src/train/callbacks/early-stopping.js';
import { reduceLROnPlateau } from '../../src/train/callbacks/reduce-lr-on-plateau.js';
import { modelCheckpoint } from '../../src/train/callbacks/model-checkpoint.js';
import { learningRateScheduler } from '../../src/train/callbacks/learning-rate-scheduler.js';
import { validationAuc } from '../../src/train/callbacks/validation-auc.js';
import { MultiClassMetrics } from '../../src/index.js';
import { getLearningRate, setLearningRate, warmupCosineSchedule } from '../../src/train/learning-rate.js';
import { TrainingError } from '../../src/train/errors.js';
import { loadModel } from '../../src/io/fs-model-io.js';
import { ScriptedFigure, compileTiny, makeModel, makeSource, snapshotWeights } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const tmp = mkdtempSync(join(tmpdir(), 'nsn-callbacks-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// All of the source as tensors, for plain model.fit.
function asTensors(n: number): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  const src = makeSource(n);
  const xs = tf.tensor4d(
    Float32Array.from({ length: n * 64 }, (_, j) => (src.get(Math.floor(j / 64)) as { image: Float32Array }).image[j % 64]),
    [n, 8, 8, 1],
  );
  const ys = tf.oneHot(tf.tensor1d(src.labels, 'int32'), 4) as tf.Tensor2D;
  return { xs, ys };
}

describe('reduceLROnPlateau', () => {
  it('halves the learning rate after `patience` epochs of a flat val_loss (model.fit), and Adam uses it', async () => {
    const model = compileTiny(makeModel(), 0.01);
    const { xs, ys } = asTensors(16);
    const cb = reduceLROnPlateau({ patience: 2 });
    const lrSeen: number[] = [];
    const spy = new tfl.CustomCallback({ onEpochBegin: async () => void lrSeen.push(getLearningRate(model.optimizer)) });
    await model.fit(xs, ys, {
      epochs: 5,
      batchSize: 8,
      validationData: [xs, ys],
      verbose: 0,
      callbacks: [spy, new ScriptedFigure('val_loss', [1.0]), cb],
    });
    // Epoch 0 sets the best; epochs 1 and 2 are flat -> reduce at the end of epoch 2; epochs 3, 4 flat again
    // (wait 1, 2) -> reduce again at the end of epoch 4.
    expect(cb.reductions.map((r) => r.epoch)).toEqual([2, 4]);
    expect(lrSeen).toEqual([0.01, 0.01, 0.01, 0.005, 0.005]);
    expect(getLearningRate(model.optimizer)).toBeCloseTo(0.0025, 12);
    tf.dispose([xs, ys]);
  });

  it('counts an improvement larger than minDelta as progress, respects cooldown and minLr', async () => {
    const model = compileTiny(makeModel(), 0.01);
    const cb = reduceLROnPlateau({ patience: 1, cooldown: 2, minLr: 0.004, minDelta: 0.1 });
    cb.setModel(model);
    await cb.onTrainBegin();
    // 1.0 best; 0.95 (not better by > 0.1) -> wait 1 -> reduce to 0.005, cooldown 2;
    // 0.9 in cooldown (as Keras, the counter drops first: 2 -> 1; 0.9 is not < 1.0 - 0.1); 0.9: counter 1 -> 0, so
    // counting resumes -> wait 1 -> reduce to max(0.0025, minLr 0.004)
    for (const [epoch, v] of [1.0, 0.95, 0.9, 0.9, 0.5, 0.5].entries()) await cb.onEpochEnd(epoch, { val_loss: v });
    expect(cb.reductions).toEqual([
      { epoch: 1, from: 0.01, to: 0.005 },
      { epoch: 3, from: 0.005, to: 0.004 },
    ]);
    // 0.5 improved; 0.5 flat -> wait 1, but the rate is already at minLr: no further reduction.
    expect(getLearningRate(model.optimizer)).toBe(0.004);
  });

  it('the reduced rate is what the next Adam step uses (first step moves each weight by ~lr)', () => {
    const v = tf.variable(tf.tensor1d([1, -2, 3]));
    const opt = tf.train.adam(0.1);
    setLearningRate(opt, 0.05);
    opt.minimize(() => tf.sum(tf.mul(v, tf.tensor1d([1, -1, 2]))) as tf.Scalar, false, [v]);
    // Adam's first update is lr * m̂ / (sqrt(v̂) + eps) = lr * sign(g) (up to eps).
    const moved = Array.from(v.dataSync()).map((x, i) => [1, -2, 3][i] - x);
    moved.forEach((d, i) => expect(d).toBeCloseTo(0.05 * Math.sign([1, -1, 2][i]), 6));
    v.dispose();
    opt.dispose();
  });

  it('also drives SGD, whose rate is cached in a scalar', () => {
    const v = tf.variable(tf.tensor1d([1]));
    const opt = tf.train.sgd(1);
    setLearningRate(opt, 0.25);
    opt.minimize(() => tf.sum(tf.mul(v, 2)) as tf.Scalar, false, [v]);
    expect(v.dataSync()[0]).toBeCloseTo(1 - 0.25 * 2, 7);
    v.dispose();
    opt.dispose();
  });

  it('rejects bad options with a TrainingError', () => {
    expect(() => reduceLROnPlateau({ factor: 1 })).toThrow(TrainingError);
    expect(() => reduceLROnPlateau({ patience: -1 })).toThrow(/patience/);
  });
});

describe('earlyStopping', () => {
  it('stops after `patience` epochs without improvement and puts the best epoch back (model.fit)', async () => {
    const model = compileTiny(makeModel(), 0.05);
    const { xs, ys } = asTensors(16);
    const perEpoch: Float32Array[][] = [];
    const recorder = new ScriptedFigure('val_auc', [0.6, 0.8, 0.79, 0.8, 0.95], (_, m) => perEpoch.push(snapshotWeights(m)));
    const es = earlyStopping({ monitor: 'val_auc', mode: 'max', patience: 2 });
    const history = await model.fit(xs, ys, { epochs: 10, batchSize: 4, validationData: [xs, ys], verbose: 0, callbacks: [recorder, es] });
    // best 0.8 at epoch 1; 0.79 and 0.8 (not better) -> stop at the end of epoch 3.
    expect(history.epoch).toEqual([0, 1, 2, 3]);
    expect(es.bestEpoch).toBe(1);
    expect(es.stoppedEpoch).toBe(3);
    const now = snapshotWeights(model);
    now.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(perEpoch[1][i])));
    // and the weights really moved after the best epoch, so the restore was not a no-op
    expect(perEpoch[3].some((w, i) => w.some((x, j) => x !== perEpoch[1][i][j]))).toBe(true);
    tf.dispose([xs, ys]);
  });

  it('restores the best weights also when the epochs run out, and holds no tensors afterwards', async () => {
    const model = compileTiny(makeModel(), 0.05);
    const { xs, ys } = asTensors(8);
    const perEpoch: Float32Array[][] = [];
    const es = new EarlyStopping({ monitor: 'val_loss', patience: 10 });
    const before = tf.memory().numTensors;
    await model.fit(xs, ys, {
      epochs: 3,
      batchSize: 4,
      verbose: 0,
      validationData: [xs, ys],
      callbacks: [new ScriptedFigure('val_loss', [0.5, 0.3, 0.4], (_, m) => perEpoch.push(snapshotWeights(m))), es],
    });
    expect(es.mode).toBe('min');
    expect(es.stoppedEpoch).toBe(-1);
    expect(es.bestEpoch).toBe(1);
    snapshotWeights(model).forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(perEpoch[1][i])));
    // Adam's slots (2 per trainable weight + 2 scalars... created on the first step) are the only new tensors.
    const adamSlots = model.trainableWeights.length * 2;
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(adamSlots + 2);
    tf.dispose([xs, ys]);
  });

  it('infers the direction from the name and honours minDelta and baseline', async () => {
    expect(earlyStopping({ monitor: 'val_auc' }).mode).toBe('max');
    expect(earlyStopping({ monitor: 'val_accuracy' }).mode).toBe('max');
    expect(earlyStopping({ monitor: 'val_loss' }).mode).toBe('min');
    const model = compileTiny(makeModel());
    const es = earlyStopping({ monitor: 'val_auc', patience: 1, minDelta: 0.05, restoreBestWeights: false });
    es.setModel(model);
    await es.onTrainBegin();
    await es.onEpochEnd(0, { val_auc: 0.7 });
    await es.onEpochEnd(1, { val_auc: 0.74 }); // +0.04 < minDelta: no improvement -> stop
    expect(model.stopTraining).toBe(true);
    expect(es.best).toBe(0.7);
    model.stopTraining = false;
    const withBaseline = earlyStopping({ monitor: 'val_auc', patience: 1, baseline: 0.9, restoreBestWeights: false });
    withBaseline.setModel(model);
    await withBaseline.onTrainBegin();
    await withBaseline.onEpochEnd(0, { val_auc: 0.8 }); // epoch 0 never stops
    await withBaseline.onEpochEnd(1, { val_auc: 0.85 }); // improves on best but not on the baseline -> stop
    expect(model.stopTraining).toBe(true);
  });
});

describe('modelCheckpoint', () => {
  it('saves only on improvement, and the saved model reloads to the best epoch’s predictions', async () => {
    const model = compileTiny(makeModel(), 0.05);
    const { xs, ys } = asTensors(16);
    const probe = tf.slice(xs, [0, 0, 0, 0], [4, 8, 8, 1]);
    const predictions: Float32Array[] = [];
    const recorder = new ScriptedFigure('val_auc', [0.5, 0.9, 0.7, 0.9], (_, m) =>
      predictions.push(tf.tidy(() => (m.predict(probe) as tf.Tensor).dataSync() as Float32Array).slice()),
    );
    const dir = join(tmp, 'best');
    const ckpt = modelCheckpoint({ dir, monitor: 'val_auc' });
    await model.fit(xs, ys, { epochs: 4, batchSize: 4, verbose: 0, validationData: [xs, ys], callbacks: [recorder, ckpt] });
    expect(ckpt.lastSavedEpoch).toBe(1); // 0.9 at epoch 3 is not strictly better than 0.9
    expect(ckpt.best).toBe(0.9);
    const reloaded = await loadModel(dir);
    const again = tf.tidy(() => (reloaded.predict(probe) as tf.Tensor).dataSync() as Float32Array).slice();
    expect(Array.from(again)).toEqual(Array.from(predictions[1]));
    expect(Array.from(again)).not.toEqual(Array.from(predictions[3]));
    reloaded.dispose();
    tf.dispose([xs, ys, probe]);
  });

  it('with saveBestOnly false saves every epoch, expanding {epoch}', async () => {
    const model = compileTiny(makeModel());
    const saved: string[] = [];
    const ckpt = modelCheckpoint({ dir: join(tmp, 'e{epoch}'), saveBestOnly: false, save: async (_, d) => void saved.push(d) });
    ckpt.setModel(model);
    await ckpt.onTrainBegin();
    await ckpt.onEpochEnd(0, {});
    await ckpt.onEpochEnd(1, {});
    expect(saved).toEqual([join(tmp, 'e1'), join(tmp, 'e2')]);
  });
});

describe('learningRateScheduler + warmupCosineSchedule', () => {
  it('the schedule has the documented shape', () => {
    const s = warmupCosineSchedule({ peakLr: 1e-3, warmupEpochs: 2, totalEpochs: 10, minLr: 1e-5 });
    expect(s(0)).toBeCloseTo(1e-4, 12);
    expect(s(1)).toBeCloseTo(5.5e-4, 12);
    expect(s(2)).toBeCloseTo(1e-3, 12);
    expect(s(6)).toBeCloseTo(1e-5 + 0.5 * (1e-3 - 1e-5), 12); // half-way through the decay
    expect(s(10)).toBeCloseTo(1e-5, 12);
    expect(s(12)).toBeCloseTo(1e-5, 12);
    expect(() => warmupCosineSchedule({ peakLr: 1e-3, warmupEpochs: 5, totalEpochs: 2 })).toThrow(TrainingError);
  });

  it('sets the rate per step inside model.fit', async () => {
    const model = compileTiny(makeModel(), 0.5);
    const { xs, ys } = asTensors(16);
    const schedule = warmupCosineSchedule({ peakLr: 0.01, warmupEpochs: 1, totalEpochs: 2 });
    const cb = learningRateScheduler(schedule, { perStep: true });
    await model.fit(xs, ys, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [cb] });
    expect(cb.applied.map((a) => a.epoch)).toEqual([0, 0.5, 1, 1.5]);
    cb.applied.forEach((a) => expect(a.lr).toBeCloseTo(schedule(a.epoch), 12));
    expect(getLearningRate(model.optimizer)).toBeCloseTo(schedule(1.5), 12);
    tf.dispose([xs, ys]);
  });
});

describe('validationAuc', () => {
  it('adds val_auc to model.fit logs so that earlyStopping and the history can use it', async () => {
    const model = compileTiny(makeModel(), 0.05);
    const { xs, ys } = asTensors(16);
    const src = makeSource(16);
    const auc = validationAuc({ source: src, batchSize: 5 });
    const es = earlyStopping({ monitor: 'val_auc', patience: 10, restoreBestWeights: false });
    const history = await model.fit(xs, ys, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [auc, es] });
    expect(history.history.val_auc).toHaveLength(2);
    expect(history.history.val_auc).toEqual(auc.values);
    expect(es.best).toBe(Math.max(...(auc.values as number[])));
    // the same figure computed independently from the final model's predictions
    const p = model.predict(xs) as tf.Tensor;
    const expected = new MultiClassMetrics({ numClasses: 4 }).update(src.labels, p).compute().macro.auc!;
    p.dispose();
    expect(auc.values[1]).toBeCloseTo(expected, 12); // no restore: the final model is the last epoch's
    tf.dispose([xs, ys]);
  });
});
