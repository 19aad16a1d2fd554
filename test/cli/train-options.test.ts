import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { parseTrainFlags } from '../../src/cli/train-options.js';
import { flattenTrainingFlags as flattenTrainFlags, monitorFor, TrainingFlagError } from '../../src/train/flags.js';
import { splitTrainingRows } from '../../src/train/pipeline.js';
import { ParquetImageDataset, StratifiedSplit, type LabeledImageSource } from '../../src/index.js';
import { encodePng, makeParquet, pseudoRandom } from '../data/helpers.js';
import { augmentOption } from '../../src/train/recipe.js';

describe('training flags (CLI train, examples/train.ts, ship-model)', () => {
  it("resolves to the seed's recipe, all layers trainable when no backbone weights are given", () => {
    const flags = parseTrainFlags({});
    expect(flags).toMatchObject({ imageSize: 128, valFraction: 0.2, seed: 42, progress: 'auto', split: 'auto', groupThreshold: 20 });
    expect(flags.monitor).toBeUndefined();
    expect(parseTrainFlags({ split: 'rows', 'group-threshold': '12' })).toMatchObject({ split: 'rows', groupThreshold: 12 });
    expect(flattenTrainFlags(parseTrainFlags({ split: 'rows' }))).toMatchObject({ split: 'rows', groupThreshold: undefined });
    expect(flags.recipe).toMatchObject({ name: 'seed', learningRate: 5e-4, allTrainable: true, cosine: false, augment: 'full' });
    expect(parseTrainFlags({ 'backbone-weights': 'w.h5' }).recipe.allTrainable).toBe(false);
  });

  it('lets flags override the scratch recipe', () => {
    const flags = parseTrainFlags({ recipe: 'scratch', lr: '2e-3', 'class-weight': 'none', augment: 'full', 'max-train': '64' });
    expect(flags.recipe).toMatchObject({ name: 'scratch', learningRate: 2e-3, warmupEpochs: 1, cosine: true, epochs: 26, augment: 'full' });
    expect(flags.recipe.classWeight).toBeUndefined();
    expect(flags).toMatchObject({ maxTrain: 64 });
    expect(flattenTrainFlags(flags)).toEqual({
      recipe: 'scratch', imageSize: 128, valFraction: 0.2, seed: 42, augment: true, epochs: 26, batchSize: 32, lr: 2e-3,
      labelSmoothing: 0.15, patience: 8, backboneWeights: undefined, allTrainable: true, warmupEpochs: 1, cosine: true,
      classWeight: undefined, maxTrain: 64, mixup: 0.4, split: 'auto', groupThreshold: undefined, validationSubjects: undefined, monitor: undefined,
    });
    expect(flattenTrainFlags(parseTrainFlags({ split: 'near-duplicates' }))).toMatchObject({ split: 'near-duplicates', groupThreshold: 20 });
    expect(parseTrainFlags({ recipe: 'scratch' }).recipe).toMatchObject({ augment: 'flip', mixup: 0.4 });
    expect(parseTrainFlags({ 'no-augment': true }).recipe.augment).toBe('none');
  });

  it('reads --augment full|geometric|no-zoom|photometric|flip|none into the trainer option and the run record', () => {
    const geometric = parseTrainFlags({ augment: 'geometric' });
    expect(geometric.recipe.augment).toBe('geometric');
    expect(augmentOption(geometric.recipe.augment)).toEqual({ brightness: false, contrast: false });
    expect(flattenTrainFlags(geometric).augment).toBe('geometric');
    expect(augmentOption('full')).toBe(true);
    expect(augmentOption('none')).toBe(false);
    expect(flattenTrainFlags(parseTrainFlags({})).augment).toBe(true);
    expect(augmentOption('no-zoom')).toEqual({ zoom: false });
    expect(augmentOption('photometric')).toEqual({ rotation: false, zoom: false });
    expect(augmentOption('flip')).toEqual({ rotation: false, zoom: false, brightness: false, contrast: false });
    expect(flattenTrainFlags(parseTrainFlags({ augment: 'no-zoom' })).augment).toBe('no-zoom');
    expect(parseTrainFlags({ mixup: '0.4' }).recipe.mixup).toBe(0.4);
    expect(flattenTrainFlags(parseTrainFlags({ mixup: '0.4' })).mixup).toBe(0.4);
    expect(flattenTrainFlags(parseTrainFlags({})).mixup).toBeUndefined();
    expect(() => parseTrainFlags({ augment: 'heavy' })).toThrow(/--augment must be full, geometric, no-zoom, photometric, flip, none, got 'heavy'/);
    expect(() => parseTrainFlags({ augment: 'full', 'no-augment': true })).toThrow(/--no-augment contradicts --augment full/);
  });

  it('rejects a bad value with a UsageError naming the flag', () => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ recipe: 'fast' }, /--recipe must be 'seed' or 'scratch', got 'fast'/],
      [{ lr: '-1' }, /--lr expects a number > 0, got '-1'/],
      [{ epochs: '2.5' }, /--epochs expects an integer/],
      [{ 'class-weight': 'heavy' }, /--class-weight must be none, balanced or balanced-sqrt, got 'heavy'/],
      [{ progress: 'dots' }, /--progress must be auto, bar, lines or none, got 'dots'/],
      [{ 'label-smoothing': '2' }, /--label-smoothing expects a number in \[0, 1\], got '2'/],
      [{ split: 'people' }, /--split must be auto, subjects, near-duplicates or rows, got 'people'/],
      [{ monitor: 'val_loss' }, /--monitor must be val_auc or val_person_auc, got 'val_loss'/],
      [{ 'group-threshold': '-3' }, /--group-threshold expects a number >= 0/],
      [{ 'footprint-range': '0.5' }, /--footprint-range expects A:B with 0 <= A <= B <= 1, got '0.5'/],
      [{ 'footprint-range': '0.6:0.4' }, /--footprint-range expects A:B/],
      [{ 'footprint-range': '0:2' }, /--footprint-range expects A:B/],
    ];
    for (const [values, message] of bad) {
      expect(() => parseTrainFlags(values, 'train')).toThrow(UsageError);
      expect(() => parseTrainFlags(values, 'train')).toThrow(message);
    }
  });

  it('splits by near-duplicate clusters (each cluster on one side) or by rows (the seed\'s split)', async () => {
    // 20 "people" of 5 slices each: a person's slices are 2 grey levels apart, people are 10 apart (RMS on 0..255).
    const images: Float32Array[] = [];
    const labels: number[] = [];
    for (let p = 0; p < 20; p++) for (let k = 0; k < 5; k++) { images.push(new Float32Array(64).fill(p * 10 + k * 2)); labels.push(p % 2); }
    const ds: LabeledImageSource = {
      length: images.length, labels: Int32Array.from(labels), classNames: ['a', 'b'], imageSize: [8, 8],
      get: (i: number) => ({ image: images[i], label: labels[i] }),
    };
    const flags = { valFraction: 0.2, seed: 3, groupThreshold: 5 };
    const grouped = await splitTrainingRows(ds, { ...flags, split: 'near-duplicates' });
    expect(grouped.description).toBe('split (seed 3, by 20 near-duplicate clusters (threshold 5)): 80 train / 20 validation rows');
    const person = (i: number) => Math.floor(i / 5);
    const validationPeople = new Set(Array.from(grouped.validation, person));
    expect(validationPeople.size).toBe(4);
    expect(Array.from(grouped.train).some((i) => validationPeople.has(person(i)))).toBe(false);
    const byRows = await splitTrainingRows(ds, { ...flags, split: 'rows', maxTrain: 10 });
    const reference = new StratifiedSplit({ testSize: 0.2, seed: 3 }).split(ds.labels);
    expect(Array.from(byRows.validation)).toEqual(Array.from(reference.test));
    expect(Array.from(byRows.train)).toEqual(Array.from(reference.train.subarray(0, 10)));
    expect(byRows.description).toBe('split (seed 3, by rows): 10 train / 20 validation rows');
  });

  it('--split auto|subjects|near-duplicates|rows and --monitor val_auc|val_person_auc parse; monitorFor picks per person when split by subject', () => {
    for (const split of ['auto', 'subjects', 'near-duplicates', 'rows'] as const) expect(parseTrainFlags({ split }).split).toBe(split);
    expect(parseTrainFlags({ monitor: 'val_person_auc' }).monitor).toBe('val_person_auc');
    expect(parseTrainFlags({ monitor: 'val_auc' }).monitor).toBe('val_auc');
    // Default: per person when the split was by subject, per slice otherwise; --monitor wins either way.
    expect(monitorFor(parseTrainFlags({}), { mode: 'subjects' })).toBe('val_person_auc');
    expect(monitorFor(parseTrainFlags({}), { mode: 'near-duplicates' })).toBe('val_auc');
    expect(monitorFor(parseTrainFlags({}), { mode: 'rows' })).toBe('val_auc');
    expect(monitorFor(parseTrainFlags({ monitor: 'val_auc' }), { mode: 'subjects' })).toBe('val_auc');
    expect(monitorFor(parseTrainFlags({ monitor: 'val_person_auc' }), { mode: 'rows' })).toBe('val_person_auc');
    // The run record stores what auto resolved to, the validation people and the monitor.
    expect(flattenTrainFlags(parseTrainFlags({}), { mode: 'subjects', validationSubjects: 4 })).toMatchObject({
      split: 'subjects', validationSubjects: 4, monitor: 'val_person_auc', groupThreshold: undefined,
    });
    expect(flattenTrainFlags(parseTrainFlags({}), { mode: 'near-duplicates' })).toMatchObject({ split: 'near-duplicates', groupThreshold: 20, monitor: 'val_auc' });
  });

  it('--split auto / subjects split by the subject column: every person on one side, people stratified by label', async () => {
    // 20 people of 5 slices each, labels by person (p % 2); subjects given, so no clustering is needed.
    const images: Float32Array[] = [];
    const labels: number[] = [];
    const subjects: string[] = [];
    for (let p = 0; p < 20; p++) for (let k = 0; k < 5; k++) { images.push(new Float32Array(64).fill(p * 10 + k * 2)); labels.push(p % 2); subjects.push(`subject-${p}`); }
    const ds: LabeledImageSource = {
      length: images.length, labels: Int32Array.from(labels), classNames: ['a', 'b'], imageSize: [8, 8], subjects,
      get: (i: number) => ({ image: images[i], label: labels[i] }),
    };
    const flags = { valFraction: 0.2, seed: 3, groupThreshold: 5 };
    const auto = await splitTrainingRows(ds, { ...flags, split: 'auto' });
    expect(auto.mode).toBe('subjects');
    expect(auto.validationSubjects).toBe(4);
    expect(auto.description).toBe('split (seed 3, by 20 subjects): 80 train / 20 validation rows (4 validation people)');
    const validationPeople = new Set(Array.from(auto.validation, (i) => subjects[i]));
    expect(validationPeople.size).toBe(4);
    expect(Array.from(auto.train).some((i) => validationPeople.has(subjects[i]))).toBe(false);
    // Stratified by person label: 2 of the 10 people of each class.
    expect([0, 1].map((c) => [...validationPeople].filter((s) => Number(s.split('-')[1]) % 2 === c).length)).toEqual([2, 2]);
    // The same rows as StratifiedSplit.splitSource.
    expect(Array.from(auto.validation)).toEqual(Array.from(new StratifiedSplit({ testSize: 0.2, seed: 3 }).splitSource(ds).test));
    const explicit = await splitTrainingRows(ds, { ...flags, split: 'subjects' });
    expect(Array.from(explicit.validation)).toEqual(Array.from(auto.validation));
    // maxTrain cuts the training rows only.
    const capped = await splitTrainingRows(ds, { ...flags, split: 'subjects', maxTrain: 7 });
    expect([capped.train.length, capped.validation.length]).toEqual([7, 20]);
    // Without subjects, auto falls back to near-duplicate clusters.
    const noSubjects: LabeledImageSource = { ...ds, subjects: undefined };
    const fallback = await splitTrainingRows(noSubjects, { ...flags, split: 'auto' });
    expect(fallback.mode).toBe('near-duplicates');
    expect(fallback.validationSubjects).toBeUndefined();
    expect(fallback.description).toMatch(/^split \(seed 3, by 20 near-duplicate clusters \(threshold 5\)\)/);
  });

  it("'--split subjects' on a file without a subject column is a UsageError", async () => {
    const png = (seed: number) => encodePng({ width: 4, height: 4, colorType: 0, bitDepth: 8, samples: pseudoRandom(16, 256, seed) });
    const bytes = await makeParquet({ images: [1, 2, 3, 4, 5].map(png), labels: [0, 1, 0, 1, 0] });
    const ds = await ParquetImageDataset.fromFile(bytes, { targetSize: [4, 4] });
    expect(ds.subjects).toBeUndefined();
    const flags = { valFraction: 0.4, seed: 1, groupThreshold: 20, split: 'subjects' as const };
    await expect(splitTrainingRows(ds, flags)).rejects.toThrow(TrainingFlagError); // a UsageError (exit 2) in the CLI
    await expect(splitTrainingRows(ds, flags)).rejects.toThrow(/--split subjects: the training file has no subject column \(see --subject-column\)/);
    // The same file with a subject column splits.
    const withSubjects = await makeParquet({ images: [1, 2, 3, 4, 5].map(png), labels: [0, 1, 0, 1, 0], subjects: ['a', 'b', 'c', 'd', 'e'] });
    const ok = await splitTrainingRows(await ParquetImageDataset.fromFile(withSubjects, { targetSize: [4, 4] }), flags);
    expect(ok.mode).toBe('subjects');
    expect(ok.validation.length + ok.train.length).toBe(5);
  });

  it('--footprint-range keeps the slices of the asked levels, then splits them (row numbers stay the file\'s)', async () => {
    expect(parseTrainFlags({ 'footprint-range': '0:0.5' }).footprintRange).toEqual([0, 0.5]);
    expect(flattenTrainFlags(parseTrainFlags({ 'footprint-range': '0.1 : 0.3' })).footprintRange).toEqual([0.1, 0.3]);
    // 40 slices; slice i is an 8x8 image whose first (i % 8) + 1 rows are tissue: footprint ((i % 8) + 1) / 8.
    const footprintOf = (i: number) => ((i % 8) + 1) / 8;
    const images = Array.from({ length: 40 }, (_, i) => Float32Array.from({ length: 64 }, (_, p) => (p < ((i % 8) + 1) * 8 ? 200 : 0)));
    const labels = Int32Array.from({ length: 40 }, (_, i) => Math.floor(i / 8) % 2);
    const ds: LabeledImageSource = { length: 40, labels, classNames: ['a', 'b'], imageSize: [8, 8], get: (i: number) => ({ image: images[i], label: labels[i] }) };
    const r = await splitTrainingRows(ds, { valFraction: 0.25, seed: 1, groupThreshold: 5, split: 'rows', footprintRange: [0, 0.5] });
    const all = [...r.train, ...r.validation].sort((a, b) => a - b);
    // Footprints 1/8 .. 4/8 are kept: i % 8 in 0..3, 20 of 40 rows, each once.
    expect(all).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((i) => footprintOf(i) <= 0.5));
    expect(r.validation.length).toBe(5);
    expect(r.description).toBe('split (seed 1, by rows, 20 of 40 rows with head footprint in [0, 0.5]): 15 train / 5 validation rows');
    await expect(splitTrainingRows(ds, { valFraction: 0.25, seed: 1, groupThreshold: 5, split: 'rows', footprintRange: [0.01, 0.1] })).rejects.toThrow(
      /--footprint-range 0.01:0.1 keeps 0 of 40 rows/,
    );
  });
});
