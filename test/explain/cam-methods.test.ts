import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { CAM_METHODS, DEFAULT_TARGET_STRIDE, ExplainError, GradCAM, defaultTargetLayer, hiResCamMap, layerCamMap } from '../../src/explain/index.js';
import { buildCamModel, buildNestedModel, maxAbsDiff, randomImages } from './models.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** conv(1x1) 'feat' (2 channels) -> GMP -> dense (2): ∂S_c/∂A_k is W[k,c] at the arg-max pixel of A_k, 0 elsewhere. */
function gmpModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [3, 3, 1] });
  const feat = tfl.layers.conv2d({ filters: 2, kernelSize: 1, name: 'feat' }).apply(input) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalMaxPooling2d({}).apply(feat) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ units: 2, name: 'logits' }).apply(pooled) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: logits });
  model.getLayer('feat').setWeights([tf.tensor4d([1, -0.5], [1, 1, 1, 2]), tf.tensor1d([0.1, 0.2])]);
  model.getLayer('logits').setWeights([tf.tensor2d([[0.3, -0.2], [0.5, 0.4]]), tf.tensor1d([0, 0])]);
  return model;
}

describe('HiResCAM and LayerCAM on a hand-checked case', () => {
  it('match the closed forms on conv(1x1) -> GMP -> dense', async () => {
    const model = gmpModel();
    const pixels = [0.2, 0.9, 0.4, 0.1, 0.5, 0.3, 0.8, 0.6, 0.7];
    const x = tf.tensor4d(pixels, [1, 3, 3, 1]);
    // Channel 0: A = x + 0.1, max 1.0 at pixel 1. Channel 1: A = 0.2 - 0.5x, max 0.15 at pixel 3 (x = 0.1).
    // HiResCAM: map_i = Σ_k g_ik A_ik = W[0,c]·1.0 at pixel 1, W[1,c]·0.15 at pixel 3, 0 elsewhere.
    // LayerCAM: the same with ReLU(W[k,c]).
    for (const [c, W0, W1] of [
      [0, 0.3, 0.5],
      [1, -0.2, 0.4],
    ] as const) {
      const hires = new Array<number>(9).fill(0);
      hires[1] = W0 * 1.0;
      hires[3] = W1 * 0.15;
      const layer = new Array<number>(9).fill(0);
      layer[1] = Math.max(0, W0) * 1.0;
      layer[3] = Math.max(0, W1) * 0.15;
      const [h] = await new GradCAM(model, { layerName: 'feat', method: 'hirescam' }).explain(x, { classIndex: c });
      const [l] = await new GradCAM(model, { layerName: 'feat', method: 'layercam' }).explain(x, { classIndex: c });
      expect(maxAbsDiff(h.rawMap.data, hires)).toBeLessThan(1e-6);
      expect(maxAbsDiff(l.rawMap.data, layer)).toBeLessThan(1e-6);
      expect(h.status).toBe('ok');
    }
    // Class 1 has a negative weight on channel 0: HiResCAM keeps -0.2 at pixel 1, LayerCAM drops it.
    const [h1] = await new GradCAM(model, { layerName: 'feat', method: 'hirescam' }).explain(x, { classIndex: 1 });
    expect(h1.rawMap.data[1]).toBeCloseTo(-0.2, 6);
    x.dispose();
  });

  it('on conv -> GAP -> dense HiResCAM equals Grad-CAM and LayerCAM is Σ_k ReLU(W[k,c] / hw) A_k', async () => {
    const model = buildCamModel();
    const x = randomImages(2, 91);
    const classes = [0, 2];
    const g = await new GradCAM(model, { method: 'gradcam' }).explain(x, { classIndex: classes });
    const h = await new GradCAM(model, { method: 'hirescam' }).explain(x, { classIndex: classes });
    const l = await new GradCAM(model, { method: 'layercam' }).explain(x, { classIndex: classes });
    const featureModel = tfl.model({ inputs: model.inputs, outputs: model.getLayer('conv').output as tfl.SymbolicTensor });
    const a = featureModel.predict(x) as tf.Tensor4D;
    const acts = (await a.array()) as number[][][][];
    a.dispose();
    const kernel = (await model.getLayer('logits').getWeights()[0].array()) as number[][];
    for (let n = 0; n < 2; n++) {
      const scale = Math.max(...g[n].rawMap.data.map(Math.abs));
      expect(maxAbsDiff(h[n].rawMap.data, g[n].rawMap.data) / scale).toBeLessThan(1e-5);
      const ref = new Float32Array(64);
      for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) for (let k = 0; k < 4; k++) ref[i * 8 + j] += (Math.max(0, kernel[k][classes[n]]) / 64) * acts[n][i][j][k];
      expect(maxAbsDiff(l[n].rawMap.data, ref) / Math.max(...ref)).toBeLessThan(1e-5);
      expect(l[n].rawMap.data.every((v) => v >= 0)).toBe(true); // ReLU activations times ReLU gradients
    }
    x.dispose();
  });

  it('leaks no tensors, for every method, and rejects an unknown method', async () => {
    const model = buildNestedModel();
    const x = randomImages(3, 61);
    for (const method of CAM_METHODS) {
      for (const layerName of ['se_excite', 'backbone/b_conv1']) {
        const cam = new GradCAM(model, { layerName, method });
        await cam.explain(x);
        const before = tf.memory().numTensors;
        const ex = await cam.explain(x, { classIndex: [0, 1, 2] });
        expect(tf.memory().numTensors).toBe(before);
        expect(ex.every((e) => e.heatmap.every((v) => Number.isFinite(v) && v >= 0 && v <= 1))).toBe(true);
        await expect(cam.explain(x, { classIndex: [0, 9, 1] })).rejects.toThrow(ExplainError);
        expect(tf.memory().numTensors).toBe(before);
      }
    }
    expect(() => new GradCAM(model, { method: 'scorecam' as never })).toThrow(/Unknown Grad-CAM method 'scorecam'.*'layercam'/);
    const before = tf.memory().numTensors;
    const a = tf.randomNormal([1, 2, 2, 3], 0, 1, 'float32', 1);
    const gr = tf.randomNormal([1, 2, 2, 3], 0, 1, 'float32', 2);
    hiResCamMap(a, gr).dispose();
    layerCamMap(a, gr).dispose();
    a.dispose();
    gr.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

/** 64x64 input -> conv s2 [32] -> conv s2 [16] -> conv s2 'mid' [8] -> 'pad' ZeroPadding [10] -> conv s4 valid 'last' [2] -> GAP -> dense. */
function pyramidModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [64, 64, 1] });
  let t = input as tfl.SymbolicTensor;
  for (const [i, name] of ['c1', 'c2', 'c3', 'mid'].entries()) {
    t = tfl.layers.conv2d({ filters: 2, kernelSize: 3, strides: i === 3 ? 1 : 2, padding: 'same', name }).apply(t) as tfl.SymbolicTensor;
  }
  t = tfl.layers.zeroPadding2d({ padding: 1, name: 'pad' }).apply(t) as tfl.SymbolicTensor;
  t = tfl.layers.conv2d({ filters: 2, kernelSize: 2, strides: 5, name: 'last' }).apply(t) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({}).apply(t) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 2, activation: 'softmax' }).apply(gap) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

describe('defaultTargetLayer is resolution-aware', () => {
  it('takes the last map of at least ceil(H/8) x ceil(W/8), skipping zero padding', () => {
    const model = pyramidModel();
    expect(model.getLayer('last').outputShape).toEqual([null, 2, 2, 2]);
    expect(model.getLayer('mid').outputShape).toEqual([null, 8, 8, 2]);
    expect(DEFAULT_TARGET_STRIDE).toBe(8);
    // 64 / 8 = 8: 'last' (2x2) is too coarse, 'pad' (10x10) is padding, 'mid' (8x8) qualifies.
    expect(defaultTargetLayer(model)).toBe('mid');
    expect(defaultTargetLayer(model, 16)).toBe('mid');
    expect(new GradCAM(model).layerName).toBe('mid');
    // Without a size limit the old rule: the last spatial layer.
    expect(defaultTargetLayer(model, Infinity)).toBe('last');
    // Stride 4 needs 16x16: 'c2'.
    expect(defaultTargetLayer(model, 4)).toBe('c2');
    expect(() => defaultTargetLayer(model, 0)).toThrow(ExplainError);
    expect(() => defaultTargetLayer(model, 1)).toThrow(/at least 64x64/);
  });

  it('at 16 px the small test models keep their last spatial map', () => {
    expect(defaultTargetLayer(buildCamModel())).toBe('conv');
    expect(defaultTargetLayer(buildNestedModel())).toBe('se_excite');
  });
});
