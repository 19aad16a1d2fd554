// The native training ops on tfjs-node give the values and gradients of the plain formulas under tfjs autodiff, and
// step aside (null) on other backends: nativeTrainingBatchNorm (TensorFlow's fused training batch norm; also the batch
// statistics) and nativeSwish (keeps y and sigmoid(x)).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients (the reference formula needs them)
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { nativeSwish, nativeTrainingBatchNorm } from '../../src/backends/native-training-ops.js';
import { KerasBatchNormalization } from '../../src/layers/index.js';
import { buildNeuroStageNet } from '../../src/models/index.js';
import { withTrainingGradients } from '../../src/backends/training-gradients.js';

// tfjs-node is an optional peer: present only after ../shared/tools/install-tfjs-node-from-wheel.sh
const hasTfjsNode = (() => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

function relL2(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < ref.length; i++) {
    d += (got[i]! - ref[i]!) ** 2;
    s += ref[i]! ** 2;
  }
  return Math.sqrt(d / Math.max(s, 1e-30));
}

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

describe('nativeTrainingBatchNorm', () => {
  it('returns null on a backend without TensorFlow kernels (cpu), creating no tensor', async () => {
    await tf.setBackend('cpu');
    const x = tf.ones([2, 3, 3, 4]);
    const before = tf.memory().numTensors;
    expect(nativeTrainingBatchNorm(x)).toBeNull();
    expect(nativeSwish(x)).toBeNull();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  describe.runIf(hasTfjsNode)('on tfjs-node', () => {
    const load = async () => {
      const tfjsNode = '@tensorflow/tfjs-node'; // optional peer, absent on CI: a name tsc does not resolve
      await import(/* @vite-ignore */ tfjsNode);
      expect(await tf.setBackend('tensorflow')).toBe(true);
    };

    for (const [label, shape] of [['[N,H,W,C]', [4, 6, 5, 8]], ['[N,C]', [9, 12]]] as const) {
      for (const affine of ['gamma+beta', 'gamma', 'none'] as const) {
        it(`${label} ${affine}: values, gradients and batch statistics equal the moments formula`, async () => {
          await load();
          const before = tf.memory().numTensors;
          const c = shape[shape.length - 1]!;
          const x = tf.randomNormal([...shape], 3, 2, 'float32', 11);
          const w = tf.randomNormal([...shape], 0, 1, 'float32', 12);
          const gamma = affine !== 'none' ? tf.randomNormal([c], 1, 0.5, 'float32', 13) as tf.Tensor1D : undefined;
          const beta = affine === 'gamma+beta' ? tf.randomNormal([c], 0, 0.5, 'float32', 14) as tf.Tensor1D : undefined;
          const xs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
          const unpack = (ys: tf.Tensor[]) => ({ g: gamma ? ys[1] as tf.Tensor1D : undefined,
            b: beta ? ys[gamma ? 2 : 1] as tf.Tensor1D : undefined });
          const stats: Array<{ mean: Float32Array; variance: Float32Array }> = [];
          const ref = valueAndGrads((...ys) => plainBatchNorm(ys[0]!, unpack(ys).g, unpack(ys).b), xs, w);
          const got = valueAndGrads((...ys) => {
            const y = nativeTrainingBatchNorm(ys[0]!, { gamma: unpack(ys).g, beta: unpack(ys).b,
              onBatchStats: (m, v) => stats.push({ mean: m.dataSync() as Float32Array, variance: v.dataSync() as Float32Array }) });
            expect(y).not.toBeNull();
            return y!;
          }, xs, w);
          expect(relL2(got.value, ref.value)).toBeLessThan(1e-5);
          expect(got.grads.length).toBe(xs.length);
          got.grads.forEach((g, i) => expect(relL2(g, ref.grads[i]!), `grad ${i}`).toBeLessThan(1e-5));
          // the hook gets the biased variance (Keras 3's moving-variance update), not TensorFlow's Bessel-corrected one
          const { mean, variance } = tf.tidy(() => {
            const m = tf.moments(x, Array.from({ length: x.rank - 1 }, (_, i) => i));
            return { mean: m.mean.dataSync().slice(), variance: m.variance.dataSync().slice() };
          });
          expect(stats.length).toBe(2); // one per forward pass: the value and the gradient pass
          expect(relL2(stats[0]!.mean, mean)).toBeLessThan(1e-5);
          expect(relL2(stats[0]!.variance, variance)).toBeLessThan(1e-5);
          tf.dispose(xs.concat(w));
          expect(tf.memory().numTensors).toBe(before);
          await tf.setBackend('cpu');
        });
      }
    }

    it('nativeSwish: x*sigmoid(x) in value and gradient, no tensor left', async () => {
      await load();
      const before = tf.memory().numTensors;
      const x = tf.randomNormal([2, 5, 4, 3], 0, 3, 'float32', 1);
      const w = tf.randomNormal([2, 5, 4, 3], 0, 1, 'float32', 2);
      const ref = valueAndGrads((t) => tf.mul(t, tf.sigmoid(t)), [x], w);
      const got = valueAndGrads((t) => nativeSwish(t)!, [x], w);
      expect(relL2(got.value, ref.value)).toBeLessThan(1e-6);
      expect(relL2(got.grads[0]!, ref.grads[0]!)).toBeLessThan(1e-6);
      tf.dispose([x, w]);
      expect(tf.memory().numTensors).toBe(before);
      await tf.setBackend('cpu');
    });

    it('KerasBatchNormalization trains on it: same output and moving statistics as on cpu', async () => {
      const run = async (backend: string) => {
        if (backend === 'tensorflow') await load(); else await tf.setBackend(backend);
        const layer = new KerasBatchNormalization({ momentum: 0.9 });
        const x = tf.randomNormal([6, 4, 4, 5], 2, 3, 'float32', 31);
        const y = layer.apply(x, { training: true }) as tf.Tensor;
        const out = { y: y.dataSync().slice(), weights: layer.getWeights().map((t) => t.dataSync().slice()) };
        tf.dispose([x, y]);
        layer.dispose();
        return out;
      };
      const cpu = await run('cpu');
      const native = await run('tensorflow');
      await tf.setBackend('cpu');
      expect(relL2(native.y, cpu.y)).toBeLessThan(1e-5);
      // gamma, beta, moving_mean, moving_variance after one training call
      native.weights.forEach((w, i) => expect(relL2(w, cpu.weights[i]!), `weight ${i}`).toBeLessThan(1e-5));
      expect(Math.max(...cpu.weights[2]!)).toBeGreaterThan(0.05); // the moving mean moved
    });

    it('a whole NeuroStageNet training step (all layers) gives the cpu backend\'s loss, gradients and moving statistics', async () => {
      const step = async (backend: string) => {
        if (backend === 'tensorflow') await load(); else await tf.setBackend(backend);
        const model = await buildNeuroStageNet({ inputShape: [32, 32, 1], fineTuneAt: null, seed: 3 });
        const x = tf.randomUniform([4, 32, 32, 1], 0, 255, 'float32', 5);
        const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 4);
        const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
        const { value, grads } = withTrainingGradients(() => tf.variableGrads(() => {
          const p = model.apply(x, { training: true }) as tf.Tensor;
          return tf.mean(tf.neg(tf.sum(tf.mul(y, tf.log(tf.add(p, 1e-7))), -1))) as tf.Scalar;
        }, vars));
        const out = {
          loss: value.dataSync()[0]!,
          grads: vars.map((v) => grads[v.name]!.dataSync().slice()),
          moving: model.weights.filter((w) => /moving_(mean|variance)/.test(w.name)).map((w) => w.read().dataSync().slice()),
        };
        tf.dispose([x, y, value, ...Object.values(grads)]);
        model.dispose();
        return out;
      };
      const cpu = await step('cpu');
      const native = await step('tensorflow');
      await tf.setBackend('cpu');
      expect(Math.abs(native.loss - cpu.loss) / cpu.loss).toBeLessThan(1e-5);
      expect(native.grads.length).toBe(cpu.grads.length);
      expect(cpu.moving.length).toBeGreaterThan(90); // 49 backbone + head batch norms, mean and variance each
      const worstGrad = Math.max(...native.grads.map((g, i) => relL2(g, cpu.grads[i]!)));
      const worstMoving = Math.max(...native.moving.map((m, i) => relL2(m, cpu.moving[i]!)));
      console.log(`native vs cpu, one all-layer step: worst gradient rel L2 ${worstGrad.toExponential(2)}, moving statistics ${worstMoving.toExponential(2)}`);
      expect(worstGrad).toBeLessThan(1e-3);
      expect(worstMoving).toBeLessThan(1e-5);
    }, 120_000);
  });
});
