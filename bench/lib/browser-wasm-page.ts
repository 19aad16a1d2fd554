/**
 * The page bench/browser-wasm.ts loads in Chromium: NeuroStageNet (random weights, seeded) and its inference copy on
 * the wasm backend with `?threads=N`, timed at batch 1 and `?batch=B` (median of `?steps=` after `?warmup=`). The
 * result is left in `window.__bench` for the driver.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type * as tfl from '@tensorflow/tfjs-layers';
import { allowWasmThreads, buildNeuroStageNet, optimizeForInference } from '../../src/index.js';

setWasmPaths(new URL('./', import.meta.url).href);
const q = new URLSearchParams(location.search);
const num = (k: string, d: number) => Number(q.get(k) ?? d);

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

async function imagesPerSecond(model: tfl.LayersModel, batch: number, size: number, warmup: number, steps: number): Promise<number> {
  const x = tf.randomUniform([batch, size, size, 1], 0, 255, 'float32', 3);
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const y = model.predict(x) as tf.Tensor;
    await y.data();
    y.dispose();
    if (i >= warmup) times.push(performance.now() - t0);
  }
  x.dispose();
  return (batch * 1000) / median(times);
}

(async () => {
  const out: Record<string, unknown> = {};
  try {
    const threads = num('threads', 1);
    setThreadsCount(threads);
    const restore = allowWasmThreads(threads);
    try {
      await tf.setBackend('wasm');
      await tf.ready();
    } finally {
      restore();
    }
    const size = num('size', 128);
    const [warmup, steps, batch] = [num('warmup', 2), num('steps', 5), num('batch', 32)];
    out.threads = getThreadsCount();
    out.isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
    out.hardwareConcurrency = navigator.hardwareConcurrency;
    const model = await buildNeuroStageNet({ inputShape: [size, size, 1], seed: 1 });
    out.inferB1 = await imagesPerSecond(model, 1, size, warmup, steps * 2);
    out.inferBatch = await imagesPerSecond(model, batch, size, warmup, steps);
    const { model: fast } = await optimizeForInference(model);
    out.optimizedB1 = await imagesPerSecond(fast, 1, size, warmup, steps * 2);
    out.optimizedBatch = await imagesPerSecond(fast, batch, size, warmup, steps);
    fast.dispose();
    model.dispose();
  } catch (e) {
    out.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  }
  (window as unknown as { __bench: unknown }).__bench = out;
})();
