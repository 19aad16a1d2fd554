// Helpers for tests that compare against the Keras golden files in <repo>/../shared/golden.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const GOLDEN_DIR = resolve(here, '../../../shared/golden');
export const BACKBONE_DIR = resolve(GOLDEN_DIR, 'keras-efficientnetb0-seed1');
export const NEUROSTAGENET_DIR = resolve(GOLDEN_DIR, 'keras-neurostagenet-seed1');
export const BACKBONE_H5 = resolve(BACKBONE_DIR, 'efficientnetb0_notop_random_seed1.h5');
export const NEUROSTAGENET_H5 = resolve(NEUROSTAGENET_DIR, 'neurostagenet_random_seed1.h5');

/** Fails loudly (not skip) when the shared golden files are absent. */
export function requireGolden(path: string): string {
  if (!existsSync(path)) {
    throw new Error(`Golden reference file missing: ${path} (expected the shared folder at <repo>/../shared/golden)`);
  }
  return path;
}

/** Reads a golden `.bin` (float32 LE) with the shape from its `.json` sidecar. */
export function readGoldenArray(dir: string, stem: string): { values: Float32Array; shape: number[] } {
  const sidecar = JSON.parse(readFileSync(requireGolden(resolve(dir, `${stem}.json`)), 'utf8')) as { shape: number[] };
  const bytes = readFileSync(requireGolden(resolve(dir, `${stem}.bin`)));
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { values, shape: sidecar.shape };
}

/** Reads a golden array as a tensor. */
export function readGoldenTensor(dir: string, stem: string): tf.Tensor {
  const { values, shape } = readGoldenArray(dir, stem);
  return tf.tensor(values, shape);
}

/** ‖a − b‖ / ‖b‖ in float64. */
export function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = actual[i] - expected[i];
    num += d * d;
    den += expected[i] * expected[i];
  }
  return Math.sqrt(num / den);
}

/** Reads a manifest.json. */
export function readManifest(dir: string): Record<string, unknown> & { layer_names: string[] } {
  return JSON.parse(readFileSync(requireGolden(resolve(dir, 'manifest.json')), 'utf8'));
}
