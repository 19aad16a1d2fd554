import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, buildEfficientNetB0 } from '../../src/index.js';
import { kerasCorrectPad } from '../../src/backbones/efficientnet-b0.js';
import { loadKerasWeights } from '../../src/node/index.js';
import { countParams } from '../../src/models/index.js';
import { BACKBONE_DIR, BACKBONE_H5, readGoldenArray, readGoldenTensor, readManifest, relativeL2, requireGolden } from '../models/golden.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('kerasCorrectPad', () => {
  it('pads like Keras correct_pad: (0,1) for k=3 and (1,2) for k=5 at even sizes, symmetric at odd', () => {
    expect(kerasCorrectPad([128, 128], 3)).toEqual([[0, 1], [0, 1]]);
    expect(kerasCorrectPad([32, 32], 5)).toEqual([[1, 2], [1, 2]]);
    expect(kerasCorrectPad([33, 32], 5)).toEqual([[2, 2], [1, 2]]);
    expect(kerasCorrectPad([null, 7], 3)).toEqual([[0, 1], [1, 1]]);
  });
});

describe('buildEfficientNetB0 layer layout', () => {
  const manifest = readManifest(BACKBONE_DIR) as ReturnType<typeof readManifest> & { imagenet_graph_layer_names: string[] };

  it('weights=None layout: the 237 Keras layer names in order, layers[150] = block5c_dwconv', () => {
    const model = buildEfficientNetB0({ imagenetLayout: false });
    const names = model.layers.map((l) => l.name);
    expect(names).toEqual(manifest.layer_names);
    expect(names).toHaveLength(237);
    expect(names[150]).toBe('block5c_dwconv');
    expect(model.name).toBe('efficientnetb0');
    expect(model.outputs[0].shape).toEqual([null, 4, 4, 1280]);
  });

  it('imagenet layout: the 238 Keras layer names in order, rescaling_1 at 3, layers[150] = block5c_expand_activation', () => {
    const model = buildEfficientNetB0();
    const names = model.layers.map((l) => l.name);
    expect(names).toEqual(manifest.imagenet_graph_layer_names);
    expect(names).toHaveLength(238);
    expect(names[3]).toBe('rescaling_1');
    expect(names[150]).toBe('block5c_expand_activation');
  });

  it('has Keras\' parameter count (4,049,571) and padding layers before stride-2 depthwise convs only', () => {
    const model = buildEfficientNetB0({ imagenetLayout: false });
    expect(countParams(model).total).toBe(4049571);
    const pads = model.layers.filter((l) => l.name.endsWith('_pad')).map((l) => l.name);
    expect(pads).toEqual(['stem_conv_pad', 'block2a_dwconv_pad', 'block3a_dwconv_pad', 'block4a_dwconv_pad', 'block6a_dwconv_pad']);
    const drops = model.layers.filter((l) => l.name.endsWith('_drop'));
    // Stochastic depth rate 0.2·b/16 by block index b: block2b is b=2, block7a has no skip; block6d is b=14.
    const rate = (name: string) => (drops.find((l) => l.name === name) as unknown as { rate: number }).rate;
    expect(rate('block2b_drop')).toBeCloseTo(0.025, 12);
    expect(rate('block6d_drop')).toBeCloseTo(0.175, 12);
    expect((drops[0] as unknown as { noiseShape: unknown }).noiseShape).toEqual([null, 1, 1, 1]);
    expect(drops).toHaveLength(9);
  });
});

describe('buildEfficientNetB0 preprocessing starts as Keras does', () => {
  const normalizationWeights = (imagenetLayout: boolean): number[][] =>
    buildEfficientNetB0({ imagenetLayout, inputShape: [32, 32, 3] })
      .getLayer('normalization')
      .getWeights()
      .slice(0, 2)
      .map((w) => Array.from(w.dataSync()));

  it('weights=None graph: an un-adapted (identity) Normalization, mean 0 and variance 1', () => {
    expect(normalizationWeights(false)).toEqual([[0, 0, 0], [1, 1, 1]]);
  });

  it('imagenet graph: the ImageNet mean and, in the variance slot, the std (corrected by rescaling_1)', () => {
    const [mean, variance] = normalizationWeights(true);
    IMAGENET_MEAN_RGB.forEach((m, i) => expect(mean[i]).toBeCloseTo(m, 6));
    IMAGENET_STD_RGB.forEach((s, i) => expect(variance[i]).toBeCloseTo(s, 6));
  });
});

describe('EfficientNetB0 vs Keras golden outputs (cpu)', () => {
  const intermediates = ['stem_activation', 'block2a_project_bn', 'block4a_se_excite', 'block6a_activation', 'top_activation'];

  it('matches backbone_output and every intermediate to relative L2 < 1e-4', async () => {
    requireGolden(BACKBONE_H5);
    const model = buildEfficientNetB0({ imagenetLayout: false });
    const report = await loadKerasWeights(model, BACKBONE_H5);
    expect(report.layout).toBe('flat');
    expect(report.loaded).toHaveLength(312);
    expect(report.loadedValues).toBe(4049571);

    const probe = tfl.model({
      inputs: model.inputs,
      // top_activation is the model output itself (fetching it twice makes tfjs return null for one).
      outputs: intermediates.map((n) => model.getLayer(n).output as tfl.SymbolicTensor),
    });
    const x = readGoldenTensor(BACKBONE_DIR, 'input_rgb');
    const before = tf.memory().numTensors;
    const outs = probe.predict(x) as tf.Tensor[];
    const errors: Record<string, number> = {};
    const ref = readGoldenArray(BACKBONE_DIR, 'backbone_output');
    const top = outs[intermediates.indexOf('top_activation')];
    expect(top.shape).toEqual(ref.shape);
    errors.backbone_output = relativeL2(top.dataSync(), ref.values);
    intermediates.forEach((name, i) => {
      const r = readGoldenArray(BACKBONE_DIR, `layer_${name}`);
      expect(outs[i].shape).toEqual(r.shape);
      errors[name] = relativeL2(outs[i].dataSync(), r.values);
    });
    console.log('EfficientNetB0 relative L2 errors vs Keras:', errors);
    for (const [name, err] of Object.entries(errors)) expect(err, name).toBeLessThan(1e-4);
    tf.dispose(outs);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
