import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainNeuroStageNet } from '../../src/train/trainer.js';
import { earlyStopping } from '../../src/train/callbacks/early-stopping.js';
import { reduceLROnPlateau } from '../../src/train/callbacks/reduce-lr-on-plateau.js';
import { learningRateScheduler } from '../../src/train/callbacks/learning-rate-scheduler.js';
import { warmupCosineSchedule } from '../../src/train/learning-rate.js';
import { lineProgress } from '../../src/train/progress.js';
import { TrainingError } from '../../src/train/errors.js';
import type { BatchProgress } from '../../src/train/types.js';
import { ScriptedFigure, compileTiny, makeModel, makeSource, snapshotWeights } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const source = makeSource(48);
const trainIdx = Int32Array.from({ length: 32 }, (_, i) => i);
const valIdx = Int32Array.from({ length: 16 }, (_, i) => 32 + i);

describe('trainNeuroStageNet', () => {
  it('learns a separable toy task and records every figure per epoch', async () => {
    const model = compileTiny(makeModel(), 0.01);
    const result = await trainNeuroStageNet(model, {
      train: { source, indices: trainIdx },
      validation: { source, indices: valIdx },
      epochs: 6,
      batchSize: 8,
      augment: false,
      progress: 'none',
    });
    expect(result.epochs).toHaveLength(6);
    expect(result.stoppedEarly).toBe(false);
    for (const r of result.epochs) {
      for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'val_auc', 'lr', 'seconds'] as const) {
        expect(Number.isFinite(r[key]), key).toBe(true);
      }
      expect(r.lr).toBe(0.01);
    }
    expect(result.history.loss[5]).toBeLessThan(result.history.loss[0]);
    expect(result.history.val_accuracy[5]).toBeGreaterThanOrEqual(0.9);
    expect(result.history.val_auc[5]).toBeGreaterThan(0.95);
  });

  it('logs val_person_auc when the validation source has subjects: the macro AUC of per-person mean probabilities', async () => {
    // 8 people of 2 slices in validation (rows 32..47; person j % 8 holds rows 32 + j and 40 + j, one label each),
    // and 8 training people; a slow rate so that the AUC is not trivially 1.
    const subjects = Array.from({ length: 48 }, (_, i) => (i < 32 ? `train-${i % 8}` : `val-${(i - 32) % 8}`));
    const withPeople = { ...source, subjects };
    const model = compileTiny(makeModel(), 2e-4);
    const result = await trainNeuroStageNet(model, {
      train: { source: withPeople, indices: trainIdx },
      validation: { source: withPeople, indices: valIdx },
      epochs: 2,
      batchSize: 8,
      augment: false,
      progress: 'none',
    });
    expect(result.history.val_person_auc).toHaveLength(2);
    for (const r of result.epochs) expect(Number.isFinite(r.val_person_auc), `epoch ${r.epoch}`).toBe(true);
    // Independently: the final model's probabilities, averaged per person in float64, scored one-vs-rest by counting
    // pairs (ties one half), averaged over the classes.
    const xs = tf.tensor4d(
      Float32Array.from({ length: valIdx.length * 64 }, (_, j) => (source.get(valIdx[Math.floor(j / 64)]) as { image: Float32Array }).image[j % 64]),
      [valIdx.length, 8, 8, 1],
    );
    const p = (model.predict(xs) as tf.Tensor).arraySync() as number[][];
    xs.dispose();
    const people = new Map<string, { label: number; sum: number[]; n: number }>();
    valIdx.forEach((row, i) => {
      const person = people.get(subjects[row]) ?? { label: source.labels[row], sum: [0, 0, 0, 0], n: 0 };
      expect(person.label).toBe(source.labels[row]);
      p[i].forEach((v, c) => (person.sum[c] += v));
      person.n++;
      people.set(subjects[row], person);
    });
    expect(people.size).toBe(8);
    const persons = [...people.values()].map((q) => ({ label: q.label, prob: q.sum.map((v) => v / q.n) }));
    const aucs = [0, 1, 2, 3].map((c) => {
      const pos = persons.filter((q) => q.label === c).map((q) => q.prob[c]);
      const neg = persons.filter((q) => q.label !== c).map((q) => q.prob[c]);
      let wins = 0;
      for (const a of pos) for (const b of neg) wins += a > b ? 1 : a === b ? 0.5 : 0;
      return wins / (pos.length * neg.length);
    });
    const expected = aucs.reduce((a, b) => a + b, 0) / aucs.length;
    expect(expected).toBeGreaterThan(0);
    expect(expected).toBeLessThan(1); // not a trivially perfect score: the comparison means something
    expect(result.epochs[1].val_person_auc).toBeCloseTo(expected, 10);
    expect(result.history.val_person_auc[1]).toBe(result.epochs[1].val_person_auc);
    // Per person differs from per slice here (0.771 vs 0.703 measured), so the test tells the two apart.
    expect(Math.abs(result.epochs[1].val_person_auc! - result.epochs[1].val_auc!)).toBeGreaterThan(0.01);
  });

  it('has no val_person_auc when the validation source has no subjects (or there is no validation)', async () => {
    const model = compileTiny(makeModel(), 0.01);
    const result = await trainNeuroStageNet(model, {
      train: { source: { ...source, subjects: Array.from({ length: 48 }, (_, i) => `p${i % 8}`) }, indices: trainIdx },
      validation: { source, indices: valIdx },
      epochs: 1,
      batchSize: 8,
      progress: 'none',
    });
    expect(Number.isFinite(result.epochs[0].val_auc)).toBe(true);
    expect(result.epochs[0].val_person_auc).toBeUndefined();
    expect(result.history).not.toHaveProperty('val_person_auc');
    const noValidation = await trainNeuroStageNet(model, { train: { source, indices: trainIdx }, epochs: 1, batchSize: 8, progress: 'none' });
    expect(noValidation.history).not.toHaveProperty('val_person_auc');
    expect(noValidation.history).not.toHaveProperty('val_auc');
  });

  it('is deterministic: the same seed gives the same history (augmentation and dropout on); another seed differs', async () => {
    const run = async (seed: number) =>
      (
        await trainNeuroStageNet(compileTiny(makeModel({ dropout: 0.3 }), 0.01), {
          train: { source, indices: trainIdx },
          validation: { source, indices: valIdx },
          epochs: 2,
          batchSize: 8,
          seed,
          progress: 'none',
        })
      ).history;
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    delete a.seconds;
    delete b.seconds;
    delete c.seconds;
    expect(b).toEqual(a);
    expect(c.loss).not.toEqual(a.loss);
  });

  it('the loss is the class-weighted mean of the compiled loss plus regularisation, as Keras', async () => {
    // SGD with rate 0: the step changes nothing, so the recorded loss can be recomputed from the model.
    const l2 = 0.01;
    const model = makeModel({ l2 });
    model.compile({ optimizer: tf.train.sgd(0), loss: 'categoricalCrossentropy' });
    const weights = [1, 2, 0.5, 4];
    const result = await trainNeuroStageNet(model, {
      train: { source, indices: trainIdx },
      validation: { source, indices: valIdx },
      epochs: 1,
      batchSize: 32,
      augment: false,
      classWeight: weights,
      progress: 'none',
    });
    const expected = (idx: Int32Array, useWeights: boolean): number => {
      const xs = tf.tensor4d(
        Float32Array.from({ length: idx.length * 64 }, (_, j) => (source.get(idx[Math.floor(j / 64)]) as { image: Float32Array }).image[j % 64]),
        [idx.length, 8, 8, 1],
      );
      const p = (model.predict(xs) as tf.Tensor).arraySync() as number[][];
      xs.dispose();
      let sum = 0;
      idx.forEach((row, i) => {
        const y = source.labels[row];
        const eps = 1e-7; // tfjs clips probabilities to [eps, 1 - eps] in categoricalCrossentropy
        sum += (useWeights ? weights[y] : 1) * -Math.log(Math.min(1 - eps, Math.max(eps, p[i][y])));
      });
      const kernel = model.layers.find((l) => l.getClassName() === 'Dense')!.getWeights()[0].dataSync();
      let sq = 0;
      for (const w of kernel) sq += w * w;
      return sum / idx.length + l2 * sq;
    };
    expect(result.epochs[0].loss).toBeCloseTo(expected(trainIdx, true), 4);
    expect(result.epochs[0].val_loss!).toBeCloseTo(expected(valIdx, false), 4);
  });

  it("classWeight 'balanced' follows scikit-learn's n / (K * count)", async () => {
    // Labels of rows 0..9 are 0,1,2,3,0,1,2,3,0,1: counts 3,3,2,2 -> weights 10/12, 10/12, 10/8, 10/8.
    const model = makeModel();
    model.compile({ optimizer: tf.train.sgd(0), loss: 'categoricalCrossentropy' });
    const idx = Int32Array.from({ length: 10 }, (_, i) => i);
    const balanced = await trainNeuroStageNet(model, { train: { source, indices: idx }, epochs: 1, batchSize: 10, augment: false, classWeight: 'balanced', progress: 'none' });
    const manual = await trainNeuroStageNet(model, { train: { source, indices: idx }, epochs: 1, batchSize: 10, augment: false, classWeight: [10 / 12, 10 / 12, 10 / 8, 10 / 8], progress: 'none' });
    expect(balanced.epochs[0].loss).toBeCloseTo(manual.epochs[0].loss, 6);
  });

  it('halves the learning rate after `patience` flat val_loss epochs; the history shows the rate each epoch used', async () => {
    const model = compileTiny(makeModel(), 0.01);
    const result = await trainNeuroStageNet(model, {
      train: { source, indices: trainIdx },
      validation: { source, indices: valIdx },
      epochs: 4,
      batchSize: 16,
      callbacks: [new ScriptedFigure('val_loss', [0.7]), reduceLROnPlateau({ patience: 2 })],
      progress: 'none',
    });
    expect(result.history.lr).toEqual([0.01, 0.01, 0.01, 0.005]);
  });

  it('early stopping ends the run and leaves the best epoch’s weights in the model', async () => {
    const model = compileTiny(makeModel(), 0.05);
    const perEpoch: Float32Array[][] = [];
    const es = earlyStopping({ patience: 1 });
    const result = await trainNeuroStageNet(model, {
      train: { source, indices: trainIdx },
      validation: { source, indices: valIdx },
      epochs: 10,
      batchSize: 8,
      callbacks: [new ScriptedFigure('val_auc', [0.7, 0.9, 0.8], (_, m) => perEpoch.push(snapshotWeights(m))), es],
      progress: 'none',
    });
    expect(result.epochs.map((r) => r.epoch)).toEqual([0, 1, 2]);
    expect(result.stoppedEarly).toBe(true);
    expect(result.history.val_auc).toEqual([0.7, 0.9, 0.8]); // the history keeps what callbacks saw
    snapshotWeights(model).forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(perEpoch[1][i])));
  });

  it('stops cleanly mid-epoch when a callback sets stopTraining, calls the hooks, and leaks no tensors', async () => {
    const model = compileTiny(makeModel({ dropout: 0.2 }), 0.01);
    // Warm-up run: Adam creates its slot variables on the first step.
    await trainNeuroStageNet(model, { train: { source, indices: trainIdx }, epochs: 1, batchSize: 8, progress: 'none' });
    const before = tf.memory().numTensors;
    const batches: BatchProgress[] = [];
    const lines: string[] = [];
    const stopper = new tfl.CustomCallback({
      onBatchEnd: async (batch) => {
        if (batch === 1) model.stopTraining = true;
      },
    });
    const result = await trainNeuroStageNet(model, {
      train: { source, indices: trainIdx },
      validation: { source, indices: valIdx },
      epochs: 3,
      batchSize: 8,
      callbacks: [stopper, earlyStopping({ patience: 5 }), reduceLROnPlateau()],
      onBatchEnd: (b) => void batches.push(b),
      progress: lineProgress((l) => lines.push(l)),
    });
    expect(batches.map((b) => b.step)).toEqual([1, 2]);
    expect(batches[1].steps).toBe(4);
    expect(batches[1].seen).toBe(16);
    expect(result.epochs).toHaveLength(1);
    expect(result.stoppedEarly).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^epoch 1\/3 .*loss \d\.\d{4} .*val_auc \d\.\d{4} .*lr 1\.00e-2$/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a full epoch with validation and the three callbacks leaves no tensor behind', async () => {
    const model = compileTiny(makeModel({ dropout: 0.2, l2: 1e-3 }), 0.01);
    await trainNeuroStageNet(model, { train: { source, indices: trainIdx }, epochs: 1, batchSize: 8, progress: 'none' });
    const before = tf.memory().numTensors;
    const epochEnds: number[] = [];
    await trainNeuroStageNet(model, {
      train: { source, indices: trainIdx },
      validation: { source, indices: valIdx },
      epochs: 2,
      batchSize: 8,
      classWeight: 'balanced',
      callbacks: [earlyStopping({ patience: 3 }), reduceLROnPlateau({ patience: 1 })],
      onEpochEnd: (r) => void epochEnds.push(r.epoch),
      progress: 'none',
    });
    expect(epochEnds).toEqual([0, 1]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a per-step warm-up + cosine schedule drives the rate of every step', async () => {
    const model = compileTiny(makeModel(), 1);
    const schedule = warmupCosineSchedule({ peakLr: 0.02, warmupEpochs: 1, totalEpochs: 2 });
    const seen: number[] = [];
    await trainNeuroStageNet(model, {
      train: { source, indices: trainIdx },
      epochs: 2,
      batchSize: 16,
      callbacks: [learningRateScheduler(schedule, { perStep: true })],
      onBatchEnd: (b) => void seen.push(b.lr),
      progress: 'none',
    });
    expect(seen).toEqual([0, 0.5, 1, 1.5].map(schedule));
  });

  it('explains bad inputs with a TrainingError', async () => {
    const model = compileTiny(makeModel({ size: 8 }));
    const wrongSize = makeSource(8, 16);
    await expect(trainNeuroStageNet(model, { train: { source: wrongSize }, epochs: 1, progress: 'none' })).rejects.toThrow(
      /train images are 16x16x1 but model .* takes \[8, 8, 1\]/,
    );
    await expect(trainNeuroStageNet(model, { train: { source }, epochs: 0, progress: 'none' })).rejects.toThrow(TrainingError);
    await expect(
      trainNeuroStageNet(model, { train: { source }, epochs: 1, classWeight: [1, 2], progress: 'none' }),
    ).rejects.toThrow(/classWeight must be 'balanced', 'balanced-sqrt' or 4 finite weights/);
    await expect(
      trainNeuroStageNet(model, { train: { source, indices: [] }, epochs: 1, progress: 'none' }),
    ).rejects.toThrow(/training subset is empty/);
  });
});

describe('trainNeuroStageNet on an uncompiled model', () => {
  it("compiles it with the seed's recipe: Adam(5e-4) and cross-entropy with label smoothing 0.15", async () => {
    const model = makeModel();
    const idx = Int32Array.from({ length: 12 }, (_, i) => i);
    // The recorded loss of a single full batch is computed before the update: the initial model's loss.
    const xs = tf.tensor4d(
      Float32Array.from({ length: 12 * 64 }, (_, j) => (source.get(Math.floor(j / 64)) as { image: Float32Array }).image[j % 64]),
      [12, 8, 8, 1],
    );
    const p = (model.predict(xs) as tf.Tensor).arraySync() as number[][];
    xs.dispose();
    let expected = 0;
    p.forEach((row, i) => {
      const y = source.labels[i];
      row.forEach((pk, k) => {
        const target = (k === y ? 1 - 0.15 : 0) + 0.15 / 4; // smoothed one-hot
        expected -= target * Math.log(pk);
      });
    });
    expected /= 12;
    const result = await trainNeuroStageNet(model, { train: { source, indices: idx }, epochs: 1, batchSize: 12, augment: false, progress: 'none' });
    expect(model.optimizer.getClassName()).toBe('Adam');
    expect(result.epochs[0].lr).toBe(5e-4);
    expect(result.epochs[0].loss).toBeCloseTo(expected, 5);
  });
});

describe('trainNeuroStageNet with a validation subject of two labels', () => {
  it('trains without val_person_auc and warns once, naming the subject', async () => {
    // Validation rows 32..47 (labels i % 4): person val-j % 8 holds rows 32 + j and 40 + j, one label each, except
    // 'val-mixed', given rows 32 (label 0) and 33 (label 1).
    const subjects = Array.from({ length: 48 }, (_, i) => (i < 32 ? `train-${i % 8}` : i === 32 || i === 33 ? 'val-mixed' : `val-${(i - 32) % 8}`));
    const mixed = { ...source, subjects };
    expect([mixed.labels[32], mixed.labels[33]]).toEqual([0, 1]);
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
    let result: Awaited<ReturnType<typeof trainNeuroStageNet>>;
    try {
      result = await trainNeuroStageNet(compileTiny(makeModel(), 0.01), {
        train: { source: mixed, indices: trainIdx },
        validation: { source: mixed, indices: valIdx },
        epochs: 2,
        batchSize: 8,
        augment: false,
        progress: 'none',
      });
    } finally {
      console.warn = original;
    }
    expect(result.epochs).toHaveLength(2);
    for (const r of result.epochs) {
      expect(Number.isFinite(r.val_auc), `epoch ${r.epoch}`).toBe(true);
      expect(r.val_person_auc, `epoch ${r.epoch}`).toBeUndefined();
    }
    expect(warnings).toHaveLength(1); // once per run, not once per epoch
    expect(warnings[0]).toMatch(/val_person_auc/);
    expect(warnings[0]).toContain('val-mixed');
  });
});

describe('trainNeuroStageNet: the optimizer it creates (issue 15)', () => {
  it('a build → train → dispose cycle leaves no tensor behind (the Adam state goes with the model)', async () => {
    const cycle = async (): Promise<void> => {
      const model = makeModel();
      await trainNeuroStageNet(model, { train: { source, indices: trainIdx }, epochs: 1, batchSize: 8, augment: false, progress: 'none' });
      model.dispose();
    };
    await cycle(); // first-use caches (backend constants) are not a leak
    const before = tf.memory().numTensors;
    await cycle();
    await cycle();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps the Adam state for a further run, and does not free an optimizer the caller compiled with', async () => {
    const model = makeModel();
    await trainNeuroStageNet(model, { train: { source, indices: trainIdx }, epochs: 1, batchSize: 8, augment: false, progress: 'none' });
    const adam = model.optimizer;
    await trainNeuroStageNet(model, { train: { source, indices: trainIdx }, epochs: 1, batchSize: 8, augment: false, progress: 'none' });
    expect(model.optimizer).toBe(adam);
    model.dispose();

    const own = compileTiny(makeModel());
    await trainNeuroStageNet(own, { train: { source, indices: trainIdx }, epochs: 1, batchSize: 8, augment: false, progress: 'none' });
    const optimizer = own.optimizer;
    const withState = tf.memory().numTensors;
    own.dispose();
    const afterModel = tf.memory().numTensors;
    expect(afterModel).toBeLessThan(withState);
    const beforeOptimizer = tf.memory().numTensors;
    optimizer.dispose(); // still the caller's: tfjs' rule
    expect(tf.memory().numTensors).toBeLessThan(beforeOptimizer);
  });
});

describe('trainNeuroStageNet: a diverging training (issue 15)', () => {
  it('stops with a TrainingError naming the epoch, the step and the weights once a step leaves non-finite weights', async () => {
    // This rate is Inf in float32: Adam's first step makes the weights ±Inf/NaN while the loss of that step was finite
    // (it is computed before the update); the old check only saw the NaN loss of the step after.
    const model = makeModel();
    const error = await trainNeuroStageNet(model, {
      train: { source, indices: trainIdx },
      epochs: 2,
      batchSize: 8,
      augment: false,
      progress: 'none',
      learningRate: 1e39,
    }).catch((e: unknown) => e);
    model.dispose();
    expect(error).toBeInstanceOf(TrainingError);
    expect((error as Error).message).toMatch(/weights became non-finite at epoch 1, step 1 /);
    expect((error as Error).message).toMatch(/kernel has \d+ of \d+ values non-finite/);
  });

  it('a large but converging rate is not stopped', async () => {
    const model = compileTiny(makeModel(), 0.05);
    const result = await trainNeuroStageNet(model, { train: { source, indices: trainIdx }, epochs: 2, batchSize: 8, augment: false, progress: 'none' });
    expect(result.epochs).toHaveLength(2);
    model.dispose();
  });
});
