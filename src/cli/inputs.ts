// Inputs of predict / explain / evaluate: a Parquet file of labelled images or image files (PNG / JPEG), and the
// model (a directory or the shipped one).
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { ParquetImageDataset } from '../data/dataset.js';
import { decodeImage, sniffImageFormat } from '../data/decode.js';
import { DataError } from '../data/errors.js';
import type { ImageExample, LabeledImageSource } from '../data/types.js';
import { loadPretrainedNeuroStageNet, withDataClassNames, type PretrainedNeuroStageNet } from '../models/pretrained.js';
import { optimizeForInference } from '../models/optimize.js';
import { UsageError, requireExistingPath, requireInputFile, stringOption, type Values } from './args.js';
import type { CliContext } from './context.js';

/** Options shared by the commands that read Parquet files. */
export const PARQUET_OPTIONS = {
  'image-column': { type: 'string' },
  'label-column': { type: 'string' },
  'subject-column': { type: 'string' },
  'slice-column': { type: 'string' },
} as const;

/** Help lines of the subject / slice column flags (each command lists them under its image / label columns). */
export const SUBJECT_COLUMN_HELP = `  --subject-column NAME   person of each row (default 'subject' when present; 'none' ignores it)
  --slice-column NAME     slice level of each row (default 'slice' when present; 'none' ignores it)`;

// --subject-column none -> null (ignore), a name -> that column (must exist), absent -> the default when present.
function columnFlag(values: Values, name: string): string | null | undefined {
  const v = stringOption(values, name);
  return v === 'none' ? null : v;
}

/** Opens a Parquet file with the --image-column / --label-column / --subject-column / --slice-column options at `imageSize`. */
export async function openParquet(path: string, values: Values, imageSize: readonly [number, number], command: string): Promise<ParquetImageDataset> {
  requireInputFile(path, command, 'a Parquet file');
  return ParquetImageDataset.fromFile(path, {
    imageColumn: stringOption(values, 'image-column'),
    labelColumn: stringOption(values, 'label-column'),
    subjectColumn: columnFlag(values, 'subject-column'),
    sliceColumn: columnFlag(values, 'slice-column'),
    targetSize: imageSize,
  });
}

/** Image files decoded to grayscale at the model's size; labels are unknown (all 0, not reported). */
class ImageFilesSource implements LabeledImageSource {
  readonly labels: Int32Array;
  constructor(
    readonly files: string[],
    readonly images: Float32Array[],
    readonly classNames: readonly string[],
    readonly imageSize: readonly [number, number],
  ) {
    this.labels = new Int32Array(files.length);
  }
  get length(): number {
    return this.files.length;
  }
  get(i: number): ImageExample {
    return { image: this.images[i].slice(), label: 0, path: this.files[i] };
  }
}

/** What predict / explain run on. */
export interface ModelInput {
  source: LabeledImageSource;
  /** True labels are known (Parquet input). */
  labelled: boolean;
  /** A name for row `i` of the source: the image file, or `<file> row <n>`. */
  nameOf(i: number): string;
  /** Row of the input file (Parquet) or index of the image argument. */
  rowOf(i: number): number;
  /** The model description to use with this input (a model without class names takes a Parquet file's). */
  model: PretrainedNeuroStageNet;
}

/**
 * Checks every input path of predict / explain (exists, not a directory) before anything slow (backend, model).
 * @throws UsageError naming the first bad path.
 */
export function checkInputFiles(paths: readonly string[], command: string): void {
  for (const p of paths) {
    // A folder is a DICOM series; readVolume says what is wrong with it.
    if (!statSync(p, { throwIfNoEntry: false })?.isDirectory()) requireInputFile(p, command);
  }
}

const VOLUME_NAME = /\.(nii|hdr|img|dcm|dicom|ima)(\.gz)?$/i;

/**
 * Whether a command-line input is a scan read by `readVolume`: a folder (a DICOM series), a NIfTI / ANALYZE / DICOM
 * file by its name, or a file whose bytes carry DICOM's 'DICM' mark (scanner files often have no extension).
 */
export function isVolumePath(path: string): boolean {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat?.isDirectory()) return true;
  if (VOLUME_NAME.test(path)) return true;
  if (!stat?.isFile() || stat.size < 132) return false;
  const head = Buffer.alloc(132);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 132, 0);
  } finally {
    closeSync(fd);
  }
  return head.toString('latin1', 128, 132) === 'DICM';
}

/**
 * Checks the inputs and the model directory named on the command line (`<model-dir|--pretrained> <input...>`) before
 * the backend starts or the model loads: a missing input is reported at once.
 * @throws UsageError naming the first bad path.
 */
export function checkModelAndInputs(values: Values, positionals: readonly string[], command: string): void {
  checkInputFiles(values.pretrained ? positionals : positionals.slice(1), command);
  if (!values.pretrained && positionals.length > 0) requireExistingPath(positionals[0], 'model directory', command);
}

/**
 * Reads the inputs: exactly one Parquet file, or one or more PNG / JPEG files (recognised by their bytes).
 * @throws UsageError for a missing file or a Parquet file mixed with others; DataError for unreadable files.
 */
export async function openInputs(paths: string[], values: Values, model: PretrainedNeuroStageNet, command: string): Promise<ModelInput> {
  checkInputFiles(paths, command);
  const kinds: Array<'parquet' | 'image'> = [];
  for (const p of paths) {
    let head: Uint8Array;
    try {
      // Only the magic bytes: the Parquet file itself is read once, by the dataset.
      const handle = await open(p, 'r');
      try {
        head = new Uint8Array(16);
        const { bytesRead } = await handle.read(head, 0, 16, 0);
        head = head.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    } catch (e) {
      throw new DataError(`cannot read file: ${(e as Error).message}`, { file: p }, { cause: e });
    }
    const isParquet = head.length >= 4 && String.fromCharCode(...head.subarray(0, 4)) === 'PAR1';
    const format = sniffImageFormat(head);
    if (isParquet) kinds.push('parquet');
    else if (format === 'png' || format === 'jpeg') kinds.push('image');
    else throw new DataError(`not a Parquet file or a PNG / JPEG image (format: ${format})`, { file: p });
  }
  if (kinds.includes('parquet')) {
    if (paths.length > 1) throw new UsageError('give either one Parquet file or image files, not both / several Parquet files', command);
    const ds = await openParquet(paths[0], values, model.imageSize, command);
    if (ds.classNames.length !== model.classNames.length) {
      throw new DataError(`the file has ${ds.classNames.length} classes but the model predicts ${model.classNames.length}`, { file: paths[0] });
    }
    return { source: ds, labelled: true, nameOf: (i) => `${basename(paths[0])} row ${ds.sourceRows[i]}`, rowOf: (i) => ds.sourceRows[i], model: withDataClassNames(model, ds.classNames) };
  }
  const images: Float32Array[] = [];
  for (const p of paths) {
    try {
      images.push((await decodeImage(new Uint8Array(await readFile(p)), { targetSize: model.imageSize })).pixels);
    } catch (e) {
      if (e instanceof DataError && e.file === undefined) throw new DataError(e.reason, { file: p }, { cause: e });
      throw e;
    }
  }
  const source = new ImageFilesSource(paths, images, model.classNames, model.imageSize);
  return { source, labelled: false, nameOf: (i) => paths[i], rowOf: (i) => i, model };
}

/** The --pretrained flag. */
export const MODEL_OPTIONS = { pretrained: { type: 'boolean' } } as const;

/**
 * Loads the model named by the first positional (a model directory), or the shipped one with --pretrained.
 * @returns The model and the remaining positionals.
 */
export async function openModel(values: Values, positionals: string[], ctx: CliContext, command: string): Promise<{ model: PretrainedNeuroStageNet; rest: string[] }> {
  let model: PretrainedNeuroStageNet;
  let rest: string[];
  if (values.pretrained) {
    model = await loadPretrainedNeuroStageNet();
    rest = positionals;
  } else {
    if (positionals.length === 0) throw new UsageError('missing argument: a model directory (or --pretrained)', command);
    const dir = requireExistingPath(positionals[0], 'model directory', command);
    model = await loadPretrainedNeuroStageNet({ location: resolve(dir) });
    rest = positionals.slice(1);
  }
  const t = model.temperature === 1 ? '' : `, temperature ${model.temperature.toFixed(3)}`;
  // These commands only infer: run the inference copy (normalizations folded into the layers before them).
  const { model: fast, report } = await optimizeForInference(model.model);
  model.model.dispose();
  model = { ...model, model: fast };
  ctx.note(`model: ${model.location} (${model.imageSize[0]}x${model.imageSize[1]} input, classes ${model.classNames.join(', ')}${t}; ` +
    `inference copy: ${report.folded.length} normalizations folded, ${report.removed.length} dropout layers removed)`);
  return { model, rest };
}
