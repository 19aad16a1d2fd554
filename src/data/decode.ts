import { decode as decodeFastPng } from 'fast-png';
import jpeg from 'jpeg-js';
import { DataOptionError, ImageDecodeError, ImageSizeError, UnsupportedImageFormatError, type DataErrorLocation } from './errors.js';

/** Image container formats recognised from their first bytes. Only `'png'` and `'jpeg'` are decoded. */
export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'tiff' | 'jpeg2000' | 'avif/heic' | 'dicom' | 'unknown';

/** Colour layout of a source image, as stored in the file. */
export type ColorMode = 'gray' | 'gray+alpha' | 'rgb' | 'rgba' | 'palette' | 'cmyk';

/** What the header of an encoded image says (read without decoding the pixels). */
export interface ImageHeader {
  /** Container format. */
  format: ImageFormat;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Colour layout. */
  colorMode: ColorMode;
  /** Bits per sample (8 or 16; 1/2/4 for low-depth PNG). */
  bitDepth: number;
}

/** A decoded grayscale image. */
export interface DecodedImage extends ImageHeader {
  /** Grayscale pixels, row-major, float32 in 0..255, of size `outHeight * outWidth`. */
  pixels: Float32Array;
  /** Height of `pixels` (the target size when resized). */
  outHeight: number;
  /** Width of `pixels`. */
  outWidth: number;
}

/** How images whose size differs from the target size are handled. */
export type ResizeMode = 'bilinear' | 'reject';

/** Options of {@link decodeImage}. */
export interface DecodeOptions {
  /** `[height, width]` of the output. Default: the image's own size. */
  targetSize?: readonly [number, number];
  /** `'bilinear'` (default) resizes other sizes; `'reject'` throws {@link ImageSizeError}. */
  resize?: ResizeMode;
}

/**
 * Largest image, in pixels (width x height), that is decoded: 100 megapixels, the limit jpeg-js applies to JPEG
 * (`maxResolutionInMP`), applied to PNG too and checked from the header before any inflate or pixel buffer. A
 * larger image is an {@link ImageSizeError} naming its size (and the row). Brain MRI slices are far smaller; a
 * PNG header claiming 20000x20000 would otherwise take several GB and many seconds to decode.
 */
export const MAX_IMAGE_PIXELS = 100_000_000;

// Rejects an image larger than MAX_IMAGE_PIXELS before it is decoded.
function checkPixelCap(header: ImageHeader, location: DataErrorLocation): ImageHeader {
  if (header.width * header.height > MAX_IMAGE_PIXELS) {
    throw new ImageSizeError(
      `${header.format.toUpperCase()} header says ${header.width}x${header.height} (WxH) = ${(header.width * header.height / 1e6).toFixed(1)} megapixels, more than the ${MAX_IMAGE_PIXELS / 1e6} megapixels decoded`,
      location,
    );
  }
  return header;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

/**
 * Recognises an image format from its magic bytes.
 * @param bytes Encoded image.
 * @returns The format, or `'unknown'`.
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat {
  if (startsWith(bytes, PNG_MAGIC)) return 'png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, ascii('GIF8'))) return 'gif';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'webp';
  if (startsWith(bytes, ascii('BM'))) return 'bmp';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) return 'jpeg2000';
  if (startsWith(bytes, ascii('ftyp'), 4)) return 'avif/heic';
  if (startsWith(bytes, ascii('DICM'), 128)) return 'dicom';
  return 'unknown';
}

const PNG_COLOR: Record<number, ColorMode> = { 0: 'gray', 2: 'rgb', 3: 'palette', 4: 'gray+alpha', 6: 'rgba' };

// Reads the JPEG frame header (SOFn) without decoding; rejects the JPEG flavours jpeg-js cannot decode.
function jpegHeader(b: Uint8Array, loc: DataErrorLocation): ImageHeader {
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) throw new ImageDecodeError(`corrupt JPEG: expected a marker at byte ${p}`, loc);
    const marker = b[p + 1];
    if (marker === 0xff) { p++; continue; } // fill byte
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { p += 2; continue; }
    if (marker === 0xd9 || marker === 0xda) break; // EOI / start of scan before any frame header
    const len = (b[p + 2] << 8) | b[p + 3];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (p + 9 >= b.length) break;
      const precision = b[p + 4];
      const height = (b[p + 5] << 8) | b[p + 6];
      const width = (b[p + 7] << 8) | b[p + 8];
      const components = b[p + 9];
      const kind = marker & 0x0f;
      if (kind !== 0 && kind !== 1 && kind !== 2) {
        const name = kind === 3 ? 'lossless' : kind >= 9 ? 'arithmetic-coded' : 'hierarchical';
        throw new UnsupportedImageFormatError(`unsupported JPEG: ${name} (SOF${kind}); only baseline and progressive Huffman JPEG are decoded`, loc);
      }
      if (precision !== 8) throw new UnsupportedImageFormatError(`unsupported JPEG: ${precision}-bit samples; only 8-bit JPEG is decoded`, loc);
      const colorMode: ColorMode | undefined = components === 1 ? 'gray' : components === 3 ? 'rgb' : components === 4 ? 'cmyk' : undefined;
      if (!colorMode) throw new UnsupportedImageFormatError(`unsupported JPEG: ${components} colour components`, loc);
      if (width === 0 || height === 0) throw new ImageDecodeError(`corrupt JPEG: frame size ${width}x${height}`, loc);
      return { format: 'jpeg', width, height, colorMode, bitDepth: 8 };
    }
    p += 2 + len;
  }
  throw new ImageDecodeError('corrupt or truncated JPEG: no frame header (SOF) found', loc);
}

/**
 * Reads format, size, colour mode and bit depth from the header of an encoded image, without decoding pixels.
 * @param bytes Encoded image.
 * @param location File/row/column for error messages.
 * @throws {@link data!ImageDecodeError} for empty, unrecognised or corrupt headers;
 *   {@link data!UnsupportedImageFormatError} for recognised formats that are not decoded (GIF, WebP, 12-bit JPEG, ...);
 *   {@link ImageSizeError} for an image of more than {@link MAX_IMAGE_PIXELS} pixels.
 */
export function readImageHeader(bytes: Uint8Array, location: DataErrorLocation = {}): ImageHeader {
  if (bytes.length === 0) throw new ImageDecodeError('image bytes are empty', location);
  const format = sniffImageFormat(bytes);
  if (format === 'png') {
    if (bytes.length < 33 || !startsWith(bytes, ascii('IHDR'), 12)) throw new ImageDecodeError('corrupt or truncated PNG: no IHDR chunk', location);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const width = dv.getUint32(16);
    const height = dv.getUint32(20);
    const bitDepth = bytes[24];
    const colorMode = PNG_COLOR[bytes[25]];
    if (!colorMode || ![1, 2, 4, 8, 16].includes(bitDepth) || width === 0 || height === 0) {
      throw new ImageDecodeError(`corrupt PNG header (colour type ${bytes[25]}, bit depth ${bitDepth}, ${width}x${height})`, location);
    }
    // fast-png 8 de-interlaces Adam7 as whole bytes per pixel, which is wrong for packed 1/2/4-bit samples
    if (bitDepth < 8 && bytes[28] === 1) {
      throw new UnsupportedImageFormatError(`unsupported PNG: interlaced (Adam7) with ${bitDepth}-bit samples; save it without interlacing or with 8-bit samples`, location);
    }
    return checkPixelCap({ format, width, height, colorMode, bitDepth }, location);
  }
  if (format === 'jpeg') return checkPixelCap(jpegHeader(bytes, location), location);
  if (format === 'unknown') {
    const head = Array.from(bytes.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
    throw new ImageDecodeError(`not a recognised image (first bytes ${head}); expected PNG or JPEG`, location);
  }
  throw new UnsupportedImageFormatError(`unsupported image format ${format}; only PNG and JPEG are decoded`, location);
}

/** Raw decoder output before grayscale conversion: interleaved samples with `channels` per pixel. */
export interface RawPixels {
  /** Width. */
  width: number;
  /** Height. */
  height: number;
  /** Interleaved samples. */
  data: Uint8Array | Uint16Array;
  /** Samples per pixel in `data` (jpeg-js gives 3; PNG gives its own: 1 gray, 2 gray+alpha, 3 RGB and palette, 4 RGBA). */
  channels: number;
  /** Maximum sample value (`2^bitDepth - 1` for gray/colour PNG, 255 for palette PNG and JPEG). */
  maxValue: number;
}

/** What fast-png's decoder returns that {@link pngSamplesToRaw} needs (also what decode workers send back). */
export interface PngSamples {
  /** Width. */
  width: number;
  /** Height. */
  height: number;
  /** Bits per sample. */
  depth: number;
  /** Samples per pixel (1 for palette images: the index). */
  channels: number;
  /** Samples: 1/2/4-bit ones packed per row, 8-bit as bytes, 16-bit as a Uint16Array. */
  data: Uint8Array | Uint8ClampedArray | Uint16Array;
  /** PLTE colours (`[r, g, b]` or `[r, g, b, a]`) of palette images. */
  palette?: number[][];
}

/**
 * PNG samples from fast-png as {@link RawPixels}. fast-png (pure JavaScript, browser-safe; inflate by fflate) returns
 * 1/2/4-bit samples packed (rows padded to a byte) and palette images as indices: both are unpacked here, palette
 * indices looked up in the 8-bit PLTE (giving RGB). 16-bit samples arrive as a Uint16Array at full precision.
 * @param png fast-png's result.
 * @param header The image's header ({@link readImageHeader}).
 * @returns Interleaved samples.
 */
export function pngSamplesToRaw(png: PngSamples, header: Pick<ImageHeader, 'format' | 'colorMode' | 'bitDepth'>): RawPixels {
  const { width, height, depth } = png;
  const n = width * height;
  if (png.palette) {
    const index = depth < 8 ? unpackSamples(png.data as Uint8Array, width, height, depth) : png.data;
    if (index.length < n) throw new Error(`corrupt PNG: ${index.length} palette indices for ${width}x${height}`);
    const rgb = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      const colour = png.palette[index[i]];
      if (colour === undefined) throw new Error(`corrupt PNG: palette index ${index[i]} of ${png.palette.length} colours`);
      rgb[3 * i] = colour[0];
      rgb[3 * i + 1] = colour[1];
      rgb[3 * i + 2] = colour[2];
    }
    return { width, height, data: rgb, channels: 3, maxValue: 255 };
  }
  const data = depth < 8 ? unpackSamples(png.data as Uint8Array, width, height, depth) : png.data;
  if (data.length !== n * png.channels) throw new Error(`corrupt PNG: ${data.length} samples for ${width}x${height}x${png.channels}`);
  const samples = data instanceof Uint8ClampedArray ? new Uint8Array(data.buffer, data.byteOffset, data.length) : data;
  return { width, height, data: samples, channels: png.channels, maxValue: rawMaxValue(header) };
}

// One sample per byte from rows of `depth`-bit samples packed most-significant bits first, each row starting on a
// byte boundary (PNG spec 7.2); for the single-sample colour types (gray, palette), the only ones with depth < 8.
function unpackSamples(packed: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const rowBytes = Math.ceil((width * depth) / 8);
  if (packed.length < rowBytes * height) throw new Error(`corrupt PNG: ${packed.length} bytes for ${height} rows of ${rowBytes}`);
  const out = new Uint8Array(width * height);
  const mask = (1 << depth) - 1;
  const perByte = 8 / depth;
  for (let y = 0; y < height; y++) {
    const row = y * rowBytes;
    for (let x = 0; x < width; x++) {
      const byte = packed[row + Math.floor(x / perByte)];
      const shift = 8 - depth * ((x % perByte) + 1);
      out[y * width + x] = (byte >> shift) & mask;
    }
  }
  return out;
}

/** Error messages of the decoders that mean "valid but not supported" rather than corrupt. */
export function isUnsupportedMessage(message: string): boolean {
  return /unsupported|not supported|only single frame/i.test(message);
}

/** Turns a decoder exception into the right typed error. */
export function classifyDecodeError(format: ImageFormat, message: string, location: DataErrorLocation, cause?: unknown): Error {
  const Ctor = isUnsupportedMessage(message) ? UnsupportedImageFormatError : ImageDecodeError;
  return new Ctor(`cannot decode ${format.toUpperCase()}: ${message}`, location, { cause });
}

/**
 * Largest sample value the decoders return for an image with this header: PNG samples are not rescaled (16-bit
 * ones keep full precision), so 1/2/4-bit gray samples arrive as 0..2^d-1 and 16-bit ones as 0..65535. Palette
 * images are looked up in the 8-bit PLTE whatever their index depth, and JPEG is always 8-bit.
 */
export function rawMaxValue(header: Pick<ImageHeader, 'format' | 'colorMode' | 'bitDepth'>): number {
  if (header.format === 'jpeg' || header.colorMode === 'palette') return 255;
  return 2 ** header.bitDepth - 1;
}

/**
 * Runs the third-party decoder (jpeg-js or fast-png) on one image. Used on the main thread and, by the same
 * name-independent contract, inside decode workers.
 */
export function decodeRaw(bytes: Uint8Array, header: ImageHeader, location: DataErrorLocation = {}): RawPixels {
  try {
    if (header.format === 'jpeg') {
      const d = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
      return { width: d.width, height: d.height, data: d.data, channels: 3, maxValue: 255 };
    }
    return pngSamplesToRaw(decodeFastPng(bytes, { checkCrc: true }), header);
  } catch (e) {
    throw classifyDecodeError(header.format, e instanceof Error ? e.message : String(e), location, e);
  }
}

/**
 * Converts raw samples to grayscale float32 in 0..255: gray images keep their value, colour images use
 * ITU-R BT.601 luma `0.299 R + 0.587 G + 0.114 B`; alpha is ignored (as PIL's `convert('L')` does);
 * 16-bit samples are scaled by 255/65535 without rounding.
 */
export function rawToGray(raw: RawPixels, header: Pick<ImageHeader, 'colorMode'>, out?: Float32Array): Float32Array {
  const n = raw.width * raw.height;
  const dst = out ?? new Float32Array(n);
  const { data, channels } = raw;
  const scale = 255 / raw.maxValue;
  // jpeg-js expands gray to RGB and gray+alpha PNG has 2 samples: for gray sources, the first sample is the value.
  const gray = header.colorMode === 'gray' || header.colorMode === 'gray+alpha';
  if (gray) {
    for (let i = 0, j = 0; i < n; i++, j += channels) dst[i] = data[j] * scale;
  } else {
    const r = 0.299 * scale, g = 0.587 * scale, b = 0.114 * scale;
    for (let i = 0, j = 0; i < n; i++, j += channels) dst[i] = r * data[j] + g * data[j + 1] + b * data[j + 2];
  }
  return dst;
}

/**
 * Bilinear resize of one grayscale image with half-pixel centres (`align_corners=false, half_pixel_centers=true`):
 * the convention of TF2's `tf.image.resize`, Keras' `Resizing` layer and tfjs
 * `tf.image.resizeBilinear(x, size, false, true)`. No antialiasing when shrinking (also as TF's default).
 * @param src Source pixels, row-major.
 * @param srcH Source height.
 * @param srcW Source width.
 * @param dstH Output height.
 * @param dstW Output width.
 * @param out Optional destination of `dstH * dstW` floats.
 */
export function resizeBilinearGray(src: ArrayLike<number>, srcH: number, srcW: number, dstH: number, dstW: number, out?: Float32Array): Float32Array {
  const dst = out ?? new Float32Array(dstH * dstW);
  if (srcH === dstH && srcW === dstW) {
    for (let i = 0; i < dst.length; i++) dst[i] = src[i];
    return dst;
  }
  const sy = srcH / dstH, sx = srcW / dstW;
  const x0s = new Int32Array(dstW), x1s = new Int32Array(dstW), fxs = new Float32Array(dstW);
  for (let x = 0; x < dstW; x++) {
    const fx = Math.max(0, (x + 0.5) * sx - 0.5);
    const x0 = Math.min(Math.floor(fx), srcW - 1);
    x0s[x] = x0;
    x1s[x] = Math.min(x0 + 1, srcW - 1);
    fxs[x] = fx - x0;
  }
  for (let y = 0; y < dstH; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5);
    const y0 = Math.min(Math.floor(fy), srcH - 1);
    const y1 = Math.min(y0 + 1, srcH - 1);
    const dy = fy - y0;
    const r0 = y0 * srcW, r1 = y1 * srcW;
    for (let x = 0; x < dstW; x++) {
      const dx = fxs[x];
      const top = src[r0 + x0s[x]] + (src[r0 + x1s[x]] - src[r0 + x0s[x]]) * dx;
      const bottom = src[r1 + x0s[x]] + (src[r1 + x1s[x]] - src[r1 + x0s[x]]) * dx;
      dst[y * dstW + x] = top + (bottom - top) * dy;
    }
  }
  return dst;
}

/** Checks a `[height, width]` option. */
export function checkTargetSize(size: readonly [number, number] | undefined, name = 'targetSize'): void {
  if (size === undefined) return;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v > 0)) {
    throw new DataOptionError(`${name} must be [height, width] of positive integers, got ${JSON.stringify(size)}`);
  }
}

/** Grayscale conversion + resize/reject of raw decoder output into `out` (shared by main-thread and worker decoding). */
export function finishDecode(raw: RawPixels, header: ImageHeader, options: DecodeOptions, location: DataErrorLocation, out?: Float32Array): DecodedImage {
  const [th, tw] = options.targetSize ?? [raw.height, raw.width];
  const same = th === raw.height && tw === raw.width;
  if (!same && options.resize === 'reject') {
    throw new ImageSizeError(`image is ${raw.width}x${raw.height} (WxH), expected ${tw}x${th} and resize is 'reject'`, location);
  }
  let pixels: Float32Array;
  if (same) {
    pixels = rawToGray(raw, header, out);
  } else {
    pixels = resizeBilinearGray(rawToGray(raw, header), raw.height, raw.width, th, tw, out);
  }
  return { ...header, width: raw.width, height: raw.height, pixels, outHeight: th, outWidth: tw };
}

/**
 * Synchronous decode.
 * @internal
 */
export function decodeImageSync(bytes: Uint8Array, options: DecodeOptions = {}, location: DataErrorLocation = {}, out?: Float32Array): DecodedImage {
  const header = readImageHeader(bytes, location);
  return finishDecode(decodeRaw(bytes, header, location), header, options, location, out);
}

/**
 * Decodes a PNG (1–16 bit; gray, gray+alpha, RGB, RGBA, palette) or JPEG (baseline/progressive, gray or colour)
 * into grayscale float32 in 0..255, optionally resized to `targetSize` (bilinear, half-pixel centres).
 * @param bytes Encoded image.
 * @param options Target size and resize mode.
 * @returns Pixels and what the header said.
 * @throws {@link data!ImageDecodeError}, {@link data!UnsupportedImageFormatError}, {@link ImageSizeError}.
 */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodedImage> {
  checkTargetSize(options.targetSize);
  return decodeImageSync(bytes, options);
}
