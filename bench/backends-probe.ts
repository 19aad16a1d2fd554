/**
 * Quick probe (not a test): wasm training / inference speed and wasm heap high-water mark for a
 * NeuroStageNet-sized model. One configuration per process, because the wasm heap never shrinks and
 * SIMD is fixed when wasm initialises.
 *
 *   npx tsx bench/backends-probe.ts --mode=train --batch=32 --steps=3 --kernels=ours --bn=ours
 *   npx tsx bench/backends-probe.ts --mode=train --batch=16 --kernels=cpu-fallback --bn=core   # "before"
 *   --kernels=ours-wasm-dx: our kernels but wasm's own (C++ loop) Conv2DBackpropInput
 *   npx tsx bench/backends-probe.ts --mode=infer --batch=32 --steps=5 --simd=off
 *   npx tsx bench/backends-probe.ts --mode=train --profile          # kernel time table of one step
 *   --model=real: src/models' buildNeuroStageNet instead of the stand-in
 *   --lean: swish and batch norm as one-node custom-gradient ops saving only their input (memory experiment)
 *   add --backend=tensorflow|cpu to run the same model on another backend (ours only applies to wasm)
 *
 * Model: src/models' buildNeuroStageNet did not exist when this was written, so this builds a stand-in
 * with the same layer structure and shapes: gray->RGB 3x3 conv, EfficientNetB0 (stem 3x3/2, the 16
 * MBConv blocks with SE, top 1x1 conv to 1280), the residual SeparableConv SE block (256), GAP+GMP head,
 * Dense 1024/512, 4 logits. (Keras' Rescaling/Normalization and the stem's asymmetric zero padding are
 * left out: elementwise ops, same shapes.)
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { fusedBatchNormGradConfig } from '../src/backends/training-gradients.js';
import { memoryLeanBatchNorm, memoryLeanSwish, registerWasmGradientKernels, WASM_MISSING_GRADIENT_KERNELS } from '../src/kernels/index.js';
import { selectBackend } from '../src/index.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, '').split('=');
  return [k!, v ?? 'true'];
}));
const mode = args.mode ?? 'train';
const batch = Number(args.batch ?? 32);
const steps = Number(args.steps ?? 3);
const size = Number(args.size ?? 128);
const kernels = args.kernels ?? 'ours';
const bn = args.bn ?? 'ours';
const backendName = args.backend ?? 'wasm';

// --lean: src/backends' memoryLeanSwish / memoryLeanBatchNorm (one tape node each, keeping only the
// input) in place of tfjs-layers' swish and BatchNormalization; training-mode only (moving statistics
// are not kept): a memory/speed experiment for the model's layers.
class LeanSwish extends tfl.layers.Layer {
  static className = 'LeanSwish';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return memoryLeanSwish(Array.isArray(inputs) ? inputs[0]! : inputs);
  }
}

class LeanBatchNorm extends tfl.layers.Layer {
  static className = 'LeanBatchNorm';
  private gamma!: tfl.LayerVariable;
  private beta!: tfl.LayerVariable;
  override build(shape: tfl.Shape | tfl.Shape[]): void {
    const c = (shape as number[])[(shape as number[]).length - 1]!;
    this.gamma = this.addWeight('gamma', [c], 'float32', tfl.initializers.ones());
    this.beta = this.addWeight('beta', [c], 'float32', tfl.initializers.zeros());
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return memoryLeanBatchNorm(x, { gamma: this.gamma.read() as tf.Tensor1D, beta: this.beta.read() as tf.Tensor1D });
  }
}

const lean = args.lean === 'true';
const bnLayer = (name?: string) => (lean ? new LeanBatchNorm({ name }) : tfl.layers.batchNormalization({ name }));
const swishLayer = (): tfl.layers.Layer => (lean ? new LeanSwish({}) : tfl.layers.activation({ activation: 'swish' }));

function mbconv(x: tfl.SymbolicTensor, inC: number, outC: number, k: number, s: number, expand: number, name: string) {
  let y = x;
  const mid = inC * expand;
  if (expand !== 1) {
    y = tfl.layers.conv2d({ filters: mid, kernelSize: 1, useBias: false, name: `${name}_expand` }).apply(y) as tfl.SymbolicTensor;
    y = bnLayer(`${name}_expand_bn`).apply(y) as tfl.SymbolicTensor;
    y = swishLayer().apply(y) as tfl.SymbolicTensor;
  }
  y = tfl.layers.depthwiseConv2d({ kernelSize: k, strides: s, padding: 'same', useBias: false, name: `${name}_dw` }).apply(y) as tfl.SymbolicTensor;
  y = bnLayer(`${name}_bn`).apply(y) as tfl.SymbolicTensor;
  y = swishLayer().apply(y) as tfl.SymbolicTensor;
  const se = Math.max(1, Math.floor(inC * 0.25));
  let z = tfl.layers.globalAveragePooling2d({}).apply(y) as tfl.SymbolicTensor;
  z = tfl.layers.reshape({ targetShape: [1, 1, mid] }).apply(z) as tfl.SymbolicTensor;
  z = tfl.layers.conv2d({ filters: se, kernelSize: 1, activation: 'swish' }).apply(z) as tfl.SymbolicTensor;
  z = tfl.layers.conv2d({ filters: mid, kernelSize: 1, activation: 'sigmoid' }).apply(z) as tfl.SymbolicTensor;
  y = tfl.layers.multiply().apply([y, z]) as tfl.SymbolicTensor;
  y = tfl.layers.conv2d({ filters: outC, kernelSize: 1, useBias: false, name: `${name}_project` }).apply(y) as tfl.SymbolicTensor;
  y = bnLayer(`${name}_project_bn`).apply(y) as tfl.SymbolicTensor;
  if (s === 1 && inC === outC) y = tfl.layers.add().apply([y, x]) as tfl.SymbolicTensor;
  return y;
}

function buildStandIn(): tfl.LayersModel {
  const input = tfl.input({ shape: [size, size, 1] });
  let x = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'gray_to_rgb' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'stem' }).apply(x) as tfl.SymbolicTensor;
  x = bnLayer().apply(x) as tfl.SymbolicTensor;
  x = swishLayer().apply(x) as tfl.SymbolicTensor;
  const blocks: Array<[number, number, number, number, number, number]> = [
    [3, 1, 32, 16, 1, 1], [3, 2, 16, 24, 6, 2], [5, 2, 24, 40, 6, 2], [3, 3, 40, 80, 6, 2],
    [5, 3, 80, 112, 6, 1], [5, 4, 112, 192, 6, 2], [3, 1, 192, 320, 6, 1],
  ];
  blocks.forEach(([k, repeats, inC, outC, expand, s], b) => {
    for (let r = 0; r < repeats; r++) {
      x = mbconv(x, r === 0 ? inC : outC, outC, k, r === 0 ? s : 1, expand, `block${b + 1}${'abcd'[r]}`);
    }
  });
  x = tfl.layers.conv2d({ filters: 1280, kernelSize: 1, useBias: false, name: 'top_conv' }).apply(x) as tfl.SymbolicTensor;
  x = bnLayer().apply(x) as tfl.SymbolicTensor;
  x = swishLayer().apply(x) as tfl.SymbolicTensor;
  // residual SE refinement block
  let y = tfl.layers.separableConv2d({ filters: 256, kernelSize: 3, padding: 'same' }).apply(x) as tfl.SymbolicTensor;
  y = bnLayer().apply(y) as tfl.SymbolicTensor;
  y = swishLayer().apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.separableConv2d({ filters: 256, kernelSize: 3, padding: 'same' }).apply(y) as tfl.SymbolicTensor;
  y = bnLayer().apply(y) as tfl.SymbolicTensor;
  const shortcut = tfl.layers.conv2d({ filters: 256, kernelSize: 1 }).apply(x) as tfl.SymbolicTensor;
  y = tfl.layers.add().apply([y, shortcut]) as tfl.SymbolicTensor;
  y = swishLayer().apply(y) as tfl.SymbolicTensor;
  let se = tfl.layers.globalAveragePooling2d({}).apply(y) as tfl.SymbolicTensor;
  se = tfl.layers.dense({ units: 16, activation: 'swish' }).apply(se) as tfl.SymbolicTensor;
  se = tfl.layers.dense({ units: 256, activation: 'sigmoid' }).apply(se) as tfl.SymbolicTensor;
  se = tfl.layers.reshape({ targetShape: [1, 1, 256] }).apply(se) as tfl.SymbolicTensor;
  y = tfl.layers.multiply().apply([y, se]) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({}).apply(y) as tfl.SymbolicTensor;
  const gmp = tfl.layers.globalMaxPooling2d({}).apply(y) as tfl.SymbolicTensor;
  let h = tfl.layers.concatenate().apply([gap, gmp]) as tfl.SymbolicTensor;
  h = tfl.layers.dense({ units: 1024 }).apply(h) as tfl.SymbolicTensor;
  h = bnLayer().apply(h) as tfl.SymbolicTensor;
  h = swishLayer().apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.dropout({ rate: 0.5 }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.dense({ units: 512 }).apply(h) as tfl.SymbolicTensor;
  h = bnLayer().apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.dropout({ rate: 0.3 }).apply(h) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ units: 4 }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: logits });
}

/** "Before": the missing kernels run by the cpu backend's own code, copying data wasm -> cpu -> wasm. */
function registerCpuFallbackKernels(): void {
  const cpu = tf.engine().findBackend('cpu')!;
  for (const kernelName of WASM_MISSING_GRADIENT_KERNELS) {
    tf.registerKernel({
      kernelName, backendName: 'wasm',
      kernelFunc: ({ inputs, attrs, backend }) => {
        const wasm = backend as tf.KernelBackend;
        const cpuInputs: Record<string, tf.TensorInfo> = {};
        for (const [k, info] of Object.entries(inputs)) {
          const values = wasm.readSync(info!.dataId) as Float32Array;
          cpuInputs[k] = { dataId: cpu.write(values, info!.shape, info!.dtype), shape: info!.shape, dtype: info!.dtype };
        }
        const out = tf.getKernel(kernelName, 'cpu')!.kernelFunc({ inputs: cpuInputs, attrs, backend: cpu }) as tf.TensorInfo;
        const values = cpu.readSync(out.dataId) as Float32Array;
        cpu.disposeData(out.dataId);
        Object.values(cpuInputs).forEach((i) => cpu.disposeData(i.dataId));
        return { dataId: wasm.write(values, out.shape, out.dtype), shape: out.shape, dtype: out.dtype };
      },
    });
  }
}

/** Bytes the gradient tape holds for backprop, by the kernel that saved them (each buffer counted once). */
function reportTapeMemory(): void {
  type Node = { kernelName: string; saved?: tf.Tensor[] };
  const tape = (tf.engine().state as unknown as { activeTape: Node[] }).activeTape;
  const seen = new Set<unknown>();
  const byKernel = new Map<string, number>();
  for (const node of tape) {
    for (const t of node.saved ?? []) {
      if (t == null || seen.has(t.dataId)) continue;
      seen.add(t.dataId);
      byKernel.set(node.kernelName, (byKernel.get(node.kernelName) ?? 0) + t.size * 4);
    }
  }
  const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
  console.log(`tape holds ${(total / 2 ** 20).toFixed(0)} MiB in ${seen.size} buffers (${tape.length} nodes); by saving kernel:`);
  for (const [k, b] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 14)) {
    console.log(`  ${k.padEnd(28)} ${(b / 2 ** 20).toFixed(0).padStart(6)} MiB ${(100 * b / total).toFixed(1).padStart(5)}%`);
  }
}

function heapMiB(): number {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  return b.wasm ? b.wasm.HEAPU8.buffer.byteLength / 2 ** 20 : NaN;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main() {
  if (args.simd === 'off') { // the flag exists once the wasm package is loaded, and is read at its init
    await import('@tensorflow/tfjs-backend-wasm');
    tf.env().set('WASM_HAS_SIMD_SUPPORT', false);
  }
  await tf.setBackend('cpu'); // initialised for the cpu-fallback kernels
  const originalBnGrad = tf.getGradient(tf.FusedBatchNorm)!;
  const got = await selectBackend(backendName, { registerTrainingKernels: false });
  if (backendName === 'wasm') {
    const wasmDx = tf.getKernel(tf.Conv2DBackpropInput, 'wasm')!;
    if (kernels === 'cpu-fallback') registerCpuFallbackKernels();
    else registerWasmGradientKernels();
    if (kernels === 'ours-wasm-dx') { // ours, but wasm's own Conv2DBackpropInput
      tf.unregisterKernel(tf.Conv2DBackpropInput, 'wasm');
      tf.registerKernel(wasmDx);
    }
  }
  tf.registerGradient(bn === 'ours' ? fusedBatchNormGradConfig : originalBnGrad);
  // --model=real: src/models' buildNeuroStageNet (all layers trainable, no weights), once it exists
  const model = args.model === 'real'
    ? await (await import('../src/models/index.js')).buildNeuroStageNet({ inputShape: [size, size, 1] })
    : buildStandIn();
  const params = model.countParams();
  console.log(`model=${args.model ?? 'stand-in'} lean=${lean} backend=${got} mode=${mode} batch=${batch} size=${size} kernels=${kernels} bn=${bn} `
    + `simd=${args.simd ?? 'default'} params=${params} heapStart=${heapMiB().toFixed(0)}MiB`);
  const x = tf.randomUniform([batch, size, size, 1], 0, 255, 'float32', 1);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 4), 'int32'), 4);
  const optimizer = tf.train.adam(5e-4);
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let forwardMiB = 0;
  let memoryReported = false;
  const runStep = () => {
    if (mode === 'infer') {
      const out = tf.tidy(() => model.apply(x, { training: false }) as tf.Tensor);
      out.dataSync();
      out.dispose();
    } else {
      const before = tf.memory().numBytes;
      const loss = optimizer.minimize(() => {
        const l = tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
        forwardMiB = (tf.memory().numBytes - before) / 2 ** 20; // activations the tape holds for backprop
        if (args.memory && !memoryReported) { memoryReported = true; reportTapeMemory(); }
        return l;
      }, true)!;
      loss.dataSync();
      loss.dispose();
    }
  };
  if (args.profile) {
    runStep(); // warm-up
    const info = await tf.profile(runStep);
    const byKernel = new Map<string, number>();
    for (const k of info.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number));
    const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
    console.log(`profile: ${total.toFixed(0)} ms in kernels, peakBytes ${(info.peakBytes / 2 ** 20).toFixed(0)} MiB`);
    for (const [k, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
      console.log(`  ${k.padEnd(40)} ${ms.toFixed(0).padStart(7)} ms ${(100 * ms / total).toFixed(1).padStart(5)}%`);
    }
    if (typeof args.profile === 'string' && args.profile !== 'true') { // --profile=KernelName: by shapes
      const byShape = new Map<string, number>();
      for (const k of info.kernels.filter((k) => k.name === args.profile)) {
        const key = `${JSON.stringify(k.inputShapes)} -> ${JSON.stringify(k.outputShapes)}`;
        byShape.set(key, (byShape.get(key) ?? 0) + (k.kernelTimeMs as number));
      }
      for (const [key, ms] of [...byShape].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
        console.log(`    ${ms.toFixed(0).padStart(6)} ms ${key}`);
      }
    }
  } else {
    for (let i = 0; i < steps + 1; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      runStep();
      const dt = performance.now() - t0;
      const c1 = process.cpuUsage(c0);
      const cpuMs = (c1.user + c1.system) / 1000; // wasm is single-threaded: ~= wall time on an idle core
      if (i > 0) { times.push(dt); cpuTimes.push(cpuMs); } // first step is warm-up
      console.log(`  step ${i}${i === 0 ? ' (warm-up)' : ''}: ${dt.toFixed(0)} ms (cpu ${cpuMs.toFixed(0)} ms), ${(batch / dt * 1000).toFixed(2)} img/s, `
        + `heap ${heapMiB().toFixed(0)} MiB, forward-held ${forwardMiB.toFixed(0)} MiB, tensors ${tf.memory().numTensors}`);
    }
    const med = median(times);
    console.log(`RESULT ${mode} ${got} batch=${batch} kernels=${kernels} bn=${bn} simd=${args.simd ?? 'default'}: `
      + `median ${med.toFixed(0)} ms/step = ${(batch / med * 1000).toFixed(2)} img/s wall; `
      + `cpu ${median(cpuTimes).toFixed(0)} ms/step = ${(batch / median(cpuTimes) * 1000).toFixed(2)} img/s per busy core; `
      + `load ${(await import('node:os')).loadavg()[0]!.toFixed(1)}; heap high-water ${heapMiB().toFixed(0)} MiB, `
      + `rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
  }
}

main().catch((e) => {
  console.error('FAILED:', e?.message ?? e);
  process.exit(1);
});
