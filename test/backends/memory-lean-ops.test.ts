// memoryLeanSwish / memoryLeanBatchNorm: same values and gradients as the plain formulas under tfjs
// autodiff (cpu and wasm), fewer tensors held for the backward pass, no leaks.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients (the reference formulas need them)
import { describe, expect, it } from 'vitest';
import { memoryLeanBatchNorm, memoryLeanSwish } from '../../src/kernels/index.js';

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(a[i]!));
  }
  return d / Math.max(s, 1e-12);
}

const plainSwish = (x: tf.Tensor) => tf.mul(x, tf.sigmoid(x));
function plainBatchNorm(x: tf.Tensor, gamma?: tf.Tensor, beta?: tf.Tensor, eps = 1e-3) {
  const { mean, variance } = tf.moments(x, Array.from({ length: x.rank - 1 }, (_, i) => i));
  let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  if (gamma) y = tf.mul(y, gamma);
  if (beta) y = tf.add(y, beta);
  return y;
}

/** Values and gradients of sum(f(...) * w) w.r.t. every input, for a fixed random weighting w. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], w: tf.Tensor) {
  return tf.tidy(() => {
    const value = f(...xs).dataSync().slice();
    const grads = tf.grads((...ys: tf.Tensor[]) => tf.sum(tf.mul(f(...ys), w)))(xs).map((g) => g.dataSync().slice());
    return { value, grads };
  });
}

for (const backend of ['cpu', 'wasm']) {
  describe(`memory-lean ops on ${backend}`, () => {
    it('memoryLeanSwish matches x*sigmoid(x) in value and gradient', async () => {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const x = tf.randomNormal([2, 5, 4, 3], 0, 3, 'float32', 1);
      const w = tf.randomNormal([2, 5, 4, 3], 0, 1, 'float32', 2);
      const ref = valueAndGrads(plainSwish, [x], w);
      const got = valueAndGrads((t) => memoryLeanSwish(t), [x], w);
      expect(maxRelErr(ref.value, got.value)).toBeLessThan(1e-6);
      expect(maxRelErr(ref.grads[0]!, got.grads[0]!)).toBeLessThan(1e-5);
      tf.dispose([x, w]);
      expect(tf.memory().numTensors).toBe(before);
    });

    for (const [label, shape] of [['[N,H,W,C]', [3, 5, 4, 6]], ['[N,C]', [7, 10]]] as const) {
      for (const affine of ['gamma+beta', 'gamma', 'none'] as const) {
        it(`memoryLeanBatchNorm ${label} ${affine}: values and gradients equal the moments formula`, async () => {
          await tf.setBackend(backend);
          const before = tf.memory().numTensors;
          const c = shape[shape.length - 1]!;
          const x = tf.randomNormal([...shape], 3, 2, 'float32', 11);
          const w = tf.randomNormal([...shape], 0, 1, 'float32', 12);
          const gamma = affine !== 'none' ? tf.randomNormal([c], 1, 0.5, 'float32', 13) as tf.Tensor1D : undefined;
          const beta = affine === 'gamma+beta' ? tf.randomNormal([c], 0, 0.5, 'float32', 14) as tf.Tensor1D : undefined;
          const xs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
          const unpack = (ys: tf.Tensor[]) => ({ g: gamma ? ys[1] as tf.Tensor1D : undefined,
            b: beta ? ys[gamma ? 2 : 1] as tf.Tensor1D : undefined });
          const ref = valueAndGrads((...ys) => plainBatchNorm(ys[0]!, unpack(ys).g, unpack(ys).b), xs, w);
          const got = valueAndGrads((...ys) => memoryLeanBatchNorm(ys[0]!, { gamma: unpack(ys).g, beta: unpack(ys).b }), xs, w);
          expect(maxRelErr(ref.value, got.value)).toBeLessThan(1e-5);
          expect(got.grads.length).toBe(xs.length);
          got.grads.forEach((g, i) => expect(maxRelErr(ref.grads[i]!, g), `grad ${i}`).toBeLessThan(2e-5));
          tf.dispose(xs.concat(w));
          expect(tf.memory().numTensors).toBe(before);
        });
      }
    }

    it('memoryLeanBatchNorm reports the batch statistics once and holds fewer tensors on the tape', async () => {
      await tf.setBackend(backend);
      const x = tf.randomNormal([4, 3, 3, 5], 2, 3, 'float32', 21);
      const gamma = tf.ones([5]) as tf.Tensor1D;
      const beta = tf.zeros([5]) as tf.Tensor1D;
      const seen: number[][] = [];
      tf.tidy(() => {
        memoryLeanBatchNorm(x, { onBatchStats: (m, v) => { seen.push(Array.from(m.dataSync()), Array.from(v.dataSync())); } });
      });
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      expect(seen.length).toBe(2);
      expect(maxRelErr(mean.dataSync(), seen[0]!)).toBeLessThan(1e-5);
      expect(maxRelErr(variance.dataSync(), seen[1]!)).toBeLessThan(1e-5);
      // tensors alive at the end of the forward pass inside a gradient computation
      const held = (f: (t: tf.Tensor) => tf.Tensor) => {
        let n = 0;
        const start = tf.memory().numTensors;
        tf.tidy(() => tf.grad((t: tf.Tensor) => {
          const y = tf.sum(memoryLeanSwish(f(t)));
          n = tf.memory().numTensors - start;
          return y;
        })(x));
        return n;
      };
      const lean = held((t) => memoryLeanBatchNorm(t, { gamma, beta }));
      const plain = held((t) => plainBatchNorm(t, gamma, beta));
      expect(lean).toBeLessThan(plain);
      tf.dispose([x, gamma, beta, mean, variance]);
    });
  });
}
