// PNG encoding with pngjs, imported lazily so that importing neurostagenet in a browser bundle does not pull
// in pngjs (which needs Node's zlib/stream, or bundler polyfills of them).

import { ExplainError } from './errors.js';
import type { RgbaImage } from './overlay.js';

interface PngJsModule {
  PNG: {
    sync: { write(png: { width: number; height: number; data: Uint8Array }, options?: Record<string, unknown>): Uint8Array };
  };
}

/**
 * Encodes an RGBA image as PNG bytes (8-bit RGBA) with pngjs.
 *
 * Works in Node. In a browser, pngjs needs polyfills of Node's `zlib`, `stream` and `Buffer` from the bundler;
 * drawing the pixels onto a canvas (`new ImageData(image.data, w, h)`) and `canvas.toBlob()` is the lighter way.
 *
 * @param image RGBA pixels and size, e.g. from {@link sideBySide} or `{ data: overlayHeatmap(...), width, height }`.
 * @returns The PNG file's bytes.
 */
export async function encodePng(image: RgbaImage): Promise<Uint8Array> {
  const { data, width, height } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || data.length !== width * height * 4) {
    throw new ExplainError(`encodePng: ${data.length} bytes do not make a ${width} x ${height} RGBA image.`);
  }
  const mod = (await import('pngjs')) as unknown as PngJsModule & { default?: PngJsModule };
  const PNG = mod.PNG ?? mod.default?.PNG;
  if (PNG == null) throw new ExplainError('encodePng: could not load pngjs.');
  const bytes = PNG.sync.write({ width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Writes an RGBA image to a PNG file (Node only).
 *
 * @param path Output file path.
 * @param image RGBA pixels and size.
 */
export async function writePng(path: string, image: RgbaImage): Promise<void> {
  const bytes = await encodePng(image);
  const fs = await import('node:fs/promises');
  await fs.writeFile(path, bytes);
}
