import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { NeuroStageNetError } from '../errors.js';

/** Thrown when a saved model directory cannot be written or read. */
export class ModelFileError extends NeuroStageNetError {}

/** File names inside a saved model directory. */
export const MODEL_JSON_FILE = 'model.json';
/** Weights file inside a saved model directory. */
export const WEIGHTS_BIN_FILE = 'weights.bin';

/**
 * A tfjs `IOHandler` that saves to / loads from a directory on the Node file system as `model.json`
 * (topology + weights manifest, tfjs' layers-model format) and one `weights.bin`. Works on every
 * backend (cpu, wasm, tfjs-node): tfjs' own `file://` handler exists only with tfjs-node. Node
 * modules are imported lazily, so bundling this module for a browser is harmless.
 * @param dir Directory (created on save).
 */
export function nodeFileSystemIO(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new ModelFileError(`nodeFileSystemIO('${dir}'): binary (graph-model) topologies are not supported`);
      }
      const { mkdir, writeFile } = await import('node:fs/promises');
      const { join } = await import('node:path');
      const weightData = artifacts.weightData == null ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJSON: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN_FILE}`], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig != null) modelJSON.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata != null) modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, WEIGHTS_BIN_FILE), new Uint8Array(weightData));
        await writeFile(join(dir, MODEL_JSON_FILE), JSON.stringify(modelJSON));
      } catch (cause) {
        throw new ModelFileError(`Cannot save the model to '${dir}': ${(cause as Error).message}`, { cause });
      }
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const { readFile } = await import('node:fs/promises');
      const { join, dirname } = await import('node:path');
      const jsonPath = join(dir, MODEL_JSON_FILE);
      let modelJSON: tf.io.ModelJSON;
      try {
        modelJSON = JSON.parse(await readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
      } catch (cause) {
        throw new ModelFileError(`Cannot read a saved model from '${jsonPath}': ${(cause as Error).message}`, { cause });
      }
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const path of group.paths) {
            const file = join(dirname(jsonPath), path);
            try {
              const bytes = await readFile(file);
              buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
            } catch (cause) {
              throw new ModelFileError(`Cannot read weights file '${file}': ${(cause as Error).message}`, { cause });
            }
          }
        }
        return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}

/**
 * Saves a model (topology, weights, trainable flags) to `dir` as `model.json` + `weights.bin`.
 * @param model The model.
 * @param dir Target directory (created if needed).
 * @returns tfjs' save result (byte sizes).
 */
export async function saveModel(model: tfl.LayersModel, dir: string): Promise<tf.io.SaveResult> {
  return model.save(nodeFileSystemIO(dir));
}

/**
 * Loads a model saved by {@link saveModel} (or any tfjs layers-model directory with a `model.json`).
 * neurostagenet's custom layers are registered when the package is imported, so they reload.
 * @param dir The directory.
 * @returns The model (not compiled).
 */
export async function loadModel(dir: string): Promise<tfl.LayersModel> {
  return tfl.loadLayersModel(nodeFileSystemIO(dir));
}
