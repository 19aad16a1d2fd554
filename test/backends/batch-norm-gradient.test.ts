// The cheaper FusedBatchNorm gradient is used only where neurostagenet asks for it: inside
// withFusedBatchNormGradient (one synchronous training step), or globally after an explicit
// registerFusedBatchNormGradient(). tfjs' registry is the same before and after.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients, as an app using the model does
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  fusedBatchNormGradConfig,
  registerFusedBatchNormGradient,
  unregisterFusedBatchNormGradient,
  withFusedBatchNormGradient,
} from '../../src/backends/batch-norm-gradient.js';
import { NeuroStageNetError } from '../../src/errors.js';

const coreGradient = tf.getGradient(tf.FusedBatchNorm);

// A fine-tuning step's shape: a trainable conv whose output goes through a frozen (inference-mode) batch
// normalisation, i.e. tf.batchNorm with moving statistics under a gradient.
function frozenBnStep(kernel: tf.Variable, x: tf.Tensor4D) {
  return tf.variableGrads(() => {
    const y = tf.conv2d(x, kernel as tf.Tensor4D, 1, 'same');
    const z = tf.batchNorm(y, tf.tensor1d([0.5, -0.2]), tf.tensor1d([2, 0.7]), tf.tensor1d([0.1, 0]), tf.tensor1d([1.5, 0.8]), 1e-3);
    return tf.sum(tf.mul(tf.sigmoid(z), tf.reshape(tf.linspace(-1, 1, z.size), z.shape))) as tf.Scalar;
  }, [kernel]);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

afterEach(() => {
  vi.restoreAllMocks();
  unregisterFusedBatchNormGradient();
  expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
});

describe('withFusedBatchNormGradient', () => {
  it("uses the replacement inside the step, gives tfjs-core's gradients, and restores the registry after", () => {
    expect(coreGradient).toBeDefined();
    expect(coreGradient).not.toBe(fusedBatchNormGradConfig);
    const x = tf.randomNormal([2, 5, 5, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const kernel = tf.variable(tf.randomNormal([3, 3, 3, 2], 0, 0.5, 'float32', 4));
    const before = tf.memory().numTensors;

    const spy = vi.spyOn(fusedBatchNormGradConfig, 'gradFunc');
    const plain = frozenBnStep(kernel, x);
    expect(spy).not.toHaveBeenCalled(); // outside the scope: tfjs-core's gradient
    let inside: tf.GradConfig | undefined;
    const scoped = withFusedBatchNormGradient(() => {
      inside = tf.getGradient(tf.FusedBatchNorm);
      return frozenBnStep(kernel, x);
    });
    expect(inside).toBe(fusedBatchNormGradConfig);
    expect(spy).toHaveBeenCalledTimes(1); // the step's one batchNorm went through the replacement
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);

    const a = plain.grads[kernel.name]!.dataSync();
    const b = scoped.grads[kernel.name]!.dataSync();
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
    expect(Math.max(...Array.from(a, Math.abs))).toBeGreaterThan(1e-3);
    expect(maxAbs).toBeLessThan(1e-5);
    expect(scoped.value.dataSync()[0]).toBeCloseTo(plain.value.dataSync()[0]!, 5);
    tf.dispose([plain.value, scoped.value, ...Object.values(plain.grads), ...Object.values(scoped.grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, kernel]);
  });

  it('restores the registry when the step throws, and nests', () => {
    expect(() => withFusedBatchNormGradient(() => { throw new Error('step failed'); })).toThrow('step failed');
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
    const inner = withFusedBatchNormGradient(() => withFusedBatchNormGradient(() => tf.getGradient(tf.FusedBatchNorm)));
    expect(inner).toBe(fusedBatchNormGradConfig);
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
  });

  it('refuses an asynchronous step (its awaited part would run with the global gradient), restoring first', async () => {
    let err: unknown;
    try {
      withFusedBatchNormGradient(() => Promise.resolve(1));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NeuroStageNetError);
    expect((err as Error).message).toMatch(/must be synchronous/);
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
  });
});

describe('registerFusedBatchNormGradient (explicit opt-in)', () => {
  it('installs the replacement globally until unregistered, then puts tfjs-core\'s back', () => {
    registerFusedBatchNormGradient();
    registerFusedBatchNormGradient(); // idempotent: the original is still remembered
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(fusedBatchNormGradConfig);
    // a scoped step inside a global registration leaves it registered
    withFusedBatchNormGradient(() => undefined);
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(fusedBatchNormGradConfig);
    unregisterFusedBatchNormGradient();
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
    unregisterFusedBatchNormGradient(); // nothing registered: no-op
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
  });
});

describe('trainNeuroStageNet', () => {
  it('runs its steps with the cheaper gradient through a frozen BN and leaves the registry as it found it', async () => {
    const tfl = await import('@tensorflow/tfjs-layers');
    const { KerasBatchNormalization } = await import('../../src/layers/keras-batch-normalization.js');
    const { trainNeuroStageNet } = await import('../../src/train/trainer.js');
    const { makeSource } = await import('../train/helpers.js');
    const input = tfl.input({ shape: [8, 8, 1] });
    const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) });
    const bn = new KerasBatchNormalization({ name: 'frozen_bn' });
    bn.trainable = false; // inference mode: tf.batchNorm (FusedBatchNorm) under the conv's gradient
    let y = bn.apply(conv.apply(tfl.layers.rescaling({ scale: 1 / 255 }).apply(input))) as InstanceType<typeof tfl.SymbolicTensor>;
    y = tfl.layers.globalAveragePooling2d({}).apply(y) as InstanceType<typeof tfl.SymbolicTensor>;
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 4, activation: 'softmax' }).apply(y) as InstanceType<typeof tfl.SymbolicTensor> });
    const spy = vi.spyOn(fusedBatchNormGradConfig, 'gradFunc');
    await trainNeuroStageNet(model, { train: { source: makeSource(8, 8, 4) }, epochs: 1, batchSize: 4, augment: false, seed: 1 });
    expect(spy).toHaveBeenCalled();
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
    model.dispose();
  });
});
