// Where "the logit" of a model is: Grad-CAM differentiates the class score before softmax, because the
// gradient of a saturated softmax probability vanishes and gives blank maps.

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ExplainError } from './errors.js';
import { GraphPlan } from './graph.js';

/** Activation that turns a model's logits into its output. */
export type OutputActivation = 'softmax' | 'sigmoid' | 'none';

/** How to obtain logits from a model (internal). */
export interface LogitSpec {
  /** Symbolic tensor of the outer model to compute. */
  tensor: tfl.SymbolicTensor;
  /** Turns the computed tensor into logits (identity, or the pre-activation of a softmax Dense layer). */
  toLogits: (t: tf.Tensor) => tf.Tensor;
  activation: OutputActivation;
  /** Human-readable: which tensor is treated as the logits. */
  description: string;
}

function activationOf(layer: tfl.layers.Layer): string | null {
  const cls = layer.getClassName();
  if (cls === 'Softmax') return 'softmax';
  const cfg = layer.getConfig() as { activation?: unknown };
  return typeof cfg.activation === 'string' ? cfg.activation : null;
}

/**
 * Finds the logits of `model`:
 * - final `Activation('softmax' | 'sigmoid')` or `Softmax` layer: its input;
 * - final `Dense` with a softmax/sigmoid activation: that Dense layer's pre-activation `x·W + b`;
 * - anything else: the model output itself (treated as logits; probabilities are its softmax).
 */
export function resolveLogits(model: tfl.LayersModel): LogitSpec {
  if (model.outputs.length !== 1) {
    throw new ExplainError(`Model '${model.name}' has ${model.outputs.length} outputs; only single-output classifiers are supported.`);
  }
  const out = model.outputs[0];
  if (out.shape.length !== 2) {
    throw new ExplainError(`Model '${model.name}' outputs shape [${out.shape.join(', ')}]; a classifier output [batch, classes] is needed.`);
  }
  const layer = out.sourceLayer;
  const node = layer.inboundNodes[out.nodeIndex];
  const act = activationOf(layer);
  const cls = layer.getClassName();
  const identity = (t: tf.Tensor): tf.Tensor => t;
  if ((cls === 'Activation' || cls === 'Softmax') && (act === 'softmax' || act === 'sigmoid') && node.inputTensors.length === 1) {
    return {
      tensor: node.inputTensors[0],
      toLogits: identity,
      activation: act,
      description: `input of the final ${cls} layer '${layer.name}'`,
    };
  }
  if (cls === 'Dense' && (act === 'softmax' || act === 'sigmoid')) {
    const input = node.inputTensors[0];
    if (input.shape.length !== 2) {
      throw new ExplainError(
        `The final Dense layer '${layer.name}' has a ${act} activation on a rank-${input.shape.length} input; ` +
          'put the activation in a separate Activation layer so the logits can be reached.',
      );
    }
    const dense = layer;
    return {
      tensor: input,
      toLogits: (t) => {
        const [kernel, bias] = dense.getWeights();
        const z = tf.matMul(t as tf.Tensor2D, kernel as tf.Tensor2D);
        return bias != null ? tf.add(z, bias) : z;
      },
      activation: act,
      description: `pre-activation of the final Dense layer '${layer.name}' (its ${act} removed)`,
    };
  }
  return { tensor: out, toLogits: identity, activation: 'none', description: `output of '${layer.name}' (no final softmax found)` };
}

/** Probabilities from logits, per the model's output activation (`'none'`: softmax of the scores). */
export function probabilitiesFromLogits(logits: tf.Tensor, activation: OutputActivation): tf.Tensor {
  return activation === 'sigmoid' ? tf.sigmoid(logits) : tf.softmax(logits);
}

/** Computes logits or probabilities of a model in inference mode (used by the faithfulness curves). */
export class ClassScorer {
  private readonly spec: LogitSpec;
  private readonly plan: GraphPlan;

  constructor(readonly model: tfl.LayersModel) {
    this.spec = resolveLogits(model);
    this.plan = new GraphPlan(model, [this.spec.tensor], []);
  }

  /** `[N, classes]` scores for a batch; the caller owns the result. */
  scores(x: tf.Tensor, kind: 'probability' | 'logit'): tf.Tensor2D {
    return tf.tidy(() => {
      const r = this.plan.forward(x);
      const logits = this.spec.toLogits(r.fetches[0]);
      return (kind === 'logit' ? logits : probabilitiesFromLogits(logits, this.spec.activation)) as tf.Tensor2D;
    });
  }
}
