/**
 * `neurostagenet/kernels`: opt-in tfjs kernels. Nothing here is registered by importing it: each `register*` call
 * changes tfjs' global kernel or gradient registry for every model in the process, so an app calls it on purpose.
 * - the gradient kernels that let the wasm backend train (tfjs-backend-wasm 4.22 has none for convolutions);
 * - cheaper gradients for FusedBatchNorm, Mean and Sum, for one synchronous step (`withTrainingGradients`, what the
 *   trainer uses) or globally;
 * - a JS `Transform` kernel for backends without one (tfjs-node), which `augmentBatch` does not need;
 * - the memory-lean swish and batch-normalisation ops that keep only their input for the backward pass.
 * @module
 */
export {
  registerWasmGradientKernels,
  unregisterWasmGradientKernels,
  WASM_GRADIENT_KERNEL_NAMES,
  WASM_MISSING_GRADIENT_KERNELS,
  WASM_REPLACED_GRADIENT_KERNELS,
  UnsupportedKernelArgumentsError,
  setWasmKernelScratchBytes,
  DEFAULT_KERNEL_SCRATCH_BYTES,
} from '../backends/wasm-gradient-kernels.js';
export {
  withTrainingGradients,
  registerTrainingGradients,
  unregisterTrainingGradients,
} from '../backends/training-gradients.js';
export { registerTransformKernel, unregisterTransformKernel, hasTransformKernel } from '../data/transform-kernel.js';
export { memoryLeanSwish, memoryLeanBatchNorm, type MemoryLeanBatchNormOptions } from '../layers/memory-lean-ops.js';
