// Keras 3 freezing at any depth: a BN two containers deep (bn in `inner` in `outer`, `outer` nested in the user's own
// model) must run in inference mode and keep gamma/beta when `outer` is frozen, through plain model.fit and through
// trainNeuroStageNet. tfjs' own Container.trainable setter reaches only direct children: the first test shows that
// behaviour (what `outer.trainable = false` did to this package's models before they became KerasFunctional).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  KerasBatchNormalization,
  KerasFunctional,
  findFrozenLayers,
  kerasModel,
  setTrainable,
} from '../../src/layers/index.js';
import { holdKerasFreezing, isHeldFrozen } from '../../src/layers/freezing.js';
import { BACKBONE_NAME, buildNeuroStageNet, countParams, getBackbone } from '../../src/models/index.js';
import { compileNeuroStageNet } from '../../src/train/compile.js';
import { trainNeuroStageNet } from '../../src/train/trainer.js';
import { roundTrip } from '../layers/helpers.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadModel, saveModel } from '../../src/io/fs-model-io.js';
import { loadPretrainedNeuroStageNet } from '../../src/models/pretrained.js';
import { makeSource } from '../train/helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Containers = 'plain' | 'keras';

interface Nested {
  /** The user's model: input → rescaling 1/255 → outer → GAP → Dense(4) → softmax. */
  model: tfl.LayersModel;
  outer: tfl.LayersModel;
  inner: tfl.LayersModel;
  /** The BN two containers below `outer` (outer ⊃ inner ⊃ bn). */
  bn: KerasBatchNormalization;
  /** A BN directly in `outer`. */
  outerBn: KerasBatchNormalization;
  head: tfl.layers.Layer;
}

/** input [8,8,1] → rescaling → outer(inner(conv → bn) → conv → outer_bn) → GAP → Dense(4, softmax), with tf.model or kerasModel containers. */
function nestedModel(containers: Containers): Nested {
  const make = containers === 'keras' ? kerasModel : tfl.model;
  const seeded = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const bn = new KerasBatchNormalization({ name: 'bn' });
  const outerBn = new KerasBatchNormalization({ name: 'outer_bn' });
  const innerInput = tfl.input({ shape: [8, 8, 1] });
  const innerConv = tfl.layers.conv2d({ name: 'inner_conv', filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: seeded(1) });
  const inner = make({ inputs: innerInput, outputs: bn.apply(innerConv.apply(innerInput)) as tfl.SymbolicTensor, name: 'inner' });
  const outerInput = tfl.input({ shape: [8, 8, 1] });
  let y = inner.apply(outerInput) as tfl.SymbolicTensor;
  y = tfl.layers.conv2d({ name: 'outer_conv', filters: 3, kernelSize: 1, kernelInitializer: seeded(2) }).apply(y) as tfl.SymbolicTensor;
  const outer = make({ inputs: outerInput, outputs: outerBn.apply(y) as tfl.SymbolicTensor, name: 'outer' });
  const input = tfl.input({ shape: [8, 8, 1] });
  // Pixels 0..255 scaled to 0..1, so that the frozen BN layers (moving mean 0, variance 1) leave the softmax unsaturated.
  let x = tfl.layers.rescaling({ scale: 1 / 255 }).apply(input) as tfl.SymbolicTensor;
  x = outer.apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
  const head = tfl.layers.dense({ name: 'head', units: 4, activation: 'softmax', kernelInitializer: seeded(3) });
  const model = tfl.model({ inputs: input, outputs: head.apply(x) as tfl.SymbolicTensor, name: 'user_model' });
  return { model, outer, inner, bn, outerBn, head };
}

const values = (layer: tfl.layers.Layer) => layer.getWeights().map((w) => Array.from(w.dataSync()));
/** gamma, beta, moving_mean, moving_variance. */
const bnState = (bn: KerasBatchNormalization) => values(bn);

async function fitOnce(model: tfl.LayersModel): Promise<void> {
  compileNeuroStageNet(model, { learningRate: 0.05 });
  const x = tf.tidy(() => tf.add(tf.mul(tf.randomNormal([8, 8, 8, 1], 0, 1, 'float32', 5), 40), 100));
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32'), 4));
  await model.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
}

async function trainOnce(model: tfl.LayersModel, epochs = 1): Promise<void> {
  await trainNeuroStageNet(model, { train: { source: makeSource(8, 8, 4) }, epochs, batchSize: 8, augment: false, learningRate: 0.05, seed: 1 });
}

describe("tfjs' own Container.trainable (plain tf.model containers)", () => {
  it('reaches only direct children: outer.trainable = false leaves a BN two containers deep trainable, and model.fit moves its statistics', async () => {
    const { model, outer, inner, bn, outerBn } = nestedModel('plain');
    outer.trainable = false;
    expect(inner.trainable).toBe(true); // not reached by tfjs' setter
    expect(bn.trainable).toBe(true);
    expect(bn.isEffectivelyTrainable).toBe(true);
    expect(outerBn.isEffectivelyTrainable).toBe(false); // a direct child: its weights were flagged
    expect(model.trainableWeights.map((w) => w.originalName)).toEqual(['head/kernel', 'head/bias']);
    const before = bnState(bn);
    await fitOnce(model);
    const after = bnState(bn);
    // The broken behaviour this change fixes for this package's containers: the frozen BN's statistics move.
    expect(after[2]).not.toEqual(before[2]);
    expect(after[3]).not.toEqual(before[3]);
    expect(after.slice(0, 2)).toEqual(before.slice(0, 2)); // gamma/beta: not among the trainable weights
  });
});

describe('Keras 3 freezing at any depth', () => {
  it('KerasFunctional containers (as buildNeuroStageNet builds): outer.trainable = false freezes the BN two containers deep in model.fit', async () => {
    const { model, outer, inner, bn, outerBn, head } = nestedModel('keras');
    expect(outer).toBeInstanceOf(KerasFunctional);
    outer.trainable = false;
    expect([inner.trainable, bn.trainable, outerBn.trainable]).toEqual([false, false, false]);
    expect(bn.isEffectivelyTrainable).toBe(false);
    const bnBefore = bnState(bn);
    const outerBnBefore = bnState(outerBn);
    const headBefore = values(head);
    await fitOnce(model);
    expect(bnState(bn)).toEqual(bnBefore); // moving_mean, moving_variance, gamma, beta all unchanged
    expect(bnState(outerBn)).toEqual(outerBnBefore);
    expect(values(head)[0]).not.toEqual(headBefore[0]); // the rest trains
    // Unfreezing reaches every depth too: the BN trains again.
    outer.trainable = true;
    expect([inner.trainable, bn.trainable]).toEqual([true, true]);
    await fitOnce(model);
    expect(bnState(bn)[2]).not.toEqual(bnBefore[2]);
    expect(bnState(bn)[0]).not.toEqual(bnBefore[0]);
  });

  it('setTrainable(outer, false) does the same for plain tf.model containers; no tensors leak in fit', async () => {
    const { model, outer, inner, bn, head } = nestedModel('plain');
    setTrainable(outer, false);
    expect([outer.trainable, inner.trainable, bn.trainable]).toEqual([false, false, false]);
    const bnBefore = bnState(bn);
    const headBefore = values(head);
    await fitOnce(model); // warm-up: creates the optimizer's state
    expect(bnState(bn)).toEqual(bnBefore);
    expect(values(head)[0]).not.toEqual(headBefore[0]);
    const x = tf.ones([8, 8, 8, 1]);
    const y = tf.tidy(() => tf.oneHot(tf.zeros([8], 'int32'), 4));
    const tensors = tf.memory().numTensors;
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([x, y]);
    expect(bnState(bn)).toEqual(bnBefore);
    setTrainable(outer, true);
    expect([outer.trainable, inner.trainable, bn.trainable, bn.isEffectivelyTrainable]).toEqual([true, true, true, true]);
  });

  it('findFrozenLayers: every layer at or below a non-trainable container', () => {
    const { model, outer, inner, bn, outerBn, head } = nestedModel('plain');
    expect(findFrozenLayers(model).size).toBe(0);
    outer.trainable = false;
    const frozen = findFrozenLayers(model);
    for (const layer of [outer, inner, bn, outerBn, ...inner.layers.filter((l) => l.getClassName() !== 'InputLayer')]) expect(frozen.has(layer)).toBe(true);
    expect(frozen.has(head)).toBe(false);
    expect(frozen.has(model)).toBe(false);
  });
});

describe('trainNeuroStageNet honours Keras freezing at any depth', () => {
  for (const containers of ['plain', 'keras'] as const) {
    it(`${containers} containers, outer.trainable = false: the BN two containers deep keeps its statistics and gamma/beta; no tensors leak`, async () => {
      const { model, outer, bn, outerBn, head } = nestedModel(containers);
      outer.trainable = false;
      const bnBefore = bnState(bn);
      const outerBnBefore = bnState(outerBn);
      const headBefore = values(head);
      await trainOnce(model); // warm-up: compiles and creates the optimizer's state
      expect(bnState(bn)).toEqual(bnBefore);
      expect(bnState(outerBn)).toEqual(outerBnBefore);
      expect(values(head)[0]).not.toEqual(headBefore[0]);
      expect(isHeldFrozen(bn)).toBe(false); // the hold ends with the run
      const tensors = tf.memory().numTensors;
      await trainOnce(model, 2);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(bnState(bn)).toEqual(bnBefore);
    });
  }

  it('a trainable nested BN still updates under the trainer (the freezing is not blanket)', async () => {
    const { model, bn } = nestedModel('plain');
    const before = bnState(bn);
    await trainOnce(model);
    expect(bnState(bn)[2]).not.toEqual(before[2]);
    expect(bnState(bn)[0]).not.toEqual(before[0]);
  });
});

describe('NeuroStageNet nested in a user model', () => {
  it('net.trainable = false freezes the backbone BN layers (two containers deep) and the head BN in model.fit', async () => {
    const net = await buildNeuroStageNet({ inputShape: [32, 32, 1], seed: 3 });
    const input = tfl.input({ shape: [32, 32, 1] });
    const head = tfl.layers.dense({ name: 'user_head', units: 4, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) });
    const model = tfl.model({ inputs: input, outputs: head.apply(net.apply(input)) as tfl.SymbolicTensor });
    net.trainable = false;
    const backbone = getBackbone(net);
    expect(backbone.trainable).toBe(false);
    expect(backbone.layers.every((l) => !l.trainable)).toBe(true);
    expect(countParams(model).trainable).toBe(4 * 4 + 4);
    const stemBn = backbone.getLayer('stem_bn') as KerasBatchNormalization;
    const topBn = backbone.getLayer('top_bn') as KerasBatchNormalization;
    const headBn = net.getLayer('head_bn1') as KerasBatchNormalization;
    const before = [stemBn, topBn, headBn].map(bnState);
    const headBefore = values(head);
    compileNeuroStageNet(model, { learningRate: 0.05 });
    const x = tf.tidy(() => tf.mul(tf.randomUniform([4, 32, 32, 1], 0, 1, 'float32', 7), 255));
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 4));
    await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
    tf.dispose([x, y]);
    expect([stemBn, topBn, headBn].map(bnState)).toEqual(before);
    expect(values(head)[0]).not.toEqual(headBefore[0]);
    expect(net.layers.find((l) => l.name === BACKBONE_NAME)).toBe(backbone);
    model.dispose();
  }, 120_000);
});

describe('models saved as plain tfjs functional models load as KerasFunctional', () => {
  it('loadModel: a plain tf.model with a nested plain tf.model reloads as KerasFunctional at both depths, same outputs', async () => {
    const { outer } = nestedModel('plain');
    const dir = mkdtempSync(path.join(tmpdir(), 'nsn-plain-'));
    try {
      await saveModel(outer, dir);
      const saved = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as { modelTopology: { class_name: string } };
      expect(saved.modelTopology.class_name).toBe('Model');
      const reloaded = await loadModel(dir);
      expect(reloaded).toBeInstanceOf(KerasFunctional);
      expect(reloaded.getLayer('inner')).toBeInstanceOf(KerasFunctional);
      const x = tf.ones([2, 8, 8, 1]);
      const [a, b] = [outer.predict(x) as tf.Tensor, reloaded.predict(x) as tf.Tensor];
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      tf.dispose([x, a, b]);
      reloaded.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the shipped model (saved before KerasFunctional existed), nested in a user model: net.trainable = false keeps its backbone BN statistics through model.fit', async () => {
    const { model: net } = await loadPretrainedNeuroStageNet();
    expect(net).toBeInstanceOf(KerasFunctional);
    const backbone = getBackbone(net);
    expect(backbone).toBeInstanceOf(KerasFunctional);
    const [h, w] = net.inputs[0].shape.slice(1, 3) as number[];
    const input = tfl.input({ shape: [h, w, 1] });
    const head = tfl.layers.dense({ name: 'user_head', units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) });
    const model = tfl.model({ inputs: input, outputs: head.apply(net.apply(input)) as tfl.SymbolicTensor });
    net.trainable = false;
    const stemBn = backbone.getLayer('stem_bn') as KerasBatchNormalization;
    const before = bnState(stemBn);
    const headBefore = values(head);
    compileNeuroStageNet(model, { learningRate: 0.05 });
    const x = tf.tidy(() => tf.mul(tf.randomUniform([2, h, w, 1], 0, 1, 'float32', 7), 255));
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1], 'int32'), 2));
    const tensorsBefore = tf.memory().numTensors;
    await model.fit(x, y, { epochs: 1, batchSize: 2, verbose: 0 });
    expect(bnState(stemBn)).toEqual(before);
    expect(values(head)[0]).not.toEqual(headBefore[0]);
    tf.dispose([x, y]);
    model.dispose();
    expect(tf.memory().numTensors).toBeLessThan(tensorsBefore);
  }, 120_000);
});

describe('KerasFunctional serialization', () => {
  it("saves as 'neurostagenet>Functional' and reloads as one, nested models included, with the recursive setter", async () => {
    const { outer } = nestedModel('keras');
    const reloaded = await roundTrip(outer);
    expect(reloaded).toBeInstanceOf(KerasFunctional);
    const inner = reloaded.getLayer('inner') as tfl.LayersModel;
    expect(inner).toBeInstanceOf(KerasFunctional);
    expect(reloaded.getClassName()).toBe('neurostagenet>Functional');
    reloaded.trainable = false;
    expect(inner.getLayer('bn').trainable).toBe(false);
    const x = tf.ones([2, 8, 8, 1]);
    const a = outer.predict(x) as tf.Tensor;
    const b = reloaded.predict(x) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([x, a, b]);
  });

  it('a model without a name gets a valid default name', () => {
    const input = tfl.input({ shape: [2] });
    const m = kerasModel({ inputs: input, outputs: tfl.layers.dense({ units: 1 }).apply(input) as tfl.SymbolicTensor });
    expect(m.name).toMatch(/^functional_\d+$/);
  });
});

describe('holdKerasFreezing: frozen convolutions compute no filter gradient', () => {
  // input -> trainable conv -> frozen conv (bias) -> frozen conv (sigmoid, no bias, stride 2, valid) -> trainable conv: the frozen
  // ones are backpropagated to reach the trainable conv below them, as NeuroStageNet's input projection
  const build = () => {
    const input = tfl.input({ shape: [9, 9, 2] });
    const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
    const below = tfl.layers.conv2d({ name: 'below', filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: init(1) });
    const frozenA = tfl.layers.conv2d({ name: 'frozen_a', filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: init(2), biasInitializer: tfl.initializers.randomNormal({ seed: 5 }) });
    const frozenB = tfl.layers.conv2d({ name: 'frozen_b', filters: 5, kernelSize: 3, strides: 2, useBias: false, activation: 'sigmoid', kernelInitializer: init(3) });
    const top = tfl.layers.conv2d({ name: 'top', filters: 2, kernelSize: 1, kernelInitializer: init(4) });
    const out = top.apply(frozenB.apply(frozenA.apply(below.apply(input)))) as tfl.SymbolicTensor;
    frozenA.trainable = false;
    frozenB.trainable = false;
    return { model: tfl.model({ inputs: input, outputs: out }), frozen: [frozenA, frozenB] };
  };
  const step = (model: tfl.LayersModel, x: tf.Tensor) => {
    const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x, { training: true }) as tf.Tensor, 0.5)) as tf.Scalar, vars);
    const out = { value: value.dataSync()[0]!, grads: vars.map((v) => grads[v.name]!.dataSync().slice()) };
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  };
  const filterGradCalls = async (fn: () => void) =>
    (await tf.profile(fn)).kernels.filter((k) => k.name === 'Conv2DBackpropFilter').length;

  it('same loss and gradients, two filter gradients fewer, and the layers are as before after release', async () => {
    const { model, frozen } = build();
    const x = tf.randomNormal([2, 9, 9, 2], 0, 1, 'float32', 7);
    const before = tf.memory().numTensors;
    const plain = step(model, x);
    const plainCalls = await filterGradCalls(() => void step(model, x));
    const release = holdKerasFreezing(model);
    expect(frozen.every((l) => Object.prototype.hasOwnProperty.call(l, 'call'))).toBe(true);
    const held = step(model, x);
    const heldCalls = await filterGradCalls(() => void step(model, x));
    // inference through a held layer gives the same values too
    const yHeld = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync().slice());
    release();
    const y = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync().slice());
    expect(frozen.some((l) => Object.prototype.hasOwnProperty.call(l, 'call'))).toBe(false);
    expect(plainCalls).toBe(4); // tfjs' fused conv2d: every conv's filter gradient
    expect(heldCalls).toBe(2); // the trainable ones only
    expect(held.value).toBeCloseTo(plain.value, 5);
    expect(held.grads.length).toBe(plain.grads.length);
    held.grads.forEach((g, i) => g.forEach((v, j) => expect(v).toBeCloseTo(plain.grads[i]![j]!, 5)));
    expect(Math.max(...plain.grads[0]!.map(Math.abs))).toBeGreaterThan(1e-3); // the gradient passes the frozen convs
    yHeld.forEach((v, j) => expect(v).toBeCloseTo(y[j]!, 5));
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });
});
