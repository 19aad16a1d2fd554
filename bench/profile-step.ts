/**
 * Where does a NeuroStageNet training step spend its time on a tfjs backend, next to Keras?
 *
 *   npx tsx bench/profile-step.ts                                   # tensorflow backend, fine-tune, batch 32
 *   npx tsx bench/profile-step.ts --mode=train-all --backend=wasm
 *   npx tsx bench/profile-step.ts --mode=gradcam                   # GradCAM.explain of a batch (default layer)
 *   npx tsx bench/profile-step.ts --kernel=Conv2DBackpropInput      # + that kernel's time by shape
 *   npx tsx bench/profile-step.ts --keras=bench/results/keras-profile.json   # side by side with Keras
 *   npx tsx bench/profile-step.ts --json=/tmp/tfjs-profile.json
 *   npx tsx bench/profile-step.ts --trace=/tmp/step.tsv                     # every kernel in order, with shapes
 *
 * Measures the wall time of unprofiled steps (median of --steps after --warmup), then profiles one step
 * with tf.profile: each kernel's time (tfjs-node: wall time of the synchronous TFE_Execute call, so it
 * includes the binding's per-op cost), summed by kernel name and by category (bench/lib/kernel-
 * categories.ts). "Outside kernels" = wall − Σ kernels: JavaScript work of tfjs-layers, the engine and the
 * gradient tape. Also times an empty-ish op to give the fixed per-kernel dispatch cost.
 *
 * The Keras side comes from `python3 bench/keras_bench.py --phases=train_ft --profile-dir=DIR`, whose
 * JSON "profile" field has op time per op type from TensorFlow's profiler (XPlane); pass that JSON file.
 * TensorFlow runs independent ops on 2 threads at once, so its Σ ops can exceed its wall time.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { GradCAM, selectBackend } from '../src/index.js';
import { registerTrainingGradients } from '../src/kernels/index.js';
import { holdKerasFreezing } from '../src/layers/freezing.js';
import { buildNeuroStageNet, DEFAULT_FINE_TUNE_AT } from '../src/models/index.js';
import { compileNeuroStageNet } from '../src/train/compile.js';
import { kernelCategory } from './lib/kernel-categories.js';
import { median, parseArgs, timeSteps } from './lib/stats.js';

const args = parseArgs(process.argv.slice(2));
const backendName = args.get('backend') ?? 'tensorflow';
const mode = args.get('mode') ?? 'train-ft';
const batch = Number(args.get('batch') ?? 32);
const size = Number(args.get('size') ?? 128);
const warmup = Number(args.get('warmup') ?? 2);
const steps = Number(args.get('steps') ?? 3);
const top = Number(args.get('top') ?? 25);
if (!['train-ft', 'train-all', 'infer', 'gradcam'].includes(mode)) throw new Error(`--mode must be train-ft, train-all, infer or gradcam, got '${mode}'`);

interface Row { name: string; ms: number; calls: number }

function groupBy(entries: Array<{ name: string; ms: number }>, key: (name: string) => string): Row[] {
  const m = new Map<string, Row>();
  for (const e of entries) {
    const k = key(e.name);
    const r = m.get(k) ?? { name: k, ms: 0, calls: 0 };
    r.ms += e.ms;
    r.calls += 1;
    m.set(k, r);
  }
  return [...m.values()].sort((a, b) => b.ms - a.ms);
}

function printRows(title: string, rows: Row[], total: number, limit: number): void {
  console.log(`\n${title}`);
  console.log(`${'name'.padEnd(58)} ${'ms'.padStart(8)} ${'calls'.padStart(6)} ${'µs/call'.padStart(8)} ${'share'.padStart(6)}`);
  for (const r of rows.slice(0, limit)) {
    console.log(`${r.name.padEnd(58)} ${r.ms.toFixed(1).padStart(8)} ${String(r.calls).padStart(6)} ${((r.ms * 1000) / r.calls).toFixed(0).padStart(8)} ${((100 * r.ms) / total).toFixed(1).padStart(5)}%`);
  }
}

interface KerasProfile {
  wall_ms_per_step: number;
  op_ms_per_step_total: number;
  ops_per_step: number;
  by_op_type: Array<{ op: string; ms_per_step: number; calls_per_step: number }>;
}

async function main(): Promise<void> {
  const backend = await selectBackend(backendName);
  const training = mode.startsWith('train');
  // what trainNeuroStageNet's steps run (trainOnBatch is async: no per-step scope); Grad-CAM scopes its own
  if (training) registerTrainingGradients();
  const model = await buildNeuroStageNet({ inputShape: [size, size, 1], fineTuneAt: mode === 'train-all' ? null : DEFAULT_FINE_TUNE_AT });
  compileNeuroStageNet(model);
  // as trainNeuroStageNet does for a run: frozen layers held frozen (BN in inference mode, no filter gradients)
  const releaseFreezing = training ? holdKerasFreezing(model) : () => {};
  const cam = mode === 'gradcam' ? new GradCAM(model) : null;
  const x = tf.randomUniform([batch, size, size, 1], 0, 255, 'float32', 3) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 4), 'int32'), 4);
  const step = async (): Promise<void> => {
    if (mode === 'infer') {
      const out = model.predict(x) as tf.Tensor;
      await out.data();
      out.dispose();
    } else if (cam != null) {
      await cam.explain(x, { allowUnchecked: true });
    } else {
      await model.trainOnBatch(x, y);
    }
  };
  const times = await timeSteps(step, warmup, steps);
  const wall = median(times);

  // Fixed cost of one kernel call: a tiny elementwise op, so compute is negligible.
  const a = tf.ones([4]);
  const n = 2000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) tf.add(a, a).dispose();
  const perOpUs = ((performance.now() - t0) * 1000) / n;
  a.dispose();

  const info = await tf.profile(step);
  // Custom-gradient ops (tf.fused.*: "<name>__op"; tf.customGrad: the enclosing scope's name, often "unnamed
  // scope") appear around the kernels they run: keep registered kernels only, or inner kernels count twice.
  const entries = info.kernels.filter((k) => tf.getKernel(k.name, backend) != null).map((k) => ({
    name: k.name,
    ms: k.kernelTimeMs as number,
    shapes: `${JSON.stringify(k.inputShapes)} -> ${JSON.stringify(k.outputShapes)}`,
    // Optimizer / weight-sized work vs per-image activations: outputs whose first dim is the batch.
    onBatch: (k.outputShapes[0]?.length ?? 0) >= 2 && k.outputShapes[0]![0] === batch,
  }));
  const kernelMs = entries.reduce((s, e) => s + e.ms, 0);
  console.log(`backend ${backend}, ${mode}, batch ${batch}, ${size}x${size}: wall ${wall.toFixed(0)} ms/step (median of ${steps}: ${times.map((t) => t.toFixed(0)).join(', ')}), `
    + `${(batch * 1000 / wall).toFixed(2)} img/s`);
  console.log(`profiled step: ${entries.length} kernel calls, Σ kernels ${kernelMs.toFixed(0)} ms, outside kernels ~${(wall - kernelMs).toFixed(0)} ms `
    + `(${((100 * (wall - kernelMs)) / wall).toFixed(0)}% of wall); tiny-op cost ${perOpUs.toFixed(1)} µs -> ~${((entries.length * perOpUs) / 1000).toFixed(0)} ms/step `
    + `fixed per-kernel cost; peak ${(info.peakBytes / 2 ** 20).toFixed(0)} MiB`);
  const byName = groupBy(entries, (k) => k);
  const byCat = groupBy(entries, kernelCategory);
  printRows('by category', byCat, kernelMs, 99);
  printRows('by category x tensor kind (batch = activations, weights = parameter-sized, incl. Adam)',
    groupBy(entries.map((e) => ({ name: `${kernelCategory(e.name)} [${e.onBatch ? 'batch' : 'weights'}]`, ms: e.ms })), (k) => k), kernelMs, 12);
  printRows('by kernel', byName, kernelMs, top);
  const focus = args.get('kernel');
  if (focus != null) {
    const rows = groupBy(entries.filter((e) => e.name === focus).map((e) => ({ name: e.shapes, ms: e.ms })), (k) => k);
    printRows(`${focus} by shapes`, rows, kernelMs, top);
  }

  const kerasFile = args.get('keras');
  let keras: KerasProfile | null = null;
  if (kerasFile != null) {
    const raw = JSON.parse(readFileSync(kerasFile, 'utf8')) as { profile?: KerasProfile } & Partial<KerasProfile>;
    keras = raw.profile ?? (raw as KerasProfile);
    const kc = new Map<string, { ms: number; calls: number }>();
    for (const o of keras.by_op_type) {
      const c = kernelCategory(o.op);
      const r = kc.get(c) ?? { ms: 0, calls: 0 };
      r.ms += o.ms_per_step;
      r.calls += o.calls_per_step;
      kc.set(c, r);
    }
    console.log(`\nside by side (ms per step; Keras: TF profiler op time, 2 threads, Σ ${keras.op_ms_per_step_total.toFixed(0)} ms in ${keras.ops_per_step.toFixed(0)} ops, `
      + `wall ${keras.wall_ms_per_step.toFixed(0)} ms while profiled)`);
    console.log(`${'category'.padEnd(58)} ${'tfjs ms'.padStart(8)} ${'calls'.padStart(6)} ${'keras ms'.padStart(9)} ${'calls'.padStart(6)} ${'ratio'.padStart(6)}`);
    const cats = new Set([...byCat.map((r) => r.name), ...kc.keys()]);
    const rows = [...cats].map((c) => ({ c, t: byCat.find((r) => r.name === c), k: kc.get(c) }))
      .sort((p, q) => (q.t?.ms ?? 0) - (p.t?.ms ?? 0));
    for (const { c, t, k } of rows) {
      console.log(`${c.padEnd(58)} ${(t?.ms ?? 0).toFixed(0).padStart(8)} ${String(t?.calls ?? 0).padStart(6)} ${(k?.ms ?? 0).toFixed(0).padStart(9)} `
        + `${(k?.calls ?? 0).toFixed(0).padStart(6)} ${k && t ? (t.ms / k.ms).toFixed(1).padStart(6) : '     –'}`);
    }
  }

  const jsonOut = args.get('json');
  if (jsonOut != null) {
    writeFileSync(jsonOut, JSON.stringify({ backend, mode, batch, size, wallMs: wall, times, kernelMs, kernelCalls: entries.length, perOpUs, byCategory: byCat, byKernel: byName }, null, 1));
  }
  // Every kernel of the profiled step in order, with shapes: to find which layer's code runs which kernels.
  const traceOut = args.get('trace');
  if (traceOut != null) writeFileSync(traceOut, entries.map((e) => `${e.name}\t${e.ms.toFixed(3)}\t${e.shapes}`).join('\n') + '\n');
  tf.dispose([x, y]);
  releaseFreezing();
  model.dispose();
}

await main();
