import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { augmentBatch, resolveAugmentOptions, sampleAugmentParams, DEFAULT_AUGMENT, DataOptionError } from '../../src/data/index.js';
import { geometricTransform } from '../../src/data/augment.js';
import { ParquetImageDataset } from '../../src/index.js';
import { pseudoRandom, samplePath } from './helpers.js';
import { createRequire } from 'node:module';

// tfjs-node is an optional peer: present only after ../shared/tools/install-tfjs-node-from-wheel.sh
const hasTfjsNode = (() => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

const H = 24, W = 20;
const N = 6;
let data: Float32Array;

beforeAll(async () => {
  await tf.setBackend('cpu');
  data = Float32Array.from(pseudoRandom(N * H * W, 256, 17));
});
afterAll(async () => { await tf.setBackend('cpu'); });

const run = (opts: Parameters<typeof augmentBatch>[1], seed: number, src = data, shape: [number, number, number, number] = [N, H, W, 1]) => {
  const x = tf.tensor4d(src, shape);
  const y = augmentBatch(x, opts, seed);
  const out = y.dataSync() as Float32Array;
  tf.dispose([x, y]);
  return out;
};
const img = (a: Float32Array, i: number) => a.subarray(i * H * W, (i + 1) * H * W);
const mirror = (a: Float32Array) => { const o = new Float32Array(a.length); for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) o[y * W + x] = a[y * W + (W - 1 - x)]; return o; };
const off = { flip: false, rotation: false, zoom: false, brightness: false, contrast: false } as const;

describe('augmentation', () => {
  it('is deterministic in the seed and changes with it; leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const a = run(true, 5), b = run(true, 5), c = run(true, 6);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('draws parameters inside the configured ranges (defaults: ±0.05 turn, ±10% zoom, ±25.5 brightness, 0.9–1.1 contrast)', () => {
    const o = resolveAugmentOptions(true)!;
    expect(o).toEqual({ ...DEFAULT_AUGMENT, valueRange: [0, 255] });
    const p = sampleAugmentParams(2000, o, 1);
    const range = (f: (q: (typeof p)[0]) => number) => [Math.min(...p.map(f)), Math.max(...p.map(f))];
    const [amin, amax] = range((q) => q.angle);
    expect(amin).toBeGreaterThanOrEqual(-0.05 * 2 * Math.PI);
    expect(amax).toBeLessThanOrEqual(0.05 * 2 * Math.PI);
    expect(amax - amin).toBeGreaterThan(0.9 * 0.2 * Math.PI); // spans the range
    const [zmin, zmax] = range((q) => q.zoom);
    expect(zmin).toBeGreaterThanOrEqual(0.9);
    expect(zmax).toBeLessThanOrEqual(1.1);
    const [bmin, bmax] = range((q) => q.brightness);
    expect(bmin).toBeGreaterThanOrEqual(-25.5);
    expect(bmax).toBeLessThanOrEqual(25.5);
    expect(bmax).toBeGreaterThan(24);
    const [cmin, cmax] = range((q) => q.contrast);
    expect(cmin).toBeGreaterThanOrEqual(0.9);
    expect(cmax).toBeLessThanOrEqual(1.1);
    const flips = p.filter((q) => q.flip).length;
    expect(flips).toBeGreaterThan(900);
    expect(flips).toBeLessThan(1100);
  });

  it('flip alone mirrors exactly the images whose draw says so', () => {
    const out = run({ ...off, flip: true }, 11);
    const p = sampleAugmentParams(N, resolveAugmentOptions({ ...off, flip: true })!, 11);
    expect(p.some((q) => q.flip) && p.some((q) => !q.flip)).toBe(true);
    for (let i = 0; i < N; i++) {
      const expected = p[i].flip ? mirror(img(data, i)) : img(data, i);
      for (let k = 0; k < H * W; k++) expect(img(out, i)[k]).toBeCloseTo(expected[k], 3);
    }
  });

  it('brightness and contrast follow clip((x - mean) * c + mean + b) per image', () => {
    const opts = { ...off, brightness: 0.1, contrast: 0.1 };
    const out = run(opts, 21);
    const p = sampleAugmentParams(N, resolveAugmentOptions(opts)!, 21);
    for (let i = 0; i < N; i++) {
      const src = img(data, i);
      const mean = src.reduce((s, v) => s + v, 0) / src.length;
      for (let k = 0; k < src.length; k += 7) {
        const e = Math.min(255, Math.max(0, (src[k] - mean) * p[i].contrast + mean + p[i].brightness));
        expect(img(out, i)[k]).toBeCloseTo(e, 2);
      }
    }
  });

  it('rotation + zoom sample the input by bilinear interpolation at the hand-computed source point', () => {
    const opts = { ...off, rotation: 0.05, zoom: 0.1 };
    const out = run(opts, 31);
    const p = sampleAugmentParams(N, resolveAugmentOptions(opts)!, 31);
    const cx = (W - 1) / 2, cy = (H - 1) / 2;
    let checked = 0;
    for (let i = 0; i < N; i++) {
      const src = img(data, i);
      const c = Math.cos(p[i].angle), s = Math.sin(p[i].angle), z = p[i].zoom;
      expect(geometricTransform(p[i], H, W)[0]).toBeCloseTo(c * z, 6);
      for (const [ox, oy] of [[8, 9], [10, 12], [12, 14], [9, 15]]) {
        // input = centre + R(angle) Z (output - centre)
        const ix = cx + c * z * (ox - cx) - s * z * (oy - cy);
        const iy = cy + s * z * (ox - cx) + c * z * (oy - cy);
        const x0 = Math.floor(ix), y0 = Math.floor(iy), fx = ix - x0, fy = iy - y0;
        const at = (x: number, y: number) => src[y * W + x];
        const e = (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
        expect(img(out, i)[oy * W + ox]).toBeCloseTo(e, 2);
        checked++;
      }
    }
    expect(checked).toBe(N * 4);
  });

  it("fillMode 'reflect' equals a per-image Transform with 'reflect' on cpu (whose kernel matches TF REFLECT)", () => {
    // Strong zoom-out so that a large border is sampled from outside the image.
    const opts = { ...off, flip: true, rotation: 0.05, zoom: 0.3 };
    const out = run(opts, 43);
    const p = sampleAugmentParams(N, resolveAugmentOptions(opts)!, 43);
    const native = tf.tidy(() => {
      const x = tf.tensor4d(data, [N, H, W, 1]);
      const parts = tf.split(x, N, 0).map((im, i) =>
        tf.image.transform(im as tf.Tensor4D, tf.tensor2d(geometricTransform(p[i], H, W), [1, 8]), 'bilinear', 'reflect'));
      return tf.clipByValue(tf.concat(parts, 0), 0, 255).dataSync() as Float32Array;
    });
    expect(p.some((q) => q.zoom > 1.1)).toBe(true);
    let maxDiff = 0;
    for (let k = 0; k < out.length; k++) maxDiff = Math.max(maxDiff, Math.abs(out[k] - native[k]));
    expect(maxDiff).toBeLessThan(0.01);
    // 'constant' differs at the border (fills 0 there).
    const constant = run({ ...opts, fillMode: "constant" }, 43);
    expect(constant).not.toEqual(out);
  });

  it('gives the same result on the wasm backend (whose Transform "reflect" wraps around, so mirror padding is used) as on cpu', async () => {
    const ds = await ParquetImageDataset.fromFile(samplePath);
    const real = new Float32Array(4 * 128 * 128);
    ds.readImagesInto([0, 40, 80, 120], real);
    const shape: [number, number, number, number] = [4, 128, 128, 1];
    const cpu = run(true, 99, real, shape);
    expect(await tf.setBackend('wasm')).toBe(true);
    const before = tf.memory().numTensors;
    const wasm = run(true, 99, real, shape);
    expect(tf.memory().numTensors).toBe(before);
    await tf.setBackend('cpu');
    let maxDiff = 0;
    for (let k = 0; k < cpu.length; k++) maxDiff = Math.max(maxDiff, Math.abs(cpu[k] - wasm[k]));
    expect(maxDiff).toBeLessThan(0.05);
    // And it did change the images.
    let changed = 0;
    for (let k = 0; k < cpu.length; k++) changed += Math.abs(cpu[k] - real[k]);
    expect(changed / cpu.length).toBeGreaterThan(1);
  });

  it("registers no kernel: tfjs' Transform registry is the same after augmenting, with or without a native kernel", () => {
    const opts = { ...off, flip: true, rotation: 0.05, zoom: 0.3 }; // zoom-out: the reflected border is sampled too
    const cpuTransform = tf.getKernel('Transform', 'cpu');
    expect(cpuTransform).toBeDefined();
    const native = run(opts, 43);
    expect(tf.getKernel('Transform', 'cpu')).toBe(cpuTransform);
    // A backend without a Transform kernel (as tfjs-node 4.22): the cpu backend with its kernel taken away.
    tf.unregisterKernel('Transform', 'cpu');
    let portable: Float32Array;
    try {
      const before = tf.memory().numTensors;
      portable = run(opts, 43);
      expect(tf.memory().numTensors).toBe(before);
      expect(tf.getKernel('Transform', 'cpu')).toBeUndefined(); // still none: augmentation computed it in JS
    } finally {
      tf.registerKernel(cpuTransform!);
    }
    let maxDiff = 0;
    for (let k = 0; k < native.length; k++) maxDiff = Math.max(maxDiff, Math.abs(native[k] - portable[k]));
    expect(maxDiff).toBeLessThan(0.01);
    expect(portable).not.toEqual(data); // and it did transform
  });

  it.runIf(hasTfjsNode)('on tfjs-node (no Transform kernel) gives the cpu result and leaves getKernel(Transform, tensorflow) unset', async () => {
    const tfjsNode = '@tensorflow/tfjs-node'; // optional peer, absent on CI: a name tsc does not resolve
    await import(/* @vite-ignore */ tfjsNode);
    const real = Float32Array.from(pseudoRandom(2 * 64 * 64, 256, 23));
    const shape: [number, number, number, number] = [2, 64, 64, 1];
    const cpu = run(true, 7, real, shape);
    expect(await tf.setBackend('tensorflow')).toBe(true);
    const kernelBefore = tf.getKernel('Transform', 'tensorflow');
    const before = tf.memory().numTensors;
    const node = run(true, 7, real, shape);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.getKernel('Transform', 'tensorflow')).toBe(kernelBefore);
    await tf.setBackend('cpu');
    let maxDiff = 0;
    for (let k = 0; k < cpu.length; k++) maxDiff = Math.max(maxDiff, Math.abs(cpu[k] - node[k]));
    expect(maxDiff).toBeLessThan(0.05);
  });

  it('rejects bad options', () => {
    expect(() => resolveAugmentOptions({ rotation: 2 })).toThrow(DataOptionError);
    expect(() => resolveAugmentOptions({ zoom: -0.1 })).toThrow(/augment\.zoom/);
    expect(() => resolveAugmentOptions({ fillMode: 'wrap' as never })).toThrow(/fillMode/);
    expect(resolveAugmentOptions(false)).toBeNull();
  });
});
