import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  hasTransformKernel,
  portableTransform,
  registerTransformKernel,
  transformValuesForTest,
  unregisterTransformKernel,
} from '../../src/data/transform-kernel.js';

// The portable Transform kernel (registered for backends without one, e.g. tfjs-node) against the cpu
// backend's kernel, one image at a time (the cpu kernel in tfjs 4.22 transforms only the first image of a batch).
describe('portable Transform kernel', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const h = 7;
  const w = 9;
  const c = 2;
  const image = Float32Array.from({ length: h * w * c }, (_, i) => Math.sin(i * 0.7) * 50 + i);
  const transforms = [
    [1, 0, 0, 0, 1, 0, 0, 0],
    [-1, 0, w - 1, 0, 1, 0, 0, 0], // horizontal flip
    [0.96, -0.28, 1.3, 0.28, 0.96, -1.1, 0, 0], // rotation + shift
    [1.2, 0.1, -2.5, -0.05, 0.9, 3.2, 0.01, -0.02], // projective, reaches outside
  ];
  // Transforms are float32 in tfjs: pass them as float32 so rounding at .5 boundaries (nearest) agrees.
  for (const interpolation of ['bilinear', 'nearest'] as const) {
    for (const fillMode of ['constant', 'reflect', 'nearest'] as const) {
      it(`matches the cpu kernel (${interpolation}, ${fillMode})`, () => {
        for (const t of transforms) {
          const expected = tf.tidy(() =>
            tf.image.transform(tf.tensor4d(image, [1, h, w, c]), tf.tensor2d(t, [1, 8]), interpolation, fillMode, 3.5).dataSync(),
          );
          const got = transformValuesForTest(image, [1, h, w, c], Float32Array.from(t), false, interpolation, fillMode, 3.5, h, w);
          expect(got.length).toBe(expected.length);
          for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(expected[i], 3);
        }
      });
    }
  }

  it('transforms every image of a batch with its own matrix', () => {
    const two = new Float32Array(2 * h * w * c);
    two.set(image, 0);
    two.set(image.map((v) => -v), h * w * c);
    const flat = [...transforms[1], ...transforms[2]];
    const got = transformValuesForTest(two, [2, h, w, c], flat, true, 'bilinear', 'constant', 0, h, w);
    const first = transformValuesForTest(image, [1, h, w, c], transforms[1], false, 'bilinear', 'constant', 0, h, w);
    const second = transformValuesForTest(image.map((v) => -v), [1, h, w, c], transforms[2], false, 'bilinear', 'constant', 0, h, w);
    expect(Array.from(got.subarray(0, h * w * c))).toEqual(Array.from(first));
    expect(Array.from(got.subarray(h * w * c))).toEqual(Array.from(second));
  });

  it('portableTransform gives the cpu kernel\'s result on tensors, for a whole batch, without registering anything', () => {
    const before = tf.memory().numTensors;
    const kernel = tf.getKernel('Transform', 'cpu');
    const x = tf.tensor4d(image, [1, h, w, c]);
    for (const t of transforms) {
      const expected = tf.tidy(() => tf.image.transform(x, tf.tensor2d(t, [1, 8]), 'bilinear', 'reflect', 0, [h + 2, w - 1]).dataSync());
      const got = portableTransform(x, t, 'bilinear', 'reflect', 0, [h + 2, w - 1]);
      expect(got.shape).toEqual([1, h + 2, w - 1, c]);
      const v = got.dataSync();
      for (let i = 0; i < v.length; i++) expect(v[i]).toBeCloseTo(expected[i], 3);
      got.dispose();
    }
    expect(() => portableTransform(x, [1, 0, 0])).toThrow(/3 transform values for 1 images/);
    x.dispose();
    expect(tf.getKernel('Transform', 'cpu')).toBe(kernel);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('registerTransformKernel is an explicit opt-in for a backend without one, undone by unregisterTransformKernel', () => {
    expect(hasTransformKernel('cpu')).toBe(true);
    expect(registerTransformKernel('cpu')).toBe(false); // cpu keeps its own kernel
    const own = tf.getKernel('Transform', 'cpu');
    unregisterTransformKernel('cpu'); // never removes a backend's own kernel
    expect(tf.getKernel('Transform', 'cpu')).toBe(own);
    tf.unregisterKernel('Transform', 'cpu');
    try {
      expect(hasTransformKernel('cpu')).toBe(false);
      expect(registerTransformKernel('cpu')).toBe(true);
      const y = tf.tidy(() => tf.image.transform(tf.tensor4d([0, 1, 2, 3], [1, 1, 4, 1]), tf.tensor2d([[1, 0, 2, 0, 1, 0, 0, 0]]), 'bilinear', 'reflect').dataSync());
      expect(Array.from(y)).toEqual([2, 3, 3, 2]);
      unregisterTransformKernel('cpu');
      expect(hasTransformKernel('cpu')).toBe(false);
    } finally {
      if (tf.getKernel('Transform', 'cpu') == null) tf.registerKernel(own!);
    }
  });
});
