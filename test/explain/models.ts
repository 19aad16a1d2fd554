// Small seeded models for the explanation tests: a CAM-able conv -> GAP -> dense net, and a NeuroStageNet-like
// net with a nested backbone, residual adds, an SE block, dual pooling, dropout and a separate softmax.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

const init = (seed: number) => tfl.initializers.glorotUniform({ seed });

/** input [16,16,1] -> conv 'conv' (4, 3x3, stride 2, relu) [8,8,4] -> GAP -> Dense 'logits' (3) [-> Activation softmax]. */
export function buildCamModel(opts: { denseSoftmax?: boolean; seed?: number } = {}): tfl.LayersModel {
  const seed = opts.seed ?? 1;
  const input = tfl.input({ shape: [16, 16, 1], name: 'img' });
  const conv = tfl.layers
    .conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: init(seed), biasInitializer: tfl.initializers.constant({ value: 0.05 }) })
    .apply(input) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(conv) as tfl.SymbolicTensor;
  const logits = tfl.layers
    .dense({ units: 3, name: 'logits', kernelInitializer: init(seed + 1), biasInitializer: tfl.initializers.constant({ value: 0.1 }), activation: opts.denseSoftmax ? 'softmax' : 'linear' })
    .apply(gap) as tfl.SymbolicTensor;
  const out = opts.denseSoftmax ? logits : (tfl.layers.activation({ activation: 'softmax', name: 'softmax' }).apply(logits) as tfl.SymbolicTensor);
  return tfl.model({ inputs: input, outputs: out, name: opts.denseSoftmax ? 'cam_dense_softmax' : 'cam' });
}

/** Sets every BatchNormalization's moving statistics and affine parameters to seeded non-trivial values. */
function randomiseBatchNorm(model: tfl.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    if (layer instanceof tfl.LayersModel) randomiseBatchNorm(layer, seed + 7);
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const ws = layer.getWeights();
    const n = ws[0].shape[0];
    layer.setWeights([
      tf.randomUniform([n], 0.5, 1.5, 'float32', seed),
      tf.randomUniform([n], -0.2, 0.2, 'float32', seed + 1),
      tf.randomUniform([n], -0.3, 0.3, 'float32', seed + 2),
      tf.randomUniform([n], 0.5, 2, 'float32', seed + 3),
    ]);
  }
}

/**
 * NeuroStageNet-like: input [16,16,1] -> 'gray_to_rgb' -> nested model 'backbone'
 * (b_conv1 -> b_conv2 (stride 2) -> b_bn, + b_shortcut from the backbone input -> b_add -> 'top_activation' [8,8,8])
 * -> refine_conv + residual 'refine_add' -> 'refine_act' (swish) -> SE (se_gap, se_reduce, se_expand, se_reshape,
 * Multiply 'se_excite') -> head_gap / head_gmp -> head_concat -> head_drop (0.5) -> Dense 'predictions' (4)
 * -> Activation 'softmax'.
 */
export function buildNestedModel(seed = 3): tfl.LayersModel {
  const bin = tfl.input({ shape: [16, 16, 3], name: 'backbone_input' });
  const c1 = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'b_conv1', kernelInitializer: init(seed) }).apply(bin) as tfl.SymbolicTensor;
  const c2 = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', name: 'b_conv2', kernelInitializer: init(seed + 1) }).apply(c1) as tfl.SymbolicTensor;
  const bn = tfl.layers.batchNormalization({ name: 'b_bn' }).apply(c2) as tfl.SymbolicTensor;
  const sc = tfl.layers.conv2d({ filters: 8, kernelSize: 1, strides: 2, name: 'b_shortcut', kernelInitializer: init(seed + 2) }).apply(bin) as tfl.SymbolicTensor;
  const badd = tfl.layers.add({ name: 'b_add' }).apply([bn, sc]) as tfl.SymbolicTensor;
  const top = tfl.layers.activation({ activation: 'relu', name: 'top_activation' }).apply(badd) as tfl.SymbolicTensor;
  const backbone = tfl.model({ inputs: bin, outputs: top, name: 'backbone' });

  const input = tfl.input({ shape: [16, 16, 1], name: 'gray_input' });
  const rgb = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'gray_to_rgb', kernelInitializer: init(seed + 3) }).apply(input) as tfl.SymbolicTensor;
  const feat = backbone.apply(rgb) as tfl.SymbolicTensor;
  const r = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'refine_conv', kernelInitializer: init(seed + 4) }).apply(feat) as tfl.SymbolicTensor;
  const radd = tfl.layers.add({ name: 'refine_add' }).apply([r, feat]) as tfl.SymbolicTensor;
  const ract = tfl.layers.activation({ activation: 'swish', name: 'refine_act' }).apply(radd) as tfl.SymbolicTensor;
  let se = tfl.layers.globalAveragePooling2d({ name: 'se_gap' }).apply(ract) as tfl.SymbolicTensor;
  se = tfl.layers.dense({ units: 2, activation: 'relu', name: 'se_reduce', kernelInitializer: init(seed + 5) }).apply(se) as tfl.SymbolicTensor;
  se = tfl.layers.dense({ units: 8, activation: 'sigmoid', name: 'se_expand', kernelInitializer: init(seed + 6) }).apply(se) as tfl.SymbolicTensor;
  se = tfl.layers.reshape({ targetShape: [1, 1, 8], name: 'se_reshape' }).apply(se) as tfl.SymbolicTensor;
  const ex = tfl.layers.multiply({ name: 'se_excite' }).apply([ract, se]) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({ name: 'head_gap' }).apply(ex) as tfl.SymbolicTensor;
  const gmp = tfl.layers.globalMaxPooling2d({ name: 'head_gmp' }).apply(ex) as tfl.SymbolicTensor;
  const cat = tfl.layers.concatenate({ name: 'head_concat' }).apply([gap, gmp]) as tfl.SymbolicTensor;
  const drop = tfl.layers.dropout({ rate: 0.5, name: 'head_drop' }).apply(cat) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ units: 4, name: 'predictions', kernelInitializer: init(seed + 7) }).apply(drop) as tfl.SymbolicTensor;
  const out = tfl.layers.activation({ activation: 'softmax', name: 'softmax' }).apply(logits) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out, name: 'nested' });
  randomiseBatchNorm(model, seed + 11);
  return model;
}

/** Seeded images in 0..1, `[n, 16, 16, 1]`. */
export function randomImages(n: number, seed = 5): tf.Tensor4D {
  return tf.randomUniform([n, 16, 16, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
}

/** Bilinear upsampling with half-pixel centres (OpenCV / PIL convention), written independently of tfjs. */
export function upsampleBilinear(src: ArrayLike<number>, sh: number, sw: number, dh: number, dw: number): Float32Array {
  const out = new Float32Array(dh * dw);
  const coord = (d: number, s: number, dn: number): [number, number, number] => {
    let v = ((d + 0.5) * s) / dn - 0.5;
    if (v < 0) v = 0;
    const i0 = Math.min(Math.floor(v), s - 1);
    const i1 = Math.min(i0 + 1, s - 1);
    return [i0, i1, v - i0];
  };
  for (let y = 0; y < dh; y++) {
    const [y0, y1, fy] = coord(y, sh, dh);
    for (let x = 0; x < dw; x++) {
      const [x0, x1, fx] = coord(x, sw, dw);
      const top = src[y0 * sw + x0] * (1 - fx) + src[y0 * sw + x1] * fx;
      const bottom = src[y1 * sw + x0] * (1 - fx) + src[y1 * sw + x1] * fx;
      out[y * dw + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** ReLU then min–max to [0, 1] (zeros when flat), the reference post-processing. */
export function reluMinMax(values: ArrayLike<number>): Float32Array {
  const r = Float32Array.from(values, (v) => Math.max(0, v));
  const min = Math.min(...r);
  const max = Math.max(...r);
  return max - min > 0 ? r.map((v) => (v - min) / (max - min)) : new Float32Array(r.length);
}

/** Largest |a - b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
