import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { GradCAM } from '../../src/index.js';
import { defaultTargetLayer } from '../../src/explain/index.js';
import { buildNeuroStageNet } from '../../src/models/index.js';
import { maxAbsDiff } from './models.js';

let model: tfl.LayersModel;
let x: tf.Tensor4D;

beforeAll(async () => {
  await tf.setBackend('cpu');
  model = await buildNeuroStageNet({ inputShape: [64, 64, 1], seed: 7 });
  x = tf.randomUniform([2, 64, 64, 1], 0, 255, 'float32', 3) as tf.Tensor4D;
});

describe('GradCAM on NeuroStageNet (64x64, cpu)', () => {
  it('defaults to the last stride-8 map (8x8 at 64 px, not the 2x2 se_excite) and differentiates the input of predictions_softmax', () => {
    const cam = new GradCAM(model);
    expect(cam.layerName).toBe('efficientnetb0/block4a_expand_activation');
    expect(cam.featureShape).toEqual([8, 8, 240]);
    expect(defaultTargetLayer(model, 16)).toBe('efficientnetb0/block6a_expand_activation');
    expect(cam.method).toBe('layercam');
    expect(defaultTargetLayer(model, Infinity)).toBe('se_excite');
    expect(cam.logitSource).toContain("'predictions_softmax'");
  });

  it('descends into the backbone when the outer maps are 1x1 (32x32 input)', async () => {
    const small = await buildNeuroStageNet({ inputShape: [32, 32, 1], seed: 7 });
    const name = defaultTargetLayer(small);
    expect(name.startsWith('efficientnetb0/')).toBe(true);
    const shape = new GradCAM(small, { layerName: name }).featureShape;
    expect((shape[0] as number) * (shape[1] as number)).toBeGreaterThan(1);
  });

  it('efficientnetb0/top_activation matches a hand-wired head, batch = single, no leaks', async () => {
    const cam = new GradCAM(model, { layerName: 'efficientnetb0/top_activation', method: 'gradcam' });
    const classes = [0, 2];
    await cam.explain(x, { classIndex: classes }); // warm-up
    const before = tf.memory().numTensors;
    const ex = await cam.explain(x, { classIndex: classes });
    expect(tf.memory().numTensors).toBe(before);

    // Reference: backbone output by predict(), then the outer layers applied by hand under tf.grad.
    const L = (name: string) => (t: tf.Tensor | tf.Tensor[]) => model.getLayer(name).apply(t, { training: false }) as tf.Tensor;
    const ref = tf.tidy(() => {
      const a = L('efficientnetb0')(L('gray_to_rgb')(x));
      const logits = (fm: tf.Tensor): tf.Tensor => {
        let y = L('refine_bn2')(L('refine_sepconv2')(L('refine_act1')(L('refine_bn1')(L('refine_sepconv1')(fm)))));
        y = L('refine_act2')(L('refine_add')([y, L('refine_shortcut')(fm)]));
        const se = L('se_reshape')(L('se_expand')(L('se_reduce')(L('se_gap')(y))));
        y = L('se_excite')([y, se]);
        let z = L('head_concat')([L('head_gap')(y), L('head_gmp')(y)]);
        z = L('head_drop1')(L('head_act1')(L('head_bn1')(L('head_dense1')(z))));
        z = L('head_drop2')(L('head_bn2')(L('head_dense2')(z)));
        return L('predictions')(z);
      };
      const oneHot = tf.oneHot(tf.tensor1d(classes, 'int32'), 4);
      const g = tf.grad((fm: tf.Tensor) => tf.sum(tf.mul(logits(fm), oneHot)))(a);
      return tf.sum(tf.mul(a, tf.mean(g, [1, 2], true)), -1);
    });
    const r = await ref.data();
    ref.dispose();
    for (let n = 0; n < 2; n++) {
      const rn = r.slice(n * 4, (n + 1) * 4);
      const scale = Math.max(...rn.map(Math.abs));
      expect(scale).toBeGreaterThan(0);
      expect(maxAbsDiff(ex[n].rawMap.data, rn) / scale).toBeLessThan(1e-4);
      expect(ex[n].heatmap.every(Number.isFinite)).toBe(true);
    }
    const xi = tf.slice(x, [1, 0, 0, 0], [1, 64, 64, 1]);
    const [single] = await cam.explain(xi, { classIndex: 2 });
    xi.dispose();
    expect(maxAbsDiff(single.rawMap.data, ex[1].rawMap.data)).toBeLessThan(1e-4 * Math.max(...single.rawMap.data.map(Math.abs)));
    const probs = (await (model.predict(x) as tf.Tensor).data()) as Float32Array;
    expect(maxAbsDiff(ex[0].probabilities, probs.slice(0, 4))).toBeLessThan(1e-6);
  });
});
