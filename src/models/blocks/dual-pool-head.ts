import * as tfl from '@tensorflow/tfjs-layers';
import { kerasGlorotUniform } from '../../layers/initializers.js';
import { KerasBatchNormalization } from '../../layers/keras-batch-normalization.js';
import type { ActivationName } from '../../layers/types.js';
import { SeededDropout } from '../../layers/seeded-dropout.js';
import { deriveSeed } from '../../layers/seed.js';
import { withLeanSwish } from '../../layers/swish.js';
import { LayerOptionsError } from '../../layers/errors.js';

/** Options of {@link DualPoolHead}. */
export interface DualPoolHeadOptions {
  /** Units of the hidden Dense stages. Default [1024, 512]. */
  units?: number[];
  /** Dropout rate after each hidden stage (same length as `units`). Default [0.5, 0.3]. */
  dropout?: number[];
  /**
   * Activation after each hidden stage's BN, `null` for none (same length as `units`). Default
   * `['swish', null]`: the reference keeps the second stage linear (choice C8). `'swish'` is built as the
   * memory-lean `neurostagenet>Swish` (same function, see {@link LeanSwish}).
   */
  activations?: (ActivationName | null)[];
  /** L2 factor of the kernel regularizer on every hidden Dense except the first (reference: only Dense 512). Default 1e-4. */
  l2?: number;
  /** Number of classes (logit units). Default 4. */
  numClasses?: number;
  /** Seed of initializers and dropout masks (each layer derives its own). Default 0. */
  seed?: number;
}

/** The two symbolic outputs of {@link DualPoolHead.apply}. */
export interface DualPoolHeadOutputs {
  /** Pre-softmax scores, output of the Dense layer `predictions`. */
  logits: tfl.SymbolicTensor;
  /** Softmax of the logits, output of the Activation layer `predictions_softmax`. */
  probabilities: tfl.SymbolicTensor;
}

/**
 * Classification head (reference choices C7/C8), built from named standard layers:
 * `head_gap` GAP and `head_gmp` GMP → `head_concat` (GAP first); for each hidden stage i = 1, 2, …:
 * `head_dense{i}` Dense → `head_bn{i}` BN → optional `head_act{i}` → `head_drop{i}` Dropout; then
 * `predictions` Dense(numClasses) with NO activation (logits) and `predictions_softmax` softmax.
 * Keeping the softmax as its own layer leaves the logits reachable for Grad-CAM and calibration; a
 * Keras `predictions` Dense(softmax) layer's weights load into `predictions` unchanged.
 *
 * Dense kernels start as Keras' default (Glorot uniform, {@link kerasGlorotUniform}), biases at zero.
 *
 * Not a layer itself: a block builder. Call {@link DualPoolHead.apply} once on a symbolic tensor while building a
 * model; its layers join that model under the names above (Keras' names), so Keras h5 weights and saved checkpoints
 * load by name.
 */
export class DualPoolHead {
  /** Hidden stage widths. */
  readonly units: number[];
  /** Dropout rates per stage. */
  readonly dropout: number[];
  /** Activations per stage. */
  readonly activations: (ActivationName | null)[];
  /** L2 factor. */
  readonly l2: number;
  /** Number of classes. */
  readonly numClasses: number;
  /** Initializer / dropout seed. */
  readonly seed: number;

  /** @param options Head options (defaults: [1024, 512], [0.5, 0.3], ['swish', null], l2 1e-4, 4 classes). */
  constructor(options: DualPoolHeadOptions = {}) {
    this.units = options.units ?? [1024, 512];
    this.dropout = options.dropout ?? [0.5, 0.3];
    this.activations = options.activations ?? ['swish', ...Array<null>(Math.max(0, this.units.length - 1)).fill(null)];
    this.l2 = options.l2 ?? 1e-4;
    this.numClasses = options.numClasses ?? 4;
    this.seed = options.seed ?? 0;
    if (this.dropout.length !== this.units.length || this.activations.length !== this.units.length) {
      throw new LayerOptionsError(
        `DualPoolHead: units (${this.units.length}), dropout (${this.dropout.length}) and activations ` +
          `(${this.activations.length}) must have the same length`,
      );
    }
    if (!Number.isInteger(this.numClasses) || this.numClasses < 2) {
      throw new LayerOptionsError(`DualPoolHead: numClasses must be an integer >= 2, got ${this.numClasses}`);
    }
  }

  /**
   * Adds the head's layers after `x` and returns logits and probabilities.
   * @param x A rank-4 symbolic feature map [batch, H, W, C].
   */
  apply(x: tfl.SymbolicTensor): DualPoolHeadOutputs {
    const seeded = (name: string) => deriveSeed(this.seed, name);
    const gap = tfl.layers.globalAveragePooling2d({ name: 'head_gap' }).apply(x) as tfl.SymbolicTensor;
    const gmp = tfl.layers.globalMaxPooling2d({ name: 'head_gmp' }).apply(x) as tfl.SymbolicTensor;
    let y = tfl.layers.concatenate({ name: 'head_concat' }).apply([gap, gmp]) as tfl.SymbolicTensor;
    this.units.forEach((units, i) => {
      const n = i + 1;
      y = tfl.layers.dense({
        name: `head_dense${n}`, units,
        kernelInitializer: kerasGlorotUniform(seeded(`head_dense${n}/kernel`)),
        kernelRegularizer: i > 0 && this.l2 > 0 ? tfl.regularizers.l2({ l2: this.l2 }) : undefined,
      }).apply(y) as tfl.SymbolicTensor;
      y = new KerasBatchNormalization({ name: `head_bn${n}` }).apply(y) as tfl.SymbolicTensor;
      const activation = this.activations[i];
      if (activation != null) {
        y = tfl.layers.activation({ name: `head_act${n}`, activation: withLeanSwish(activation) }).apply(y) as tfl.SymbolicTensor;
      }
      y = new SeededDropout({ name: `head_drop${n}`, rate: this.dropout[i], seed: seeded(`head_drop${n}`) })
        .apply(y) as tfl.SymbolicTensor;
    });
    const logits = tfl.layers.dense({
      name: 'predictions', units: this.numClasses,
      kernelInitializer: kerasGlorotUniform(seeded('predictions/kernel')),
    }).apply(y) as tfl.SymbolicTensor;
    const probabilities = tfl.layers.activation({ name: 'predictions_softmax', activation: 'softmax' })
      .apply(logits) as tfl.SymbolicTensor;
    return { logits, probabilities };
  }
}
