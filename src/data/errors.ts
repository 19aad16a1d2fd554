import { NeuroStageNetError } from '../errors.js';

/** Where in a dataset a problem was found. Every field is optional because not every problem has all of them. */
export interface DataErrorLocation {
  /** File path (or `'<bytes>'` when the dataset was given as bytes). */
  file?: string;
  /** 0-based row index in the file. */
  row?: number;
  /** Column name. */
  column?: string;
}

function describe(loc: DataErrorLocation): string {
  const parts: string[] = [];
  if (loc.file !== undefined) parts.push(`file ${loc.file}`);
  if (loc.row !== undefined) parts.push(`row ${loc.row}`);
  if (loc.column !== undefined) parts.push(`column '${loc.column}'`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/**
 * Base class of every data-pipeline error. Carries the file, row and column the problem was found at;
 * the message names them too.
 */
export class DataError extends NeuroStageNetError {
  /** File path, or `'<bytes>'` for in-memory input. */
  readonly file?: string;
  /** 0-based row index, when the problem belongs to one row. */
  readonly row?: number;
  /** Column name, when the problem belongs to one column. */
  readonly column?: string;
  /** Message without the location suffix: what `ds.skipped[].reason` records. */
  readonly reason: string;

  /**
   * @param reason What went wrong.
   * @param location File, row and column it went wrong at.
   * @param options `cause`: the underlying error, if any.
   */
  constructor(reason: string, location: DataErrorLocation = {}, options?: { cause?: unknown }) {
    super(reason + describe(location), options);
    this.reason = reason;
    this.file = location.file;
    this.row = location.row;
    this.column = location.column;
  }
}

/** The file is empty (0 bytes). */
export class EmptyFileError extends DataError {}

/** The file is not a Parquet file (no `PAR1` magic at its start and end). */
export class NotParquetError extends DataError {}

/** The file starts like Parquet but is cut short or its footer / pages cannot be read. */
export class TruncatedParquetError extends DataError {}

/** A required column (image, label, a subject or slice column named in the options, or `bytes` inside the image struct) is absent. */
export class MissingColumnError extends DataError {}

/** A label is null, not an integer, out of range, or a class name that is not in `classNames`. */
export class InvalidLabelError extends DataError {}

/** A subject cell is null or empty in a present subject column: the row cannot be assigned to a person. */
export class InvalidSubjectError extends DataError {}

/** A slice cell is null or not an integer in a present slice column. */
export class InvalidSliceError extends DataError {}

/** An image cell is null or empty. */
export class MissingImageError extends DataError {}

/** The image bytes are in a format that is recognised but not supported (e.g. GIF, WebP, progressive 12-bit JPEG). */
export class UnsupportedImageFormatError extends DataError {}

/** The image bytes look like a supported format but cannot be decoded (corrupt or truncated). */
export class ImageDecodeError extends DataError {}

/** An image is not `targetSize` and the dataset was opened with `resize: 'reject'`. */
export class ImageSizeError extends DataError {}

/** An option has a bad value (names the option and the value). */
export class DataOptionError extends DataError {}

/** The Parquet file compresses a column with a codec this reader cannot decompress (e.g. LZO); names the codec and the column. */
export class UnsupportedCompressionError extends DataError {}

/** The dataset has no rows: the file holds 0 rows, or every row was skipped with `onError: 'skip'`. Names the file. */
export class EmptyDatasetError extends DataError {}
