import type { Batch, ImageExample, LabeledImageSource } from './types.js';
import { iterateBatches, type BatchOptions, type BulkImageReader } from './batches.js';
import {
  checkTargetSize,
  classifyDecodeError,
  decodeImageSync,
  finishDecode,
  readImageHeader,
  type ImageHeader,
  type ResizeMode,
} from './decode.js';
import { availableCores, decodeInWorkers, workersAvailable, type DecodeJob } from './decode-pool.js';
import {
  DataError,
  DataOptionError,
  EmptyDatasetError,
  ImageSizeError,
  InvalidLabelError,
  InvalidSliceError,
  InvalidSubjectError,
  MissingImageError,
} from './errors.js';
import { readParquetColumns, type ExtraColumn } from './parquet.js';
import { nodeFs } from '../env/node-builtin.js';

/** Options of {@link ParquetImageDataset.fromFile}. */
export interface ParquetImageDatasetOptions {
  /** Image column: plain binary, or a struct with `bytes` (and optionally `path`) as HuggingFace writes. Default `'image'`. */
  imageColumn?: string;
  /**
   * Label column: integers (class indices), digit strings (`'0'`, `'2'`: also class indices) or strings (class names,
   * looked up in `classNames`). Default `'label'`.
   */
  labelColumn?: string;
  /**
   * Class names indexed by label. Default: the file's HuggingFace `ClassLabel` names when present; else
   * `['0', '1', '2', '3']` for integer (or digit-string) labels. String labels need one of the two: the names are
   * never taken from the strings a file holds (a class missing from one file would shift every later label), so a
   * string label without `classNames` or metadata is an {@link InvalidLabelError} naming the row and the value.
   * Pass the model's class names (e.g. `ALZHEIMER_CLASS_NAMES`). A string label equal to a class name maps to its
   * index; a digit string that is not a class name is read as an index.
   */
  classNames?: readonly string[];
  /**
   * Column naming the person each row belongs to: read when present (exposed as `subjects`), so that splits and
   * per-person figures count people. Default `'subject'`; `null` ignores it. A column named here that the file lacks
   * is a {@link data!MissingColumnError}; the default name is simply skipped when absent. Strings or integers; a null or
   * empty cell is an {@link InvalidSubjectError}.
   */
  subjectColumn?: string | null;
  /**
   * Column with each row's slice level within its person (exposed as `slices`). Default `'slice'`; `null` ignores
   * it; same rules as `subjectColumn`. Integers; a null or non-integer cell is an {@link InvalidSliceError}.
   */
  sliceColumn?: string | null;
  /** `[height, width]` of the decoded images. Default `[128, 128]`. */
  targetSize?: readonly [number, number];
  /** Images of another size: `'bilinear'` resize (default) or `'reject'` ({@link ImageSizeError}). */
  resize?: ResizeMode;
  /** Bad rows: `'throw'` (default) the typed error of the first one, or `'skip'` them and list them in `skipped`. */
  onError?: 'throw' | 'skip';
  /**
   * Decode every image once at load and keep all pixels in one `Float32Array` (`length * H * W * 4` bytes;
   * 250 MB for 3808 images of 128x128). Default `true`. With `false`, `get(i)` decodes on demand (main thread);
   * with `onError: 'skip'` images are still decoded once at load to find bad rows.
   */
  cache?: boolean;
  /**
   * Decode on worker threads (Node only) when at least `threshold` images are decoded at load. `false` = never.
   * Default `{ threshold: 512, threads: <logical cores> }`. Falls back to the main thread if workers fail to start.
   */
  parallel?: false | {
    /** Decode on worker threads from this many rows on. Default 512. */
    threshold?: number;
    /** Worker count. Default: the number of cores. */
    threads?: number;
  };
  /** Name used in error messages when the input is bytes. Default `'<bytes>'`. */
  name?: string;
  /**
   * Read only file rows `[start, end)` (e.g. to score a large file window by window with bounded memory); `sourceRows`
   * and error messages keep the file's row numbers. Default: every row.
   */
  rows?: readonly [number, number];
}

/** A row left out by `onError: 'skip'`. */
export interface SkippedRow {
  /** Row index in the Parquet file. */
  row: number;
  /** Why (the error message without its location). */
  reason: string;
  /** The typed error that would have been thrown. */
  error: DataError;
}

/** How the load went (for benchmarks and logs). */
export interface LoadStats {
  /** Milliseconds reading the file and the Parquet columns. */
  readMs: number;
  /** Milliseconds decoding images at load (0 when not decoded at load). */
  decodeMs: number;
  /** Threads used to decode (1 = main thread). */
  threads: number;
}

/** The kept rows' encoded images, back to back (one buffer, as an Arrow binary column holds them). */
interface PackedImages {
  /** All images' bytes. */
  data: Uint8Array;
  /** Image `i` is `data[offsets[i] .. offsets[i + 1])`. */
  offsets: Int32Array;
}

interface DatasetParts {
  file: string;
  images: PackedImages;
  paths: ReadonlyArray<string | null>;
  labels: Int32Array;
  sourceRows: Int32Array;
  headers: ImageHeader[];
  classNames: string[];
  imageSize: [number, number];
  resize: ResizeMode;
  cache: Float32Array | null;
  subjects?: string[];
  slices?: Int32Array;
  skipped: SkippedRow[];
  stats: LoadStats;
  imageIsStruct: boolean;
  imageColumn: string;
}

/**
 * Labelled grayscale images from a Parquet file (HuggingFace `datasets` layout or plain binary column), held in
 * memory as plain typed arrays: the encoded images back to back in one buffer ({@link imageBytes}), `labels`,
 * `sourceRows` (row in the file), the image struct's paths ({@link imagePath}), and by default the decoded pixels
 * cached in one `Float32Array`.
 *
 * Rows skipped with `onError: 'skip'` are not part of the dataset: row `i` of the dataset is row
 * `sourceRows[i]` of the file.
 * @example
 * ```ts
 * const ds = await ParquetImageDataset.fromFile('train.parquet');
 * console.log(ds.length, ds.classNames, ds.classCounts());
 * const { image, label } = ds.get(0); // Float32Array(128*128), 0..255
 * for await (const { xs, ys } of ds.batches({ batchSize: 32, shuffle: true, seed: 1 })) { tf.dispose([xs, ys]); }
 * ```
 */
export class ParquetImageDataset implements LabeledImageSource, BulkImageReader {
  /** File path, or the `name` option for in-memory input. */
  readonly file: string;
  /** Label of every row. */
  readonly labels: Int32Array;
  /** Row index in the file of every dataset row. */
  readonly sourceRows: Int32Array;
  /** Class names, indexed by label. */
  readonly classNames: readonly string[];
  /** `[height, width]` of the decoded images. */
  readonly imageSize: readonly [number, number];
  /** Person of every row, from the subject column; `undefined` when the file has none (or `subjectColumn: null`). */
  readonly subjects?: readonly string[];
  /** Slice level of every row, from the slice column; `undefined` when the file has none (or `sliceColumn: null`). */
  readonly slices?: Int32Array;
  /** Rows left out by `onError: 'skip'` (always empty with `'throw'`). */
  readonly skipped: readonly SkippedRow[];
  /** Timing of the load. */
  readonly loadStats: LoadStats;
  /** Whether the image column was a `{bytes, path}` struct. */
  readonly imageIsStruct: boolean;
  readonly #headers: ImageHeader[];
  readonly #cache: Float32Array | null;
  readonly #resize: ResizeMode;
  readonly #images: PackedImages;
  readonly #paths: ReadonlyArray<string | null>;
  readonly #imageColumn: string;

  private constructor(p: DatasetParts) {
    this.file = p.file;
    this.labels = p.labels;
    this.sourceRows = p.sourceRows;
    this.classNames = Object.freeze([...p.classNames]);
    this.imageSize = Object.freeze([p.imageSize[0], p.imageSize[1]]) as readonly [number, number];
    if (p.subjects) this.subjects = Object.freeze(p.subjects);
    if (p.slices) this.slices = p.slices;
    this.skipped = Object.freeze(p.skipped);
    this.loadStats = p.stats;
    this.imageIsStruct = p.imageIsStruct;
    this.#headers = p.headers;
    this.#cache = p.cache;
    this.#resize = p.resize;
    this.#images = p.images;
    this.#paths = p.paths;
    this.#imageColumn = p.imageColumn;
  }

  /**
   * Reads a Parquet file (path, `file:` URL, or its bytes), checks every row and decodes the images.
   * @param pathOrBytes File path or URL (Node), or the file's bytes (anywhere).
   * @param options Columns, class names, target size, error handling, caching, parallelism.
   * @throws {@link data!EmptyFileError}, {@link data!NotParquetError}, {@link data!TruncatedParquetError}, {@link data!MissingColumnError};
   *   with `onError: 'throw'` also {@link InvalidLabelError}, {@link InvalidSubjectError}, {@link InvalidSliceError},
   *   {@link MissingImageError}, {@link data!ImageDecodeError},
   *   {@link data!UnsupportedImageFormatError}, {@link ImageSizeError} for the first bad row;
   *   {@link InvalidLabelError} for string labels without `classNames` or ClassLabel metadata;
   *   {@link data!EmptyDatasetError} when the file has 0 rows or every row was skipped.
   */
  static async fromFile(pathOrBytes: string | URL | Uint8Array | ArrayBuffer, options: ParquetImageDatasetOptions = {}): Promise<ParquetImageDataset> {
    const imageColumn = options.imageColumn ?? 'image';
    const labelColumn = options.labelColumn ?? 'label';
    const targetSize: [number, number] = options.targetSize ? [options.targetSize[0], options.targetSize[1]] : [128, 128];
    checkTargetSize(targetSize);
    const resize = options.resize ?? 'bilinear';
    if (resize !== 'bilinear' && resize !== 'reject') throw new DataOptionError(`resize must be 'bilinear' or 'reject', got ${String(resize)}`);
    const onError = options.onError ?? 'throw';
    if (onError !== 'throw' && onError !== 'skip') throw new DataOptionError(`onError must be 'throw' or 'skip', got ${String(onError)}`);
    const useCache = options.cache ?? true;

    const t0 = performance.now();
    const { bytes, file } = await readInput(pathOrBytes, options.name);
    const subjectColumn = optionalColumn(options.subjectColumn, 'subject', 'subjectColumn');
    const sliceColumn = optionalColumn(options.sliceColumn, 'slice', 'sliceColumn');
    const extraColumns = [subjectColumn, sliceColumn].filter((c): c is ExtraColumn => c !== null);
    const cols = await readParquetColumns(bytes, file, imageColumn, labelColumn, extraColumns, options.rows);
    const first = options.rows?.[0] ?? 0; // file row of this dataset's row 0
    const subjectCells = subjectColumn ? cols.extra[subjectColumn.name] : undefined;
    const sliceCells = sliceColumn ? cols.extra[sliceColumn.name] : undefined;
    const readMs = performance.now() - t0;

    const classNames = resolveClassNames(options.classNames, cols.metadataClassNames, cols.labels, file, labelColumn);
    const classIndex = new Map(classNames.map((n, i) => [n, i]));
    const n = cols.images.length;
    const failures = new Map<number, DataError>();
    const labels = new Int32Array(n);
    const subjects: string[] | undefined = subjectCells ? new Array<string>(n) : undefined;
    const slices = sliceCells ? new Int32Array(n) : undefined;
    const headers: Array<ImageHeader | null> = new Array(n).fill(null);
    for (let r = 0; r < n; r++) {
      try {
        labels[r] = toLabel(cols.labels[r], classNames, classIndex, { file, row: first + r, column: labelColumn });
        if (subjects) subjects[r] = toSubject((subjectCells as unknown[])[r], { file, row: first + r, column: (subjectColumn as ExtraColumn).name });
        if (slices) slices[r] = toSlice((sliceCells as unknown[])[r], { file, row: first + r, column: (sliceColumn as ExtraColumn).name });
        const img = cols.images[r];
        const imgLoc = { file, row: first + r, column: cols.imageIsStruct ? `${imageColumn}.bytes` : imageColumn };
        if (img === null || img === undefined) throw new MissingImageError('image is null', imgLoc);
        const h = readImageHeader(img, imgLoc);
        if (resize === 'reject' && (h.height !== targetSize[0] || h.width !== targetSize[1])) {
          throw new ImageSizeError(`image is ${h.width}x${h.height} (WxH), expected ${targetSize[1]}x${targetSize[0]} and resize is 'reject'`, imgLoc);
        }
        headers[r] = h;
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        failures.set(r, e);
        if (onError === 'throw') throw e;
      }
    }

    // Decode at load when caching, or when bad images must be found now to be skipped.
    const px = targetSize[0] * targetSize[1];
    const candidates: number[] = [];
    for (let r = 0; r < n; r++) if (!failures.has(r)) candidates.push(r);
    let decodeMs = 0;
    let threads = 1;
    let cache: Float32Array | null = null;
    if (useCache || onError === 'skip') {
      const t1 = performance.now();
      const buf = new Float32Array(useCache ? candidates.length * px : px);
      const imageColumnName = cols.imageIsStruct ? `${imageColumn}.bytes` : imageColumn;
      const slot = (k: number) => (useCache ? buf.subarray(k * px, (k + 1) * px) : buf);
      const par = options.parallel === false ? null : { threshold: options.parallel?.threshold ?? 512, threads: options.parallel?.threads };
      let decoded = false;
      if (par && candidates.length >= par.threshold && workersAvailable()) {
        threads = par.threads ?? (await availableCores());
        if (!Number.isInteger(threads) || threads < 1) throw new DataOptionError(`parallel.threads must be a positive integer, got ${threads}`);
        const jobs: DecodeJob[] = candidates.map((r) => ({ bytes: cols.images[r] as Uint8Array, header: headers[r] as ImageHeader }));
        try {
          await decodeInWorkers(jobs, threads, (k, res) => {
            const r = candidates[k];
            const loc = { file, row: first + r, column: imageColumnName };
            try {
              if ('error' in res) throw classifyDecodeError((headers[r] as ImageHeader).format, res.error, loc);
              finishDecode(res, headers[r] as ImageHeader, { targetSize, resize }, loc, slot(k));
            } catch (e) {
              if (!(e instanceof DataError)) throw e;
              failures.set(r, e);
            }
          });
          decoded = true;
        } catch (e) {
          if (e instanceof DataError) throw e;
          threads = 1; // workers could not run here (e.g. sandbox): decode on the main thread instead
          for (const r of candidates) failures.delete(r);
        }
      }
      if (!decoded) {
        candidates.forEach((r, k) => {
          try {
            decodeImageSync(cols.images[r] as Uint8Array, { targetSize, resize }, { file, row: first + r, column: imageColumnName }, slot(k));
          } catch (e) {
            if (!(e instanceof DataError)) throw e;
            failures.set(r, e);
          }
        });
      }
      if (onError === 'throw' && failures.size > 0) throw failures.get(Math.min(...failures.keys()));
      if (useCache) {
        // Compact: move kept images over the slots of rows that failed to decode.
        let w = 0;
        candidates.forEach((r, k) => {
          if (failures.has(r)) return;
          if (w !== k) buf.copyWithin(w * px, k * px, (k + 1) * px);
          w++;
        });
        cache = buf.subarray(0, w * px);
      }
      decodeMs = performance.now() - t1;
    }

    const kept = candidates.filter((r) => !failures.has(r));
    const skipped: SkippedRow[] = [...failures.keys()].sort((a, b) => a - b).map((row) => {
      const error = failures.get(row) as DataError;
      return { row: first + row, reason: error.reason, error };
    });
    if (kept.length === 0) {
      throw new EmptyDatasetError(
        n === 0
          ? 'the file has 0 rows: there is nothing to train on or evaluate'
          : `all ${n} rows were skipped (onError: 'skip'); the first: row ${skipped[0].row}: ${skipped[0].reason}`,
        { file },
      );
    }
    const keptLabels = Int32Array.from(kept, (r) => labels[r]);
    return new ParquetImageDataset({
      file,
      images: packImages(kept, cols.images as Uint8Array[]),
      paths: kept.map((r) => cols.paths[r] ?? null),
      labels: keptLabels,
      sourceRows: Int32Array.from(kept, (r) => first + r),
      headers: kept.map((r) => headers[r] as ImageHeader),
      classNames,
      imageSize: targetSize,
      resize,
      cache,
      subjects: subjects ? kept.map((r) => subjects[r]) : undefined,
      slices: slices ? Int32Array.from(kept, (r) => slices[r]) : undefined,
      skipped,
      stats: { readMs, decodeMs, threads },
      imageIsStruct: cols.imageIsStruct,
      imageColumn: cols.imageIsStruct ? `${imageColumn}.bytes` : imageColumn,
    });
  }

  /** Number of rows (after skipping bad ones). */
  get length(): number {
    return this.labels.length;
  }

  /** Whether decoded pixels are cached in memory. */
  get cached(): boolean {
    return this.#cache !== null;
  }

  /** Number of rows of each class, indexed by label. */
  classCounts(): number[] {
    const counts = new Array<number>(this.classNames.length).fill(0);
    for (const l of this.labels) counts[l]++;
    return counts;
  }

  /**
   * Decoded image, label and source path of row `i` (a copy: changing it does not change the dataset).
   * @param i Row index, `0 <= i < length`.
   */
  get(i: number): ImageExample {
    this.#check(i);
    const px = this.imageSize[0] * this.imageSize[1];
    const image = new Float32Array(px);
    this.#readInto(i, image);
    const path = this.#paths[i];
    return path === null ? { image, label: this.labels[i] } : { image, label: this.labels[i], path };
  }

  /**
   * Writes the images of rows `indices` into `out`, back to back (used by {@link iterateBatches}).
   * @param indices Row indices.
   * @param out `indices.length * H * W` floats.
   */
  readImagesInto(indices: ArrayLike<number>, out: Float32Array): void {
    const px = this.imageSize[0] * this.imageSize[1];
    if (out.length < indices.length * px) throw new DataOptionError(`out has ${out.length} floats, need ${indices.length * px}`);
    for (let k = 0; k < indices.length; k++) {
      this.#check(indices[k]);
      this.#readInto(indices[k], out.subarray(k * px, (k + 1) * px));
    }
  }

  /**
   * Encoded image bytes of row `i` (a view into the dataset's buffer of all images: copy it before changing it).
   * @param i Row index.
   */
  imageBytes(i: number): Uint8Array {
    this.#check(i);
    return this.#bytes(i);
  }

  /**
   * Source path of row `i`'s image: the `path` field of a HuggingFace `{bytes, path}` image struct, or `undefined`
   * when the file has none for that row (plain binary image columns never have one). The row's label is `labels[i]`
   * and its row in the file `sourceRows[i]`.
   * @param i Row index.
   */
  imagePath(i: number): string | undefined {
    this.#check(i);
    return this.#paths[i] ?? undefined;
  }

  /**
   * Format, size, colour mode and bit depth of the source image of row `i`.
   * @param i Row index.
   */
  imageHeader(i: number): ImageHeader {
    this.#check(i);
    return { ...this.#headers[i] };
  }

  /**
   * Batches over this dataset: shorthand for {@link iterateBatches}`(this, options)`.
   * @param options Batch options.
   */
  batches(options: BatchOptions = {}): AsyncIterableIterator<Batch> {
    return iterateBatches(this, options);
  }

  #check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new DataOptionError(`row index ${i} is out of range 0..${this.length - 1}`, { file: this.file });
    }
  }

  #bytes(i: number): Uint8Array {
    const { data, offsets } = this.#images;
    return data.subarray(offsets[i], offsets[i + 1]);
  }

  #readInto(i: number, out: Float32Array): void {
    const px = out.length;
    if (this.#cache) {
      out.set(this.#cache.subarray(i * px, (i + 1) * px));
      return;
    }
    decodeImageSync(this.#bytes(i), { targetSize: this.imageSize, resize: this.#resize },
      { file: this.file, row: this.sourceRows[i], column: this.#imageColumn }, out);
  }
}

async function readInput(input: string | URL | Uint8Array | ArrayBuffer, name?: string): Promise<{ bytes: Uint8Array; file: string }> {
  if (input instanceof Uint8Array) return { bytes: input, file: name ?? '<bytes>' };
  if (input instanceof ArrayBuffer) return { bytes: new Uint8Array(input), file: name ?? '<bytes>' };
  const file = typeof input === 'string' ? input : input.href.startsWith('file:') ? decodeURIComponent(input.pathname) : input.href;
  const fs = nodeFs(`reading the Parquet file '${file}'`);
  try {
    const buf = await fs.readFile(input);
    return { bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), file };
  } catch (e) {
    throw new DataError(`cannot read file: ${(e as Error).message}`, { file }, { cause: e });
  }
}

// An optional column: the default name is read when present, a name the user gave must be there, null skips it.
function optionalColumn(given: string | null | undefined, fallback: string, option: string): ExtraColumn | null {
  if (given === null) return null;
  if (given === undefined) return { name: fallback, required: false };
  if (typeof given !== 'string' || given.length === 0) throw new DataOptionError(`${option} must be a column name or null, got ${JSON.stringify(given)}`);
  return { name: given, required: true };
}

function toSubject(v: unknown, loc: { file: string; row: number; column: string }): string {
  if (v === null || v === undefined) throw new InvalidSubjectError('subject is null', loc);
  const text = labelText(v) ?? (typeof v === 'bigint' || typeof v === 'number' ? String(v) : undefined);
  if (text === undefined) throw new InvalidSubjectError(`subject ${String(v)} is neither a string nor a number`, loc);
  if (text.trim() === '') throw new InvalidSubjectError('subject is empty', loc);
  return text;
}

function toSlice(v: unknown, loc: { file: string; row: number; column: string }): number {
  if (v === null || v === undefined) throw new InvalidSliceError('slice is null', loc);
  const num = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : NaN;
  if (!Number.isInteger(num) || Math.abs(num) > 2 ** 31 - 1) throw new InvalidSliceError(`slice ${String(v)} is not an integer`, loc);
  return num;
}

function labelText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return undefined;
}

// Digit strings ("0", "2", "13") are class indices, like integer cells.
const DIGITS = /^[0-9]+$/;

// Class names come from the `classNames` option or the file's ClassLabel metadata, never from the strings a file
// happens to hold (a class absent from one file would shift every later label).
function resolveClassNames(given: readonly string[] | undefined, fromMetadata: string[] | undefined, cells: unknown[], file: string, column: string): string[] {
  if (given !== undefined) {
    if (!Array.isArray(given) || given.length === 0 || !given.every((s) => typeof s === 'string') || new Set(given).size !== given.length) {
      throw new DataOptionError(`classNames must be distinct strings, got ${JSON.stringify(given)}`, { file, column });
    }
    return [...given];
  }
  if (fromMetadata) return fromMetadata;
  for (let row = 0; row < cells.length; row++) {
    const s = labelText(cells[row]);
    if (s !== undefined && !DIGITS.test(s)) {
      throw new InvalidLabelError(
        `label '${s}' is a class name but no class names were given and the file has no ClassLabel metadata: pass classNames ` +
          `(e.g. the model's class names, or ALZHEIMER_CLASS_NAMES) so that names map to the same indices in every file`,
        { file, row, column },
      );
    }
  }
  return ['0', '1', '2', '3'];
}

function toLabel(v: unknown, classNames: readonly string[], index: Map<string, number>, loc: { file: string; row: number; column: string }): number {
  if (v === null || v === undefined) throw new InvalidLabelError('label is null', loc);
  const text = labelText(v);
  let num: number;
  if (text !== undefined) {
    const k = index.get(text);
    if (k !== undefined) return k;
    if (!DIGITS.test(text)) throw new InvalidLabelError(`label '${text}' is not one of the class names ${JSON.stringify(classNames)}`, loc);
    num = Number(text);
  } else {
    num = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : NaN;
  }
  if (!Number.isInteger(num)) throw new InvalidLabelError(`label ${String(v)} is not an integer class index`, loc);
  if (num < 0 || num >= classNames.length) {
    throw new InvalidLabelError(`label ${num} is out of range 0..${classNames.length - 1} (${classNames.length} classes)`, loc);
  }
  return num;
}

// The kept rows' image bytes copied back to back into one buffer: one allocation instead of one per row, and the
// file's decoded columns can be dropped.
function packImages(kept: number[], images: Uint8Array[]): PackedImages {
  let total = 0;
  for (const r of kept) total += images[r].length;
  const data = new Uint8Array(total);
  const offsets = new Int32Array(kept.length + 1);
  kept.forEach((r, k) => {
    data.set(images[r], offsets[k]);
    offsets[k + 1] = offsets[k] + images[r].length;
  });
  return { data, offsets };
}
