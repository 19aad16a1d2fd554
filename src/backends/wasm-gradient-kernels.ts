/**
 * Gradient kernels that @tensorflow/tfjs-backend-wasm 4.22 lacks (Conv2DBackpropFilter,
 * DepthwiseConv2dNativeBackpropFilter, DepthwiseConv2dNativeBackpropInput) plus a faster
 * Conv2DBackpropInput, composed from kernels the wasm backend runs fast (XNNPACK convolutions, matmuls
 * without transposed operands, rank-3/4 transposes). Measured on wasm in Node 20: slice/stridedSlice,
 * rank-2 transposes, broadcasting multiplies and matmuls with transposeA/transposeB are 5-40x slower per
 * element than those, so these kernels avoid them on large tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NeuroStageNetError } from '../errors.js';
import { EnvironmentError } from '../env/errors.js';

/** Thrown when a wasm gradient kernel gets arguments it does not implement (dilation > 1). */
export class UnsupportedKernelArgumentsError extends EnvironmentError {}

type Pads = { top: number; bottom: number; left: number; right: number };

/** Largest intermediate (im2col-like) buffer one kernel call may allocate, in bytes, unless overridden. */
export const DEFAULT_KERNEL_SCRATCH_BYTES = 64 * 1024 * 1024;

let scratchBytes = DEFAULT_KERNEL_SCRATCH_BYTES;

/**
 * Sets the largest scratch buffer (bytes) the wasm gradient kernels allocate at once; bigger work is
 * done in chunks. Lower it when training large batches near wasm's 4 GiB heap limit.
 * @param bytes Positive byte count.
 */
export function setWasmKernelScratchBytes(bytes: number): void {
  if (!(Number.isFinite(bytes) && bytes > 0)) {
    throw new NeuroStageNetError(`setWasmKernelScratchBytes: bytes must be a positive number, got ${bytes}`);
  }
  scratchBytes = bytes;
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

function assertUnitDilation(kernel: string, dilations: number | [number, number] | undefined): void {
  if (dilations == null) return;
  const [dh, dw] = pair(dilations);
  if (dh !== 1 || dw !== 1) {
    throw new UnsupportedKernelArgumentsError(`${kernel} on wasm: dilations must be 1, got [${dh}, ${dw}]`);
  }
}

/** A filter [kH, kW, C, taps.length] that copies input tap taps[t] of every channel to output t. */
function oneHotTapFilter(kH: number, kW: number, channels: number, taps: number[]): tf.Tensor4D {
  const t = taps.length;
  const values = new Float32Array(kH * kW * channels * t);
  taps.forEach((tap, j) => {
    for (let c = 0; c < channels; c++) values[(tap * channels + c) * t + j] = 1;
  });
  return tf.tensor4d(values, [kH, kW, channels, t]);
}

function explicitPads(p: Pads): tf.backend_util.ExplicitPadding {
  return [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]];
}

/** [a*b, k] -> [k, a*b] through a rank-3 transpose (wasm's rank-2 transpose is ~5x slower). */
function transposeRows(m: tf.Tensor2D, a: number, b: number): tf.Tensor2D {
  const k = m.shape[1];
  return tf.reshape(tf.transpose(tf.reshape(m, [a, b, k]), [2, 0, 1]), [k, a * b]) as tf.Tensor2D;
}

/**
 * A^T B for A [M, K], B [M, O] (M = outer*inner large), without wasm's slow transposeA matmul path.
 * wasm packs a matmul's right operand on every call (it is a fresh tensor here), which costs more than
 * a rank-3 transpose, so the operand with more columns is transposed and the narrower one packed.
 */
function matMulTransposeA(a2d: tf.Tensor2D, b2d: tf.Tensor2D, outer: number, inner: number): tf.Tensor2D {
  const [, k] = a2d.shape;
  const [, o] = b2d.shape;
  if (k >= o) return tf.matMul(transposeRows(a2d, outer, inner), b2d);
  return tf.transpose(tf.matMul(transposeRows(b2d, outer, inner), a2d)) as tf.Tensor2D;
}

function chunkTaps(taps: number, bytesPerTap: number): number[][] {
  const perChunk = Math.max(1, Math.floor(scratchBytes / Math.max(1, bytesPerTap)));
  const chunks: number[][] = [];
  for (let start = 0; start < taps; start += perChunk) {
    chunks.push(Array.from({ length: Math.min(perChunk, taps - start) }, (_, i) => start + i));
  }
  return chunks;
}

// A Tensor view of a kernel input. The engine does not count it as a reference to the data, so take
// one on the backend; disposing the view (end of our tidy) gives it back and the input's data survives.
function toTensor<R extends tf.Rank>(info: tf.TensorInfo): tf.Tensor<R> {
  const t = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
  tf.engine().backend.incRef(info.dataId);
  return t;
}

function toNHWC(t: tf.Tensor4D, dataFormat: 'NHWC' | 'NCHW'): tf.Tensor4D {
  return dataFormat === 'NCHW' ? tf.transpose(t, [0, 2, 3, 1]) : t;
}

/**
 * dW of a regular 2-D convolution: im2col patches made by one XNNPACK depthwise convolution with a
 * one-hot filter (chunked by taps to bound memory), then patches^T dy as a fast matmul.
 */
export function conv2DBackpropFilterWasm(
  xInfo: tf.TensorInfo,
  dyInfo: tf.TensorInfo,
  attrs: tf.Conv2DBackpropFilterAttrs,
): tf.Tensor4D {
  return tf.tidy(() => {
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
    const x = toNHWC(toTensor<tf.Rank.R4>(xInfo), dataFormat);
    const dy = toNHWC(toTensor<tf.Rank.R4>(dyInfo), dataFormat);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast',
    );
    const { batchSize: n, outHeight: oH, outWidth: oW, filterHeight: kH, filterWidth: kW, inChannels: c,
      outChannels: o, strideHeight: sH, strideWidth: sW, padInfo } = info;
    const m = n * oH * oW;
    const dy2d = tf.reshape(dy, [m, o]) as tf.Tensor2D;
    const noPad = padInfo.top === 0 && padInfo.bottom === 0 && padInfo.left === 0 && padInfo.right === 0;
    if (kH === 1 && kW === 1 && sH === 1 && sW === 1 && noPad) {
      return tf.reshape(matMulTransposeA(tf.reshape(x, [m, c]) as tf.Tensor2D, dy2d, n, oH * oW), filterShape);
    }
    const taps = kH * kW;
    const parts = chunkTaps(taps, m * c * 4).map((chunk) => tf.tidy(() => {
      const patches = tf.depthwiseConv2d(
        x, oneHotTapFilter(kH, kW, c, chunk), [sH, sW], explicitPads(padInfo),
      ); // [n, oH, oW, c * chunk] ordered (channel, tap)
      const dw = matMulTransposeA(tf.reshape(patches, [m, c * chunk.length]) as tf.Tensor2D, dy2d, n, oH * oW);
      return tf.reshape(dw, [c, chunk.length, o]);
    }));
    const dwCTO = parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
    return tf.transpose(tf.reshape(dwCTO, [c, kH, kW, o]), [1, 2, 0, 3]);
  });
}

/**
 * dW of a depthwise convolution. Channels go to the batch axis (one rank-4 transpose of x and of dy),
 * a one-hot regular convolution then yields per-channel patches [C, M, taps], and one batched matmul
 * dy_c^T [1, M] x patches_c [M, taps] per channel reduces over M on the inner axis.
 */
export function depthwiseConv2dNativeBackpropFilterWasm(
  xInfo: tf.TensorInfo,
  dyInfo: tf.TensorInfo,
  attrs: tf.DepthwiseConv2dNativeBackpropFilterAttrs,
): tf.Tensor4D {
  return tf.tidy(() => {
    const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs;
    assertUnitDilation('DepthwiseConv2dNativeBackpropFilter', dilations);
    const x = toTensor<tf.Rank.R4>(xInfo);
    const dy = toTensor<tf.Rank.R4>(dyInfo);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape, filterShape, strides, 1, pad, dimRoundingMode, true, 'channelsLast',
    );
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oH, outWidth: oW,
      filterHeight: kH, filterWidth: kW, strideHeight: sH, strideWidth: sW, padInfo } = info;
    const mult = filterShape[3];
    const m = n * oH * oW;
    // x as C*N single-channel images; dy as [C, mult, M]
    const xCN = tf.reshape(tf.transpose(x, [3, 0, 1, 2]), [c * n, h, w, 1]) as tf.Tensor4D;
    const dyT = tf.reshape(tf.transpose(tf.reshape(dy, [n, oH * oW, c, mult]), [2, 3, 0, 1]), [c, mult, m]);
    const taps = kH * kW;
    const parts = chunkTaps(taps, m * c * 4).map((chunk) => tf.tidy(() => {
      const patches = tf.conv2d(xCN, oneHotTapFilter(kH, kW, 1, chunk), [sH, sW], explicitPads(padInfo));
      // [c*n, oH, oW, chunk] -> [c, M, chunk]; dW part [c, mult, chunk]
      return tf.matMul(dyT, tf.reshape(patches, [c, m, chunk.length]));
    }));
    const dwCMT = parts.length === 1 ? parts[0]! : tf.concat(parts, 2);
    return tf.reshape(tf.transpose(dwCMT, [2, 0, 1]), filterShape); // [taps, c, mult] = [kH, kW, c, mult]
  });
}

/** Pads dy (negative pads crop it) and correlates it, stride 1, with a depthwise or a regular filter. */
function correlate(dy: tf.Tensor4D, filter: tf.Tensor4D, p: Pads, depthwise: boolean): tf.Tensor4D {
  let input = dy;
  const crop = { top: Math.max(0, -p.top), bottom: Math.max(0, -p.bottom),
    left: Math.max(0, -p.left), right: Math.max(0, -p.right) };
  if (crop.top + crop.bottom + crop.left + crop.right > 0) {
    const [n, h, w, c] = dy.shape;
    input = tf.slice(dy, [0, crop.top, crop.left, 0],
      [n, h - crop.top - crop.bottom, w - crop.left - crop.right, c]);
  }
  const pads = explicitPads({ top: Math.max(0, p.top), bottom: Math.max(0, p.bottom),
    left: Math.max(0, p.left), right: Math.max(0, p.right) });
  return depthwise ? tf.depthwiseConv2d(input, filter, 1, pads) : tf.conv2d(input, filter, 1, pads);
}

/** Filter taps of one output phase along one axis: kernel rows k with k = (phase + pad) mod s. */
function phaseTaps(k: number, s: number, phase: number, padBefore: number): number[] {
  const taps: number[] = [];
  for (let t = k - 1; t >= 0; t--) if ((((phase + padBefore - t) % s) + s) % s === 0) taps.push(t);
  return taps; // descending: correlation order over dy
}

/**
 * dx of a (depthwise) convolution as a polyphase transposed convolution: for each of the sH*sW output
 * phases one stride-1 XNNPACK correlation of dy with the flipped sub-filter of that phase, phases
 * interleaved by concatenating along channels and reshaping (no zero-stuffing, no rank-6 pads).
 */
function convBackpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, info: tf.backend_util.Conv2DInfo,
  depthwise: boolean): tf.Tensor4D {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oH, outWidth: oW,
    filterHeight: kH, filterWidth: kW, strideHeight: sH, strideWidth: sW, padInfo } = info;
  const last = filter.shape[3]; // depthwise: channel multiplier; regular: output channels
  const hP = Math.ceil(h / sH);
  const wP = Math.ceil(w / sW);
  const phase = (a: number, b: number): tf.Tensor4D => tf.tidy(() => {
    const rows = phaseTaps(kH, sH, a, padInfo.top);
    const cols = phaseTaps(kW, sW, b, padInfo.left);
    if (rows.length === 0 || cols.length === 0) return tf.zeros([n, hP, wP, c]);
    const sub = tf.gather(tf.gather(filter, rows, 0), cols, 1) as tf.Tensor4D; // [r, q, c, last]
    // taps descending => the offset into dy rises with the sub-filter index: a plain correlation
    const top = -(a + padInfo.top - rows[0]!) / sH;
    const left = -(b + padInfo.left - cols[0]!) / sW;
    const p: Pads = { top, left, bottom: hP - oH - top + rows.length - 1, right: wP - oW - left + cols.length - 1 };
    if (!depthwise) return correlate(dy, tf.transpose(sub, [0, 1, 3, 2]), p, false);
    const out = correlate(dy, tf.reshape(sub, [rows.length, cols.length, c * last, 1]), p, true);
    return last === 1 ? out : tf.sum(tf.reshape(out, [n, hP, wP, c, last]), 4);
  });
  let dx: tf.Tensor4D;
  if (sH === 1 && sW === 1) {
    dx = phase(0, 0);
  } else {
    const rowPhases: tf.Tensor4D[] = [];
    for (let a = 0; a < sH; a++) {
      const cols = Array.from({ length: sW }, (_, b) => phase(a, b));
      const joined = cols.length === 1 ? cols[0]! : tf.concat(cols, 3);
      rowPhases.push(tf.reshape(joined, [n, hP, wP * sW, c]));
    }
    const all = rowPhases.length === 1 ? rowPhases[0]! : tf.concat(rowPhases, 2);
    dx = tf.reshape(all, [n, hP * sH, wP * sW, c]);
  }
  if (dx.shape[1] !== h || dx.shape[2] !== w) dx = tf.slice(dx, [0, 0, 0, 0], [n, h, w, c]);
  return dx;
}

/** dx of a depthwise convolution (see convBackpropInput). */
export function depthwiseConv2dNativeBackpropInputWasm(
  dyInfo: tf.TensorInfo,
  filterInfo: tf.TensorInfo,
  attrs: tf.DepthwiseConv2dNativeBackpropInputAttrs,
): tf.Tensor4D {
  return tf.tidy(() => {
    const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs;
    assertUnitDilation('DepthwiseConv2dNativeBackpropInput', dilations);
    const dy = toTensor<tf.Rank.R4>(dyInfo);
    const filter = toTensor<tf.Rank.R4>(filterInfo);
    const info = tf.backend_util.computeConv2DInfo(
      inputShape, filter.shape, strides, 1, pad, dimRoundingMode, true, 'channelsLast',
    );
    return convBackpropInput(dy, filter, info, true);
  });
}

/**
 * dx of a regular convolution, replacing wasm's own Conv2DBackpropInput (a plain C++ loop, 25% of a
 * wasm training step in the probe): a 1x1 stride-1 convolution's dx is one matmul dy [M, O] x W^T [O, C], any
 * other NHWC one the polyphase transposed convolution on XNNPACK.
 */
export function conv2DBackpropInputWasm(
  dyInfo: tf.TensorInfo,
  filterInfo: tf.TensorInfo,
  attrs: tf.Conv2DBackpropInputAttrs,
): tf.Tensor4D {
  return tf.tidy(() => {
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
    const nchw = dataFormat === 'NCHW';
    const dy = toNHWC(toTensor<tf.Rank.R4>(dyInfo), dataFormat);
    const filter = toTensor<tf.Rank.R4>(filterInfo);
    const [n, ...rest] = inputShape;
    const nhwcShape: [number, number, number, number] = nchw ? [n, rest[1]!, rest[2]!, rest[0]!] : inputShape;
    const info = tf.backend_util.computeConv2DInfo(
      nhwcShape, filter.shape, strides, 1, pad, dimRoundingMode, false, 'channelsLast',
    );
    const { filterHeight: kH, filterWidth: kW, strideHeight: sH, strideWidth: sW, padInfo, inChannels: c,
      outChannels: o } = info;
    const noPad = padInfo.top === 0 && padInfo.bottom === 0 && padInfo.left === 0 && padInfo.right === 0;
    let dx: tf.Tensor4D;
    if (kH === 1 && kW === 1 && sH === 1 && sW === 1 && noPad) {
      const m = dy.size / o;
      // transpose the small filter: wasm's matmul is ~5x slower with transposeB
      dx = tf.reshape(tf.matMul(tf.reshape(dy, [m, o]), tf.transpose(tf.reshape(filter, [c, o]))), nhwcShape);
    } else {
      dx = convBackpropInput(dy, filter, info, false);
    }
    return nchw ? tf.transpose(dx, [0, 3, 1, 2]) : dx;
  });
}

const wasmGradientKernels: tf.KernelConfig[] = [
  {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => conv2DBackpropFilterWasm(
      inputs.x!, inputs.dy!, attrs as unknown as tf.Conv2DBackpropFilterAttrs),
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => depthwiseConv2dNativeBackpropFilterWasm(
      inputs.x!, inputs.dy!, attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs),
  },
  {
    kernelName: tf.Conv2DBackpropInput,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => conv2DBackpropInputWasm(
      inputs.dy!, inputs.filter!, attrs as unknown as tf.Conv2DBackpropInputAttrs),
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropInput,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => depthwiseConv2dNativeBackpropInputWasm(
      inputs.dy!, inputs.filter!, attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs),
  },
];

/** Kernels tfjs-backend-wasm 4.22 lacks, which {@link registerWasmGradientKernels} adds for 'wasm'. */
export const WASM_MISSING_GRADIENT_KERNELS: readonly string[] = [
  tf.Conv2DBackpropFilter, tf.DepthwiseConv2dNativeBackpropFilter, tf.DepthwiseConv2dNativeBackpropInput,
];

/** wasm kernels {@link registerWasmGradientKernels} replaces with faster compositions (original kept). */
export const WASM_REPLACED_GRADIENT_KERNELS: readonly string[] = [tf.Conv2DBackpropInput];

/** All kernel names {@link registerWasmGradientKernels} registers for 'wasm'. */
export const WASM_GRADIENT_KERNEL_NAMES: readonly string[] = wasmGradientKernels.map((k) => k.kernelName);

// wasm's own configs of the kernels we replaced, to restore them in unregisterWasmGradientKernels()
const replacedOriginals = new Map<string, tf.KernelConfig>();

/**
 * Registers, for the 'wasm' backend, the gradient kernels tfjs-backend-wasm 4.22 lacks
 * ({@link WASM_MISSING_GRADIENT_KERNELS}) so that models with (depthwise) convolutions can train on
 * wasm, and replaces its slow Conv2DBackpropInput ({@link WASM_REPLACED_GRADIENT_KERNELS}). Idempotent:
 * kernels already ours are skipped, and a missing kernel that a newer tfjs-backend-wasm provides is
 * left alone. Called by {@link index!selectBackend} when it picks wasm.
 * @returns The kernel names registered by this call (empty when all were already in place).
 */
export function registerWasmGradientKernels(): string[] {
  const added: string[] = [];
  for (const config of wasmGradientKernels) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current === config) continue;
    if (current != null) {
      if (!WASM_REPLACED_GRADIENT_KERNELS.includes(config.kernelName)) continue; // wasm has its own now
      replacedOriginals.set(config.kernelName, current);
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    tf.registerKernel(config);
    added.push(config.kernelName);
  }
  return added;
}

/**
 * Undoes {@link registerWasmGradientKernels}: removes our kernels from 'wasm' and restores the wasm
 * kernels they replaced (for comparisons and tests).
 */
export function unregisterWasmGradientKernels(): void {
  for (const config of wasmGradientKernels) {
    if (tf.getKernel(config.kernelName, 'wasm') !== config) continue;
    tf.unregisterKernel(config.kernelName, 'wasm');
    const original = replacedOriginals.get(config.kernelName);
    if (original != null) tf.registerKernel(original);
    replacedOriginals.delete(config.kernelName);
  }
}
