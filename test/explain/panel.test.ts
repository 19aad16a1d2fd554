import { describe, expect, it } from 'vitest';
import { decode } from 'fast-png';
import { ExplainError } from '../../src/explain/index.js';
import { renderExplanationPng, type ExplanationPanelInput } from '../../src/node/index.js';
import { colormapLut } from '../../src/explain/overlay.js';

const W = 16;
const H = 16;
const names = ['MildDemented', 'ModerateDemented', 'NonDemented', 'VeryMildDemented'];

function explanation(status: ExplanationPanelInput['status']): ExplanationPanelInput {
  const heatmap = new Float32Array(W * H);
  if (status === 'ok') for (let i = 0; i < W * H; i++) heatmap[i] = (i % W) / (W - 1);
  return { heatmap, width: W, height: H, classIndex: 2, predictedClass: 2, probabilities: [0.1, 0.05, 0.8, 0.05], status };
}

/** Counts pixels of a colour (±tol per channel) in an RGBA PNG. */
function count(png: ReturnType<typeof decode>, rgb: readonly number[], tol = 12): number {
  const c = png.channels;
  let n = 0;
  for (let i = 0; i < png.width * png.height; i++) {
    const d = png.data;
    if (Math.abs(d[i * c] - rgb[0]) <= tol && Math.abs(d[i * c + 1] - rgb[1]) <= tol && Math.abs(d[i * c + 2] - rgb[2]) <= tol) n++;
  }
  return n;
}

describe('renderExplanationPng', () => {
  const gray = Float32Array.from({ length: W * H }, (_, i) => (Math.floor(i / W) * 255) / (H - 1));

  it('draws three up-scaled panels, a header and a colour scale with both ends of the colour map', async () => {
    const png = decode(await renderExplanationPng(gray, explanation('ok'), { classNames: names, trueClass: 2, caption: 'layercam · x' }));
    // Default scale: ceil(192 / 16) = 12 -> panels 192 px high, 3 x 192 + 2 gaps of 6 wide, plus padding and scale.
    expect(png.height).toBe(58 + 18 + 192 + 8);
    expect(png.width).toBe(8 + 3 * 192 + 2 * 6 + 64);
    const lut = colormapLut('jet');
    const top = [lut[255 * 3], lut[255 * 3 + 1], lut[255 * 3 + 2]];
    const bottom = [lut[0], lut[1], lut[2]];
    // The scale bar alone is 12 px of colour (14 wide minus the frame) per row: both ends appear.
    expect(count(png, top, 2)).toBeGreaterThan(12);
    expect(count(png, bottom, 2)).toBeGreaterThan(12);
    // Dark header text pixels exist above the images.
    let dark = 0;
    for (let y = 0; y < 58; y++) for (let x = 0; x < png.width; x++) if (png.data[(y * png.width + x) * png.channels] < 80) dark++;
    expect(dark).toBeGreaterThan(200);
  });

  it('marks a flat map in red and an ok map not', async () => {
    const red = [0xc6, 0x28, 0x28];
    const flat = decode(await renderExplanationPng(gray, explanation('flat'), { classNames: names }));
    const ok = decode(await renderExplanationPng(gray, explanation('ok'), { classNames: names, trueClass: 0 }));
    expect(count(flat, red, 20)).toBeGreaterThan(50);
    expect(count(ok, red, 20)).toBe(0);
  });

  it('rejects mismatched sizes and class indices', async () => {
    await expect(renderExplanationPng(gray.subarray(1), explanation('ok'), { classNames: names })).rejects.toThrow(ExplainError);
    await expect(renderExplanationPng(gray, explanation('ok'), { classNames: names, trueClass: 7 })).rejects.toThrow(/trueClass is 7/);
    await expect(renderExplanationPng(gray, explanation('ok'), { classNames: names, scale: 0 })).rejects.toThrow(/scale/);
  });
});
