// PNG encoding with fast-png (pure JavaScript, deflate by fflate): the same code in Node and in browsers, with no
// Node built-ins or bundler polyfills. Writing a file is the only Node-only part (writePng).

import { encode as encodeFastPng } from 'fast-png';
import { nodeFs } from '../env/node-builtin.js';
import { ExplainError } from './errors.js';
import type { RgbaImage } from './overlay.js';

/**
 * Encodes an RGBA image as PNG bytes (8-bit RGBA) with fast-png. Works the same in Node and in browsers.
 *
 * @param image RGBA pixels and size, e.g. from {@link sideBySide} or `{ data: overlayHeatmap(...), width, height }`.
 * @returns The PNG file's bytes.
 */
export async function encodePng(image: RgbaImage): Promise<Uint8Array> {
  const { data, width, height } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || data.length !== width * height * 4) {
    throw new ExplainError(`encodePng: ${data.length} bytes do not make a ${width} x ${height} RGBA image.`);
  }
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return encodeFastPng({ width, height, data: pixels, depth: 8, channels: 4 });
}

/**
 * Writes an RGBA image to a PNG file (Node only; in a browser use {@link encodePng} and offer the bytes as a download).
 *
 * @param path Output file path.
 * @param image RGBA pixels and size.
 * @throws NodeRequiredError outside Node.
 */
export async function writePng(path: string, image: RgbaImage): Promise<void> {
  const fs = nodeFs(`writing the PNG file '${path}'`, 'in a browser, encode it with encodePng() and offer the bytes as a download');
  const bytes = await encodePng(image);
  await fs.writeFile(path, bytes);
}
