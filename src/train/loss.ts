import * as tf from '@tensorflow/tfjs-core';
import { TrainingError } from './errors.js';

/** Keras' `backend.epsilon()`: probabilities are clipped to [eps, 1 − eps] before the log. */
const KERAS_EPSILON = 1e-7;

/** Options of {@link categoricalCrossentropyWithSmoothing}. */
export interface SmoothedCrossentropyOptions {
  /**
   * `yPred` are logits (pre-softmax scores) rather than probabilities: computes
   * −Σ y'·logSoftmax(z), exact for any score range. Default false (probabilities, Keras' formula).
   */
  fromLogits?: boolean;
}

/**
 * The range of label smoothing, closed at both ends as Keras' `label_smoothing` ("float in [0, 1]"): 0 is plain
 * cross-entropy, 1 turns every target into the uniform distribution (the loss then ignores the labels; allowed
 * because Keras allows it, useless for training). The one range the loss, the recipes, the trainer and the training
 * flags check.
 */
export const LABEL_SMOOTHING_RANGE: readonly [number, number] = Object.freeze([0, 1]) as readonly [number, number];

/**
 * Checks a label smoothing factor: one rule and one message for the loss, the recipes and the trainer.
 * @param value The factor.
 * @param where Who asks, put before the message (e.g. `'trainNeuroStageNet'`).
 * @returns The factor.
 * @throws TrainingError `labelSmoothing must be in [0, 1], got …` when it is not a number in {@link LABEL_SMOOTHING_RANGE}.
 */
export function checkLabelSmoothing(value: unknown, where?: string): number {
  const [lo, hi] = LABEL_SMOOTHING_RANGE;
  if (typeof value !== 'number' || !(value >= lo && value <= hi)) {
    throw new TrainingError(`${where ? `${where}: ` : ''}labelSmoothing must be in [${lo}, ${hi}], got ${String(value)}`);
  }
  return value;
}

/** A tfjs loss: one-hot targets and predictions [batch, K] → per-sample losses [batch]. */
export type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/**
 * Categorical cross-entropy with label smoothing, as Keras' `CategoricalCrossentropy(label_smoothing)`
 * (tfjs' own loss has no smoothing). Targets become `y' = y·(1 − ls) + ls/K`; from probabilities
 * `p` (default) the loss is `−Σ y'·log(clip(p / Σp, 1e-7, 1 − 1e-7))`, from logits
 * `−Σ y'·logSoftmax(z)`. Returns one loss per sample; `model.compile` / `fit` average them like Keras'
 * default `sum_over_batch_size` reduction.
 *
 * (Keras in graph mode silently switches to the logits of a softmax output layer; the two forms
 * agree unless a probability falls below 1e-7.)
 *
 * @param labelSmoothing Smoothing factor in [0, 1] ({@link LABEL_SMOOTHING_RANGE}); 0 gives plain cross-entropy.
 * @param options Whether predictions are logits.
 * @returns A loss function usable as `model.compile({ loss })`.
 */
export function categoricalCrossentropyWithSmoothing(
  labelSmoothing = 0,
  options: SmoothedCrossentropyOptions = {},
): LossFunction {
  checkLabelSmoothing(labelSmoothing, 'categoricalCrossentropyWithSmoothing');
  const fromLogits = options.fromLogits ?? false;
  const loss: LossFunction = (yTrue, yPred) =>
    tf.tidy(() => {
      if (yTrue.rank < 1 || yTrue.shape[yTrue.rank - 1] !== yPred.shape[yPred.rank - 1]) {
        throw new TrainingError(
          `categorical cross-entropy needs one-hot targets shaped like the predictions: ` +
            `got targets [${yTrue.shape}] and predictions [${yPred.shape}]`,
        );
      }
      const numClasses = yPred.shape[yPred.rank - 1];
      let target = tf.cast(yTrue, 'float32');
      if (labelSmoothing > 0) {
        target = tf.add(tf.mul(target, 1 - labelSmoothing), labelSmoothing / numClasses);
      }
      let logProb: tf.Tensor;
      if (fromLogits) {
        logProb = tf.logSoftmax(yPred, -1);
      } else {
        const normalized = tf.div(yPred, tf.sum(yPred, -1, true));
        logProb = tf.log(tf.clipByValue(normalized, KERAS_EPSILON, 1 - KERAS_EPSILON));
      }
      return tf.neg(tf.sum(tf.mul(target, logProb), -1));
    });
  return loss;
}
