import * as tf from '@tensorflow/tfjs-core';
import type { Batch, LabeledImageSource } from './types.js';
import { augmentBatch, resolveAugmentOptions, type AugmentOptions, type ResolvedAugmentOptions } from './augment.js';
import { createRng, mixSeed, shuffleInPlace } from '../random.js';
import { DataOptionError, InvalidLabelError } from './errors.js';
import { mixupBatch } from './mixup.js';

export type { AugmentOptions } from './augment.js';

/** Options of {@link iterateBatches}. */
export interface BatchOptions {
  /** Rows to iterate (default: all rows, in order). */
  indices?: ArrayLike<number>;
  /** Examples per batch. Default 32; the last batch may be smaller. */
  batchSize?: number;
  /** Shuffle the rows, seeded by `(seed, epoch)`. Default `false`. */
  shuffle?: boolean;
  /** Seed of the shuffle and the augmentation. Default 0. */
  seed?: number;
  /** Epoch number: shuffle order and augmentation depend on `(seed, epoch)`. Default 0. */
  epoch?: number;
  /** Random augmentation of `xs` (training only). `true` = default augmentation. Default `false`. */
  augment?: AugmentOptions | boolean;
  /**
   * Mixup of images and labels within each batch (training only; see {@link mixupBatch}): the Beta(alpha, alpha)
   * shape, e.g. 0.2. Default 0 = off. Applied after `augment`.
   */
  mixup?: number;
  /** Width of the one-hot `ys`. Default `source.classNames.length`. */
  numClasses?: number;
  /** Batches decoded ahead of the one being consumed. Default 1; 0 = none. */
  prefetch?: number;
}

/**
 * Optional fast path a source may offer: write the images of `indices` into `out` (`indices.length * H * W`
 * values) in one call, e.g. from a cache or a worker pool. {@link iterateBatches} uses it when present.
 */
export interface BulkImageReader {
  /**
   * Writes the images of rows `indices`, in order, into `out`.
   * @param indices Row indices.
   * @param out Destination, `indices.length * height * width` floats.
   */
  readImagesInto(indices: ArrayLike<number>, out: Float32Array): void | Promise<void>;
}

interface RawBatch {
  index: number;
  rows: Int32Array;
  images: Float32Array;
  oneHot: Float32Array;
}

/** Resolved, validated options shared by the batch iterator and the tf.data adapter. */
interface Plan {
  source: LabeledImageSource;
  rows: Int32Array;
  batchSize: number;
  shuffle: boolean;
  seed: number;
  augment: ResolvedAugmentOptions | null;
  mixup: number;
  numClasses: number;
  prefetch: number;
}

// Shared by makePlan and countBatches so both reject the same sizes with the same message.
function checkBatchSize(batchSize: number = 32): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DataOptionError(`batchSize must be a positive integer, got ${batchSize}`);
  return batchSize;
}

function makePlan(source: LabeledImageSource, options: Omit<BatchOptions, 'epoch'>): Plan {
  const batchSize = checkBatchSize(options.batchSize);
  const prefetch = options.prefetch ?? 1;
  if (!Number.isInteger(prefetch) || prefetch < 0) throw new DataOptionError(`prefetch must be a non-negative integer, got ${prefetch}`);
  const mixup = options.mixup ?? 0;
  if (!(mixup >= 0) || !Number.isFinite(mixup)) throw new DataOptionError(`mixup must be a finite number >= 0 (0 = off), got ${mixup}`);
  const numClasses = options.numClasses ?? source.classNames.length;
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new DataOptionError(`numClasses must be a positive integer, got ${numClasses}`);
  let rows: Int32Array;
  if (options.indices === undefined) {
    rows = new Int32Array(source.length);
    for (let i = 0; i < rows.length; i++) rows[i] = i;
  } else {
    rows = Int32Array.from(options.indices as ArrayLike<number>);
    for (let k = 0; k < rows.length; k++) {
      const r = (options.indices as ArrayLike<number>)[k];
      if (!Number.isInteger(r) || r < 0 || r >= source.length) {
        throw new DataOptionError(`indices[${k}] = ${r} is not a row of the source (0..${source.length - 1})`);
      }
    }
  }
  return {
    source,
    rows,
    batchSize,
    shuffle: options.shuffle ?? false,
    seed: options.seed ?? 0,
    augment: resolveAugmentOptions(options.augment),
    mixup,
    numClasses,
    prefetch,
  };
}

/** Row order of one epoch: the plan's rows, shuffled by `(seed, epoch)` when asked. */
function epochOrder(plan: Plan, epoch: number): Int32Array {
  const order = Int32Array.from(plan.rows);
  if (plan.shuffle) shuffleInPlace(order, createRng(mixSeed(plan.seed, epoch, 0x5f1e)));
  return order;
}

async function loadBatch(plan: Plan, order: Int32Array, index: number): Promise<RawBatch> {
  const { source, numClasses } = plan;
  const rows = order.subarray(index * plan.batchSize, Math.min(order.length, (index + 1) * plan.batchSize));
  const [h, w] = source.imageSize;
  const px = h * w;
  const images = new Float32Array(rows.length * px);
  const oneHot = new Float32Array(rows.length * numClasses);
  const bulk = (source as Partial<BulkImageReader>).readImagesInto;
  if (typeof bulk === 'function') await bulk.call(source, rows, images);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    let label = source.labels[r];
    if (typeof bulk !== 'function') {
      const ex = await source.get(r);
      if (ex.image.length !== px) {
        throw new DataOptionError(`row ${r}: image has ${ex.image.length} pixels, expected ${h}x${w} = ${px}`);
      }
      images.set(ex.image, k * px);
      label = ex.label;
    }
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new InvalidLabelError(`label ${label} is outside 0..${numClasses - 1}`, { row: r });
    }
    oneHot[k * numClasses + label] = 1;
  }
  return { index, rows: Int32Array.from(rows), images, oneHot };
}

// Runs the load on a later macrotask so that a synchronous source decodes while the consumer is awaiting
// (e.g. between training steps) rather than before the current batch is handed out.
function scheduleLoad(plan: Plan, order: Int32Array, index: number): Promise<RawBatch> {
  const p = new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => loadBatch(plan, order, index));
  p.catch(() => undefined); // surfaced when awaited; avoids an unhandled rejection if the consumer stops early
  return p;
}

function toBatch(plan: Plan, raw: RawBatch, epoch: number): Batch {
  const [h, w] = plan.source.imageSize;
  const n = raw.rows.length;
  let ys = tf.tensor2d(raw.oneHot, [n, plan.numClasses]);
  let xs = tf.tensor4d(raw.images, [n, h, w, 1]);
  if (plan.augment) {
    const plain = xs;
    try {
      xs = augmentBatch(plain, plan.augment, mixSeed(plan.seed, epoch, raw.index, 0xa06));
    } catch (e) {
      tf.dispose([plain, ys]); // the batch is never handed out, so nobody else can free these
      throw e;
    }
    tf.dispose(plain);
  }
  if (plan.mixup > 0 && n > 1) {
    const mixed = mixupBatch(xs, ys, plan.mixup, mixSeed(plan.seed, epoch, raw.index, 0x31c));
    tf.dispose([xs, ys]);
    xs = mixed.xs;
    ys = mixed.ys;
  }
  return { xs, ys, indices: raw.rows };
}

async function* generateBatches(plan: Plan, epoch: number): AsyncGenerator<Batch, void, undefined> {
  const order = epochOrder(plan, epoch);
  const numBatches = Math.ceil(order.length / plan.batchSize);
  const pending = new Map<number, Promise<RawBatch>>();
  for (let b = 0; b < numBatches; b++) {
    const current = pending.get(b) ?? loadBatch(plan, order, b);
    pending.delete(b);
    for (let ahead = b + 1; ahead <= Math.min(numBatches - 1, b + plan.prefetch); ahead++) {
      if (!pending.has(ahead)) pending.set(ahead, scheduleLoad(plan, order, ahead));
    }
    const raw = await current;
    // Tensors are made only here, at hand-over: abandoning the loop leaves nothing allocated.
    yield toBatch(plan, raw, epoch);
  }
}

/**
 * Iterates over `source` in batches of `{ xs: [N, H, W, 1] float32 0..255, ys: one-hot [N, numClasses], indices }`.
 * With `shuffle`, the order is a seeded permutation depending on `(seed, epoch)`; with `augment`, `xs` is
 * randomly augmented, seeded by `(seed, epoch, batch index)`: the same options give the same batches.
 * The next `prefetch` batches are decoded while the current one is in use.
 *
 * The tensors of each yielded batch are the caller's to dispose; stopping early (`break`) leaks nothing.
 * @param source Dataset (or any {@link LabeledImageSource}).
 * @param options Batch options.
 * @returns An async iterator of batches.
 * @throws {@link data!DataOptionError} for bad options (thrown immediately); {@link InvalidLabelError} for a label
 *   outside `0..numClasses-1` (thrown by the iterator).
 * @example
 * ```ts
 * for await (const { xs, ys } of iterateBatches(ds, { batchSize: 32, shuffle: true, seed: 1, epoch, augment: true })) {
 *   await model.trainOnBatch(xs, ys);
 *   tf.dispose([xs, ys]);
 * }
 * ```
 */
export function iterateBatches(source: LabeledImageSource, options: BatchOptions = {}): AsyncIterableIterator<Batch> {
  const epoch = options.epoch ?? 0;
  if (!Number.isInteger(epoch) || epoch < 0) throw new DataOptionError(`epoch must be a non-negative integer, got ${epoch}`);
  return generateBatches(makePlan(source, options), epoch);
}

/**
 * Number of batches {@link iterateBatches} yields per epoch for these options.
 * @throws {@link data!DataOptionError} when `batchSize` is not a positive integer.
 */
export function countBatches(source: LabeledImageSource, options: Pick<BatchOptions, 'indices' | 'batchSize'> = {}): number {
  const n = options.indices === undefined ? source.length : options.indices.length;
  return Math.ceil(n / checkBatchSize(options.batchSize));
}

/** The iterator a {@link FitDatasetLike} hands to `model.fitDataset`. */
export interface BatchIterator {
  /** The next batch, or `done` after the last one. */
  next(): Promise<IteratorResult<Batch>>;
}

/**
 * The subset of tf.data's `Dataset` that `model.fitDataset` / `model.evaluateDataset` use (a duck type, so that
 * `@tensorflow/tfjs-data` is not a dependency).
 */
export interface FitDatasetLike {
  /** Batches per epoch (what `fitDataset` uses as steps per epoch), or `Infinity` when repeating. */
  readonly size: number;
  /** A new iterator over one epoch (or over all epochs, with `repeat`). */
  iterator(): Promise<BatchIterator>;
}

/** Options of {@link toTfDataset}: those of {@link iterateBatches} except `epoch`, plus epoch handling. */
export interface TfDatasetOptions extends Omit<BatchOptions, 'epoch'> {
  /** Epoch number of the first epoch (e.g. when resuming). Default 0. */
  initialEpoch?: number;
  /** Never end: run into the next epoch (new shuffle and augmentation), for `fitDataset({ batchesPerEpoch })`. Default `false`. */
  repeat?: boolean;
}

/**
 * Wraps {@link iterateBatches} as a dataset for `model.fitDataset(ds, { epochs })` (tfjs-layers). Each iterator that
 * is actually read starts a new epoch, so shuffling and augmentation change from epoch to epoch and are
 * reproducible from the seed. `fitDataset` disposes the batches it receives.
 * @param source Dataset.
 * @param options Batch options.
 * @returns An object with `size` and `iterator()`, accepted by `fitDataset` and `evaluateDataset`.
 * @example
 * ```ts
 * await model.fitDataset(toTfDataset(ds, { indices: split.train, shuffle: true, augment: true, seed: 7 }), { epochs: 10 });
 * ```
 */
export function toTfDataset(source: LabeledImageSource, options: TfDatasetOptions = {}): FitDatasetLike {
  const plan = makePlan(source, options);
  let nextEpoch = options.initialEpoch ?? 0;
  const batchesPerEpoch = Math.ceil(plan.rows.length / plan.batchSize);
  return {
    size: options.repeat ? Infinity : batchesPerEpoch,
    async iterator() {
      // fitDataset asks for one iterator before the first epoch and then one per epoch; only count iterators
      // that are read, so epoch numbers stay 0, 1, 2, ...
      let it: AsyncGenerator<Batch, void, undefined> | null = null;
      return {
        async next(): Promise<IteratorResult<Batch>> {
          if (it === null) it = generateBatches(plan, nextEpoch++);
          let r = await it.next();
          if (r.done && options.repeat && batchesPerEpoch > 0) {
            it = generateBatches(plan, nextEpoch++);
            r = await it.next();
          }
          return r.done ? { done: true, value: undefined } : r;
        },
      };
    },
  };
}
