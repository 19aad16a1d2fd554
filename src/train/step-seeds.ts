import * as tfl from '@tensorflow/tfjs-layers';
import { mixSeed } from '../random.js';

// tfjs draws the seed of an unseeded dropout mask from Math.random, and a tfjs Dropout layer with a fixed
// `seed` draws the *same* mask at every step. For runs that repeat from a seed, the trainer gives every dropout-like
// layer a fresh seed derived from (run seed, epoch, step, layer) for the duration of one training step and
// puts the layer's own seed back afterwards.

interface SeedableLayer {
  seed?: number;
  rate: number;
}

/** Layers (nested models included) that draw random masks through a `seed` field, e.g. Dropout, SpatialDropout1D. */
export function findSeedableLayers(model: tfl.LayersModel): SeedableLayer[] {
  const found: SeedableLayer[] = [];
  const seen = new Set<unknown>();
  const visit = (layer: tfl.layers.Layer): void => {
    if (seen.has(layer)) return;
    seen.add(layer);
    const nested = (layer as unknown as { layers?: tfl.layers.Layer[] }).layers;
    if (Array.isArray(nested)) nested.forEach(visit);
    // neurostagenet's own SeededDropout already advances its seed every step; leave it alone.
    const ownLayer = layer.getClassName().startsWith('neurostagenet>');
    if (!ownLayer && 'seed' in layer && typeof (layer as unknown as SeedableLayer).rate === 'number') {
      found.push(layer as unknown as SeedableLayer);
    }
  };
  model.layers.forEach(visit);
  return found;
}

/** Runs `fn` with per-step seeds on `layers`, restoring their own seeds afterwards (also on error). */
export function withStepSeeds<T>(layers: SeedableLayer[], seedParts: number[], fn: () => T): T {
  const saved = layers.map((l) => l.seed);
  layers.forEach((l, j) => {
    l.seed = mixSeed(...seedParts, j);
  });
  try {
    return fn();
  } finally {
    layers.forEach((l, j) => {
      l.seed = saved[j];
    });
  }
}
