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

// neurostagenet's SeededDropout takes a per-step seed instead of having its own seed swapped.
interface StepSeededLayer {
  stepSeed: number | null;
}

/** Dropout-like layers of a model, by how the trainer seeds them per step. */
export interface SeededLayers {
  foreign: SeedableLayer[];
  own: StepSeededLayer[];
}

/** Layers (nested models included) that draw random masks through a `seed` field, e.g. Dropout, SpatialDropout1D. */
export function findSeedableLayers(model: tfl.LayersModel): SeededLayers {
  const found: SeedableLayer[] = [];
  const own: StepSeededLayer[] = [];
  const seen = new Set<unknown>();
  const visit = (layer: tfl.layers.Layer): void => {
    if (seen.has(layer)) return;
    seen.add(layer);
    const nested = (layer as unknown as { layers?: tfl.layers.Layer[] }).layers;
    if (Array.isArray(nested)) nested.forEach(visit);
    const ownLayer = layer.getClassName().startsWith('neurostagenet>');
    if (ownLayer && 'stepSeed' in layer) own.push(layer as unknown as StepSeededLayer);
    if (!ownLayer && 'seed' in layer && typeof (layer as unknown as SeedableLayer).rate === 'number') {
      found.push(layer as unknown as SeedableLayer);
    }
  };
  model.layers.forEach(visit);
  return { foreign: found, own };
}

/** Runs `fn` with per-step seeds on `layers`, restoring their own seeds afterwards (also on error). */
export function withStepSeeds<T>(layers: SeededLayers, seedParts: number[], fn: () => T): T {
  const { foreign, own } = layers;
  const saved = foreign.map((l) => l.seed);
  foreign.forEach((l, j) => {
    l.seed = mixSeed(...seedParts, j);
  });
  const stepSeed = mixSeed(...seedParts);
  own.forEach((l) => {
    l.stepSeed = stepSeed; // mixed with each layer's own seed inside the layer
  });
  try {
    return fn();
  } finally {
    foreign.forEach((l, j) => {
      l.seed = saved[j];
    });
    own.forEach((l) => {
      l.stepSeed = null;
    });
  }
}
