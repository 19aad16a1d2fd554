// Colour maps and overlays: heatmap values in [0, 1] -> RGBA pixels a user can save or draw.

import { ExplainError } from './errors.js';

/** Colour map for heatmaps: `'jet'` (classic Grad-CAM look) or `'viridis'` (perceptually uniform). */
export type Colormap = 'jet' | 'viridis';

/** An RGBA image: `width * height * 4` bytes, row-major, straight alpha. */
export interface RgbaImage {
  /** RGBA bytes. */
  data: Uint8ClampedArray;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** Options of {@link overlayHeatmap}. */
export interface OverlayOptions {
  /** Colour map (default `'jet'`). */
  colormap?: Colormap;
  /** Weight of the heatmap colour in the blend, 0..1 (default 0.4): `out = (1 - alpha)·gray + alpha·colour`. */
  alpha?: number;
  /** Value of white in `gray` (default 255, the data pipeline's range; use 1 for images in 0..1). */
  grayMax?: number;
}

// matplotlib's viridis (CC0), 256 entries of 8-bit RGB, hex-encoded (made with matplotlib 3.6.3:
// round(viridis(linspace(0, 1, 256)) * 255)).
const VIRIDIS_HEX =
  '44015444025645045745055946075a46085c460a5d460b5e470d60470e61471063471164471365481467481668481769' +
  '48186a481a6c481b6d481c6e481d6f481f70482071482173482374482475482576482677482878482979472a7a472c7a' +
  '472d7b472e7c472f7d46307e46327e46337f463480453581453781453882443983443a83443b84433d84433e85423f85' +
  '4240864241864142874144874045884046883f47883f48893e49893e4a893e4c8a3d4d8a3d4e8a3c4f8a3c508b3b518b' +
  '3b528b3a538b3a548c39558c39568c38588c38598c375a8c375b8d365c8d365d8d355e8d355f8d34608d34618d33628d' +
  '33638d32648e32658e31668e31678e31688e30698e306a8e2f6b8e2f6c8e2e6d8e2e6e8e2e6f8e2d708e2d718e2c718e' +
  '2c728e2c738e2b748e2b758e2a768e2a778e2a788e29798e297a8e297b8e287c8e287d8e277e8e277f8e27808e26818e' +
  '26828e26828e25838e25848e25858e24868e24878e23888e23898e238a8d228b8d228c8d228d8d218e8d218f8d21908d' +
  '21918c20928c20928c20938c1f948c1f958b1f968b1f978b1f988b1f998a1f9a8a1e9b8a1e9c891e9d891f9e891f9f88' +
  '1fa0881fa1881fa1871fa28720a38620a48621a58521a68522a78522a88423a98324aa8325ab8225ac8226ad8127ad81' +
  '28ae8029af7f2ab07f2cb17e2db27d2eb37c2fb47c31b57b32b67a34b67935b77937b87838b9773aba763bbb753dbc74' +
  '3fbc7340bd7242be7144bf7046c06f48c16e4ac16d4cc26c4ec36b50c46a52c56954c56856c66758c7655ac8645cc863' +
  '5ec96260ca6063cb5f65cb5e67cc5c69cd5b6ccd5a6ece5870cf5773d05675d05477d1537ad1517cd2507fd34e81d34d' +
  '84d44b86d54989d5488bd6468ed64590d74393d74195d84098d83e9bd93c9dd93ba0da39a2da37a5db36a8db34aadc32' +
  'addc30b0dd2fb2dd2db5de2bb8de29bade28bddf26c0df25c2df23c5e021c8e020cae11fcde11dd0e11cd2e21bd5e21a' +
  'd8e219dae319dde318dfe318e2e418e5e419e7e419eae51aece51befe51cf1e51df4e61ef6e620f8e621fbe723fde725';

// matplotlib's jet as piecewise-linear segments: [x, value] per channel (matplotlib's _jet_data).
const JET_SEGMENTS: readonly (readonly [number, number])[][] = [
  [[0, 0], [0.35, 0], [0.66, 1], [0.89, 1], [1, 0.5]],
  [[0, 0], [0.125, 0], [0.375, 1], [0.64, 1], [0.91, 0], [1, 0]],
  [[0, 0.5], [0.11, 1], [0.34, 1], [0.65, 0], [1, 0]],
];

function interpolateSegments(segments: readonly (readonly [number, number])[], x: number): number {
  for (let i = 1; i < segments.length; i++) {
    const [x1, y1] = segments[i];
    if (x <= x1) {
      const [x0, y0] = segments[i - 1];
      return x1 === x0 ? y1 : y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
    }
  }
  return segments[segments.length - 1][1];
}

const luts = new Map<Colormap, Uint8Array>();

/**
 * The 256-entry RGB lookup table of a colour map (`768` bytes), as matplotlib samples it: entry `i` is the
 * colour at `i / 255`.
 */
export function colormapLut(colormap: Colormap): Uint8Array {
  const cached = luts.get(colormap);
  if (cached) return cached;
  const lut = new Uint8Array(256 * 3);
  if (colormap === 'viridis') {
    for (let i = 0; i < lut.length; i++) lut[i] = parseInt(VIRIDIS_HEX.slice(2 * i, 2 * i + 2), 16);
  } else if (colormap === 'jet') {
    for (let i = 0; i < 256; i++) {
      for (let c = 0; c < 3; c++) lut[3 * i + c] = Math.round(interpolateSegments(JET_SEGMENTS[c], i / 255) * 255);
    }
  } else {
    throw new ExplainError(`Unknown colormap '${String(colormap)}'; use 'jet' or 'viridis'.`);
  }
  luts.set(colormap, lut);
  return lut;
}

/** LUT index of a value in [0, 1] (matplotlib's rule: floor(v·256), clipped; NaN counts as 0). */
function lutIndex(v: number): number {
  if (!(v > 0)) return 0;
  return v >= 1 ? 255 : Math.min(255, Math.floor(v * 256));
}

/**
 * Colours a heatmap: values in [0, 1] -> RGBA (opaque).
 *
 * @param heatmap Row-major values in [0, 1] (e.g. {@link Explanation.heatmap}); outside values are clipped.
 * @param width Width in pixels.
 * @param height Height in pixels.
 * @param colormap Colour map (default `'jet'`).
 */
export function colorizeHeatmap(heatmap: ArrayLike<number>, width: number, height: number, colormap: Colormap = 'jet'): RgbaImage {
  checkSize(heatmap.length, width, height, 'heatmap');
  const lut = colormapLut(colormap);
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const j = lutIndex(heatmap[i]) * 3;
    data[4 * i] = lut[j];
    data[4 * i + 1] = lut[j + 1];
    data[4 * i + 2] = lut[j + 2];
    data[4 * i + 3] = 255;
  }
  return { data, width, height };
}

/**
 * Blends a coloured heatmap over a grayscale image: `out = (1 - alpha)·gray + alpha·colour`, opaque.
 *
 * @param gray Grayscale pixels, row-major, `0..grayMax` (default 0..255), same length as `heatmap`.
 * @param heatmap Values in [0, 1], row-major, e.g. {@link Explanation.heatmap}.
 * @param options Colour map (default jet), alpha (default 0.4) and the gray range.
 * @returns RGBA pixels (`Uint8ClampedArray`, `4 * length` bytes).
 */
export function overlayHeatmap(
  gray: ArrayLike<number>,
  heatmap: ArrayLike<number>,
  options: OverlayOptions = {},
): Uint8ClampedArray {
  const alpha = options.alpha ?? 0.4;
  const grayMax = options.grayMax ?? 255;
  if (!(alpha >= 0 && alpha <= 1)) throw new ExplainError(`overlayHeatmap: alpha is ${alpha}; it must be in [0, 1].`);
  if (!(grayMax > 0)) throw new ExplainError(`overlayHeatmap: grayMax is ${grayMax}; it must be > 0.`);
  if (gray.length !== heatmap.length) {
    throw new ExplainError(`overlayHeatmap: the image has ${gray.length} pixels but the heatmap has ${heatmap.length}.`);
  }
  const lut = colormapLut(options.colormap ?? 'jet');
  const out = new Uint8ClampedArray(gray.length * 4);
  const g = 255 / grayMax;
  for (let i = 0; i < gray.length; i++) {
    const base = (1 - alpha) * clamp255(gray[i] * g);
    const j = lutIndex(heatmap[i]) * 3;
    out[4 * i] = base + alpha * lut[j];
    out[4 * i + 1] = base + alpha * lut[j + 1];
    out[4 * i + 2] = base + alpha * lut[j + 2];
    out[4 * i + 3] = 255;
  }
  return out;
}

function clamp255(v: number): number {
  return v > 255 ? 255 : v > 0 ? v : 0;
}

function checkSize(length: number, width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || width * height !== length) {
    throw new ExplainError(`${what} has ${length} values, which does not match ${width} x ${height}.`);
  }
}

/**
 * Grayscale pixels (`0..grayMax`, default 0..255) -> opaque RGBA image.
 *
 * @param gray Row-major grayscale pixels.
 * @param width Width in pixels.
 * @param height Height in pixels.
 * @param grayMax Value of white (default 255).
 */
export function grayToRgba(gray: ArrayLike<number>, width: number, height: number, grayMax = 255): RgbaImage {
  checkSize(gray.length, width, height, 'image');
  const data = new Uint8ClampedArray(width * height * 4);
  const g = 255 / grayMax;
  for (let i = 0; i < width * height; i++) {
    const v = clamp255(gray[i] * g);
    data[4 * i] = v;
    data[4 * i + 1] = v;
    data[4 * i + 2] = v;
    data[4 * i + 3] = 255;
  }
  return { data, width, height };
}

/** Options of {@link sideBySide}. */
export interface SideBySideOptions {
  /** Pixels between panels (default 4). */
  gap?: number;
  /** Gap colour, RGBA (default white). */
  background?: readonly [number, number, number, number];
  /** Integer up-scaling of every panel, nearest neighbour (default 1), for easier viewing of small images. */
  scale?: number;
}

/**
 * Places RGBA images left to right (e.g. input | overlay | heatmap), top-aligned.
 *
 * @param panels Images to place; heights may differ.
 * @param options Gap, background colour and scale.
 */
export function sideBySide(panels: readonly RgbaImage[], options: SideBySideOptions = {}): RgbaImage {
  if (panels.length === 0) throw new ExplainError('sideBySide needs at least one image.');
  const gap = options.gap ?? 4;
  const scale = options.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1) throw new ExplainError(`sideBySide: scale is ${scale}; it must be a positive integer.`);
  const bg = options.background ?? [255, 255, 255, 255];
  for (const p of panels) checkSize(p.data.length / 4, p.width, p.height, 'panel');
  const width = panels.reduce((s, p) => s + p.width * scale, 0) + gap * (panels.length - 1);
  const height = Math.max(...panels.map((p) => p.height * scale));
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set(bg, 4 * i);
  let x0 = 0;
  for (const p of panels) {
    for (let y = 0; y < p.height * scale; y++) {
      for (let x = 0; x < p.width * scale; x++) {
        const src = 4 * (Math.floor(y / scale) * p.width + Math.floor(x / scale));
        const dst = 4 * (y * width + x0 + x);
        data[dst] = p.data[src];
        data[dst + 1] = p.data[src + 1];
        data[dst + 2] = p.data[src + 2];
        data[dst + 3] = p.data[src + 3];
      }
    }
    x0 += p.width * scale + gap;
  }
  return { data, width, height };
}
