/**
 * The input check of a trained model: is an image like the slices the model was made for? Fitted once on the
 * training people (and its threshold on the validation people), stored in the model's `metadata.json`
 * (`inputCheck`), and run by `evaluate`, the CLI and the browser page before a stage is given.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { LabeledImageSource } from '../data/types.js';
import { deserializeInputCheck, inputVerdict, type InputCheckModel, type InputVerdict } from '../data/input-check.js';
import { ModelError } from './errors.js';

export type { InputVerdict } from '../data/input-check.js';

/** Thrown when an input check is asked of a model whose metadata holds none. */
export class InputCheckUnavailableError extends ModelError {}

/** Thrown when every image given was refused by the input check, so no figure or stage can be given. */
export class InputsRefusedError extends ModelError {
  /** The verdict of every image. */
  readonly verdicts: InputVerdict[];

  /**
   * @param message What was refused and why.
   * @param verdicts The verdict of every image.
   */
  constructor(message: string, verdicts: InputVerdict[]) {
    super(message);
    this.verdicts = verdicts;
  }
}

// The check of every model loaded with one, found again from the LayersModel alone (evaluate takes only that).
const registered = new WeakMap<tfl.LayersModel, InputCheckModel>();

/**
 * Ties an input check to a model so that `evaluate(model, ...)` and the CLI run it; `loadPretrainedNeuroStageNet`
 * does this for a model whose metadata holds one.
 * @param model The classifier.
 * @param check The fitted check (`undefined` removes it).
 */
export function attachInputCheck(model: tfl.LayersModel, check: InputCheckModel | undefined): void {
  if (check) registered.set(model, check);
  else registered.delete(model);
}

/**
 * The input check tied to a model (see {@link attachInputCheck}), if any.
 * @param model The classifier.
 * @returns The check or `undefined`.
 */
export function attachedInputCheck(model: tfl.LayersModel): InputCheckModel | undefined {
  return registered.get(model);
}

/** A model with its check or its metadata (as `loadPretrainedNeuroStageNet` returns it). */
export interface ModelWithInputCheck {
  /** The classifier. */
  model: tfl.LayersModel;
  /** Its fitted check, when already parsed. */
  inputCheck?: InputCheckModel;
  /** Its metadata (`inputCheck` as `metadata.json` stores it). */
  metadata?: Record<string, unknown>;
}

/** A model the input check can be asked of: a {@link ModelWithInputCheck}, or a layers model with a check attached. */
export type CheckableModel = ModelWithInputCheck | tfl.LayersModel;

/** Some rows of a data set. */
export interface SourceRows {
  /** The data set. */
  source: LabeledImageSource;
  /** Its rows to check, in order. */
  indices: ArrayLike<number>;
}

/** Images to check: `[N, H, W, 1]` (or one `[H, W, 1]`) tensors of 0..255 gray pixels as `predict` takes, or a data set. */
export type CheckedImages = tf.Tensor | LabeledImageSource | SourceRows;

/**
 * The check a model carries: its own `inputCheck`, else its metadata's (parsed), else the one attached to its layers model.
 * @param net The model.
 * @returns The check.
 * @throws {@link InputCheckUnavailableError} when the model has none.
 */
export function inputCheckOf(net: CheckableModel): InputCheckModel {
  if ('predict' in net && typeof (net as tfl.LayersModel).predict === 'function' && !('model' in net)) {
    const check = attachedInputCheck(net as tfl.LayersModel);
    if (check) return check;
  } else {
    const wrapped = net as ModelWithInputCheck;
    if (wrapped.inputCheck) return wrapped.inputCheck;
    if (wrapped.metadata?.inputCheck !== undefined) return deserializeInputCheck(wrapped.metadata.inputCheck);
    const check = attachedInputCheck(wrapped.model);
    if (check) return check;
  }
  throw new InputCheckUnavailableError(
    'this model has no input check in its metadata (metadata.json "inputCheck"), so it cannot tell which images it was not made for: ' +
      "fit one with fitInputCheck (neurostagenet/train), or pass allowUnchecked / --allow-unchecked to classify unchecked",
  );
}

/**
 * Asks the model's input check whether each image is like the slices the model was trained on. A refused image
 * should get no stage (the model would still give one, confidently: a softmax knows only its four stages).
 * @param net The model with its check (see {@link CheckableModel}).
 * @param images `[N, H, W, 1]` / `[H, W, 1]` tensors in 0..255 (not disposed), or a data set (all rows, or `indices`).
 * @returns One verdict per image, in order: `accepted`, `score` (grows with distance from the training slices) and,
 *   when refused, `reason`.
 * @throws {@link InputCheckUnavailableError} when the model has no check; a `ModelError` for a tensor of another shape.
 * @example
 * ```ts
 * const net = await loadPretrainedNeuroStageNet();
 * const verdicts = await checkInputs(net, images);      // images: [N, 64, 64, 1], 0..255
 * verdicts.forEach((v, i) => { if (!v.accepted) console.log(`image ${i}: refused, ${v.reason}`); });
 * ```
 */
export async function checkInputs(net: CheckableModel, images: CheckedImages): Promise<InputVerdict[]> {
  const check = inputCheckOf(net);
  if (images instanceof tf.Tensor) {
    const shape = images.shape;
    const batched = shape.length === 4 ? shape : shape.length === 3 ? [1, ...shape] : undefined;
    if (!batched || batched[3] !== 1) {
      throw new ModelError(`checkInputs: expected [N, H, W, 1] or [H, W, 1] gray images, got a tensor of shape [${shape.join(', ')}]`);
    }
    const [n, h, w] = batched;
    const pixels = await images.data();
    return Array.from({ length: n }, (_, i) => inputVerdict(check, pixels.subarray(i * h * w, (i + 1) * h * w), h, w));
  }
  const source = 'source' in images ? images.source : images;
  const indices = 'source' in images ? images.indices : undefined;
  const [h, w] = source.imageSize;
  const n = indices ? indices.length : source.length;
  const out: InputVerdict[] = [];
  for (let i = 0; i < n; i++) out.push(inputVerdict(check, (await source.get(indices ? indices[i] : i)).image, h, w));
  return out;
}
