import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { iterateBatches } from '../data/batches.js';
import type { LabeledImageSource } from '../data/types.js';
import { TrainingError } from './errors.js';
import type { LossFunction } from './loss.js';


/** Test-time augmentation of `evaluate`: none, or the mean over a slice and its left-right mirror. */
export type TestTimeAugmentation = 'none' | 'flip';

/** Outcome of one inference pass (internal; {@link evaluate} and the trainer's validation build on it). */
export interface InferencePass {
  indices: Int32Array;
  labels: Int32Array;
  probabilities: Float32Array;
  logits: Float32Array | undefined;
  numClasses: number;
  /** Sum over examples of the compiled loss (only when a loss was given). */
  lossSum: number;
  correct: number;
}

/** Number of classes the model predicts (last dimension of its single output). */
export function modelNumClasses(model: tfl.LayersModel): number {
  if (model.outputs.length !== 1) {
    throw new TrainingError(`expected a model with one output (class probabilities), got ${model.outputs.length} outputs`);
  }
  const shape = model.outputs[0].shape;
  const k = shape[shape.length - 1];
  if (shape.length !== 2 || typeof k !== 'number' || k < 2) {
    throw new TrainingError(`expected the model output to be [batch, numClasses ≥ 2], got [${shape.join(', ')}]`);
  }
  return k;
}

// The final layer of NeuroStageNet is a separate softmax whose input is the logits; a model that exposes both
// is built once per model (it shares the layers, so it never goes stale) and cached.
const logitsModels = new WeakMap<tfl.LayersModel, tfl.LayersModel | null>();

/** A model with outputs `[logits, probabilities]`, or `null` when the last layer is not a separate softmax. */
export function logitsAndProbabilitiesModel(model: tfl.LayersModel): tfl.LayersModel | null {
  if (logitsModels.has(model)) return logitsModels.get(model) ?? null;
  let result: tfl.LayersModel | null = null;
  const last = model.outputLayers?.[0];
  if (last && isSeparateSoftmax(last)) {
    try {
      const logits = last.input as tfl.SymbolicTensor;
      if (!Array.isArray(logits)) result = tfl.model({ inputs: model.inputs, outputs: [logits, model.outputs[0]] });
    } catch {
      result = null; // shared or multi-input softmax layer: fall back to log-probabilities
    }
  }
  logitsModels.set(model, result);
  return result;
}

function isSeparateSoftmax(layer: tfl.layers.Layer): boolean {
  const cls = layer.getClassName();
  if (cls === 'Softmax') return true;
  const activation = (layer.getConfig() as { activation?: unknown }).activation;
  return cls === 'Activation' && activation === 'softmax';
}

/**
 * Checks that `source`'s images fit the model's input `[N, H, W, 1]` (the trainer and {@link runInference} share it).
 * @param model The classifier.
 * @param source The images (`imageSize` is `[height, width]`).
 * @param what The caller and the images, for the message (e.g. `"trainNeuroStageNet: train"`, `"evaluate: the"`).
 * @throws {@link TrainingError} naming both sizes and the two ways to make them agree.
 */
export function checkImageSize(model: tfl.LayersModel, source: Pick<LabeledImageSource, 'imageSize'>, what: string): void {
  const inputShape = model.inputs[0]?.shape ?? [];
  const [h, w] = source.imageSize;
  if (inputShape.length !== 4 || inputShape[1] !== h || inputShape[2] !== w || inputShape[3] !== 1) {
    throw new TrainingError(
      `${what} images are ${h}x${w}x1 but model '${model.name}' takes [${inputShape.slice(1).join(', ')}]` +
        ` (load the data with targetSize [${inputShape[1]}, ${inputShape[2]}] or use a model built for [${h}, ${w}, 1])`,
    );
  }
}

/**
 * Runs the model in inference mode over `indices` of `source` and collects labels, probabilities, logits (when
 * asked and reachable) and the summed loss (when `loss` is given). With `tta: 'flip'` the probabilities are the mean
 * of the slice's and its left-right mirror image's, and no logits are read (the caller takes log-probabilities).
 * Every tensor is disposed before returning.
 * @throws {@link TrainingError} when the source's images do not fit the model's input (see {@link checkImageSize}).
 */
export async function runInference(
  model: tfl.LayersModel,
  source: LabeledImageSource,
  options: {
    indices?: ArrayLike<number>;
    batchSize?: number;
    loss?: LossFunction;
    withLogits?: boolean;
    tta?: TestTimeAugmentation;
    onProgress?: (rowsDone: number, rowsTotal: number) => void;
    /** The caller and the images, for the image-size error (see {@link checkImageSize}). */
    caller?: string;
  },
): Promise<InferencePass> {
  const flip = options.tta === 'flip';
  if (options.tta !== undefined && options.tta !== 'none' && !flip) throw new TrainingError(`tta must be 'none' or 'flip', got '${String(options.tta)}'`);
  const k = modelNumClasses(model);
  checkImageSize(model, source, options.caller ?? 'inference: the');
  const n = options.indices ? options.indices.length : source.length;
  const batchSize = options.batchSize ?? 32;
  const twoHeaded = options.withLogits && !flip ? logitsAndProbabilitiesModel(model) : null;
  const out: InferencePass = {
    indices: new Int32Array(n),
    labels: new Int32Array(n),
    probabilities: new Float32Array(n * k),
    logits: twoHeaded ? new Float32Array(n * k) : undefined,
    numClasses: k,
    lossSum: 0,
    correct: 0,
  };
  let offset = 0;
  for await (const batch of iterateBatches(source, { indices: options.indices, batchSize, numClasses: k })) {
    const m = batch.indices.length;
    let kept: tf.Tensor[] = [];
    try {
      kept = tf.tidy(() => {
        let probs: tf.Tensor;
        let logits: tf.Tensor | undefined;
        if (twoHeaded) {
          [logits, probs] = twoHeaded.predict(batch.xs, { batchSize: m }) as tf.Tensor[];
        } else if (flip) {
          // NHWC: axis 2 is the width, so this mirrors left and right (a flip keeps a registered slice's anatomy).
          const mirrored = tf.reverse(batch.xs, 2);
          probs = tf.div(tf.add(model.predict(batch.xs, { batchSize: m }) as tf.Tensor, model.predict(mirrored, { batchSize: m }) as tf.Tensor), 2);
        } else {
          probs = model.predict(batch.xs, { batchSize: m }) as tf.Tensor;
        }
        const correct = tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), tf.argMax(batch.ys, -1)), 'float32'));
        const lossSum = options.loss ? tf.mul(tf.mean(options.loss(batch.ys, probs)), m) : tf.scalar(0);
        return logits ? [probs, correct, lossSum, logits] : [probs, correct, lossSum];
      });
      const [probs, correct, lossSum, logits] = await Promise.all(kept.map((t) => t.data()));
      out.probabilities.set(probs as Float32Array, offset * k);
      if (out.logits && logits) out.logits.set(logits as Float32Array, offset * k);
      out.correct += correct[0];
      out.lossSum += lossSum[0];
      for (let i = 0; i < m; i++) {
        out.indices[offset + i] = batch.indices[i];
        out.labels[offset + i] = source.labels[batch.indices[i]];
      }
      offset += m;
      options.onProgress?.(offset, n);
    } finally {
      tf.dispose([batch.xs, batch.ys, ...kept]);
    }
  }
  return out;
}
