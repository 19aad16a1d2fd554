import * as tf from '@tensorflow/tfjs-core';
import { createRng, mixSeed } from '../random.js';
import { DataOptionError } from './errors.js';
import { hasTransformKernel, portableTransform } from './transform-kernel.js';

/**
 * Random augmentation of training batches. Each transform can be switched off with `false` (or 0).
 * Defaults follow the Keras preprocessing layers the reference model uses (`RandomFlip('horizontal')`,
 * `RandomRotation(0.05)`, `RandomZoom(0.1)`, `RandomBrightness(0.1)`, `RandomContrast(0.1)`).
 */
export interface AugmentOptions {
  /** Random horizontal flip with probability 0.5. Default `true`. */
  flip?: boolean;
  /** Maximum rotation as a fraction of a full turn (0.05 = ±18°). Default `0.05`. */
  rotation?: number | false;
  /** Maximum zoom as a fraction: the scale is drawn from `[1 - zoom, 1 + zoom]` (above 1 = zoom out). Default `0.1`. */
  zoom?: number | false;
  /** Maximum brightness shift as a fraction of `valueRange` (0.1 = ±25.5 on 0..255). Default `0.1`. */
  brightness?: number | false;
  /** Contrast factor drawn from `[1 - contrast, 1 + contrast]`, around each image's mean. Default `0.1`. */
  contrast?: number | false;
  /** Pixel range; brightness is a fraction of it and results are clipped to it. Default `[0, 255]`. */
  valueRange?: readonly [number, number];
  /**
   * How rotation/zoom fill pixels from outside the image: `'reflect'` (mirror about the edge, `d c b a | a b c d`;
   * Keras' default), `'constant'` (`fillValue`) or `'nearest'` (edge pixel). Default `'reflect'`.
   */
  fillMode?: 'reflect' | 'constant' | 'nearest';
  /** Fill value for `fillMode: 'constant'`. Default `0`. */
  fillValue?: number;
}

/** Fully resolved augmentation settings (every field present). */
export type ResolvedAugmentOptions = Required<Omit<AugmentOptions, 'rotation' | 'zoom' | 'brightness' | 'contrast'>> & {
  /** Max rotation (fraction of a turn), 0 = off. */
  rotation: number;
  /** Max zoom fraction, 0 = off. */
  zoom: number;
  /** Max brightness fraction of the range, 0 = off. */
  brightness: number;
  /** Max contrast deviation, 0 = off. */
  contrast: number;
};

/** The random draws for one image of a batch (exposed so that tests and users can see what was applied). */
export interface AugmentParams {
  /** Whether the image was flipped left-right. */
  flip: boolean;
  /** Rotation angle in radians (positive = the transform's input-to-output rotation direction of `tf.image.transform`). */
  angle: number;
  /** Zoom scale applied to sampling coordinates (>1 zooms out). */
  zoom: number;
  /** Added brightness, in pixel units. */
  brightness: number;
  /** Contrast factor around the image mean. */
  contrast: number;
}

/** Default augmentation settings (see {@link AugmentOptions}). */
export const DEFAULT_AUGMENT: Readonly<ResolvedAugmentOptions> = Object.freeze({
  flip: true,
  rotation: 0.05,
  zoom: 0.1,
  brightness: 0.1,
  contrast: 0.1,
  valueRange: [0, 255] as const,
  fillMode: 'reflect' as const,
  fillValue: 0,
});

function amount(name: string, v: number | false | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (v === false) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1) {
    throw new DataOptionError(`augment.${name} must be false or a number in [0, 1), got ${String(v)}`);
  }
  return v;
}

/**
 * Fills in defaults. `true` gives {@link DEFAULT_AUGMENT}; `false`/`undefined` gives `null` (no augmentation).
 * @param options User options.
 * @returns Resolved options, or `null` when augmentation is off.
 */
export function resolveAugmentOptions(options: AugmentOptions | boolean | undefined): ResolvedAugmentOptions | null {
  if (options === undefined || options === false) return null;
  const o: AugmentOptions = options === true ? {} : options;
  const valueRange = o.valueRange ?? DEFAULT_AUGMENT.valueRange;
  if (!(valueRange[1] > valueRange[0])) throw new DataOptionError(`augment.valueRange must be [min, max] with max > min`);
  const fillMode = o.fillMode ?? DEFAULT_AUGMENT.fillMode;
  if (!['reflect', 'constant', 'nearest'].includes(fillMode)) {
    throw new DataOptionError(`augment.fillMode must be 'reflect', 'constant' or 'nearest', got ${String(fillMode)}`);
  }
  return {
    flip: o.flip ?? DEFAULT_AUGMENT.flip,
    rotation: amount('rotation', o.rotation, DEFAULT_AUGMENT.rotation),
    zoom: amount('zoom', o.zoom, DEFAULT_AUGMENT.zoom),
    brightness: amount('brightness', o.brightness, DEFAULT_AUGMENT.brightness),
    contrast: amount('contrast', o.contrast, DEFAULT_AUGMENT.contrast),
    valueRange: [valueRange[0], valueRange[1]],
    fillMode,
    fillValue: o.fillValue ?? DEFAULT_AUGMENT.fillValue,
  };
}

/**
 * Draws the random parameters for `n` images. Deterministic in `seed`; independent of the backend.
 * @param n Number of images.
 * @param options Resolved options.
 * @param seed Integer seed.
 */
export function sampleAugmentParams(n: number, options: ResolvedAugmentOptions, seed: number): AugmentParams[] {
  const rng = createRng(mixSeed(seed, 0x5a17));
  const uniform = (max: number) => (max === 0 ? 0 : (2 * rng() - 1) * max);
  const span = options.valueRange[1] - options.valueRange[0];
  const out: AugmentParams[] = [];
  for (let i = 0; i < n; i++) {
    // Always draw every value so that switching one transform off does not change the others' draws.
    const flip = rng() < 0.5;
    const angle = uniform(options.rotation) * 2 * Math.PI;
    const zoom = 1 + uniform(options.zoom);
    const brightness = uniform(options.brightness) * span;
    const contrast = 1 + uniform(options.contrast);
    out.push({ flip: options.flip && flip, angle, zoom, brightness, contrast });
  }
  return out;
}

/**
 * The 8-parameter projective transform (output pixel -> input pixel, as `tf.image.transform` takes it) for a
 * flip, then zoom, then rotation about the image centre `((W-1)/2, (H-1)/2)`.
 * @param p Parameters of one image.
 * @param height Image height.
 * @param width Image width.
 */
export function geometricTransform(p: AugmentParams, height: number, width: number): number[] {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const c = Math.cos(p.angle);
  const s = Math.sin(p.angle);
  const f = p.flip ? -1 : 1;
  // input = centre + R(angle) * Z(zoom) * F(flip) * (output - centre)
  const a0 = c * p.zoom * f;
  const a1 = -s * p.zoom;
  const b0 = s * p.zoom * f;
  const b1 = c * p.zoom;
  return [a0, a1, cx - a0 * cx - a1 * cy, b0, b1, cy - b0 * cx - b1 * cy, 0, 0];
}

/**
 * Applies random augmentation to a batch of images `[N, H, W, C]` (values in `valueRange`). Geometric transforms
 * (flip, rotation, zoom) are one bilinear `tf.image.transform` (kernel `Transform`) on backends that have one (cpu,
 * wasm, webgl), and the same sampling computed in JavaScript on backends that have none (tfjs-node 4.22), without
 * registering anything with tfjs; contrast then brightness follow, and the result is clipped to `valueRange`.
 * The input is not disposed; the returned tensor is the caller's.
 * @param images Batch of images.
 * @param options Augmentation options (`true` = defaults).
 * @param seed Integer seed: the same seed and input give the same output.
 * @returns The augmented batch (a new tensor, even when every transform is off).
 */
export function augmentBatch(images: tf.Tensor4D, options: AugmentOptions | boolean | ResolvedAugmentOptions, seed: number): tf.Tensor4D {
  const o = isResolved(options) ? options : resolveAugmentOptions(options);
  if (o === null) return tf.clone(images);
  const [n, h, w] = images.shape;
  const params = sampleAugmentParams(n, o, seed);
  const geometric = o.flip || o.rotation > 0 || o.zoom > 0;
  // Backends without a Transform kernel (tfjs-node 4.22) get the same sampling computed in JS on the values, called
  // directly: nothing is registered with tfjs, so other models in the process see tfjs' registry unchanged.
  const native = geometric && hasTransformKernel();
  // 'reflect' (mirror about the edge) uses the Transform kernel's own mode where it is right (cpu, and the portable
  // one); where it is not (tfjs 4.22 wasm wraps around instead), the image is mirror-padded and sampled with 'nearest'.
  const padForReflect = native && o.fillMode === 'reflect' && !nativeReflectWorks() ? Math.min(h, w) >> 1 : 0;
  return tf.tidy(() => {
    const source = padForReflect > 0 ? symmetricPad(images, padForReflect) : images;
    const fill = padForReflect > 0 ? 'nearest' : o.fillMode;
    // Per image: the cpu backend's Transform kernel (tfjs 4.22) handles only the first image of a batch, and
    // per-image rank-0 scalars take the fast path of the cpu backend's binary ops (broadcasting is ~10x slower).
    const parts = tf.split(source, n, 0) as tf.Tensor4D[];
    const out = parts.map((part, i) => {
      const p = params[i];
      let x: tf.Tensor = part;
      if (geometric) {
        const m = geometricTransform(p, h, w);
        m[2] += padForReflect;
        m[5] += padForReflect;
        x = native
          ? tf.image.transform(part, tf.tensor2d(m, [1, 8]), 'bilinear', fill, o.fillValue, [h, w])
          : portableTransform(part, m, 'bilinear', fill, o.fillValue, [h, w]);
      }
      if (o.contrast > 0) {
        // (x - mean) * c + mean  =  x * c + mean * (1 - c)
        x = tf.add(tf.mul(x, tf.scalar(p.contrast)), tf.mul(tf.mean(x), tf.scalar(1 - p.contrast)));
      }
      if (o.brightness > 0) x = tf.add(x, tf.scalar(p.brightness));
      return tf.clipByValue(x, o.valueRange[0], o.valueRange[1]);
    });
    return tf.concat(out, 0) as tf.Tensor4D;
  });
}

// Whether the active backend's Transform kernel implements 'reflect' like TensorFlow (d c b a | a b c d | d c b a):
// probed once per backend on a 1x4 image shifted by 2, which must give [2, 3, 3, 2] (wrap-around gives [2, 3, 0, 1]).
const reflectProbe = new Map<string, boolean>();
function nativeReflectWorks(): boolean {
  const backend = tf.getBackend();
  let ok = reflectProbe.get(backend);
  if (ok === undefined) {
    const v = tf.tidy(() =>
      tf.image.transform(tf.tensor4d([0, 1, 2, 3], [1, 1, 4, 1]), tf.tensor2d([[1, 0, 2, 0, 1, 0, 0, 0]]), 'bilinear', 'reflect').dataSync(),
    );
    ok = v[0] === 2 && v[1] === 3 && v[2] === 3 && v[3] === 2;
    reflectProbe.set(backend, ok);
  }
  return ok;
}

// Symmetric ('d c b a | a b c d') padding of H and W by `pad` from slices, reverses and concats: the same as
// tf.mirrorPad(..., 'symmetric') but about 10x faster on the cpu backend, whose MirrorPad kernel is slow.
function symmetricPad(x: tf.Tensor4D, pad: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const top = tf.reverse(tf.slice(x, [0, 0, 0, 0], [n, pad, w, c]), 1);
  const bottom = tf.reverse(tf.slice(x, [0, h - pad, 0, 0], [n, pad, w, c]), 1);
  const tall = tf.concat([top, x, bottom], 1);
  const left = tf.reverse(tf.slice(tall, [0, 0, 0, 0], [n, h + 2 * pad, pad, c]), 2);
  const right = tf.reverse(tf.slice(tall, [0, 0, w - pad, 0], [n, h + 2 * pad, pad, c]), 2);
  return tf.concat([left, tall, right], 2);
}

function isResolved(o: unknown): o is ResolvedAugmentOptions {
  return typeof o === 'object' && o !== null && typeof (o as ResolvedAugmentOptions).rotation === 'number' &&
    Array.isArray((o as ResolvedAugmentOptions).valueRange) && typeof (o as ResolvedAugmentOptions).fillMode === 'string' &&
    typeof (o as ResolvedAugmentOptions).flip === 'boolean' && typeof (o as ResolvedAugmentOptions).zoom === 'number' &&
    typeof (o as ResolvedAugmentOptions).brightness === 'number' && typeof (o as ResolvedAugmentOptions).contrast === 'number' &&
    typeof (o as ResolvedAugmentOptions).fillValue === 'number';
}
