/**
 * Base class of every error neurostagenet throws on purpose. Catch this to tell a problem with the user's
 * data or options (which the message names) from a bug.
 */
export class NeuroStageNetError extends Error {
  /** @param message What went wrong, naming the bad file, row, column or value. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
