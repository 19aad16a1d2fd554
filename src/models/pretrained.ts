/**
 * Loading a trained NeuroStageNet: the one shipped in the package's `models/neurostagenet/` directory, or any
 * model directory / URL holding a tfjs layers model (`model.json` + weights) and an optional `metadata.json`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ModelError } from './errors.js';
import { MODEL_JSON_FILE, loadCheckedLayersModel, loadModel } from '../io/fs-model-io.js';
import { nodeFs, nodeFsSync, nodePath, nodeUrl } from '../env/node-builtin.js';
import type { FootprintRange } from '../data/slice-level.js';
import { deserializeInputCheck, type InputCheckModel, type SerializedInputCheck } from '../data/input-check.js';
import { attachInputCheck } from './input-check.js';

/** Class names of the Alzheimer MRI dataset, indexed by label (its HuggingFace `ClassLabel` names). */
export const ALZHEIMER_CLASS_NAMES: readonly string[] = Object.freeze([
  'Mild_Demented',
  'Moderate_Demented',
  'Non_Demented',
  'Very_Mild_Demented',
]);

/** Labels of {@link ALZHEIMER_CLASS_NAMES} from least to most severe (Non, Very Mild, Mild, Moderate). */
export const ALZHEIMER_SEVERITY_ORDER: readonly number[] = Object.freeze([2, 3, 0, 1]);

/** Name of the optional metadata file next to `model.json` in a model directory. */
export const MODEL_METADATA_FILE = 'metadata.json';

/** Name of the shipped model's directory inside the package's `models/` folder. */
export const PRETRAINED_MODEL_DIR = 'neurostagenet';

/**
 * What a model directory's `metadata.json` may say about the model. Every field is optional; unknown fields are
 * kept (e.g. training details for the model card).
 */
export interface ModelMetadata {
  /** Class names indexed by output index. Default `class_0` .. `class_{k-1}` (see {@link describeModel}). */
  classNames?: string[];
  /**
   * Severity order of the classes (for ordinal metrics). Default {@link ALZHEIMER_SEVERITY_ORDER} when `classNames`
   * are {@link ALZHEIMER_CLASS_NAMES}, else label order.
   */
  ordinalOrder?: number[];
  /** Temperature fitted on validation logits (temperature scaling); divide the logits by it. Default 1. */
  temperature?: number;
  /** Head footprints of the training slices (see `headFootprint`): the slice levels the model learned. */
  trainingFootprint?: FootprintRange;
  /** The input check fitted on the training people ({@link SerializedInputCheck}); see `checkInputs`. */
  inputCheck?: SerializedInputCheck;
  /**
   * The temperature decision of training (`chooseTemperature`, recorded by `runTrainingPipeline`): `kept: false`
   * means the fitted temperature did not help on the validation people, and the loader serves T = 1.
   */
  calibration?: {
    /** Whether the fitted temperature was kept (it lowered both validation NLL and ECE). */
    kept?: boolean;
    /** One sentence on the decision. */
    reason?: string;
    /** The temperature fitted on the validation people, kept or not. */
    fittedTemperature?: number;
    /** Any further details (NLL and ECE before and after...). */
    [key: string]: unknown;
  };
  /** Any further information (data, recipe, metrics...). */
  [key: string]: unknown;
}

/** Options of {@link loadPretrainedNeuroStageNet}. */
export interface LoadPretrainedOptions {
  /**
   * Where the model is: a directory path or `file:` URL holding `model.json` (Node), or an `http(s):` URL of a
   * `model.json` (or of its directory, ending in `/`). Default: the package's shipped `models/neurostagenet/`
   * (Node only; in a browser pass the URL the page serves the model from).
   */
  location?: string | URL;
}

/** A loaded model and what its metadata says about its outputs. */
export interface PretrainedNeuroStageNet {
  /** The model (not compiled): `[N, H, W, 1]` grayscale 0..255 in, class probabilities out. */
  model: tfl.LayersModel;
  /** Class names indexed by output index. */
  classNames: string[];
  /**
   * Where {@link PretrainedNeuroStageNet.classNames} come from: `'metadata'` (the model's `metadata.json`), `'data'`
   * (the evaluated file's label metadata, {@link withDataClassNames}) or `'default'` (none recorded: the generic `class_0` .. `class_{k-1}`, whatever the number of outputs; a
   * 4-output model is not assumed to be the Alzheimer one). Always set by {@link loadPretrainedNeuroStageNet} and
   * {@link describeModel}; optional so that a hand-made description (e.g. of an untrained model) may omit it.
   */
  classNamesSource?: 'metadata' | 'default' | 'data';
  /** Severity order of the classes. */
  ordinalOrder: number[];
  /**
   * Served calibration temperature: `softmax(logits / temperature)` are the served probabilities. 1 when the metadata
   * has none or when its calibration decision says the fitted temperature was not kept (see
   * {@link PretrainedNeuroStageNet.calibration}).
   */
  temperature: number;
  /**
   * Which calibration is served and why. Always set by {@link describeModel}; optional so that a hand-made
   * description may omit it (then {@link PretrainedNeuroStageNet.temperature} is what is served).
   */
  calibration?: ModelCalibration;
  /** `[height, width]` of the images the model takes. */
  imageSize: [number, number];
  /** The slice levels the model was trained on (head footprints), when the metadata records them. */
  trainingFootprint?: FootprintRange;
  /**
   * The input check of the metadata, when it has one (also tied to `model`, so `evaluate(model, ...)` runs it): which
   * images the model was not made for. See `checkInputs`.
   */
  inputCheck?: InputCheckModel;
  /** The metadata file's contents (`{}` when there is none). */
  metadata: ModelMetadata;
  /** Where the model was loaded from (directory path or URL). */
  location: string;
}

/**
 * The calibration a model serves, from its metadata: temperature scaling only where the validation people said it
 * helps (`calibration.kept` in metadata.json, recorded by `runTrainingPipeline`).
 */
export interface ModelCalibration {
  /**
   * The recorded decision: `true` the fitted temperature was kept, `false` it was not (T = 1 is served), `undefined`
   * no decision recorded (the metadata `temperature`, default 1, is served as is).
   */
  kept: boolean | undefined;
  /** The served temperature (1 when not kept or when none is recorded). */
  temperature: number;
  /**
   * The temperature fitted on the validation people, when the metadata records one (even if not kept); what
   * `--calibration temperature` applies. `undefined` when the model has no fitted temperature.
   */
  fittedTemperature: number | undefined;
  /** One sentence on the decision (the recorded reason, or what the loader inferred). */
  reason: string;
}

/** Thrown when no model is found where one was expected (e.g. no trained model is shipped in `models/`). */
export class PretrainedModelNotFoundError extends ModelError {
  /** Where the model was looked for. */
  readonly location: string;

  /**
   * @param location Where the model was looked for.
   * @param message What was missing.
   */
  constructor(location: string, message: string) {
    super(message);
    this.location = location;
  }
}

/** Thrown when a model directory's `metadata.json` cannot be parsed or contradicts the model. */
export class ModelMetadataError extends ModelError {}

const isNode = (): boolean => typeof process !== 'undefined' && process.versions?.node != null;

// What to use instead of a path outside Node.
const BROWSER_HINT = 'in a browser, pass options.location as the http(s) URL of model.json';

/**
 * Directory of the shipped model, `<package root>/models/neurostagenet`, found by walking up from this module's
 * own file to the `package.json` named `neurostagenet` (works from `src/` under tsx and from the built `dist/`).
 * Node only.
 * @returns The directory path (which may not contain a model yet).
 * @throws {@link index!PretrainedModelNotFoundError} outside Node or when the package root cannot be found.
 */
export async function pretrainedModelDir(): Promise<string> {
  if (!isNode()) {
    throw new PretrainedModelNotFoundError('models/neurostagenet', 'the shipped model can only be located in Node; pass options.location (the URL of model.json) in a browser');
  }
  const operation = 'locating the shipped model';
  const { fileURLToPath } = nodeUrl(operation, BROWSER_HINT);
  const { dirname, join } = nodePath(operation, BROWSER_HINT);
  const { readFile } = nodeFs(operation, BROWSER_HINT);
  const start = dirname(fileURLToPath(import.meta.url));
  let dir = start;
  for (let up = 0; up < 6; up++) {
    try {
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'neurostagenet') return join(dir, 'models', PRETRAINED_MODEL_DIR);
    } catch {
      // no (readable) package.json at this level: keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new PretrainedModelNotFoundError(start, `cannot find the neurostagenet package root above ${start}`);
}

/**
 * Loads a trained NeuroStageNet with its metadata (class names, severity order, calibration temperature).
 *
 * Without `location`, loads the model shipped in the package (`models/neurostagenet/`). neurostagenet's custom
 * layers are registered when the package is imported, so any model saved with {@link node!saveModel} loads.
 * Weights stored as float16 (tfjs weight quantization) are restored to float32 by tfjs. The weights are checked as
 * {@link node!loadModel} checks them (size against the manifest, shapes against the model, no NaN / ±Inf), over
 * http too.
 *
 * @param options Where the model is (default: the shipped one).
 * @returns The model and its metadata.
 * @throws {@link index!PretrainedModelNotFoundError} when there is no `model.json` at the location (e.g. no trained
 *   model is shipped); {@link ModelMetadataError} for a bad `metadata.json`; {@link node!ModelFileError} for
 *   unreadable, mis-sized, mis-shaped or non-finite model files.
 * @example
 * ```ts
 * const { model, classNames, temperature } = await loadPretrainedNeuroStageNet();
 * const probs = model.predict(images) as tf.Tensor; // images: [N, 128, 128, 1], 0..255
 * ```
 */
export async function loadPretrainedNeuroStageNet(options: LoadPretrainedOptions = {}): Promise<PretrainedNeuroStageNet> {
  const given = options.location;
  const text = given === undefined ? undefined : typeof given === 'string' ? given : given.href;
  let model: tfl.LayersModel;
  let metadata: ModelMetadata;
  let location: string;
  if (text !== undefined && /^https?:\/\//i.test(text)) {
    const jsonUrl = text.endsWith('/') ? `${text}${MODEL_JSON_FILE}` : text;
    location = jsonUrl;
    const probe = await fetch(jsonUrl, { method: 'GET' }).catch((cause: unknown) => {
      throw new PretrainedModelNotFoundError(jsonUrl, `cannot fetch ${jsonUrl}: ${(cause as Error).message}`);
    });
    if (!probe.ok) throw new PretrainedModelNotFoundError(jsonUrl, `no model at ${jsonUrl} (HTTP ${probe.status})`);
    model = await loadCheckedLayersModel(tf.io.http(jsonUrl), jsonUrl);
    metadata = await fetchMetadata(new URL(MODEL_METADATA_FILE, jsonUrl).href);
  } else {
    const dir = text === undefined ? await pretrainedModelDir() : await toDirectory(text);
    location = dir;
    const { existsSync } = nodeFsSync(`loading the model in '${dir}'`, BROWSER_HINT);
    const { join } = nodePath(`loading the model in '${dir}'`, BROWSER_HINT);
    if (!existsSync(join(dir, MODEL_JSON_FILE))) {
      const what = text === undefined
        ? `no trained model is shipped: ${join(dir, MODEL_JSON_FILE)} does not exist`
        : `no model found: ${join(dir, MODEL_JSON_FILE)} does not exist`;
      throw new PretrainedModelNotFoundError(dir, what);
    }
    model = await loadModel(dir);
    metadata = await readMetadataFile(join(dir, MODEL_METADATA_FILE));
  }
  return describeModel(model, metadata, location);
}

// A directory path from a path, a file: URL string, or a path to model.json itself.
async function toDirectory(text: string): Promise<string> {
  const { fileURLToPath } = nodeUrl(`loading the model at '${text}'`, BROWSER_HINT);
  const { dirname, basename, resolve } = nodePath(`loading the model at '${text}'`, BROWSER_HINT);
  const path = text.startsWith('file:') ? fileURLToPath(text) : resolve(text);
  return basename(path) === MODEL_JSON_FILE ? dirname(path) : path;
}

async function readMetadataFile(file: string): Promise<ModelMetadata> {
  const { readFile } = nodeFs(`reading '${file}'`, BROWSER_HINT);
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch {
    return {}; // metadata is optional
  }
  return parseMetadata(raw, file);
}

async function fetchMetadata(url: string): Promise<ModelMetadata> {
  try {
    const res = await fetch(url);
    if (!res.ok) return {};
    return parseMetadata(await res.text(), url);
  } catch (e) {
    if (e instanceof ModelMetadataError) throw e;
    return {}; // metadata is optional
  }
}

function parseMetadata(raw: string, where: string): ModelMetadata {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (cause) {
    throw new ModelMetadataError(`${where} is not valid JSON: ${(cause as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ModelMetadataError(`${where} must hold a JSON object`);
  return value as ModelMetadata;
}

// Whether class names are the Alzheimer dataset's, in its label order (they bring its severity order).
function isAlzheimerClassNames(names: readonly string[]): boolean {
  return names.length === ALZHEIMER_CLASS_NAMES.length && names.every((n, i) => n === ALZHEIMER_CLASS_NAMES[i]);
}

/**
 * The class names of a model whose metadata records none: `class_0` .. `class_{k-1}`.
 * @param k Number of outputs.
 * @returns The generic names.
 */
export function defaultClassNames(k: number): string[] {
  return Array.from({ length: k }, (_, i) => `class_${i}`);
}

/**
 * Class names, severity order, temperature and image size of a model, from its metadata; checks they fit the
 * model's output size. Without metadata class names the classes are `class_0` .. `class_{k-1}`
 * (`classNamesSource: 'default'`), even for 4 outputs: only the metadata says a model is the Alzheimer one. The
 * severity order defaults to {@link ALZHEIMER_SEVERITY_ORDER} when the class names are {@link ALZHEIMER_CLASS_NAMES},
 * else to label order.
 * @param model A single-output classifier taking `[N, H, W, C]` images.
 * @param metadata The model's metadata (`{}` for none).
 * @param location Where the model came from (for messages).
 * @returns The model with its resolved metadata.
 * @throws {@link ModelMetadataError} when the metadata does not fit the model.
 */
export function describeModel(model: tfl.LayersModel, metadata: ModelMetadata, location: string): PretrainedNeuroStageNet {
  const outShape = model.outputs[0]?.shape ?? [];
  const k = outShape[outShape.length - 1];
  const inShape = model.inputs[0]?.shape ?? [];
  if (model.outputs.length !== 1 || typeof k !== 'number' || inShape.length !== 4 || typeof inShape[1] !== 'number' || typeof inShape[2] !== 'number') {
    throw new ModelMetadataError(`${location}: expected a classifier [N, H, W, C] -> [N, classes], got [${inShape.join(', ')}] -> [${outShape.join(', ')}]`);
  }
  const classNamesSource: PretrainedNeuroStageNet['classNamesSource'] = metadata.classNames === undefined ? 'default' : 'metadata';
  const classNames = metadata.classNames ?? defaultClassNames(k);
  if (!Array.isArray(classNames) || classNames.length !== k || !classNames.every((n) => typeof n === 'string')) {
    throw new ModelMetadataError(`${location}: metadata classNames ${JSON.stringify(classNames)} must be ${k} strings (the model has ${k} outputs)`);
  }
  // The Alzheimer severity order only for the Alzheimer classes; unnamed classes keep label order.
  const ordinalOrder = metadata.ordinalOrder ?? (isAlzheimerClassNames(classNames) ? [...ALZHEIMER_SEVERITY_ORDER] : Array.from({ length: k }, (_, i) => i));
  const sorted = Array.isArray(ordinalOrder) ? [...ordinalOrder].sort((a, b) => a - b) : [];
  if (sorted.length !== k || sorted.some((v, i) => v !== i)) {
    throw new ModelMetadataError(`${location}: metadata ordinalOrder ${JSON.stringify(ordinalOrder)} must be a permutation of 0..${k - 1}`);
  }
  const temperature = metadata.temperature ?? 1;
  if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature)) {
    throw new ModelMetadataError(`${location}: metadata temperature must be a positive number, got ${JSON.stringify(temperature)}`);
  }
  const calibration = resolveCalibration(metadata, temperature, location);
  const trainingFootprint = metadata.trainingFootprint;
  if (trainingFootprint !== undefined) {
    const { p1, median, p99 } = (trainingFootprint ?? {}) as Partial<FootprintRange>;
    if (![p1, median, p99].every((v) => typeof v === 'number' && v >= 0 && v <= 1) || !((p1 as number) <= (median as number) && (median as number) <= (p99 as number))) {
      throw new ModelMetadataError(`${location}: metadata trainingFootprint must be {p1, median, p99} with 0 <= p1 <= median <= p99 <= 1, got ${JSON.stringify(trainingFootprint)}`);
    }
  }
  let inputCheck: InputCheckModel | undefined;
  if (metadata.inputCheck !== undefined) {
    try {
      inputCheck = deserializeInputCheck(metadata.inputCheck);
    } catch (e) {
      throw new ModelMetadataError(`${location}: metadata inputCheck: ${(e as Error).message}`);
    }
  }
  attachInputCheck(model, inputCheck);
  return {
    model,
    classNames: [...classNames],
    classNamesSource,
    inputCheck,
    ordinalOrder: [...ordinalOrder],
    temperature: calibration.temperature,
    calibration,
    imageSize: [inShape[1], inShape[2]],
    trainingFootprint: trainingFootprint && { ...trainingFootprint },
    metadata,
    location,
  };
}

/**
 * The served calibration of a model's metadata: the recorded temperature, except 1 when the recorded decision says
 * it was not kept.
 * @param metadata The model's metadata.
 * @param recorded The metadata `temperature` (already checked; 1 when absent).
 * @param location Where the model came from (for messages).
 * @returns The calibration served.
 * @throws {@link ModelMetadataError} when `calibration` is malformed.
 */
function resolveCalibration(metadata: ModelMetadata, recorded: number, location: string): ModelCalibration {
  const c = metadata.calibration;
  if (c === undefined) {
    return {
      kept: undefined,
      temperature: recorded,
      fittedTemperature: metadata.temperature,
      reason: metadata.temperature === undefined ? 'no temperature recorded: raw softmax' : `metadata temperature ${recorded} (no calibration decision recorded)`,
    };
  }
  if (c === null || typeof c !== 'object' || (c.kept !== undefined && typeof c.kept !== 'boolean')) {
    throw new ModelMetadataError(`${location}: metadata calibration must be an object with a boolean kept, got ${JSON.stringify(c)}`);
  }
  const fitted = c.fittedTemperature ?? metadata.temperature;
  if (fitted !== undefined && (typeof fitted !== 'number' || !(fitted > 0) || !Number.isFinite(fitted))) {
    throw new ModelMetadataError(`${location}: metadata calibration.fittedTemperature must be a positive number, got ${JSON.stringify(fitted)}`);
  }
  const reason = typeof c.reason === 'string' ? c.reason : c.kept === false ? 'fitted temperature not kept' : `temperature ${recorded}`;
  return { kept: c.kept, temperature: c.kept === false ? 1 : recorded, fittedTemperature: fitted, reason };
}

/**
 * Writes a model directory's `metadata.json` (class names, severity order, temperature, anything else), next to
 * the `model.json` written by {@link node!saveModel}. Node only.
 * @param dir The model directory.
 * @param metadata What to record.
 * @returns The file path written.
 */
export async function writeModelMetadata(dir: string, metadata: ModelMetadata): Promise<string> {
  const { mkdir, writeFile } = nodeFs(`writing the model metadata to '${dir}'`, 'in a browser, keep the metadata object and serve it as metadata.json next to model.json');
  const { join } = nodePath(`writing the model metadata to '${dir}'`);
  await mkdir(dir, { recursive: true });
  const file = join(dir, MODEL_METADATA_FILE);
  await writeFile(file, `${JSON.stringify(metadata, null, 2)}\n`);
  return file;
}

/**
 * A model description whose class names come from the data when the model records none: a model without metadata
 * class names (`classNamesSource: 'default'`) evaluated on a file whose label metadata names its classes takes the
 * file's names (`classNamesSource: 'data'`), and the Alzheimer severity order when those are the Alzheimer classes.
 * Otherwise the description is returned unchanged: the model's own names always win.
 * @param model A description from {@link describeModel} / {@link loadPretrainedNeuroStageNet}.
 * @param dataClassNames The data's class names (e.g. `ds.classNames`).
 * @returns The description to use with that data.
 */
export function withDataClassNames(model: PretrainedNeuroStageNet, dataClassNames: readonly string[]): PretrainedNeuroStageNet {
  if (model.classNamesSource !== 'default' || dataClassNames.length !== model.classNames.length) return model;
  const labelOrder = model.ordinalOrder.every((v, i) => v === i);
  return {
    ...model,
    classNames: [...dataClassNames],
    classNamesSource: 'data',
    ordinalOrder: isAlzheimerClassNames(dataClassNames) && labelOrder ? [...ALZHEIMER_SEVERITY_ORDER] : [...model.ordinalOrder],
  };
}
