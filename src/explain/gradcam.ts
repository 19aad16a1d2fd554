import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ExplainError } from './errors.js';
import { GraphPlan, disposeCache, layerOutputsOnPath, resolveLayerPath, type ForwardCache } from './graph.js';
import { probabilitiesFromLogits, resolveLogits, type LogitSpec } from './logits.js';
import { argmaxRow } from '../metrics/inputs.js';
import { attachedInputCheck, checkInputs, type InputVerdict } from '../models/input-check.js';
import { allLayers, holdUnfusedConvolutions } from '../layers/freezing.js';
import { withTrainingGradients } from '../backends/training-gradients.js';

/**
 * Class-activation-map method: Grad-CAM (Selvaraju et al. 2017), Grad-CAM++ (Chattopadhyay et al. 2018),
 * HiResCAM (Draelos & Carin 2020) or LayerCAM (Jiang et al. 2021). See {@link gradCamMap},
 * {@link gradCamPlusPlusMap}, {@link hiResCamMap} and {@link layerCamMap}.
 */
export type CamMethod = 'gradcam' | 'gradcam++' | 'hirescam' | 'layercam';

/** Every {@link CamMethod}, in the order the docs list them. */
export const CAM_METHODS: readonly CamMethod[] = ['gradcam', 'gradcam++', 'hirescam', 'layercam'];

/**
 * The method {@link GradCAM} uses when none is given: LayerCAM, chosen by the measurements in docs/explain.md
 * (fewest flat maps and most heat inside the head on the shipped model's test slices).
 */
export const DEFAULT_CAM_METHOD: CamMethod = 'layercam';

/** Options of {@link GradCAM}. */
export interface GradCAMOptions {
  /**
   * Layer whose feature map is explained: a layer of the model (`'se_excite'`), a path into a nested model
   * (`'efficientnetb0/top_activation'`), or the bare name of a layer that exists once inside a nested model
   * (`'top_activation'`). Default: {@link defaultTargetLayer}.
   */
  layerName?: string;
  /** `'gradcam'`, `'gradcam++'`, `'hirescam'` or `'layercam'` (default {@link DEFAULT_CAM_METHOD}). */
  method?: CamMethod;
}

/** Options of {@link GradCAM.explain}. */
export interface ExplainOptions {
  /**
   * Class to explain: one index for the whole batch, one index per image, or `'predicted'` (default: each
   * image's arg-max class).
   */
  classIndex?: number | number[] | 'predicted';
  /**
   * Explain images the model's input check refuses too (default false: a refused image gets an all-zero heatmap
   * with `status: 'refused'` and its verdict in `inputCheck`). Only a model carrying a check (loaded with one by
   * `loadPretrainedNeuroStageNet`) refuses anything.
   */
  allowUnchecked?: boolean;
}

/**
 * How a heatmap came out: `'ok'`; `'flat'` when the class-weighted map has (almost) no spatial contrast, so
 * it is returned as all zeros; `'non-finite'` when the gradients or activations contained NaN/Infinity
 * (the heatmap is then all zeros too); `'refused'` when the model's input check refused the image (all zeros: a
 * map of an image the model was not made for explains nothing).
 */
export type MapStatus = 'ok' | 'flat' | 'non-finite' | 'refused';

/** Result of {@link normaliseHeatmap}. */
export interface NormalisedHeatmap {
  /** The map in [0, 1] (all zeros when flat or non-finite). */
  heatmap: Float32Array;
  /** Whether the map is usable, flat or non-finite. */
  status: MapStatus;
}

/** A map at the target layer's own resolution. */
export interface RawMap {
  /** Row-major `height * width` values. */
  data: Float32Array;
  /** Width of the feature map. */
  width: number;
  /** Height of the feature map. */
  height: number;
}

/** One image's explanation. Plain arrays only: nothing to dispose. */
export interface Explanation {
  /**
   * Heatmap at the input size, row-major (`height * width`), in [0, 1]: the class-weighted feature map
   * upsampled bilinearly (half-pixel centres), ReLU, then min–max normalised. A flat map is all zeros;
   * never NaN.
   */
  heatmap: Float32Array;
  /** Input width (pixels). */
  width: number;
  /** Input height (pixels). */
  height: number;
  /** The class that was explained. */
  classIndex: number;
  /** The model's arg-max class for this image. */
  predictedClass: number;
  /** Class probabilities (the model's output). */
  probabilities: Float32Array;
  /** Class logits (the differentiated scores; see {@link GradCAM.logitSource}). */
  logits: Float32Array;
  /** `Σ_k w_k A_k` at the feature map's resolution, before ReLU, upsampling and normalisation. */
  rawMap: RawMap;
  /** Whether the map is meaningful; see {@link MapStatus}. */
  status: MapStatus;
  /** The input check's verdict on the image, when the model carries a check (see `checkInputs`). */
  inputCheck?: InputVerdict;
}

/** Relative contrast below which a map counts as flat (float32 round-off of a constant map is ~1e-7). */
const FLAT_RELATIVE_RANGE = 1e-5;

/** Output stride the default target layer aims at: its map is at least `ceil(H / 8) x ceil(W / 8)`. */
export const DEFAULT_TARGET_STRIDE = 8;

/**
 * The layer Grad-CAM uses when none is given (resolution-aware): the last layer feeding the logits whose
 * output is 4-D with a spatial size of at least `ceil(H / 8) x ceil(W / 8)` of the `H x W` input (and more
 * than one pixel), zero-padding layers excluded. Layers are searched from the outer model's last layer
 * backwards (in `model.layers` order, input layers excluded); a nested model whose output is too small is
 * searched inside, from its last layer backwards.
 *
 * Why stride 8: NeuroStageNet's last maps (`'se_excite'`, EfficientNetB0's `'top_activation'`) have stride
 * 32, i.e. 2x2 at its 64x64 input and 4x4 at 128x128: each cell covers a quarter of the slice, so the heat
 * spreads over the background as much as over the brain (48–50% of the mass inside the head on the test
 * slices, about the head's share of the image). Stride-16 maps (4x4 at 64 px) reach 58–63%, stride-8 maps
 * (8x8 at 64 px, 16x16 at 128 px) 57–78%; docs/explain.md has the table. For the shipped 64 px model the
 * rule gives `'efficientnetb0/block4a_expand_activation'` (`[8, 8, 240]`), the last 8x8 map (the 1x1
 * expansion of `block3b_add`, read by the stride-2 depthwise convolution of block 4a).
 * A model whose input size is unknown keeps the old rule (the last spatial layer).
 *
 * @param model A single-output classifier.
 * @param stride Largest output stride accepted (default {@link DEFAULT_TARGET_STRIDE}); `Infinity` gives
 *   the last spatial layer, whatever its size.
 * @returns A layer path usable as {@link GradCAMOptions.layerName}.
 * @throws {@link ExplainError} when no layer qualifies.
 */
export function defaultTargetLayer(model: tfl.LayersModel, stride: number = DEFAULT_TARGET_STRIDE): string {
  if (!(stride >= 1)) throw new ExplainError(`defaultTargetLayer: stride is ${stride}; it must be >= 1.`);
  const spec = resolveLogits(model);
  // Only layers that feed the logits count (not e.g. a side output).
  const onPath = new Set(new GraphPlan(model, [spec.tensor], []).outerLayers());
  const inShape = model.inputs[0]?.shape ?? [];
  const [inH, inW] = [inShape[1], inShape[2]];
  const minH = inH == null || !Number.isFinite(stride) ? 1 : Math.ceil(inH / stride);
  const minW = inW == null || !Number.isFinite(stride) ? 1 : Math.ceil(inW / stride);
  const found = lastSpatialLayer(model, onPath, minH, minW);
  if (found == null) {
    throw new ExplainError(
      `Model '${model.name}' has no layer with a 4-D output of spatial size > 1 (and at least ${minH}x${minW}) feeding its logits.`,
    );
  }
  return found.map((l) => l.name).join('/');
}

function isSpatial(shape: readonly (number | null)[], minH: number, minW: number): boolean {
  if (shape.length !== 4) return false;
  const [, h, w] = shape;
  if (h == null || w == null) return true;
  return h * w > 1 && h >= minH && w >= minW;
}

function lastSpatialLayer(container: tfl.LayersModel, onPath: Set<tfl.layers.Layer> | null, minH: number, minW: number): tfl.layers.Layer[] | null {
  const outputs = layerOutputsOnPath(container);
  for (let i = container.layers.length - 1; i >= 0; i--) {
    const layer = container.layers[i];
    const outs = outputs.get(layer);
    if (outs == null || (onPath != null && !onPath.has(layer))) continue;
    if (layer instanceof tfl.LayersModel) {
      if (outs.length === 1 && isSpatial(outs[0].shape, minH, minW)) return [layer];
      const inner = lastSpatialLayer(layer, null, minH, minW);
      if (inner != null) return [layer, ...inner];
      continue;
    }
    if (layer.getClassName() === 'ZeroPadding2D') continue;
    if (outs.length === 1 && isSpatial(outs[0].shape, minH, minW)) return [layer];
  }
  return null;
}

/**
 * Grad-CAM / Grad-CAM++ on a tfjs-layers classifier, including layers inside nested models.
 *
 * The model is split at the target layer into a feature part and a head part that run the model's own
 * layers (shared weights, inference mode: no dropout, BatchNorm with moving statistics). The class score
 * differentiated is the **logit** (see {@link GradCAM.logitSource}). A whole batch takes one forward pass
 * and one backward pass, whatever the mix of target classes.
 *
 * @example
 * ```ts
 * const cam = new GradCAM(model, { layerName: 'efficientnetb0/top_activation' });
 * const [e] = await cam.explain(images, { classIndex: 'predicted' });
 * const rgba = overlayHeatmap(grayPixels, e.heatmap, { colormap: 'jet' });
 * ```
 */
export class GradCAM {
  /** The resolved target layer path (e.g. `'se_excite'` or `'efficientnetb0/top_activation'`). */
  readonly layerName: string;
  /** The method in use. */
  readonly method: CamMethod;
  /** Which tensor is differentiated as "the logit", e.g. `"input of the final Activation layer 'softmax'"`. */
  readonly logitSource: string;
  /** Static `[height, width, channels]` of the target feature map (`null` where unknown). */
  readonly featureShape: readonly (number | null)[];
  /** Number of classes. */
  readonly numClasses: number;

  private readonly plan: GraphPlan;
  private readonly spec: LogitSpec;

  /**
   * @param model A single-input, single-output classifier taking `[N, H, W, C]` images.
   * @param options Target layer and method.
   * @throws {@link ExplainError} for an unknown, shared, non-4-D or disconnected layer, or an unsupported model.
   */
  constructor(
    readonly model: tfl.LayersModel,
    options: GradCAMOptions = {},
  ) {
    const method = options.method ?? DEFAULT_CAM_METHOD;
    if (!CAM_METHODS.includes(method)) {
      throw new ExplainError(`Unknown Grad-CAM method '${String(method)}'; use one of ${CAM_METHODS.map((m) => `'${m}'`).join(', ')}.`);
    }
    this.method = method;
    this.spec = resolveLogits(model);
    this.logitSource = this.spec.description;
    const name = options.layerName ?? defaultTargetLayer(model);
    const chain = resolveLayerPath(model, name);
    this.layerName = chain.map((l) => l.name).join('/');
    this.plan = new GraphPlan(model, [this.spec.tensor], chain);
    const shape = this.plan.targetShape();
    if (shape == null || shape.length !== 4) {
      throw new ExplainError(
        `Layer '${this.layerName}' outputs shape [${shape?.map(String).join(', ') ?? '?'}]; Grad-CAM needs a 4-D feature map [batch, height, width, channels].`,
      );
    }
    this.featureShape = shape.slice(1);
    const classes = model.outputs[0].shape[1];
    if (classes == null || classes < 1) throw new ExplainError(`Model '${model.name}' has an unknown number of classes.`);
    this.numClasses = classes;
  }

  /**
   * Explains a batch.
   *
   * @param images `[N, H, W, C]` (or one `[H, W, C]` image) in the model's input units (NeuroStageNet:
   *   grayscale 0..255). Not disposed.
   * @param options Which class to explain per image.
   * @returns One {@link Explanation} per image, in batch order.
   * @throws {@link ExplainError} for a wrong image shape or class index.
   */
  async explain(images: tf.Tensor4D | tf.Tensor3D, options: ExplainOptions = {}): Promise<Explanation[]> {
    const x = this.checkImages(images);
    const n = x.shape[0];
    const [height, width] = [x.shape[1], x.shape[2]];
    let target: tf.Tensor | null = null;
    let cache: ForwardCache | null = null;
    let logits: tf.Tensor | null = null;
    let probs: tf.Tensor | null = null;
    try {
      [logits, probs] = tf.tidy(() => {
        const r = this.plan.forward(x);
        target = r.target;
        cache = r.cache;
        // Keep what the backward pass needs beyond this tidy (never the caller's own tensor).
        if (target != null && target !== x) tf.keep(target);
        for (const m of r.cache.scopes.values()) for (const v of m.values()) if (v !== x) tf.keep(v);
        const z = this.spec.toLogits(r.fetches[0]);
        return [z, probabilitiesFromLogits(z, this.spec.activation)];
      });
      const logitData = (await logits.data()) as Float32Array;
      const probData = (await probs.data()) as Float32Array;
      const k = this.numClasses;
      const predicted = Array.from({ length: n }, (_, i) => argmaxRow(probData, i * k, k));
      const classes = this.resolveClasses(options.classIndex, n, predicted);

      const a = target as tf.Tensor | null;
      const c = cache as ForwardCache | null;
      if (a == null || c == null) throw new ExplainError('Internal: the forward pass produced no feature map.');
      // No weight gets a gradient here: convolutions run unfused (no filter gradients) and Mean/Sum/BN take the
      // cheaper gradients the trainer uses; both only for this synchronous block.
      const releaseConvolutions = holdUnfusedConvolutions(allLayers(this.model));
      let raw: tf.Tensor;
      let up: tf.Tensor;
      try {
        [raw, up] = withTrainingGradients(() => tf.tidy(() => {
          const oneHot = tf.oneHot(tf.tensor1d(classes, 'int32'), k);
          // Σ_i logit_i[c_i]: images are independent in inference mode, so its gradient holds each image's own
          // ∂logit/∂A — one backward pass for the whole batch, whatever the classes.
          const score = (fm: tf.Tensor): tf.Scalar => tf.sum(tf.mul(this.spec.toLogits(this.plan.head(fm, c)[0]), oneHot));
          const grads = tf.grad(score)(a);
          const map = camMap(this.method, a, grads);
          const upsampled = tf.relu(tf.image.resizeBilinear(tf.expandDims(map, -1) as tf.Tensor4D, [height, width], false, true));
          return [map, upsampled];
        }));
      } finally {
        releaseConvolutions();
      }
      const rawData = (await raw.data()) as Float32Array;
      const upData = (await up.data()) as Float32Array;
      const [fh, fw] = [raw.shape[1] as number, raw.shape[2] as number];
      raw.dispose();
      up.dispose();

      const check = options.allowUnchecked ? undefined : attachedInputCheck(this.model);
      const verdicts = check ? await checkInputs({ model: this.model, inputCheck: check }, x) : undefined;
      const out: Explanation[] = [];
      const hw = height * width;
      for (let i = 0; i < n; i++) {
        const rawMap = rawData.slice(i * fh * fw, (i + 1) * fh * fw);
        const normalised = normaliseHeatmap(upData.subarray(i * hw, (i + 1) * hw), rawMap);
        const refused = verdicts !== undefined && !verdicts[i].accepted;
        const heatmap = refused ? new Float32Array(hw) : normalised.heatmap;
        const status: MapStatus = refused ? 'refused' : normalised.status;
        out.push({
          heatmap,
          width,
          height,
          classIndex: classes[i],
          predictedClass: predicted[i],
          probabilities: probData.slice(i * k, (i + 1) * k),
          logits: logitData.slice(i * k, (i + 1) * k),
          rawMap: { data: rawMap, width: fw, height: fh },
          status,
          ...(verdicts ? { inputCheck: verdicts[i] } : {}),
        });
      }
      return out;
    } finally {
      const a = target as tf.Tensor | null;
      if (a != null && a !== x && !a.isDisposed) a.dispose();
      if (cache != null) disposeCache(cache);
      logits?.dispose();
      probs?.dispose();
      if (x !== images) x.dispose();
    }
  }

  private checkImages(images: tf.Tensor4D | tf.Tensor3D): tf.Tensor4D {
    if (images == null || !(images instanceof tf.Tensor)) {
      throw new ExplainError('explain() needs a tf.Tensor of images, [N, H, W, C] or [H, W, C].');
    }
    if (images.rank !== 3 && images.rank !== 4) {
      throw new ExplainError(`explain() got images of shape [${images.shape.join(', ')}]; expected [N, H, W, C] or [H, W, C].`);
    }
    const expected = this.model.inputs[0].shape;
    const shape = images.rank === 3 ? [1, ...images.shape] : images.shape;
    for (let d = 1; d < 4; d++) {
      const e = expected[d];
      if (e != null && e !== shape[d]) {
        throw new ExplainError(
          `explain() got images of shape [${images.shape.join(', ')}]; model '${this.model.name}' expects [N, ${expected
            .slice(1)
            .map((v) => (v == null ? '?' : String(v)))
            .join(', ')}].`,
        );
      }
    }
    if (shape[0] === 0) throw new ExplainError('explain() got an empty batch.');
    return images.rank === 3 ? (tf.expandDims(images, 0) as tf.Tensor4D) : (images as tf.Tensor4D);
  }

  private resolveClasses(classIndex: ExplainOptions['classIndex'], n: number, predicted: number[]): number[] {
    const k = this.numClasses;
    const check = (c: number, where: string): number => {
      if (!Number.isInteger(c) || c < 0 || c >= k) {
        throw new ExplainError(`classIndex ${where}is ${String(c)}; it must be an integer in [0, ${k - 1}].`);
      }
      return c;
    };
    if (classIndex == null || classIndex === 'predicted') return predicted;
    if (typeof classIndex === 'number') return new Array<number>(n).fill(check(classIndex, ''));
    if (Array.isArray(classIndex)) {
      if (classIndex.length !== n) {
        throw new ExplainError(`classIndex has ${classIndex.length} entries for a batch of ${n} images.`);
      }
      return classIndex.map((c, i) => check(c, `[${i}] `));
    }
    throw new ExplainError(`classIndex must be a number, an array of numbers or 'predicted', got ${String(classIndex)}.`);
  }
}

/**
 * Grad-CAM (Selvaraju et al. 2017): α_k = mean_ij ∂y/∂A_ij^k, map = Σ_k α_k A^k. Returns `[N, h, w]`.
 */
export function gradCamMap(activations: tf.Tensor, grads: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const weights = tf.mean(grads, [1, 2], true);
    return tf.sum(tf.mul(activations, weights), -1) as tf.Tensor3D;
  });
}

/**
 * Grad-CAM++ (Chattopadhyay et al. 2018, "Grad-CAM++: Improved Visual Explanations for Deep Convolutional
 * Networks", WACV, eq. 19 with the exponential score Y = exp(S)): with g = ∂S/∂A (S the logit),
 *
 *   α_ij^k = g_ij² / (2 g_ij² + Σ_ab A_ab^k · g_ij³),   w_k = Σ_ij α_ij^k · ReLU(g_ij),   map = Σ_k w_k A^k.
 *
 * (The exp(S) factor of ∂Y/∂A is the same for every k and cancels in the normalised map.) Where the
 * denominator is 0 (then g = 0 too, or A sums to a value that cancels it), α is set to 0.
 * Returns `[N, h, w]`.
 */
export function gradCamPlusPlusMap(activations: tf.Tensor, grads: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const g2 = tf.square(grads);
    const g3 = tf.mul(g2, grads);
    const sumA = tf.sum(activations, [1, 2], true);
    const denom = tf.add(tf.mul(g2, 2), tf.mul(sumA, g3));
    const zero = tf.equal(denom, 0);
    const alpha = tf.where(zero, tf.zerosLike(denom), tf.div(g2, tf.where(zero, tf.onesLike(denom), denom)));
    const weights = tf.sum(tf.mul(alpha, tf.relu(grads)), [1, 2], true);
    return tf.sum(tf.mul(activations, weights), -1) as tf.Tensor3D;
  });
}

/**
 * HiResCAM (Draelos & Carin 2020, "Use HiResCAM instead of Grad-CAM for faithful explanations of
 * convolutional neural networks"): the element-wise product of gradient and activation summed over channels,
 * map_ij = Σ_k ∂S/∂A_ij^k · A_ij^k (the ReLU follows after upsampling, as for every method). Unlike Grad-CAM
 * it keeps the gradient's spatial pattern instead of averaging it per channel. Returns `[N, h, w]`.
 */
export function hiResCamMap(activations: tf.Tensor, grads: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => tf.sum(tf.mul(activations, grads), -1) as tf.Tensor3D);
}

/**
 * LayerCAM (Jiang et al. 2021, "LayerCAM: Exploring Hierarchical Class Activation Maps for Localization",
 * IEEE TIP): map_ij = Σ_k ReLU(∂S/∂A_ij^k) · A_ij^k (the outer ReLU follows after upsampling). Only
 * locations whose gradient raises the score count, which keeps maps of early, high-resolution layers
 * clean. Returns `[N, h, w]`.
 */
export function layerCamMap(activations: tf.Tensor, grads: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => tf.sum(tf.mul(activations, tf.relu(grads)), -1) as tf.Tensor3D);
}

function camMap(method: CamMethod, activations: tf.Tensor, grads: tf.Tensor): tf.Tensor3D {
  switch (method) {
    case 'gradcam':
      return gradCamMap(activations, grads);
    case 'gradcam++':
      return gradCamPlusPlusMap(activations, grads);
    case 'hirescam':
      return hiResCamMap(activations, grads);
    case 'layercam':
      return layerCamMap(activations, grads);
  }
}

/**
 * Min–max normalises an upsampled, ReLU'd map to [0, 1]; all zeros when flat or non-finite.
 */
export function normaliseHeatmap(
  upsampled: Float32Array,
  raw?: Float32Array,
): NormalisedHeatmap {
  const heatmap = new Float32Array(upsampled.length);
  let min = Infinity;
  let max = -Infinity;
  let finite = true;
  for (let i = 0; i < upsampled.length; i++) {
    const v = upsampled[i];
    if (!Number.isFinite(v)) {
      finite = false;
      break;
    }
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (finite && raw != null) for (let i = 0; i < raw.length; i++) if (!Number.isFinite(raw[i])) finite = false;
  if (!finite) return { heatmap, status: 'non-finite' };
  const range = max - min;
  const scale = Math.max(Math.abs(max), Math.abs(min));
  if (!(range > FLAT_RELATIVE_RANGE * scale) || range === 0) return { heatmap, status: 'flat' };
  for (let i = 0; i < upsampled.length; i++) heatmap[i] = (upsampled[i] - min) / range;
  return { heatmap, status: 'ok' };
}
