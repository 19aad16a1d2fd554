/**
 * One backend's measurements, run in its own process by bench/bench.ts (so peak RSS is per backend, the
 * wasm heap starts empty, and backends never share a process):
 *
 *   tsx bench/lib/backend-worker.ts --options='<ChildOptions JSON>' --out=/tmp/result.json
 *
 * Writes a BackendResult JSON to --out. Every figure is the median of `steps` timed steps after `warmup`
 * untimed ones. A figure whose full run would exceed `budgetS` seconds (the pure-JS cpu backend trains at
 * ~0.03 img/s: one batch-32 step takes ~20 min) is first probed with one or two small-batch steps, then
 * either timed with fewer steps ('reduced') or reported as an estimate ('too-slow'), always with a note.
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { median, parseArgs, peakRssMiB, timeSteps } from './stats.js';
import type { BackendFigures, BackendResult, ChildOptions, Figure } from './types.js';

const t0 = performance.now();

/** A step factory: the returned function runs one step at the given batch (inputs made beforehand). */
type StepFactory = (batch: number) => { run: () => Promise<void> | void; dispose: () => void };

function fmtDuration(s: number): string {
  if (s < 120) return `${s.toFixed(0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(0)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/**
 * Times `factory` at `batch` within the time budget. Steps that are obviously cheap (a first probe step
 * at a small batch, extrapolated linearly in the batch, fits the budget) run in full; otherwise the
 * figure is reduced or estimated, and says so.
 */
async function measure(
  label: string,
  factory: StepFactory,
  batch: number,
  opts: { warmup: number; steps: number; budgetS: number; probeBatch: number },
): Promise<Figure> {
  const { warmup, steps, budgetS } = opts;
  const budgetMs = budgetS * 1000;
  let perStepMs = 0; // extrapolated batch-`batch` step time
  let probeNote = '';
  const probeBatch = Math.min(opts.probeBatch, batch);
  if (probeBatch < batch) {
    const probe = factory(probeBatch);
    try {
      const [first] = await timeSteps(probe.run, 0, 1);
      let probeMs = first!;
      // The first step includes one-off costs (kernel setup, first allocation); re-probe unless it already
      // shows the full run is cheap or a second probe would itself be too expensive.
      if ((probeMs * batch) / probeBatch * (warmup + steps) > budgetMs && probeMs < budgetMs / 4) {
        const [second] = await timeSteps(probe.run, 0, 1);
        probeMs = second!;
        probeNote = `probe: 2 steps at batch ${probeBatch}, 2nd ${probeMs.toFixed(0)} ms`;
      } else {
        probeNote = `probe: 1 step at batch ${probeBatch}, ${probeMs.toFixed(0)} ms (incl. first-call costs)`;
      }
      perStepMs = (probeMs * batch) / probeBatch;
    } finally {
      probe.dispose();
    }
  }
  const full = (warmup + steps) * perStepMs;
  if (full <= budgetMs) {
    const step = factory(batch);
    try {
      const times = await timeSteps(step.run, warmup, steps);
      const med = median(times);
      return { status: 'measured', imgPerS: (batch * 1000) / med, medianMs: med, batch, steps, warmup, timesMs: times };
    } finally {
      step.dispose();
    }
  }
  // Too slow for the requested steps by the (linear, usually pessimistic) extrapolation: run one real step at
  // the full batch as warm-up, then as many timed steps as the rest of the budget allows by its actual time.
  if (perStepMs <= budgetMs) {
    const step = factory(batch);
    try {
      const [first] = await timeSteps(step.run, 0, 1);
      const firstMs = first!;
      const left = Math.floor((budgetMs - firstMs) / firstMs); // further steps that fit
      // The first step was warm-up 1; the other requested warm-ups only if all timed steps still fit.
      const extraWarmup = left >= warmup - 1 + steps ? Math.max(0, warmup - 1) : 0;
      const w = 1 + extraWarmup;
      const n = Math.min(steps, left - extraWarmup);
      if (n >= 1) {
        const times = await timeSteps(step.run, extraWarmup, n);
        const med = median(times);
        const fullMs = (warmup + steps) * med;
        const status = n >= steps && w >= warmup ? 'measured' : 'reduced';
        return {
          status, imgPerS: (batch * 1000) / med, medianMs: med, batch, steps: n, warmup: w, timesMs: times,
          note: status === 'measured' ? undefined : `${label}: ${n} timed step(s) after ${w} warm-up instead of ${steps} after ${warmup}: the full `
            + `run would take ~${fmtDuration(fullMs / 1000)} (budget ${budgetS} s; ${probeNote}; first batch-${batch} step ${firstMs.toFixed(0)} ms)`,
        };
      }
      return {
        status: 'reduced', imgPerS: (batch * 1000) / firstMs, medianMs: firstMs, batch, steps: 1, warmup: 0, timesMs: [firstMs],
        note: `${label}: a single untimed-warm-up step only (${firstMs.toFixed(0)} ms, includes first-call costs): `
          + `${warmup}+${steps} steps would take ~${fmtDuration(((warmup + steps) * firstMs) / 1000)} (budget ${budgetS} s; ${probeNote})`,
      };
    } finally {
      step.dispose();
    }
  }
  return {
    status: 'too-slow', imgPerS: (batch * 1000) / perStepMs, medianMs: perStepMs, batch: probeBatch, steps: 0, warmup: 0,
    note: `${label}: too slow: est ${((batch * 1000) / perStepMs).toPrecision(2)} img/s, ~${fmtDuration(perStepMs / 1000)} per `
      + `batch-${batch} step, ${warmup}+${steps} steps would take ~${fmtDuration(full / 1000)} (budget ${budgetS} s; ${probeNote})`,
  };
}

function inputs(batch: number, size: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const x = tf.randomUniform([batch, size, size, 1], 0, 255, 'float32', seed) as tf.Tensor4D;
    const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => (i * 7 + seed) % 4), 'int32');
    return { x, y: tf.oneHot(labels, 4) as tf.Tensor2D };
  });
}

function unavailable(batch: number, note: string): Figure {
  return { status: 'unavailable', batch, steps: 0, warmup: 0, note };
}

function failed(batch: number, label: string, e: unknown): Figure {
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return { status: 'error', batch, steps: 0, warmup: 0, note: `${label} failed: ${msg}` };
}

async function guarded(label: string, batch: number, f: () => Promise<Figure>): Promise<Figure> {
  try {
    const r = await f();
    process.stderr.write(`[${label}] ${r.status}${r.imgPerS != null ? ` ${r.imgPerS.toFixed(3)} img/s` : ''}${r.note ? ` (${r.note})` : ''}\n`);
    return r;
  } catch (e) {
    process.stderr.write(`[${label}] error: ${e instanceof Error ? e.stack : String(e)}\n`);
    return failed(batch, label, e);
  }
}

function backendInfo(name: string): Record<string, string | number | boolean> {
  const info: Record<string, string | number | boolean> = { 'tfjs-core': tf.version_core };
  const b = tf.backend() as unknown as { binding?: { TF_Version?: string }; wasm?: unknown };
  if (name === 'tensorflow' && b.binding?.TF_Version) info.libtensorflow = b.binding.TF_Version;
  if (name === 'wasm') {
    info.simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    info.threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
  }
  return info;
}

function wasmHeapMiB(): number | undefined {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8 ? b.wasm.HEAPU8.buffer.byteLength / 2 ** 20 : undefined;
}

async function run(o: ChildOptions): Promise<BackendResult> {
  const { selectBackend } = await import('../../src/backends/select-backend.js');
  const backend = await selectBackend(o.backend);
  // trainOnBatch is asynchronous, so the trainer's per-step scoping cannot wrap it: the bench registers the cheaper
  // FusedBatchNorm, Mean and Sum gradients for the whole process, which measures what trainNeuroStageNet's steps run.
  (await import('../../src/backends/training-gradients.js')).registerTrainingGradients();
  const startTensors = tf.memory().numTensors;
  const models = await import('../../src/models/index.js').catch((e: unknown) => {
    throw new Error(`src/models is not importable (${e instanceof Error ? e.message : String(e)}); nothing to measure`);
  });
  const { compileNeuroStageNet } = await import('../../src/train/compile.js');
  const explain = await import('../../src/explain/index.js').catch(() => null);

  const build = async (fineTune: boolean): Promise<tfl.LayersModel> => {
    // No backbone weights (offline): weights are random, which does not change the speed.
    const model = await models.buildNeuroStageNet({ inputShape: [o.size, o.size, 1], fineTuneAt: fineTune ? models.DEFAULT_FINE_TUNE_AT : null });
    return compileNeuroStageNet(model);
  };
  const probeBatch = 2;
  const common = { warmup: o.warmup, budgetS: o.budgetS, probeBatch };
  // Training probes at batch 1: on the cpu backend one batch-2 training step alone takes minutes.
  const trainCommon = { ...common, probeBatch: 1 };

  const ft = await build(true);
  const predictFactory = (model: tfl.LayersModel): StepFactory => (batch) => {
    const { x, y } = inputs(batch, o.size, 11);
    y.dispose();
    return {
      // predict() in inference mode; data() waits for the result (and is what a caller does next).
      run: async () => {
        const out = model.predict(x) as tf.Tensor;
        await out.data();
        out.dispose();
      },
      dispose: () => x.dispose(),
    };
  };
  const inferFactory = predictFactory(ft);
  const explainFactory = (cam: { explain(x: tf.Tensor4D): Promise<unknown> }): StepFactory => (batch) => {
    const { x, y } = inputs(batch, o.size, 12);
    y.dispose();
    return { run: async () => void (await cam.explain(x as tf.Tensor4D)), dispose: () => x.dispose() };
  };
  const inferB1 = await guarded(`${backend} infer b1`, 1, () => measure('infer b1', inferFactory, 1, { ...common, steps: o.inferSteps }));
  const inferBatch = await guarded(`${backend} infer b${o.batch}`, o.batch, () =>
    measure(`infer b${o.batch}`, inferFactory, o.batch, { ...common, steps: o.steps }));

  let gradcamB1: Figure;
  let gradcamBatch: Figure;
  if (explain?.GradCAM == null) {
    gradcamB1 = unavailable(1, 'src/explain exports no GradCAM');
    gradcamBatch = unavailable(o.batch, 'src/explain exports no GradCAM');
  } else {
    const cam = new explain.GradCAM(ft);
    const camFactory = explainFactory(cam);
    gradcamB1 = await guarded(`${backend} gradcam b1 (${cam.layerName})`, 1, () => measure('Grad-CAM b1', camFactory, 1, { ...common, steps: o.inferSteps }));
    gradcamBatch = await guarded(`${backend} gradcam b${o.batch}`, o.batch, () =>
      measure(`Grad-CAM b${o.batch}`, camFactory, o.batch, { ...common, steps: o.steps }));
  }

  // The inference copy (batch normalizations folded, dropout removed): what predict, evaluate and the page run.
  let optimized: BackendFigures['optimized'];
  if (typeof models.optimizeForInference === 'function') {
    const { model: fast, report } = await models.optimizeForInference(ft);
    const fastFactory = predictFactory(fast);
    const o1 = await guarded(`${backend} optimized infer b1`, 1, () => measure('optimized infer b1', fastFactory, 1, { ...common, steps: o.inferSteps }));
    const ob = await guarded(`${backend} optimized infer b${o.batch}`, o.batch, () => measure(`optimized infer b${o.batch}`, fastFactory, o.batch, { ...common, steps: o.steps }));
    let g1 = unavailable(1, 'src/explain exports no GradCAM');
    let gb = unavailable(o.batch, 'src/explain exports no GradCAM');
    if (explain?.GradCAM != null) {
      const camFactory = explainFactory(new explain.GradCAM(fast));
      g1 = await guarded(`${backend} optimized gradcam b1`, 1, () => measure('optimized Grad-CAM b1', camFactory, 1, { ...common, steps: o.inferSteps }));
      gb = await guarded(`${backend} optimized gradcam b${o.batch}`, o.batch, () => measure(`optimized Grad-CAM b${o.batch}`, camFactory, o.batch, { ...common, steps: o.steps }));
    }
    disposeModel(fast);
    optimized = { inferB1: o1, inferBatch: ob, gradcamB1: g1, gradcamBatch: gb, folded: report.folded.length };
  }

  const { holdKerasFreezing } = await import('../../src/layers/freezing.js');
  const trainFactory = (model: tfl.LayersModel): StepFactory => (batch) => {
    const { x, y } = inputs(batch, o.size, 13);
    // as trainNeuroStageNet does for a run: frozen layers held frozen (BN in inference mode, no filter gradients)
    const release = holdKerasFreezing(model);
    return {
      // trainOnBatch resolves after reading the loss back: the step is complete when it returns.
      run: async () => void (await model.trainOnBatch(x, y)),
      dispose: () => {
        release();
        tf.dispose([x, y]);
      },
    };
  };
  const params = { fineTune: models.countParams(ft).trainable, all: 0 };
  const skipped = (label: string) => unavailable(o.batch, `${label}: skipped (--no-train)`);
  const trainFineTune = o.noTrain ? skipped('train fine-tune') : await guarded(`${backend} train fine-tune b${o.batch}`, o.batch, () =>
    measure('train fine-tune-from-150', trainFactory(ft), o.batch, { ...trainCommon, steps: o.steps }));

  // After a failure (e.g. wasm aborting when its heap is full) the backend may be unusable: report what was
  // measured and mark the rest as failed instead of losing every figure.
  let trainAll: Figure;
  if (o.noTrain) {
    trainAll = skipped('train all');
    disposeModel(ft); // the training branch disposes it otherwise: the tensor delta counts leaks, not this model
  } else {
    trainAll = await guarded(`${backend} train all b${o.batch}`, o.batch, async () => {
      disposeModel(ft);
      const all = await build(false);
      params.all = models.countParams(all).trainable;
      try {
        return await measure('train all-trainable', trainFactory(all), o.batch, { ...trainCommon, steps: o.steps });
      } finally {
        disposeModel(all);
      }
    });
  }

  const figures: BackendFigures = { inferB1, inferBatch, trainFineTune, trainAll, gradcamB1, gradcamBatch, optimized };
  return {
    backend,
    ok: true,
    info: backendInfo(backend),
    figures,
    peakRssMiB: peakRssMiB(),
    wasmHeapMiB: safe(wasmHeapMiB),
    tensorDelta: safe(() => tf.memory().numTensors - startTensors),
    trainableParams: params,
    seconds: (performance.now() - t0) / 1000,
  };
}

// A value for the report, or undefined when the backend can no longer answer (after an abort).
function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

// Disposes a compiled model's weights and its optimizer's slots (model.dispose() leaves the optimizer).
function disposeModel(model: tfl.LayersModel): void {
  const optimizer = (model as unknown as { optimizer?: tf.Optimizer }).optimizer;
  model.dispose();
  optimizer?.dispose();
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const out = args.get('out');
  const raw = args.get('options');
  if (out == null || raw == null) throw new Error('usage: backend-worker.ts --options=<json> --out=<file>');
  const o = JSON.parse(raw) as ChildOptions;
  let result: BackendResult;
  try {
    result = await run(o);
  } catch (e) {
    result = {
      backend: o.backend, ok: false, error: e instanceof Error ? e.message : String(e), info: {},
      peakRssMiB: peakRssMiB(), seconds: (performance.now() - t0) / 1000,
    };
  }
  writeFileSync(out, JSON.stringify(result, null, 1));
}

await main();
