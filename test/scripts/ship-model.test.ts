import { describe, expect, it } from 'vitest';
import { MultiClassMetrics, type MultiClassMetricsResult } from '../../src/index.js';
import { checkpointEpochIndex, parseTrainingLog, recipeFromTrainArgs, renderModelCard, testSliceIndices, testSubjects, verdict, type ModelCardFacts } from '../../scripts/ship-model.js';
import { sharedFile } from '../data/helpers.js';

const LOG = `backend: tensorflow
split (seed 42): 4097 train / 1024 validation rows
NeuroStageNet: {"trainable":5807790,"nonTrainable":46119,"total":5853909}; recipe: scratch
epoch 1/12  365.5s  loss 1.6731  accuracy 0.2912  val_loss 1.3266  val_accuracy 0.3506  val_auc 0.5381  lr 5.47e-4
I0000 some tensorflow noise
epoch 2/12  206.2s  loss 1.4265  accuracy 0.3888  val_loss 1.2391  val_accuracy 0.5000  val_auc 0.5746  lr 9.97e-4
`;

const NAMES = ['Mild_Demented', 'Moderate_Demented', 'Non_Demented', 'Very_Mild_Demented'];

// Metrics of hand-made predictions: `correct` of every 10 rows per class predicted right (confidently), the rest as Non.
function metricsOf(correct: number): MultiClassMetricsResult {
  const labels: number[] = [];
  const probs: number[][] = [];
  for (let c = 0; c < 4; c++) {
    for (let i = 0; i < 10; i++) {
      labels.push(c);
      const p = [0.1, 0.1, 0.1, 0.1];
      p[i < correct ? c : 2] = 0.7;
      probs.push(p);
    }
  }
  return new MultiClassMetrics({ numClasses: 4, classNames: NAMES, ordinalOrder: [2, 3, 0, 1] }).update(labels, probs).compute();
}

function facts(metrics: MultiClassMetricsResult, complete: boolean): ModelCardFacts {
  const log = parseTrainingLog(LOG);
  return {
    date: '2026-01-01',
    modelDir: 'models/neurostagenet',
    report: { dir: 'models/neurostagenet/report', link: 'neurostagenet/report' },
    storage: {
      kept: 'float16', forced: false, modelBytes: 11_850_000, float32Bytes: 23_415_636, float16Bytes: 11_707_818, sha256: 'ab'.repeat(32),
      float32: { accuracy: metrics.accuracy, macroAuc: metrics.macro.auc }, float16: { accuracy: metrics.accuracy, macroAuc: metrics.macro.auc }, agreement: 1,
    },
    params: log.params!,
    recipe: recipeFromTrainArgs(['--recipe', 'scratch', '--class-weight', 'balanced-sqrt', '--epochs', '12']),
    split: { trainRows: 4097, validationRows: 1024 },
    training: {
      runDir: 'runs/x', complete, source: 'log', epochs: log.epochs, plannedEpochs: 12, bestEpoch: 2, bestValAuc: 0.5746,
      epochSeconds: 571.7, backend: 'tensorflow',
    },
    validation: { count: 1024, accuracy: 0.5, macroAuc: 0.57 },
    temperature: { temperature: 0.48, nllBefore: 1.11, nllAfter: 1.04, iterations: 5, atBound: false },
    test: { file: 'test.parquet', metrics, calibrated: metrics },
    commands: { train: 'npx tsx examples/train.ts a b', ship: 'npx tsx scripts/ship-model.ts --run runs/x', evaluate: 'npm run cli -- evaluate --pretrained t.parquet' },
    evaluationBackend: 'tensorflow',
  };
}

describe('ship-model: log and recipe parsing', () => {
  it('reads the epoch, split, backend and parameter lines of a training log', () => {
    const log = parseTrainingLog(LOG);
    expect(log.epochs.map((e) => [e.epoch, e.seconds, e.values.val_auc, e.values.lr])).toEqual([
      [1, 365.5, 0.5381, 5.47e-4],
      [2, 206.2, 0.5746, 9.97e-4],
    ]);
    expect(log.plannedEpochs).toBe(12);
    expect(log.split).toEqual({ seed: 42, trainRows: 4097, validationRows: 1024 });
    expect(log.backend).toBe('tensorflow');
    expect(log.params?.total).toBe(5853909);
    expect(log.recipe).toBe('scratch');
    const grouped = parseTrainingLog('split (seed 7, by 252 near-duplicate clusters (threshold 20)): 4090 train / 1031 validation rows\n');
    expect(grouped.split).toEqual({ seed: 7, trainRows: 4090, validationRows: 1031 });
  });

  it("resolves a training command with examples/train.ts's defaults", () => {
    const r = recipeFromTrainArgs(['a.parquet', 'b.parquet', '--recipe', 'scratch', '--class-weight', 'balanced-sqrt', '--epochs', '12', '--backend', 'tensorflow']);
    expect(r).toMatchObject({ recipe: 'scratch', epochs: 12, lr: 5e-4, patience: 8, allTrainable: true, warmupEpochs: 1, cosine: true, classWeight: 'balanced-sqrt', batchSize: 32, seed: 42, valFraction: 0.2, augment: 'flip', mixup: 0.4 });
    expect(recipeFromTrainArgs([])).toMatchObject({ recipe: 'seed', epochs: 30, lr: 5e-4, warmupEpochs: 0, cosine: false, classWeight: undefined });
  });
});

describe('ship-model: which epoch the checkpoint is', () => {
  it('is the best logged val AUC when the re-measured AUC agrees, and an error when a newer epoch is not logged yet', () => {
    expect(checkpointEpochIndex([0.53, 0.59, NaN, 0.57], 0.5905)).toBe(1);
    expect(checkpointEpochIndex([NaN, NaN], 0.6)).toBe(-1);
    expect(() => checkpointEpochIndex([0.53, 0.592], 0.5988)).toThrow(/not logged yet/);
  });
});

describe('ship-model: model card', () => {
  it('says plainly when the model is weak, and renders per-class figures, calibration, baselines and commands', () => {
    const weak = metricsOf(0); // everything predicted Non_Demented
    const card = renderModelCard(facts(weak, false));
    expect(card).toContain('**It does not meet the target**');
    expect(card).toContain('It never predicts the true class for: Mild_Demented, Moderate_Demented, Very_Mild_Demented.');
    expect(card).toContain('Interim card');
    expect(card).toContain('| Non_Demented | 0.250 | 1.000 | 0.400 | 10 |');
    expect(card).toContain('| accuracy | 0.250 |');
    expect(card).toMatch(/ECE \(top label, \d+ bins\) \| [\d.]+ \| [\d.]+ \|/);
    expect(card).toContain('| Keras seed recipe from scratch (TF 2.21, 15 epochs, 41 min) | 0.499 | 0.690 | 0.000 |');
    expect(card).toContain('15.4% of the test slices');
    expect(card).toContain('not for diagnosis');
    expect(card).toContain('**trained from scratch**');
    expect(card).toContain('class weights: balanced-sqrt');
    expect(card).toContain('training wall time 9.5 min');
    expect(card).toContain('| **2** | 206 |');
    expect(card).toContain('npm run cli -- evaluate --pretrained t.parquet');
    expect(card).toContain('![confusion matrix](neurostagenet/report/confusion_matrix.png)');
    // The recipe's split decides what the card says about validation.
    expect(card).toContain('**by clusters of near-duplicate slices**');
    expect(card).not.toContain('### Per subject');
    const withSubjects = renderModelCard({ ...facts(weak, false), subjects: { source: 'manifest', count: 40, metrics: metricsOf(5) } });
    expect(withSubjects).toContain('### Per subject');
    expect(withSubjects).toContain('| accuracy | 0.625 |'); // metricsOf(5): (5 + 5 + 10 + 5) / 40 right
    expect(withSubjects).toContain('IDs come from the data folder');
    const bySlice = renderModelCard({ ...facts(weak, false), recipe: { ...facts(weak, false).recipe, split: 'rows' } });
    expect(bySlice).toContain('**by slice**');
    expect(bySlice).toContain('**not grouped by subject**');
    expect(card).not.toContain('## Slice-level shift');
    const shifted = renderModelCard({
      ...facts(weak, false),
      sliceLevel: {
        trainMedian: 0.513, testMedian: 0.476, trainRange: [0.488, 0.519], testInside: 26, testCount: 635, ks: 0.968,
        bySliceIndex: [{ index: 26, count: 35, footprint: 0.488, accuracy: 0.543, macroAuc: 0.81, dementedAuc: 0.7 }],
      },
    });
    expect(shifted).toContain('**only 26 of 635 test slices lie in the training range** (Kolmogorov–Smirnov 0.968)');
    expect(shifted).toContain('| 26 | 35 | 0.488 | 0.543 | 0.810 | 0.700 |');
    expect(shifted).toContain('![slice levels of the training and test files](neurostagenet/report/slice_levels.png)');
  });

  it('says when the targets are met and drops the interim note for a finished run', () => {
    const strong = metricsOf(9);
    expect(verdict(strong)).toMatch(/^It meets issue 7's target/);
    const card = renderModelCard(facts(strong, true));
    expect(card).not.toContain('Interim card');
    expect(card).not.toContain('does not meet');
    expect(card).toContain('It clearly beats both from-scratch baselines.');
  });
});

describe('ship-model: test subjects', () => {
  it('reads one subject per test row from the data folder\'s manifest (100 people, 6 or 7 slices each)', async () => {
    const ids = await testSubjects(sharedFile('test.parquet'), 635);
    expect(ids).toHaveLength(635);
    const counts = new Map<string, number>();
    for (const id of ids!) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(counts.size).toBe(100);
    expect([...counts.values()].every((c) => c === 6 || c === 7)).toBe(true);
    expect(await testSubjects(sharedFile('test.parquet'), 636)).toBeUndefined(); // a row without a subject
  });

  it('reads the Kaggle slice index (26..32) of every test row from the manifest', async () => {
    const idx = await testSliceIndices(sharedFile('test.parquet'), 635);
    const counts = new Map<number, number>();
    for (const i of idx!) counts.set(i, (counts.get(i) ?? 0) + 1);
    // 100 subjects: one slice of each per index 27..32; index 26 is missing for the subjects with 6 slices.
    expect([...counts.entries()].sort((a, b) => a[0] - b[0])).toEqual([[26, 35], [27, 100], [28, 100], [29, 100], [30, 100], [31, 100], [32, 100]]);
    expect(await testSliceIndices(sharedFile('test.parquet'), 636)).toBeUndefined();
  });
});
