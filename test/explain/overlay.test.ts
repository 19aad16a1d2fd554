import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode as decodePng } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { ExplainError, overlayHeatmap } from '../../src/index.js';
import { colorizeHeatmap, colormapLut, encodePng, grayToRgba, sideBySide } from '../../src/explain/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ref = JSON.parse(readFileSync(path.join(here, '../fixtures/explain/reference.json'), 'utf8')) as {
  colormaps: { values: number[]; jet: number[][]; viridis: number[][] };
};

describe('colour maps', () => {
  for (const name of ['jet', 'viridis'] as const) {
    it(`${name} matches matplotlib to within rounding`, () => {
      const { values } = ref.colormaps;
      const rgba = colorizeHeatmap(values, values.length, 1, name);
      for (let i = 0; i < values.length; i++) {
        for (let c = 0; c < 3; c++) expect(Math.abs(rgba.data[4 * i + c] - ref.colormaps[name][i][c])).toBeLessThanOrEqual(0.5 + 1e-6);
        expect(rgba.data[4 * i + 3]).toBe(255);
      }
      expect(colormapLut(name).length).toBe(768);
    });
  }
});

describe('overlayHeatmap', () => {
  it('blends (1 - alpha)·gray + alpha·colour, alpha 0.4 by default', () => {
    const gray = [0, 100, 255, 50];
    const heat = [0, 1, 0.5, Number.NaN];
    const out = overlayHeatmap(gray, heat, { colormap: 'jet' });
    const lut = colormapLut('jet');
    expect(out.length).toBe(16);
    const idx = [0, 255, 128, 0];
    for (let i = 0; i < 4; i++) {
      for (let c = 0; c < 3; c++) expect(out[4 * i + c]).toBe(Math.round(0.6 * gray[i] + 0.4 * lut[3 * idx[i] + c]));
      expect(out[4 * i + 3]).toBe(255);
    }
    // jet(0) is dark blue, jet(1) dark red.
    expect([lut[0], lut[1], lut[2]]).toEqual([0, 0, 128]);
    expect([lut[765], lut[766], lut[767]]).toEqual([128, 0, 0]);
    const plain = overlayHeatmap([0.5], [1], { alpha: 0, grayMax: 1 });
    expect(Array.from(plain)).toEqual([128, 128, 128, 255]);
  });

  it('rejects mismatched sizes and bad alpha', () => {
    expect(() => overlayHeatmap([1, 2], [0.5], {})).toThrow(ExplainError);
    expect(() => overlayHeatmap([1], [0.5], { alpha: 2 })).toThrow(/alpha/);
  });
});

describe('PNG and side-by-side', () => {
  it('encodes RGBA that a PNG decoder (fast-png) reads back unchanged', async () => {
    const img = sideBySide([grayToRgba([0, 64, 128, 255], 2, 2), colorizeHeatmap([0, 0.25, 0.5, 1], 2, 2, 'viridis')], { gap: 1, scale: 2 });
    expect(img.width).toBe(2 * 2 + 1 + 2 * 2);
    expect(img.height).toBe(4);
    const bytes = await encodePng(img);
    expect(Array.from(bytes.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]); // "PNG"
    const decoded = decodePng(bytes, { checkCrc: true });
    expect([decoded.width, decoded.height, decoded.channels, decoded.depth]).toEqual([img.width, img.height, 4, 8]);
    expect(Buffer.compare(Buffer.from(decoded.data), Buffer.from(img.data))).toBe(0);
    // Panel 1 pixel (1,0) scaled x2 occupies x = 2..3; the gap (x = 4) is white; panel 2 starts at x = 5.
    const at = (x: number, y: number) => Array.from(img.data.subarray(4 * (y * img.width + x), 4 * (y * img.width + x) + 4));
    expect(at(3, 1)).toEqual([64, 64, 64, 255]);
    expect(at(4, 0)).toEqual([255, 255, 255, 255]);
    const v = colormapLut('viridis');
    expect(at(5, 0)).toEqual([v[0], v[1], v[2], 255]);
  });

  it('rejects a wrong-size image', async () => {
    await expect(encodePng({ data: new Uint8ClampedArray(12), width: 2, height: 2 })).rejects.toThrow(ExplainError);
  });
});
