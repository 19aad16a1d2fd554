import * as tfl from '@tensorflow/tfjs-layers';
import { kerasGlorotUniform } from '../../layers/initializers.js';
import { KerasBatchNormalization } from '../../layers/keras-batch-normalization.js';
import { deriveSeed } from '../../layers/seed.js';
import { withLeanSwish } from '../../layers/swish.js';
import { LayerOptionsError } from '../../layers/errors.js';
import type { ActivationName } from '../../layers/types.js';


/** Options of {@link SEResidualBlock}. */
export interface SEResidualBlockOptions {
  /** Output channels of the block. Default 256. */
  filters?: number;
  /** Squeeze ratio: the SE bottleneck has `floor(filters / seRatio)` units. Default 16. */
  seRatio?: number;
  /**
   * Activation of the SE bottleneck. Default `'swish'` (reference choice C6); `'swish'` is built as the
   * memory-lean `neurostagenet>Swish` (same function, see {@link LeanSwish}).
   */
  seActivation?: ActivationName;
  /** Name prefix of the residual layers. Default `'refine'`. */
  prefix?: string;
  /** Name prefix of the squeeze-excitation layers. Default `'se'`. */
  sePrefix?: string;
  /** Seed of the initializers (each layer derives its own). Default 0. */
  seed?: number;
}

/**
 * Residual refinement block with squeeze-excitation, built from named standard layers so that a
 * Keras model's weights load by name (reference choices C5/C6):
 *
 * `{prefix}_sepconv1` SeparableConv2D(filters, 3×3, same) → `{prefix}_bn1` BN → `{prefix}_act1` swish →
 * `{prefix}_sepconv2` SeparableConv2D → `{prefix}_bn2` BN; shortcut `{prefix}_shortcut` Conv2D 1×1
 * (only when the input channel count differs from `filters`); `{prefix}_add` → `{prefix}_act2` swish;
 * then `{se}_gap` GAP → `{se}_reduce` Dense(filters/seRatio, swish) → `{se}_expand` Dense(filters,
 * sigmoid) → `{se}_reshape` [1,1,filters] → `{se}_excite` channel-wise multiply. Swish is the memory-lean
 * `neurostagenet>Swish` activation ({@link LeanSwish}).
 *
 * Kernels start as Keras' defaults do (Glorot uniform, {@link kerasGlorotUniform}); biases at zero, BN at gamma 1,
 * beta 0.
 *
 * Not a layer itself: a block builder. Call {@link SEResidualBlock.apply} once on a symbolic tensor while building a
 * functional model; the block's layers become layers of that model under the names above, exactly as in the Keras
 * reference, so Keras h5 weights and saved checkpoints load by name. Saved models reload without it (they contain
 * only standard and registered layers).
 */
export class SEResidualBlock {
  /** Output channels. */
  readonly filters: number;
  /** Squeeze ratio. */
  readonly seRatio: number;
  /** SE bottleneck activation. */
  readonly seActivation: ActivationName;
  /** Residual layer name prefix. */
  readonly prefix: string;
  /** SE layer name prefix. */
  readonly sePrefix: string;
  /** Initializer seed. */
  readonly seed: number;

  /** @param options Block options (defaults: 256 filters, ratio 16, swish, prefixes `refine` / `se`). */
  constructor(options: SEResidualBlockOptions = {}) {
    this.filters = options.filters ?? 256;
    this.seRatio = options.seRatio ?? 16;
    this.seActivation = options.seActivation ?? 'swish';
    this.prefix = options.prefix ?? 'refine';
    this.sePrefix = options.sePrefix ?? 'se';
    this.seed = options.seed ?? 0;
    if (!Number.isInteger(this.filters) || this.filters < 1) {
      throw new LayerOptionsError(`SEResidualBlock: filters must be a positive integer, got ${this.filters}`);
    }
    if (!(this.seRatio >= 1) || Math.floor(this.filters / this.seRatio) < 1) {
      throw new LayerOptionsError(`SEResidualBlock: seRatio ${this.seRatio} leaves no SE units for ${this.filters} filters`);
    }
  }

  /**
   * Adds the block's layers after `x` and returns the block's output.
   * @param x A rank-4 symbolic tensor [batch, H, W, C].
   */
  apply(x: tfl.SymbolicTensor): tfl.SymbolicTensor {
    const p = this.prefix;
    const s = this.sePrefix;
    const seeded = (name: string) => deriveSeed(this.seed, name);
    const sepconv = (name: string, input: tfl.SymbolicTensor) =>
      tfl.layers.separableConv2d({
        name, filters: this.filters, kernelSize: 3, padding: 'same', useBias: true,
        depthwiseInitializer: kerasGlorotUniform(seeded(`${name}/depthwise_kernel`)),
        pointwiseInitializer: kerasGlorotUniform(seeded(`${name}/pointwise_kernel`)),
      }).apply(input) as tfl.SymbolicTensor;
    const bn = (name: string, input: tfl.SymbolicTensor) =>
      new KerasBatchNormalization({ name }).apply(input) as tfl.SymbolicTensor;
    const act = (name: string, activation: ActivationName, input: tfl.SymbolicTensor) =>
      tfl.layers.activation({ name, activation: withLeanSwish(activation) }).apply(input) as tfl.SymbolicTensor;

    let y = sepconv(`${p}_sepconv1`, x);
    y = bn(`${p}_bn1`, y);
    y = act(`${p}_act1`, 'swish', y);
    y = sepconv(`${p}_sepconv2`, y);
    y = bn(`${p}_bn2`, y);
    let shortcut = x;
    if (x.shape[x.shape.length - 1] !== this.filters) {
      shortcut = tfl.layers.conv2d({
        name: `${p}_shortcut`, filters: this.filters, kernelSize: 1, padding: 'valid', useBias: true,
        kernelInitializer: kerasGlorotUniform(seeded(`${p}_shortcut/kernel`)),
      }).apply(x) as tfl.SymbolicTensor;
    }
    y = tfl.layers.add({ name: `${p}_add` }).apply([y, shortcut]) as tfl.SymbolicTensor;
    y = act(`${p}_act2`, 'swish', y);

    let se = tfl.layers.globalAveragePooling2d({ name: `${s}_gap` }).apply(y) as tfl.SymbolicTensor;
    se = tfl.layers.dense({
      name: `${s}_reduce`, units: Math.floor(this.filters / this.seRatio), activation: withLeanSwish(this.seActivation),
      kernelInitializer: kerasGlorotUniform(seeded(`${s}_reduce/kernel`)),
    }).apply(se) as tfl.SymbolicTensor;
    se = tfl.layers.dense({
      name: `${s}_expand`, units: this.filters, activation: 'sigmoid',
      kernelInitializer: kerasGlorotUniform(seeded(`${s}_expand/kernel`)),
    }).apply(se) as tfl.SymbolicTensor;
    se = tfl.layers.reshape({ name: `${s}_reshape`, targetShape: [1, 1, this.filters] }).apply(se) as tfl.SymbolicTensor;
    return tfl.layers.multiply({ name: `${s}_excite` }).apply([y, se]) as tfl.SymbolicTensor;
  }
}
