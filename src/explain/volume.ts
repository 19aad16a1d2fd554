/**
 * Explanations of a whole scan: the slices `predictVolume` classifies, each with a class-activation map of the
 * person's stage (or of its own prediction when the person got none), and a montage of them all.
 */
import * as tf from '@tensorflow/tfjs-core';
import { sliceVolume, type VolumeSlices } from '../data/volume/slice.js';
import type { Volume } from '../data/volume/volume.js';
import { predictVolumeSlices, type PredictVolumeOptions, type VolumePrediction } from '../models/predict-volume.js';
import type { PretrainedNeuroStageNet } from '../models/pretrained.js';
import { ExplainError } from './errors.js';
import { GradCAM, type CamMethod, type Explanation } from './gradcam.js';
import { grayToRgba, overlayHeatmap, type Colormap, type RgbaImage } from './overlay.js';

/** Options of {@link explainVolume}. */
export interface ExplainVolumeOptions extends PredictVolumeOptions {
  /** Map method (default `'layercam'`, as `GradCAM`). */
  method?: CamMethod;
  /** Layer explained (default: `GradCAM`'s default layer). */
  layerName?: string;
  /**
   * Class every slice's map explains: `'person'` (default: the person's stage, so that the montage shows where each
   * slice holds evidence for it; each slice's own prediction when the person got no stage), `'predicted'` (each
   * slice's own arg-max) or a class index.
   */
  classIndex?: 'person' | 'predicted' | number;
}

/** One slice of a {@link VolumeExplanation}. */
export interface VolumeSliceExplanation {
  /** Gray 0..255 slice as the model saw it, row-major `size[0] * size[1]`. */
  image: Float32Array;
  /** Its map, when the slice was classified (accepted by the input check, or `allowUnchecked`). */
  explanation?: Explanation;
}

/** What {@link explainVolume} returns. Plain arrays only: nothing to dispose. */
export interface VolumeExplanation {
  /** The person-level answer and the per-slice results, exactly as `predictVolume` gives them. */
  prediction: VolumePrediction;
  /** Every slice, in level order, with its map when it was classified. */
  slices: VolumeSliceExplanation[];
  /** `[height, width]` of the slices. */
  size: [number, number];
  /** Method used. */
  method: CamMethod;
  /** Layer explained (resolved path). */
  layerName: string;
  /** Class names, in label order. */
  classNames: readonly string[];
  /** The scan's name (its file). */
  source: string;
}

/**
 * Explains a person's scan: slices it as `predictVolume` does (once), classifies them through the input check, and
 * gives every classified slice a class-activation map; refused slices get none (a map of an image the model was not
 * made for explains nothing). Draw the result with `renderVolumeMontagePng` (`neurostagenet/node`) or
 * {@link volumeMontage}.
 * @param net The model with its metadata (input check, temperature).
 * @param volume The scan (e.g. from `readVolume`).
 * @param options Slicing, refusal share, forcing, method, layer, class explained.
 * @returns The prediction and the slices with their maps. No tensor outlives the call.
 * @throws {@link ExplainError} for a class index out of range or an unknown layer.
 * @example
 * ```ts
 * const result = await explainVolume(net, await readVolume('scan.nii.gz'));
 * await writeFile('montage.png', await renderVolumeMontagePng(result));
 * ```
 */
export async function explainVolume(net: PretrainedNeuroStageNet, volume: Volume, options: ExplainVolumeOptions = {}): Promise<VolumeExplanation> {
  const k = net.classNames.length;
  const wanted = options.classIndex ?? 'person';
  if (typeof wanted === 'number' && !(Number.isInteger(wanted) && wanted >= 0 && wanted < k)) {
    throw new ExplainError(`explainVolume: classIndex must be 'person', 'predicted' or 0..${k - 1}; got ${wanted}`);
  }
  const cam = new GradCAM(net.model, { method: options.method, layerName: options.layerName });
  const cut: VolumeSlices = sliceVolume(volume, { ...options.slices, size: net.imageSize });
  const prediction = await predictVolumeSlices(net, cut, volume.source, options);
  const slices: VolumeSliceExplanation[] = cut.images.map((image) => ({ image }));
  const classified = prediction.slices.flatMap((s, i) => (s.predicted === undefined ? [] : [i]));
  const person = prediction.person;
  const classOf = (i: number): number =>
    typeof wanted === 'number' ? wanted : wanted === 'person' && !person.refused ? person.classIndex : prediction.slices[i].predicted!;
  const [h, w] = cut.size;
  const batch = options.batchSize ?? 8;
  for (let start = 0; start < classified.length; start += batch) {
    const chunk = classified.slice(start, start + batch);
    const pixels = new Float32Array(chunk.length * h * w);
    chunk.forEach((i, j) => pixels.set(cut.images[i], j * h * w));
    const x = tf.tensor4d(pixels, [chunk.length, h, w, 1]);
    try {
      // The input check has spoken already (predictVolumeSlices): these slices are the classified ones.
      const maps = await cam.explain(x, { classIndex: chunk.map(classOf), allowUnchecked: true });
      chunk.forEach((i, j) => { slices[i].explanation = maps[j]; });
    } finally {
      x.dispose();
    }
  }
  return { prediction, slices, size: cut.size, method: cam.method, layerName: cam.layerName, classNames: net.classNames, source: volume.source };
}

/** Options of {@link volumeMontage}. */
export interface VolumeMontageOptions {
  /** Tiles per row (default 8). */
  columns?: number;
  /** Integer up-scaling of each slice (default: the smallest that makes tiles at least 96 px wide). */
  scale?: number;
  /** Pixels between tiles side by side (default 4). */
  gap?: number;
  /** Pixels between rows of tiles (default `gap`; room for labels under each tile). */
  rowGap?: number;
  /** Colour map (default `'jet'`). */
  colormap?: Colormap;
  /** Overlay alpha (default 0.4). */
  alpha?: number;
}

/** A montage and where its tiles are (for labelling). */
export interface VolumeMontage {
  /** The picture: slices left to right, bottom of the head first; maps over classified slices, refused slices dimmed. */
  image: RgbaImage;
  /** Where each slice's tile is, in slice order. */
  tiles: MontageTile[];
}

/** One tile of a {@link VolumeMontage}, in pixels of its image. */
export interface MontageTile {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/**
 * Lays a {@link VolumeExplanation}'s slices out in a grid (no text; `renderVolumeMontagePng` adds the labels): each
 * classified slice with its map overlaid, each refused slice in gray at half brightness, so that the eye goes to the
 * slices that count. Works anywhere (plain pixels; draw it on a canvas in a browser).
 * @param result From {@link explainVolume}.
 * @param options Columns, scale, gaps, colour map, alpha.
 * @returns RGBA pixels and tile positions.
 */
export function volumeMontage(result: VolumeExplanation, options: VolumeMontageOptions = {}): VolumeMontage {
  const [h, w] = result.size;
  const n = result.slices.length;
  const columns = Math.max(1, Math.min(options.columns ?? 8, n));
  const scale = options.scale ?? Math.max(1, Math.ceil(96 / w));
  const gap = options.gap ?? 4;
  const rowGap = options.rowGap ?? gap;
  if (!Number.isInteger(scale) || scale < 1) throw new ExplainError(`volumeMontage: scale is ${scale}; it must be a positive integer.`);
  const rows = Math.ceil(n / columns);
  const tw = w * scale;
  const th = h * scale;
  const width = columns * tw + (columns - 1) * gap;
  const height = rows * th + (rows - 1) * rowGap;
  const data = new Uint8ClampedArray(width * height * 4).fill(255);
  const tiles: MontageTile[] = [];
  result.slices.forEach((slice, i) => {
    const x0 = (i % columns) * (tw + gap);
    const y0 = Math.floor(i / columns) * (th + rowGap);
    tiles.push({ x: x0, y: y0, width: tw, height: th });
    const e = slice.explanation;
    let rgba: Uint8ClampedArray;
    if (e) rgba = overlayHeatmap(slice.image, e.heatmap, { colormap: options.colormap, alpha: options.alpha });
    else {
      rgba = grayToRgba(slice.image, w, h).data;
      for (let p = 0; p < rgba.length; p += 4) for (let c = 0; c < 3; c++) rgba[p + c] = 128 + (rgba[p + c] >> 2);
    }
    for (let y = 0; y < th; y++) {
      for (let x = 0; x < tw; x++) {
        const src = 4 * (Math.floor(y / scale) * w + Math.floor(x / scale));
        data.set(rgba.subarray(src, src + 4), 4 * ((y0 + y) * width + x0 + x));
      }
    }
  });
  return { image: { data, width, height }, tiles };
}
