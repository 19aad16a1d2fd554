/**
 * Backends: choosing the tfjs backend at run time and the kernels that let wasm train.
 * @module
 */
export {
  selectBackend,
  BackendUnavailableError,
  KNOWN_BACKENDS,
  type BackendName,
  type SelectBackendOptions,
  type SkippedBackend,
} from './select-backend.js';
export {
  registerWasmGradientKernels,
  unregisterWasmGradientKernels,
  WASM_GRADIENT_KERNEL_NAMES,
  WASM_MISSING_GRADIENT_KERNELS,
  WASM_REPLACED_GRADIENT_KERNELS,
  UnsupportedKernelArgumentsError,
  setWasmKernelScratchBytes,
  DEFAULT_KERNEL_SCRATCH_BYTES,
  conv2DBackpropFilterWasm,
  depthwiseConv2dNativeBackpropFilterWasm,
  depthwiseConv2dNativeBackpropInputWasm,
  conv2DBackpropInputWasm,
} from './wasm-gradient-kernels.js';
export { fusedBatchNormGradConfig, registerFusedBatchNormGradient } from './batch-norm-gradient.js';
export {
  memoryLeanSwish,
  memoryLeanBatchNorm,
  type MemoryLeanBatchNormOptions,
} from '../layers/memory-lean-ops.js';
