/**
 * Keras-exact backbones.
 */
export {
  buildEfficientNetB0,
  kerasCorrectPad,
  EFFICIENTNETB0_LAYER_COUNT,
  IMAGENET_MEAN_RGB,
  IMAGENET_STD_RGB,
  type EfficientNetB0Options,
} from './efficientnet-b0.js';
