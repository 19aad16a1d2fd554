import * as tf from '@tensorflow/tfjs-core';
import { DataOptionError } from './errors.js';

// A portable `Transform` (tf.image.transform) for backends that have none: tfjs-node 4.22 registers no Transform
// kernel, so tf.image.transform fails there with "Kernel 'Transform' not registered". augmentBatch calls
// portableTransform directly on such backends (nothing is registered with tfjs); an app that wants
// tf.image.transform itself to work there registers the kernel on purpose with registerTransformKernel().
// It runs in JS on the image's values (one 128x128 batch of 32 is ~0.5 M samples: milliseconds) and follows
// TensorFlow's ImageProjectiveTransformV3 semantics (image_ops.h): output (x, y) samples the input at
// ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1, with the fill mode mapping coordinates
// and constant fill outside. Unlike the cpu backend's kernel in 4.22, every image of the batch is transformed.

type FillMode = 'constant' | 'reflect' | 'wrap' | 'nearest';

function mapCoordinate(c: number, len: number, mode: FillMode): number {
  if (mode === 'constant') return c;
  if (len <= 1) return 0;
  if (mode === 'nearest') return Math.min(Math.max(c, 0), len - 1);
  if (mode === 'reflect') {
    // [abcd] -> [dcba|abcd|dcba]: fold into one period of length 2*len, then mirror the upper half.
    const period = 2 * len;
    let m = c % period;
    if (m < 0) m += period;
    if (m >= len) m = period - m - 1;
    return Math.min(Math.max(m, 0), len - 1);
  }
  // wrap: [abcd] -> [abcd|abcd|abcd]
  let m = c % len;
  if (m < 0) m += len;
  return Math.min(Math.max(m, 0), len - 1);
}

function transformValues(
  src: ArrayLike<number>,
  shape: [number, number, number, number],
  transforms: ArrayLike<number>,
  perImage: boolean,
  interpolation: 'nearest' | 'bilinear',
  fillMode: FillMode,
  fillValue: number,
  outH: number,
  outW: number,
): Float32Array {
  const [n, h, w, c] = shape;
  const out = new Float32Array(n * outH * outW * c).fill(fillValue);
  const at = (base: number, y: number, x: number, ch: number): number =>
    y >= 0 && y < h && x >= 0 && x < w ? src[base + (y * w + x) * c + ch] : fillValue;
  for (let b = 0; b < n; b++) {
    const t = perImage ? b * 8 : 0;
    const [a0, a1, a2, b0, b1, b2, c0, c1] = Array.from({ length: 8 }, (_, i) => transforms[t + i]);
    const inBase = b * h * w * c;
    const outBase = b * outH * outW * c;
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        const k = c0 * x + c1 * y + 1;
        if (k === 0) continue; // a point at infinity: fill value
        const ix = mapCoordinate((a0 * x + a1 * y + a2) / k, w, fillMode);
        const iy = mapCoordinate((b0 * x + b1 * y + b2) / k, h, fillMode);
        for (let ch = 0; ch < c; ch++) {
          let v: number;
          if (interpolation === 'nearest') {
            v = at(inBase, Math.round(iy), Math.round(ix), ch);
          } else {
            const y0 = Math.floor(iy);
            const x0 = Math.floor(ix);
            const fy = iy - y0;
            const fx = ix - x0;
            const top = (1 - fx) * at(inBase, y0, x0, ch) + fx * at(inBase, y0, x0 + 1, ch);
            const bottom = (1 - fx) * at(inBase, y0 + 1, x0, ch) + fx * at(inBase, y0 + 1, x0 + 1, ch);
            v = (1 - fy) * top + fy * bottom;
          }
          out[outBase + (y * outW + x) * c + ch] = v;
        }
      }
    }
  }
  return out;
}

const kernelFunc: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const { image, transforms } = inputs as { image: tf.TensorInfo; transforms: tf.TensorInfo };
  const { interpolation, fillMode, fillValue, outputShape } = attrs as unknown as {
    interpolation: 'nearest' | 'bilinear';
    fillMode: FillMode;
    fillValue: number;
    outputShape?: [number, number];
  };
  const b = backend as tf.KernelBackend;
  const shape = image.shape as [number, number, number, number];
  const [outH, outW] = outputShape ?? [shape[1], shape[2]];
  const values = transformValues(
    b.readSync(image.dataId) as ArrayLike<number>,
    shape,
    b.readSync(transforms.dataId) as ArrayLike<number>,
    transforms.shape[0] !== 1,
    interpolation,
    fillMode,
    fillValue,
    outH,
    outW,
  );
  const outShape = [shape[0], outH, outW, shape[3]];
  return { dataId: b.write(values, outShape, 'float32'), shape: outShape, dtype: 'float32' };
};

/** Interpolation of `portableTransform` (as `tf.image.transform`'s). */
export type TransformInterpolation = 'nearest' | 'bilinear';
/** Fill mode of `portableTransform` (as `tf.image.transform`'s). */
export type TransformFillMode = FillMode;

/** Whether `backendName` (default: the active backend) has its own `Transform` kernel (tfjs-node 4.22 has none). */
export function hasTransformKernel(backendName: string = tf.getBackend()): boolean {
  return tf.getKernel('Transform', backendName) != null;
}

/**
 * `tf.image.transform` computed in JavaScript on the image's values, without any tfjs kernel: the same results as the
 * cpu backend's kernel (TensorFlow's ImageProjectiveTransformV3), but every image of the batch is transformed. Used by
 * augmentation on backends without a `Transform` kernel. Not differentiable (augmentation needs no gradient).
 * @param image Batch `[N, H, W, C]`.
 * @param transforms 8 numbers per image (`N * 8`, image `b` at `b * 8`) or 8 numbers for all: output pixel -> input
 *   pixel, as `tf.image.transform` takes them.
 * @param interpolation `'bilinear'` or `'nearest'`.
 * @param fillMode How points outside the image are filled.
 * @param fillValue Value for `fillMode: 'constant'` (and points at infinity).
 * @param outputShape `[height, width]` of the result; default the input's.
 * @returns A new float32 tensor `[N, outH, outW, C]` (the caller's).
 */
export function portableTransform(
  image: tf.Tensor4D,
  transforms: ArrayLike<number>,
  interpolation: TransformInterpolation = 'bilinear',
  fillMode: TransformFillMode = 'constant',
  fillValue = 0,
  outputShape?: readonly [number, number],
): tf.Tensor4D {
  const shape = image.shape as [number, number, number, number];
  if (transforms.length !== 8 && transforms.length !== shape[0] * 8) {
    throw new DataOptionError(`portableTransform: ${transforms.length} transform values for ${shape[0]} images (need 8 or ${shape[0] * 8})`);
  }
  const [outH, outW] = outputShape ?? [shape[1], shape[2]];
  // tfjs passes the transforms to its kernels as float32: round them the same way
  const t = Float32Array.from(transforms);
  const values = transformValues(image.dataSync(), shape, t, t.length !== 8, interpolation, fillMode, fillValue, outH, outW);
  return tf.tensor4d(values, [shape[0], outH, outW, shape[3]], 'float32');
}

/**
 * Opt-in: registers the portable kernel as `backendName`'s `Transform` kernel when it has none (tfjs-node), so that
 * `tf.image.transform` works there for every model in the process. neurostagenet itself never calls it (augmentation
 * uses `portableTransform` directly). Backends with their own kernel keep it.
 * @param backendName Backend to register for; default the active one.
 * @returns Whether this call registered it.
 */
export function registerTransformKernel(backendName: string = tf.getBackend()): boolean {
  if (tf.getKernel('Transform', backendName) != null) return false;
  tf.registerKernel({ kernelName: 'Transform', backendName, kernelFunc });
  return true;
}

/**
 * Undoes `registerTransformKernel` for `backendName`; a backend's own kernel is never removed.
 * @param backendName Backend; default the active one.
 */
export function unregisterTransformKernel(backendName: string = tf.getBackend()): void {
  if (tf.getKernel('Transform', backendName)?.kernelFunc === kernelFunc) tf.unregisterKernel('Transform', backendName);
}

/** The kernel's pure-JS core, exported for tests against the backends' own kernels. */
export const transformValuesForTest = transformValues;
