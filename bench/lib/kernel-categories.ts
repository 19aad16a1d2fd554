/**
 * Groups kernel names from tfjs (`tf.profile`) and TensorFlow (XPlane op types, oneDNN `_Mkl*` variants)
 * into the same coarse categories, so a tfjs step and a Keras step can be compared line by line.
 */

const RULES: Array<[string, RegExp]> = [
  ['conv2d backprop input', /Conv2DBackpropInput$/],
  ['conv2d backprop filter', /Conv2DBackpropFilter(WithBias)?$/],
  ['depthwise backprop input', /DepthwiseConv2dNativeBackpropInput$/],
  ['depthwise backprop filter', /DepthwiseConv2dNativeBackpropFilter$/],
  ['depthwise forward', /(DepthwiseConv2dNative|FusedDepthwiseConv2D|DepthwiseConv2D)$/],
  ['conv2d forward', /(Conv2D|PadWithConv2D|FusedConv2D|PadWithFusedConv2D)$/],
  ['matmul', /(MatMul|BatchMatMul(V2|V3)?|_FusedMatMul)$/],
  ['batchnorm kernels', /FusedBatchNorm/],
  ['activations (sigmoid, swish, softmax)', /(Sigmoid|SigmoidGrad|Swish|Relu|ReluGrad|Softmax|LogSoftmax|Elu|Tanh|Softplus|Step)$/],
  ['elementwise arithmetic', /^(_Mkl)?(Mul|Multiply|Sub|Add|AddV2|AddN|RealDiv|RealDivide|Div|DivNoNan|Square|SquaredDifference|Sqrt|Rsqrt|Neg|Maximum|Minimum|Pow|Exp|Log|Log1p|Reciprocal|Abs|Sign|Floor|FloorDiv|ClipByValue|BiasAdd|BiasAddGrad)$/],
  ['comparisons / casts / select', /^(_Mkl)?(Cast|Select|SelectV2|Greater|GreaterEqual|Less|LessEqual|Equal|NotEqual|LogicalAnd|LogicalOr|LogicalNot|IsNan|IsFinite|ZerosLike|OnesLike|Fill)$/],
  ['reductions', /^(_Mkl)?(Sum|Mean|Max|Min|Prod|ArgMax|ArgMin|All|Any)$/],
  ['variables / optimizer updates', /(Variable|Assign|ResourceApply|ApplyAdam)/],
  ['data movement (reshape, tile, pad, slice, concat, transpose)', /^(_Mkl)?(Reshape|Tile|Pad|PadV2|MirrorPad|Slice|StridedSlice|StridedSliceGrad|Concat|ConcatV2|Transpose|Identity|IdentityN|Pack|Unpack|BroadcastTo|ExpandDims|Squeeze|Shape|ShapeN|Gather|GatherV2|OneHot|Range|Reverse|SplitV|Split|Clone)$/],
];

/** The category of a kernel / op type name ('other' when no rule matches). */
export function kernelCategory(name: string): string {
  for (const [category, re] of RULES) if (re.test(name)) return category;
  return 'other';
}
