import * as tf from '@tensorflow/tfjs-core';

// A portable `Transform` kernel (tf.image.transform) for backends that have none: tfjs-node 4.22 registers no
// Transform, so augmentation's rotation/zoom would fail there with "Kernel 'Transform' not registered".
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

/**
 * Registers the portable Transform kernel for the active backend when that backend has none (tfjs-node).
 * Idempotent; backends with their own kernel keep it.
 */
export function ensureTransformKernel(): void {
  const backendName = tf.getBackend();
  if (tf.getKernel('Transform', backendName) != null) return;
  tf.registerKernel({ kernelName: 'Transform', backendName, kernelFunc });
}

/** The kernel's pure-JS core, exported for tests against the backends' own kernels. */
export const transformValuesForTest = transformValues;
