import type * as tf from '@tensorflow/tfjs-core';

/**
 * One decoded example: a grayscale image (row-major, `height * width` values in 0..255) and its label.
 */
export interface ImageExample {
  /** Grayscale pixels, row-major, float32 in 0..255. */
  image: Float32Array;
  /** Class index, 0-based. */
  label: number;
  /** Source file name when the dataset carries one (e.g. HuggingFace `image.path`). */
  path?: string;
}

/**
 * A training or evaluation batch. The tensors belong to the caller, who disposes them.
 */
export interface Batch {
  /** Images, `[N, H, W, 1]`, float32 in 0..255. */
  xs: tf.Tensor4D;
  /** One-hot labels, `[N, numClasses]`. */
  ys: tf.Tensor2D;
  /** Row indices (into the source dataset) of the batch's examples, in batch order. */
  indices: Int32Array;
}

/**
 * Anything that can hand out labelled grayscale images by row index: a {@link ParquetImageDataset}
 * or a view of one. The training loop, metrics and examples only rely on this.
 */
export interface LabeledImageSource {
  /** Number of rows. */
  readonly length: number;
  /** Label of every row. */
  readonly labels: Int32Array;
  /** Class names, indexed by label. */
  readonly classNames: readonly string[];
  /** `[height, width]` of every decoded image. */
  readonly imageSize: readonly [number, number];
  /** Decoded image and label of row `i`. */
  get(i: number): ImageExample | Promise<ImageExample>;
  /**
   * Person (subject) of every row, when the data says: slices of one person are near-duplicates, so splits and
   * figures that should count people use it. Absent when the data has no subject column.
   */
  readonly subjects?: readonly string[];
  /** Axial slice level of every row within its person (1-based in the shipped data), when the data says. */
  readonly slices?: Int32Array;
}
