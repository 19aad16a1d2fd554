import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { NeuroStageNetError } from '../../src/errors.js';
import { LayerOptionsError } from '../../src/layers/index.js';
import { DualPoolHead, SEResidualBlock } from '../../src/models/index.js';
import { roundTrip } from '../layers/helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Deterministic test input. */
function ramp(shape: number[], scale = 0.1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) * 10 * scale + i * 0.01), shape);
}

describe('SEResidualBlock and DualPoolHead', () => {
  it('build the Keras-named layers with the right shapes and reload from a saved model', async () => {
    const input = tfl.input({ shape: [4, 4, 8] });
    const block = new SEResidualBlock({ filters: 16, seRatio: 4, seed: 1 });
    const y = block.apply(input);
    expect(y.shape).toEqual([null, 4, 4, 16]);
    const { logits, probabilities } = new DualPoolHead({ units: [12, 6], dropout: [0.5, 0.3], numClasses: 3, seed: 2 }).apply(y);
    expect(logits.shape).toEqual([null, 3]);
    const model = tfl.model({ inputs: input, outputs: probabilities });
    expect(model.layers.map((l) => l.name).slice(1)).toEqual([
      'refine_sepconv1', 'refine_bn1', 'refine_act1', 'refine_sepconv2', 'refine_bn2', 'refine_shortcut', 'refine_add',
      'refine_act2', 'se_gap', 'se_reduce', 'se_expand', 'se_reshape', 'se_excite', 'head_gap', 'head_gmp',
      'head_concat', 'head_dense1', 'head_bn1', 'head_act1', 'head_drop1', 'head_dense2', 'head_bn2', 'head_drop2',
      'predictions', 'predictions_softmax',
    ]);
    expect(model.getLayer('se_reduce').getConfig().units).toBe(4);
    expect(model.getLayer('head_dense1').getConfig().kernelRegularizer).toBeNull();
    expect(model.getLayer('head_dense2').getConfig().kernelRegularizer).toMatchObject({ config: { l2: 1e-4 } });
    const x = ramp([2, 4, 4, 8]);
    const p = (model.predict(x) as tf.Tensor).arraySync() as number[][];
    p.forEach((row) => expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5));
    const reloaded = await roundTrip(model);
    expect(reloaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
    expect(Array.from((reloaded.predict(x) as tf.Tensor).dataSync())).toEqual(p.flat().map(Math.fround));
  });

  it('skip the shortcut when channels already match, and validate options', () => {
    const input = tfl.input({ shape: [4, 4, 16] });
    const model = tfl.model({ inputs: input, outputs: new SEResidualBlock({ filters: 16, seRatio: 4 }).apply(input) });
    expect(model.layers.some((l) => l.name === 'refine_shortcut')).toBe(false);
    expect(() => new SEResidualBlock({ filters: 8, seRatio: 16 })).toThrow(/no SE units/);
    expect(() => new DualPoolHead({ units: [8], dropout: [0.1, 0.2] })).toThrow(/same length/);
    expect(() => new DualPoolHead({ numClasses: 1 })).toThrow(/numClasses/);
    // Option errors are typed: one class for every layer, under the package's common base class.
    for (const bad of [
      () => new SEResidualBlock({ filters: 0 }),
      () => new SEResidualBlock({ filters: 8, seRatio: 16 }),
      () => new DualPoolHead({ units: [8], dropout: [0.1, 0.2] }),
      () => new DualPoolHead({ numClasses: 1 }),
    ]) {
      expect(bad).toThrow(LayerOptionsError);
      expect(bad).toThrow(NeuroStageNetError);
    }
  });
});
