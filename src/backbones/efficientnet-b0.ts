import * as tfl from '@tensorflow/tfjs-layers';
import { KerasBatchNormalization } from '../layers/keras-batch-normalization.js';
import { KerasNormalization } from '../layers/keras-normalization.js';
import { KerasRescaling } from '../layers/keras-rescaling.js';
import { SeededDropout } from '../layers/seeded-dropout.js';
import { deriveSeed } from '../layers/seed.js';
import { leanSwishActivation } from '../layers/swish.js';
import { efficientNetConvInitializer } from '../layers/initializers.js';
import { KerasFunctional, kerasModel } from '../layers/freezing.js';

/** ImageNet per-channel mean (RGB), as stored in Keras' EfficientNet `normalization` layer. */
export const IMAGENET_MEAN_RGB = [0.485, 0.456, 0.406] as const;
/**
 * ImageNet per-channel standard deviation (RGB). Keras' EfficientNet weight files store these in the
 * Normalization layer's *variance* slot, hence the extra `rescaling_1` by 1/sqrt(std) in the graph
 * Keras builds for `weights='imagenet'`.
 */
export const IMAGENET_STD_RGB = [0.229, 0.224, 0.225] as const;

/** Options of {@link buildEfficientNetB0}. */
export interface EfficientNetB0Options {
  /** Input [height, width, 3]; pixel values 0..255 (the model rescales and normalizes). Default [128, 128, 3]. */
  inputShape?: [number, number, number];
  /**
   * Build the graph Keras builds for `weights='imagenet'` (238 layers, with the weightless per-channel
   * `rescaling_1` after `normalization`) instead of the `weights=None` graph (237 layers). Use `true`
   * with Keras' official `efficientnetb0_notop.h5`, `false` to match a model trained with
   * `weights=None` (such as the golden NeuroStageNet). Default true.
   */
  imagenetLayout?: boolean;
  /** Seed of all initializers and stochastic-depth masks. Default 0. */
  seed?: number;
  /** Model name. Default `'efficientnetb0'`. */
  name?: string;
}

/** One stage of EfficientNetB0 (Keras' DEFAULT_BLOCKS_ARGS at width/depth coefficient 1). */
interface StageArgs {
  kernelSize: number;
  repeats: number;
  filtersIn: number;
  filtersOut: number;
  expandRatio: number;
  strides: number;
}

const B0_STAGES: readonly StageArgs[] = [
  { kernelSize: 3, repeats: 1, filtersIn: 32, filtersOut: 16, expandRatio: 1, strides: 1 },
  { kernelSize: 3, repeats: 2, filtersIn: 16, filtersOut: 24, expandRatio: 6, strides: 2 },
  { kernelSize: 5, repeats: 2, filtersIn: 24, filtersOut: 40, expandRatio: 6, strides: 2 },
  { kernelSize: 3, repeats: 3, filtersIn: 40, filtersOut: 80, expandRatio: 6, strides: 2 },
  { kernelSize: 5, repeats: 3, filtersIn: 80, filtersOut: 112, expandRatio: 6, strides: 1 },
  { kernelSize: 5, repeats: 4, filtersIn: 112, filtersOut: 192, expandRatio: 6, strides: 2 },
  { kernelSize: 3, repeats: 1, filtersIn: 192, filtersOut: 320, expandRatio: 6, strides: 1 },
];
const SE_RATIO = 0.25;
const DROP_CONNECT_RATE = 0.2;

/** The layer count of the model {@link buildEfficientNetB0} returns, per layout. */
export const EFFICIENTNETB0_LAYER_COUNT = {
  /** Layers of the graph Keras builds for `weights='imagenet'` (with the extra `rescaling_1`). */
  imagenet: 238,
  /** Layers of the graph Keras builds for `weights=None`. */
  weightsNone: 237,
} as const;

/**
 * Keras `imagenet_utils.correct_pad`: the asymmetric zero padding TensorFlow's 'same' would apply
 * before a stride-2 convolution, ((top, bottom), (left, right)). For an even size and kernel 3 this
 * is ((0, 1), (0, 1)); kernel 5 gives ((1, 2), (1, 2)).
 */
export function kerasCorrectPad(
  spatial: [number | null, number | null],
  kernelSize: number,
): [[number, number], [number, number]] {
  const adjust = spatial.map((d) => (d == null ? 1 : 1 - (d % 2)));
  const correct = Math.floor(kernelSize / 2);
  return [
    [correct - adjust[0], correct],
    [correct - adjust[1], correct],
  ];
}

/**
 * Builds `keras.applications.EfficientNetB0(include_top=False)` layer for layer as a tfjs
 * `LayersModel` named `efficientnetb0`: the same layer names, order and count, the built-in
 * preprocessing (`rescaling` 1/255, `normalization` with the ImageNet mean and std-as-variance, and with
 * `imagenetLayout` the extra `rescaling_1`), `*_pad` ZeroPadding2D layers with Keras' asymmetric padding
 * before every stride-2 convolution, squeeze-excitation, stochastic-depth dropout (`block*_drop`, rate
 * 0.2·b/16, one decision per sample), BN epsilon 1e-3 (Keras-semantics {@link KerasBatchNormalization})
 * and swish (the memory-lean `neurostagenet>Swish` activation, see {@link LeanSwish}).
 * Output: [batch, H/32, W/32, 1280] (`top_activation`).
 *
 * Weights are freshly initialized as Keras initializes them (seeded): every convolution kernel from Keras'
 * `CONV_KERNEL_INITIALIZER` ({@link efficientNetConvInitializer}: truncated normal, fan out, scale 2, with Keras'
 * truncation correction), biases at zero, BN at gamma 1 / beta 0 / mean 0 / variance 1. Load trained ones with
 * `loadKerasWeights`. Input pixels are 0..255, RGB.
 *
 * The model is a {@link KerasFunctional}: `backbone.trainable = false` freezes every layer inside (BN in inference
 * mode), as in Keras.
 */
export function buildEfficientNetB0(options: EfficientNetB0Options = {}): KerasFunctional {
  const inputShape = options.inputShape ?? [128, 128, 3];
  const imagenetLayout = options.imagenetLayout ?? true;
  const seed = options.seed ?? 0;
  const seeded = (name: string) => deriveSeed(seed, name);
  // Keras CONV_KERNEL_INITIALIZER: VarianceScaling(2.0, fan_out, truncated normal), with Keras' truncation
  // correction (tfjs' own VarianceScaling 'normal' would start every kernel about 12% narrower).
  const convInit = (name: string) => efficientNetConvInitializer(seeded(name));
  const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) =>
    layer.apply(x) as tfl.SymbolicTensor;
  const bn = (name: string, x: tfl.SymbolicTensor) => apply(new KerasBatchNormalization({ name, epsilon: 1e-3 }), x);
  // Swish as the registered memory-lean activation (same values; keeps only x for backprop).
  const act = (name: string, x: tfl.SymbolicTensor) => apply(tfl.layers.activation({ name, activation: leanSwishActivation() }), x);
  const pad = (name: string, x: tfl.SymbolicTensor, kernelSize: number) =>
    apply(
      tfl.layers.zeroPadding2d({
        name,
        padding: kerasCorrectPad([x.shape[1], x.shape[2]], kernelSize),
      }),
      x,
    );

  const input = tfl.input({ shape: inputShape, name: 'input_layer' });
  let x = apply(new KerasRescaling({ name: 'rescaling', scale: 1 / 255 }), input);
  // As in Keras: the imagenet graph's Normalization holds the ImageNet mean and (Keras' quirk) the std in its
  // variance slot, corrected by rescaling_1; the weights=None graph's is not adapted (identity) until weights load.
  x = apply(
    new KerasNormalization(
      imagenetLayout
        ? { name: 'normalization', mean: [...IMAGENET_MEAN_RGB], variance: [...IMAGENET_STD_RGB] }
        : { name: 'normalization' },
    ),
    x,
  );
  if (imagenetLayout) {
    x = apply(new KerasRescaling({ name: 'rescaling_1', scale: IMAGENET_STD_RGB.map((s) => 1 / Math.sqrt(s)) }), x);
  }
  x = pad('stem_conv_pad', x, 3);
  x = apply(
    tfl.layers.conv2d({
      name: 'stem_conv', filters: 32, kernelSize: 3, strides: 2, padding: 'valid', useBias: false,
      kernelInitializer: convInit('stem_conv/kernel'),
    }),
    x,
  );
  x = bn('stem_bn', x);
  x = act('stem_activation', x);

  const totalBlocks = B0_STAGES.reduce((n, s) => n + s.repeats, 0);
  let blockIndex = 0;
  B0_STAGES.forEach((stage, i) => {
    for (let j = 0; j < stage.repeats; j++) {
      const prefix = `block${i + 1}${String.fromCharCode(97 + j)}_`;
      const filtersIn = j === 0 ? stage.filtersIn : stage.filtersOut;
      const strides = j === 0 ? stage.strides : 1;
      const dropRate = (DROP_CONNECT_RATE * blockIndex) / totalBlocks;
      x = mbConvBlock(x, { prefix, filtersIn, filtersOut: stage.filtersOut, kernelSize: stage.kernelSize,
        strides, expandRatio: stage.expandRatio, dropRate });
      blockIndex += 1;
    }
  });

  x = apply(
    tfl.layers.conv2d({
      name: 'top_conv', filters: 1280, kernelSize: 1, padding: 'same', useBias: false,
      kernelInitializer: convInit('top_conv/kernel'),
    }),
    x,
  );
  x = bn('top_bn', x);
  x = act('top_activation', x);
  return kerasModel({ inputs: input, outputs: x, name: options.name ?? 'efficientnetb0' });

  /** Keras' `block()`: expand → depthwise → SE → project (+ stochastic depth and skip). */
  function mbConvBlock(
    inputs: tfl.SymbolicTensor,
    a: { prefix: string; filtersIn: number; filtersOut: number; kernelSize: number; strides: number;
      expandRatio: number; dropRate: number },
  ): tfl.SymbolicTensor {
    const p = a.prefix;
    const filters = a.filtersIn * a.expandRatio;
    let y = inputs;
    if (a.expandRatio !== 1) {
      y = apply(
        tfl.layers.conv2d({
          name: `${p}expand_conv`, filters, kernelSize: 1, padding: 'same', useBias: false,
          kernelInitializer: convInit(`${p}expand_conv/kernel`),
        }),
        y,
      );
      y = bn(`${p}expand_bn`, y);
      y = act(`${p}expand_activation`, y);
    }
    let convPad: 'same' | 'valid' = 'same';
    if (a.strides === 2) {
      y = pad(`${p}dwconv_pad`, y, a.kernelSize);
      convPad = 'valid';
    }
    y = apply(
      tfl.layers.depthwiseConv2d({
        name: `${p}dwconv`, kernelSize: a.kernelSize, strides: a.strides, padding: convPad, useBias: false,
        depthwiseInitializer: convInit(`${p}dwconv/depthwise_kernel`),
      }),
      y,
    );
    y = bn(`${p}bn`, y);
    y = act(`${p}activation`, y);

    const filtersSe = Math.max(1, Math.floor(a.filtersIn * SE_RATIO));
    let se = apply(tfl.layers.globalAveragePooling2d({ name: `${p}se_squeeze` }), y);
    se = apply(tfl.layers.reshape({ name: `${p}se_reshape`, targetShape: [1, 1, filters] }), se);
    se = apply(
      tfl.layers.conv2d({
        name: `${p}se_reduce`, filters: filtersSe, kernelSize: 1, padding: 'same', activation: leanSwishActivation(),
        kernelInitializer: convInit(`${p}se_reduce/kernel`),
      }),
      se,
    );
    se = apply(
      tfl.layers.conv2d({
        name: `${p}se_expand`, filters, kernelSize: 1, padding: 'same', activation: 'sigmoid',
        kernelInitializer: convInit(`${p}se_expand/kernel`),
      }),
      se,
    );
    y = apply(tfl.layers.multiply({ name: `${p}se_excite` }), [y, se]);

    y = apply(
      tfl.layers.conv2d({
        name: `${p}project_conv`, filters: a.filtersOut, kernelSize: 1, padding: 'same', useBias: false,
        kernelInitializer: convInit(`${p}project_conv/kernel`),
      }),
      y,
    );
    y = bn(`${p}project_bn`, y);
    if (a.strides === 1 && a.filtersIn === a.filtersOut) {
      if (a.dropRate > 0) {
        y = apply(
          new SeededDropout({ name: `${p}drop`, rate: a.dropRate, noiseShape: [null, 1, 1, 1], seed: seeded(`${p}drop`) }),
          y,
        );
      }
      y = apply(tfl.layers.add({ name: `${p}add` }), [y, inputs]);
    }
    return y;
  }
}
