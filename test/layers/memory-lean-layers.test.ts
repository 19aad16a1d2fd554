// The model's memory-lean training path: the `neurostagenet>Swish` activation and KerasBatchNormalization's
// training mode (one custom-gradient op each). Reference: tfjs autodiff of the plain formulas
// (tfjs-layers' own 'swish'; tf.moments + arithmetic for batch norm), computed here independently.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEfficientNetB0 } from '../../src/index.js';
import { KerasBatchNormalization, LeanSwish } from '../../src/layers/index.js';
import { LEAN_SWISH, leanSwishActivation } from '../../src/layers/swish.js';
import { DualPoolHead, SEResidualBlock } from '../../src/models/index.js';
import { roundTrip, wrap } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Deterministic input with positive and negative values of varied size. */
function ramp(shape: number[], scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, (_, i) => (Math.sin(i * 1.7) * 4 + (i % 7) * 0.3 - 1) * scale), shape);
}

/** max |a - b| / max(max |b|, 1e-6) */
function relErr(a: tf.Tensor, b: tf.Tensor): number {
  const av = a.dataSync();
  const bv = b.dataSync();
  expect(av.length).toBe(bv.length);
  let d = 0;
  let m = 1e-6;
  for (let i = 0; i < av.length; i++) {
    d = Math.max(d, Math.abs(av[i]! - bv[i]!));
    m = Math.max(m, Math.abs(bv[i]!));
  }
  return d / m;
}

/** The activation object a tfjs layer resolved its `activation` option to. */
function activationOf(layer: tfl.layers.Layer): { getClassName(): string } {
  return (layer as unknown as { activation: { getClassName(): string } }).activation;
}

describe('neurostagenet>Swish activation', () => {
  it('is registered under its own name and leaves tfjs-layers\' own "swish" untouched', () => {
    expect(LEAN_SWISH).toBe('neurostagenet>Swish');
    const lean = tfl.layers.activation({ activation: leanSwishActivation() });
    const plain = tfl.layers.activation({ activation: 'swish' });
    expect(activationOf(lean)).toBeInstanceOf(LeanSwish);
    expect(activationOf(plain)).not.toBeInstanceOf(LeanSwish);
    expect(activationOf(plain).getClassName()).toBe('swish');
    expect(lean.getConfig().activation).toBe('neurostagenet>Swish');
  });

  it('equals tfjs\' swish bit for bit forward, and in gradient to float rounding, in Activation, Dense and Conv2D', () => {
    const x = ramp([2, 3, 3, 4]);
    const dy = ramp([2, 3, 3, 4], 0.3);
    const gradOf = (layer: tfl.layers.Layer) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(layer.apply(t) as tf.Tensor, dy)))(x);
    const lean = tfl.layers.activation({ activation: leanSwishActivation() });
    const plain = tfl.layers.activation({ activation: 'swish' });
    const yl = lean.apply(x) as tf.Tensor;
    const yp = plain.apply(x) as tf.Tensor;
    expect(Array.from(yl.dataSync())).toEqual(Array.from(yp.dataSync()));
    // hand check of one value: swish(x0) = x0 / (1 + e^-x0)
    const x0 = x.dataSync()[5]!;
    expect(yl.dataSync()[5]).toBeCloseTo(x0 / (1 + Math.exp(-x0)), 5);
    expect(relErr(gradOf(lean), gradOf(plain))).toBeLessThan(1e-6);

    for (const make of [
      (activation: string) => tfl.layers.dense({ units: 5, activation: activation as 'swish', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }), biasInitializer: 'ones' }),
      (activation: string) => tfl.layers.conv2d({ filters: 5, kernelSize: 1, activation: activation as 'swish', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }), biasInitializer: 'ones' }),
    ]) {
      const a = make(LEAN_SWISH);
      const b = make('swish');
      const ya = a.apply(x) as tf.Tensor;
      const yb = b.apply(x) as tf.Tensor;
      expect(activationOf(a)).toBeInstanceOf(LeanSwish);
      expect(Array.from(ya.dataSync())).toEqual(Array.from(yb.dataSync()));
      const ga = tf.grad((t: tf.Tensor) => tf.sum(tf.square(a.apply(t) as tf.Tensor)))(x);
      const gb = tf.grad((t: tf.Tensor) => tf.sum(tf.square(b.apply(t) as tf.Tensor)))(x);
      expect(relErr(ga, gb)).toBeLessThan(1e-5);
    }
  });

  it('saved models record it ("neurostagenet>_swish" in the JSON) and reload with tf.loadLayersModel; old "swish" models still load', async () => {
    const input = tfl.input({ shape: [6] });
    const h = tfl.layers.dense({ units: 4, activation: leanSwishActivation(), name: 'd', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) })
      .apply(input) as tfl.SymbolicTensor;
    const out = tfl.layers.activation({ activation: leanSwishActivation(), name: 'a' }).apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    // tfjs snake-cases config strings on save and camel-cases them on load, as for its own 'hardSigmoid'
    expect(JSON.stringify(model.toJSON(null, false))).toContain('"activation":"neurostagenet>_swish"');
    const x = ramp([3, 6]);
    const reloaded = await roundTrip(model);
    expect(activationOf(reloaded.getLayer('d'))).toBeInstanceOf(LeanSwish);
    expect(activationOf(reloaded.getLayer('a'))).toBeInstanceOf(LeanSwish);
    expect(Array.from((reloaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(x) as tf.Tensor).dataSync()));

    const old = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [6], units: 2, activation: 'swish' })] });
    const oldReloaded = await roundTrip(old);
    expect(activationOf(oldReloaded.layers[0]!).getClassName()).toBe('swish');
  });

  it('the model builders use it for every swish, with unchanged names; other activations pass through', () => {
    const backbone = buildEfficientNetB0({ inputShape: [32, 32, 3] });
    const swishLayers = backbone.layers.filter((l) => activationOf(l)?.getClassName() === LEAN_SWISH).map((l) => l.name);
    expect(backbone.layers.some((l) => activationOf(l)?.getClassName() === 'swish')).toBe(false);
    // stem + top + 15 expand activations (block1a has none) + 16 depthwise activations + 16 se_reduce convs
    expect(swishLayers.length).toBe(49);
    expect(swishLayers).toContain('stem_activation');
    expect(swishLayers).toContain('block2a_expand_activation');
    expect(swishLayers).toContain('block7a_se_reduce');
    expect(swishLayers).toContain('top_activation');

    const input = tfl.input({ shape: [4, 4, 8] });
    const y = new SEResidualBlock({ filters: 16, seRatio: 4 }).apply(input);
    const head = new DualPoolHead({ units: [12, 6], dropout: [0.5, 0.3], activations: ['swish', 'relu'], numClasses: 3 }).apply(y);
    const model = tfl.model({ inputs: input, outputs: head.probabilities });
    const act = (name: string) => activationOf(model.getLayer(name)).getClassName();
    expect(['refine_act1', 'refine_act2', 'se_reduce', 'head_act1'].map(act)).toEqual(Array(4).fill(LEAN_SWISH));
    expect(act('head_act2')).toBe('relu');
    expect(act('se_expand')).toBe('sigmoid');
    expect(new SEResidualBlock({ seActivation: 'relu' }).seActivation).toBe('relu');
  });
});

/** Plain training-mode batch norm: tf.moments + arithmetic (the layer's former code path). */
function plainBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, Array.from({ length: x.rank - 1 }, (_, i) => i));
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

describe('KerasBatchNormalization training path (memory-lean op)', () => {
  for (const shape of [[5, 3], [2, 4, 3, 6]]) {
    it(`values, gradients (x, gamma, beta) and moving statistics equal the plain formula, input ${JSON.stringify(shape)}`, () => {
      const c = shape[shape.length - 1]!;
      const layer = new KerasBatchNormalization({ momentum: 0.9, epsilon: 1e-3 });
      wrap(layer, shape.slice(1));
      const gamma = ramp([c], 0.5);
      const beta = ramp([c], 0.2);
      const movingMean = ramp([c], 0.1);
      const movingVar = tf.abs(ramp([c], 0.7));
      layer.setWeights([gamma, beta, movingMean, movingVar]);
      const x = tf.add(ramp(shape, 3), 2);
      // an upstream gradient unrelated to x (a ramp-like dy would make dx cancel to ~0)
      const dy = tf.tensor(Float32Array.from({ length: x.size }, (_, i) => Math.cos(i * 0.61) + 0.2), shape);
      const [g, b] = layer.trainableWeights.map((w) => w.read() as tf.Variable);

      const before = tf.memory().numTensors;
      const got = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, dy)) as tf.Scalar, [g!, b!]);
        const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(layer.apply(t, { training: true }) as tf.Tensor, dy)))(x);
        return [value, grads[g!.name]!, grads[b!.name]!, dx];
      });
      const ref = tf.tidy(() => {
        const f = (t: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(plainBatchNorm(t, gg, bb, 1e-3), dy));
        const [dx, dg, db] = tf.grads(f)([x, gamma, beta]);
        return [f(x, gamma, beta), dg!, db!, dx!];
      });
      expect(relErr(got[0]!, ref[0]!)).toBeLessThan(2e-5);
      expect(relErr(got[1]!, ref[1]!)).toBeLessThan(2e-5); // d gamma
      expect(relErr(got[2]!, ref[2]!)).toBeLessThan(2e-5); // d beta
      expect(relErr(got[3]!, ref[3]!)).toBeLessThan(2e-5); // d x
      tf.dispose([...got, ...ref]);
      expect(tf.memory().numTensors).toBe(before);

      // moving = moving*momentum + batch*(1 - momentum), batch variance biased
      layer.setWeights([gamma, beta, movingMean, movingVar]);
      tf.dispose(layer.apply(x, { training: true }) as tf.Tensor);
      const { mean, variance } = tf.moments(x, Array.from({ length: x.rank - 1 }, (_, i) => i));
      const expectMean = tf.add(tf.mul(movingMean, 0.9), tf.mul(mean, 0.1));
      const expectVar = tf.add(tf.mul(movingVar, 0.9), tf.mul(variance, 0.1));
      const [, , mm, mv] = layer.getWeights();
      expect(relErr(mm!, expectMean)).toBeLessThan(1e-6);
      expect(relErr(mv!, expectVar)).toBeLessThan(1e-6);
      // hand check of channel 0's biased variance
      const xs = Array.from(x.dataSync()).filter((_, i) => i % c === 0);
      const m0 = xs.reduce((a, v) => a + v, 0) / xs.length;
      expect(variance.dataSync()[0]).toBeCloseTo(xs.reduce((a, v) => a + (v - m0) ** 2, 0) / xs.length, 3);
    });
  }

  it('under a gradient tape it holds no more than a one-op layer does, unlike the plain formula', () => {
    const layer = new KerasBatchNormalization();
    wrap(layer, [8, 8, 16]);
    const x = ramp([4, 8, 8, 16]);
    const [gamma, beta] = layer.trainableWeights.map((w) => w.read());
    /** Bytes newly allocated while f runs inside a gradient scope (what the tape keeps alive). */
    const heldBy = (f: (t: tf.Tensor) => tf.Tensor) => {
      let held = 0;
      tf.tidy(() => {
        tf.grad((t: tf.Tensor) => {
          const b0 = tf.memory().numBytes;
          const y = f(t);
          held = tf.memory().numBytes - b0;
          return tf.sum(y);
        })(x);
      });
      return held;
    };
    const oneOp = heldBy((t) => tf.mul(t, 2));
    const lean = heldBy((t) => layer.apply(t, { training: true }) as tf.Tensor);
    const plain = heldBy((t) => plainBatchNorm(t, gamma!, beta!, 1e-3));
    // per-channel scraps only (moving statistics are replaced in place)
    expect(lean - oneOp).toBeLessThan(0.05 * x.size * 4);
    // the formula keeps x - mean, its square, x_hat and x_hat*gamma alive as well
    expect(plain - oneOp).toBeGreaterThan(2 * x.size * 4);
  });
});
