import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { kerasFunctionalIO } from '../layers/freezing.js';
import { ModelIOError } from './errors.js';
import { nodeFs, nodePath } from '../env/node-builtin.js';

// What to do instead of a directory path outside Node.
const LOAD_HINT = 'in a browser, load the model from its URL (tf.loadLayersModel(url) or loadPretrainedNeuroStageNet({ location: url }))';
const SAVE_HINT = "in a browser, save it with tfjs' own handlers (model.save('indexeddb://...') or 'downloads://...')";

/** Thrown when a saved model directory cannot be written or read. */
export class ModelFileError extends ModelIOError {}

/** File names inside a saved model directory. */
export const MODEL_JSON_FILE = 'model.json';
/** Weights file inside a saved model directory. */
export const WEIGHTS_BIN_FILE = 'weights.bin';

/** Largest finite float16 value; float32 weights holding a larger magnitude are not quantized. */
export const FLOAT16_MAX = 65504;

// One shared float32 view to read a number's IEEE-754 single-precision bits without allocating.
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * IEEE-754 half-precision bits of a number, as numpy's `np.float32(x).astype(np.float16)`: the value is first
 * rounded to float32, then to float16 with round-to-nearest-even, gradual underflow to subnormals (smallest
 * 2^-24) and to signed zero, and overflow to ±Infinity (magnitudes from 65520 up). NaN stays NaN (quiet), with
 * its sign and the top bits of its payload.
 * @param value The number.
 * @returns The 16-bit pattern (0..0xffff).
 */
export function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  const e = exponent - 127 + 15; // re-biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: the value in units of 2^-24 is mantissa24 * 2^(e - 14); below half a unit it rounds to 0.
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    return sign | roundShift(mantissa, shift);
  }
  // Normal: keep 10 mantissa bits; a carry out of the mantissa bumps the exponent (up to Infinity), as IEEE does.
  return sign | roundShift((e << 23) | mantissa, 13);
}

// bits >>> shift rounded to nearest, ties to even (shift 1..24).
function roundShift(bits: number, shift: number): number {
  let q = bits >>> shift;
  const rest = bits & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (q & 1) === 1)) q++;
  return q;
}

// A manifest entry with tfjs' float16 quantization, in the layout the tfjs converter writes (tfjs reads `dtype`).
type QuantizedEntry = tf.io.WeightsManifestEntry & { quantization: { dtype: 'float16'; original_dtype: 'float32' } };

/**
 * Stores float32 weights as float16 (tfjs' standard weight quantization: the entry keeps `dtype: 'float32'` and
 * gains `quantization: { dtype: 'float16', original_dtype: 'float32' }`, which every tfjs loader decodes back to
 * float32). int32 / bool / string weights and float32 weights with a finite value beyond ±{@link FLOAT16_MAX}
 * (which float16 would turn into Infinity) are kept as they are.
 * @param specs The weight entries, in buffer order.
 * @param data The concatenated weight bytes.
 * @returns New entries and bytes.
 */
export function quantizeWeightsFloat16(
  specs: readonly tf.io.WeightsManifestEntry[],
  data: ArrayBuffer,
): { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const outSpecs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization != null) {
      throw new ModelFileError(`weight '${spec.name}' is already quantized (${spec.quantization.dtype}); save the float32 model instead`);
    }
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const byteLength = entryByteLength(spec, size, data, offset);
    if (offset + byteLength > data.byteLength) {
      throw new ModelFileError(`weight '${spec.name}' needs bytes ${offset}..${offset + byteLength} but the weight data has ${data.byteLength}`);
    }
    const bytes = new Uint8Array(data, offset, byteLength);
    offset += byteLength;
    if (spec.dtype === 'float32') {
      const values = new Float32Array(bytes.slice().buffer);
      if (values.every((v) => !Number.isFinite(v) || Math.abs(v) <= FLOAT16_MAX)) {
        const halves = new Uint16Array(size);
        for (let i = 0; i < size; i++) halves[i] = float32ToFloat16Bits(values[i]);
        const entry: QuantizedEntry = { ...spec, quantization: { dtype: 'float16', original_dtype: 'float32' } };
        outSpecs.push(entry);
        parts.push(new Uint8Array(halves.buffer));
        continue;
      }
    }
    outSpecs.push({ ...spec });
    parts.push(bytes);
  }
  if (offset !== data.byteLength) {
    throw new ModelFileError(`the weight entries cover ${offset} bytes but the weight data has ${data.byteLength}`);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return { specs: outSpecs, data: out.buffer };
}

// Bytes per element of the fixed-size dtypes in tfjs' weight buffers (strings vary: a uint32 length before each value).
const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

// Bytes of one unquantized weight in tfjs' buffer layout.
function entryByteLength(spec: tf.io.WeightsManifestEntry, size: number, data: ArrayBuffer, offset: number): number {
  if (spec.dtype === 'string') {
    const view = new DataView(data);
    let n = 0;
    for (let i = 0; i < size; i++) n += 4 + view.getUint32(offset + n, true);
    return n;
  }
  const bytes = DTYPE_BYTES[spec.dtype];
  if (bytes === undefined) throw new ModelFileError(`weight '${spec.name}' has an unknown dtype '${String(spec.dtype)}'`);
  return size * bytes;
}

/**
 * Bytes one manifest entry takes in the weight data: its stored dtype's size times its element count (float16 /
 * uint16 quantization 2, uint8 1, float32 / int32 4, bool 1, complex64 8); `undefined` for strings, whose size
 * depends on the data.
 * @param spec The manifest entry.
 * @returns The byte count, or `undefined` when it cannot be known from the manifest.
 */
export function manifestEntryByteLength(spec: tf.io.WeightsManifestEntry): number | undefined {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const q = spec.quantization?.dtype;
  if (q !== undefined) return q === 'uint8' ? size : size * 2; // 'float16' | 'uint16'
  const bytes = DTYPE_BYTES[spec.dtype];
  return bytes === undefined ? undefined : size * bytes;
}

// Checks a weights group's files hold exactly the bytes its manifest entries need (a truncated or foreign file
// otherwise gives tfjs' RangeError without the file's name, or silently wrong weights).
function checkWeightBytes(weights: readonly tf.io.WeightsManifestEntry[], actual: number, what: string, jsonPath: string): void {
  let expected = 0;
  for (const spec of weights) {
    const n = manifestEntryByteLength(spec);
    if (n === undefined) return; // string weights: their size is in the data
    expected += n;
  }
  if (expected !== actual) {
    throw new ModelFileError(
      `${what} has ${actual} bytes but the manifest in '${jsonPath}' needs ${expected} for its ${weights.length} weights` +
        ` (${actual < expected ? 'the file is truncated' : 'the file has extra bytes'}: it does not belong to this model.json; save the model again)`,
    );
  }
}

/**
 * Checks that a loaded model's weights hold no NaN or ±Inf (a model file with them loads, but every prediction is
 * NaN). One reduction per weight, read once.
 * @param model The loaded model.
 * @param where Where it was loaded from (for the message).
 * @throws {@link ModelFileError} naming the first weights with non-finite values and their counts.
 */
export function checkFiniteWeights(model: tfl.LayersModel, where: string): void {
  const weights = model.weights.filter((w) => w.dtype === 'float32');
  if (weights.length === 0) return;
  const counts = tf.tidy(() => tf.stack(weights.map((w) => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(w.read())), 'int32')))));
  const values = counts.dataSync();
  counts.dispose();
  const bad: string[] = [];
  let total = 0;
  values.forEach((c, i) => {
    if (c > 0) {
      total += 1;
      if (bad.length < 3) bad.push(`'${weights[i].originalName}' has ${c} of ${weights[i].shape.reduce((a: number, b) => a * (b ?? 1), 1)} values NaN or ±Inf`);
    }
  });
  if (total > 0) {
    throw new ModelFileError(
      `${where}: weight ${bad.join(', ')}${total > bad.length ? ` (and ${total - bad.length} more weights)` : ''}; ` +
        'every prediction would be NaN: the model was saved from a diverged training, use an earlier checkpoint',
    );
  }
}

/**
 * Checks the manifest's weight shapes against the model built from the topology, after tfjs refused the weights:
 * names the first weight whose shapes disagree (tfjs' own message names no weight). Disposes what it builds.
 */
async function explainShapeMismatch(artifacts: tf.io.ModelArtifacts, where: string): Promise<ModelFileError | undefined> {
  if (!artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer || !artifacts.weightSpecs) return undefined;
  let built: tfl.LayersModel | undefined;
  try {
    built = (await tfl.models.modelFromJSON({ modelTopology: artifacts.modelTopology } as Parameters<typeof tfl.models.modelFromJSON>[0])) as tfl.LayersModel;
    const specs = new Map(artifacts.weightSpecs.map((spec) => [spec.name, spec]));
    for (const w of built.weights) {
      const spec = specs.get(w.originalName);
      if (spec && (spec.shape.length !== w.shape.length || spec.shape.some((d, i) => d !== w.shape[i]))) {
        return new ModelFileError(
          `${where}: weight '${w.originalName}' is [${spec.shape.join(', ')}] in the manifest but the model's layer needs [${w.shape.join(', ')}]` +
            ' (the weights are of another model: save the model again)',
        );
      }
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    built?.dispose();
  }
}

/**
 * A tfjs `IOHandler` that saves to / loads from a directory on the Node file system as `model.json`
 * (topology + weights manifest, tfjs' layers-model format) and one `weights.bin`. Works on every
 * backend (cpu, wasm, tfjs-node): tfjs' own `file://` handler exists only with tfjs-node. Node
 * modules are imported lazily, so bundling this module for a browser is harmless.
 * @param dir Directory (created on save).
 * @param options Saving options.
 * @param options.quantize `'float16'`: store float32 weights as float16 (see {@link node!saveModel}).
 */
export function nodeFileSystemIO(dir: string, options: { quantize?: 'float16' } = {}): tf.io.IOHandler {
  if (options.quantize !== undefined && options.quantize !== 'float16') {
    throw new ModelFileError(`nodeFileSystemIO('${dir}'): unknown quantize option '${String(options.quantize)}' (expected 'float16')`);
  }
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new ModelFileError(`nodeFileSystemIO('${dir}'): binary (graph-model) topologies are not supported`);
      }
      const { mkdir, writeFile } = nodeFs(`saving a model to the directory '${dir}'`, SAVE_HINT);
      const { join } = nodePath(`saving a model to the directory '${dir}'`, SAVE_HINT);
      let weightData = artifacts.weightData == null ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      let weightSpecs = artifacts.weightSpecs ?? [];
      if (options.quantize === 'float16') ({ specs: weightSpecs, data: weightData } = quantizeWeightsFloat16(weightSpecs, weightData));
      const modelJSON: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN_FILE}`], weights: weightSpecs }],
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
      return { modelArtifactsInfo: { ...tf.io.getModelArtifactsInfoForJSON(artifacts), weightDataBytes: weightData.byteLength } };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const { readFile } = nodeFs(`loading a model from the directory '${dir}'`, LOAD_HINT);
      const { join, dirname } = nodePath(`loading a model from the directory '${dir}'`, LOAD_HINT);
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
          const files: string[] = [];
          let groupBytes = 0;
          for (const path of group.paths) {
            const file = join(dirname(jsonPath), path);
            files.push(file);
            try {
              const bytes = await readFile(file);
              buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
              groupBytes += bytes.byteLength;
            } catch (cause) {
              throw new ModelFileError(`Cannot read weights file '${file}': ${(cause as Error).message}`, { cause });
            }
          }
          checkWeightBytes(group.weights, groupBytes, files.length === 1 ? `weights file '${files[0]}'` : `weights files ${files.map((f) => `'${f}'`).join(' + ')}`, jsonPath);
        }
        return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}

/**
 * Saves a model (topology, weights, trainable flags) to `dir` as `model.json` + `weights.bin`.
 *
 * With `quantize: 'float16'` the float32 weights are stored as IEEE half floats (round-to-nearest-even), which
 * halves `weights.bin`; the manifest marks them with tfjs' standard `quantization: { dtype: 'float16',
 * original_dtype: 'float32' }`, so {@link node!loadModel}, `tf.loadLayersModel` (http, browser) and
 * `loadPretrainedNeuroStageNet` restore float32 weights on load. Half floats keep ~3 significant digits
 * (relative error ≤ 2^-11) for magnitudes 6.1e-5..65504, fewer below. A float32 weight holding a finite value
 * beyond ±65504 stays float32 (rather than becoming Infinity or being clamped); int32 and bool weights are never
 * changed. Check the quantized model's accuracy before shipping it.
 * @param model The model.
 * @param dir Target directory (created if needed).
 * @param options Saving options.
 * @param options.quantize `'float16'` to store float32 weights as float16; default: no quantization.
 * @returns tfjs' save result (byte sizes; `weightDataBytes` is the size written).
 * @example
 * ```ts
 * await saveModel(model, 'models/neurostagenet', { quantize: 'float16' });
 * const again = await loadModel('models/neurostagenet'); // float32 weights again
 * ```
 */
export async function saveModel(model: tfl.LayersModel, dir: string, options: { quantize?: 'float16' } = {}): Promise<tf.io.SaveResult> {
  return model.save(nodeFileSystemIO(dir, options));
}

/**
 * Loads a model saved by {@link node!saveModel} (or any tfjs layers-model directory with a `model.json`).
 * neurostagenet's custom layers are registered when the package is imported, so they reload. Functional models load as
 * `KerasFunctional` (Keras 3's recursive `trainable`), checkpoints saved before this package built those too.
 *
 * The weights are checked: a `weights.bin` of another size than the manifest needs (float16-quantized entries
 * count 2 bytes), a weight whose shape in the manifest is not the model's, and NaN / ±Inf values each give a
 * {@link ModelFileError} naming the file (with expected and actual bytes) or the weight (with the count).
 * @param dir The directory.
 * @returns The model (not compiled).
 * @throws {@link ModelFileError} for a missing, unreadable, mis-sized, mis-shaped or non-finite model file.
 */
export async function loadModel(dir: string): Promise<tfl.LayersModel> {
  return loadCheckedLayersModel(nodeFileSystemIO(dir), dir);
}

/**
 * Loads a layers model through `handler` as `KerasFunctional` (see {@link node!loadModel}), checking its weights:
 * a weight whose manifest shape disagrees with the model, and NaN / ±Inf values, are {@link ModelFileError}s naming
 * the weight. Used by {@link node!loadModel} and `loadPretrainedNeuroStageNet`.
 * @param handler Where the model's artifacts come from (a directory, tfjs' http handler...).
 * @param where The model's location, for messages.
 * @returns The model (not compiled).
 * @throws {@link ModelFileError} for unreadable, mis-sized, mis-shaped or non-finite weights.
 */
export async function loadCheckedLayersModel(handler: tf.io.IOHandler, where: string): Promise<tfl.LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  const keeping: tf.io.IOHandler = {
    load: async () => {
      artifacts = await handler.load!();
      // The directory handler checks each file; this is the check for any other handler (http: the weights fetched).
      if (artifacts.weightSpecs && artifacts.weightData) {
        checkWeightBytes(artifacts.weightSpecs, tf.io.CompositeArrayBuffer.join(artifacts.weightData).byteLength, `the weight data of '${where}'`, where);
      }
      return artifacts;
    },
  };
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(kerasFunctionalIO(keeping));
  } catch (e) {
    if (e instanceof ModelIOError || !artifacts) throw e;
    const explained = await explainShapeMismatch(artifacts, where);
    if (explained) throw explained;
    throw e;
  }
  try {
    checkFiniteWeights(model, where);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
