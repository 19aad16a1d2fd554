/**
 * An inference copy of a model: every batch normalization that follows a convolution or dense layer is folded into
 * that layer's weights (one fused convolution + bias instead of a convolution and a normalization), and layers that
 * are the identity at inference (dropout) are taken out; at any depth of nesting. Outputs equal the original's up to
 * float round-off; the copy is for inference only (train the original).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { attachInputCheck, attachedInputCheck } from './input-check.js';
import { ModelError } from './errors.js';
import { FusedDepthwiseConv2D } from '../layers/fused-depthwise-conv2d.js';

/** What {@link optimizeForInference} changed. */
export interface InferenceOptimizationReport {
  /** Batch normalizations folded into the layer before them, as `container/bn -> container/layer`. */
  folded: string[];
  /** Identity-at-inference layers taken out (dropout). */
  removed: string[];
  /** Layers before and after, counted at every depth. */
  layersBefore: number;
  /** Layers after. */
  layersAfter: number;
}

/** The optimized model and its report. */
export interface OptimizedModel {
  /** The inference model: same inputs, outputs and layer names, fewer layers. */
  model: tfl.LayersModel;
  /** What was folded and removed. */
  report: InferenceOptimizationReport;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type InboundRef = [string, number, number, Json?];

const BN_CLASSES = new Set(['neurostagenet>KerasBatchNormalization', 'BatchNormalization']);
const FOLDABLE = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense']);
const IDENTITY_AT_INFERENCE = new Set(['Dropout', 'SpatialDropout2D', 'neurostagenet>SeededDropout', 'GaussianNoise', 'GaussianDropout']);
const isContainer = (layer: Json) => Array.isArray(layer.config?.layers) && Array.isArray(layer.config?.output_layers);

function singleInbound(layer: Json): InboundRef | undefined {
  const nodes = layer.inbound_nodes as InboundRef[][] | undefined;
  return nodes && nodes.length === 1 && nodes[0].length === 1 ? nodes[0][0] : undefined;
}

// How often each layer's output is used inside one container (its layers' inputs and the container's outputs).
function useCounts(config: Json): Map<string, number> {
  const uses = new Map<string, number>();
  const add = (name: string) => uses.set(name, (uses.get(name) ?? 0) + 1);
  for (const layer of config.layers as Json[]) for (const node of (layer.inbound_nodes ?? []) as InboundRef[][]) for (const ref of node) add(ref[0]);
  for (const ref of config.output_layers as InboundRef[]) add(ref[0]);
  return uses;
}

// Rewrites one container's config in place: folds BN pairs, drops identity layers; records the folds per container.
function rewrite(config: Json, path: string, folds: Map<string, Map<string, string>>, report: InferenceOptimizationReport): void {
  const layers = config.layers as Json[];
  for (const layer of layers) if (isContainer(layer)) rewrite(layer.config, `${path}${layer.name}/`, folds, report);
  const byName = new Map(layers.map((l) => [l.name as string, l]));
  const uses = useCounts(config);
  const rename = new Map<string, string>(); // removed layer -> the layer whose output replaces it
  const folded = new Map<string, string>(); // folded layer -> its BN
  for (const layer of layers) {
    const ref = singleInbound(layer);
    if (!ref || ref[1] !== 0 || ref[2] !== 0) continue;
    const producer = byName.get(ref[0]);
    if (BN_CLASSES.has(layer.class_name) && producer && FOLDABLE.has(producer.class_name) && !rename.has(producer.name) &&
      (producer.config.activation ?? 'linear') === 'linear' && uses.get(producer.name) === 1 && (layer.config.axis ?? -1) === -1) {
      producer.config.use_bias = true;
      producer.config.bias_initializer = { class_name: 'Zeros', config: {} };
      // tfjs-layers adds a depthwise convolution's bias as separate ops; this class fuses it (same weights).
      if (producer.class_name === 'DepthwiseConv2D' && (producer.config.data_format ?? 'channels_last') === 'channels_last') producer.class_name = FusedDepthwiseConv2D.className;
      folded.set(producer.name, layer.name);
      rename.set(layer.name, producer.name);
      report.folded.push(`${path}${layer.name} -> ${path}${producer.name}`);
    } else if (IDENTITY_AT_INFERENCE.has(layer.class_name)) {
      rename.set(layer.name, ref[0]);
      report.removed.push(`${path}${layer.name}`);
    }
  }
  const target = (name: string): string => (rename.has(name) ? target(rename.get(name)!) : name);
  config.layers = layers.filter((l) => !rename.has(l.name));
  for (const layer of config.layers as Json[]) {
    for (const node of (layer.inbound_nodes ?? []) as InboundRef[][]) for (const ref of node) ref[0] = target(ref[0]);
  }
  for (const ref of config.output_layers as InboundRef[]) ref[0] = target(ref[0]);
  folds.set(path, folded);
}

function countLayers(model: tfl.LayersModel): number {
  return model.layers.reduce((n, l) => n + 1 + (l instanceof tfl.LayersModel ? countLayers(l) : 0), 0);
}

// BN as y = x * scale + shift per channel (float64).
function bnAffine(bn: tfl.layers.Layer): { scale: Float64Array; shift: Float64Array } {
  const cfg = bn.getConfig() as Json;
  const values = bn.getWeights().map((w) => w.dataSync());
  let i = 0;
  const gamma = cfg.scale === false ? undefined : values[i++];
  const beta = cfg.center === false ? undefined : values[i++];
  const mean = values[i++];
  const variance = values[i++];
  const eps = (cfg.epsilon as number | undefined) ?? 1e-3;
  const n = mean.length;
  const scale = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
    shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
  }
  return { scale, shift };
}

// The folded weights of `layer` followed by `bn`, in the layer's weight order with a bias.
function foldedWeights(layer: tfl.layers.Layer, bn: tfl.layers.Layer): tf.Tensor[] {
  const { scale, shift } = bnAffine(bn);
  const cls = layer.getClassName() === FusedDepthwiseConv2D.className ? 'DepthwiseConv2D' : layer.getClassName();
  const weights = layer.getWeights();
  const hasBias = (layer.getConfig() as Json).use_bias !== false;
  const out = scale.length;
  const scaleLast = (w: tf.Tensor, channelOf: (j: number) => number): tf.Tensor => {
    const v = w.dataSync();
    const last = w.shape[w.shape.length - 1]!;
    const r = new Float32Array(v.length);
    for (let i = 0; i < v.length; i++) r[i] = v[i] * scale[channelOf(i % last)];
    return tf.tensor(r, w.shape);
  };
  const bias = (old: tf.Tensor | undefined): tf.Tensor => {
    const b = old?.dataSync();
    return tf.tensor1d(Float32Array.from({ length: out }, (_, c) => (b ? b[c] : 0) * scale[c] + shift[c]));
  };
  if (cls === 'SeparableConv2D') {
    // Depthwise kernel unchanged; the pointwise kernel's output channels carry the scale.
    const [depthwise, pointwise, b] = weights;
    return [depthwise.clone(), scaleLast(pointwise, (j) => j), bias(hasBias ? b : undefined)];
  }
  const [kernel, b] = weights;
  if (cls === 'DepthwiseConv2D') {
    // Kernel [kh, kw, in, multiplier]: output channel in * multiplier + m.
    const [, , inC, mult] = kernel.shape as number[];
    const v = kernel.dataSync();
    const r = new Float32Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const m = i % mult;
      const c = Math.floor(i / mult) % inC;
      r[i] = v[i] * scale[c * mult + m];
    }
    return [tf.tensor(r, kernel.shape), bias(hasBias ? b : undefined)];
  }
  return [scaleLast(kernel, (j) => j), bias(hasBias ? b : undefined)];
}

function copyWeights(fresh: tfl.LayersModel, original: tfl.LayersModel, path: string, folds: Map<string, Map<string, string>>): void {
  const folded = folds.get(path) ?? new Map<string, string>();
  for (const layer of fresh.layers) {
    const old = original.getLayer(layer.name);
    if (layer instanceof tfl.LayersModel) {
      copyWeights(layer, old as tfl.LayersModel, `${path}${layer.name}/`, folds);
      continue;
    }
    if (layer.weights.length === 0) continue;
    const bnName = folded.get(layer.name);
    const weights = bnName ? foldedWeights(old, original.getLayer(bnName)) : old.getWeights();
    layer.setWeights(weights);
    if (bnName) weights.forEach((w) => w.dispose());
  }
}

/**
 * Makes an inference copy of a (NeuroStageNet or any functional tfjs-layers) model: each batch normalization that
 * directly follows a Conv2D, DepthwiseConv2D, SeparableConv2D or Dense layer with a linear activation, whose output
 * only it uses, is folded into that layer (`W' = W·γ/√(σ²+ε)`, `b' = (b − μ)·γ/√(σ²+ε) + β` per output channel), so
 * tfjs runs one fused convolution + bias; dropout layers are removed. Inside nested models too (the EfficientNetB0
 * backbone). Layer names are kept (Grad-CAM's target layers, e.g. `efficientnetb0/block4a_expand_activation`, are all
 * there), the input check attached to the original is attached to the copy, and the original is not changed.
 *
 * Inference only: the copy's normalizations are gone, so train (or fine-tune) the original and optimize again.
 * @param model The trained model.
 * @returns The copy and what was changed.
 * @throws {@link ModelError} when the model cannot be rebuilt from its config (a layer class that is not registered).
 * @example
 * ```ts
 * const { model: fast, report } = await optimizeForInference(net.model);
 * console.log(report.folded.length, 'normalizations folded'); // 82 for NeuroStageNet
 * ```
 */
export async function optimizeForInference(model: tfl.LayersModel): Promise<OptimizedModel> {
  const topology = model.toJSON(null, false) as Json;
  const report: InferenceOptimizationReport = { folded: [], removed: [], layersBefore: countLayers(model), layersAfter: 0 };
  const folds = new Map<string, Map<string, string>>();
  rewrite(topology.config, '', folds, report);
  let fresh: tfl.LayersModel;
  try {
    fresh = await tfl.models.modelFromJSON({ modelTopology: topology } as never);
  } catch (e) {
    throw new ModelError(`optimizeForInference: model '${model.name}' cannot be rebuilt from its config: ${(e as Error).message}`);
  }
  tf.tidy(() => copyWeights(fresh, model, '', folds));
  report.layersAfter = countLayers(fresh);
  attachInputCheck(fresh, attachedInputCheck(model));
  return { model: fresh, report };
}
