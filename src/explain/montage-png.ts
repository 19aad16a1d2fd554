// A scan's explanation as one labelled PNG (Node, optional peer @napi-rs/canvas): the person's line, what the model
// was trained on, and a grid of slices with maps over the classified ones and each slice's level and verdict.

import { text } from '../metrics/plots.js';
import { canvasWithImage, drawColourScale } from './panel.js';
import { volumeMontage, type VolumeExplanation, type VolumeMontageOptions } from './volume.js';

const PAD = 10;
const HEADER = 78;
const LABEL = 30;
const BAR_AREA = 70;
const FLAG = '#c62828';

/** What the model was made for, said on every montage (a refusal or a stage is read against it). */
export const TRAINING_DATA_NOTE = 'trained on skull-stripped, atlas-registered axial T1 slices (OASIS-1): a research model, not a diagnosis';

/**
 * Draws a {@link VolumeExplanation} as a labelled PNG: on top the scan's name and the person's stage with its
 * probability and the slices it was averaged over (or "no stage" and the input check's reason, in red), what the
 * model was trained on, the method, layer and explained class; below, the slices from the bottom of the head up, each
 * with its height in mm and its own prediction or "refused"; a colour scale on the right.
 * Needs the optional peer `@napi-rs/canvas` (an OptionalDependencyError names the install command).
 * @param result From `explainVolume`.
 * @param options Layout of the grid (columns, scale, colour map, alpha).
 * @returns The PNG file's bytes.
 */
export async function renderVolumeMontagePng(result: VolumeExplanation, options: VolumeMontageOptions = {}): Promise<Uint8Array> {
  const montage = volumeMontage(result, { gap: 6, ...options, rowGap: LABEL });
  const { image, tiles } = montage;
  const width = PAD + image.width + BAR_AREA;
  const height = HEADER + image.height + LABEL + PAD;
  const { canvas, ctx } = await canvasWithImage(width, height, image, PAD, HEADER);

  const { person, slices } = result.prediction;
  const names = result.classNames;
  const accepted = slices.filter((s) => s.accepted).length;
  const forced = result.prediction.inputCheck === 'allowed';
  const headline = person.refused
    ? `${result.source}: no stage — the input check refused ${slices.length - accepted} of ${slices.length} slices`
    : `${result.source}: ${person.stage} (p = ${person.probabilities[person.classIndex].toFixed(2)}, mean of ${person.slicesUsed} of ${slices.length} slices)`;
  text(ctx, headline, PAD, 20, { size: 14, weight: 'bold', color: person.refused || (forced && accepted < slices.length) ? FLAG : undefined });
  if (person.refused) text(ctx, clip(person.reason.replace(/^the input check refused \d+ of \d+ slices [^:]*: /, ''), 150), PAD, 38, { size: 11, color: FLAG });
  else if (forced) {
    text(ctx, `forced (allowUnchecked): the input check refuses ${slices.length - accepted} of these ${slices.length} slices (labels in red); this stage is not to be trusted`, PAD, 38, { size: 11, weight: 'bold', color: accepted < slices.length ? FLAG : '#555555' });
  }
  text(ctx, TRAINING_DATA_NOTE, PAD, 54, { size: 11, color: '#555555' });
  const explained = person.refused ? "each slice's own prediction" : `the person's stage (${person.stage})`;
  const mapped = result.slices.filter((s) => s.explanation).length;
  text(ctx, `${result.method} · ${result.layerName} · maps of ${explained} on the ${mapped} classified slices; refused slices dimmed, no map`, PAD, 70, { size: 11, color: '#555555' });

  slices.forEach((s, i) => {
    const t = tiles[i];
    const cx = PAD + t.x + t.width / 2;
    const y = HEADER + t.y + t.height + 12;
    text(ctx, `z ${s.levelMm.toFixed(0)} mm`, cx, y, { size: 10, align: 'center', color: '#333333' });
    // Short names fit under a tile ('Very Mild 0.54'); red marks a slice the check refused (forced, or no map).
    const verdict = s.predicted === undefined ? 'refused' : `${shortName(names[s.predicted])} ${s.probabilities![s.predicted].toFixed(2)}`;
    text(ctx, verdict, cx, y + 12, { size: 10, align: 'center', color: s.accepted ? '#333333' : FLAG });
  });

  drawColourScale(ctx, options.colormap ?? 'jet', PAD + image.width + 14, HEADER, Math.min(image.height, 200));
  return canvas.encode('png');
}

function shortName(name: string): string {
  return name.replace(/_?demented$/i, '').replace(/_/g, ' ') || name;
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
