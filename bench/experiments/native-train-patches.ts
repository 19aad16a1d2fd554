/**
 * Experiment (not product code): how much faster does a NeuroStageNet step get with each proposed change?
 * The changes belong to src/layers, src/backbones (model helper) and src/backends (backends helper); here
 * they are applied as run-time patches on one model, so baseline and patched steps alternate in the same
 * process (A, B, A, B, ...) and share every condition, including the machine's load.
 *
 *   npx tsx bench/experiments/native-train-patches.ts --patch=swish --mode=train-all
 *   npx tsx bench/experiments/native-train-patches.ts --patch=all --mode=train-ft --steps=5
 *   npx tsx bench/experiments/native-train-patches.ts --patch=swish --mode=infer --batch=1 --steps=20
 *   npx tsx bench/experiments/native-train-patches.ts --check      # patched vs baseline gradients, small input
 *
 * Patches (comma list, or all):
 *   swish       swish as one tf.customGrad op: forward sigmoid + mul (tfjs-layers' Swish also multiplies
 *               x by alpha = 1 first), backward dy * (s + y * (1 - s)) (4 ops instead of 7)
 *   bn          KerasBatchNormalization training branch: y = (x - mean) * (gamma * rsqrt(var + eps)) + beta
 *               with an analytic customGrad backward (dx = scale * (dy - mean(dy) - x̂ * mean(dy * x̂)))
 *               instead of autodiff through tf.moments
 *   reduce-grad Mean and Sum gradients via broadcastTo (one full-size op) instead of ones() * dy / n (three)
 *   bn-fold-bound  (inference, upper bound only: numerically wrong) inference-mode BN skipped, as if folded
 *               into the preceding conv's kernel and bias
 *   frozen-conv frozen Conv2D layers use tf.conv2d (+ bias add) instead of tf.fused.conv2d, whose custom
 *               gradient always computes the filter (and bias) gradient, even for frozen weights
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { selectBackend } from '../../src/index.js';
import { KerasBatchNormalization } from '../../src/layers/index.js';
import { buildNeuroStageNet, DEFAULT_FINE_TUNE_AT } from '../../src/models/index.js';
import { compileNeuroStageNet } from '../../src/train/compile.js';
import { median, parseArgs } from '../lib/stats.js';

const args = parseArgs(process.argv.slice(2));
const ALL = ['swish', 'bn', 'reduce-grad', 'frozen-conv', 'bn-fold-bound'];
const patches = (args.get('patch') ?? 'all') === 'all' ? ALL.filter((p) => p !== 'bn-fold-bound') : args.get('patch')!.split(',');
for (const p of patches) if (!ALL.includes(p)) throw new Error(`unknown patch '${p}' (known: ${ALL.join(', ')})`);
let enabled = false; // the patches consult this flag at call time, so A and B share one model

// ---- swish -------------------------------------------------------------------------------------------
const fastSwish = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const s = tf.sigmoid(x);
  const y = tf.mul(x, s);
  save([s, y]);
  // d/dx x·σ(x) = σ + x·σ·(1 − σ) = s + y·(1 − s)
  return { value: y, gradFunc: (dy: tf.Tensor, [s2, y2]: tf.Tensor[]) => tf.mul(dy, tf.add(s2!, tf.mul(y2!, tf.sub(1, s2!)))) };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

type AnyLayer = tfl.layers.Layer & Record<string, unknown>;
function allLayers(model: tfl.LayersModel): AnyLayer[] {
  return model.layers.flatMap((l) => (l instanceof tfl.LayersModel ? allLayers(l) : [l as AnyLayer]));
}

function patchSwish(model: tfl.LayersModel): number {
  let n = 0;
  for (const layer of allLayers(model)) {
    const act = layer.activation as { getClassName?: () => string; apply: (x: tf.Tensor) => tf.Tensor } | undefined;
    if (act?.getClassName?.() !== 'swish') continue;
    const orig = act.apply.bind(act);
    act.apply = (x: tf.Tensor) => (enabled ? fastSwish(x) : orig(x));
    n++;
  }
  return n;
}

// ---- BN ----------------------------------------------------------------------------------------------
function patchBatchNorm(): void {
  const proto = KerasBatchNormalization.prototype as unknown as Record<string, unknown>;
  const orig = proto.call as (this: unknown, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor;
  proto.call = function (this: Record<string, any>, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    if (!enabled || kwargs?.training !== true || !this.isEffectivelyTrainable || this.gamma == null || this.beta == null) {
      return orig.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
      const n = x.size / x.shape[x.rank - 1]!;
      const eps = this.epsilon as number;
      // Batch statistics outside the custom op: their tape nodes feed only the moving averages (and, as
      // constants, the custom op), not the loss, so backprop prunes them; the custom gradient accounts for
      // x's effect through mean and variance.
      const mean = tf.mean(x, axes);
      const variance = tf.mean(tf.square(tf.sub(x, mean)), axes);
      const invStd = tf.rsqrt(tf.add(variance, eps));
      const bn = tf.customGrad(((xIn: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
        const centered = tf.sub(xIn, mean);
        const scale = tf.mul(gamma, invStd);
        const y = tf.add(tf.mul(centered, scale), beta);
        save([centered, invStd, scale]); // saved tensors outlive this tidy (customGrad keeps them for backprop)
        return {
          value: y,
          gradFunc: (dy: tf.Tensor, [c, inv, sc]: tf.Tensor[]) => {
            const xhat = tf.mul(c!, inv!);
            const dBeta = tf.sum(dy, axes);
            const dGamma = tf.sum(tf.mul(dy, xhat), axes);
            // dx = scale · (dy − dBeta/n − x̂ · dGamma/n)
            const dx = tf.mul(tf.sub(tf.sub(dy, tf.div(dBeta, n)), tf.mul(xhat, tf.div(dGamma, n))), sc!);
            return [dx, dGamma, dBeta];
          },
        };
      }) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor;
      const y = bn(x, this.gamma.read(), this.beta.read());
      const m = this.momentum as number;
      for (const [v, batch] of [[this.movingMean, mean], [this.movingVariance, variance]] as const) {
        tf.tidy(() => v.write(tf.add(tf.mul(v.read(), m), tf.mul(batch, 1 - m))));
      }
      return y;
    });
  };
}

// ---- Mean / Sum gradients ----------------------------------------------------------------------------
const origMeanGrad = tf.getGradient('Mean')!;
const origSumGrad = tf.getGradient('Sum')!;
function reduceGrad(kind: 'Mean' | 'Sum'): tf.GradConfig {
  return {
    kernelName: kind,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as tf.Tensor[];
      const axes = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x!.shape);
      const keep = x!.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const n = axes.reduce((p, a) => p * x!.shape[a]!, 1);
      const small = tf.reshape(dy as tf.Tensor, keep);
      return { x: () => tf.broadcastTo(kind === 'Mean' ? tf.div(small, n) : small, x!.shape) };
    },
  };
}
function setReduceGrads(on: boolean): void {
  tf.registerGradient(on ? reduceGrad('Mean') : origMeanGrad);
  tf.registerGradient(on ? reduceGrad('Sum') : origSumGrad);
}

// ---- frozen convs ------------------------------------------------------------------------------------
function patchFrozenConvs(model: tfl.LayersModel): number {
  let n = 0;
  for (const layer of allLayers(model)) {
    if (layer.getClassName() !== 'Conv2D') continue;
    const kernel = layer.kernel as tfl.LayerVariable;
    const orig = (layer.call as (...a: unknown[]) => tf.Tensor).bind(layer);
    layer.call = ((inputs: tf.Tensor | tf.Tensor[], kwargs: unknown) => {
      if (!enabled || kernel.trainable) return orig(inputs, kwargs);
      return tf.tidy(() => {
        const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
        let y: tf.Tensor = tf.conv2d(x, kernel.read() as tf.Tensor4D, layer.strides as [number, number], layer.padding as 'same' | 'valid', 'NHWC',
          layer.dilationRate as [number, number]);
        if (layer.useBias) y = tf.add(y, (layer.bias as tfl.LayerVariable).read());
        const act = layer.activation as { apply: (t: tf.Tensor) => tf.Tensor } | null;
        return act ? act.apply(y) : y;
      });
    }) as typeof layer.call;
    n++;
  }
  return n;
}

function setEnabled(on: boolean): void {
  enabled = on;
  if (patches.includes('reduce-grad')) setReduceGrads(on);
}

async function main(): Promise<void> {
  const backend = await selectBackend(args.get('backend') ?? 'tensorflow');
  const mode = args.get('mode') ?? 'train-ft';
  const check = args.get('check') === 'true';
  const size = Number(args.get('size') ?? (check ? 64 : 128));
  const batch = Number(args.get('batch') ?? (check ? 4 : 32));
  const steps = Number(args.get('steps') ?? 5);
  if (patches.includes('bn')) patchBatchNorm();
  if (patches.includes('bn-fold-bound')) {
    const proto = KerasBatchNormalization.prototype as unknown as Record<string, unknown>;
    const orig = proto.call as (this: unknown, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor;
    proto.call = function (this: unknown, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
      if (!enabled || kwargs?.training === true) return orig.call(this, inputs, kwargs);
      return tf.clone(Array.isArray(inputs) ? inputs[0]! : inputs);
    };
  }
  const model = await buildNeuroStageNet({ inputShape: [size, size, 1], fineTuneAt: mode === 'train-all' ? null : DEFAULT_FINE_TUNE_AT });
  const swishCount = patches.includes('swish') ? patchSwish(model) : 0;
  const frozenCount = patches.includes('frozen-conv') ? patchFrozenConvs(model) : 0;
  compileNeuroStageNet(model);
  const x = tf.randomUniform([batch, size, size, 1], 0, 255, 'float32', 5);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 4), 'int32'), 4);
  console.log(`backend ${backend}, ${mode}, batch ${batch}, ${size}x${size}, patches ${patches.join('+')} (swish layers ${swishCount}, conv layers wrapped ${frozenCount})`);

  if (check) {
    // Each patch against the code it replaces, on small random tensors: d(Σ w·f(x))/d(inputs).
    const rel = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / (tf.max(tf.abs(a)).dataSync()[0]! + 1e-12));
    const xs = tf.randomNormal([4, 6, 6, 8], 0, 2, 'float32', 7);
    const w = tf.randomNormal([4, 6, 6, 8], 0, 1, 'float32', 8); // weights of the BN (γ, β) check's loss
    const report = (name: string, f: (x: tf.Tensor) => tf.Tensor) => {
      const g = (on: boolean) => {
        setEnabled(on);
        return tf.grad((t: tf.Tensor) => {
          const out = f(t);
          return tf.sum(tf.mul(out, tf.randomNormal(out.shape, 0, 1, 'float32', 8)));
        })(xs);
      };
      setEnabled(false);
      const ya = f(xs);
      const ga = g(false);
      setEnabled(true);
      const yb = f(xs);
      const gb = g(true);
      console.log(`${name.padEnd(12)} forward rel diff ${rel(ya, yb).toExponential(1)}, gradient rel diff ${rel(ga, gb).toExponential(1)}`);
    };
    if (patches.includes('swish')) {
      const act = tfl.layers.activation({ activation: 'swish' });
      const swishModel = tfl.sequential({ layers: [tfl.layers.inputLayer({ inputShape: [6, 6, 8] }), act] });
      patchSwish(swishModel);
      report('swish', (t) => act.apply(t) as tf.Tensor);
    }
    if (patches.includes('bn')) {
      const layer = new KerasBatchNormalization({ name: 'bn_check' });
      layer.apply(xs); // builds
      layer.setWeights([tf.randomNormal([8], 1, 0.3, 'float32', 9), tf.randomNormal([8], 0, 0.3, 'float32', 10), tf.zeros([8]), tf.ones([8])]);
      report('bn (x)', (t) => layer.apply(t, { training: true }) as tf.Tensor);
      const gammaBeta = (on: boolean) => {
        setEnabled(on);
        const vs = layer.trainableWeights.map((v) => v.read() as tf.Variable);
        const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(xs, { training: true }) as tf.Tensor, w)) as tf.Scalar, vs);
        return vs.map((v) => grads[v.name]!);
      };
      const [a, b] = [gammaBeta(false), gammaBeta(true)];
      console.log(`bn (γ, β)    gradient rel diff ${a.map((t, i) => rel(t, b[i]!).toExponential(1)).join(', ')}`);
    }
    if (patches.includes('reduce-grad')) {
      report('mean grad', (t) => tf.mean(t, [1, 2]));
      report('sum grad', (t) => tf.sum(t, [1, 2], true));
    }
    if (patches.includes('frozen-conv')) {
      const conv = tfl.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', trainable: false, activation: 'swish' });
      const m = tfl.sequential({ layers: [tfl.layers.inputLayer({ inputShape: [6, 6, 8] }), conv] });
      patchFrozenConvs(m);
      report('frozen conv', (t) => conv.apply(t) as tf.Tensor);
    }
    return;
  }

  const step = mode === 'infer'
    ? async () => {
      const out = model.predict(x) as tf.Tensor;
      await out.data();
      out.dispose();
    }
    : async () => void (await model.trainOnBatch(x, y));
  // warm-up both variants (first calls allocate and set up kernels)
  for (const on of [false, true, false, true]) {
    setEnabled(on);
    await step();
  }
  const times: Record<'base' | 'patched', number[]> = { base: [], patched: [] };
  for (let i = 0; i < steps; i++) {
    for (const on of i % 2 === 0 ? [false, true] : [true, false]) {
      setEnabled(on);
      const t0 = performance.now();
      await step();
      times[on ? 'patched' : 'base'].push(performance.now() - t0);
    }
  }
  const mb = median(times.base);
  const mp = median(times.patched);
  console.log(`baseline ${mb.toFixed(0)} ms/step (${((batch * 1000) / mb).toFixed(2)} img/s) [${times.base.map((t) => t.toFixed(0)).join(', ')}]`);
  console.log(`patched  ${mp.toFixed(0)} ms/step (${((batch * 1000) / mp).toFixed(2)} img/s) [${times.patched.map((t) => t.toFixed(0)).join(', ')}]`);
  console.log(`gain: ${((100 * (mb - mp)) / mb).toFixed(1)}% less time per step (x${(mb / mp).toFixed(2)} img/s)`);
}

await main();
