import * as tfl from '@tensorflow/tfjs-layers';
import { buildEfficientNetB0 } from '../backbones/efficientnet-b0.js';
import { ModelError } from './errors.js';
import { loadKerasWeights } from '../io/keras-weights.js';
import { KerasFunctional, kerasModel } from '../layers/freezing.js';
import { GrayToRGBProjection } from '../layers/gray-to-rgb.js';
import { deriveSeed } from '../layers/seed.js';
import { DualPoolHead } from './blocks/dual-pool-head.js';
import { SEResidualBlock } from './blocks/se-residual-block.js';

/** Thrown for invalid NeuroStageNet options (the message names the option and value). */
export class NeuroStageNetOptionsError extends ModelError {}

/** Default index of the first trainable backbone layer when fine-tuning pretrained weights (Keras reference C4). */
export const DEFAULT_FINE_TUNE_AT = 150;

/** Name of the nested backbone model inside NeuroStageNet. */
export const BACKBONE_NAME = 'efficientnetb0';
/** Name of the Dense layer whose output are the logits. */
export const LOGITS_LAYER_NAME = 'predictions';
/** Name of the final softmax layer. */
export const SOFTMAX_LAYER_NAME = 'predictions_softmax';

/** Options of {@link buildNeuroStageNet}. */
export interface NeuroStageNetOptions {
  /** Input [height, width, 1], raw pixel values 0..255. Default [128, 128, 1]. */
  inputShape?: [number, number, number];
  /** Number of classes. Default 4. */
  numClasses?: number;
  /**
   * Backbone graph: the one Keras builds for `weights='imagenet'` (true, 238 layers) or for
   * `weights=None` (false, 237 layers). Default: true when `backboneWeights` is given (Keras' official
   * notop file belongs to that graph), false otherwise (the reference model's `weights=None` graph,
   * whose saved NeuroStageNet weights then load and match Keras' outputs).
   */
  imagenetLayout?: boolean;
  /** Keras EfficientNetB0 notop weights (`.h5` path in Node, or bytes) loaded into the backbone; null for none. Default null. */
  backboneWeights?: string | Uint8Array | null;
  /**
   * Backbone layers `[0, fineTuneAt)` are frozen (weights not trained, BN in inference mode); null
   * leaves everything trainable. Default 150 when `backboneWeights` is given, null otherwise.
   */
  fineTuneAt?: number | null;
  /** Filters of the SE residual block. Default 256. */
  seFilters?: number;
  /** SE squeeze ratio. Default 16. */
  seRatio?: number;
  /** Head hidden units. Default [1024, 512]. */
  units?: number[];
  /** Head dropout rates. Default [0.5, 0.3]. */
  dropout?: number[];
  /** L2 factor on the second head Dense. Default 1e-4. */
  l2?: number;
  /** Seed of every initializer and dropout mask: same seed, same initial weights. Default 1. */
  seed?: number;
}

/**
 * Builds NeuroStageNet as in the Keras reference (`neurostagenet_keras.py`): input `gray_input`
 * [128,128,1] raw 0..255 → {@link GrayToRGBProjection} `gray_to_rgb` → nested EfficientNetB0
 * `efficientnetb0` (Keras-exact, with its own rescaling and ImageNet normalization) →
 * {@link SEResidualBlock} (256) → {@link DualPoolHead} → `predictions` (logits) →
 * `predictions_softmax`. Layer names equal Keras' (plus the separate softmax layer), so a Keras
 * NeuroStageNet weights file loads with `loadKerasWeights(model, file)`.
 *
 * Fine-tuning follows Keras: with backbone weights, backbone layers before `fineTuneAt` (150) are
 * frozen; frozen BN layers stay in inference mode during `fit`. The model and its backbone are
 * {@link KerasFunctional}s, so freezing follows Keras at any depth: `model.trainable = false` (e.g. after nesting
 * the model in a larger one) freezes every layer inside, the backbone's BN layers included. Change freezing before
 * compiling (tfjs collects the trainable weights at `compile`). Initial weights are drawn as Keras draws them (see
 * {@link buildEfficientNetB0}; Glorot-uniform kernels elsewhere).
 *
 * @param options See {@link NeuroStageNetOptions}.
 * @returns The functional model `neurostagenet` ({@link KerasFunctional}): input [batch, H, W, 1] → softmax
 * [batch, numClasses].
 * @throws {@link NeuroStageNetOptionsError} for invalid options; the errors of `loadKerasWeights` for bad backbone weights.
 */
export async function buildNeuroStageNet(options: NeuroStageNetOptions = {}): Promise<KerasFunctional> {
  const inputShape = options.inputShape ?? [128, 128, 1];
  const numClasses = options.numClasses ?? 4;
  const backboneWeights = options.backboneWeights ?? null;
  const imagenetLayout = options.imagenetLayout ?? backboneWeights != null;
  const fineTuneAt = options.fineTuneAt === undefined ? (backboneWeights != null ? DEFAULT_FINE_TUNE_AT : null) : options.fineTuneAt;
  const seed = options.seed ?? 1;
  if (inputShape.length !== 3 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new NeuroStageNetOptionsError(`inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(inputShape)}`);
  }
  if (inputShape[0] < 32 || inputShape[1] < 32) {
    throw new NeuroStageNetOptionsError(`inputShape ${JSON.stringify(inputShape)} is too small: EfficientNetB0 downsamples by 32`);
  }

  const input = tfl.input({ shape: inputShape, name: 'gray_input' });
  let x = new GrayToRGBProjection({ name: 'gray_to_rgb', seed: deriveSeed(seed, 'gray_to_rgb') }).apply(input) as tfl.SymbolicTensor;
  const backbone = buildEfficientNetB0({
    inputShape: [inputShape[0], inputShape[1], 3],
    imagenetLayout,
    seed: deriveSeed(seed, BACKBONE_NAME),
    name: BACKBONE_NAME,
  });
  if (backboneWeights != null) {
    await loadKerasWeights(backbone, backboneWeights, { label: typeof backboneWeights === 'string' ? backboneWeights : 'backboneWeights' });
  }
  if (fineTuneAt != null) applyFineTuneFreeze(backbone, fineTuneAt);
  x = backbone.apply(x) as tfl.SymbolicTensor;
  x = new SEResidualBlock({
    filters: options.seFilters ?? 256,
    seRatio: options.seRatio ?? 16,
    seed: deriveSeed(seed, 'se_residual_block'),
  }).apply(x);
  const { probabilities } = new DualPoolHead({
    units: options.units,
    dropout: options.dropout,
    l2: options.l2,
    numClasses,
    seed: deriveSeed(seed, 'head'),
  }).apply(x);
  return kerasModel({ inputs: input, outputs: probabilities, name: 'neurostagenet' });
}

/**
 * Keras' fine-tune freeze: every backbone layer is made trainable, then layers `[0, fineTuneAt)` frozen
 * (`layer.trainable = false`; BN layers among them then run in inference mode). Pass the backbone
 * (`model.getLayer('efficientnetb0')`) or any model. Recompile afterwards.
 * @param backbone The model whose layers to freeze.
 * @param fineTuneAt First trainable layer index; 0 unfreezes everything.
 */
export function applyFineTuneFreeze(backbone: tfl.LayersModel, fineTuneAt: number): void {
  if (!Number.isInteger(fineTuneAt) || fineTuneAt < 0 || fineTuneAt > backbone.layers.length) {
    throw new NeuroStageNetOptionsError(
      `fineTuneAt must be an integer in [0, ${backbone.layers.length}] for '${backbone.name}', got ${fineTuneAt}`,
    );
  }
  backbone.trainable = true;
  backbone.layers.forEach((layer, i) => {
    layer.trainable = i >= fineTuneAt;
  });
}

/** Parameter counts in Keras' convention (`model.summary()`). */
export interface ParamCounts {
  /** Scalars in trainable weights. */
  trainable: number;
  /** Scalars in non-trainable weights (frozen layers, BN moving statistics, Normalization). */
  nonTrainable: number;
  /** Sum of both. */
  total: number;
}

/**
 * Counts trainable and non-trainable parameters as Keras' `model.summary()` does.
 * @param model Any tfjs model.
 */
export function countParams(model: tfl.LayersModel): ParamCounts {
  const size = (ws: tfl.LayerVariable[]) => ws.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
  const trainable = size(model.trainableWeights);
  const nonTrainable = size(model.nonTrainableWeights);
  return { trainable, nonTrainable, total: trainable + nonTrainable };
}

/**
 * The nested EfficientNetB0 of a NeuroStageNet model (the layer named `efficientnetb0`).
 * @param model A model from {@link buildNeuroStageNet} (or a reloaded one).
 * @throws {@link NeuroStageNetOptionsError} if the model has no nested backbone.
 */
export function getBackbone(model: tfl.LayersModel): tfl.LayersModel {
  const layer = model.layers.find((l) => l.name === BACKBONE_NAME);
  if (!(layer instanceof tfl.LayersModel)) {
    throw new NeuroStageNetOptionsError(`Model '${model.name}' has no nested backbone model named '${BACKBONE_NAME}'`);
  }
  return layer;
}

/**
 * A model sharing NeuroStageNet's weights whose output is the logits (the `predictions` layer,
 * before softmax), for Grad-CAM and calibration.
 * @param model A model from {@link buildNeuroStageNet} (or a reloaded one).
 */
export function logitsModel(model: tfl.LayersModel): tfl.LayersModel {
  return featureModel(model, LOGITS_LAYER_NAME);
}

/**
 * A model sharing `model`'s weights whose outputs are the named layers' outputs (e.g. `'refine_act2'`,
 * or several names for one pass computing all of them).
 * @param model The source model.
 * @param layerNames Name(s) of top-level layers of `model`.
 * @throws {@link NeuroStageNetOptionsError} if a layer does not exist.
 */
export function featureModel(model: tfl.LayersModel, layerNames: string | string[]): tfl.LayersModel {
  const names = Array.isArray(layerNames) ? layerNames : [layerNames];
  const outputs = names.map((layerName) => {
    const layer = model.layers.find((l) => l.name === layerName);
    if (layer == null) throw new NeuroStageNetOptionsError(`Model '${model.name}' has no layer named '${layerName}'`);
    // A nested model has one inbound node of its own plus one per call: take the node of this graph.
    const nodeIndex = layer.inboundNodes.findIndex((_, i) => model.containerNodes.has(`${layer.name}_ib-${i}`));
    return layer.getOutputAt(Math.max(nodeIndex, 0)) as tfl.SymbolicTensor;
  });
  return tfl.model({
    inputs: model.inputs,
    outputs: Array.isArray(layerNames) ? outputs : outputs[0],
    name: `${model.name}_features`,
  });
}
