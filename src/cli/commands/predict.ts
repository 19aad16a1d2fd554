// neurostagenet predict <model-dir|--pretrained> <file.parquet | image.png ...>: class probabilities per image.
import { aggregateByGroup } from '../../metrics/group-aggregate.js';
import { applyTemperature } from '../../metrics/calibration.js';
import { numberOption, parseCommand, UsageError } from '../args.js';
import { activateBackend } from '../backend.js';
import type { CliContext } from '../context.js';
import { ALLOW_UNCHECKED_HELP, CALIBRATION_HELP, CALIBRATION_OPTIONS, CHECK_OPTIONS, calibrationOption, EXIT_ALL_REFUSED, volumeLine, checkSliceLevels, predictAll, reportRefusals, rowsOf, ttaOption } from '../inference.js';
import { argmaxRow } from '../../metrics/inputs.js';
import { readVolume } from '../../data/volume/read.js';
import { predictVolume } from '../../models/predict-volume.js';
import { SCORE_HELP, SCORE_OPTIONS, scoreToCsv } from '../batch-score.js';
import type { PretrainedNeuroStageNet } from '../../models/pretrained.js';
import { MODEL_OPTIONS, PARQUET_OPTIONS, SUBJECT_COLUMN_HELP, checkModelAndInputs, isVolumePath, openInputs, openModel } from '../inputs.js';

export const PREDICT_HELP = `Usage: neurostagenet predict <model-dir> <input...> [options]
       neurostagenet predict --pretrained <input...> [options]

Classifies MRI slices: one Parquet file of images (all rows, or --limit) or PNG / JPEG files.
Prints the predicted stage and the four stage probabilities per image. Probabilities are
temperature-calibrated only where the model's metadata says it helped (see --calibration). A Parquet file with a
subject column also gets one line per person: the mean of that person's slice probabilities.
Images the model's input check refuses (unlike its training slices: a skull, another contrast or
plane, a plot, noise, a 0..1 scale) get no stage: they are listed on stderr with the reason, and the
exit code is 3 when every input was refused.

Arguments
  model-dir               directory with model.json (+ weights, optional metadata.json), e.g. from 'train'
  --pretrained            use the model shipped in the package (models/neurostagenet) instead
  input                   a .parquet file, one or more .png / .jpg images (any size: resized to the model's),
                          NIfTI / ANALYZE volumes (.nii, .nii.gz, .hdr/.img) or DICOM (a series folder, a .dcm
                          file, an enhanced multi-frame file; uncompressed): one stage per scan (the mean
                          of its 32 axial slices the input check accepts), or no stage and why

Options
  --limit N               classify only the first N rows of a Parquet file
  --batch-size N          images per forward pass (default 32)
  --series UID            the DICOM series to read from a folder holding several (SeriesInstanceUID; the
                          error for such a folder lists them)
  --tta none|flip         test-time augmentation: flip = average each slice's probabilities with its
                          left-right mirror image's (two passes; default none)
${CALIBRATION_HELP}
  --json                  print JSON: {model, backend, classNames, temperature, predictions: [...], refused: [...]}
${ALLOW_UNCHECKED_HELP}
${SCORE_HELP}
  --image-column NAME     Parquet image column (default 'image')
  --label-column NAME     Parquet label column (default 'label')
${SUBJECT_COLUMN_HELP}
  --backend NAME          tensorflow | wasm | cpu (default: the fastest installed)
  -v, --verbose           stack traces on errors
  -h, --help              this text

Examples
  neurostagenet predict --pretrained scan.png
  neurostagenet predict ./run/model test.parquet --limit 20
  neurostagenet predict ./run/model a.jpg b.jpg --json > predictions.json
  neurostagenet predict ./run/model part-*.parquet images/ --out scores.csv --shard 3/8 --resume
  neurostagenet predict --pretrained ./dicom-folder --series 1.3.12.2.1107.5.2...
`;

// Scans (NIfTI / ANALYZE / DICOM): read as volumes, one stage (or refusal) per person.
async function predictVolumeFiles(paths: string[], model: PretrainedNeuroStageNet, values: Record<string, unknown>, backend: string, ctx: CliContext): Promise<number> {
  const results = [];
  for (const path of paths) {
    const volume = await readVolume(path, { series: values.series as string | undefined });
    for (const note of volume.notes ?? []) ctx.note(`${path}: ${note}`);
    const result = await predictVolume(model, volume, { allowUnchecked: values['allow-unchecked'] === true });
    for (const note of result.notes) ctx.note(`${path}: ${note}`);
    results.push({ input: path, dims: volume.dims, spacing: volume.spacing, orientationStored: volume.orientation, ...result });
  }
  const allRefused = results.every((r) => r.person.refused);
  if (values.json) {
    ctx.print(JSON.stringify({ model: model.location, backend, classNames: model.classNames, temperature: model.temperature, volumes: results }, null, 2));
    return allRefused ? EXIT_ALL_REFUSED : 0;
  }
  for (const r of results) ctx.print(volumeLine(r.input, r));
  return allRefused ? EXIT_ALL_REFUSED : 0;
}

/** Runs `predict`; returns the exit code. */
export async function predictCommand(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommand('predict', args, {
    ...PARQUET_OPTIONS,
    ...MODEL_OPTIONS,
    ...CHECK_OPTIONS,
    ...CALIBRATION_OPTIONS,
    limit: { type: 'string' },
    'batch-size': { type: 'string' },
    tta: { type: 'string' },
    series: { type: 'string' },
    json: { type: 'boolean' },
    ...SCORE_OPTIONS,
  });
  const limit = numberOption(values, 'limit', Infinity, { integer: true, min: 1 }, 'predict');
  const batchSize = numberOption(values, 'batch-size', 32, { integer: true, min: 1 }, 'predict');
  const tta = ttaOption(values, 'predict');
  if (positionals.length === 0 || (!values.pretrained && positionals.length < 2)) {
    throw new UsageError('missing argument: usage: neurostagenet predict <model-dir|--pretrained> <input...>', 'predict');
  }
  checkModelAndInputs(values, positionals, 'predict');
  const backend = await activateBackend(values.backend as string | undefined, ctx, 'predict');
  const opened = await openModel(values, positionals, ctx, 'predict');
  const { rest } = opened;
  const calibration = calibrationOption(values, opened.model, 'predict');
  ctx.note(calibration.description);
  if (values.out !== undefined) {
    return scoreToCsv(rest, { ...opened.model, temperature: calibration.temperature }, values, { batchSize, allowUnchecked: values['allow-unchecked'] === true }, ctx);
  }
  if (values.shard !== undefined || values.resume) throw new UsageError('--shard and --resume go with --out FILE.csv (batch scoring)', 'predict');
  if (rest.length > 0 && rest.every(isVolumePath)) return predictVolumeFiles(rest, { ...opened.model, temperature: calibration.temperature }, values, backend, ctx);
  const input = await openInputs(rest, values, opened.model, 'predict');
  const { model } = input;
  const n = Math.min(limit, input.source.length);
  const indices = Int32Array.from({ length: n }, (_, i) => i);
  const t0 = performance.now();
  const pred = await predictAll(model.model, input.source, { indices, batchSize, stream: ctx.io.stderr, tta, allowUnchecked: values['allow-unchecked'] === true });
  reportRefusals(pred, (row) => input.nameOf(row), ctx);
  const refused = pred.refused.map((r) => ({ input: input.nameOf(r.row), row: input.rowOf(r.row), score: Number(r.score.toFixed(3)), reason: r.reason }));
  const seconds = (performance.now() - t0) / 1000;
  const levels = await checkSliceLevels(model, input.source, pred.indices, ctx);
  const k = pred.numClasses;
  const probs = calibration.temperature === 1 ? rowsOf(pred.probabilities, k).map((r) => Array.from(r)) : applyTemperature(rowsOf(pred.logits, k), calibration.temperature);
  const { subjects, slices } = input.source;
  const predictions = probs.map((p, i) => {
    const row = pred.indices[i];
    const predicted = argmaxRow(p, 0, p.length);
    return {
      input: input.nameOf(row),
      row: input.rowOf(row),
      ...(subjects ? { subject: subjects[row] } : {}),
      ...(slices ? { slice: slices[row] } : {}),
      ...(input.labelled ? { label: pred.labels[i], labelName: model.classNames[pred.labels[i]] } : {}),
      predicted,
      predictedName: model.classNames[predicted],
      probabilities: p.map((v) => Number(v.toFixed(6))),
      ...(levels ? { headFootprint: Number(levels.footprints[i].toFixed(4)), outsideTrainingLevels: levels.outside[i] === 1 } : {}),
    };
  });
  // One stage per person: the mean of their slices' probabilities (as evaluate scores people).
  const people = subjects && probs.length > 0
    ? (() => {
        const grouped = aggregateByGroup(probs.flat(), pred.labels, Array.from(pred.indices, (r) => subjects[r]), k);
        return grouped.groups.map((subject, g) => {
          const p = Array.from(grouped.probabilities.subarray(g * k, (g + 1) * k));
          const predicted = argmaxRow(p, 0, k);
          return {
            subject: String(subject),
            slices: grouped.sizes[g],
            ...(input.labelled ? { label: grouped.labels[g], labelName: model.classNames[grouped.labels[g]] } : {}),
            predicted,
            predictedName: model.classNames[predicted],
            probabilities: p.map((v) => Number(v.toFixed(6))),
          };
        });
      })()
    : undefined;
  ctx.note(`classified ${predictions.length} of ${n} image(s) in ${seconds.toFixed(1)} s (${backend})`);
  const exitCode = predictions.length === 0 && refused.length > 0 ? EXIT_ALL_REFUSED : 0;
  if (values.json) {
    ctx.print(JSON.stringify({
      model: model.location, backend, classNames: model.classNames, temperature: calibration.temperature, calibration: calibration.mode, trainingFootprint: model.trainingFootprint,
      inputCheck: pred.inputCheck, predictions, refused, ...(people ? { people } : {}),
    }, null, 2));
    return exitCode;
  }
  if (predictions.length === 0) return exitCode;
  const short = model.classNames.map((c) => c.replace(/_Demented$/, '').replace(/_/g, ' '));
  const nameWidth = Math.max(5, ...predictions.map((p) => p.input.length));
  const header = `${'input'.padEnd(nameWidth)}  ${input.labelled ? `${'label'.padEnd(10)}  ` : ''}${'predicted'.padEnd(10)}  ${short.map((s) => s.padStart(9)).join(' ')}`;
  ctx.print(header);
  let correct = 0;
  for (const p of predictions) {
    if (input.labelled && p.label === p.predicted) correct++;
    const label = input.labelled ? `${short[p.label as number].padEnd(10)}  ` : '';
    ctx.print(`${p.input.padEnd(nameWidth)}  ${label}${short[p.predicted].padEnd(10)}  ${p.probabilities.map((v) => v.toFixed(3).padStart(9)).join(' ')}`);
  }
  if (input.labelled) ctx.print(`accuracy on these ${predictions.length} rows: ${(correct / predictions.length).toFixed(3)} (use 'evaluate' for the full report)`);
  if (people) {
    const width = Math.max(6, ...people.map((p) => p.subject.length));
    ctx.print(`\nper person (mean of each person's slice probabilities)\n${'person'.padEnd(width)}  slices  ${input.labelled ? `${'label'.padEnd(10)}  ` : ''}${'predicted'.padEnd(10)}  ${short.map((s) => s.padStart(9)).join(' ')}`);
    let right = 0;
    for (const p of people) {
      if (input.labelled && p.label === p.predicted) right++;
      const label = input.labelled ? `${short[p.label as number].padEnd(10)}  ` : '';
      ctx.print(`${p.subject.padEnd(width)}  ${String(p.slices).padStart(6)}  ${label}${short[p.predicted].padEnd(10)}  ${p.probabilities.map((v) => v.toFixed(3).padStart(9)).join(' ')}`);
    }
    if (input.labelled) ctx.print(`accuracy over these ${people.length} people: ${(right / people.length).toFixed(3)}`);
  }
  return 0;
}
