import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { categoricalCrossentropyWithSmoothing } from './loss.js';
import { TrainingError } from './errors.js';

/** Options of {@link compileNeuroStageNet}. */
export interface CompileNeuroStageNetOptions {
  /** Adam learning rate. Default 5e-4. */
  learningRate?: number;
  /** Label smoothing of the categorical cross-entropy. Default 0.15. */
  labelSmoothing?: number;
  /** Metrics passed to `model.compile`. Default `['accuracy']` (categorical accuracy). */
  metrics?: string[];
}

/**
 * Compiles a NeuroStageNet like the Keras reference (choice C10): Adam (β1 0.9, β2 0.999, ε 1e-7 as
 * Keras; tfjs' ε default depends on the backend) with the given learning rate, and categorical
 * cross-entropy with label smoothing on the model's softmax output. Keras' AUC metric is not a tfjs
 * metric; compute it after `predict`. Set fine-tune freezing before calling this: tfjs fixes the list
 * of trainable weights at compile time.
 * @param model The model (output: probabilities, one-hot targets).
 * @param options Learning rate, label smoothing, metrics.
 * @returns The same model, compiled.
 */
export function compileNeuroStageNet(model: tfl.LayersModel, options: CompileNeuroStageNetOptions = {}): tfl.LayersModel {
  const learningRate = options.learningRate ?? 5e-4;
  if (!(learningRate > 0)) throw new TrainingError(`learningRate must be > 0, got ${learningRate}`);
  model.compile({
    optimizer: tf.train.adam(learningRate, 0.9, 0.999, 1e-7),
    loss: categoricalCrossentropyWithSmoothing(options.labelSmoothing ?? 0.15),
    metrics: options.metrics ?? ['accuracy'],
  });
  return model;
}
