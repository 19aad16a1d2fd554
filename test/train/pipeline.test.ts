// runTrainingPipeline on tiny in-memory data (8x8 images, 16 + 8 people) with a tiny model on the cpu backend: the
// result, the split by person, the files, metadata that reloads with the same temperature decision, the report's
// calibrated figures only when the temperature is kept, no tensor left after disposing the model; and the three call
// sites (CLI train, examples/train.ts, scripts/ship-model.ts) go through it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALZHEIMER_SEVERITY_ORDER, loadPretrainedNeuroStageNet, type LabeledImageSource } from 'neurostagenet';
import { TrainingFlagError, resolveTrainingRecipe, runTrainingPipeline, type TrainingRunRecord } from 'neurostagenet/train';
import { writeEvaluationReport } from 'neurostagenet/node';
import { makeModel, makeSource } from './helpers.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = mkdtempSync(join(tmpdir(), 'nsn-pipeline-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** `people` people of `slices` slices each; a person's label is `person % 4` (makeSource labels row i as i % 4). */
function withPeople(people: number, slices: number, seed: number, prefix: string): LabeledImageSource {
  const source = makeSource(people * slices, 8, 4, seed);
  return { ...source, get: source.get, subjects: Array.from({ length: source.length }, (_, i) => `${prefix}${i % people}`) };
}

const data = withPeople(16, 4, 1, 'p');
const test = withPeople(8, 4, 2, 't');
const recipe = resolveTrainingRecipe('seed', { epochs: 2, batchSize: 16, augment: 'none' });

describe('runTrainingPipeline', () => {
  it('splits by person, trains, calibrates, evaluates, saves with metadata that reloads with the same decision, and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const lines: string[] = [];
    const run = await runTrainingPipeline({
      data,
      test,
      recipe,
      valFraction: 0.25,
      seed: 7,
      buildModel: async (spec) => makeModel({ size: spec.inputShape[0], numClasses: spec.numClasses, seed: spec.seed }),
      progress: 'none',
      bootstrap: { resamples: 100 },
      out,
      writeReport: writeEvaluationReport,
      runInfo: { argv: ['--epochs', '2'], trainPath: 'train.parquet' },
      log: (line) => lines.push(line),
    });

    // The split: by person (auto on data with subjects), stratified, no person on both sides.
    expect(run.split.mode).toBe('subjects');
    expect(run.monitor).toBe('val_person_auc');
    expect(run.split.people).toEqual({ train: 12, validation: 4, shared: 0, trainPerClass: [3, 3, 3, 3], validationPerClass: [1, 1, 1, 1] });
    const subjects = data.subjects as readonly string[];
    const trainPeople = new Set(Array.from(run.split.train, (i) => subjects[i]));
    const validationPeople = new Set(Array.from(run.split.validation, (i) => subjects[i]));
    expect([...validationPeople].filter((p) => trainPeople.has(p))).toEqual([]);
    expect(run.split.train.length + run.split.validation.length).toBe(data.length);
    expect(lines[0]).toBe('split (seed 7, by 16 subjects): 48 train / 16 validation rows (4 validation people)');

    // Training, calibration, evaluations.
    expect(run.training?.epochs).toHaveLength(2);
    expect(run.recipe).toMatchObject({ name: 'seed', epochs: 2, allTrainable: true }); // no backbone weights: all trainable
    expect(run.validation.labels).toHaveLength(16);
    expect(run.validation.figures.people?.headline.count).toBe(4);
    const cal = run.calibration;
    expect(cal.served).toBe(cal.kept ? cal.fit.temperature : 1);
    expect(lines).toContain(`temperature: ${cal.reason}`);
    const t = run.test!;
    // The input check (fitted on the training people) classifies what it accepts and lists the rest.
    expect(t.evaluation.inputCheck).toBe('checked');
    expect(t.evaluation.labels.length + t.evaluation.refused.length).toBe(32);
    expect(t.evaluation.refused.every((r) => r.score > 1 && r.reason.length > 0)).toBe(true);
    expect(t.figures.people?.headline.count).toBe(8);
    if (cal.kept) expect(t.figures).not.toBe(t.evaluation.figures);
    else expect(t.figures).toBe(t.evaluation.figures);
    expect(run.ordinalOrder).toEqual([...ALZHEIMER_SEVERITY_ORDER]);
    expect(run.data.test).toMatchObject({ rows: 32, people: 8, classRows: [8, 8, 8, 8], classPeople: [2, 2, 2, 2] });

    // Files, and the record run.json holds.
    for (const f of ['model/model.json', 'model/weights.bin', 'model/metadata.json', 'best-model/model.json', 'history.json', 'run.json', 'report/report.txt', 'report/metrics.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as TrainingRunRecord;
    expect(record).toMatchObject({ argv: ['--epochs', '2'], epochs: 2, temperature: cal.served, backend: 'cpu', monitor: 'val_person_auc' });
    expect(record.options).toMatchObject({ trainPath: 'train.parquet', recipe: 'seed', split: 'subjects', validationSubjects: 4, seed: 7, valFraction: 0.25, imageSize: 8 });
    expect(record.split.people?.shared).toBe(0);
    expect(record.test?.temperature).toBe(cal.served);
    // The report's "after" figures use the temperature only when it is served.
    const report = readFileSync(join(out, 'report', 'report.txt'), 'utf8');
    expect(report.includes('calibration (temperature scaling)')).toBe(cal.kept);

    // metadata.json reloads with the same temperature decision.
    const reloaded = await loadPretrainedNeuroStageNet({ location: run.files.model });
    const meta = reloaded.metadata as { calibration: { kept: boolean; reason: string; fittedTemperature: number }; training: { split: { by: string; trainPeople: number; validationPeople: number } } };
    expect(reloaded.temperature).toBe(cal.served);
    expect(reloaded.inputCheck?.threshold).toBe(run.inputCheck.threshold);
    expect(Array.from(reloaded.inputCheck!.axes)).toEqual(Array.from(run.inputCheck.axes));
    expect(meta.calibration).toMatchObject({ kept: cal.kept, reason: cal.reason, fittedTemperature: cal.fit.temperature });
    expect(meta.training.split).toMatchObject({ by: 'subjects', trainPeople: 12, validationPeople: 4 });
    expect(reloaded.classNames).toEqual(['class0', 'class1', 'class2', 'class3']);
    expect(reloaded.ordinalOrder).toEqual([...ALZHEIMER_SEVERITY_ORDER]);
    expect(reloaded.trainingFootprint).toEqual(run.trainingFootprint);
    const xs = tf.tensor4d(Float32Array.from([0, 1].flatMap((i) => Array.from((data.get(i) as { image: Float32Array }).image))), [2, 8, 8, 1]);
    const a = run.model.predict(xs) as tf.Tensor;
    const b = reloaded.model.predict(xs) as tf.Tensor;
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    tf.dispose([xs, a, b]);
    reloaded.model.dispose();

    run.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('ships a trained model: no training, the report without calibrated figures when T = 1 is served, the model stays the caller\'s', async () => {
    // Zero logits: every temperature gives the same NLL, so the fitted one is not kept.
    const model = makeModel({ size: 8, numClasses: 4 });
    const logits = model.getLayer('logits');
    const zeros = logits.getWeights().map((w) => tf.zerosLike(w));
    logits.setWeights(zeros);
    tf.dispose(zeros);
    const dir = join(out, 'shipped');
    const run = await runTrainingPipeline({
      data,
      test,
      recipe,
      valFraction: 0.25,
      trainedModel: model,
      bootstrap: { resamples: 100 },
      out: { model: join(dir, 'model'), report: join(dir, 'report') },
      writeReport: writeEvaluationReport,
      metadata: (f) => ({ intendedUse: 'tests', training: { bestEpoch: f.split.people?.validation } }),
    });
    expect(run.training).toBeUndefined();
    expect(run.model).toBe(model);
    expect(run.calibration.kept).toBe(false);
    expect(run.calibration.served).toBe(1);
    expect(existsSync(join(dir, 'history.json'))).toBe(false);
    const report = readFileSync(join(dir, 'report', 'report.txt'), 'utf8');
    expect(report).not.toContain('calibration (temperature scaling)');
    const meta = JSON.parse(readFileSync(join(dir, 'model', 'metadata.json'), 'utf8'));
    expect(meta).toMatchObject({ temperature: 1, intendedUse: 'tests', calibration: { kept: false }, training: { bestEpoch: 4, split: { by: 'subjects' } } });
    expect(model.getWeights().length).toBeGreaterThan(0); // not disposed
    model.dispose();
  });

  it('names a split the data cannot serve', async () => {
    const noSubjects: LabeledImageSource = { ...data, get: data.get, subjects: undefined };
    await expect(runTrainingPipeline({ data: noSubjects, recipe, split: 'subjects', buildModel: async () => makeModel() })).rejects.toThrow(TrainingFlagError);
    await expect(runTrainingPipeline({ data, recipe, imageSize: 16 })).rejects.toThrow(/images are 8x8, expected 16x16/);
    // The report's plots need Node: the writer is injected (neurostagenet/train does not import it).
    await expect(runTrainingPipeline({ data, test, recipe, out })).rejects.toThrow(/writing the report needs writeReport \(writeEvaluationReport from 'neurostagenet\/node'\)/);
  });
});

describe('one pipeline for CLI train, examples/train.ts and scripts/ship-model.ts', () => {
  const sites = ['src/cli/commands/train.ts', 'examples/train.ts', 'scripts/ship-model.ts'];
  it.each(sites)('%s calls runTrainingPipeline and none of the steps it wraps', (file) => {
    const code = readFileSync(join(REPO, file), 'utf8');
    expect(code).toMatch(/runTrainingPipeline\(/);
    for (const step of ['trainNeuroStageNet', 'chooseTemperature', 'fitTemperature', 'StratifiedSplit', 'splitTrainingRows', 'recipeCallbacks', 'writeModelMetadata']) {
      // A call, a construction or an import of the step (prose may name it).
      expect(code, `${file} uses ${step}`).not.toMatch(new RegExp(`\\bnew\\s+${step}\\b|\\b${step}\\s*\\(|[{,]\\s*${step}\\s*[,}]|\\btype\\s+${step}\\b`));
    }
    // The report writer is handed to the pipeline (writeReport), never called here.
    expect(code).not.toMatch(/\bwriteEvaluationReport\s*\(/);
    expect(code, `${file} hard-codes the severity order`).not.toMatch(/\[\s*2\s*,\s*3\s*,\s*0\s*,\s*1\s*\]/);
  });

  it('examples/train.ts imports only the public entries', () => {
    const code = readFileSync(join(REPO, 'examples/train.ts'), 'utf8');
    const from = [...code.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    expect(from.filter((f) => !f.startsWith('node:'))).toEqual(expect.arrayContaining(['neurostagenet', 'neurostagenet/train']));
    for (const f of from) expect(f, f).toMatch(/^(node:|neurostagenet(\/(data|train|node))?$)/);
  });
});
