// One labelled explanation figure (Node, optional peer @napi-rs/canvas): "input | overlay | heatmap" with the
// true and predicted stage, the explained class, a flat-map mark and a colour scale. The demo, the CLI's
// `explain` and examples/explain.ts all draw their PNGs with it.

import { canvasPeer, text } from '../metrics/plots.js';
import { ExplainError } from './errors.js';
import type { MapStatus } from './gradcam.js';
import { colorizeHeatmap, colormapLut, grayToRgba, overlayHeatmap, sideBySide, type Colormap, type RgbaImage } from './overlay.js';

/** What {@link renderExplanationPng} draws of an explanation (an `Explanation` has all of it). */
export interface ExplanationPanelInput {
  /** Heatmap in [0, 1], row-major, `width * height`. */
  heatmap: Float32Array;
  /** Image width (pixels). */
  width: number;
  /** Image height (pixels). */
  height: number;
  /** The class explained. */
  classIndex: number;
  /** The predicted class. */
  predictedClass: number;
  /** Class probabilities (replace by calibrated ones with {@link ExplanationPanelOptions.probabilities}). */
  probabilities: ArrayLike<number>;
  /** `'ok'`, `'flat'` or `'non-finite'`: anything but `'ok'` is marked on the figure. */
  status: MapStatus;
}

/** Options of {@link renderExplanationPng}. */
export interface ExplanationPanelOptions {
  /** Class names, in label order (e.g. `net.classNames`). */
  classNames: readonly string[];
  /** The true class, when known (a labelled Parquet row); omitted for an unlabelled image. */
  trueClass?: number;
  /** Probabilities shown for the prediction (default the explanation's; pass calibrated ones to show those). */
  probabilities?: ArrayLike<number>;
  /** Method and layer named in the caption, e.g. `"gradcam · se_excite"`. */
  caption?: string;
  /** Colour map of overlay, heatmap and scale (default `'jet'`). */
  colormap?: Colormap;
  /** Overlay alpha (default 0.4). */
  alpha?: number;
  /** Integer up-scaling of the images (default: the smallest that makes them at least 192 px wide). */
  scale?: number;
  /** Value of white in the grayscale image (default 255). */
  grayMax?: number;
}

const HEADER = 58;
const LABEL = 18;
const BAR_WIDTH = 14;
const BAR_AREA = 64;
const PAD = 8;
const FLAG = '#c62828';

/**
 * Draws one explanation as a labelled PNG: "input | overlay | heatmap" (nearest-neighbour up-scaled), above
 * them the true stage (when known), the predicted stage with its probability and the explained class, a red
 * "map flat" / "map non-finite" mark when the map is not usable (it is then drawn as zeros: no place was
 * singled out), and a colour scale (0 = least, 1 = most class evidence in this image) right of the heatmap.
 * Needs the optional peer `@napi-rs/canvas` (an OptionalDependencyError names the install command).
 *
 * @param gray The image's grayscale pixels (`width * height`, 0..`grayMax`).
 * @param explanation The explanation (heatmap, classes, probabilities, status).
 * @param options Class names, true class, probabilities, caption, colour map, alpha, scale.
 * @returns The PNG file's bytes.
 * @throws ExplainError (from `neurostagenet/explain`) for mismatched sizes or class indices.
 */
export async function renderExplanationPng(
  gray: ArrayLike<number>,
  explanation: ExplanationPanelInput,
  options: ExplanationPanelOptions,
): Promise<Uint8Array> {
  const { width: w, height: h, heatmap } = explanation;
  if (gray.length !== w * h || heatmap.length !== w * h) {
    throw new ExplainError(`renderExplanationPng: the image has ${gray.length} pixels and the heatmap ${heatmap.length}; expected ${w} x ${h}.`);
  }
  const names = options.classNames;
  const nameOf = (c: number, what: string): string => {
    if (!Number.isInteger(c) || c < 0 || c >= names.length) throw new ExplainError(`renderExplanationPng: ${what} is ${c}; there are ${names.length} class names.`);
    return names[c];
  };
  const colormap = options.colormap ?? 'jet';
  const scale = options.scale ?? Math.max(1, Math.ceil(192 / w));
  if (!Number.isInteger(scale) || scale < 1) throw new ExplainError(`renderExplanationPng: scale is ${scale}; it must be a positive integer.`);
  const panels: RgbaImage[] = [
    grayToRgba(gray, w, h, options.grayMax),
    { data: overlayHeatmap(gray, heatmap, { colormap, alpha: options.alpha, grayMax: options.grayMax }), width: w, height: h },
    colorizeHeatmap(heatmap, w, h, colormap),
  ];
  const gap = 6;
  const strip = sideBySide(panels, { gap, scale });
  const width = PAD + strip.width + BAR_AREA;
  const height = HEADER + LABEL + strip.height + PAD;

  const { canvas, ctx } = await canvasWithImage(width, height, strip, PAD, HEADER + LABEL);

  const probs = options.probabilities ?? explanation.probabilities;
  const predicted = nameOf(explanation.predictedClass, 'predictedClass');
  const p = probs[explanation.predictedClass];
  const truth = options.trueClass === undefined ? 'true: unknown' : `true: ${nameOf(options.trueClass, 'trueClass')}`;
  const correct = options.trueClass === undefined ? '' : options.trueClass === explanation.predictedClass ? '  ✓' : '  ✗';
  text(ctx, `${truth}   predicted: ${predicted} (p = ${Number(p).toFixed(2)})${correct}`, PAD, 20, { size: 14, weight: 'bold' });
  const explained = `explains: ${nameOf(explanation.classIndex, 'classIndex')}${options.caption ? ` · ${options.caption}` : ''}`;
  text(ctx, explained, PAD, 40, { size: 12, color: '#555555' });
  if (explanation.status !== 'ok') {
    text(ctx, `map ${explanation.status}: no region singled out (drawn as zeros)`, PAD, 54, { size: 12, weight: 'bold', color: FLAG });
  }
  const panelW = w * scale;
  ['input', 'overlay', 'heatmap'].forEach((label, i) => {
    text(ctx, label, PAD + i * (panelW + gap) + panelW / 2, HEADER + LABEL - 5, { size: 12, align: 'center', color: '#333333' });
  });

  // Colour scale as tall as the images.
  drawColourScale(ctx, colormap, PAD + strip.width + 10, HEADER + LABEL, strip.height);
  text(ctx, 'heat', PAD + strip.width + 10 + BAR_WIDTH / 2, HEADER + LABEL - 5, { size: 11, align: 'center', color: '#333333' });
  return canvas.encode('png');
}

/**
 * A white canvas of `width` x `height` with `image` drawn at (x, y) (internal: the explanation panel and the scan
 * montage start alike).
 */
export async function canvasWithImage(width: number, height: number, image: RgbaImage, x: number, y: number) {
  const { createCanvas } = await canvasPeer.load();
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  const imageData = ctx.createImageData(image.width, image.height);
  imageData.data.set(image.data);
  ctx.putImageData(imageData, x, y);
  return { canvas, ctx };
}

/**
 * Draws a vertical colour scale (internal): the colour map from 0 (bottom) to 1 (top) in a framed bar at (x, y),
 * labelled "1 high" and "0 low".
 */
export function drawColourScale(ctx: Awaited<ReturnType<typeof canvasWithImage>>['ctx'], colormap: Colormap, x: number, y: number, height: number): void {
  const lut = colormapLut(colormap);
  for (let r = 0; r < height; r++) {
    const j = Math.min(255, Math.floor((1 - r / Math.max(1, height - 1)) * 255)) * 3;
    ctx.fillStyle = `rgb(${lut[j]}, ${lut[j + 1]}, ${lut[j + 2]})`;
    ctx.fillRect(x, y + r, BAR_WIDTH, 1);
  }
  ctx.strokeStyle = '#444444';
  ctx.lineWidth = 1;
  ctx.strokeRect(x + 0.5, y + 0.5, BAR_WIDTH - 1, height - 1);
  text(ctx, '1 high', x + BAR_WIDTH + 4, y + 6, { size: 11, baseline: 'middle' });
  text(ctx, '0 low', x + BAR_WIDTH + 4, y + height - 6, { size: 11, baseline: 'middle' });
}
