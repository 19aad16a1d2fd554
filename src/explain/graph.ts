// Re-execution of a tfjs-layers graph, layer by layer, on concrete tensors.
//
// Grad-CAM needs the feature map A of some layer (possibly inside a nested model such as the EfficientNetB0
// backbone) and the gradient of a class logit with respect to A. Building a new tfl.model from a nested layer's
// symbolic tensors fails ("graph disconnected"), so instead we walk the original node graph ourselves:
//  - forward(x): runs every node once (inference mode) and keeps A, the logits, and the "frontier": tensors
//    that do not depend on A but are consumed by nodes that do (e.g. a residual shortcut taken before A);
//  - head(A): re-runs only the nodes downstream of A, reading frontier values from the forward cache.
// Both call each original layer's `apply`, so the weights are the model's own (shared, never copied).
// A nested model on the path to the target is entered and executed node by node; every other nested model
// is called as one layer.

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ExplainError } from './errors.js';

type Layer = tfl.layers.Layer;
type SymbolicTensor = tfl.SymbolicTensor;
/** tfjs-layers' Node class is not exported; this is its public shape. */
type LayerNode = Layer['inboundNodes'][number];

/** One application of a layer inside one container's graph. */
interface PlanNode {
  layer: Layer;
  inputs: SymbolicTensor[];
  outputs: SymbolicTensor[];
  callArgs: Record<string, unknown>;
  /** Set when this node is a nested model on the path to the target: it is executed node by node. */
  inner?: Scope;
  /** The node whose (single) output is the target feature map. */
  isTarget: boolean;
  /** True when an output depends on the target (such nodes are re-run by `head`). */
  dependsOnTarget: boolean;
}

/** The part of one container's graph needed to compute `fetches`. */
interface Scope {
  container: tfl.LayersModel;
  fetches: SymbolicTensor[];
  /** Topologically sorted. */
  nodes: PlanNode[];
  /** Id of the target tensor when the target lives in this scope. */
  targetId: number | null;
  /** Ids of tensors that do not depend on the target but are read by nodes that do. */
  frontier: Set<number>;
}

/** Values kept from a forward pass for a later `head` call. Owned by the caller (dispose with `disposeCache`). */
export interface ForwardCache {
  /** Per scope: frontier tensor id -> value. */
  scopes: Map<Scope, Map<number, tf.Tensor>>;
  /** The caller's input tensor, which may sit in the cache but is never disposed by `disposeCache`. */
  input: tf.Tensor;
}

/** Result of {@link GraphPlan.forward}. */
export interface ForwardResult {
  /** Value of each requested fetch of the outer scope. */
  fetches: tf.Tensor[];
  /** The target feature map (null when the plan has no target). */
  target: tf.Tensor | null;
  cache: ForwardCache;
}

function isContainer(layer: Layer): layer is tfl.LayersModel {
  return layer instanceof tfl.LayersModel;
}

function producingNode(t: SymbolicTensor): LayerNode {
  return t.sourceLayer.inboundNodes[t.nodeIndex];
}

function isGraphInput(t: SymbolicTensor): boolean {
  return producingNode(t).inboundLayers.length === 0;
}

/** Graph inputs of a container: for a Sequential built lazily `inputs` may be empty until `build`. */
function containerInputs(c: tfl.LayersModel): SymbolicTensor[] {
  return c.inputs;
}

/** Call arguments recorded on a node, without masks, and always in inference mode. */
function inferenceKwargs(node: LayerNode): Record<string, unknown> {
  const kwargs: Record<string, unknown> = {};
  const recorded = (node.callArgs ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(recorded)) {
    if (key !== 'mask' && key !== 'training') kwargs[key] = value;
  }
  kwargs.training = false;
  return kwargs;
}

/** Runs one layer on concrete tensors in inference mode. */
export function applyLayer(layer: Layer, inputs: tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor[] {
  const out = layer.apply(inputs.length === 1 ? inputs[0] : inputs, kwargs) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

/**
 * Topological order of the nodes of `container` needed for `fetches` (graph inputs excluded), by
 * depth-first post-order.
 */
function sortNodes(container: tfl.LayersModel, fetches: SymbolicTensor[]): LayerNode[] {
  const inputIds = new Set(containerInputs(container).map((t) => t.id));
  const order: LayerNode[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const visitTensor = (t: SymbolicTensor): void => {
    if (inputIds.has(t.id)) return;
    if (isGraphInput(t)) {
      throw new ExplainError(
        `Tensor '${t.name}' of model '${container.name}' comes from an input layer that is not one of the model's inputs.`,
      );
    }
    const node = producingNode(t);
    const s = state.get(node.id);
    if (s === 'done') return;
    if (s === 'visiting') throw new ExplainError(`Model '${container.name}' has a cycle at layer '${t.sourceLayer.name}'.`);
    state.set(node.id, 'visiting');
    for (const x of node.inputTensors) visitTensor(x);
    state.set(node.id, 'done');
    order.push(node);
  };
  for (const f of fetches) visitTensor(f);
  return order;
}

/**
 * Resolves a target path: `'name'` (a layer of the outer model, or, when the outer model has none by that
 * name, the only layer of that name anywhere inside nested models) or `'outer/inner/.../name'`.
 * Returns the chain of layers from the outermost container's child down to the target layer.
 */
export function resolveLayerPath(model: tfl.LayersModel, layerName: string): Layer[] {
  const parts = layerName.split('/').filter((p) => p.length > 0);
  if (parts.length === 0) throw new ExplainError(`Empty layer name '${layerName}'.`);
  const chain: Layer[] = [];
  let container: tfl.LayersModel = model;
  for (let i = 0; i < parts.length; i++) {
    const layer = container.layers.find((l) => l.name === parts[i]);
    if (layer == null) {
      if (i === 0 && parts.length === 1) {
        const found = findNested(model, parts[0], []);
        if (found.length === 1) return found[0];
        if (found.length > 1) {
          throw new ExplainError(
            `Layer name '${parts[0]}' is ambiguous: it exists in ${found
              .map((c) => c.map((l) => l.name).join('/'))
              .join(', ')}; pass the full path.`,
          );
        }
      }
      const names = container.layers.map((l) => l.name);
      throw new ExplainError(
        `No layer '${parts[i]}' in model '${container.name}' (looking up '${layerName}'). Its layers are: ${names
          .slice(0, 40)
          .join(', ')}${names.length > 40 ? ', ...' : ''}.`,
      );
    }
    chain.push(layer);
    if (i < parts.length - 1) {
      if (!isContainer(layer)) {
        throw new ExplainError(`'${parts.slice(0, i + 1).join('/')}' is a ${layer.getClassName()}, not a nested model, in '${layerName}'.`);
      }
      container = layer;
    }
  }
  return chain;
}

/** Every chain (nested model, ..., layer) under `container` that ends in a layer called `name`. */
function findNested(container: tfl.LayersModel, name: string, prefix: Layer[]): Layer[][] {
  const out: Layer[][] = [];
  for (const layer of container.layers) {
    if (prefix.length > 0 && layer.name === name) out.push([...prefix, layer]);
    if (isContainer(layer)) out.push(...findNested(layer, name, [...prefix, layer]));
  }
  return out;
}

/**
 * Builds the scope of `container` for `fetches`, descending into `chain[0]` (if a nested model) until
 * the target layer `chain[chain.length - 1]`.
 */
function buildScope(container: tfl.LayersModel, fetches: SymbolicTensor[], chain: Layer[], path: string): Scope {
  const sorted = sortNodes(container, fetches);
  const head = chain.length > 0 ? chain[0] : null;
  const scope: Scope = { container, fetches, nodes: [], targetId: null, frontier: new Set() };

  if (head != null) {
    const headName = path === '' ? head.name : `${path}/${head.name}`;
    const isLast = chain.length === 1;
    const inputMatch = containerInputs(container).filter((t) => t.sourceLayer === head);
    const nodeMatches = sorted.filter((n) => n.outboundLayer === head);
    const uses = inputMatch.length + nodeMatches.length;
    if (uses === 0) {
      throw new ExplainError(
        `Layer '${headName}' does not feed the model's logits, so it cannot be explained.`,
      );
    }
    if (uses > 1) {
      throw new ExplainError(
        `Layer '${headName}' is called ${uses} times in '${container.name}' (a shared layer); Grad-CAM needs a single feature map.`,
      );
    }
    if (isLast) {
      const outs = inputMatch.length === 1 ? inputMatch : nodeMatches[0].outputTensors;
      if (outs.length !== 1) {
        throw new ExplainError(`Layer '${headName}' has ${outs.length} outputs; Grad-CAM needs a layer with one output.`);
      }
      scope.targetId = outs[0].id;
    } else if (inputMatch.length === 1) {
      throw new ExplainError(`'${headName}' is an input layer, not a nested model.`);
    }
  }

  const depends = new Set<number>();
  if (scope.targetId != null) depends.add(scope.targetId);
  for (const node of sorted) {
    const layer = node.outboundLayer;
    const isTarget = scope.targetId != null && node.outputTensors.some((t) => t.id === scope.targetId);
    let inner: Scope | undefined;
    if (head != null && chain.length > 1 && layer === head) {
      const nested = layer as tfl.LayersModel;
      inner = buildScope(nested, nested.outputs, chain.slice(1), path === '' ? layer.name : `${path}/${layer.name}`);
    }
    const dependsOnTarget = !isTarget && (inner != null || node.inputTensors.some((t) => depends.has(t.id)));
    if (dependsOnTarget) {
      for (const t of node.outputTensors) depends.add(t.id);
      for (const t of node.inputTensors) if (!depends.has(t.id)) scope.frontier.add(t.id);
    }
    scope.nodes.push({
      layer,
      inputs: node.inputTensors,
      outputs: node.outputTensors,
      callArgs: inferenceKwargs(node),
      inner,
      isTarget,
      dependsOnTarget,
    });
  }
  if (chain.length > 0 && !fetches.some((f) => depends.has(f.id))) {
    throw new ExplainError(`Layer '${chain.map((l) => l.name).join('/')}' does not feed the requested output.`);
  }
  return scope;
}

/**
 * An executable plan: compute `fetches` of `model` from its input, optionally exposing the target layer's
 * feature map and re-running the graph downstream of it.
 */
export class GraphPlan {
  private readonly root: Scope;
  /** The target's scope, or null. */
  private readonly targetScope: Scope | null;

  constructor(
    readonly model: tfl.LayersModel,
    fetches: SymbolicTensor[],
    targetChain: Layer[],
  ) {
    if (model.inputs.length !== 1) {
      throw new ExplainError(`Model '${model.name}' has ${model.inputs.length} inputs; only single-input models are supported.`);
    }
    this.root = buildScope(model, fetches, targetChain, '');
    let s: Scope | null = this.root;
    let found: Scope | null = null;
    while (s != null) {
      if (s.targetId != null) found = s;
      s = s.nodes.find((n) => n.inner != null)?.inner ?? null;
    }
    this.targetScope = found;
  }

  /** Static shape of the target tensor (`[null, h, w, c]` for a conv feature map). */
  targetShape(): (number | null)[] | null {
    const s = this.targetScope;
    if (s == null || s.targetId == null) return null;
    const id = s.targetId;
    for (const t of containerInputs(s.container)) if (t.id === id) return [...t.shape];
    for (const n of s.nodes) for (const t of n.outputs) if (t.id === id) return [...t.shape];
    return null;
  }

  /**
   * Runs the whole graph once in inference mode. Intermediate tensors are disposed as soon as their last
   * consumer has run; the fetches, the target and the frontier are returned and belong to the caller.
   */
  forward(x: tf.Tensor): ForwardResult {
    const cache: ForwardCache = { scopes: new Map(), input: x };
    const kept = new Set<tf.Tensor>();
    const targetHolder: { value: tf.Tensor | null } = { value: null };
    const fetches = this.runForward(this.root, [x], cache, kept, targetHolder);
    return { fetches, target: targetHolder.value, cache };
  }

  private runForward(
    scope: Scope,
    inputs: tf.Tensor[],
    cache: ForwardCache,
    kept: Set<tf.Tensor>,
    targetHolder: { value: tf.Tensor | null },
  ): tf.Tensor[] {
    const values = new Map<number, tf.Tensor>();
    const external = new Set<tf.Tensor>(inputs);
    const ins = containerInputs(scope.container);
    ins.forEach((t, i) => values.set(t.id, inputs[i]));

    // Reference counts per concrete tensor: consumers left + one for being a fetch.
    const pending = new Map<tf.Tensor, number>();
    const uses = new Map<number, number>();
    for (const n of scope.nodes) for (const t of n.inputs) uses.set(t.id, (uses.get(t.id) ?? 0) + 1);
    for (const f of scope.fetches) uses.set(f.id, (uses.get(f.id) ?? 0) + 1);
    const keep = (id: number, value: tf.Tensor): void => {
      if (scope.frontier.has(id)) {
        let m = cache.scopes.get(scope);
        if (m == null) cache.scopes.set(scope, (m = new Map()));
        m.set(id, value);
        kept.add(value);
      }
      if (id === scope.targetId) {
        targetHolder.value = value;
        kept.add(value);
      }
    };
    const register = (id: number, value: tf.Tensor): void => {
      values.set(id, value);
      pending.set(value, (pending.get(value) ?? 0) + (uses.get(id) ?? 0));
      keep(id, value);
    };
    for (const t of ins) {
      const v = values.get(t.id) as tf.Tensor;
      pending.set(v, (pending.get(v) ?? 0) + (uses.get(t.id) ?? 0));
      keep(t.id, v);
    }
    const release = (value: tf.Tensor): void => {
      const left = (pending.get(value) ?? 0) - 1;
      pending.set(value, left);
      if (left <= 0 && !external.has(value) && !kept.has(value) && !(value instanceof tf.Variable) && !value.isDisposed) {
        value.dispose();
      }
    };

    for (const node of scope.nodes) {
      const args = node.inputs.map((t) => {
        const v = values.get(t.id);
        if (v == null) throw new ExplainError(`Internal: no value for '${t.name}' in '${scope.container.name}'.`);
        return v;
      });
      const outs = node.inner
        ? this.runForward(node.inner, args, cache, kept, targetHolder)
        : applyLayer(node.layer, args, node.callArgs);
      node.outputs.forEach((t, i) => register(t.id, outs[i]));
      // An output nobody reads (e.g. an unused second output) is released at once.
      for (let i = 0; i < node.outputs.length; i++) if ((uses.get(node.outputs[i].id) ?? 0) === 0) release(outs[i]);
      for (const v of args) release(v);
    }
    return scope.fetches.map((f) => {
      const v = values.get(f.id);
      if (v == null) throw new ExplainError(`Internal: fetch '${f.name}' was not computed.`);
      return v;
    });
  }

  /**
   * Re-runs the graph downstream of the target with `target` substituted for the feature map, reading
   * everything else from `cache`; returns the outer fetches. Meant to run inside `tf.grad`.
   */
  head(target: tf.Tensor, cache: ForwardCache): tf.Tensor[] {
    if (this.targetScope == null) throw new ExplainError('Internal: this plan has no target layer.');
    return this.runHead(this.root, target, cache);
  }

  private runHead(scope: Scope, target: tf.Tensor, cache: ForwardCache): tf.Tensor[] {
    const values = new Map<number, tf.Tensor>(cache.scopes.get(scope) ?? []);
    if (scope.targetId != null) values.set(scope.targetId, target);
    for (const node of scope.nodes) {
      if (!node.dependsOnTarget) continue;
      const args = node.inputs.map((t) => {
        const v = values.get(t.id);
        if (v == null) throw new ExplainError(`Internal: no cached value for '${t.name}' in '${scope.container.name}'.`);
        return v;
      });
      const outs = node.inner ? this.runHead(node.inner, target, cache) : applyLayer(node.layer, args, node.callArgs);
      node.outputs.forEach((t, i) => values.set(t.id, outs[i]));
    }
    return scope.fetches.map((f) => {
      const v = values.get(f.id);
      if (v == null) throw new ExplainError(`Internal: fetch '${f.name}' does not depend on the target.`);
      return v;
    });
  }

  /** Names (outer model) of the layers on the path to the fetches, in topological order. */
  outerLayers(): Layer[] {
    return this.root.nodes.map((n) => n.layer);
  }
}

/**
 * Output symbolic tensors of every layer that feeds `container`'s outputs (graph inputs excluded), keyed
 * by layer; a layer called more than once maps to its first call.
 */
export function layerOutputsOnPath(container: tfl.LayersModel): Map<Layer, SymbolicTensor[]> {
  const out = new Map<Layer, SymbolicTensor[]>();
  for (const node of sortNodes(container, container.outputs)) {
    if (!out.has(node.outboundLayer)) out.set(node.outboundLayer, node.outputTensors);
  }
  return out;
}

/** Disposes the tensors a forward pass kept for `head`. */
export function disposeCache(cache: ForwardCache): void {
  for (const m of cache.scopes.values()) {
    for (const v of m.values()) if (v !== cache.input && !v.isDisposed) v.dispose();
  }
  cache.scopes.clear();
}
