// The training flags of `neurostagenet train`: neurostagenet/train's flag parser (shared with examples/train.ts and
// scripts/ship-model.ts), with its mistakes as usage errors (exit code 2).
import { parseTrainingFlags, TRAINING_FLAGS, TRAINING_FLAGS_HELP, TrainingFlagError, type TrainingFlags } from '../train/flags.js';
import { UsageError, type Values } from './args.js';

/** parseArgs spec of the training flags (without the global --backend, --out, --help). */
export const TRAIN_OPTIONS = TRAINING_FLAGS;

/** Help text of the training flags (the Data and Recipe sections). */
export const TRAIN_OPTIONS_HELP = TRAINING_FLAGS_HELP;

/** What the training flags resolve to. */
export type TrainFlags = TrainingFlags;

/**
 * Reads the training flags from parsed values ({@link parseTrainingFlags}).
 * @param values parseArgs values (with {@link TRAIN_OPTIONS}).
 * @param command Subcommand named in errors.
 * @throws UsageError naming the flag and the bad value.
 */
export function parseTrainFlags(values: Values, command?: string): TrainFlags {
  try {
    return parseTrainingFlags(values);
  } catch (e) {
    if (e instanceof TrainingFlagError) throw new UsageError(e.message, command);
    throw e;
  }
}
