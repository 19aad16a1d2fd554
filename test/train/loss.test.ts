import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { LABEL_SMOOTHING_RANGE, categoricalCrossentropyWithSmoothing, checkLabelSmoothing } from '../../src/train/loss.js';
import { resolveTrainingRecipe } from '../../src/train/recipe.js';
import { trainNeuroStageNet } from '../../src/train/trainer.js';
import { parseTrainingFlags } from '../../src/train/flags.js';
import { makeModel, makeSource } from './helpers.js';
import { compileNeuroStageNet } from '../../src/train/compile.js';
import { TrainingError } from '../../src/train/errors.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// Reference values computed by hand (python3 math, float64):
//  row A: y=[0,1,0,0], p=[.1,.6,.2,.1], ls=.15 → y'=[.0375,.8875,.0375,.0375], −Σ y' ln p = 0.6864055447831489
//  row B: y=[1,0,0,0], p=[0,1,0,0] (clipped to [1e-7, 1−1e-7]), ls=.15 → 15.51366706779738
//  logits z=[1,2,0,−1], y=[0,0,1,0], ls=.15 → −Σ y'·logsoftmax(z) = 2.365189698561195
describe('categoricalCrossentropyWithSmoothing', () => {
  it('matches hand-computed Keras values from probabilities (smoothing and clipping)', () => {
    const loss = categoricalCrossentropyWithSmoothing(0.15);
    const before = tf.memory().numTensors;
    const out = tf.tidy(() =>
      loss(tf.tensor2d([[0, 1, 0, 0], [1, 0, 0, 0]]), tf.tensor2d([[0.1, 0.6, 0.2, 0.1], [0, 1, 0, 0]])).dataSync(),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(out[0]).toBeCloseTo(0.6864055447831489, 5);
    expect(out[1]).toBeCloseTo(15.51366706779738, 3);
  });

  it('without smoothing is plain cross-entropy; the logits variant matches a hand value and the probability form', () => {
    const plain = tf.tidy(() =>
      categoricalCrossentropyWithSmoothing(0)(tf.tensor2d([[0, 1, 0, 0]]), tf.tensor2d([[0.1, 0.6, 0.2, 0.1]])).dataSync()[0],
    );
    expect(plain).toBeCloseTo(-Math.log(0.6), 6);
    const z = tf.tensor2d([[1, 2, 0, -1]]);
    const y = tf.tensor2d([[0, 0, 1, 0]]);
    const fromLogits = tf.tidy(() => categoricalCrossentropyWithSmoothing(0.15, { fromLogits: true })(y, z).dataSync()[0]);
    const fromProbs = tf.tidy(() => categoricalCrossentropyWithSmoothing(0.15)(y, tf.softmax(z)).dataSync()[0]);
    expect(fromLogits).toBeCloseTo(2.365189698561195, 5);
    expect(fromProbs).toBeCloseTo(2.365189698561195, 5);
    tf.dispose([z, y]);
  });

  it('rejects bad arguments with messages naming them', () => {
    expect(() => categoricalCrossentropyWithSmoothing(1.5)).toThrow(/labelSmoothing/);
    expect(() => categoricalCrossentropyWithSmoothing(-0.1)).toThrow(TrainingError);
    const loss = categoricalCrossentropyWithSmoothing(0.1);
    const [yTrue, yPred] = [tf.tensor2d([[0, 1]]), tf.tensor2d([[0.2, 0.3, 0.5]])];
    expect(() => loss(yTrue, yPred)).toThrow(/targets \[1,2\] and predictions \[1,3\]/);
    expect(() => loss(yTrue, yPred)).toThrow(TrainingError);
    tf.dispose([yTrue, yPred]);
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3], activation: 'softmax' })] });
    expect(() => compileNeuroStageNet(model, { learningRate: 0 })).toThrow(TrainingError);
    expect(() => compileNeuroStageNet(model, { learningRate: 0 })).toThrow(/learningRate must be > 0, got 0/);
    model.dispose();
  });

  it('one label-smoothing rule, [0, 1] as Keras: the loss, the recipes, the trainer and the flags accept 1 and refuse 1.01 alike', async () => {
    expect(LABEL_SMOOTHING_RANGE).toEqual([0, 1]);
    expect(checkLabelSmoothing(0)).toBe(0);
    expect(checkLabelSmoothing(1)).toBe(1);
    for (const bad of [1.01, -0.01, Number.NaN, '0.1' as unknown as number]) {
      expect(() => checkLabelSmoothing(bad)).toThrow(new RegExp(`^labelSmoothing must be in \\[0, 1\\], got ${String(bad)}$`));
    }
    expect(() => categoricalCrossentropyWithSmoothing(1)).not.toThrow();
    expect(resolveTrainingRecipe('seed', { labelSmoothing: 1 }).labelSmoothing).toBe(1);
    expect(parseTrainingFlags({ 'label-smoothing': '1' }).recipe.labelSmoothing).toBe(1);
    const message = 'labelSmoothing must be in [0, 1], got 1.01';
    expect(() => categoricalCrossentropyWithSmoothing(1.01)).toThrow(`categoricalCrossentropyWithSmoothing: ${message}`);
    expect(() => resolveTrainingRecipe('seed', { labelSmoothing: 1.01 })).toThrow(message);
    expect(() => parseTrainingFlags({ 'label-smoothing': '1.01' })).toThrow("--label-smoothing expects a number in [0, 1], got '1.01'");
    const source = makeSource(8);
    const refused = makeModel();
    await expect(trainNeuroStageNet(refused, { train: { source }, epochs: 1, labelSmoothing: 1.01, progress: 'none' })).rejects.toThrow(`trainNeuroStageNet: ${message}`);
    refused.dispose();
    const model = makeModel();
    await expect(trainNeuroStageNet(model, { train: { source }, epochs: 1, batchSize: 8, labelSmoothing: 1, progress: 'none' })).resolves.toBeDefined();
    model.dispose();
  });

  it('compileNeuroStageNet uses it: evaluate() returns the batch mean of the smoothed loss', async () => {
    // A model whose output is a fixed probability row (zero kernel, bias = log p, softmax).
    const input = tfl.input({ shape: [2] });
    const dense = tfl.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: 'zeros' });
    const model = tfl.model({ inputs: input, outputs: dense.apply(input) as tfl.SymbolicTensor });
    dense.setWeights([tf.zeros([2, 4]), tf.tensor1d([0.1, 0.6, 0.2, 0.1].map(Math.log))]);
    compileNeuroStageNet(model); // label smoothing 0.15 by default
    const x = tf.ones([2, 2]);
    const y = tf.tensor2d([[0, 1, 0, 0], [0, 1, 0, 0]]);
    const result = model.evaluate(x, y) as tf.Scalar[];
    expect(result[0].dataSync()[0]).toBeCloseTo(0.6864055447831489, 5);
    tf.dispose([x, y, ...result]);
    expect(model.optimizer.getClassName()).toBe('Adam');
  });
});
