// The layers `explain --layer` can name: every layer path of the model (nested models as 'outer/inner'), the
// check of a --layer value with a short list of suggestions, and the table `explain --list-layers` prints.
import * as tfl from '@tensorflow/tfjs-layers';
import { defaultTargetLayer } from '../explain/gradcam.js';
import { resolveLayerPath } from '../explain/graph.js';
import { UsageError } from './args.js';

/** One layer of a model, as `--layer` names it. */
export interface LayerEntry {
  /** 'se_excite', or 'efficientnetb0/top_activation' inside a nested model. */
  path: string;
  /** The layer's class, e.g. 'Conv2D'. */
  className: string;
  /** Output shape (batch dimension null), when the layer has one. */
  shape?: readonly (number | null)[];
  /** A 4-D feature map with a spatial size > 1: a layer Grad-CAM can explain. */
  spatial: boolean;
}

function outputShape(layer: tfl.layers.Layer): readonly (number | null)[] | undefined {
  try {
    const s = layer.outputShape;
    return Array.isArray(s) && (s.length === 0 || !Array.isArray(s[0])) ? (s as (number | null)[]) : undefined;
  } catch {
    return undefined; // a layer called several times has no single output shape
  }
}

/** Every layer of `model`, nested models' layers after the nested model itself, in model order. */
export function listLayers(model: tfl.LayersModel, prefix = ''): LayerEntry[] {
  const out: LayerEntry[] = [];
  for (const layer of model.layers) {
    const path = `${prefix}${layer.name}`;
    const shape = outputShape(layer);
    const spatial = shape !== undefined && shape.length === 4 && (shape[1] == null || shape[2] == null || shape[1] * shape[2] > 1);
    out.push({ path, className: layer.getClassName(), shape, spatial });
    if (layer instanceof tfl.LayersModel) out.push(...listLayers(layer, `${path}/`));
  }
  return out;
}

/** Levenshtein distance (small strings: plain dynamic programming). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/**
 * Up to `max` layer names to suggest for an unknown `wanted`: the closest names (typos, a part of the name), then
 * the default target layer, then the last spatial feature maps of the outer model (the usual Grad-CAM choices).
 */
export function suggestLayers(model: tfl.LayersModel, wanted: string, max = 10): string[] {
  const layers = listLayers(model);
  const w = wanted.toLowerCase();
  const last = (p: string): string => p.slice(p.lastIndexOf('/') + 1).toLowerCase();
  const scored = layers
    .map((l) => {
      const name = last(l.path);
      const d = Math.min(distance(w, l.path.toLowerCase()), distance(w, name));
      const part = w.length >= 3 && (name.includes(w) || w.includes(name));
      return { path: l.path, d: part ? Math.min(d, 1) : d, raw: d, outer: !l.path.includes('/'), spatial: l.spatial };
    })
    .filter((s) => s.d <= Math.max(2, Math.floor(w.length / 3)))
    // closest first; among equals the exact-length near-misses, then the outer model's layers, then feature maps
    .sort((a, b) => a.d - b.d || a.raw - b.raw || Number(b.outer) - Number(a.outer) || Number(b.spatial) - Number(a.spatial));
  const names: string[] = [];
  const add = (p: string): void => {
    if (names.length < max && !names.includes(p)) names.push(p);
  };
  for (const s of scored.slice(0, Math.ceil(max / 2))) add(s.path);
  let fallback: string | undefined;
  try {
    fallback = defaultTargetLayer(model);
    add(fallback);
  } catch {
    // no spatial layer: only the close names
  }
  const outer = layers.filter((l) => l.spatial && !l.path.includes('/')).reverse();
  for (const l of outer) add(l.path);
  return names.map((n) => (n === fallback ? `${n} (default)` : n));
}

/**
 * Checks a --layer value against the model.
 * @throws UsageError naming the unknown layer, the suggestions and how to list all layers.
 */
export function checkLayer(model: tfl.LayersModel, layer: string, modelArg: string, command = 'explain'): void {
  try {
    resolveLayerPath(model, layer);
  } catch (e) {
    if (!(e instanceof Error) || !/^(No layer|Empty layer name|'.*' is a \w+, not a nested model)/.test(e.message)) throw e;
    const suggestions = suggestLayers(model, layer.split('/').pop() || layer);
    throw new UsageError(
      `no layer '${layer}' in the model; try: ${suggestions.join(', ')}; list them all with 'neurostagenet ${command} ${modelArg} --list-layers'`,
      command,
    );
  }
}

/** The table `explain --list-layers` prints: path, class, output shape; Grad-CAM-able layers and the default marked. */
export function layerTable(model: tfl.LayersModel): string[] {
  const layers = listLayers(model);
  let fallback: string | undefined;
  try {
    fallback = defaultTargetLayer(model);
  } catch {
    fallback = undefined;
  }
  const width = Math.max(5, ...layers.map((l) => l.path.length));
  const classWidth = Math.max(5, ...layers.map((l) => l.className.length));
  const rows = layers.map((l) => {
    const shape = l.shape ? `[${l.shape.map((d) => (d == null ? '?' : String(d))).join(', ')}]` : '-';
    const mark = l.path === fallback ? '  default' : l.spatial ? '  *' : '';
    return `${l.path.padEnd(width)}  ${l.className.padEnd(classWidth)}  ${shape}${mark}`.trimEnd();
  });
  return [
    `${'layer'.padEnd(width)}  ${'class'.padEnd(classWidth)}  output shape`,
    ...rows,
    `${layers.length} layers; * = a spatial feature map --layer can explain, default = the one used without --layer`,
  ];
}
