import type * as tfl from '@tensorflow/tfjs-layers';
import { LayerInputError } from './errors.js';

/** Base options every tfjs-layers layer accepts (name, trainable, inputShape, ...). */
export type BaseLayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

/** Activation names accepted by tfjs-layers (e.g. `'swish'`, `'relu'`, `'sigmoid'`). */
export type ActivationName = Parameters<typeof tfl.layers.activation>[0]['activation'];

/** Keyword arguments tfjs-layers passes to `Layer.call` (`training`, `mask`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CallKwargs = { [key: string]: any };

/** What the single-input helpers name in their errors: a layer (its class and name). */
export interface NamedLayer {
  /** The layer's name. */
  readonly name: string;
  /** The layer's registered class name. */
  getClassName(): string;
}

function describeLayer(layer?: NamedLayer): string {
  return layer == null ? 'layer' : `${layer.getClassName()} '${layer.name}'`;
}

/**
 * Returns the one tensor of a `call` input (tfjs passes a tensor or a one-element array), and rejects several as
 * tfjs-layers' `getExactlyOneTensor` does.
 * @param inputs A tensor or an array of tensors.
 * @param layer The layer, named in the error.
 * @throws {@link LayerInputError} when `inputs` is an array of other than one tensor.
 */
export function singleTensor<T>(inputs: T | T[], layer?: NamedLayer): T {
  if (!Array.isArray(inputs)) return inputs;
  if (inputs.length !== 1) {
    throw new LayerInputError(`${describeLayer(layer)} takes one input: Expected Tensor length to be 1; got ${inputs.length}`);
  }
  return inputs[0];
}

/**
 * Returns the one shape of a `build` / `computeOutputShape` input, and rejects several as tfjs-layers'
 * `getExactlyOneShape` does.
 * @param shape A shape or an array of shapes.
 * @param layer The layer, named in the error.
 * @throws {@link LayerInputError} when `shape` is an array of other than one shape.
 */
export function singleShape(shape: tfl.Shape | tfl.Shape[], layer?: NamedLayer): tfl.Shape {
  if (!(Array.isArray(shape) && Array.isArray(shape[0]))) return shape as tfl.Shape;
  if (shape.length !== 1) {
    throw new LayerInputError(`${describeLayer(layer)} takes one input: Expected exactly 1 Shape; got ${shape.length}`);
  }
  return (shape as tfl.Shape[])[0];
}

let defaultNameCounter = 0;

/**
 * A unique default layer name: tfjs derives one from the class name, which for `neurostagenet>X`
 * contains '>', invalid in tensor names.
 */
export function withDefaultName<T extends { name?: string }>(args: T, base: string): T {
  return args.name != null ? args : { ...args, name: `${base}_${++defaultNameCounter}` };
}
