import type * as tfl from '@tensorflow/tfjs-layers';

/** Base options every tfjs-layers layer accepts (name, trainable, inputShape, ...). */
export type BaseLayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;

/** Keyword arguments tfjs-layers passes to `Layer.call` (`training`, `mask`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CallKwargs = { [key: string]: any };

/** Returns the one tensor of a `call` input (tfjs passes a tensor or a one-element array). */
export function singleTensor<T>(inputs: T | T[]): T {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

/** Returns the one shape of a `computeOutputShape` input. */
export function singleShape(shape: tfl.Shape | tfl.Shape[]): tfl.Shape {
  return Array.isArray(shape[0]) ? (shape as tfl.Shape[])[0] : (shape as tfl.Shape);
}

let defaultNameCounter = 0;

/**
 * A unique default layer name: tfjs derives one from the class name, which for `neurostagenet>X`
 * contains '>', invalid in tensor names.
 */
export function withDefaultName<T extends { name?: string }>(args: T, base: string): T {
  return args.name != null ? args : { ...args, name: `${base}_${++defaultNameCounter}` };
}
