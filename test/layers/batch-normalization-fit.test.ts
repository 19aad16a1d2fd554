import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { KerasBatchNormalization } from '../../src/layers/index.js';
import { applyFineTuneFreeze } from '../../src/models/index.js';
import { compileNeuroStageNet } from '../../src/train/compile.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** conv → BN → GAP → softmax; optionally with conv+BN inside a nested model. */
function smallModel(nested: boolean): { model: tfl.LayersModel; bn: KerasBatchNormalization; inner: tfl.LayersModel | null } {
  const bn = new KerasBatchNormalization({ name: 'bn' });
  const conv = tfl.layers.conv2d({ name: 'conv', filters: 3, kernelSize: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) });
  const input = tfl.input({ shape: [4, 4, 2] });
  let inner: tfl.LayersModel | null = null;
  let x: tfl.SymbolicTensor;
  if (nested) {
    const innerInput = tfl.input({ shape: [4, 4, 2] });
    inner = tfl.model({ inputs: innerInput, outputs: bn.apply(conv.apply(innerInput)) as tfl.SymbolicTensor, name: 'inner' });
    x = inner.apply(input) as tfl.SymbolicTensor;
  } else {
    x = bn.apply(conv.apply(input)) as tfl.SymbolicTensor;
  }
  x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) })
    .apply(x) as tfl.SymbolicTensor;
  return { model: tfl.model({ inputs: input, outputs: out }), bn, inner };
}

async function oneTrainingStep(model: tfl.LayersModel): Promise<void> {
  compileNeuroStageNet(model, { learningRate: 0.05 });
  const x = tf.tidy(() => tf.add(tf.mul(tf.randomNormal([8, 4, 4, 2], 0, 1, 'float32', 5), 3), 2));
  const y = tf.oneHot(tf.tensor1d([0, 1, 0, 1, 1, 0, 0, 1], 'int32'), 2);
  await model.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
}

const snapshot = (bn: KerasBatchNormalization) => bn.getWeights().map((w) => Array.from(w.dataSync()));

describe('KerasBatchNormalization inside model.fit', () => {
  it('trainable: a training step updates the moving statistics and gamma/beta', async () => {
    const { model, bn } = smallModel(false);
    const before = snapshot(bn);
    await oneTrainingStep(model);
    const after = snapshot(bn);
    expect(after[2]).not.toEqual(before[2]); // moving_mean
    expect(after[3]).not.toEqual(before[3]); // moving_variance
    expect(after[0]).not.toEqual(before[0]); // gamma
  });

  it('frozen (trainable = false): statistics and gamma/beta unchanged although the rest trains', async () => {
    const { model, bn } = smallModel(false);
    bn.trainable = false;
    const before = snapshot(bn);
    const kernelBefore = Array.from(model.getLayer('conv').getWeights()[0].dataSync());
    await oneTrainingStep(model);
    expect(snapshot(bn)).toEqual(before);
    expect(Array.from(model.getLayer('conv').getWeights()[0].dataSync())).not.toEqual(kernelBefore);
  });

  it('frozen through an enclosing nested model (container.trainable = false): statistics unchanged', async () => {
    const { model, bn, inner } = smallModel(true);
    inner!.trainable = false;
    const before = snapshot(bn);
    await oneTrainingStep(model);
    expect(snapshot(bn)).toEqual(before);
  });

  it('fine-tune freeze of a nested model: layers before the boundary frozen, after it updated', async () => {
    const { model, bn, inner } = smallModel(true);
    applyFineTuneFreeze(inner!, 2); // input_layer, conv frozen; bn trainable
    expect(inner!.layers.map((l) => l.trainable)).toEqual([false, false, true]);
    const convBefore = Array.from(inner!.getLayer('conv').getWeights()[0].dataSync());
    const before = snapshot(bn);
    await oneTrainingStep(model);
    expect(snapshot(bn)[2]).not.toEqual(before[2]);
    expect(Array.from(inner!.getLayer('conv').getWeights()[0].dataSync())).toEqual(convBefore);
  });

  it('leaks no tensors during a training step', async () => {
    const { model } = smallModel(false);
    await oneTrainingStep(model); // warm-up creates optimizer state
    const x = tf.ones([8, 4, 4, 2]);
    const y = tf.tidy(() => tf.oneHot(tf.zeros([8], 'int32'), 2));
    const before = tf.memory().numTensors;
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
  });
});
