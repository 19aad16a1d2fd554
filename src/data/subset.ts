import { DataOptionError } from './errors.js';
import type { LabeledImageSource } from './types.js';

/**
 * A view of some rows of a source, in the order given: row `i` of the view is row `rows[i]` of the source. Nothing
 * is copied; images are read from the source when asked for.
 * @param source The full source.
 * @param rows Row indices into `source` (each in range; repeats allowed).
 * @returns A source of `rows.length` rows with the same class names and image size (and the picked rows' subjects and
 *   slices when the source has them).
 * @throws {@link data!DataOptionError} naming the first index out of range.
 * @example
 * ```ts
 * const firstHundred = selectRows(ds, Int32Array.from({ length: 100 }, (_, i) => i));
 * ```
 */
export function selectRows(source: LabeledImageSource, rows: ArrayLike<number>): LabeledImageSource {
  const picked = Int32Array.from(rows);
  for (let i = 0; i < picked.length; i++) {
    if (!Number.isInteger(rows[i]) || rows[i] < 0 || rows[i] >= source.length) {
      throw new DataOptionError(`selectRows: rows[${i}] = ${rows[i]} is not a row of a source of ${source.length} rows`);
    }
  }
  const labels = picked.map((r) => source.labels[r]);
  const { subjects, slices } = source;
  return {
    length: picked.length,
    labels,
    classNames: source.classNames,
    imageSize: source.imageSize,
    get: (i: number) => source.get(picked[i]),
    ...(subjects ? { subjects: Array.from(picked, (r) => subjects[r]) } : {}),
    ...(slices ? { slices: picked.map((r) => slices[r]) } : {}),
  };
}
