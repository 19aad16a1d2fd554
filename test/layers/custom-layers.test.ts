import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GrayToRGBProjection,
  KerasBatchNormalization,
  KerasNormalization,
  KerasRescaling,
  LayerInputError,
  LayerOptionsError,
  SeededDropout,
} from '../../src/layers/index.js';
import { roundTrip, wrap } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Deterministic test input. */
function ramp(shape: number[], scale = 0.1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) * 10 * scale + i * 0.01), shape);
}

async function expectRoundTrip(model: tfl.LayersModel, className: string, x: tf.Tensor): Promise<tfl.LayersModel> {
  const reloaded = await roundTrip(model);
  const layer = reloaded.layers[1];
  expect(layer.getClassName()).toBe(className);
  expect(layer.getConfig()).toEqual(model.layers[1].getConfig());
  const a = model.predict(x) as tf.Tensor;
  const b = reloaded.predict(x) as tf.Tensor;
  expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
  tf.dispose([a, b]);
  return reloaded;
}

describe('GrayToRGBProjection', () => {
  it('is a learnable 3×3 same conv with bias: 1 → 3 channels, matches a hand-computed convolution', async () => {
    const layer = new GrayToRGBProjection({ name: 'gray_to_rgb', seed: 3 });
    const model = wrap(layer, [4, 5, 1]);
    expect(model.outputs[0].shape).toEqual([null, 4, 5, 3]);
    expect(layer.computeOutputShape([null, 4, 5, 1])).toEqual([null, 4, 5, 3]);
    expect(layer.weights.map((w) => [w.originalName, w.shape])).toEqual([
      ['gray_to_rgb/kernel', [3, 3, 1, 3]],
      ['gray_to_rgb/bias', [3]],
    ]);
    const kernel = Float32Array.from({ length: 27 }, (_, i) => (i % 7) - 3);
    const bias = [0.5, -1, 2];
    layer.setWeights([tf.tensor(kernel, [3, 3, 1, 3]), tf.tensor1d(bias)]);
    const x = ramp([1, 4, 5, 1]);
    const xs = x.dataSync();
    const before = tf.memory().numTensors;
    const y = model.predict(x) as tf.Tensor;
    const ys = y.dataSync();
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 5; c++) {
        for (let o = 0; o < 3; o++) {
          let s = bias[o];
          for (let dr = -1; dr <= 1; dr++) {
            for (let dc = -1; dc <= 1; dc++) {
              const rr = r + dr;
              const cc = c + dc;
              if (rr < 0 || rr >= 4 || cc < 0 || cc >= 5) continue;
              s += xs[rr * 5 + cc] * kernel[((dr + 1) * 3 + (dc + 1)) * 3 + o];
            }
          }
          expect(ys[(r * 5 + c) * 3 + o]).toBeCloseTo(s, 4);
        }
      }
    }
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expectRoundTrip(model, 'neurostagenet>GrayToRGBProjection', x);
  });

  it('same seed gives the same kernel, another seed a different one', () => {
    const k = (seed: number) => {
      const m = wrap(new GrayToRGBProjection({ seed }), [8, 8, 1]);
      return Array.from(m.getWeights()[0].dataSync());
    };
    expect(k(5)).toEqual(k(5));
    expect(k(5)).not.toEqual(k(6));
  });
});

describe('KerasNormalization', () => {
  it('computes (x − mean) / max(sqrt(variance), 1e-7) with mean/variance/count weights', async () => {
    const layer = new KerasNormalization({ mean: [1, 2, 3], variance: [4, 0, 9] });
    const model = wrap(layer, [2, 3]);
    expect(layer.weights.map((w) => w.originalName.split('/').pop())).toEqual(['mean', 'variance', 'count']);
    expect(layer.trainableWeights).toHaveLength(0);
    const x = tf.tensor([[[3, 2.5, 0], [1, 2, 3]]]);
    const y = (model.predict(x) as tf.Tensor).dataSync();
    const expected = [(3 - 1) / 2, (2.5 - 2) / 1e-7, (0 - 3) / 3, 0, 0, 0];
    expected.forEach((e, i) => expect(y[i]).toBeCloseTo(e, 5 - Math.max(0, Math.round(Math.log10(Math.abs(e) + 1)))));
    expect(y[1] / expected[1]).toBeCloseTo(1, 5);
    // New weights take effect at once (no cached constants, unlike Keras 3).
    layer.setWeights([tf.tensor1d([0, 0, 0]), tf.tensor1d([1, 1, 1]), tf.scalar(0)]);
    expect(Array.from((model.predict(x) as tf.Tensor).dataSync())).toEqual([3, 2.5, 0, 1, 2, 3]);
    await expectRoundTrip(model, 'neurostagenet>KerasNormalization', x);
  });

  it('rejects statistics of the wrong length', () => {
    expect(() => wrap(new KerasNormalization({ mean: [1, 2] }), [3])).toThrow(/mean has 2 values for 3 channels/);
    expect(() => wrap(new KerasNormalization({ mean: [1, 2] }), [3])).toThrow(LayerOptionsError);
  });
});

describe('KerasRescaling', () => {
  it('computes x * scale + offset with per-channel or scalar values', async () => {
    const model = wrap(new KerasRescaling({ scale: [1, 0.5, 2], offset: [0, 1, -1] }), [3]);
    const x = tf.tensor([[2, 4, 6]]);
    expect(Array.from((model.predict(x) as tf.Tensor).dataSync())).toEqual([2, 3, 11]);
    await expectRoundTrip(model, 'neurostagenet>KerasRescaling', x);
    const scalar = wrap(new KerasRescaling({ scale: 1 / 255 }), [2]);
    const r = (scalar.predict(tf.tensor([[255, 51]])) as tf.Tensor).dataSync();
    expect(r[0]).toBeCloseTo(1, 6);
    expect(r[1]).toBeCloseTo(0.2, 6);
  });
});

describe('SeededDropout', () => {
  it('is the identity in inference and drops whole samples with noise shape [null,1,1,1] in training', async () => {
    const layer = new SeededDropout({ rate: 0.5, noiseShape: [null, 1, 1, 1], seed: 11 });
    const model = wrap(layer, [2, 2, 3]);
    const x = tf.add(ramp([16, 2, 2, 3]), 5);
    const xs = x.dataSync();
    expect(Array.from((model.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(xs));
    const before = tf.memory().numTensors;
    const y = layer.apply(x, { training: true }) as tf.Tensor;
    const ys = y.dataSync();
    let dropped = 0;
    for (let s = 0; s < 16; s++) {
      const slice = Array.from(ys.slice(s * 12, (s + 1) * 12));
      const orig = Array.from(xs.slice(s * 12, (s + 1) * 12));
      if (slice.every((v) => v === 0)) dropped += 1;
      else slice.forEach((v, i) => expect(v).toBeCloseTo(orig[i] * 2, 4));
    }
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(16);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expectRoundTrip(model, 'neurostagenet>SeededDropout', x);
  });

  it('draws a fresh mask each training call, and the same sequence for the same seed', () => {
    const masks = (seed: number) => {
      const layer = new SeededDropout({ rate: 0.5, seed });
      const x = tf.ones([64]);
      return [0, 1, 2].map(() => Array.from((layer.apply(x, { training: true }) as tf.Tensor).dataSync()).join(''));
    };
    const a = masks(3);
    expect(masks(3)).toEqual(a);
    expect(new Set(a).size).toBe(3);
    expect(masks(4)).not.toEqual(a);
    expect(() => new SeededDropout({ rate: 1 })).toThrow(LayerOptionsError);
    expect(() => new SeededDropout({ rate: -0.1 })).toThrow(/rate must be in \[0, 1\), got -0\.1/);
  });

  it('with a step seed (set by the trainer) the mask depends on the seeds only, not on earlier calls', () => {
    const x = tf.ones([64]);
    const mask = (layer: InstanceType<typeof SeededDropout>) => Array.from((layer.apply(x, { training: true }) as tf.Tensor).dataSync()).join('');
    const fresh = new SeededDropout({ rate: 0.5, seed: 3 });
    const used = new SeededDropout({ rate: 0.5, seed: 3 });
    mask(used);
    mask(used); // advances its call counter
    fresh.stepSeed = 77;
    used.stepSeed = 77;
    expect(mask(used)).toBe(mask(fresh));
    used.stepSeed = 78;
    expect(mask(used)).not.toBe(mask(fresh));
    const otherLayer = new SeededDropout({ rate: 0.5, seed: 4 });
    otherLayer.stepSeed = 77;
    expect(mask(otherLayer)).not.toBe(mask(fresh)); // layers with different seeds still differ within a step
  });
});

describe('KerasBatchNormalization', () => {
  it('inference uses moving statistics with epsilon 1e-3; training uses batch statistics and updates the moving ones', async () => {
    const layer = new KerasBatchNormalization({ name: 'bn' });
    const model = wrap(layer, [2]);
    expect(layer.weights.map((w) => w.originalName)).toEqual(['bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance']);
    layer.setWeights([tf.tensor1d([2, 1]), tf.tensor1d([0.5, 0]), tf.tensor1d([1, -1]), tf.tensor1d([4, 0.25])]);
    const x = tf.tensor([[1, 0], [3, 1], [5, 2]]);
    const inf = (model.predict(x) as tf.Tensor).dataSync();
    expect(inf[2]).toBeCloseTo((2 * (3 - 1)) / Math.sqrt(4 + 1e-3) + 0.5, 5);
    expect(inf[5]).toBeCloseTo((2 + 1) / Math.sqrt(0.25 + 1e-3), 5);

    const before = tf.memory().numTensors;
    const train = layer.apply(x, { training: true }) as tf.Tensor;
    // Batch mean [3, 1], biased variance [8/3, 2/3].
    expect(train.dataSync()[0]).toBeCloseTo((2 * (1 - 3)) / Math.sqrt(8 / 3 + 1e-3) + 0.5, 5);
    const [, , mm, mv] = layer.getWeights();
    expect(Array.from(mm.dataSync())).toEqual([0.99 * 1 + 0.01 * 3, 0.99 * -1 + 0.01 * 1].map(Math.fround));
    expect(mv.dataSync()[0]).toBeCloseTo(0.99 * 4 + 0.01 * (8 / 3), 6);
    train.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expectRoundTrip(model, 'neurostagenet>KerasBatchNormalization', x);
  });

  it('when not trainable, training: true runs in inference mode and leaves the statistics unchanged', () => {
    const layer = new KerasBatchNormalization();
    const model = wrap(layer, [2]);
    layer.trainable = false;
    const x = tf.tensor([[1, 0], [3, 1], [5, 2]]);
    const before = layer.getWeights().map((w) => Array.from(w.dataSync()));
    const y = layer.apply(x, { training: true }) as tf.Tensor;
    const inf = model.predict(x) as tf.Tensor;
    expect(Array.from(y.dataSync())).toEqual(Array.from(inf.dataSync()));
    expect(layer.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
  });
});

describe('input specs and single inputs (as tfjs-layers\' own layers)', () => {
  // Each custom layer, an input shape (without batch) it takes, and the input spec it sets in build.
  const cases: Array<{ make: () => tfl.layers.Layer; shape: number[]; spec: Record<string, unknown>; wrongRank?: number[]; wrongChannels?: number[] }> = [
    { make: () => new GrayToRGBProjection({ name: 'g' }), shape: [4, 4, 1], spec: { ndim: 4, axes: { [-1]: 1 } }, wrongRank: [4, 1], wrongChannels: [4, 4, 2] },
    { make: () => new KerasBatchNormalization({ name: 'b' }), shape: [3, 2], spec: { ndim: 3, axes: { [-1]: 2 } }, wrongRank: [2], wrongChannels: [3, 5] },
    { make: () => new KerasNormalization({ name: 'n', mean: [1, 2, 3] }), shape: [2, 3], spec: { minNDim: 1, axes: { [-1]: 3 } }, wrongChannels: [2, 4] },
    { make: () => new KerasRescaling({ name: 'rv', scale: [1, 2, 3] }), shape: [5, 3], spec: { minNDim: 1, axes: { [-1]: 3 } }, wrongChannels: [5, 2] },
    { make: () => new KerasRescaling({ name: 'rs', scale: 0.5 }), shape: [5, 3], spec: { axes: {} } },
    { make: () => new SeededDropout({ name: 'dn', rate: 0.2, noiseShape: [null, 1, 1, 1] }), shape: [2, 2, 3], spec: { ndim: 4 }, wrongRank: [2, 3] },
    { make: () => new SeededDropout({ name: 'd', rate: 0.2 }), shape: [2, 3], spec: { axes: {} } },
  ];

  for (const c of cases) {
    it(`${c.make().getClassName()} '${c.make().name}': sets inputSpec in build, rejects several inputs and incompatible ones`, () => {
      const layer = c.make();
      expect(layer.inputSpec).toBeNull();
      wrap(layer, c.shape);
      expect(layer.inputSpec).toHaveLength(1);
      expect(layer.inputSpec[0]).toMatchObject(c.spec);
      // Several inputs: rejected as tfjs' getExactlyOneTensor / getExactlyOneShape do, naming the layer.
      const a = tfl.input({ shape: c.shape });
      const b = tfl.input({ shape: c.shape });
      expect(() => c.make().apply([a, b])).toThrow(LayerInputError);
      expect(() => c.make().apply([a, b])).toThrow(/takes one input: Expected exactly 1 Shape; got 2/);
      const t = tf.ones([1, ...c.shape]);
      expect(() => layer.call([t, t], {})).toThrow(/' takes one input: Expected Tensor length to be 1; got 2/);
      expect(() => layer.call([t, t], {})).toThrow(LayerOptionsError); // the layers area's base class
      expect(() => layer.computeOutputShape([[1, ...c.shape], [1, ...c.shape]])).toThrow(/Expected exactly 1 Shape; got 2/);
      // A one-element array is one input (tfjs passes them so).
      const y = layer.call([t], {}) as tf.Tensor;
      expect(y.shape[0]).toBe(1);
      tf.dispose([t, y]);
      // After build, tfjs checks the spec on every apply: a built layer applied twice (shared) to two inputs, wrong rank, wrong channels.
      expect(() => layer.apply([a, b])).toThrow(/expects 1 inputs/);
      if (c.wrongRank) expect(() => layer.apply(tfl.input({ shape: c.wrongRank! }))).toThrow(/ndim/);
      if (c.wrongChannels) expect(() => layer.apply(tfl.input({ shape: c.wrongChannels! }))).toThrow(/expected axis -1 of input shape to have value/);
    });
  }

  it('a rank the layer cannot take is rejected at build with the layer named', () => {
    expect(() => wrap(new GrayToRGBProjection({ name: 'g3' }), [4, 1])).toThrow(/GrayToRGBProjection 'g3' takes \[batch, height, width, channels\]/);
    expect(() => wrap(new SeededDropout({ name: 'd3', rate: 0.1, noiseShape: [null, 1, 1, 1] }), [4])).toThrow(LayerInputError);
    expect(() => wrap(new KerasRescaling({ name: 'r3', scale: [1, 2] }), [4, 3])).toThrow(/per-channel scale\/offset of length 2/);
  });

  it("tfjs' own Conv2D rejects several inputs with the same words", () => {
    const a = tfl.input({ shape: [4, 4, 1] });
    const b = tfl.input({ shape: [4, 4, 1] });
    expect(() => tfl.layers.conv2d({ filters: 1, kernelSize: 1 }).apply([a, b])).toThrow(/Expected exactly 1 Shape; got 2/);
  });
});
