/**
 * Reading a training run of examples/train.ts (or `neurostagenet train`) back: run.json and history.json when the run
 * has ended, else the epoch lines of its log and the flags it was started with; a consistent copy of its best
 * checkpoint; and which epoch that checkpoint is. Used by scripts/ship-model.ts.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TRAINING_FLAGS, flattenTrainingFlags, parseTrainingFlags, type TrainingRunOptions, type TrainingRunRecord } from 'neurostagenet/train';

/** A mistake in the command line or in the run it names (a missing file, a flag a run in progress needs): printed as one line, exit code 2. */
export class UsageError extends Error {}

/** One epoch of the training run, from history.json or a log line. */
export interface EpochFigures {
  /** 1-based epoch number. */
  epoch: number;
  /** Wall seconds of the epoch (validation included). */
  seconds: number;
  /** Figures by name (loss, accuracy, val_loss, val_accuracy, val_auc, lr). */
  values: Record<string, number>;
}

/** What a training log says. */
export interface TrainingLog {
  /** Epoch lines, in order (a restarted run's later lines replace earlier ones of the same epoch). */
  epochs: EpochFigures[];
  /** Planned epochs (the N of "epoch i/N"). */
  plannedEpochs?: number;
  /** Backend line. */
  backend?: string;
  /** The split line's seed and row counts. */
  split?: { seed: number; trainRows: number; validationRows: number };
  /** Parameter counts. */
  params?: { trainable: number; nonTrainable: number; total: number };
  /** The recipe name. */
  recipe?: string;
}

/**
 * Reads the lines a training run prints: `backend: …`, `split (seed S): A train / B validation rows`,
 * `NeuroStageNet: {params}; recipe: R` and `epoch i/N  12.3s  loss … val_auc … lr 1.00e-3`.
 * @param text The log.
 * @returns What it found.
 */
export function parseTrainingLog(text: string): TrainingLog {
  const out: TrainingLog = { epochs: [] };
  const byEpoch = new Map<number, EpochFigures>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    let m = /^epoch (\d+)\/(\d+)\s+([\d.]+)s\s+(.*)$/.exec(line);
    if (m) {
      const values: Record<string, number> = {};
      const tokens = m[4].split(/\s+/);
      for (let i = 0; i + 1 < tokens.length; i += 2) {
        const v = Number(tokens[i + 1]);
        if (Number.isFinite(v)) values[tokens[i]] = v;
      }
      byEpoch.set(Number(m[1]), { epoch: Number(m[1]), seconds: Number(m[3]), values });
      out.plannedEpochs = Number(m[2]);
      continue;
    }
    if ((m = /^backend: (\S+)/.exec(line))) out.backend = m[1];
    else if ((m = /^split \(seed (\d+)[^:]*\): (\d+) train \/ (\d+) validation rows/.exec(line))) {
      out.split = { seed: Number(m[1]), trainRows: Number(m[2]), validationRows: Number(m[3]) };
    } else if ((m = /^NeuroStageNet: (\{.*\}); recipe: (\S+)/.exec(line))) {
      try {
        out.params = JSON.parse(m[1]) as TrainingLog['params'];
      } catch {
        // not the parameter line after all
      }
      out.recipe = m[2];
    }
  }
  out.epochs = [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
  return out;
}

/** A run's recipe as run.json stores it. */
export type Recipe = TrainingRunOptions;

/**
 * The recipe of a training command line, resolved by the library's flag parser (used only while a run has not
 * written run.json, which records the resolved options).
 * @param args The arguments after `examples/train.ts`.
 * @returns The recipe.
 */
export function recipeFromTrainArgs(args: string[]): Recipe {
  const { values } = parseArgs({ args, strict: false, allowPositionals: true, options: { ...TRAINING_FLAGS, backend: { type: 'string' }, out: { type: 'string' } } });
  return flattenTrainingFlags(parseTrainingFlags(values));
}

/** Largest difference between a logged validation figure and the one re-measured on the checkpoint that counts as a match. */
const VAL_AUC_MATCH = 0.003;

/**
 * Index of the epoch whose weights the best checkpoint holds: the epoch with the best logged monitored figure (what
 * `modelCheckpoint({ saveBestOnly })` keeps: the first of equal bests), which must agree with the figure re-measured
 * on the checkpoint.
 * @param valAucs Logged monitored figure (val_auc or val_person_auc) per epoch (NaN where missing).
 * @param measured The same figure measured on the checkpoint now.
 * @returns The index, or -1 when no epoch has a val AUC.
 * @throws When the checkpoint does not match the best logged epoch (e.g. a newer epoch is not logged yet).
 */
export function checkpointEpochIndex(valAucs: readonly number[], measured: number | undefined): number {
  const best = valAucs.reduce((b, v, i) => (Number.isFinite(v) && (b < 0 || v > valAucs[b]) ? i : b), -1);
  if (best < 0 || measured === undefined) return best;
  if (Math.abs(valAucs[best] - measured) > VAL_AUC_MATCH) {
    throw new Error(
      `the checkpoint's validation figure is ${measured.toFixed(4)} but the best logged epoch (${best + 1}) has ${valAucs[best].toFixed(4)}: ` +
        'the checkpoint is from an epoch not logged yet (or another run); run again after the next epoch line',
    );
  }
  return best;
}

/** Where to find a run and, while it has no run.json / history.json yet, what its flags were. */
export interface RunLocation {
  /** The run directory (best-model/, run.json, history.json). */
  run: string;
  /** The run's log (default `<run>.log`). */
  log?: string;
  /** The arguments the run was started with, as one string (`npx tsx examples/train.ts …` or only the arguments). */
  trainCommand?: string;
  /** Validation share of the run's split (used without run.json). */
  valFraction: number;
  /** The run's seed (used without run.json). */
  seed: number;
  /** The run's image size (used without run.json). */
  imageSize: number;
}

/** A run's facts: from run.json / history.json when it has ended, else from flags and its log. */
export interface TrainingRun {
  /** run.json, when the run has ended. */
  runJson?: Pick<TrainingRunRecord, 'argv' | 'params' | 'wallSeconds' | 'backend'> & { options: Recipe & { trainPath?: string; testPath?: string } };
  /** history.json, when the run has ended (0-based epochs). */
  historyJson?: { epochs: Array<{ epoch: number; seconds: number; [k: string]: number | undefined }>; stoppedEarly: boolean };
  /** The log, when it exists. */
  log?: TrainingLog;
  /** The log's path (it may not exist). */
  logFile: string;
  /** The epochs, from history.json or else the log. */
  epochs: EpochFigures[];
  /** The training command's arguments, when known. */
  trainArgs?: string[];
  /** The recipe: run.json's, else the training command's resolved with the flags' split. */
  recipe: Recipe;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  if (!existsSync(file)) return undefined;
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

/**
 * Reads a training run: run.json and history.json, its log, its epochs, its training command and its recipe.
 * Warns on stderr when neither run.json nor a training command says what the recipe was.
 * @param o Where the run is, and the flags that stand in for run.json while it is in progress.
 * @returns The run's facts.
 * @throws {UsageError} When the run has neither history.json nor epoch lines in its log.
 */
export async function readRun(o: RunLocation): Promise<TrainingRun> {
  const runJson = await readJson<TrainingRun['runJson']>(join(o.run, 'run.json'));
  const historyJson = await readJson<TrainingRun['historyJson']>(join(o.run, 'history.json'));
  const logFile = o.log ?? `${o.run}.log`;
  const log = existsSync(logFile) ? parseTrainingLog(await readFile(logFile, 'utf8')) : undefined;
  let epochs: EpochFigures[];
  if (historyJson) {
    epochs = historyJson.epochs.map((e) => {
      const values: Record<string, number> = {};
      for (const [k, v] of Object.entries(e)) if (k !== 'epoch' && k !== 'seconds' && typeof v === 'number') values[k] = v;
      return { epoch: e.epoch + 1, seconds: e.seconds, values };
    });
  } else if (log && log.epochs.length) {
    epochs = log.epochs;
  } else {
    throw new UsageError(`${o.run} has no history.json and no epoch lines in ${logFile} (pass --log)`);
  }
  const trainArgs = runJson?.argv ?? (o.trainCommand ? o.trainCommand.trim().split(/\s+/).filter((a) => a !== 'npx' && a !== 'tsx' && a !== 'examples/train.ts') : undefined);
  const recipe: Recipe = runJson
    ? { ...runJson.options }
    : { ...recipeFromTrainArgs(trainArgs ?? []), valFraction: o.valFraction, seed: o.seed, imageSize: o.imageSize };
  if (!runJson && !o.trainCommand) console.warn('warning: no run.json and no --train-command: the card\'s recipe shows examples/train.ts defaults');
  return { runJson, historyJson, log, logFile, epochs, trainArgs, recipe };
}

/**
 * The run's epochs as of now: history.json's for an ended run; for a run in progress its log read again (it may have
 * logged the epoch of a newer checkpoint since {@link readRun}).
 * @param run The run.
 * @returns The epochs.
 */
export async function currentEpochs(run: TrainingRun): Promise<EpochFigures[]> {
  return !run.historyJson && run.log ? parseTrainingLog(await readFile(run.logFile, 'utf8')).epochs : run.epochs;
}

/**
 * Copies a checkpoint's model.json + weights.bin, retrying while the source changes under us (a running training may
 * rewrite best-model/ at any time).
 * @param src The checkpoint directory.
 * @param dst Where to copy it.
 * @returns `dst`.
 * @throws When the checkpoint kept changing over five attempts.
 */
export async function snapshotCheckpoint(src: string, dst: string): Promise<string> {
  await mkdir(dst, { recursive: true });
  const stamp = async (): Promise<string> =>
    (await Promise.all(['model.json', 'weights.bin'].map((f) => stat(join(src, f))))).map((s) => `${s.mtimeMs}:${s.size}`).join('|');
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = await stamp();
    for (const f of ['model.json', 'weights.bin']) await copyFile(join(src, f), join(dst, f));
    if ((await stamp()) === before) return dst;
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`${src} kept changing while being copied`);
}
