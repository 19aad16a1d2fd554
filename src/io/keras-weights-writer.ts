/**
 * Keras weights out: writes a tfjs model's weights as an HDF5 file that Keras' `model.load_weights` reads for the same
 * architecture, in Keras 3's `.weights.h5` layout or in the legacy (Keras 2 / tf.keras) `.h5` layout.
 *
 * The file is built with h5wasm, the optional peer that already reads Keras weights ({@link loadKerasWeights}), in its
 * in-memory file system, so the bytes variant works in browsers too; only writing a path needs Node.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { NeuroStageNetError } from '../errors.js';
import { nodeFs } from '../env/node-builtin.js';
import { importAtRunTime, optionalPeer } from '../env/optional-peer.js';
import { ModelIOError } from './errors.js';

/**
 * Layout of a Keras HDF5 weights file:
 * - `'keras3'`: what Keras 3's `model.save_weights('x.weights.h5')` writes and `model.load_weights('x.weights.h5')`
 *   reads (groups `layers/<class name>[_<n>]/vars/<i>`, nested models as `layers/functional/layers/…`).
 * - `'legacy'`: the Keras 2 / tf.keras `.h5` layout (root `layer_names`, per-layer `weight_names`), which
 *   tf.keras 2.x and Keras 3 read with `model.load_weights('x.h5')`, and {@link loadKerasWeights} reads.
 */
export type KerasWeightsFormat = 'keras3' | 'legacy';

/** Options of {@link saveKerasWeights} and {@link kerasWeightsBytes}. */
export interface SaveKerasWeightsOptions {
  /** File layout (default `'keras3'`); see {@link KerasWeightsFormat}. */
  format?: KerasWeightsFormat;
  /**
   * `keras_version` root attribute of a `'legacy'` file (default `'3.15.1'`, the Keras whose writer the layout
   * follows; Keras' legacy loader converts weights only for files it takes for Keras 1).
   */
  kerasVersion?: string;
}

/** What {@link saveKerasWeights} wrote. */
export interface KerasWeightsSaveReport {
  /** The path written. */
  path: string;
  /** The layout written. */
  format: KerasWeightsFormat;
  /** File size in bytes. */
  bytes: number;
  /** Number of weight arrays (datasets) written. */
  weights: number;
  /** Number of scalar values written. */
  values: number;
}

/** Thrown by {@link saveKerasWeights} when the file cannot be written (the message and {@link path} name it). */
export class KerasWeightsWriteError extends ModelIOError {
  /** The path that could not be written (`'<bytes>'` for {@link kerasWeightsBytes}). */
  readonly path: string;

  /**
   * @param path The target path.
   * @param message The full message.
   * @param options The cause.
   */
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
  }
}

type H5Module = typeof import('h5wasm');
type H5Group = InstanceType<H5Module['Group']>;
interface EmscriptenFS {
  readFile(path: string): Uint8Array;
  unlink(path: string): void;
  analyzePath(path: string): { exists: boolean };
}

/**
 * h5wasm as an optional peer, for writing (same package and importer as the reader's; own message). Internal (tests
 * replace the importer).
 */
export const h5wasmWriterPeer = optionalPeer<H5Module>(
  'h5wasm',
  'Writing Keras HDF5 weights (saveKerasWeights)',
  () => importAtRunTime<H5Module>('h5wasm'),
);

let fileCounter = 0;

/** The Keras version whose writers the two layouts follow (checked with Keras 3.15.1 / TensorFlow 2.21.0). */
const KERAS_LAYOUT_VERSION = '3.15.1';

/** tfjs / neurostagenet layer classes whose Keras counterpart has another class name. */
const KERAS_CLASS: Record<string, string> = {
  GrayToRGBProjection: 'Conv2D',
  SeededDropout: 'Dropout',
  KerasBatchNormalization: 'BatchNormalization',
  KerasNormalization: 'Normalization',
  KerasRescaling: 'Rescaling',
  KerasFunctional: 'Functional',
  Model: 'Functional',
  Sequential: 'Sequential',
};

/** Keras' class name of a tfjs layer (registered names lose their `package>` prefix). */
function kerasClassName(layer: tfl.layers.Layer): string {
  if (layer instanceof tfl.Sequential) return 'Sequential';
  if (layer instanceof tfl.LayersModel) return 'Functional';
  const name = layer.getClassName().replace(/^.*>/, '');
  return KERAS_CLASS[name] ?? name;
}

/** Keras' `naming.to_snake_case`: `ZeroPadding2D` → `zero_padding2d`, `InputLayer` → `input_layer`. */
function kerasSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

function isNestedModel(layer: tfl.layers.Layer): layer is tfl.LayersModel {
  return layer instanceof tfl.LayersModel;
}

/**
 * The layers Keras has for a tfjs model: all of them, except the separate weightless softmax Activation that follows
 * a Dense in neurostagenet's models (`predictions` → `predictions_softmax`), which Keras folds into the Dense.
 */
function kerasLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  const names = new Set(model.layers.map((l) => l.name));
  return model.layers.filter(
    (l) =>
      !(l.getClassName() === 'Activation' && l.weights.length === 0 && l.name.endsWith('_softmax') &&
        names.has(l.name.slice(0, -'_softmax'.length))),
  );
}

/** Last component of a weight's name, as Keras names it (Keras 3 calls DepthwiseConv2D's kernel `kernel`). */
function kerasVarName(layer: tfl.layers.Layer, variable: tfl.LayerVariable): string {
  const parts = variable.originalName.split('/');
  const name = parts[parts.length - 1];
  return layer.getClassName() === 'DepthwiseConv2D' && name === 'depthwise_kernel' ? 'kernel' : name;
}

/** The layer of `model` (at any depth) that owns a weight, by the weight's `originalName` `<layer>/<var>`. */
function ownerName(variable: tfl.LayerVariable): string {
  const parts = variable.originalName.split('/');
  return parts[parts.length - 2] ?? parts[0];
}

interface Counter {
  weights: number;
  values: number;
}

/** Writes one weight as a dataset: float32, except Normalization's `count` (int64 scalar, as Keras keeps it). */
async function writeDataset(group: H5Group, name: string, layer: tfl.layers.Layer, variable: tfl.LayerVariable, counter: Counter) {
  const values = (await variable.read().data()) as Float32Array;
  const shape = [...(variable.shape as number[])];
  const isCount = kerasClassName(layer) === 'Normalization' && kerasVarName(layer, variable) === 'count';
  const data = isCount ? BigInt64Array.from(values, (v) => BigInt(Math.round(v))) : Float32Array.from(values);
  group.create_dataset({ name, data, shape, dtype: isCount ? '<q' : '<f4' });
  counter.weights += 1;
  counter.values += values.length;
}

/** A variable-length UTF-8 scalar string attribute, as h5py writes a Python `str`. */
function stringAttr(group: H5Group, name: string, value: string, cset: 'S' | 'A') {
  group.create_attribute(name, value, [], cset);
}

/** A layer's place in Keras 3's `.weights.h5` layout. Internal. */
export interface Keras3LayerPath {
  /** The layer (a nested model included). */
  layer: tfl.layers.Layer;
  /** Group path, e.g. `layers/functional` or `layers/functional/layers/conv2d`. */
  path: string;
  /** Key prefix of the layer's weights, e.g. `efficientnetb0/`. */
  prefix: string;
}

/**
 * Every layer of `model` (nested models and their layers too) with its group path in Keras 3's layout:
 * `layers/<snake_case Keras class>[_<n>]`, numbered per class in `model.layers` order. Internal.
 */
export function keras3LayerPaths(model: tfl.LayersModel, base = '', prefix = ''): Keras3LayerPath[] {
  const out: Keras3LayerPath[] = [];
  const used = new Map<string, number>();
  for (const layer of kerasLayers(model)) {
    const cls = kerasSnakeCase(kerasClassName(layer));
    const n = used.get(cls);
    used.set(cls, n == null ? 0 : n + 1);
    const path = `${base}layers/${n == null ? cls : `${cls}_${n + 1}`}`;
    out.push({ layer, path, prefix });
    if (isNestedModel(layer)) out.push(...keras3LayerPaths(layer, `${path}/`, `${prefix}${layer.name}/`));
  }
  return out;
}

/**
 * Keras 3 `.weights.h5`: `vars` (attribute `name`) and `layers/<snake class>[_n]/vars/<i>` for every layer, a nested
 * model as `layers/functional` with its own `vars` and `layers`.
 */
async function writeKeras3(file: H5Group, model: tfl.LayersModel, counter: Counter) {
  stringAttr(file.create_group('vars'), 'name', model.name, 'S');
  file.create_group('layers');
  for (const { layer, path } of keras3LayerPaths(model)) {
    const cut = path.lastIndexOf('/');
    const entry = (file.get(path.slice(0, cut)) as H5Group).create_group(path.slice(cut + 1));
    const vars = entry.create_group('vars');
    stringAttr(vars, 'name', layer.name, 'S');
    if (isNestedModel(layer)) {
      entry.create_group('layers');
      continue;
    }
    // Keras saves `_trainable_variables + _non_trainable_variables`, i.e. creation order, whatever is frozen.
    let i = 0;
    for (const variable of layer.weights) await writeDataset(vars, String(i++), layer, variable, counter);
  }
}

/** Variable-length ASCII strings, as Keras' legacy writer stores `layer_names` / `weight_names`. */
function stringListAttr(group: H5Group, name: string, values: string[]) {
  if (values.length === 0) {
    // h5py stores an empty list as an empty float64 array (Keras' own files have this).
    group.create_attribute(name, new Float64Array(0), [0], '<d');
  } else {
    group.create_attribute(name, values, [values.length], 'A');
  }
}

/** Legacy layout: root `layer_names`, one group per layer with `weight_names`, datasets `<layer>/<weight name>`. */
async function writeLegacy(root: H5Group, model: tfl.LayersModel, kerasVersion: string, counter: Counter) {
  const layers = kerasLayers(model);
  stringListAttr(root, 'layer_names', layers.map((l) => l.name));
  stringAttr(root, 'backend', 'tensorflow', 'A');
  stringAttr(root, 'keras_version', kerasVersion, 'A');
  for (const layer of layers) {
    const group = root.create_group(layer.name);
    // Keras' legacy loader assigns by position, in the order `trainable_weights + non_trainable_weights` of the
    // model it loads into (a nested model: trainable weights of all its layers first).
    const weights = [...layer.trainableWeights, ...layer.nonTrainableWeights];
    const names: string[] = [];
    const subGroups = new Map<string, H5Group>();
    for (const variable of weights) {
      const owner = isNestedModel(layer) ? ownerLayer(layer, variable) : layer;
      const weightName = `${owner.name}/${kerasVarName(owner, variable)}`;
      names.push(weightName);
      const [sub, leaf] = weightName.split('/');
      let subGroup = subGroups.get(sub);
      if (subGroup == null) {
        subGroup = group.create_group(sub);
        subGroups.set(sub, subGroup);
      }
      await writeDataset(subGroup, leaf, owner, variable, counter);
    }
    stringListAttr(group, 'weight_names', names);
  }
  // Keras 3 adds the model's own (top-level) weights, none for a functional model; Keras 2 ignores the group.
  stringListAttr(root.create_group('top_level_model_weights'), 'weight_names', []);
}

/** The leaf layer of a nested model that owns `variable`. */
function ownerLayer(model: tfl.LayersModel, variable: tfl.LayerVariable): tfl.layers.Layer {
  const name = ownerName(variable);
  const stack: tfl.layers.Layer[] = [...model.layers];
  while (stack.length > 0) {
    const layer = stack.shift()!;
    if (isNestedModel(layer)) stack.push(...layer.layers);
    else if (layer.name === name && layer.weights.includes(variable)) return layer;
  }
  throw new ModelIOError(`Weight '${variable.originalName}' of '${model.name}' belongs to no layer of it`);
}

async function loadH5wasm(): Promise<{ h5: H5Module; FS: EmscriptenFS }> {
  const h5 = await h5wasmWriterPeer.load();
  const module = (await h5.ready) as unknown as { FS: EmscriptenFS };
  return { h5, FS: module.FS };
}

async function serialize(model: tfl.LayersModel, options: SaveKerasWeightsOptions, label: string) {
  const format = options.format ?? 'keras3';
  if (format !== 'keras3' && format !== 'legacy') {
    throw new KerasWeightsWriteError(label, `Unknown Keras weights format '${String(format)}' for '${label}' (use 'keras3' or 'legacy')`);
  }
  const { h5, FS } = await loadH5wasm();
  const memPath = `/neurostagenet-write-${++fileCounter}.h5`;
  const counter: Counter = { weights: 0, values: 0 };
  let file: InstanceType<H5Module['File']> | null = null;
  try {
    file = new h5.File(memPath, 'w');
    if (format === 'keras3') await writeKeras3(file, model, counter);
    else await writeLegacy(file, model, options.kerasVersion ?? KERAS_LAYOUT_VERSION, counter);
    file.close();
    file = null;
    const bytes = FS.readFile(memPath);
    return { format, bytes: new Uint8Array(bytes), ...counter };
  } catch (error) {
    if (error instanceof NeuroStageNetError) throw error;
    throw new KerasWeightsWriteError(label, `Cannot write Keras weights for '${label}': ${(error as Error).message ?? String(error)}`, {
      cause: error,
    });
  } finally {
    file?.close();
    if (FS.analyzePath(memPath).exists) FS.unlink(memPath);
  }
}

/**
 * The bytes of a Keras HDF5 weights file for `model` (Node and browsers); see {@link saveKerasWeights} for the layouts.
 * @param model A tfjs model whose layer names are Keras' (e.g. from `buildNeuroStageNet` or `buildEfficientNetB0`).
 * @param options Layout (default `'keras3'`).
 * @returns The file's bytes.
 * @throws `OptionalDependencyError` when h5wasm is not installed.
 */
export async function kerasWeightsBytes(model: tfl.LayersModel, options: SaveKerasWeightsOptions = {}): Promise<Uint8Array> {
  return (await serialize(model, options, '<bytes>')).bytes;
}

/**
 * Writes `model`'s weights as a Keras HDF5 weights file that Keras' `model.load_weights(path)` reads into the same
 * architecture (NeuroStageNet as `neurostagenet_keras.py` builds it, `keras.applications.EfficientNetB0`).
 *
 * - `format: 'keras3'` (default): Keras 3's `.weights.h5` layout, byte-for-byte the structure of
 *   `model.save_weights('x.weights.h5')`: `vars` with attribute `name`, `layers/<snake_case class>[_<n>]/vars/<i>`
 *   (numbered per class in `model.layers` order, nested models as `layers/functional/layers/…`), datasets in each
 *   layer's creation order (BatchNormalization gamma, beta, moving_mean, moving_variance; SeparableConv2D depthwise,
 *   pointwise, bias; Normalization mean, variance, int64 count). Keras 3 reads it when the name ends in `.weights.h5`.
 * - `format: 'legacy'`: the Keras 2 / tf.keras `.h5` layout (root `layer_names`, `backend`, `keras_version`; per
 *   layer `weight_names` and datasets `<layer>/<layer>/<weight>`, a nested model as one group). Keras 3 reads it
 *   (`legacy_h5_format`) and tf.keras 2.x too when the name ends in `.h5` but not `.weights.h5`; so does
 *   {@link loadKerasWeights}. Keras assigns it by position, so the model in Keras must have the same freezing.
 *
 * Layer names and order must be Keras' (neurostagenet's models have them); the separate `predictions_softmax`
 * Activation is folded into `predictions` as in Keras. Needs the optional peer h5wasm.
 *
 * @param model The tfjs model.
 * @param path Target file (Node only); Keras picks the reader by the name, so `'keras3'` needs `….weights.h5` and
 * `'legacy'` a `.h5` / `.hdf5` name that does not end in `.weights.h5`.
 * @param options Layout (default `'keras3'`) and the legacy `keras_version`.
 * @returns What was written.
 * @throws {@link KerasWeightsWriteError} naming the path when it cannot be written, or when its name would make Keras
 * pick the other reader.
 * @throws `OptionalDependencyError` when h5wasm is not installed.
 */
export async function saveKerasWeights(
  model: tfl.LayersModel,
  path: string,
  options: SaveKerasWeightsOptions = {},
): Promise<KerasWeightsSaveReport> {
  const format = options.format ?? 'keras3';
  const lower = path.toLowerCase();
  if (format === 'keras3' && !lower.endsWith('.weights.h5')) {
    throw new KerasWeightsWriteError(
      path,
      `'${path}': Keras 3 reads the 'keras3' layout only from a name ending in '.weights.h5' ` +
        `(rename it, or pass { format: 'legacy' } for a legacy .h5 file)`,
    );
  }
  if (format === 'legacy' && (lower.endsWith('.weights.h5') || !/\.(h5|hdf5)$/.test(lower))) {
    throw new KerasWeightsWriteError(
      path,
      `'${path}': Keras reads the 'legacy' layout from a name ending in '.h5' or '.hdf5' but not '.weights.h5' ` +
        `(rename it, or use the default 'keras3' layout with a '.weights.h5' name)`,
    );
  }
  const { writeFile } = nodeFs(`writing the Keras weights file '${path}'`, 'in a browser, use kerasWeightsBytes()');
  const written = await serialize(model, options, path);
  try {
    await writeFile(path, written.bytes);
  } catch (cause) {
    throw new KerasWeightsWriteError(path, `Cannot write Keras weights to '${path}': ${(cause as Error).message}`, { cause });
  }
  return { path, format: written.format, bytes: written.bytes.byteLength, weights: written.weights, values: written.values };
}
