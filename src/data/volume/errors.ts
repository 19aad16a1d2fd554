import { DataError } from '../errors.js';

/** Thrown when a volume file (NIfTI, ANALYZE) cannot be read: names the file and what is wrong with it. */
export class VolumeReadError extends DataError {
  /**
   * @param reason What is wrong.
   * @param file The file (or `'<bytes>'`).
   */
  constructor(reason: string, file: string) {
    super(reason, { file });
  }
}
