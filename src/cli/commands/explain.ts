// neurostagenet explain <model-dir|--pretrained> <input...>: Grad-CAM / Grad-CAM++ overlays as PNG files.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CAM_METHODS, DEFAULT_CAM_METHOD, GradCAM, type CamMethod } from '../../explain/gradcam.js';
import { renderExplanationPng } from '../../explain/panel.js';
import { renderVolumeMontagePng } from '../../explain/montage-png.js';
import { explainVolume, type ExplainVolumeOptions } from '../../explain/volume.js';
import { readVolume } from '../../data/volume/read.js';
import type { PretrainedNeuroStageNet } from '../../models/pretrained.js';
import { applyTemperature } from '../../metrics/calibration.js';
import { intListOption, numberOption, parseCommand, stringOption, UsageError, type Values } from '../args.js';
import { activateBackend } from '../backend.js';
import type { CliContext } from '../context.js';
import { ALLOW_UNCHECKED_HELP, CHECK_OPTIONS, EXIT_ALL_REFUSED, checkSliceLevels, reportRefusals, rowsPerClass, volumeLine } from '../inference.js';
import { checkInputs, InputCheckUnavailableError } from '../../models/input-check.js';
import type { RefusedRow } from '../../train/evaluate.js';
import { MODEL_OPTIONS, PARQUET_OPTIONS, checkModelAndInputs, isVolumePath, openInputs, openModel } from '../inputs.js';
import { checkLayer, layerTable } from '../layers.js';
import { startProgress } from '../progress.js';

export const EXPLAIN_HELP = `Usage: neurostagenet explain <model-dir> <input...> [options]
       neurostagenet explain --pretrained <input...> [options]

Explains predictions with a class-activation map: for each image writes a PNG "input | overlay |
heatmap" (red = the regions that raised the explained class's score most) labelled with the true stage
(Parquet rows), the predicted stage and probability, a colour scale and a "map flat" mark when the map
singles out nothing, and prints the predicted stage. Heatmaps show where the model looked, not why, and
not a diagnosis (see docs/explain.md).

Arguments
  model-dir               directory with model.json, e.g. from 'train'
  --pretrained            use the model shipped in the package instead
  input                   a .parquet file, one or more .png / .jpg images, or scans (.nii, .nii.gz,
                          .hdr/.img, DICOM files or a DICOM folder): one montage PNG per scan, every
                          slice with its level and verdict, maps on the slices the input check accepted

Options
  --out DIR               output directory (default ./neurostagenet-explain)
  --method M              layercam (default) | gradcam | gradcam++ | hirescam
  --layer NAME            layer to explain (default: the last map with at least 1/8 of the input
                          size, 'efficientnetb0/block4a_expand_activation' (8x8) at 64 px)
  --list-layers           print the model's layers (path, class, output shape) and exit; no input needed
  --class C               class to explain: 'predicted' (default for images), 'person' (default for
                          scans: the person's stage on every slice), an index 0..3 or a class name
  --series UID            the DICOM series to read from a folder holding several
  --rows LIST             Parquet rows to explain, e.g. 0,5,9 (default: one per class, --limit in all)
  --limit N               number of Parquet rows when --rows is not given (default 4)
${ALLOW_UNCHECKED_HELP}
  --backend NAME          tensorflow | wasm | cpu (default: the fastest installed)
  -v, --verbose           stack traces on errors
  -h, --help              this text

Examples
  neurostagenet explain --pretrained scan.png --out heatmaps
  neurostagenet explain ./run/model test.parquet --rows 3,17,42 --method gradcam++
  neurostagenet explain --pretrained scan.nii.gz --out montages
  neurostagenet explain --pretrained --list-layers
`;

// --class: 'predicted', 'person' (scans), an index or a class name.
function classOption(values: Values, classNames: readonly string[], fallback: 'predicted' | 'person'): number | 'predicted' | 'person' {
  const arg = stringOption(values, 'class', fallback) as string;
  if (arg === 'predicted' || arg === 'person') return arg;
  const byName = classNames.indexOf(arg);
  const index = byName >= 0 ? byName : Number(arg);
  if (!Number.isInteger(index) || index < 0 || index >= classNames.length) {
    throw new UsageError(`--class must be 'predicted', 'person' (scans), 0..${classNames.length - 1} or one of ${classNames.join(', ')}; got '${arg}'`, 'explain');
  }
  return index;
}

// Scans: one montage PNG per scan (every slice, maps on the classified ones) and the per-person line.
async function explainVolumeFiles(
  paths: string[],
  model: PretrainedNeuroStageNet,
  options: ExplainVolumeOptions,
  series: string | undefined,
  out: string,
  backend: string,
  ctx: CliContext,
): Promise<number> {
  let refused = 0;
  for (const path of paths) {
    const t0 = performance.now();
    const volume = await readVolume(path, { series });
    for (const note of volume.notes ?? []) ctx.note(`${path}: ${note}`);
    const result = await explainVolume(model, volume, options);
    for (const note of result.prediction.notes) ctx.note(`${path}: ${note}`);
    const file = join(out, `${basename(path.replace(/[\\/]+$/, '')).replace(/\.(nii|hdr|img|dcm)(\.gz)?$/i, '')}_montage_${result.method.replace('++', 'pp')}.png`);
    await mkdir(out, { recursive: true }); // after the scan is read: a bad input leaves no empty folder behind
    await writeFile(file, await renderVolumeMontagePng(result));
    if (result.prediction.person.refused) refused++;
    ctx.note(`${path}: ${result.method} on '${result.layerName}', ${result.slices.filter((s) => s.explanation).length} map(s), ${backend}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    ctx.print(`${volumeLine(path, result.prediction)} -> ${file}`);
  }
  ctx.print(`wrote ${paths.length} montage PNG file(s) to ${out}`);
  return refused === paths.length ? EXIT_ALL_REFUSED : 0;
}

/** Runs `explain`; returns the exit code. */
export async function explainCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommand('explain', args, {
    ...PARQUET_OPTIONS,
    ...MODEL_OPTIONS,
    ...CHECK_OPTIONS,
    method: { type: 'string' },
    layer: { type: 'string' },
    class: { type: 'string' },
    rows: { type: 'string' },
    limit: { type: 'string' },
    'list-layers': { type: 'boolean' },
    series: { type: 'string' },
  });
  const method = stringOption(values, 'method', DEFAULT_CAM_METHOD) as CamMethod;
  if (!CAM_METHODS.includes(method)) throw new UsageError(`--method must be one of ${CAM_METHODS.join(', ')}, got '${method}'`, 'explain');
  const limit = numberOption(values, 'limit', 4, { integer: true, min: 1 }, 'explain');
  const rowsWanted = intListOption(values, 'rows', 'explain');
  const listOnly = values['list-layers'] === true;
  if (listOnly ? !values.pretrained && positionals.length === 0 : positionals.length === 0 || (!values.pretrained && positionals.length < 2)) {
    throw new UsageError(`missing argument: usage: neurostagenet explain <model-dir|--pretrained> ${listOnly ? '--list-layers' : '<input...>'}`, 'explain');
  }
  checkModelAndInputs(values, positionals, 'explain');
  const backend = await activateBackend(values.backend as string | undefined, ctx, 'explain');
  const opened = await openModel(values, positionals, ctx, 'explain');
  const { rest } = opened;
  if (listOnly) {
    for (const line of layerTable(opened.model.model)) ctx.print(line);
    return 0;
  }
  const layerArg = stringOption(values, 'layer');
  if (layerArg !== undefined) checkLayer(opened.model.model, layerArg, values.pretrained ? '--pretrained' : positionals[0]);
  const out = resolve(stringOption(values, 'out', 'neurostagenet-explain') as string);
  if (rest.length > 0 && rest.every(isVolumePath)) {
    const classIndex = classOption(values, opened.model.classNames, 'person');
    const series = stringOption(values, 'series');
    return explainVolumeFiles(rest, opened.model, { method, layerName: layerArg, classIndex, allowUnchecked: values['allow-unchecked'] === true }, series, out, backend, ctx);
  }
  const input = await openInputs(rest, values, opened.model, 'explain');
  const { model } = input;
  const classIndex = classOption(values, model.classNames, 'predicted');
  if (classIndex === 'person') throw new UsageError("--class person is for scans (NIfTI / ANALYZE / DICOM); for images use 'predicted', an index or a class name", 'explain');

  // Which rows: all image files; for a Parquet file --rows (file row numbers) or one per class.
  let rows: number[];
  const src = input.source;
  if (!input.labelled) rows = Array.from({ length: src.length }, (_, i) => i);
  else if (rowsWanted) {
    rows = rowsWanted.map((fileRow) => {
      const i = Array.from({ length: src.length }, (_, j) => j).find((j) => input.rowOf(j) === fileRow);
      if (i === undefined) throw new UsageError(`--rows: the file has no row ${fileRow} (rows 0..${src.length - 1})`, 'explain');
      return i;
    });
  } else rows = rowsPerClass(src.labels, model.classNames.length, Math.min(limit, src.length));

  // The input check first: no stage and no map for an image the model was not made for.
  const allowUnchecked = values['allow-unchecked'] === true;
  const refused: RefusedRow[] = [];
  let inputCheck: 'checked' | 'unchecked' | 'allowed' = allowUnchecked ? 'allowed' : 'checked';
  if (!allowUnchecked) {
    try {
      const verdicts = await checkInputs(model, { source: src, indices: rows });
      verdicts.forEach((v, j) => { if (!v.accepted) refused.push({ row: rows[j], score: v.score, reason: v.reason ?? 'refused' }); });
      rows = rows.filter((_, j) => verdicts[j].accepted);
    } catch (e) {
      if (!(e instanceof InputCheckUnavailableError)) throw e;
      inputCheck = 'unchecked';
    }
  }
  reportRefusals({ refused, inputCheck }, (row) => input.nameOf(row), ctx);
  if (rows.length === 0) {
    ctx.note('explain: the input check refused every image: no maps written (--allow-unchecked to explain them anyway)');
    return EXIT_ALL_REFUSED;
  }

  await mkdir(out, { recursive: true });
  const cam = new GradCAM(model.model, { layerName: layerArg, method });
  ctx.note(`${method}: layer '${cam.layerName}', ${rows.length} image(s), ${backend}`);
  await checkSliceLevels(model, src, rows, ctx);
  const [h, w] = model.imageSize;
  const progress = await startProgress('explaining', rows.length, ctx.io.stderr);
  const results: string[] = [];
  const batch = 8;
  try {
    for (let start = 0; start < rows.length; start += batch) {
      const chunk = rows.slice(start, start + batch);
      const examples = await Promise.all(chunk.map((i) => src.get(i)));
      const pixels = new Float32Array(chunk.length * h * w);
      examples.forEach((e, j) => pixels.set(e.image, j * h * w));
      const x = tf.tensor4d(pixels, [chunk.length, h, w, 1]);
      let explanations;
      try {
        explanations = await cam.explain(x, { classIndex });
      } finally {
        x.dispose();
      }
      for (let j = 0; j < chunk.length; j++) {
        const e = explanations[j];
        const gray = examples[j].image;
        const calibrated = applyTemperature([e.logits], model.temperature)[0];
        const png = await renderExplanationPng(gray, e, {
          classNames: model.classNames,
          trueClass: input.labelled ? examples[j].label : undefined,
          probabilities: calibrated,
          caption: `${method} · ${cam.layerName}`,
        });
        const name = input.labelled ? `row${input.rowOf(chunk[j])}` : basename(input.nameOf(chunk[j])).replace(/\.[^.]+$/, '');
        const file = join(out, `${name}_${model.classNames[e.classIndex]}_${method.replace('++', 'pp')}.png`);
        await writeFile(file, png);
        const label = input.labelled ? `, label ${model.classNames[examples[j].label]}` : '';
        const flag = e.status === 'ok' ? '' : ` [map ${e.status}]`;
        results.push(`${input.nameOf(chunk[j])}: predicted ${model.classNames[e.predictedClass]} (p=${calibrated[e.predictedClass].toFixed(3)})${label}, explained ${model.classNames[e.classIndex]} -> ${file}${flag}`);
      }
      progress.update(start + chunk.length);
    }
  } finally {
    progress.stop();
  }
  for (const line of results) ctx.print(line);
  ctx.print(`wrote ${rows.length} PNG file(s) to ${out}`);
  return 0;
}
