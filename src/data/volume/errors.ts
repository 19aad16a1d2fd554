import { DataError } from '../errors.js';

/** Thrown when a volume file (NIfTI, ANALYZE, DICOM) or a DICOM folder cannot be read: names it and what is wrong with it. */
export class VolumeReadError extends DataError {
  /**
   * @param reason What is wrong.
   * @param file The file or folder (or `'<bytes>'`).
   */
  constructor(reason: string, file: string) {
    super(reason, { file });
  }
}
