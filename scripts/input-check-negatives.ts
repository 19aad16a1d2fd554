/**
 * Real negatives for the input check (issue 15): images a classifier of skull-stripped axial T1 slices was not made
 * for, grouped by kind, at the model's input size. Used by scripts/input-check-measure.ts (the refusal table of
 * docs/evaluation.md) and by test/data/input-check.test.ts (on the committed subsample).
 */
import { readFile, readdir } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { decodeImage, resizeBilinearGray } from '../src/data/decode.js';
import type { LabeledImageSource } from '../src/data/types.js';
import { createRng } from '../src/random.js';

/** One kind of negative: its name and images (gray 0..255, row-major, `size * size`). */
export interface NegativeKind {
  kind: string;
  images: Float32Array[];
}

/** Blank, constant, uniform-noise and Gaussian-noise images (seeded). */
export function syntheticNegatives(size: [number, number], perKind: number, seed = 7): NegativeKind[] {
  const [h, w] = size;
  const random = createRng(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const make = (f: (i: number) => number): Float32Array => Float32Array.from({ length: h * w }, (_, i) => f(i));
  const kinds: NegativeKind[] = [
    { kind: 'blank (all 0)', images: [make(() => 0)] },
    { kind: 'constant (1..255)', images: Array.from({ length: perKind }, (_, j) => make(() => 1 + Math.round((254 * j) / Math.max(1, perKind - 1)))) },
    { kind: 'uniform noise 0..255', images: Array.from({ length: perKind }, () => make(() => Math.floor(random() * 256))) },
    { kind: 'Gaussian noise (mean 100, sd 50)', images: Array.from({ length: perKind }, () => make(() => Math.min(255, Math.max(0, 100 + 50 * gauss())))) },
    {
      kind: 'smooth random blobs',
      images: Array.from({ length: perKind }, () => {
        // Low-frequency noise: a few random Gaussian bumps, brain-sized, on black.
        const bumps = Array.from({ length: 4 }, () => [random() * h, random() * w, (0.1 + 0.3 * random()) * h, 60 + 150 * random()]);
        return make((i) => {
          const y = Math.floor(i / w), x = i % w;
          return Math.min(255, bumps.reduce((s, [cy, cx, r, a]) => s + a * Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r)), 0));
        });
      }),
    },
  ];
  return kinds;
}

/** Training-like slices made wrong: scaled to 0..1, inverted (255 - x). */
export async function transformedSlices(source: LabeledImageSource, indices: ArrayLike<number>): Promise<NegativeKind[]> {
  const scaled: Float32Array[] = [];
  const inverted: Float32Array[] = [];
  for (let i = 0; i < indices.length; i++) {
    const image = (await source.get(indices[i])).image;
    scaled.push(Float32Array.from(image, (v) => v / 255));
    inverted.push(Float32Array.from(image, (v) => 255 - v));
  }
  return [
    { kind: 'real slices scaled 0..1', images: scaled },
    { kind: 'real slices inverted (255 - x)', images: inverted },
  ];
}

/** The package's own PNG plots (PNG files of a folder, e.g. models/neurostagenet/report), gray, resized. */
export async function plotNegatives(folder: string, size: [number, number]): Promise<NegativeKind> {
  const files = (await readdir(folder)).filter((f) => f.endsWith('.png')).sort();
  const images: Float32Array[] = [];
  for (const f of files) {
    const decoded = await decodeImage(await readFile(join(folder, f)), { targetSize: size });
    images.push(decoded.pixels);
  }
  return { kind: "the package's own PNG plots", images };
}

/** Slices cut from ../shared/data/volumes by test/fixtures/input-check/make_negatives.py (`prefix.u8.gz` + `prefix.json`). */
export async function volumeNegatives(prefix: string, size: [number, number]): Promise<NegativeKind[]> {
  const manifest = JSON.parse(await readFile(`${prefix}.json`, 'utf8')) as { size: number; kinds: Array<{ kind: string; count: number; offset: number }> };
  const bytes = gunzipSync(await readFile(`${prefix}.u8.gz`));
  const s = manifest.size;
  return manifest.kinds.map(({ kind, count, offset }) => ({
    kind,
    images: Array.from({ length: count }, (_, j) => {
      const start = (offset + j) * s * s;
      return resizeBilinearGray(bytes.subarray(start, start + s * s), s, s, size[0], size[1]);
    }),
  }));
}
