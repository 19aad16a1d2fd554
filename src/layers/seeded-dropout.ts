import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type BaseLayerArgs, type CallKwargs, singleShape, singleTensor, withDefaultName } from './types.js';
import { LayerInputError, LayerOptionsError } from './errors.js';
import { mixSeed } from '../random.js';

/** Options of {@link SeededDropout}. */
export interface SeededDropoutArgs extends BaseLayerArgs {
  /** Fraction of units dropped in training, in [0, 1). */
  rate: number;
  /**
   * Shape of the binary mask, `null` entries taking the input's size (Keras `noise_shape`).
   * Stochastic depth uses `[null, 1, 1, 1]`: one keep/drop decision per sample. Default: the input shape.
   */
  noiseShape?: (number | null)[] | null;
  /** Base seed of the masks. Default 0. */
  seed?: number;
}

/**
 * Keras-semantics `Dropout` with reproducible masks: in training, keeps each unit (or each mask
 * cell of `noiseShape`) with probability 1 − rate and scales kept values by 1/(1 − rate); in
 * inference, the identity. Used for the head's dropout and for EfficientNet's stochastic depth
 * (`block*_drop`, rate 0.2·b/16, noise shape [null,1,1,1]).
 *
 * Unlike tfjs' `Dropout` with a `seed`, which repeats the same mask at every step, the k-th training
 * call uses seed `seed + k`: a fresh mask each step, and the same sequence of masks for the same seed.
 */
export class SeededDropout extends tfl.layers.Layer {
  /** Registered class name used in saved model JSON. */
  static className = 'neurostagenet>SeededDropout';
  /** Drop rate. */
  readonly rate: number;
  /** Mask shape with `null` = input size, or null for the full input shape. */
  readonly noiseShape: (number | null)[] | null;
  /** Base seed of the masks. */
  readonly seed: number;
  /**
   * Seed of the current training step, set by the trainer (`trainNeuroStageNet`) so that masks depend on
   * (layer seed, run seed, epoch, step) only, and a resumed or repeated run draws the same masks. When null (e.g.
   * plain `model.fit`), masks follow a per-layer call counter instead.
   */
  stepSeed: number | null = null;
  /** Number of training-mode calls so far (advances the mask seed when no step seed is set). */
  private trainingCalls = 0;

  /** @param args Rate, optional noise shape and seed. */
  constructor(args: SeededDropoutArgs) {
    super(withDefaultName(args, 'seeded_dropout'));
    if (!(args.rate >= 0 && args.rate < 1)) {
      throw new LayerOptionsError(`SeededDropout '${this.name}': rate must be in [0, 1), got ${args.rate}`);
    }
    this.rate = args.rate;
    this.noiseShape = args.noiseShape ?? null;
    this.seed = args.seed ?? 0;
    this.supportsMasking = true;
  }

  /**
   * Sets the input spec: one input, of the noise shape's rank when one is given.
   * @throws {@link LayerInputError} for several inputs or an input whose rank differs from the noise shape's.
   */
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = singleShape(inputShape, this);
    if (this.noiseShape != null && this.noiseShape.length !== shape.length) {
      throw new LayerInputError(
        `SeededDropout '${this.name}': noise shape ${JSON.stringify(this.noiseShape)} for an input of shape ${JSON.stringify(shape)}`,
      );
    }
    this.inputSpec = [new tfl.InputSpec(this.noiseShape != null ? { ndim: this.noiseShape.length } : {})];
    this.built = true;
  }

  /** Drops in training (`kwargs.training === true`), identity otherwise. */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: CallKwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs, this);
      if (kwargs?.training !== true || this.rate === 0) return tf.clone(x);
      const noiseShape = this.noiseShape?.map((d, i) => d ?? x.shape[i]);
      const seed = this.stepSeed != null ? mixSeed(this.seed, this.stepSeed) : this.seed + this.trainingCalls;
      this.trainingCalls += 1;
      return tf.dropout(x, this.rate, noiseShape, seed);
    });
  }

  /** Output shape equals input shape. */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return singleShape(inputShape, this);
  }

  /** Serializable config (base config plus rate, noise shape, seed). */
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, noiseShape: this.noiseShape, seed: this.seed };
  }
}
tf.serialization.registerClass(SeededDropout);
