// Reading the image and label columns of a Parquet file with hyparquet (pure JS: same code in Node and browsers).
import { parquetMetadata, parquetRead, parquetSchema, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { DataOptionError, EmptyFileError, MissingColumnError, NotParquetError, TruncatedParquetError, UnsupportedCompressionError } from './errors.js';

/** Raw cells of the two columns, one entry per Parquet row. */
export interface ParquetColumns {
  /** Encoded image bytes per row (`null` for a null cell). */
  images: Array<Uint8Array | null>;
  /** `image.path` per row when the image column is a struct with `path`, else all `undefined`. */
  paths: Array<string | undefined>;
  /** Raw label cells. */
  labels: unknown[];
  /** Raw cells of the optional columns that were asked for and are present (e.g. `subject`, `slice`), by column name. */
  extra: Record<string, unknown[]>;
  /** Class names from the HuggingFace `ClassLabel` metadata of the label column, if present. */
  metadataClassNames?: string[];
  /** Whether the image column is a `{bytes, path}` struct (HuggingFace layout) rather than plain binary. */
  imageIsStruct: boolean;
  /** Parquet file metadata. */
  metadata: FileMetaData;
}

// GZIP, BROTLI, ZSTD, LZ4 and LZ4_RAW from hyparquet-compressors (pure JavaScript: also in browsers). SNAPPY stays
// hyparquet's built-in decoder (what every file read before used), not the package's WebAssembly one.
const DECOMPRESSORS = { GZIP: compressors.GZIP, BROTLI: compressors.BROTLI, ZSTD: compressors.ZSTD, LZ4: compressors.LZ4, LZ4_RAW: compressors.LZ4_RAW };

/**
 * Parquet compression codecs this reader decompresses: UNCOMPRESSED and SNAPPY (hyparquet's own), GZIP, BROTLI,
 * ZSTD, LZ4 and LZ4_RAW (hyparquet-compressors). Another codec (LZO) is an {@link data!UnsupportedCompressionError}.
 */
export const SUPPORTED_PARQUET_CODECS: readonly string[] = Object.freeze(['UNCOMPRESSED', 'SNAPPY', ...Object.keys(DECOMPRESSORS)]);

const MAGIC = [0x50, 0x41, 0x52, 0x31]; // "PAR1"

function hasMagic(b: Uint8Array, at: number): boolean {
  return at >= 0 && MAGIC.every((m, i) => b[at + i] === m);
}

/** Class names declared by a HuggingFace `datasets` `ClassLabel` feature in the file's key/value metadata. */
export function huggingFaceClassNames(metadata: FileMetaData, labelColumn: string): string[] | undefined {
  const kv = metadata.key_value_metadata?.find((e) => e.key === 'huggingface');
  if (!kv?.value) return undefined;
  try {
    const info = JSON.parse(kv.value) as { info?: { features?: Record<string, { _type?: string; names?: unknown }> } };
    const feature = info.info?.features?.[labelColumn];
    if (feature?._type === 'ClassLabel' && Array.isArray(feature.names) && feature.names.every((n) => typeof n === 'string')) {
      return feature.names as string[];
    }
  } catch {
    // Malformed metadata is not an error of the data itself: fall back to the default names.
  }
  return undefined;
}

/** An optional column to read besides image and label: `required` ones raise {@link data!MissingColumnError} when absent. */
export interface ExtraColumn {
  /** Column name. */
  name: string;
  /** Absent = error (the user named it) rather than skipped (a default name). */
  required: boolean;
}

/**
 * Reads the image and label columns of a Parquet file held in memory, and the extra columns that are present.
 * @param bytes Whole file.
 * @param file Name used in error messages.
 * @param extraColumns Further columns (subject, slice...): read when present; absent required ones are an error.
 */
export async function readParquetColumns(
  bytes: Uint8Array,
  file: string,
  imageColumn: string,
  labelColumn: string,
  extraColumns: readonly ExtraColumn[] = [],
  range?: readonly [number, number],
): Promise<ParquetColumns> {
  if (bytes.length === 0) throw new EmptyFileError('file is empty (0 bytes)', { file });
  const head = hasMagic(bytes, 0);
  if (!head) throw new NotParquetError('not a Parquet file (does not start with PAR1)', { file });
  if (bytes.length < 12 || !hasMagic(bytes, bytes.length - 4)) {
    throw new TruncatedParquetError(`Parquet file is truncated: ${bytes.length} bytes and no PAR1 footer`, { file });
  }
  const ab = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.slice().buffer as ArrayBuffer);
  let metadata: FileMetaData;
  let top: ReturnType<typeof parquetSchema>['children'];
  try {
    metadata = parquetMetadata(ab);
    top = parquetSchema(metadata).children; // a corrupt footer can parse yet describe an impossible schema tree
  } catch (e) {
    throw new TruncatedParquetError(`Parquet footer cannot be read: ${(e as Error).message}`, { file }, { cause: e });
  }
  const names = top.map((c) => c.element.name);
  const imageNode = top.find((c) => c.element.name === imageColumn);
  if (!imageNode) throw new MissingColumnError(`no image column '${imageColumn}'; columns are ${names.join(', ')}`, { file, column: imageColumn });
  if (!names.includes(labelColumn)) throw new MissingColumnError(`no label column '${labelColumn}'; columns are ${names.join(', ')}`, { file, column: labelColumn });
  for (const c of extraColumns) {
    if (c.required && !names.includes(c.name)) throw new MissingColumnError(`no column '${c.name}'; columns are ${names.join(', ')}`, { file, column: c.name });
  }
  const extraNames = extraColumns.map((c) => c.name).filter((n) => names.includes(n) && n !== imageColumn && n !== labelColumn);
  const imageIsStruct = imageNode.children.length > 0;
  if (imageIsStruct && !imageNode.children.some((c) => c.element.name === 'bytes')) {
    throw new MissingColumnError(
      `image column '${imageColumn}' is a struct without a 'bytes' field (fields: ${imageNode.children.map((c) => c.element.name).join(', ')})`,
      { file, column: `${imageColumn}.bytes` },
    );
  }
  if (!imageIsStruct && imageNode.element.type !== 'BYTE_ARRAY') {
    throw new MissingColumnError(`image column '${imageColumn}' has type ${imageNode.element.type}, expected binary or a {bytes, path} struct`, { file, column: imageColumn });
  }
  const wanted = new Set([imageColumn, labelColumn, ...extraNames]);
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      const codec = chunk.meta_data?.codec;
      const column = chunk.meta_data?.path_in_schema.join('.');
      if (codec === undefined || column === undefined || !wanted.has(chunk.meta_data!.path_in_schema[0])) continue;
      if (!SUPPORTED_PARQUET_CODECS.includes(codec)) {
        throw new UnsupportedCompressionError(
          `column is compressed with ${codec}, which cannot be decompressed here (supported: ${SUPPORTED_PARQUET_CODECS.join(', ')}); rewrite the file with another compression, e.g. pyarrow.parquet.write_table(t, path, compression='zstd')`,
          { file, column },
        );
      }
    }
  }
  const rowsInFile = Number(metadata.num_rows);
  const [rowStart, rowEnd] = range ?? [0, rowsInFile];
  if (!(Number.isInteger(rowStart) && Number.isInteger(rowEnd) && rowStart >= 0 && rowStart <= rowEnd && rowEnd <= rowsInFile)) {
    throw new DataOptionError(`rows [${rowStart}, ${rowEnd}) must lie within the file's ${rowsInFile} rows`);
  }
  const numRows = rowEnd - rowStart;
  let rows: Array<Record<string, unknown>> = [];
  try {
    await parquetRead({
      file: ab,
      metadata,
      compressors: DECOMPRESSORS,
      columns: [imageColumn, labelColumn, ...extraNames],
      rowFormat: 'object',
      rowStart,
      rowEnd,
      utf8: false, // keep image bytes binary; UTF8-annotated columns (path, string labels) still decode as text
      onComplete: (r) => { rows = r as Array<Record<string, unknown>>; },
    });
  } catch (e) {
    throw new TruncatedParquetError(`Parquet data cannot be read (truncated or corrupt): ${(e as Error).message}`, { file }, { cause: e });
  }
  if (rows.length !== numRows) {
    throw new TruncatedParquetError(`Parquet footer declares ${rowsInFile} rows but ${rows.length} of rows [${rowStart}, ${rowEnd}) could be read`, { file });
  }
  const images: Array<Uint8Array | null> = new Array(numRows);
  const paths: Array<string | undefined> = new Array(numRows);
  const labels: unknown[] = new Array(numRows);
  const extra: Record<string, unknown[]> = Object.fromEntries(extraNames.map((n) => [n, new Array<unknown>(numRows)]));
  for (let i = 0; i < numRows; i++) {
    const cell = rows[i][imageColumn] as unknown;
    if (imageIsStruct) {
      const s = cell as { bytes?: unknown; path?: unknown } | null | undefined;
      images[i] = s?.bytes instanceof Uint8Array ? s.bytes : null;
      paths[i] = typeof s?.path === 'string' ? s.path : undefined;
    } else {
      images[i] = cell instanceof Uint8Array ? cell : null;
    }
    labels[i] = rows[i][labelColumn];
    for (const n of extraNames) extra[n][i] = rows[i][n];
  }
  return { images, paths, labels, extra, metadataClassNames: huggingFaceClassNames(metadata, labelColumn), imageIsStruct, metadata };
}

/**
 * Rows a Parquet file declares in its footer (no column is read).
 * @param bytes Whole file.
 * @param file Name for messages.
 * @throws NotParquetError / TruncatedParquetError naming the file.
 */
export function parquetRowCount(bytes: Uint8Array, file: string): number {
  if (bytes.length < 12 || !hasMagic(bytes, 0)) throw new NotParquetError('not a Parquet file (does not start with PAR1)', { file });
  if (!hasMagic(bytes, bytes.length - 4)) throw new TruncatedParquetError(`Parquet file is truncated: ${bytes.length} bytes and no PAR1 footer`, { file });
  const ab = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
  try {
    return Number(parquetMetadata(ab).num_rows);
  } catch (e) {
    throw new TruncatedParquetError(`Parquet footer cannot be read: ${(e as Error).message}`, { file }, { cause: e });
  }
}
