// The wasm gradient kernels and the FusedBatchNorm gradient, checked against the cpu backend's own
// kernels / tfjs-core's gradient on random shapes (seeded).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core alone registers no gradients; tfjs-layers' bundle registers tfjs-core's (as in the app)
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { fusedBatchNormGradConfig } from '../../src/backends/training-gradients.js';
import { registerWasmGradientKernels, setWasmKernelScratchBytes, DEFAULT_KERNEL_SCRATCH_BYTES, UnsupportedKernelArgumentsError, unregisterWasmGradientKernels, WASM_GRADIENT_KERNEL_NAMES, WASM_MISSING_GRADIENT_KERNELS, WASM_REPLACED_GRADIENT_KERNELS } from '../../src/kernels/index.js';

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;
type Inputs = Record<string, number[]>;

/** Runs one kernel on `backend` with seeded normal inputs; returns its values and shape. */
async function runKernel(backend: string, kernel: string, inputs: Inputs, attrs: object, seed: number) {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const ins: Record<string, tf.Tensor> = {};
  Object.entries(inputs).forEach(([name, shape], i) => {
    ins[name] = tf.randomNormal(shape, 0, 1, 'float32', seed + i);
  });
  const out = tf.engine().runKernel(kernel, ins as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
  const values = out.dataSync().slice();
  const shape = out.shape;
  tf.dispose([out, ...Object.values(ins)]);
  expect(tf.memory().numTensors, `${kernel} on ${backend} leaked tensors`).toBe(before);
  return { values, shape };
}

function maxRelativeError(expected: Float32Array | Int32Array | Uint8Array, actual: ArrayLike<number>) {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(expected[i]! - actual[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

interface Case { kernel: string; inputs: Inputs; attrs: object; label: string }

/** Shapes: batch 1 and 3, odd/even sizes, kernels 1/3/5, strides 1 and 2, same/valid/explicit, mult 1/2. */
function cases(): Case[] {
  const out: Case[] = [];
  const pads: Pad[] = ['same', 'valid', [[0, 0], [1, 2], [0, 1], [0, 0]]];
  for (const [n, h, w, c] of [[1, 7, 9, 3], [3, 8, 8, 4], [3, 9, 6, 2]] as const) {
    for (const k of [1, 3, 5]) {
      for (const s of [1, 2]) {
        for (const pad of pads) {
          for (const mult of [1, 2]) {
            const info = tf.backend_util.computeConv2DInfo([n, h, w, c], [k, k, c, mult], s, 1, pad, undefined, true);
            if (info.outHeight <= 0 || info.outWidth <= 0) continue;
            const dyDw = [n, info.outHeight, info.outWidth, c * mult];
            const label = `x=[${n},${h},${w},${c}] k=${k} s=${s} pad=${JSON.stringify(pad)} mult=${mult}`;
            out.push({ kernel: 'DepthwiseConv2dNativeBackpropFilter', label, inputs: { x: [n, h, w, c], dy: dyDw },
              attrs: { strides: s, dilations: 1, pad, filterShape: [k, k, c, mult] } });
            out.push({ kernel: 'DepthwiseConv2dNativeBackpropInput', label, inputs: { dy: dyDw, filter: [k, k, c, mult] },
              attrs: { strides: s, dilations: 1, pad, inputShape: [n, h, w, c] } });
            const o = 2 + 3 * mult; // output channels of a regular conv: 5 or 8
            out.push({ kernel: 'Conv2DBackpropFilter', label: `${label} outC=${o}`,
              inputs: { x: [n, h, w, c], dy: [n, info.outHeight, info.outWidth, o] },
              attrs: { strides: s, pad, dataFormat: 'NHWC', filterShape: [k, k, c, o] } });
            out.push({ kernel: 'Conv2DBackpropInput', label: `${label} outC=${o}`,
              inputs: { dy: [n, info.outHeight, info.outWidth, o], filter: [k, k, c, o] },
              attrs: { strides: s, pad, dataFormat: 'NHWC', inputShape: [n, h, w, c] } });
          }
        }
      }
    }
  }
  return out;
}

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
  for (const name of WASM_MISSING_GRADIENT_KERNELS) expect(tf.getKernel(name, 'wasm')).toBeUndefined();
  const wasmOwn = WASM_REPLACED_GRADIENT_KERNELS.map((name) => tf.getKernel(name, 'wasm'));
  wasmOwn.forEach((k) => expect(k).toBeDefined());
  expect(registerWasmGradientKernels().sort()).toEqual([...WASM_GRADIENT_KERNEL_NAMES].sort());
  expect(registerWasmGradientKernels()).toEqual([]); // idempotent
  // undo restores wasm's own kernels; redo installs ours again
  unregisterWasmGradientKernels();
  for (const name of WASM_MISSING_GRADIENT_KERNELS) expect(tf.getKernel(name, 'wasm')).toBeUndefined();
  WASM_REPLACED_GRADIENT_KERNELS.forEach((name, i) => expect(tf.getKernel(name, 'wasm')).toBe(wasmOwn[i]));
  expect(registerWasmGradientKernels().length).toBe(WASM_GRADIENT_KERNEL_NAMES.length);
});

describe('wasm gradient kernels match the cpu backend', () => {
  const all = cases();
  it('covers every kernel on a broad set of shapes', () => {
    expect(all.length).toBeGreaterThan(150);
    for (const k of WASM_GRADIENT_KERNEL_NAMES) expect(all.some((c) => c.kernel === k)).toBe(true);
  });
  for (const kernel of WASM_GRADIENT_KERNEL_NAMES) {
    it(`${kernel}: every shape within 1e-5 relative`, async () => {
      let seed = 1;
      for (const c of all.filter((x) => x.kernel === kernel)) {
        const ref = await runKernel('cpu', c.kernel, c.inputs, c.attrs, seed);
        const got = await runKernel('wasm', c.kernel, c.inputs, c.attrs, seed);
        expect(got.shape, c.label).toEqual(ref.shape);
        expect(maxRelativeError(ref.values, got.values), c.label).toBeLessThan(1e-5);
        seed += 7;
      }
    });
  }

  it('NCHW data format: Conv2DBackpropFilter / Conv2DBackpropInput match cpu', async () => {
    const nchw: Case[] = [
      { kernel: 'Conv2DBackpropFilter', label: 'nchw filter', inputs: { x: [2, 3, 9, 8], dy: [2, 5, 5, 4] },
        attrs: { strides: 2, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 5] } },
      { kernel: 'Conv2DBackpropInput', label: 'nchw input', inputs: { dy: [2, 5, 5, 4], filter: [3, 3, 3, 5] },
        attrs: { strides: 2, pad: 'same', dataFormat: 'NCHW', inputShape: [2, 3, 9, 8] } },
    ];
    for (const c of nchw) {
      const ref = await runKernel('cpu', c.kernel, c.inputs, c.attrs, 5);
      const got = await runKernel('wasm', c.kernel, c.inputs, c.attrs, 5);
      expect(got.shape, c.label).toEqual(ref.shape);
      expect(maxRelativeError(ref.values, got.values), c.label).toBeLessThan(1e-5);
    }
  });

  it('chunks im2col work when the scratch budget is small, with the same result', async () => {
    const c: Case = { kernel: 'Conv2DBackpropFilter', label: 'chunked', inputs: { x: [3, 10, 10, 4], dy: [3, 5, 5, 6] },
      attrs: { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 4, 6] } };
    const d: Case = { kernel: 'DepthwiseConv2dNativeBackpropFilter', label: 'chunked dw', inputs: { x: [3, 10, 10, 4], dy: [3, 5, 5, 8] },
      attrs: { strides: 2, dilations: 1, pad: 'same', filterShape: [3, 3, 4, 2] } };
    try {
      setWasmKernelScratchBytes(3 * 5 * 5 * 4 * 4 * 2); // two taps per chunk -> 5 chunks
      for (const k of [c, d]) {
        const ref = await runKernel('cpu', k.kernel, k.inputs, k.attrs, 3);
        const got = await runKernel('wasm', k.kernel, k.inputs, k.attrs, 3);
        expect(maxRelativeError(ref.values, got.values), k.label).toBeLessThan(1e-5);
      }
    } finally {
      setWasmKernelScratchBytes(DEFAULT_KERNEL_SCRATCH_BYTES);
    }
  });

  it('gradients of conv2d / depthwiseConv2d / separableConv2d through tf.grads agree with cpu', async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.randomNormal([3, 11, 10, 4], 0, 1, 'float32', 11) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, 4, 6], 0, 1, 'float32', 12) as tf.Tensor4D;
      const dw = tf.randomNormal([5, 5, 6, 2], 0, 1, 'float32', 13) as tf.Tensor4D;
      const pw = tf.randomNormal([1, 1, 12, 5], 0, 1, 'float32', 14) as tf.Tensor4D;
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
        const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same');
        const z = tf.separableConv2d(tf.sigmoid(y) as tf.Tensor4D, c as tf.Tensor4D, d as tf.Tensor4D, 2, 'same');
        return tf.sum(tf.square(z));
      };
      const grads = tf.grads(f)([x, w, dw, pw]);
      const values = grads.map((g) => g.dataSync().slice());
      tf.dispose([x, w, dw, pw, ...grads]);
      return values;
    };
    const ref = await run('cpu');
    const got = await run('wasm');
    got.forEach((g, i) => expect(maxRelativeError(ref[i]!, g), `input ${i}`).toBeLessThan(2e-5));
  });

  it('rejects dilation > 1 with a typed error naming the kernel', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 8, 8, 2]);
    const dy = tf.zeros([1, 8, 8, 2]);
    expect(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy },
      { strides: 1, dilations: 2, pad: 'same', filterShape: [3, 3, 2, 1] } as unknown as tf.NamedAttrMap))
      .toThrow(UnsupportedKernelArgumentsError);
    expect(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy },
      { strides: 1, dilations: 2, pad: 'same', filterShape: [3, 3, 2, 1] } as unknown as tf.NamedAttrMap))
      .toThrow(/DepthwiseConv2dNativeBackpropFilter on wasm: dilations must be 1/);
    tf.dispose([x, dy]);
  });
});

describe('FusedBatchNorm gradient', () => {
  const original = tf.getGradient(tf.FusedBatchNorm)!;
  expect(original).toBeDefined();
  expect(original).not.toBe(fusedBatchNormGradConfig);

  /** Evaluates every closure of a gradient config for the given saved tensors. */
  function evalGrad(config: tf.GradConfig, dy: tf.Tensor, saved: tf.Tensor[], eps: number) {
    return tf.tidy(() => {
      const closures = config.gradFunc(dy, saved, { varianceEpsilon: eps });
      const out: Record<string, Float32Array> = {};
      for (const [k, f] of Object.entries(closures)) out[k] = f().dataSync().slice() as Float32Array;
      return out;
    });
  }

  for (const withScale of [true, false]) {
    for (const paramKind of ['rank1', 'fullShape'] as const) {
      it(`matches tfjs-core's gradient on cpu (scale ${withScale ? 'given' : 'absent'}, params ${paramKind})`, async () => {
        await tf.setBackend('cpu');
        const before = tf.memory().numTensors;
        const xShape = [3, 5, 4, 6];
        const pShape = paramKind === 'rank1' ? [6] : xShape;
        const x = tf.randomNormal(xShape, 2, 3, 'float32', 21);
        const dy = tf.randomNormal(xShape, 0, 1, 'float32', 22);
        const mean = tf.randomNormal(pShape, 2, 1, 'float32', 23);
        const variance = tf.randomUniform(pShape, 0.5, 4, 'float32', 24);
        const scale = withScale ? tf.randomNormal(pShape, 1, 0.5, 'float32', 25) : undefined;
        const saved = [x, mean, variance, ...(scale ? [scale] : [])];
        const ref = evalGrad(original, dy, saved, 1e-3);
        const got = evalGrad(fusedBatchNormGradConfig, dy, saved, 1e-3);
        expect(Object.keys(got).sort()).toEqual(Object.keys(ref).sort());
        for (const k of Object.keys(ref)) expect(maxRelativeError(ref[k]!, got[k]!), k).toBeLessThan(1e-5);
        tf.dispose([x, dy, mean, variance, ...(scale ? [scale] : [])]);
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it('handles [1,1,1,C] parameters (where tfjs-core\'s throws) like rank-1 ones', async () => {
    await tf.setBackend('cpu');
    const x = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 31);
    const dy = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 32);
    const m = tf.randomNormal([4], 0, 1, 'float32', 33);
    const v = tf.randomUniform([4], 0.5, 2, 'float32', 34);
    const s = tf.randomNormal([4], 0, 1, 'float32', 35);
    const r4 = (t: tf.Tensor) => tf.reshape(t, [1, 1, 1, 4]);
    const a = evalGrad(fusedBatchNormGradConfig, dy, [x, m, v, s], 1e-3);
    const b = evalGrad(fusedBatchNormGradConfig, dy, [x, r4(m), r4(v), r4(s)], 1e-3);
    for (const k of Object.keys(a)) expect(maxRelativeError(a[k]!, b[k]!), k).toBeLessThan(1e-6);
    expect(() => evalGrad(original, dy, [x, r4(m), r4(v), r4(s)], 1e-3)).toThrow();
    tf.disposeVariables();
  });

  it('end to end through tf.moments + tf.batchNorm: same gradients on cpu and wasm as the original', async () => {
    const run = async (backend: string, config: tf.GradConfig) => {
      await tf.setBackend(backend);
      tf.registerGradient(config);
      const x = tf.randomNormal([4, 6, 5, 3], 1, 2, 'float32', 41);
      const gamma = tf.randomNormal([3], 1, 0.3, 'float32', 42);
      const beta = tf.randomNormal([3], 0, 0.3, 'float32', 43);
      const target = tf.randomNormal([4, 6, 5, 3], 0, 1, 'float32', 44);
      const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(a, [0, 1, 2]);
        const y = tf.batchNorm(a, mean, variance, b, g, 1e-3);
        return tf.sum(tf.mul(tf.sigmoid(y), target));
      };
      const grads = tf.grads(f)([x, gamma, beta]);
      const values = grads.map((t) => t.dataSync().slice());
      tf.dispose([x, gamma, beta, target, ...grads]);
      return values;
    };
    try {
      const ref = await run('cpu', original);
      for (const backend of ['cpu', 'wasm']) {
        const got = await run(backend, fusedBatchNormGradConfig);
        got.forEach((g, i) => expect(maxRelativeError(ref[i]!, g), `${backend} input ${i}`).toBeLessThan(2e-5));
      }
    } finally {
      tf.registerGradient(original);
    }
  });
});
