// Small in-memory data and models for the training tests (no Parquet, no NeuroStageNet: fast on cpu).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ImageExample, LabeledImageSource } from '../../src/data/types.js';

/** 32-bit LCG so the fixtures do not depend on Math.random. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/**
 * `n` images of `size`x`size` in 0..255, label = i % numClasses. Class c has a bright square in quadrant c
 * (plus noise), so a small model separates them easily.
 */
export function makeSource(n: number, size = 8, numClasses = 4, seed = 1): LabeledImageSource {
  const rand = lcg(seed);
  const half = size / 2;
  const images: Float32Array[] = [];
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % numClasses;
    labels[i] = label;
    const img = new Float32Array(size * size);
    const qy = Math.floor(label / 2) * half;
    const qx = (label % 2) * half;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = y >= qy && y < qy + half && x >= qx && x < qx + half;
        img[y * size + x] = Math.min(255, (inside ? 170 : 40) + 60 * rand());
      }
    }
    images.push(img);
  }
  return {
    length: n,
    labels,
    classNames: Array.from({ length: numClasses }, (_, c) => `class${c}`),
    imageSize: [size, size] as const,
    get(i: number): ImageExample {
      return { image: images[i], label: labels[i] };
    },
  };
}

/** Options of {@link makeModel}. */
export interface TinyModelOptions {
  size?: number;
  numClasses?: number;
  seed?: number;
  dropout?: number;
  l2?: number;
  /** Separate softmax layer (logits reachable) instead of Dense(softmax). Default true. */
  separateSoftmax?: boolean;
}

/** Rescale → Flatten → Dense(16, relu) → [Dropout] → Dense(K) → softmax, with seeded initialisers. */
export function makeModel(options: TinyModelOptions = {}): tfl.LayersModel {
  const size = options.size ?? 8;
  const k = options.numClasses ?? 4;
  const seed = options.seed ?? 3;
  const input = tfl.input({ shape: [size, size, 1] });
  let x = tfl.layers.rescaling({ scale: 1 / 255 }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
  x = tfl.layers
    .dense({
      units: 16,
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      kernelRegularizer: options.l2 ? tfl.regularizers.l2({ l2: options.l2 }) : undefined,
    })
    .apply(x) as tfl.SymbolicTensor;
  if (options.dropout) x = tfl.layers.dropout({ rate: options.dropout }).apply(x) as tfl.SymbolicTensor;
  let out: tfl.SymbolicTensor;
  if (options.separateSoftmax ?? true) {
    const logits = tfl.layers
      .dense({ units: k, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }), name: 'logits' })
      .apply(x) as tfl.SymbolicTensor;
    out = tfl.layers.activation({ activation: 'softmax', name: 'probabilities' }).apply(logits) as tfl.SymbolicTensor;
  } else {
    out = tfl.layers
      .dense({ units: k, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) })
      .apply(x) as tfl.SymbolicTensor;
  }
  return tfl.model({ inputs: input, outputs: out });
}

/** Compiles with Adam(lr) and plain categorical cross-entropy (the tests do not depend on src/train/loss.ts). */
export function compileTiny(model: tfl.LayersModel, learningRate = 0.01): tfl.LayersModel {
  model.compile({ optimizer: tf.train.adam(learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** Copies of all weights (the live variables change under training). */
export function snapshotWeights(model: tfl.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
}

/** A callback that overwrites one epoch figure with scripted values, so a callback under test sees a known sequence. */
export class ScriptedFigure extends tfl.Callback {
  constructor(
    private readonly key: string,
    private readonly values: number[],
    private readonly atEpochEnd?: (epoch: number, model: tfl.LayersModel) => void,
  ) {
    super();
  }
  override async onEpochEnd(epoch: number, logs?: Record<string, unknown>): Promise<void> {
    if (logs) {
      const old = logs[this.key];
      if (old && typeof (old as tf.Tensor).dispose === 'function') (old as tf.Tensor).dispose();
      logs[this.key] = this.values[Math.min(epoch, this.values.length - 1)];
    }
    this.atEpochEnd?.(epoch, this.model);
  }
}
