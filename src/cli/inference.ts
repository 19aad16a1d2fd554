// Classifying a whole source with a progress bar: one evaluate() pass (it returns probabilities and logits).
import { classifyRows, evaluate, type EvaluationResult, type RefusedRow } from '../train/evaluate.js';
import { InputsRefusedError } from '../models/input-check.js';
import type { TestTimeAugmentation } from '../train/inference.js';
import type { LabeledImageSource } from '../data/types.js';
import { headFootprints, outsideFootprintRange, sliceLevelWarning, type FootprintRange } from '../data/slice-level.js';
import { selectRows } from '../data/subset.js';
import { UsageError } from './args.js';
import type { PretrainedNeuroStageNet } from '../models/pretrained.js';
import type { CliContext, OutStream } from './context.js';
import { startProgress } from './progress.js';
import type { VolumePrediction } from '../models/predict-volume.js';

/** Predictions of a pass over a source. */
export interface Predictions {
  /** Source rows, in the order of the arrays below. */
  indices: Int32Array;
  /** Labels of those rows (meaningless for unlabelled inputs). */
  labels: Int32Array;
  /** Model probabilities, row-major `[N * K]`. */
  probabilities: Float32Array;
  /** Pre-softmax scores, row-major `[N * K]`. */
  logits: Float32Array;
  /** K. */
  numClasses: number;
  /** Rows the input check refused (no prediction). */
  refused: RefusedRow[];
  /** Whether the input check ran (see `EvaluationResult.inputCheck`). */
  inputCheck: EvaluationResult['inputCheck'];
}

/** The `--calibration none|temperature` option of predict and evaluate. */
export const CALIBRATION_OPTIONS = { calibration: { type: 'string' } } as const;

/** Help lines of {@link CALIBRATION_OPTIONS}. */
export const CALIBRATION_HELP = `  --calibration MODE      none | temperature: the model's softmax as is, or divided by the temperature fitted
                          on its validation people; default: what its metadata decided (temperature only
                          where it lowered the validation people's error)`;

/** The calibration a command applies: the temperature and a line saying which and why. */
export interface CalibrationChoice {
  /** Divide the logits by this (1: none). */
  temperature: number;
  /** `'none'` or `'temperature'`. */
  mode: 'none' | 'temperature';
  /** Why, for stderr and the report. */
  description: string;
}

/**
 * Resolves `--calibration`: default the metadata's decision; `none` T = 1; `temperature` the fitted temperature even
 * where the metadata decided against it (said so). A model without a fitted temperature cannot take `temperature`.
 */
export function calibrationOption(values: Record<string, unknown>, model: Pick<PretrainedNeuroStageNet, 'temperature' | 'calibration'>, command: string): CalibrationChoice {
  const asked = values.calibration;
  if (asked !== undefined && asked !== 'none' && asked !== 'temperature') throw new UsageError(`--calibration must be none or temperature, got '${String(asked)}'`, command);
  const fitted = model.calibration?.fittedTemperature ?? (model.temperature !== 1 ? model.temperature : undefined);
  const reason = model.calibration?.reason;
  if (asked === undefined) {
    return model.temperature === 1
      ? { temperature: 1, mode: 'none', description: `calibration: none (the model's softmax${reason ? `; ${reason}` : ''})` }
      : { temperature: model.temperature, mode: 'temperature', description: `calibration: temperature T = ${model.temperature.toFixed(3)}${reason ? ` (${reason})` : ''}` };
  }
  if (asked === 'none') return { temperature: 1, mode: 'none', description: "calibration: none (--calibration none: the model's softmax)" };
  if (fitted === undefined) throw new UsageError('--calibration temperature: this model has no fitted temperature in its metadata (use none)', command);
  const against = model.calibration?.kept === false ? `, although its metadata decided against it: ${reason}` : '';
  return { temperature: fitted, mode: 'temperature', description: `calibration: temperature T = ${fitted.toFixed(3)} (--calibration temperature${against})` };
}

/** The `--allow-unchecked` option of predict, evaluate and explain. */
export const CHECK_OPTIONS = { 'allow-unchecked': { type: 'boolean' } } as const;

/** Help line of {@link CHECK_OPTIONS}. */
export const ALLOW_UNCHECKED_HELP = `  --allow-unchecked       classify images the model's input check refuses (unlike its training slices:
                          other contrast, skull, plane, scale...); default: no stage for them, and why`;

/** Exit code when the input check refused every input: nothing was classified. */
export const EXIT_ALL_REFUSED = 3;

/** Prints the refused rows (at most `max`, then a count) on stderr, and a warning when the model has no check. */
export function reportRefusals(pred: Pick<Predictions, 'refused' | 'inputCheck'>, nameOf: (row: number) => string, ctx: CliContext, max = 10): void {
  if (pred.inputCheck === 'unchecked') {
    ctx.note("warning: this model has no input check in its metadata: images unlike its training slices were classified too (see 'neurostagenet predict --help')");
  }
  if (pred.inputCheck === 'allowed') ctx.note('warning: --allow-unchecked: every image classified, including those the input check would refuse');
  if (pred.refused.length === 0) return;
  ctx.note(`refused ${pred.refused.length} image(s): no stage given (unlike the slices the model was trained on; --allow-unchecked to classify them anyway)`);
  for (const r of pred.refused.slice(0, max)) ctx.note(`  ${nameOf(r.row)}: ${r.reason}`);
  if (pred.refused.length > max) ctx.note(`  ... and ${pred.refused.length - max} more (--json lists them all)`);
}

/**
 * Runs the model over `indices` (default all rows) of `source` in batches of `batchSize`, reporting progress.
 */
export async function predictAll(
  model: Parameters<typeof evaluate>[0],
  source: LabeledImageSource,
  options: { indices?: ArrayLike<number>; batchSize: number; stream: OutStream; label?: string; tta?: TestTimeAugmentation; allowUnchecked?: boolean },
): Promise<Predictions> {
  const rows = options.indices ? Int32Array.from(options.indices) : Int32Array.from({ length: source.length }, (_, i) => i);
  const progress = await startProgress(options.label ?? 'classifying', rows.length, options.stream);
  try {
    // Classification without metrics: predictions need no bootstrap.
    const { pass, logits, refused, inputCheck } = await classifyRows(model, source, {
      indices: rows, batchSize: options.batchSize, tta: options.tta, allowUnchecked: options.allowUnchecked, onProgress: (done) => progress.update(done),
    });
    return { indices: pass.indices, labels: pass.labels, probabilities: pass.probabilities, logits, numClasses: pass.numClasses, refused, inputCheck };
  } catch (e) {
    if (!(e instanceof InputsRefusedError)) throw e;
    const k = model.outputs[0].shape[model.outputs[0].shape.length - 1] as number;
    const refused = e.verdicts.map((v, i) => ({ row: rows[i], score: v.score, reason: v.reason ?? 'refused' }));
    return { indices: new Int32Array(0), labels: new Int32Array(0), probabilities: new Float32Array(0), logits: new Float32Array(0), numClasses: k, refused, inputCheck: 'checked' };
  } finally {
    progress.stop();
  }
}

/** The `--tta none|flip` option of predict and evaluate. */
export function ttaOption(values: Record<string, unknown>, command: string): TestTimeAugmentation {
  const tta = values.tta ?? 'none';
  if (tta !== 'none' && tta !== 'flip') throw new UsageError(`--tta must be none or flip, got '${String(tta)}'`, command);
  return tta;
}

/** Rows of a flat `[N * K]` array as subarrays. */
export function rowsOf(flat: Float32Array, k: number): Float32Array[] {
  return Array.from({ length: flat.length / k }, (_, i) => flat.subarray(i * k, (i + 1) * k));
}

/** Up to `perClass` rows of each class, interleaved (class 0, 1, 2, ... then the next of each). */
export function rowsPerClass(labels: Int32Array, numClasses: number, count: number): number[] {
  const byClass = Array.from({ length: numClasses }, (_, c) => Array.from(labels.keys()).filter((i) => labels[i] === c));
  const rows: number[] = [];
  for (let k = 0; rows.length < count && byClass.some((l) => k < l.length); k++) {
    for (const list of byClass) if (k < list.length && rows.length < count) rows.push(list[k]);
  }
  return rows;
}

/**
 * Head footprints of `indices` of `source` and, when the model records its training levels, a warning on stderr for
 * the rows outside them. Returns undefined (and computes nothing) when the model records no training levels.
 */
export async function checkSliceLevels(
  model: { trainingFootprint?: FootprintRange },
  source: LabeledImageSource,
  indices: ArrayLike<number>,
  ctx: CliContext,
): Promise<{ footprints: Float32Array; outside: Uint8Array } | undefined> {
  const training = model.trainingFootprint;
  if (!training) return undefined;
  const footprints = await headFootprints(selectRows(source, indices));
  const outside = Uint8Array.from(footprints, (f) => (outsideFootprintRange(f, training) ? 1 : 0));
  const warning = sliceLevelWarning(footprints, training);
  if (warning) ctx.note(`warning: ${warning} (see 'neurostagenet inspect --help')`);
  return { footprints, outside };
}

/**
 * The per-person line of a scan (predict, explain): its stage, its probability and how many slices it rests on and
 * how they were vetted, or "no stage" and the input check's reason.
 */
export function volumeLine(input: string, r: VolumePrediction): string {
  const p = r.person;
  if (p.refused) return `${input}: no stage: ${p.reason}`;
  const accepted = r.slices.filter((s) => s.accepted).length;
  const vetted = r.inputCheck === 'unchecked'
    ? '; the model has no input check: nothing vetted'
    : r.inputCheck === 'allowed'
      ? `; forced with --allow-unchecked: the input check accepts only ${accepted} of them`
      : ' the input check accepted';
  return `${input}: ${p.stage} (p = ${p.probabilities[p.classIndex].toFixed(3)}, mean of ${p.slicesUsed} of ${r.slices.length} slices${vetted})`;
}
