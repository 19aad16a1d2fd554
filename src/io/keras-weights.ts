import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { NeuroStageNetError } from '../errors.js';
import { ModelIOError } from './errors.js';
import { H5ReadError, type H5View, openH5 } from './h5-reader.js';
import { keras3LayerPaths, type saveKerasWeights } from './keras-weights-writer.js';

/** One weight whose shape in the file differs from the model's. */
export interface WeightShapeMismatch {
  /** Weight key, e.g. `stem_conv/kernel` or `efficientnetb0/stem_conv/kernel`. */
  name: string;
  /** Shape stored in the file. */
  fileShape: number[];
  /** Shape the model expects. */
  modelShape: number[];
}

/**
 * Thrown by {@link loadKerasWeights} when the file and the model disagree: lists every missing,
 * unexpected and shape-mismatched weight at once.
 */
export class KerasWeightsMismatchError extends ModelIOError {
  /** Model weights with no counterpart in the file. */
  readonly missing: string[];
  /** File weights with no counterpart in the model. */
  readonly unexpected: string[];
  /** Weights present in both with different shapes. */
  readonly shapeMismatches: WeightShapeMismatch[];

  /** @param file File label; the lists as described by the fields. */
  constructor(file: string, missing: string[], unexpected: string[], shapeMismatches: WeightShapeMismatch[]) {
    const list = (items: string[]) =>
      items.length <= 25 ? items.join(', ') : `${items.slice(0, 25).join(', ')}, … (${items.length - 25} more)`;
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`${missing.length} missing in the file: ${list(missing)}`);
    if (unexpected.length > 0) parts.push(`${unexpected.length} unexpected (not in the model): ${list(unexpected)}`);
    if (shapeMismatches.length > 0) {
      parts.push(
        `${shapeMismatches.length} with a different shape: ` +
          list(shapeMismatches.map((m) => `${m.name} file [${m.fileShape}] vs model [${m.modelShape}]`)),
      );
    }
    super(`Keras weights '${file}' do not match the model: ${parts.join('; ')}`);
    this.missing = missing;
    this.unexpected = unexpected;
    this.shapeMismatches = shapeMismatches;
  }
}

/** Thrown when a file is neither a legacy (`layer_names`) Keras HDF5 weights file nor a Keras 3 `.weights.h5` file. */
export class KerasWeightsFormatError extends ModelIOError {}

/** Options of {@link loadKerasWeights}. */
export interface LoadKerasWeightsOptions {
  /**
   * Throw {@link KerasWeightsMismatchError} if any weight is missing, unexpected or of another shape
   * (default true). With false, loads every weight that matches and reports the rest.
   */
  strict?: boolean;
  /** Name used for the file in errors (default: the path, or `'<bytes>'`). */
  label?: string;
}

/** What {@link loadKerasWeights} did. */
export interface KerasWeightsReport {
  /** `'nested'` if at least one file group held a nested model's weights, else `'flat'`. */
  layout: 'flat' | 'nested';
  /** The file's layout: Keras 3 `.weights.h5` (`'keras3'`) or the legacy `layer_names` one. */
  format: 'keras3' | 'legacy';
  /** Keys of the weights assigned, e.g. `stem_bn/gamma` or `efficientnetb0/stem_bn/gamma`. */
  loaded: string[];
  /** File weights not assigned (unexpected or shape-mismatched; only non-empty when `strict: false`). */
  skipped: string[];
  /** Model weights left unchanged because the file lacks them (only non-empty when `strict: false`). */
  missing: string[];
  /** Shape mismatches (only non-empty when `strict: false`). */
  shapeMismatches: WeightShapeMismatch[];
  /** Number of scalar values assigned. */
  loadedValues: number;
  /** The file's `keras_version` attribute, if present. */
  kerasVersion?: string;
}

/** A model weight addressed by its Keras key. Internal. */
interface ModelWeight {
  key: string;
  variable: tfl.LayerVariable;
  /** Alternative key a file may use (Keras 3 names DepthwiseConv2D's kernel `kernel`). */
  alias?: string;
}

/** Last path component of a tfjs weight's name: `stem_conv/kernel` → `kernel`. */
function shortName(v: tfl.LayerVariable): string {
  const parts = v.originalName.split('/');
  return parts[parts.length - 1];
}

function isNestedModel(layer: tfl.layers.Layer): layer is tfl.LayersModel {
  return layer instanceof tfl.LayersModel;
}

/** Every weight of the model keyed `<layer>/<var>`, nested models as `<model>/<layer>/<var>`. */
function modelWeights(model: tfl.LayersModel): ModelWeight[] {
  const out: ModelWeight[] = [];
  const visit = (layer: tfl.layers.Layer, prefix: string) => {
    if (isNestedModel(layer)) {
      for (const inner of layer.layers) visit(inner, `${prefix}${layer.name}/`);
      return;
    }
    for (const variable of layer.weights) {
      const name = shortName(variable);
      const key = `${prefix}${layer.name}/${name}`;
      const alias =
        layer.getClassName() === 'DepthwiseConv2D' && name === 'depthwise_kernel'
          ? `${prefix}${layer.name}/kernel`
          : undefined;
      out.push({ key, variable, alias });
    }
  };
  for (const layer of model.layers) visit(layer, '');
  return out;
}

/** A weight as listed in the file. */
interface FileWeight {
  key: string;
  datasetPath: string;
  /** Keras 3 layout: the path is where the weight would be; absent means missing (not a broken file). */
  probe?: boolean;
}

/**
 * Lists the weights of a Keras 3 `.weights.h5` file as Keras reads it: by position, `layers/<class>[_n]/vars/<i>`
 * for the model's layers in order. A dataset one past a layer's weights is reported as unexpected.
 */
function keras3FileWeights(h5: H5View, model: tfl.LayersModel): { weights: FileWeight[]; nested: boolean } {
  const weights: FileWeight[] = [];
  let nested = false;
  for (const { layer, path, prefix } of keras3LayerPaths(model)) {
    if (isNestedModel(layer)) {
      nested = true;
      continue;
    }
    layer.weights.forEach((variable, i) => {
      weights.push({ key: `${prefix}${layer.name}/${shortName(variable)}`, datasetPath: `${path}/vars/${i}`, probe: true });
    });
    const extra = `${path}/vars/${layer.weights.length}`;
    if (h5.dataset(extra) != null) weights.push({ key: `${prefix}${layer.name}/vars/${layer.weights.length}`, datasetPath: extra });
  }
  return { weights, nested };
}

/** Lists the file's weights in the legacy Keras layout, keyed like {@link modelWeights}. */
function fileWeights(h5: H5View, model: tfl.LayersModel, label: string): { weights: FileWeight[]; nested: boolean } {
  let base = '';
  let layerNames = h5.stringAttr('/', 'layer_names');
  if (layerNames == null && h5.hasGroup('model_weights')) {
    // A full-model .h5 (model.save('x.h5')) keeps the weights under /model_weights.
    base = 'model_weights/';
    layerNames = h5.stringAttr('model_weights', 'layer_names');
  }
  if (layerNames == null) {
    throw new KerasWeightsFormatError(
      `'${label}' has no 'layer_names' attribute and no 'layers' and 'vars' groups: neither a Keras HDF5 weights file ` +
        `in the legacy layout (model.save_weights('x.h5') in Keras 2, model.save('x.h5')) nor a Keras 3 .weights.h5 file ` +
        `(model.save_weights('x.weights.h5')); .keras archives are not supported (unzip one: its model.weights.h5 loads)`,
    );
  }
  const modelLayers = new Map(model.layers.map((l) => [l.name, l]));
  const weights: FileWeight[] = [];
  let nested = false;
  for (const group of layerNames) {
    const names = h5.stringAttr(`${base}${group}`, 'weight_names') ?? [];
    const target = modelLayers.get(group);
    for (const weightName of names) {
      const parts = weightName.replace(/:\d+$/, '').split('/');
      let key: string;
      if (target != null ? isNestedModel(target) : parts.length > 2 || parts[0] !== group) {
        // Nested model: '<inner layer>/<var>:0' inside the model's group.
        nested = true;
        key = `${group}/${parts.slice(-2).join('/')}`;
      } else {
        key = `${group}/${parts[parts.length - 1]}`;
      }
      weights.push({ key, datasetPath: `${base}${group}/${weightName}` });
    }
  }
  return { weights, nested };
}

/**
 * Loads a Keras HDF5 weights file into a tfjs model by layer name.
 *
 * Reads the legacy layout Keras' own `efficientnetb0_notop.h5` uses (root attribute `layer_names`,
 * one group per layer with attribute `weight_names`, datasets `<layer>/<layer>/<weight>:0`) and the
 * layout Keras writes for a model containing a nested model (one group for the nested model, datasets
 * `<model>/<inner layer>/<weight>:0`), in any weight order. A full-model `.h5` (weights under
 * `/model_weights`) works too. Normalization `mean` / `variance` are applied as stored.
 *
 * Also reads Keras 3's `.weights.h5` layout (`model.save_weights('x.weights.h5')`, or {@link saveKerasWeights}):
 * there Keras addresses weights by position, not by name (`layers/<class>[_n]/vars/<i>`, numbered per class in
 * `model.layers` order), and so does this loader; the model's layers must be Keras' in order (neurostagenet's are).
 *
 * @param model The tfjs model, e.g. from `buildEfficientNetB0` or `buildNeuroStageNet`.
 * @param source A file path (Node only) or the file's bytes (Node and browsers).
 * @param options `strict` (default true) and an error label.
 * @returns What was loaded.
 * @throws {@link KerasWeightsMismatchError} listing every missing, unexpected and mis-shaped weight (strict mode).
 * @throws {@link KerasWeightsFormatError} if the file is in neither layout.
 */
export async function loadKerasWeights(
  model: tfl.LayersModel,
  source: string | Uint8Array,
  options: LoadKerasWeightsOptions = {},
): Promise<KerasWeightsReport> {
  const strict = options.strict ?? true;
  const label = options.label ?? (typeof source === 'string' ? source : '<bytes>');
  const h5 = await openH5(source, label);
  try {
    const keras3 = h5.stringAttr('/', 'layer_names') == null && h5.hasGroup('layers') && h5.hasGroup('vars');
    const { weights: inFile, nested } = keras3 ? keras3FileWeights(h5, model) : fileWeights(h5, model, label);
    const byKey = new Map<string, FileWeight>();
    for (const w of inFile) byKey.set(w.key, w);
    const matched = new Set<string>();
    const missing: string[] = [];
    const shapeMismatches: WeightShapeMismatch[] = [];
    const toAssign: { variable: tfl.LayerVariable; values: Float32Array; shape: number[]; key: string }[] = [];
    for (const mw of modelWeights(model)) {
      const fw = byKey.get(mw.key) ?? (mw.alias != null ? byKey.get(mw.alias) : undefined);
      if (fw == null) {
        missing.push(mw.key);
        continue;
      }
      matched.add(fw.key);
      const data = h5.dataset(fw.datasetPath);
      if (data == null && fw.probe === true) {
        missing.push(mw.key);
        continue;
      }
      if (data == null) {
        throw new KerasWeightsFormatError(`'${label}': weight_names lists '${fw.datasetPath}' but no such dataset exists`);
      }
      const modelShape = mw.variable.shape as number[];
      if (data.shape.length !== modelShape.length || data.shape.some((d, i) => d !== modelShape[i])) {
        shapeMismatches.push({ name: mw.key, fileShape: data.shape, modelShape: [...modelShape] });
        continue;
      }
      toAssign.push({ variable: mw.variable, values: data.values, shape: data.shape, key: mw.key });
    }
    const unexpected = inFile.filter((w) => !matched.has(w.key)).map((w) => w.key);
    if (strict && (missing.length > 0 || unexpected.length > 0 || shapeMismatches.length > 0)) {
      throw new KerasWeightsMismatchError(label, missing, unexpected, shapeMismatches);
    }
    let loadedValues = 0;
    for (const a of toAssign) {
      tf.tidy(() => {
        a.variable.write(tf.tensor(a.values, a.shape, 'float32'));
      });
      loadedValues += a.values.length;
    }
    const version = h5.stringAttr('/', 'keras_version');
    return {
      layout: nested ? 'nested' : 'flat',
      format: keras3 ? 'keras3' : 'legacy',
      loaded: toAssign.map((a) => a.key),
      skipped: [...unexpected, ...shapeMismatches.map((m) => m.name)],
      missing,
      shapeMismatches,
      loadedValues,
      kerasVersion: version?.[0],
    };
  } catch (error) {
    if (error instanceof NeuroStageNetError) throw error;
    throw new H5ReadError(`Cannot read Keras weights from '${label}': ${(error as Error).message}`, { cause: error });
  } finally {
    h5.close();
  }
}
