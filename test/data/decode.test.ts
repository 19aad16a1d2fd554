import { describe, expect, it, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { decodeImage, readImageHeader, sniffImageFormat, resizeBilinearGray, ImageDecodeError, UnsupportedImageFormatError, ImageSizeError } from '../../src/data/index.js';
import { DataError, NeuroStageNetError } from '../../src/index.js';
import { decodeRaw, finishDecode } from '../../src/data/decode.js';
import { decodeInWorkers } from '../../src/data/decode-pool.js';
import { encodePng, pseudoRandom, repoRoot } from './helpers.js';

const fixtures = path.join(repoRoot, 'test/fixtures/data');
const ref = JSON.parse(readFileSync(path.join(fixtures, 'jpeg_reference.json'), 'utf8')) as {
  files: Record<string, { width: number; height: number; channels: number; uint8: string; luma_float32?: string }>;
  resize_sample_row0_100x90: string;
};
const b64u8 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const b64f32 = (s: string) => { const b = Buffer.from(s, 'base64'); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); };
const jpegFile = (name: string) => new Uint8Array(readFileSync(path.join(fixtures, 'jpeg', name)));
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };
const meanAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]); return s / a.length; };

beforeAll(async () => { await tf.setBackend('cpu'); });

describe('sniffImageFormat / readImageHeader', () => {
  it('recognises formats from magic bytes', () => {
    expect(sniffImageFormat(jpegFile('sample-row0.jpg'))).toBe('jpeg');
    expect(sniffImageFormat(encodePng({ width: 1, height: 1, colorType: 0, bitDepth: 8, samples: [0] }))).toBe('png');
    expect(sniffImageFormat(new TextEncoder().encode('GIF89a......'))).toBe('gif');
    expect(sniffImageFormat(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '))).toBe('webp');
    expect(sniffImageFormat(new TextEncoder().encode('BM\0\0\0\0'))).toBe('bmp');
    expect(sniffImageFormat(new Uint8Array([0x49, 0x49, 0x2a, 0, 1, 2]))).toBe('tiff');
    expect(sniffImageFormat(new Uint8Array([1, 2, 3, 4]))).toBe('unknown');
  });

  it('reads JPEG and PNG headers without decoding', () => {
    expect(readImageHeader(jpegFile('sample-row0.jpg'))).toEqual({ format: 'jpeg', width: 128, height: 128, colorMode: 'gray', bitDepth: 8 });
    expect(readImageHeader(jpegFile('color.jpg'))).toEqual({ format: 'jpeg', width: 64, height: 48, colorMode: 'rgb', bitDepth: 8 });
    const png = encodePng({ width: 3, height: 2, colorType: 4, bitDepth: 16, samples: new Array(12).fill(0) });
    expect(readImageHeader(png)).toEqual({ format: 'png', width: 3, height: 2, colorMode: 'gray+alpha', bitDepth: 16 });
  });

  it('throws typed errors naming the location for unsupported and undecodable bytes', () => {
    const loc = { file: 'f.parquet', row: 7, column: 'image.bytes' };
    const gif = new TextEncoder().encode('GIF89a\x01\x00\x01\x00');
    let err: unknown;
    try { readImageHeader(gif, loc); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(UnsupportedImageFormatError);
    expect(err).toBeInstanceOf(DataError);
    expect(err).toBeInstanceOf(NeuroStageNetError);
    expect((err as DataError).row).toBe(7);
    expect((err as Error).message).toMatch(/gif.*file f\.parquet, row 7, column 'image\.bytes'/);
    expect(() => readImageHeader(new Uint8Array([1, 2, 3]), loc)).toThrow(ImageDecodeError);
    expect(() => readImageHeader(new Uint8Array(0), loc)).toThrow(/empty/);
    // A 12-bit JPEG frame header (SOF1, precision 12) is recognised but not supported.
    const sof12 = new Uint8Array([0xff, 0xd8, 0xff, 0xc1, 0, 11, 12, 0, 8, 0, 8, 1, 1, 0x11, 0]);
    expect(() => readImageHeader(sof12, loc)).toThrow(UnsupportedImageFormatError);
    const lossless = new Uint8Array([0xff, 0xd8, 0xff, 0xc3, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
    expect(() => readImageHeader(lossless, loc)).toThrow(/lossless/);
  });
});

describe('decodeImage: PNG', () => {
  const w = 5, h = 4, n = w * h;
  const gray8 = pseudoRandom(n, 256, 3);
  const r = pseudoRandom(n, 256, 4), g = pseudoRandom(n, 256, 5), b = pseudoRandom(n, 256, 6), a = pseudoRandom(n, 256, 7);
  const luma = (i: number, scale = 1) => (0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i]) * scale;

  it('8-bit gray keeps values', async () => {
    const d = await decodeImage(encodePng({ width: w, height: h, colorType: 0, bitDepth: 8, samples: gray8 }));
    expect(Array.from(d.pixels)).toEqual(gray8);
    expect([d.width, d.height, d.colorMode, d.bitDepth]).toEqual([w, h, 'gray', 8]);
  });

  it('16-bit gray is scaled by 255/65535 without rounding', async () => {
    const g16 = pseudoRandom(n, 65536, 8);
    const d = await decodeImage(encodePng({ width: w, height: h, colorType: 0, bitDepth: 16, samples: g16 }));
    expect(d.bitDepth).toBe(16);
    g16.forEach((v, i) => expect(d.pixels[i]).toBeCloseTo((v * 255) / 65535, 3));
  });

  it('gray+alpha ignores alpha', async () => {
    const s = gray8.flatMap((v, i) => [v, a[i]]);
    const d = await decodeImage(encodePng({ width: w, height: h, colorType: 4, bitDepth: 8, samples: s }));
    expect(Array.from(d.pixels)).toEqual(gray8);
  });

  it('RGB 8-bit gives BT.601 luma', async () => {
    const s = r.flatMap((v, i) => [v, g[i], b[i]]);
    const d = await decodeImage(encodePng({ width: w, height: h, colorType: 2, bitDepth: 8, samples: s }));
    for (let i = 0; i < n; i++) expect(d.pixels[i]).toBeCloseTo(luma(i), 3);
    expect(d.colorMode).toBe('rgb');
  });

  it('RGB 16-bit and RGBA 16-bit give BT.601 luma of the scaled samples', async () => {
    const s16 = r.flatMap((v, i) => [v * 257, g[i] * 257, b[i] * 257]);
    const d = await decodeImage(encodePng({ width: w, height: h, colorType: 2, bitDepth: 16, samples: s16 }));
    for (let i = 0; i < n; i++) expect(d.pixels[i]).toBeCloseTo(luma(i), 3);
    const s16a = r.flatMap((v, i) => [v * 257, g[i] * 257, b[i] * 257, a[i] * 257]);
    const d2 = await decodeImage(encodePng({ width: w, height: h, colorType: 6, bitDepth: 16, samples: s16a }));
    for (let i = 0; i < n; i++) expect(d2.pixels[i]).toBeCloseTo(luma(i), 3);
  });

  it('RGBA 8-bit and palette give BT.601 luma', async () => {
    const s = r.flatMap((v, i) => [v, g[i], b[i], a[i]]);
    const d = await decodeImage(encodePng({ width: w, height: h, colorType: 6, bitDepth: 8, samples: s }));
    for (let i = 0; i < n; i++) expect(d.pixels[i]).toBeCloseTo(luma(i), 3);
    const palette: Array<[number, number, number]> = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]];
    const idx = pseudoRandom(n, 4, 9);
    const dp = await decodeImage(encodePng({ width: w, height: h, colorType: 3, bitDepth: 8, samples: idx, palette }));
    expect(dp.colorMode).toBe('palette');
    idx.forEach((k, i) => expect(dp.pixels[i]).toBeCloseTo(0.299 * palette[k][0] + 0.587 * palette[k][1] + 0.114 * palette[k][2], 3));
  });

  // Low bit depths: a 1-bit gray sample is 0 or 255 and a 4-bit one is v * 17 (PNG spec 13.12 scaling, as
  // PIL's convert('L') gives). Width 5 leaves the last byte of each packed row partly filled.
  it('1-bit gray is scaled to 0/255', async () => {
    const bits = pseudoRandom(n, 2, 12);
    const d = await decodeImage(encodePng({ width: w, height: h, colorType: 0, bitDepth: 1, samples: bits }));
    expect([d.colorMode, d.bitDepth]).toEqual(['gray', 1]);
    expect(Array.from(d.pixels)).toEqual(bits.map((v) => v * 255));
  });

  it('2-bit and 4-bit gray are scaled by 255/(2^d - 1)', async () => {
    const g2 = pseudoRandom(n, 4, 13);
    const d2 = await decodeImage(encodePng({ width: w, height: h, colorType: 0, bitDepth: 2, samples: g2 }));
    expect(Array.from(d2.pixels)).toEqual(g2.map((v) => v * 85));
    const g4 = pseudoRandom(n, 16, 14);
    const d4 = await decodeImage(encodePng({ width: w, height: h, colorType: 0, bitDepth: 4, samples: g4 }));
    expect(d4.bitDepth).toBe(4);
    expect(Array.from(d4.pixels)).toEqual(g4.map((v) => v * 17));
  });

  it('low-bit palette uses the 8-bit palette colours unscaled', async () => {
    const palette: Array<[number, number, number]> = [[200, 100, 50], [0, 0, 0], [255, 255, 255], [10, 20, 30]];
    const idx = pseudoRandom(n, 4, 15);
    const d = await decodeImage(encodePng({ width: w, height: h, colorType: 3, bitDepth: 2, samples: idx, palette }));
    idx.forEach((k, i) => expect(d.pixels[i]).toBeCloseTo(0.299 * palette[k][0] + 0.587 * palette[k][1] + 0.114 * palette[k][2], 3));
  });

  it('corrupt PNG data gives ImageDecodeError', async () => {
    const png = encodePng({ width: w, height: h, colorType: 0, bitDepth: 8, samples: gray8 });
    const broken = png.slice(0, 40); // header intact, IDAT cut
    await expect(decodeImage(broken)).rejects.toBeInstanceOf(ImageDecodeError);
    // A flipped bit in the pixel data is caught by the chunk CRC (the pixels would decode, wrongly).
    const flipped = png.slice();
    flipped[png.length - 12 - 6] ^= 0x01; // inside IDAT's data, before its CRC and the IEND chunk
    await expect(decodeImage(flipped)).rejects.toThrow(/cannot decode PNG: .*crc/i);
  });

  it('refuses an interlaced PNG with 1/2/4-bit samples as unsupported (the decoder would misplace them)', async () => {
    const png = encodePng({ width: w, height: h, colorType: 0, bitDepth: 2, samples: pseudoRandom(n, 4, 16) });
    const interlaced = png.slice();
    interlaced[28] = 1; // IHDR interlace method: Adam7 (its CRC is not checked before the header is read)
    let err: unknown;
    try { readImageHeader(interlaced, { row: 3 }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(UnsupportedImageFormatError);
    expect((err as Error).message).toMatch(/interlaced \(Adam7\) with 2-bit samples/);
    // the same image, not interlaced, decodes
    expect(Array.from((await decodeImage(png)).pixels)).toEqual(pseudoRandom(n, 4, 16).map((v) => v * 85));
  });
});

describe('decodeImage: JPEG against libjpeg (TensorFlow) references', () => {
  it('grayscale JPEGs match libjpeg within IDCT rounding', async () => {
    for (const name of ['sample-row0.jpg', 'sample-row4.jpg', 'sample-row5.jpg']) {
      const d = await decodeImage(jpegFile(name));
      const expected = b64u8(ref.files[name].uint8);
      expect(d.pixels.length).toBe(128 * 128);
      expect(meanAbsDiff(d.pixels, expected)).toBeLessThan(0.5);
      expect(maxAbsDiff(d.pixels, expected)).toBeLessThanOrEqual(4);
    }
  });

  it('colour JPEG gives BT.601 luma of the RGB decode', async () => {
    const d = await decodeImage(jpegFile('color.jpg'));
    const expected = b64f32(ref.files['color.jpg'].luma_float32 as string);
    expect(d.pixels.length).toBe(64 * 48);
    expect(meanAbsDiff(d.pixels, expected)).toBeLessThan(0.75);
    expect(maxAbsDiff(d.pixels, expected)).toBeLessThan(4);
  });

  it('truncated JPEG data gives ImageDecodeError', async () => {
    const bytes = jpegFile('sample-row0.jpg');
    await expect(decodeImage(bytes.slice(0, 300))).rejects.toBeInstanceOf(ImageDecodeError);
  });
});

describe('resize', () => {
  it('bilinear resize equals tfjs resizeBilinear with half-pixel centres', () => {
    const src = Float32Array.from(pseudoRandom(13 * 17, 256, 11));
    for (const [oh, ow] of [[5, 7], [26, 40], [13, 9]] as const) {
      const ours = resizeBilinearGray(src, 13, 17, oh, ow);
      const theirs = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(src, [1, 13, 17, 1]), [oh, ow], false, true).dataSync());
      expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-3);
    }
  });

  it('matches TensorFlow tf.image.resize (bilinear, antialias=False) on a real image', async () => {
    const d = await decodeImage(jpegFile('sample-row0.jpg'), { targetSize: [100, 90] });
    expect([d.outHeight, d.outWidth, d.width, d.height]).toEqual([100, 90, 128, 128]);
    // Same convention; the difference is only the JPEG decoders' (see above).
    expect(meanAbsDiff(d.pixels, b64f32(ref.resize_sample_row0_100x90))).toBeLessThan(0.5);
  });

  it("resize: 'reject' throws ImageSizeError", async () => {
    await expect(decodeImage(jpegFile('color.jpg'), { targetSize: [128, 128], resize: 'reject' })).rejects.toBeInstanceOf(ImageSizeError);
  });
});

describe('worker decoding', () => {
  it('gives the same pixels as the main thread, and reports decoder errors per image', async () => {
    const items = [
      jpegFile('sample-row0.jpg'),
      jpegFile('color.jpg'),
      encodePng({ width: 3, height: 2, colorType: 2, bitDepth: 16, samples: pseudoRandom(18, 65536, 2) }),
      encodePng({ width: 5, height: 3, colorType: 0, bitDepth: 4, samples: pseudoRandom(15, 16, 3) }),
      encodePng({ width: 5, height: 3, colorType: 0, bitDepth: 1, samples: pseudoRandom(15, 2, 4) }),
      encodePng({ width: 5, height: 3, colorType: 3, bitDepth: 2, samples: pseudoRandom(15, 3, 5), palette: [[200, 10, 0], [0, 90, 255], [7, 7, 7]] }),
      encodePng({ width: 4, height: 2, colorType: 4, bitDepth: 8, samples: pseudoRandom(16, 256, 6) }),
      jpegFile('sample-row4.jpg').slice(0, 400),
    ];
    const jobs = items.map((bytes) => ({ bytes, header: readImageHeader(bytes) }));
    const results: Array<Float32Array | string> = [];
    await decodeInWorkers(jobs, 2, (i, r) => {
      results[i] = 'error' in r ? r.error : finishDecode(r, jobs[i].header, {}, {}).pixels;
    }, 1);
    for (let i = 0; i < 7; i++) {
      const main = finishDecode(decodeRaw(items[i], jobs[i].header), jobs[i].header, {}, {}).pixels;
      expect(results[i]).toEqual(main);
    }
    // Low-bit gray is rescaled in the worker path too (not left at 0..2^d-1).
    expect(Array.from(results[3] as Float32Array)).toEqual(pseudoRandom(15, 16, 3).map((v) => v * 17));
    expect(Array.from(results[4] as Float32Array)).toEqual(pseudoRandom(15, 2, 4).map((v) => v * 255));
    expect(typeof results[7]).toBe('string');
  });
});
