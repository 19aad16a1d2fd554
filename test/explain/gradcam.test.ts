import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExplainError, GradCAM } from '../../src/index.js';
import { CAM_METHODS, defaultTargetLayer } from '../../src/explain/index.js';
import { buildCamModel, buildNestedModel, maxAbsDiff, randomImages, reluMinMax, upsampleBilinear } from './models.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Class activation map (Zhou et al. 2016) computed directly: Σ_k W[k, c] A_k, per image, row-major. */
async function classActivationMaps(model: tfl.LayersModel, x: tf.Tensor4D, classes: number[]): Promise<Float32Array[]> {
  const featureModel = tfl.model({ inputs: model.inputs, outputs: model.getLayer('conv').output as tfl.SymbolicTensor });
  const a = featureModel.predict(x) as tf.Tensor4D;
  const acts = (await a.array()) as number[][][][];
  a.dispose();
  const kernel = (await model.getLayer('logits').getWeights()[0].array()) as number[][];
  return classes.map((c, n) => {
    const [h, w, k] = [acts[n].length, acts[n][0].length, acts[n][0][0].length];
    const cam = new Float32Array(h * w);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let ch = 0; ch < k; ch++) cam[i * w + j] += kernel[ch][c] * acts[n][i][j][ch];
    return cam;
  });
}

describe('GradCAM on conv -> GAP -> dense equals CAM', () => {
  for (const denseSoftmax of [false, true]) {
    it(`matches Σ_k w_k^c A_k to 1e-5 (${denseSoftmax ? 'Dense with softmax activation' : 'separate softmax Activation'})`, async () => {
      const model = buildCamModel({ denseSoftmax });
      const x = randomImages(3, 11);
      const classes = [0, 2, 1];
      const cam = new GradCAM(model, { method: 'gradcam' });
      expect(cam.layerName).toBe('conv');
      expect(cam.logitSource).toContain(denseSoftmax ? 'Dense' : 'Activation');
      const ex = await cam.explain(x, { classIndex: classes });
      const refs = await classActivationMaps(model, x, classes);
      let okCount = 0;
      for (let n = 0; n < 3; n++) {
        const e = ex[n];
        expect(e.rawMap.width).toBe(8);
        // Grad-CAM weights are ∂S/∂A averaged = W[k,c] / 64, so rawMap * 64 = CAM.
        const scaled = e.rawMap.data.map((v) => v * 64);
        const scale = Math.max(...refs[n].map(Math.abs));
        expect(maxAbsDiff(scaled, refs[n]) / scale).toBeLessThan(1e-5);
        const expected = reluMinMax(upsampleBilinear(refs[n], 8, 8, 16, 16));
        expect(maxAbsDiff(e.heatmap, expected)).toBeLessThan(1e-5);
        expect(e.status).toBe(expected.some((v) => v > 0) ? 'ok' : 'flat');
        expect(e.classIndex).toBe(classes[n]);
        okCount += e.status === 'ok' ? 1 : 0;
      }
      expect(okCount).toBeGreaterThanOrEqual(2); // most maps are non-trivial, so the comparison means something
      const probs = (await (model.predict(x) as tf.Tensor).array()) as number[][];
      for (let n = 0; n < 3; n++) {
        expect(maxAbsDiff(ex[n].probabilities, probs[n])).toBeLessThan(1e-6);
        expect(ex[n].predictedClass).toBe(probs[n].indexOf(Math.max(...probs[n])));
      }
      x.dispose();
    });
  }
});

describe('GradCAM on a nested model', () => {
  const model = buildNestedModel();

  it('defaults to the last 4-D layer with spatial size > 1 (se_excite, not se_reshape)', () => {
    expect(defaultTargetLayer(model)).toBe('se_excite');
    expect(new GradCAM(model).featureShape).toEqual([8, 8, 8]);
  });

  it('explains a layer inside the nested backbone (with a shortcut from before it) like a hand-written split', async () => {
    const x = randomImages(2, 21);
    const cam = new GradCAM(model, { layerName: 'backbone/b_conv1', method: 'gradcam' });
    expect(cam.layerName).toBe('backbone/b_conv1');
    const classes = [1, 3];
    const ex = await cam.explain(x, { classIndex: classes });

    // Reference: the same layers called by hand; gradient of the logit wrt b_conv1's output.
    const backbone = model.getLayer('backbone') as tfl.LayersModel;
    const L = (m: tfl.LayersModel, name: string) => (t: tf.Tensor | tf.Tensor[]) => m.getLayer(name).apply(t, { training: false }) as tf.Tensor;
    const ref = tf.tidy(() => {
      const rgb = L(model, 'gray_to_rgb')(x);
      const a = L(backbone, 'b_conv1')(rgb);
      const logitsOf = (fm: tf.Tensor): tf.Tensor => {
        const bn = L(backbone, 'b_bn')(L(backbone, 'b_conv2')(fm));
        const top = L(backbone, 'top_activation')(L(backbone, 'b_add')([bn, L(backbone, 'b_shortcut')(rgb)]));
        const ract = L(model, 'refine_act')(L(model, 'refine_add')([L(model, 'refine_conv')(top), top]));
        const se = L(model, 'se_reshape')(L(model, 'se_expand')(L(model, 'se_reduce')(L(model, 'se_gap')(ract))));
        const ex = L(model, 'se_excite')([ract, se]);
        const cat = L(model, 'head_concat')([L(model, 'head_gap')(ex), L(model, 'head_gmp')(ex)]);
        return L(model, 'predictions')(cat);
      };
      const oneHot = tf.oneHot(tf.tensor1d(classes, 'int32'), 4);
      const g = tf.grad((fm: tf.Tensor) => tf.sum(tf.mul(logitsOf(fm), oneHot)))(a);
      return tf.sum(tf.mul(a, tf.mean(g, [1, 2], true)), -1);
    });
    const refData = await ref.data();
    ref.dispose();
    for (let n = 0; n < 2; n++) {
      const r = refData.slice(n * 256, (n + 1) * 256);
      const scale = Math.max(...r.map(Math.abs));
      expect(scale).toBeGreaterThan(0);
      expect(maxAbsDiff(ex[n].rawMap.data, r) / scale).toBeLessThan(1e-5);
      expect(maxAbsDiff(ex[n].heatmap, reluMinMax(r))).toBeLessThan(1e-5);
    }
    x.dispose();
  });

  it('reaches an inner layer by path or bare name, and the nested model as a whole', async () => {
    const x = randomImages(2, 31);
    const byPath = await new GradCAM(model, { layerName: 'backbone/top_activation' }).explain(x, { classIndex: 2 });
    const byName = await new GradCAM(model, { layerName: 'top_activation' }).explain(x, { classIndex: 2 });
    const whole = await new GradCAM(model, { layerName: 'backbone' }).explain(x, { classIndex: 2 });
    for (let n = 0; n < 2; n++) {
      expect(byPath[n].status).toBe('ok');
      expect(maxAbsDiff(byPath[n].heatmap, byName[n].heatmap)).toBe(0);
      expect(maxAbsDiff(byPath[n].heatmap, whole[n].heatmap)).toBeLessThan(1e-6);
    }
    x.dispose();
  });

  for (const method of CAM_METHODS) {
    it(`${method}: a batch with different classes equals one image at a time`, async () => {
      const x = randomImages(4, 41);
      const classes = [0, 3, 1, 3];
      for (const layerName of ['se_excite', 'backbone/b_conv1']) {
        const cam = new GradCAM(model, { layerName, method });
        const batch = await cam.explain(x, { classIndex: classes });
        for (let n = 0; n < 4; n++) {
          const xi = tf.slice(x, [n, 0, 0, 0], [1, 16, 16, 1]);
          const [single] = await cam.explain(xi, { classIndex: classes[n] });
          xi.dispose();
          expect(maxAbsDiff(batch[n].rawMap.data, single.rawMap.data)).toBeLessThan(1e-5 * Math.max(1, ...single.rawMap.data.map(Math.abs)));
          expect(maxAbsDiff(batch[n].heatmap, single.heatmap)).toBeLessThan(1e-4);
          expect(batch[n].classIndex).toBe(classes[n]);
        }
        // Different classes give different maps (the test would be vacuous otherwise).
        const [c0] = await cam.explain(tf.slice(x, [0, 0, 0, 0], [1, 16, 16, 1]) as tf.Tensor4D, { classIndex: 1 });
        expect(maxAbsDiff(c0.heatmap, batch[0].heatmap)).toBeGreaterThan(1e-3);
      }
      x.dispose();
    });
  }

  it('runs in inference mode: repeated calls agree and probabilities match predict()', async () => {
    const x = randomImages(3, 51);
    const cam = new GradCAM(model);
    const a = await cam.explain(x);
    const b = await cam.explain(x);
    const probs = (await (model.predict(x) as tf.Tensor).array()) as number[][];
    for (let n = 0; n < 3; n++) {
      expect(maxAbsDiff(a[n].heatmap, b[n].heatmap)).toBe(0);
      expect(maxAbsDiff(a[n].probabilities, probs[n])).toBeLessThan(1e-6);
      expect(a[n].classIndex).toBe(a[n].predictedClass);
    }
    x.dispose();
  });

  it('leaks no tensors (batch, nested target, both methods, and on error)', async () => {
    const x = randomImages(3, 61);
    for (const method of ['gradcam', 'gradcam++'] as const) {
      for (const layerName of ['se_excite', 'backbone/b_conv1', 'backbone']) {
        const cam = new GradCAM(model, { layerName, method });
        await cam.explain(x); // warm-up: lazily created weights, backend caches
        const single = tf.squeeze(tf.slice(x, [0, 0, 0, 0], [1, 16, 16, 1]), [0]) as tf.Tensor3D;
        const before = tf.memory().numTensors;
        await cam.explain(x, { classIndex: [0, 1, 2] });
        await cam.explain(single);
        expect(tf.memory().numTensors).toBe(before);
        await expect(cam.explain(x, { classIndex: [0, 9, 1] })).rejects.toThrow(ExplainError);
        expect(tf.memory().numTensors).toBe(before);
        single.dispose();
      }
    }
    x.dispose();
  });
});

describe('degenerate maps', () => {
  it('flat activations give an all-zero map, never NaN', async () => {
    const model = buildCamModel();
    const conv = model.getLayer('conv');
    const [k, b] = conv.getWeights();
    conv.setWeights([tf.zerosLike(k), tf.fill(b.shape, 0.7)]);
    const x = randomImages(2, 71);
    for (const method of ['gradcam', 'gradcam++'] as const) {
      const ex = await new GradCAM(model, { method }).explain(x, { classIndex: [0, 1] });
      for (const e of ex) {
        expect(e.status).toBe('flat');
        expect(e.heatmap.every((v) => v === 0)).toBe(true);
        expect(e.rawMap.data.every((v) => Number.isFinite(v))).toBe(true);
      }
    }
    x.dispose();
  });

  it('a saturated softmax still gives a map (the logit, not the probability, is differentiated)', async () => {
    const model = buildCamModel();
    const dense = model.getLayer('logits');
    const [w, b] = dense.getWeights();
    dense.setWeights([tf.mul(w, 1e4), b]);
    const x = randomImages(1, 81);
    const [e] = await new GradCAM(model).explain(x);
    expect(Math.max(...e.probabilities)).toBe(1); // saturated in float32
    expect(e.status).toBe('ok');
    expect(Math.max(...e.heatmap)).toBeCloseTo(1, 6);
    x.dispose();
  });

  it('NaN inputs give status non-finite and a zero map', async () => {
    const model = buildCamModel();
    const x = tf.fill([1, 16, 16, 1], Number.NaN) as tf.Tensor4D;
    const [e] = await new GradCAM(model).explain(x, { classIndex: 0 });
    expect(e.status).toBe('non-finite');
    expect(e.heatmap.every((v) => v === 0)).toBe(true);
    x.dispose();
  });
});

describe('Grad-CAM++ on a hand-checked case', () => {
  it('matches the closed form computed by hand on conv(1x1) -> GMP -> dense', async () => {
    // A_k = x * k_k + b_k on a 3x3 image; S_c = Σ_k W[k,c] max(A_k) + bias_c. ∂S_c/∂A_k is W[k,c] at the
    // arg-max pixel of A_k and 0 elsewhere, so α = 1 / (2 + W·ΣA_k) there, 0 elsewhere, and
    // w_k = ReLU(W[k,c]) / (2 + W[k,c]·ΣA_k).
    const input = tfl.input({ shape: [3, 3, 1] });
    const feat = tfl.layers.conv2d({ filters: 2, kernelSize: 1, name: 'feat' }).apply(input) as tfl.SymbolicTensor;
    const pooled = tfl.layers.globalMaxPooling2d({}).apply(feat) as tfl.SymbolicTensor;
    const logits = tfl.layers.dense({ units: 2, name: 'logits' }).apply(pooled) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: logits });
    model.getLayer('feat').setWeights([tf.tensor4d([1, -0.5], [1, 1, 1, 2]), tf.tensor1d([0.1, 0.2])]);
    model.getLayer('logits').setWeights([tf.tensor2d([[0.3, -0.2], [0.5, 0.4]]), tf.tensor1d([0, 0])]);
    const pixels = [0.2, 0.9, 0.4, 0.1, 0.5, 0.3, 0.8, 0.6, 0.7];
    const x = tf.tensor4d(pixels, [1, 3, 3, 1]);
    // Channel 0: A = x + 0.1, sum = 4.5 + 0.9 = 5.4, max at pixel 1. Channel 1: A = 0.2 - 0.5x,
    // sum = 1.8 - 2.25 = -0.45, max at pixel 3 (x = 0.1).
    const A0 = pixels.map((p) => p + 0.1);
    const A1 = pixels.map((p) => 0.2 - 0.5 * p);
    for (const [c, W0, W1] of [
      [0, 0.3, 0.5],
      [1, -0.2, 0.4],
    ] as const) {
      const w0 = Math.max(0, W0) / (2 + W0 * 5.4);
      const w1 = Math.max(0, W1) / (2 + W1 * -0.45);
      const expected = A0.map((a0, i) => w0 * a0 + w1 * A1[i]);
      const [e] = await new GradCAM(model, { layerName: 'feat', method: 'gradcam++' }).explain(x, { classIndex: c });
      expect(maxAbsDiff(e.rawMap.data, expected)).toBeLessThan(1e-6);
      expect(e.logits.length).toBe(2);
      expect(e.heatmap.every((v) => Number.isFinite(v))).toBe(true);
    }
    // Plain Grad-CAM on the same model: α_k = W[k,c] / 9 (one non-zero gradient of W out of 9 pixels).
    const [g] = await new GradCAM(model, { layerName: 'feat', method: 'gradcam' }).explain(x, { classIndex: 0 });
    expect(maxAbsDiff(g.rawMap.data, A0.map((a0, i) => (0.3 * a0 + 0.5 * A1[i]) / 9))).toBeLessThan(1e-6);
    x.dispose();
  });
});

describe('errors', () => {
  const model = buildNestedModel();
  it('names the bad layer, shape or class', async () => {
    expect(() => new GradCAM(model, { layerName: 'nope' })).toThrow(/No layer 'nope'/);
    expect(() => new GradCAM(model, { layerName: 'backbone/nope' })).toThrow(/No layer 'nope' in model 'backbone'/);
    expect(() => new GradCAM(model, { layerName: 'head_gap' })).toThrow(/4-D feature map/);
    expect(() => new GradCAM(model, { layerName: 'refine_conv/x' })).toThrow(/not a nested model/);
    const cam = new GradCAM(model);
    const wrong = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
    await expect(cam.explain(wrong)).rejects.toThrow(/expects \[N, 16, 16, 1\]/);
    wrong.dispose();
    const x = randomImages(2);
    await expect(cam.explain(x, { classIndex: [1] })).rejects.toThrow(/1 entries for a batch of 2/);
    await expect(cam.explain(x, { classIndex: 4 })).rejects.toThrow(/\[0, 3\]/);
    x.dispose();
  });
});

describe('GradCAM computes no weight gradients', () => {
  it('no filter gradient during explain, the same map as the fused layers give, and the layers and registry restored', async () => {
    const model = buildNestedModel(3);
    const x = randomImages(2, 5);
    const cam = new GradCAM(model, { layerName: 'backbone/b_conv1', method: 'gradcam' });
    const meanGradient = tf.getGradient(tf.Mean);
    const before = tf.memory().numTensors;
    let maps: Array<{ data: Float32Array }> = [];
    const info = await tf.profile(async () => {
      maps = (await cam.explain(x, { classIndex: [1, 3] })).map((e) => e.rawMap);
    });
    expect(info.kernels.filter((k) => k.name === 'Conv2DBackpropFilter').length).toBe(0);
    expect(info.kernels.filter((k) => k.name === 'Conv2DBackpropInput').length).toBeGreaterThan(0); // it did backpropagate
    expect(tf.memory().numTensors).toBe(before);
    // the layers are as they were: no instance-level call left, tfjs-core's Mean gradient back
    const layers = [...model.layers, ...(model.getLayer('backbone') as tfl.LayersModel).layers];
    expect(layers.some((l) => Object.prototype.hasOwnProperty.call(l, 'call'))).toBe(false);
    expect(tf.getGradient(tf.Mean)).toBe(meanGradient);
    // values: 'explains a layer inside the nested backbone ... like a hand-written split' above compares the same
    // explanation with tfjs' own (fused) layers to 1e-5
    expect(maps.length).toBe(2);
    expect(maps.every((m) => m.data.length === 16 * 16 && m.data.some((v) => v !== 0))).toBe(true);
    x.dispose();
  });
});
