/**
 * Keras 3 semantics of `trainable` for models nested in models.
 *
 * In Keras 3, `model.trainable = false` sets `trainable = false` on every sublayer at any depth, and a
 * non-trainable `BatchNormalization` runs in inference mode (moving statistics used, not updated) even inside
 * `fit`. tfjs-layers' `Container.trainable` setter only flips the weight flags of the container's *direct*
 * children: with a BN inside `inner` inside `outer`, `outer.trainable = false` excludes the BN's weights from
 * training (tfjs' `trainableWeights` getter stops at a non-trainable container) but leaves the BN itself trainable,
 * so its moving statistics keep updating during `fit`.
 *
 * This module gives Keras semantics without touching tfjs' prototypes:
 * - {@link KerasFunctional} (built by {@link kerasModel}): a `LayersModel` whose `trainable` setter recurses, used for
 *   every model this package builds (NeuroStageNet and its nested `efficientnetb0`), so `net.trainable = false`
 *   freezes every layer inside, whoever nests `net` in what;
 * - {@link setTrainable}: the same recursion for any tree of layers and models, e.g. plain `tf.model`s;
 * - {@link findFrozenLayers}: the layers Keras would treat as frozen (non-trainable themselves or below a
 *   non-trainable container), which `trainNeuroStageNet` runs in inference mode whatever the flags below say.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** The direct sublayers of a layer: a model's `layers`, a wrapper's (e.g. `TimeDistributed`) `layer`, else none. */
function sublayers(layer: tfl.layers.Layer): tfl.layers.Layer[] {
  const nested = (layer as unknown as { layers?: unknown }).layers;
  if (Array.isArray(nested)) return nested as tfl.layers.Layer[];
  const wrapped = (layer as unknown as { layer?: unknown }).layer;
  return wrapped instanceof tfl.layers.Layer ? [wrapped] : [];
}

/**
 * Sets `trainable` on a layer and on every layer below it, at any depth (Keras 3's `layer.trainable = value`).
 * Use it on models whose `trainable` setter does not recurse (plain `tf.model` / `tf.sequential`, or models loaded
 * from files saved before this package built {@link KerasFunctional} models). A non-trainable BatchNormalization of
 * this package ({@link KerasBatchNormalization}) then runs in inference mode in `fit`. Recompile afterwards: tfjs
 * collects the trainable weights at `compile`.
 * @param layer The root: a layer or a model.
 * @param trainable The value to set.
 */
export function setTrainable(layer: tfl.layers.Layer, trainable: boolean): void {
  const seen = new Set<tfl.layers.Layer>();
  const visit = (l: tfl.layers.Layer): void => {
    if (seen.has(l)) return;
    seen.add(l);
    l.trainable = trainable; // first the container (tfjs resets its direct children's weight flags), then below
    sublayers(l).forEach(visit);
  };
  visit(layer);
}

/**
 * The layers of a tree that Keras 3 would treat as frozen: every layer that is not trainable itself or lies below a
 * non-trainable container, at any depth (the root included when it is not trainable). Input layers, weightless
 * placeholders that tfjs creates non-trainable, are left out.
 * @param root A model or layer.
 * @returns The frozen layers (containers included).
 */
export function findFrozenLayers(root: tfl.layers.Layer): Set<tfl.layers.Layer> {
  const frozen = new Set<tfl.layers.Layer>();
  const visit = (layer: tfl.layers.Layer, ancestorFrozen: boolean): void => {
    if (layer.getClassName() === 'InputLayer') return; // weightless placeholders (tfjs makes them non-trainable)
    const isFrozen = ancestorFrozen || !layer.trainable;
    if (isFrozen) {
      if (frozen.has(layer)) return;
      frozen.add(layer);
    }
    sublayers(layer).forEach((l) => visit(l, isFrozen));
  };
  visit(root, false);
  return frozen;
}

/** Layers held frozen by {@link holdKerasFreezing}, with a count so that nested holds release correctly. */
const held = new WeakMap<tfl.layers.Layer, number>();

/**
 * Whether a layer is held frozen by {@link holdKerasFreezing} (i.e. lies below a non-trainable container of a model
 * being trained by `trainNeuroStageNet`). Read by {@link KerasBatchNormalization}.
 * @param layer Any layer.
 */
export function isHeldFrozen(layer: tfl.layers.Layer): boolean {
  return (held.get(layer) ?? 0) > 0;
}

/** The Conv2D fields read by {@link unfusedConv2dCall} (tfjs-layers' Conv2D instance properties). */
interface Conv2DLike {
  kernel: tfl.LayerVariable;
  bias: tfl.LayerVariable | null;
  strides: [number, number];
  padding: string;
  dilationRate: [number, number];
  activation: { apply(x: tf.Tensor): tf.Tensor };
}

/**
 * A frozen Conv2D's forward pass as `tf.conv2d` (+ bias, + activation). tfjs-layers runs a Conv2D whose activation
 * tfjs can fuse (linear, relu, sigmoid, ...) through `tf.fused.conv2d`, whose custom gradient computes the filter
 * (and bias) gradient with the input gradient even when the kernel is frozen; `tf.conv2d`'s gradient computes only
 * what the step asks for. In a fine-tuning step the learnable input projection sits below the frozen backbone, so
 * every frozen convolution is backpropagated: this leaves out their filter gradients, as Keras does. Same values.
 */
function unfusedConv2dCall(this: Conv2DLike, inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    const y = tf.conv2d(x, this.kernel.read() as tf.Tensor4D, this.strides, this.padding === 'same' ? 'same' : 'valid', 'NHWC', this.dilationRate);
    return this.activation.apply(this.bias ? tf.add(y, this.bias.read()) : y);
  });
}

/** Whether a layer is a channels-last 2-D convolution (tfjs-layers' Conv2D, not its subclasses). */
function isChannelsLastConv2D(layer: tfl.layers.Layer): boolean {
  const l = layer as unknown as { rank?: number; dataFormat?: string; activation?: unknown };
  return layer.getClassName() === 'Conv2D' && l.rank === 2 && l.dataFormat === 'channelsLast' && l.activation != null;
}

/** Layers running {@link unfusedConv2dCall}, with a count so that nested holds release correctly. */
const unfused = new WeakMap<tfl.layers.Layer, number>();

/**
 * Runs every channels-last Conv2D among `layers` unfused (`tf.conv2d` + bias + activation, same values) until the
 * returned function is called, so that a gradient through them computes no filter gradient (see
 * `unfusedConv2dCall`). For layers whose weights get no gradient: frozen layers in training (`holdKerasFreezing`), every
 * layer in Grad-CAM. An instance-level `call`, removed again on release: configs and saved models are unchanged.
 * Other layers are left alone.
 * @param layers Layers (any kind; only Conv2D layers change).
 * @returns `release()` (call it once, e.g. in `finally`).
 */
export function holdUnfusedConvolutions(layers: Iterable<tfl.layers.Layer>): () => void {
  const convs = [...layers].filter(isChannelsLastConv2D);
  for (const l of convs) {
    const n = unfused.get(l) ?? 0;
    unfused.set(l, n + 1);
    if (n === 0) (l as unknown as { call: unknown }).call = unfusedConv2dCall;
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    for (const l of convs) {
      const n = (unfused.get(l) ?? 1) - 1;
      if (n > 0) {
        unfused.set(l, n);
        continue;
      }
      unfused.delete(l);
      if (Object.prototype.hasOwnProperty.call(l, 'call') && (l as unknown as { call: unknown }).call === unfusedConv2dCall) {
        delete (l as unknown as { call?: unknown }).call;
      }
    }
  };
}

/**
 * Every layer of a tree (the root, nested models and their layers, at any depth), each once.
 * @param root A model or layer.
 */
export function allLayers(root: tfl.layers.Layer): tfl.layers.Layer[] {
  const seen = new Set<tfl.layers.Layer>();
  const visit = (l: tfl.layers.Layer): void => {
    if (seen.has(l)) return;
    seen.add(l);
    sublayers(l).forEach(visit);
  };
  visit(root);
  return [...seen];
}

/**
 * Marks every layer {@link findFrozenLayers} finds in `model` as frozen until the returned function is called: this
 * package's BatchNormalization layers among them then run in inference mode even when their own `trainable` flag
 * says otherwise (a plain tfjs container above them was set non-trainable), and frozen Conv2D layers run unfused
 * so that no filter gradient is computed for them ({@link holdUnfusedConvolutions}). Layer flags are not changed.
 * Used by `trainNeuroStageNet` for the duration of a run.
 * @param model The model about to be trained.
 * @returns `release()`, which removes the marks (call it once, e.g. in `finally`).
 */
export function holdKerasFreezing(model: tfl.layers.Layer): () => void {
  const layers = [...findFrozenLayers(model)];
  layers.forEach((l) => held.set(l, (held.get(l) ?? 0) + 1));
  const releaseConvolutions = holdUnfusedConvolutions(layers);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    releaseConvolutions();
    layers.forEach((l) => {
      const n = (held.get(l) ?? 1) - 1;
      if (n > 0) held.set(l, n);
      else held.delete(l);
    });
  };
}

let functionalCounter = 0;

/** Options of {@link kerasModel}: those of `tf.model` (inputs, outputs, name). */
export type KerasModelArgs = ConstructorParameters<typeof tfl.LayersModel>[0];

/**
 * A functional `LayersModel` with Keras 3's `trainable`: setting it sets every layer inside at any depth (nested
 * models included), so freezing a model that holds a BatchNormalization two containers deep puts that BN in
 * inference mode. Everything else is tfjs' `LayersModel`. Registered as `neurostagenet>Functional`, so a saved
 * model reloads as one (once this package is imported); models saved as tfjs' `Model` still load, as plain
 * `LayersModel`s (use {@link setTrainable} on them).
 */
export class KerasFunctional extends tfl.LayersModel {
  /** Registered class name used in saved model JSON. */
  static override className = 'neurostagenet>Functional';

  /** @param args As for `tf.model`; a missing name becomes `functional_<n>` (tfjs' default would contain '>'). */
  constructor(args: KerasModelArgs) {
    super(args.name != null ? args : { ...args, name: `functional_${++functionalCounter}` });
  }

  /** Whether the model is trainable (tfjs' flag of this container). */
  override get trainable(): boolean {
    return super.trainable;
  }

  /** Sets this model's flag and, recursively, every sublayer's (Keras 3). */
  override set trainable(value: boolean) {
    super.trainable = value;
    for (const layer of this.layers ?? []) layer.trainable = value;
  }
}
tf.serialization.registerClass(KerasFunctional);

/**
 * `tf.model` with Keras 3's recursive `trainable` ({@link KerasFunctional}).
 * @param args Inputs, outputs and name, as for `tf.model`.
 * @returns The model.
 */
export function kerasModel(args: KerasModelArgs): KerasFunctional {
  return new KerasFunctional(args);
}

// Rewrites tfjs' functional class name to KerasFunctional's at every depth of a saved topology.
function asKerasFunctionalTopology(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(asKerasFunctionalTopology);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = asKerasFunctionalTopology(value);
  if (out.class_name === 'Model' && typeof out.config === 'object' && out.config !== null && 'layers' in out.config) {
    out.class_name = KerasFunctional.className;
  }
  return out;
}

/**
 * Wraps a tfjs load handler so that the functional models of the saved topology (the model and every model nested in
 * it) load as {@link KerasFunctional}, with Keras 3's recursive `trainable`: e.g. a model saved before this package
 * built KerasFunctional models, or by plain tfjs. `loadModel` and `loadPretrainedNeuroStageNet` use it; for a model of
 * your own: `tfl.loadLayersModel(kerasFunctionalIO(tf.io.http(url)))`. Layers, weights and outputs are unchanged.
 * @param handler A handler with `load()` (e.g. `tf.io.http(url)`, `tf.io.browserFiles(files)`).
 * @returns A handler whose `load()` returns the same artifacts with the class names rewritten.
 */
export function kerasFunctionalIO(handler: tf.io.IOHandler): tf.io.IOHandler {
  const load = handler.load?.bind(handler);
  if (!load) throw new TypeError('kerasFunctionalIO needs a handler with load()');
  return {
    load: async () => {
      const artifacts = await load();
      return artifacts.modelTopology && !(artifacts.modelTopology instanceof ArrayBuffer)
        ? { ...artifacts, modelTopology: asKerasFunctionalTopology(artifacts.modelTopology) as object }
        : artifacts;
    },
  };
}
