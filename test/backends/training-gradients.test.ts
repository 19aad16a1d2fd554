// The cheaper FusedBatchNorm, Mean and Sum gradients give tfjs-core's gradients and are used only where neurostagenet
// asks for them: inside withTrainingGradients (one synchronous training step), or globally after an explicit
// registerTrainingGradients(). tfjs' registry is the same before and after.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients, as an app using the model does
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  fusedBatchNormGradConfig,
  meanGradConfig,
  sumGradConfig,
  registerTrainingGradients,
  unregisterTrainingGradients,
  withTrainingGradients,
} from '../../src/backends/training-gradients.js';
import { NeuroStageNetError } from '../../src/errors.js';

const coreGradient = tf.getGradient(tf.FusedBatchNorm);
const coreMean = tf.getGradient(tf.Mean);
const coreSum = tf.getGradient(tf.Sum);

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
  unregisterTrainingGradients();
  expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
  expect(tf.getGradient(tf.Mean)).toBe(coreMean);
  expect(tf.getGradient(tf.Sum)).toBe(coreSum);
});

describe('Mean and Sum gradients (one broadcast instead of ones * dy / n)', () => {
  // reductions as the model runs them (global pooling, squeeze-excitation, losses) and odd ones
  const cases: Array<[string, number[], number | number[] | undefined, boolean]> = [
    ['global average pooling [N,H,W,C] over [1,2]', [3, 4, 5, 6], [1, 2], false],
    ['keepDims over [1,2]', [2, 3, 3, 4], [1, 2], true],
    ['all axes', [4, 5], undefined, false],
    ['negative axis', [3, 4, 2], -1, false],
    ['over a size-1 axis', [3, 1, 4], 1, true],
  ];
  for (const backend of ['cpu', 'wasm']) {
    for (const [label, shape, axis, keepDims] of cases) {
      it(`${backend}: ${label}: equal tfjs-core's, no tensor left`, async () => {
        await tf.setBackend(backend);
        const x = tf.randomNormal(shape, 1, 2, 'float32', 5);
        const before = tf.memory().numTensors;
        const loss = (op: 'mean' | 'sum') => (t: tf.Tensor) => {
          const r = op === 'mean' ? tf.mean(t, axis, keepDims) : tf.sum(t, axis, keepDims);
          return tf.sum(tf.mul(r, tf.reshape(tf.linspace(-1, 2, r.size), r.shape)));
        };
        for (const op of ['mean', 'sum'] as const) {
          const config = op === 'mean' ? meanGradConfig : sumGradConfig;
          const spy = vi.spyOn(config, 'gradFunc');
          const ref = tf.tidy(() => tf.grad(loss(op))(x).dataSync().slice());
          const got = withTrainingGradients(() => tf.tidy(() => tf.grad(loss(op))(x).dataSync().slice()));
          expect(spy, op).toHaveBeenCalledTimes(op === 'sum' ? 2 : 1); // the loss's own tf.sum goes through Sum's too
          expect(got.length).toBe(ref.length);
          let maxAbs = 0;
          for (let i = 0; i < ref.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i]! - ref[i]!));
          expect(Math.max(...Array.from(ref, Math.abs)), op).toBeGreaterThan(1e-2);
          expect(maxAbs, op).toBeLessThan(1e-6);
          spy.mockRestore();
        }
        expect(tf.memory().numTensors).toBe(before);
        x.dispose();
        await tf.setBackend('cpu');
      });
    }
  }
});

describe('withTrainingGradients', () => {
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
    const scoped = withTrainingGradients(() => {
      inside = tf.getGradient(tf.FusedBatchNorm);
      return frozenBnStep(kernel, x);
    });
    expect(inside).toBe(fusedBatchNormGradConfig);
    expect(spy).toHaveBeenCalledTimes(1); // the step's one batchNorm went through the replacement
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
    expect(tf.getGradient(tf.Mean)).toBe(coreMean);
    expect(tf.getGradient(tf.Sum)).toBe(coreSum);

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
    expect(() => withTrainingGradients(() => { throw new Error('step failed'); })).toThrow('step failed');
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
    const inner = withTrainingGradients(() => withTrainingGradients(() => tf.getGradient(tf.FusedBatchNorm)));
    expect(inner).toBe(fusedBatchNormGradConfig);
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
  });

  it('refuses an asynchronous step (its awaited part would run with the global gradient), restoring first', async () => {
    let err: unknown;
    try {
      withTrainingGradients(() => Promise.resolve(1));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NeuroStageNetError);
    expect((err as Error).message).toMatch(/must be synchronous/);
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
  });
});

describe('registerTrainingGradients (explicit opt-in)', () => {
  it('installs the replacement globally until unregistered, then puts tfjs-core\'s back', () => {
    registerTrainingGradients();
    registerTrainingGradients(); // idempotent: the original is still remembered
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(fusedBatchNormGradConfig);
    expect(tf.getGradient(tf.Mean)).toBe(meanGradConfig);
    expect(tf.getGradient(tf.Sum)).toBe(sumGradConfig);
    // a scoped step inside a global registration leaves it registered
    withTrainingGradients(() => undefined);
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(fusedBatchNormGradConfig);
    unregisterTrainingGradients();
    expect(tf.getGradient(tf.FusedBatchNorm)).toBe(coreGradient);
    unregisterTrainingGradients(); // nothing registered: no-op
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
