/**
 * One stage for a person from a whole scan: slice the volume as the training slices were cut, ask the input check
 * about each slice, classify the accepted ones and average them; refuse when most slices are refused.
 */
import { sliceVolume, type SliceVolumeOptions, type VolumeSlices, volumeSlicesSource } from '../data/volume/slice.js';
import type { Volume } from '../data/volume/volume.js';
import { applyTemperature } from '../metrics/calibration.js';
import { classifyRows } from '../train/evaluate.js';
import { attachedInputCheck, checkInputs, InputsRefusedError } from './input-check.js';
import type { PretrainedNeuroStageNet } from './pretrained.js';

/** Options of {@link predictVolume}. */
export interface PredictVolumeOptions {
  /** How to cut the slices (size defaults to the model's input). */
  slices?: Omit<SliceVolumeOptions, 'size'>;
  /** Share of slices the input check must accept for a person-level stage. Default 0.5. */
  minAcceptedShare?: number;
  /** Classify refused slices too (no refusal, a warning in `notes`). Default false. */
  allowUnchecked?: boolean;
  /** Images per forward pass. Default 32. */
  batchSize?: number;
}

/** One slice of {@link VolumePrediction}. */
export interface VolumeSlicePrediction {
  /** Voxel z of the slice in the canonical (RAS) volume. */
  level: number;
  /** Its height in mm (world z). */
  levelMm: number;
  /** Whether the input check accepted it. */
  accepted: boolean;
  /** Why it was refused. */
  reason?: string;
  /** Class probabilities (served calibration), when classified. */
  probabilities?: number[];
  /** Arg-max class, when classified. */
  predicted?: number;
}

/** The person-level answer of {@link predictVolume}. */
export type PersonPrediction =
  | {
      /** A stage was given. */
      refused: false;
      /** Class name of the stage. */
      stage: string;
      /** Its class index. */
      classIndex: number;
      /** Mean of the classified slices' probabilities. */
      probabilities: number[];
      /** Slices the stage was averaged over. */
      slicesUsed: number;
    }
  | {
      /** No stage: the scan is unlike what the model was made for. */
      refused: true;
      /** Why, in plain words. */
      reason: string;
      /** Slices accepted (fewer than the required share). */
      slicesUsed: number;
    };

/** What {@link predictVolume} returns. */
export interface VolumePrediction {
  /** Every slice: level, verdict and, when classified, probabilities. */
  slices: VolumeSlicePrediction[];
  /** One stage for the person, or a refusal. */
  person: PersonPrediction;
  /**
   * Whether the input check ran: `'checked'`; `'unchecked'` (the model carries no check: nothing was refused);
   * `'allowed'` (`allowUnchecked`: the check's verdicts are in `slices`, but every slice was classified).
   */
  inputCheck: 'checked' | 'unchecked' | 'allowed';
  /** How the slices were cut and what that means. */
  notes: string[];
}

/**
 * Classifies a person's scan: {@link sliceVolume} at the model's input size, the input check on every slice, the
 * model on the accepted slices, and the mean of their (calibrated) probabilities as the person's stage, as
 * `evaluate` scores people. When fewer than `minAcceptedShare` of the slices are accepted the person gets no stage:
 * `person.refused` with the check's most frequent reason.
 * @param net The model with its metadata (its input check and temperature).
 * @param volume The scan (e.g. from `readVolume`).
 * @param options Slicing, the share of slices required, forcing, batch size.
 * @returns Per-slice results and the person-level answer. No tensor outlives the call.
 * @example
 * ```ts
 * const result = await predictVolume(await loadPretrainedNeuroStageNet(), await readVolume('scan.nii.gz'));
 * console.log(result.person.refused ? `refused: ${result.person.reason}` : result.person.stage);
 * ```
 */
export async function predictVolume(net: PretrainedNeuroStageNet, volume: Volume, options: PredictVolumeOptions = {}): Promise<VolumePrediction> {
  return predictVolumeSlices(net, sliceVolume(volume, { ...options.slices, size: net.imageSize }), volume.source, options);
}

/**
 * {@link predictVolume} on slices already cut (internal: `explainVolume` cuts once and both use the same slices).
 * @param net The model with its metadata.
 * @param cut Slices at the model's input size, from `sliceVolume`.
 * @param subject The person's id for messages (the file name).
 * @param options As {@link predictVolume} (`slices` is ignored).
 */
export async function predictVolumeSlices(net: PretrainedNeuroStageNet, cut: VolumeSlices, subject: string, options: PredictVolumeOptions = {}): Promise<VolumePrediction> {
  const source = volumeSlicesSource(cut, subject);
  const minShare = options.minAcceptedShare ?? 0.5;
  const k = net.classNames.length;
  const slices: VolumeSlicePrediction[] = cut.levels.map((level, i) => ({ level, levelMm: cut.levelsMm[i], accepted: true }));
  let classified: { indices: Int32Array; logits: Float32Array } | undefined;
  let refusedRows: Array<{ row: number; reason: string }> = [];
  let inputCheck: VolumePrediction['inputCheck'] = 'checked';
  try {
    const result = await classifyRows(net.model, source, { allowUnchecked: options.allowUnchecked, batchSize: options.batchSize });
    classified = { indices: result.pass.indices, logits: result.logits };
    refusedRows = result.refused;
    inputCheck = result.inputCheck;
  } catch (e) {
    if (!(e instanceof InputsRefusedError)) throw e;
    refusedRows = e.verdicts.map((v, row) => ({ row, reason: v.reason ?? 'refused' }));
  }
  if (inputCheck === 'allowed' && attachedInputCheck(net.model)) {
    // Forced: still say which slices the check would have refused.
    const verdicts = await checkInputs(net.model, { source, indices: Int32Array.from({ length: source.length }, (_, i) => i) });
    refusedRows = verdicts.flatMap((v, row) => (v.accepted ? [] : [{ row, reason: v.reason ?? 'refused' }]));
  }
  for (const r of refusedRows) Object.assign(slices[r.row], { accepted: false, reason: r.reason });
  const notes = [...cut.notes];
  if (inputCheck === 'allowed') notes.push(`allowUnchecked: every slice classified, though the input check refuses ${refusedRows.length} of ${slices.length}`);
  const used = classified?.indices.length ?? 0;
  if (classified && used > 0) {
    const rows = Array.from({ length: used }, (_, i) => classified!.logits.subarray(i * k, (i + 1) * k));
    const probabilities = applyTemperature(rows, net.temperature);
    probabilities.forEach((p, i) => {
      const slice = slices[classified!.indices[i]];
      slice.probabilities = p;
      slice.predicted = p.indexOf(Math.max(...p));
    });
  }
  if (used < minShare * slices.length) {
    // The most frequent cause, numbers aside (scores and percentages differ from slice to slice).
    const causeOf = (reason: string) => reason.replace(/ \(input-check score .*\)$/, '').replace(/\d+(\.\d+)?/g, '#');
    const counts = new Map<string, { count: number; example: string }>();
    for (const r of refusedRows) {
      const entry = counts.get(causeOf(r.reason)) ?? { count: 0, example: r.reason };
      entry.count++;
      counts.set(causeOf(r.reason), entry);
    }
    const example = [...counts.values()].sort((a, b) => b.count - a.count)[0]?.example;
    return {
      slices,
      notes,
      inputCheck,
      person: {
        refused: true,
        slicesUsed: used,
        reason: `the input check refused ${refusedRows.length} of ${slices.length} slices (at least ${Math.ceil(minShare * slices.length)} must pass): ` +
          `most often ${example ?? 'unlike the training slices'}. The model was trained on skull-stripped, atlas-registered axial T1 slices (OASIS-1); this scan is unlike them`,
      },
    };
  }
  const mean = Array.from({ length: k }, (_, c) => slices.reduce((s, sl) => s + (sl.probabilities?.[c] ?? 0), 0) / used);
  const classIndex = mean.indexOf(Math.max(...mean));
  return { slices, notes, inputCheck, person: { refused: false, stage: net.classNames[classIndex], classIndex, probabilities: mean, slicesUsed: used } };
}
