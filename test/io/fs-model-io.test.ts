import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, ModelFileError, saveModel } from '../../src/io/index.js';
import {
  DualPoolHead,
  GrayToRGBProjection,
  KerasNormalization,
  KerasRescaling,
  SEResidualBlock,
  SeededDropout,
} from '../../src/layers/index.js';
import { applyFineTuneFreeze, buildNeuroStageNet, countParams, getBackbone } from '../../src/models/index.js';

const dir = mkdtempSync(join(tmpdir(), 'neurostagenet-io-'));

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function input(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.randomUniform(shape, 0, 1, 'float32', seed), 255));
}

describe('saveModel / loadModel', () => {
  it('round-trips a model with every custom layer: same layers, trainable flags and identical predictions', async () => {
    const x0 = tfl.input({ shape: [8, 8, 1] });
    let x = new GrayToRGBProjection({ name: 'gray_to_rgb', seed: 1 }).apply(x0) as tfl.SymbolicTensor;
    x = new KerasRescaling({ name: 'rescale', scale: 1 / 255 }).apply(x) as tfl.SymbolicTensor;
    x = new KerasNormalization({ name: 'norm', mean: [0.4, 0.5, 0.6], variance: [0.2, 0.2, 0.3] }).apply(x) as tfl.SymbolicTensor;
    x = new SeededDropout({ name: 'drop', rate: 0.2, noiseShape: [null, 1, 1, 1], seed: 4 }).apply(x) as tfl.SymbolicTensor;
    x = new SEResidualBlock({ filters: 8, seRatio: 4, seed: 2 }).apply(x);
    const { probabilities } = new DualPoolHead({ units: [6, 5], numClasses: 3, seed: 3 }).apply(x);
    const model = tfl.model({ inputs: x0, outputs: probabilities, name: 'small' });
    model.getLayer('gray_to_rgb').trainable = false;

    const target = join(dir, 'small');
    await saveModel(model, target);
    expect(existsSync(join(target, 'model.json'))).toBe(true);
    expect(existsSync(join(target, 'weights.bin'))).toBe(true);
    const reloaded = await loadModel(target);
    expect(reloaded.layers.map((l) => [l.name, l.getClassName(), l.trainable])).toEqual(
      model.layers.map((l) => [l.name, l.getClassName(), l.trainable]),
    );
    const xs = input([3, 8, 8, 1], 9);
    const before = tf.memory().numTensors;
    const a = model.predict(xs) as tf.Tensor;
    const b = reloaded.predict(xs) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('round-trips the full NeuroStageNet (nested backbone, fine-tune state) with identical predictions', async () => {
    const model = await buildNeuroStageNet({ seed: 3 });
    applyFineTuneFreeze(getBackbone(model), 150);
    const target = join(dir, 'neurostagenet');
    await saveModel(model, target);
    const reloaded = await loadModel(target);
    expect(reloaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
    expect(getBackbone(reloaded).layers.map((l) => l.name)).toEqual(getBackbone(model).layers.map((l) => l.name));
    expect(countParams(reloaded)).toEqual(countParams(model));
    expect(countParams(reloaded).trainable).toBe(5087946);
    const xs = input([2, 128, 128, 1], 5);
    const a = model.predict(xs) as tf.Tensor;
    const b = reloaded.predict(xs) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b, xs]);
  });

  it('fails with a typed error naming the path when there is no saved model', async () => {
    await expect(loadModel(join(dir, 'nothing-here'))).rejects.toThrow(ModelFileError);
    await expect(loadModel(join(dir, 'nothing-here'))).rejects.toThrow(/nothing-here\/model\.json/);
  });
});
