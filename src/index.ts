/**
 * neurostagenet: explainable Alzheimer's-stage classification of brain MRI slices on TensorFlow.js.
 *
 * This file is the package's one public face: everything a user may import is re-exported here.
 * @packageDocumentation
 */
export * from './data/types.js';
export * from './errors.js';
export * from './data/index.js';
export * from './metrics/index.js';
export * from './train/index.js';
export * from './explain/index.js';
export * from './layers/index.js';
export * from './backbones/index.js';
export * from './io/index.js';
export * from './models/index.js';
export * from './backends/index.js';
export * from './models/pretrained.js';
