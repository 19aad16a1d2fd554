import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadKerasWeights } from '../../src/node/index.js';
import {
  applyFineTuneFreeze,
  buildNeuroStageNet,
  countParams,
  featureModel,
  getBackbone,
  logitsModel,
  NeuroStageNetOptionsError,
} from '../../src/models/index.js';
import {
  BACKBONE_H5,
  NEUROSTAGENET_DIR,
  NEUROSTAGENET_H5,
  readGoldenArray,
  readGoldenTensor,
  readManifest,
  relativeL2,
  requireGolden,
} from './golden.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const manifest = readManifest(NEUROSTAGENET_DIR) as ReturnType<typeof readManifest> & { nested_backbone_layer_names: string[] };

describe('buildNeuroStageNet structure', () => {
  it('has Keras\' outer layer names in order plus the separate softmax, and the nested weights=None backbone', async () => {
    const model = await buildNeuroStageNet();
    expect(model.name).toBe('neurostagenet');
    expect(model.layers.map((l) => l.name)).toEqual([...manifest.layer_names, 'predictions_softmax']);
    expect(getBackbone(model).layers.map((l) => l.name)).toEqual(manifest.nested_backbone_layer_names);
    expect(model.inputs[0].shape).toEqual([null, 128, 128, 1]);
    expect(model.outputs[0].shape).toEqual([null, 4]);
    expect(model.getLayer('predictions').getConfig().activation).toBe('linear');
    expect(model.getLayer('predictions_softmax').getConfig().activation).toBe('softmax');
  });

  it('counts parameters like Keras: all trainable without backbone weights; 5,087,946 / 765,963 in the fine-tune state', async () => {
    const model = await buildNeuroStageNet();
    expect(countParams(model)).toEqual({ trainable: 5807790, nonTrainable: 46119, total: 5853909 });
    const backbone = getBackbone(model);
    applyFineTuneFreeze(backbone, 150);
    expect(countParams(model)).toEqual({ trainable: 5087946, nonTrainable: 765963, total: 5853909 });
    // Exactly layers [0, 150) frozen; the first trainable one is block5c_dwconv.
    expect(backbone.layers.findIndex((l) => l.trainable)).toBe(150);
    expect(backbone.layers.slice(150).every((l) => l.trainable)).toBe(true);
    expect(backbone.layers[150].name).toBe('block5c_dwconv');
    applyFineTuneFreeze(backbone, 0);
    expect(countParams(model).trainable).toBe(5807790);
    expect(() => applyFineTuneFreeze(backbone, 1000)).toThrow(NeuroStageNetOptionsError);
  });

  it('with backbone weights: loads them, uses the imagenet layout and freezes layers before 150 (same weights frozen)', async () => {
    requireGolden(BACKBONE_H5);
    const model = await buildNeuroStageNet({ backboneWeights: BACKBONE_H5 });
    const backbone = getBackbone(model);
    expect(backbone.layers).toHaveLength(238);
    expect(backbone.layers[150].name).toBe('block5c_expand_activation');
    expect(countParams(model)).toEqual({ trainable: 5087946, nonTrainable: 765963, total: 5853909 });
    const variance = backbone.getLayer('normalization').getWeights()[1];
    expect(Array.from(variance.dataSync())).toEqual(Array.from(Float32Array.of(0.229, 0.224, 0.225)));
  });

  it('seeded initialisation: same seed gives identical weights, another seed different ones', async () => {
    const a = await buildNeuroStageNet({ seed: 7 });
    const b = await buildNeuroStageNet({ seed: 7 });
    const c = await buildNeuroStageNet({ seed: 8 });
    const wa = a.getWeights();
    const wb = b.getWeights();
    const wc = c.getWeights();
    expect(wa.length).toBe(wb.length);
    let identical = true;
    let differentKernels = 0;
    let kernels = 0;
    for (let i = 0; i < wa.length; i++) {
      const va = wa[i].dataSync();
      const vb = wb[i].dataSync();
      const vc = wc[i].dataSync();
      for (let j = 0; j < va.length; j++) if (va[j] !== vb[j]) identical = false;
      const name = a.weights[i].originalName;
      if (/kernel$/.test(name)) {
        kernels += 1;
        if (va.some((v, j) => v !== vc[j])) differentKernels += 1;
      }
    }
    expect(identical).toBe(true);
    expect(kernels).toBe(92); // 81 backbone conv/depthwise kernels + 11 in gray_to_rgb, refinement block and head
    expect(differentKernels).toBe(kernels);
  });

  it('rejects bad options with a typed error', async () => {
    await expect(buildNeuroStageNet({ inputShape: [16, 16, 1] })).rejects.toThrow(NeuroStageNetOptionsError);
    await expect(buildNeuroStageNet({ inputShape: [128, 128] as unknown as [number, number, number] })).rejects.toThrow(/inputShape/);
  });
});

describe('NeuroStageNet vs Keras golden outputs (cpu)', () => {
  const intermediates = ['gray_to_rgb', 'efficientnetb0', 'refine_act2', 'se_excite', 'head_concat', 'head_bn1', 'head_drop2'];

  it('loads the nested Keras file by name and matches softmax, logits and intermediates to relative L2 < 1e-4', async () => {
    requireGolden(NEUROSTAGENET_H5);
    const model = await buildNeuroStageNet({ imagenetLayout: false });
    applyFineTuneFreeze(getBackbone(model), 150); // the file was saved in this state (its order differs; we load by name)
    const report = await loadKerasWeights(model, NEUROSTAGENET_H5);
    expect(report.layout).toBe('nested');
    expect(report.loaded).toHaveLength(348);
    expect(report.loadedValues).toBe(5853909);

    const names = ['predictions_softmax', 'predictions', ...intermediates];
    const probe = featureModel(model, names);
    const x = readGoldenTensor(NEUROSTAGENET_DIR, 'input_gray');
    const before = tf.memory().numTensors;
    const outs = probe.predict(x) as tf.Tensor[];
    const errors: Record<string, number> = {};
    names.forEach((name, i) => {
      const stem = name === 'predictions_softmax' ? 'output_softmax' : name === 'predictions' ? 'output_logits' : `layer_${name}`;
      const ref = readGoldenArray(NEUROSTAGENET_DIR, stem);
      expect(outs[i].shape, name).toEqual(ref.shape);
      errors[stem] = relativeL2(outs[i].dataSync(), ref.values);
    });
    console.log('NeuroStageNet relative L2 errors vs Keras:', errors);
    for (const [name, err] of Object.entries(errors)) expect(err, name).toBeLessThan(1e-4);
    tf.dispose(outs);
    expect(tf.memory().numTensors).toBe(before);

    // model.predict gives the softmax; logitsModel the logits; no tensors leak.
    const small = tf.slice(x, [0, 0, 0, 0], [2, 128, 128, 1]);
    const before2 = tf.memory().numTensors;
    const probs = model.predict(small) as tf.Tensor;
    const logits = logitsModel(model).predict(small) as tf.Tensor;
    const fromLogits = tf.softmax(logits);
    expect(relativeL2(probs.dataSync(), fromLogits.dataSync())).toBeLessThan(1e-6);
    expect(relativeL2(probs.dataSync(), readGoldenArray(NEUROSTAGENET_DIR, 'output_softmax').values.slice(0, 8))).toBeLessThan(1e-4);
    tf.dispose([probs, logits, fromLogits]);
    expect(tf.memory().numTensors).toBe(before2);
    tf.dispose([x, small]);
  });

  it('featureModel rejects an unknown layer', async () => {
    const model = await buildNeuroStageNet();
    expect(() => featureModel(model, 'no_such_layer')).toThrow(/no layer named 'no_such_layer'/);
    expect(tfl.model).toBeTypeOf('function');
  });
});
