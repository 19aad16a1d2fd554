import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, ModelFileError, nodeFileSystemIO, saveModel } from '../../src/node/index.js';
import { loadPretrainedNeuroStageNet } from '../../src/index.js';
import { float32ToFloat16Bits, quantizeWeightsFloat16 } from '../../src/io/fs-model-io.js';
import {
  GrayToRGBProjection,
  KerasNormalization,
  KerasRescaling,
  SeededDropout,
} from '../../src/layers/index.js';
import { DualPoolHead, SEResidualBlock, applyFineTuneFreeze, buildNeuroStageNet, countParams, getBackbone } from '../../src/models/index.js';

/** A static file server of `dir` on a free local port (404 for missing files), listening when it resolves. */
async function serveDirectory(dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const file = join(dir, (req.url ?? '/').replace(/^\/+/, ''));
    if (!existsSync(file)) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.end(readFileSync(file));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return server;
}

const dir = mkdtempSync(join(tmpdir(), 'neurostagenet-io-'));

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function input(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.randomUniform(shape, 0, 1, 'float32', seed), 255));
}

describe('saveModel / loadModel', () => {
  it('round-trips a model with every custom layer: same layers, trainable flags and identical predictions', async () => {
    const x0 = tfl.input({ shape: [8, 8, 1] });
    let x = new GrayToRGBProjection({ name: 'gray_to_rgb', seed: 1 }).apply(x0) as tfl.SymbolicTensor;
    x = new KerasRescaling({ name: 'rescale', scale: 1 / 255 }).apply(x) as tfl.SymbolicTensor;
    x = new KerasNormalization({ name: 'norm', mean: [0.4, 0.5, 0.6], variance: [0.2, 0.2, 0.3] }).apply(x) as tfl.SymbolicTensor;
    x = new SeededDropout({ name: 'drop', rate: 0.2, noiseShape: [null, 1, 1, 1], seed: 4 }).apply(x) as tfl.SymbolicTensor;
    x = new SEResidualBlock({ filters: 8, seRatio: 4, seed: 2 }).apply(x);
    const { probabilities } = new DualPoolHead({ units: [6, 5], numClasses: 3, seed: 3 }).apply(x);
    const model = tfl.model({ inputs: x0, outputs: probabilities, name: 'small' });
    model.getLayer('gray_to_rgb').trainable = false;

    const target = join(dir, 'small');
    await saveModel(model, target);
    expect(existsSync(join(target, 'model.json'))).toBe(true);
    expect(existsSync(join(target, 'weights.bin'))).toBe(true);
    const reloaded = await loadModel(target);
    expect(reloaded.layers.map((l) => [l.name, l.getClassName(), l.trainable])).toEqual(
      model.layers.map((l) => [l.name, l.getClassName(), l.trainable]),
    );
    const xs = input([3, 8, 8, 1], 9);
    const before = tf.memory().numTensors;
    const a = model.predict(xs) as tf.Tensor;
    const b = reloaded.predict(xs) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('round-trips the full NeuroStageNet (nested backbone, fine-tune state) with identical predictions', async () => {
    const model = await buildNeuroStageNet({ seed: 3 });
    applyFineTuneFreeze(getBackbone(model), 150);
    const target = join(dir, 'neurostagenet');
    await saveModel(model, target);
    const reloaded = await loadModel(target);
    expect(reloaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
    expect(getBackbone(reloaded).layers.map((l) => l.name)).toEqual(getBackbone(model).layers.map((l) => l.name));
    expect(countParams(reloaded)).toEqual(countParams(model));
    expect(countParams(reloaded).trainable).toBe(5087946);
    const xs = input([2, 128, 128, 1], 5);
    const a = model.predict(xs) as tf.Tensor;
    const b = reloaded.predict(xs) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b, xs]);
  });

  it('fails with a typed error naming the path when there is no saved model', async () => {
    await expect(loadModel(join(dir, 'nothing-here'))).rejects.toThrow(ModelFileError);
    await expect(loadModel(join(dir, 'nothing-here'))).rejects.toThrow(/nothing-here\/model\.json/);
  });
});

// [float32 input, float16 bits] from numpy 2.4: np.float32(x).astype(np.float16).view(np.uint16).
const NUMPY_FLOAT16: Array<[number, number]> = [
  [0, 0x0000],
  [-0, 0x8000],
  [1, 0x3c00],
  [-2, 0xc000],
  [0.1, 0x2e66],
  [1 / 3, 0x3555],
  [Math.PI, 0x4248],
  [12345.678, 0x7207],
  [-0.0001234, 0x880b],
  [-7.5e-6, 0x807e], // subnormal
  [1e-5, 0x00a8], // subnormal
  [0.00011, 0x0735],
  [65504, 0x7bff], // largest half
  [65519.99, 0x7bff], // just below the overflow threshold
  [65520, 0x7c00], // rounds up to Infinity (IEEE, as numpy)
  [1e6, 0x7c00],
  [-1e6, 0xfc00],
  [Infinity, 0x7c00],
  [-Infinity, 0xfc00],
  [NaN, 0x7e00],
  [6.103515625e-5, 0x0400], // smallest normal
  [6.097555160522461e-5, 0x03ff], // largest subnormal
  [1023.5 * 2 ** -24, 0x0400], // tie between subnormal 0x3ff and normal 0x400: to even
  [1022.5 * 2 ** -24, 0x03fe], // tie: to even
  [2 ** -24, 0x0001], // smallest subnormal
  [2 ** -25, 0x0000], // exactly half of it: ties to even (0)
  [2.98023259e-8, 0x0001], // just above half: rounds up
  [-(2 ** -25), 0x8000],
  [3 * 2 ** -25, 0x0002], // 1.5 units: to even
  [5 * 2 ** -25, 0x0002], // 2.5 units: to even
  [7 * 2 ** -25, 0x0004], // 3.5 units: to even
  [4.470348358154297e-8, 0x0001],
  [1e-8, 0x0000], // underflow to zero
  [1.0009765625, 0x3c01], // exactly 1 + 2^-10
  [1.00048828125, 0x3c00], // tie 1 / 1+2^-10: to even
  [1.00146484375, 0x3c02], // tie 1+2^-10 / 1+2^-9: to even
  [1.000732421875, 0x3c01],
  [2049, 0x6800], // tie at spacing 2: to even (2048)
  [2051, 0x6802], // tie: to even (2052)
];

describe('float32ToFloat16Bits', () => {
  it('gives numpy float16 bit patterns: rounding to nearest even, subnormals, overflow to Infinity, NaN', () => {
    for (const [value, bits] of NUMPY_FLOAT16) {
      expect([value, float32ToFloat16Bits(value).toString(16)]).toEqual([value, bits.toString(16)]);
    }
  });

  it('round-trips every finite half exactly through tfjs\' float16 decoder', () => {
    // All 63488 finite half patterns: decode with tfjs (an independent decoder), re-encode, compare.
    const halves = new Uint16Array(0x10000);
    for (let i = 0; i < halves.length; i++) halves[i] = i;
    const finite = halves.filter((h) => (h & 0x7c00) !== 0x7c00);
    const spec = { name: 'h', shape: [finite.length], dtype: 'float32' as const, quantization: { dtype: 'float16' as const } };
    const decoded = tf.io.decodeWeights(finite.slice().buffer, [spec]).h;
    const values = decoded.dataSync();
    decoded.dispose();
    let mismatches = 0;
    for (let i = 0; i < finite.length; i++) if (float32ToFloat16Bits(values[i]) !== finite[i]) mismatches++;
    expect(mismatches).toBe(0);
  });
});

describe('saveModel with quantize: float16', () => {
  function smallModel(): tfl.LayersModel {
    const x0 = tfl.input({ shape: [8, 8, 1] });
    let x = new KerasRescaling({ name: 'rescale', scale: 1 / 255 }).apply(x0) as tfl.SymbolicTensor;
    x = tfl.layers.conv2d({ filters: 6, kernelSize: 3, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({}).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tfl.SymbolicTensor;
    return tfl.model({ inputs: x0, outputs: out });
  }

  it('halves weights.bin, marks entries with tfjs float16 quantization and reloads within float16 tolerance', async () => {
    const model = smallModel();
    const full = join(dir, 'fp32');
    const half = join(dir, 'fp16');
    await saveModel(model, full);
    const result = await saveModel(model, half, { quantize: 'float16' });
    const fullBytes = statSync(join(full, 'weights.bin')).size;
    const halfBytes = statSync(join(half, 'weights.bin')).size;
    expect(halfBytes).toBe(fullBytes / 2);
    expect(result.modelArtifactsInfo.weightDataBytes).toBe(halfBytes);
    const manifest = JSON.parse(readFileSync(join(half, 'model.json'), 'utf8')).weightsManifest[0].weights;
    expect(manifest.length).toBe(model.weights.length);
    for (const entry of manifest) {
      expect(entry.dtype).toBe('float32');
      expect(entry.quantization).toEqual({ dtype: 'float16', original_dtype: 'float32' });
    }

    const reloaded = await loadModel(half);
    // Every reloaded weight is the float16 rounding of the original (relative error <= 2^-11 for normal halves).
    for (const [i, w] of model.getWeights().entries()) {
      const a = w.dataSync();
      const b = reloaded.getWeights()[i].dataSync();
      for (let j = 0; j < a.length; j++) expect(Math.abs(b[j] - a[j])).toBeLessThanOrEqual(Math.abs(a[j]) * 2 ** -11 + 2 ** -25);
    }
    const xs = input([4, 8, 8, 1], 3);
    const before = tf.memory().numTensors;
    const p = model.predict(xs) as tf.Tensor;
    const q = reloaded.predict(xs) as tf.Tensor;
    const pa = p.dataSync();
    const qa = q.dataSync();
    let maxDiff = 0;
    for (let i = 0; i < pa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pa[i] - qa[i]));
    expect(maxDiff).toBeGreaterThan(0); // it really was quantized
    expect(maxDiff).toBeLessThan(5e-3);
    tf.dispose([p, q]);
    expect(tf.memory().numTensors).toBe(before);
    xs.dispose();
  });

  it('loads through tfjs\' http handler (tf.loadLayersModel of a served model.json), as a browser would', async () => {
    const model = smallModel();
    const half = join(dir, 'fp16-http');
    await saveModel(model, half, { quantize: 'float16' });
    const server = await serveDirectory(half);
    try {
      const { port } = server.address() as AddressInfo;
      const viaHttp = await tfl.loadLayersModel(`http://127.0.0.1:${port}/model.json`);
      const viaFs = await loadModel(half);
      const xs = input([2, 8, 8, 1], 4);
      const a = viaHttp.predict(xs) as tf.Tensor;
      const b = viaFs.predict(xs) as tf.Tensor;
      expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      tf.dispose([a, b, xs]);
    } finally {
      server.close();
    }
  });

  it('leaves int32 / bool weights and float32 weights beyond the float16 range untouched', async () => {
    const specs: tf.io.WeightsManifestEntry[] = [
      { name: 'f', shape: [3], dtype: 'float32' },
      { name: 'i', shape: [3], dtype: 'int32' },
      { name: 'b', shape: [3], dtype: 'bool' }, // 3 bytes: later entries are unaligned, as tfjs allows
      { name: 'big', shape: [2], dtype: 'float32' },
      { name: 'g', shape: [1], dtype: 'float32' },
    ];
    const bytes = new Uint8Array(12 + 12 + 3 + 8 + 4);
    bytes.set(new Uint8Array(new Float32Array([0.1, -2, 1 / 3]).buffer), 0);
    bytes.set(new Uint8Array(new Int32Array([123456789, -7, 70000]).buffer), 12);
    bytes.set([1, 0, 1], 24);
    bytes.set(new Uint8Array(new Float32Array([1e6, 1]).buffer), 27);
    bytes.set(new Uint8Array(new Float32Array([65504]).buffer), 35);

    const target = join(dir, 'mixed');
    const handler = nodeFileSystemIO(target, { quantize: 'float16' });
    await handler.save!({ modelTopology: {}, weightSpecs: specs, weightData: bytes.buffer });
    const manifest = JSON.parse(readFileSync(join(target, 'model.json'), 'utf8')).weightsManifest[0].weights;
    expect(manifest.map((e: tf.io.WeightsManifestEntry) => [e.name, e.dtype, e.quantization?.dtype ?? null])).toEqual([
      ['f', 'float32', 'float16'],
      ['i', 'int32', null],
      ['b', 'bool', null],
      ['big', 'float32', null],
      ['g', 'float32', 'float16'],
    ]);
    expect(statSync(join(target, 'weights.bin')).size).toBe(6 + 12 + 3 + 8 + 2);

    const loaded = await nodeFileSystemIO(target).load!();
    const w = tf.io.decodeWeights(loaded.weightData!, loaded.weightSpecs!);
    expect(Array.from(w.f.dataSync())).toEqual([0.0999755859375, -2, 0.333251953125]);
    expect(Array.from(w.i.dataSync())).toEqual([123456789, -7, 70000]);
    expect(w.i.dtype).toBe('int32');
    expect(Array.from(w.b.dataSync())).toEqual([1, 0, 1]);
    expect(Array.from(w.big.dataSync())).toEqual([1e6, 1]);
    expect(Array.from(w.g.dataSync())).toEqual([65504]);
    tf.dispose(Object.values(w));
  });

  it('rejects weight data that does not match its manifest, naming the weight', () => {
    expect(() => quantizeWeightsFloat16([{ name: 'dense/kernel', shape: [4], dtype: 'float32' }], new ArrayBuffer(8))).toThrow(/dense\/kernel/);
    expect(() => quantizeWeightsFloat16([{ name: 'x', shape: [1], dtype: 'float32' }], new ArrayBuffer(8))).toThrow(ModelFileError);
  });
});

describe('loadModel: model files checked on load (issue 15)', () => {
  // A tiny model saved to a fresh temp directory, to be corrupted by each test.
  async function savedTiny(options: { quantize?: 'float16' } = {}): Promise<{ path: string; model: tfl.LayersModel }> {
    const path = mkdtempSync(join(dir, 'bad-'));
    const x0 = tfl.input({ shape: [4, 4, 1] });
    const flat = tfl.layers.flatten().apply(x0) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'head', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(flat) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: x0, outputs: out, name: 'tiny' });
    await saveModel(model, path, options);
    return { path, model };
  }

  it('a truncated weights.bin is a ModelFileError naming the file, the expected and the actual bytes (float32 and float16)', async () => {
    for (const quantize of [undefined, 'float16'] as const) {
      const { path, model } = await savedTiny({ quantize });
      const bin = join(path, 'weights.bin');
      const bytes = readFileSync(bin);
      const expected = quantize ? (16 * 3 + 3) * 2 : (16 * 3 + 3) * 4;
      expect(bytes.byteLength).toBe(expected);
      writeFileSync(bin, bytes.subarray(0, bytes.byteLength - 10));
      const error = await loadModel(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelFileError);
      expect((error as Error).message).toContain(bin);
      expect((error as Error).message).toMatch(new RegExp(`has ${expected - 10} bytes but .* needs ${expected} `));
      expect((error as Error).message).toMatch(/truncated/);
      model.dispose();
    }
  });

  it('a weight whose manifest shape disagrees with the model is a ModelFileError naming the weight', async () => {
    const { path, model } = await savedTiny();
    const jsonFile = join(path, 'model.json');
    const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as tf.io.ModelJSON;
    // Same byte count (16x3 = 8x6), other shape: only the shape check can see it.
    const kernel = json.weightsManifest[0].weights.find((w) => w.name.endsWith('kernel'))!;
    kernel.shape = [8, 6];
    writeFileSync(jsonFile, JSON.stringify(json));
    const error = await loadModel(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelFileError);
    expect((error as Error).message).toMatch(/weight 'head\/kernel' is \[8, 6\] in the manifest but the model's layer needs \[16, 3\]/);
    model.dispose();
  });

  it('NaN / Inf weights are a ModelFileError naming the weight and the count; finite ones load', async () => {
    const { path, model } = await savedTiny();
    const before = tf.memory().numTensors;
    const good = await loadModel(path);
    good.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const bin = join(path, 'weights.bin');
    const bytes = readFileSync(bin);
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    values[0] = NaN;
    values[5] = Infinity;
    writeFileSync(bin, new Uint8Array(values.buffer));
    const error = await loadModel(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelFileError);
    expect((error as Error).message).toMatch(/weight 'head\/kernel' has 2 of 48 values NaN or ±Inf/);
    expect(tf.memory().numTensors).toBe(before); // the refused model is disposed
    model.dispose();
  });

  it('loadPretrainedNeuroStageNet over http checks the weights too (truncated data, NaN values)', async () => {
    const { path, model } = await savedTiny();
    const server = await serveDirectory(path);
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.json`;
      const bin = join(path, 'weights.bin');
      const bytes = readFileSync(bin);
      writeFileSync(bin, bytes.subarray(0, 100));
      const truncated = await loadPretrainedNeuroStageNet({ location: url }).catch((e: unknown) => e);
      expect(truncated).toBeInstanceOf(ModelFileError);
      expect((truncated as Error).message).toMatch(new RegExp(`weight data of '${url}' has 100 bytes but .* needs ${bytes.byteLength} `));
      const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      values[1] = NaN;
      writeFileSync(bin, new Uint8Array(values.buffer));
      const nan = await loadPretrainedNeuroStageNet({ location: url }).catch((e: unknown) => e);
      expect(nan).toBeInstanceOf(ModelFileError);
      expect((nan as Error).message).toMatch(/weight 'head\/kernel' has 1 of 48 values NaN or ±Inf/);
    } finally {
      server.close();
      model.dispose();
    }
  });
});
