// scripts/ship-model.ts without a model: the log parser and which epoch the checkpoint is (scripts/training-run.ts),
// the library's temperature rule it ships under, the verdict, and the card rendered from
// scripts/model-card.template.md (scripts/model-card.ts) with facts built on small synthetic data.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MultiClassMetrics, applyTemperature, decideTemperature, figuresByPerson, type FiguresByPerson, type Interval, type TemperatureFit } from '../../src/index.js';
import { MODEL_CARD_TEMPLATE, renderModelCard, verdict, type ModelCardFacts } from '../../scripts/model-card.js';
import { checkpointEpochIndex, parseTrainingLog, recipeFromTrainArgs } from '../../scripts/training-run.js';

const TEMPLATE = readFileSync(MODEL_CARD_TEMPLATE, 'utf8');

const LOG = `backend: tensorflow
split (seed 42, by 119 subjects): 3040 train / 768 validation rows (24 validation people)
NeuroStageNet: {"trainable":5807790,"nonTrainable":46119,"total":5853909}; recipe: scratch
epoch 1/12  365.5s  loss 1.6731  accuracy 0.2912  val_loss 1.3266  val_accuracy 0.3506  val_auc 0.5381  val_person_auc 0.6012  lr 5.47e-4
I0000 some tensorflow noise
epoch 2/12  206.2s  loss 1.4265  accuracy 0.3888  val_loss 1.2391  val_accuracy 0.5000  val_auc 0.5746  val_person_auc 0.6650  lr 9.97e-4
`;

const NAMES = ['Mild_Demented', 'Moderate_Demented', 'Non_Demented', 'Very_Mild_Demented'];
/** People per class of the synthetic test file: Moderate has one, as in test.parquet. */
const PEOPLE_PER_CLASS = [3, 1, 4, 3];
const SLICES = 4;

/**
 * Synthetic test predictions: PEOPLE_PER_CLASS people of SLICES slices each. `right(person, slice)` says whether the
 * slice is predicted right (p = 0.7 on its label); a wrong slice is predicted Non_Demented (or Mild for Non).
 */
function synthetic(right: (person: number, slice: number) => boolean) {
  const labels: number[] = [];
  const probabilities: number[] = [];
  const subjects: string[] = [];
  let person = 0;
  PEOPLE_PER_CLASS.forEach((count, c) => {
    for (let q = 0; q < count; q++, person++) {
      for (let s = 0; s < SLICES; s++) {
        labels.push(c);
        subjects.push(`subject-${String(person + 1).padStart(3, '0')}`);
        const p = [0.1, 0.1, 0.1, 0.1];
        p[right(person, s) ? c : c === 2 ? 0 : 2] = 0.7;
        probabilities.push(...p);
      }
    }
  });
  return { labels, probabilities, subjects };
}

const STRONG = synthetic((person, s) => (3 * person + s) % 5 !== 0); // 3 or 4 of 4 slices right: every person right
const WEAK = synthetic(() => false); // nothing right

function figuresOf(d: ReturnType<typeof synthetic>): FiguresByPerson {
  return figuresByPerson(d.labels, d.probabilities, { numClasses: 4, classNames: NAMES, ordinalOrder: [2, 3, 0, 1], subjects: d.subjects, resamples: 200, seed: 3 });
}

const fit = (temperature: number, nllBefore: number, nllAfter: number): TemperatureFit => ({ temperature, nllBefore, nllAfter, iterations: 6, atBound: false });

function facts(d: ReturnType<typeof synthetic>, options: { complete: boolean; keepTemperature: boolean }): ModelCardFacts {
  const log = parseTrainingLog(LOG);
  const figures = figuresOf(d);
  const metrics = figures.slices.metrics;
  const logitRows = Array.from({ length: d.labels.length }, (_, i) => d.probabilities.slice(i * 4, (i + 1) * 4).map(Math.log));
  const calibrated = new MultiClassMetrics({ numClasses: 4, classNames: NAMES, ordinalOrder: [2, 3, 0, 1] }).update(d.labels, applyTemperature(logitRows, 0.8)).compute();
  const calibration = decideTemperature(fit(0.8, 1.1, 1.05), options.keepTemperature ? { before: 0.09, after: 0.05 } : { before: 0.05, after: 0.07 });
  const rows = d.labels.length;
  const people = PEOPLE_PER_CLASS.reduce((a, b) => a + b, 0);
  return {
    date: '2026-12-01',
    modelDir: 'models/neurostagenet',
    report: { dir: 'models/neurostagenet/report', link: 'neurostagenet/report' },
    storage: {
      kept: 'float16', forced: false, modelBytes: 11_850_000, float32Bytes: 23_415_636, float16Bytes: 11_707_818, sha256: 'ab'.repeat(32),
      float32: { accuracy: metrics.accuracy, macroAuc: metrics.macro.auc }, float16: { accuracy: metrics.accuracy, macroAuc: metrics.macro.auc }, agreement: 1,
      maxModelMb: 15, maxFloat16DropPoints: 0.5,
    },
    params: log.params!,
    recipe: recipeFromTrainArgs(['--recipe', 'scratch', '--class-weight', 'balanced-sqrt', '--epochs', '12']),
    data: {
      train: { name: 'train.parquet', rows: 3808, classRows: [512, 32, 1920, 1344], people: 119, classPeople: [16, 1, 60, 42] },
      test: { name: 'test.parquet', rows, classRows: PEOPLE_PER_CLASS.map((n) => n * SLICES), people, classPeople: PEOPLE_PER_CLASS },
    },
    split: { trainRows: 3040, validationRows: 768, trainPeople: 95, validationPeople: 24, validationPeoplePerClass: [3, 0, 12, 9], description: 'split (seed 42, by 119 subjects): 3040 train / 768 validation rows' },
    training: {
      runDir: 'runs/x', complete: options.complete, source: 'log', epochs: log.epochs, plannedEpochs: 12, monitor: 'val_person_auc',
      bestEpoch: 2, bestValue: 0.665, epochSeconds: 571.7, backend: 'tensorflow',
    },
    validation: { rows: 768, people: 24, accuracy: 0.5, macroAuc: 0.57, personMacroAuc: 0.665 },
    calibration,
    test: { file: 'test.parquet', metrics, calibrated, figures },
    commands: { train: 'npx tsx examples/train.ts a b', ship: 'npx tsx scripts/ship-model.ts --run runs/x', evaluate: 'npm run cli -- evaluate models/neurostagenet t.parquet' },
    evaluationBackend: 'tensorflow',
  };
}

// The card's interval format: value [low, high], 3 decimals.
const iv = (x: Interval | undefined): string => (x === undefined ? 'n/a' : `${x.value.toFixed(3)} [${x.low.toFixed(3)}, ${x.high.toFixed(3)}]`);

describe('ship-model: log and recipe parsing', () => {
  it('reads the epoch, split, backend and parameter lines of a training log, val_person_auc included', () => {
    const log = parseTrainingLog(LOG);
    expect(log.epochs.map((e) => [e.epoch, e.seconds, e.values.val_auc, e.values.val_person_auc, e.values.lr])).toEqual([
      [1, 365.5, 0.5381, 0.6012, 5.47e-4],
      [2, 206.2, 0.5746, 0.665, 9.97e-4],
    ]);
    expect(log.plannedEpochs).toBe(12);
    expect(log.split).toEqual({ seed: 42, trainRows: 3040, validationRows: 768 });
    expect(log.backend).toBe('tensorflow');
    expect(log.params?.total).toBe(5853909);
    expect(log.recipe).toBe('scratch');
    // The split line of a file without subjects (near-duplicate clusters), and a restarted run's repeated epoch.
    const other = parseTrainingLog(
      'split (seed 7, by 252 near-duplicate clusters (threshold 20)): 4090 train / 1031 validation rows\n' +
        'epoch 1/3  10.0s  loss 2.0  val_auc 0.51\nepoch 1/3  12.0s  loss 1.9  val_auc 0.53\n',
    );
    expect(other.split).toEqual({ seed: 7, trainRows: 4090, validationRows: 1031 });
    expect(other.epochs).toEqual([{ epoch: 1, seconds: 12, values: { loss: 1.9, val_auc: 0.53 } }]);
    expect(parseTrainingLog('nothing here\n')).toEqual({ epochs: [] });
  });

  it("resolves a training command with examples/train.ts's defaults", () => {
    const r = recipeFromTrainArgs(['a.parquet', 'b.parquet', '--recipe', 'scratch', '--class-weight', 'balanced-sqrt', '--epochs', '12', '--backend', 'tensorflow']);
    expect(r).toMatchObject({ recipe: 'scratch', epochs: 12, allTrainable: true, classWeight: 'balanced-sqrt', seed: 42, valFraction: 0.2 });
    expect(recipeFromTrainArgs([])).toMatchObject({ recipe: 'seed', epochs: 30, classWeight: undefined });
    expect(recipeFromTrainArgs(['--monitor', 'val_auc']).monitor).toBe('val_auc');
  });
});

describe('ship-model: temperature', () => {
  it('keeps the fitted temperature only when it lowers both the validation NLL and ECE', () => {
    const kept = decideTemperature(fit(0.8, 1.1, 1.05), { before: 0.09, after: 0.05 });
    expect([kept.kept, kept.served]).toEqual([true, 0.8]);
    expect(kept.reason).toMatch(/^kept T = 0\.800 .*lowers both/);
    expect(kept.validationEce).toEqual({ before: 0.09, after: 0.05 });
    expect(kept.fit.temperature).toBe(0.8);
  });

  it('serves T = 1 otherwise, naming what did not improve', () => {
    const cases: Array<[TemperatureFit, { before: number; after: number }, string]> = [
      [fit(0.8, 1.1, 1.05), { before: 0.05, after: 0.07 }, 'does not lower ECE on'],
      [fit(1.3, 1.1, 1.2), { before: 0.09, after: 0.05 }, 'does not lower NLL on'],
      [fit(1.3, 1.1, 1.2), { before: 0.05, after: 0.07 }, 'does not lower NLL or ECE'],
      [fit(1, 1.1, 1.1), { before: 0.05, after: 0.05 }, 'does not lower NLL or ECE'], // equal is not lower
    ];
    for (const [f, ece, fragment] of cases) {
      const d = decideTemperature(f, ece);
      expect(d.kept, fragment).toBe(false);
      expect(d.served).toBe(1);
      expect(d.reason).toMatch(/^not kept: /);
      expect(d.reason).toContain(fragment);
      expect(d.reason).toContain('T = 1 is served');
    }
  });
});

describe('ship-model: which epoch the checkpoint is', () => {
  it('is the best logged monitored figure when the re-measured one agrees, and an error when a newer epoch is not logged yet', () => {
    // val_person_auc per epoch (NaN where an epoch has none).
    expect(checkpointEpochIndex([0.53, 0.59, NaN, 0.57], 0.5905)).toBe(1);
    expect(checkpointEpochIndex([0.6, 0.7, 0.7], 0.7)).toBe(1); // the first of equal bests, as saveBestOnly keeps it
    expect(checkpointEpochIndex([0.6, 0.65], undefined)).toBe(1); // nothing re-measured: the best logged
    expect(checkpointEpochIndex([NaN, NaN], 0.6)).toBe(-1);
    expect(checkpointEpochIndex([], 0.6)).toBe(-1);
    expect(() => checkpointEpochIndex([0.53, 0.592], 0.5988)).toThrow(/best logged epoch \(2\) has 0\.5920.*not logged yet/);
  });
});

describe('ship-model: verdict', () => {
  it('says plainly when the aims are not met and which classes are never right; and when they are met', () => {
    const weak = verdict(figuresOf(WEAK));
    expect(weak).toContain('**It does not meet the aims**');
    expect(weak).toContain('It never predicts the true class for: Mild_Demented, Moderate_Demented, Non_Demented, Very_Mild_Demented.');
    expect(weak).toContain('Treat it as a weak model');
    const strong = figuresOf(STRONG);
    expect(strong.people?.headline.accuracy.value).toBe(1);
    expect(verdict(strong)).toMatch(/^It meets the aims/);
    expect(verdict(strong)).not.toContain('weak model');
  });
});

describe('ship-model: model card from the template', () => {
  it('fills every slot: per-slice and per-person intervals, Moderate left out of the class averages, the temperature decision', () => {
    const f = facts(STRONG, { complete: true, keepTemperature: false });
    const card = renderModelCard(f, TEMPLATE);
    expect(card).not.toContain('{{');
    expect(card).not.toContain('}}');
    expect(card).not.toContain('undefined');
    expect(card).not.toContain('NaN');
    expect(card).toContain('# NeuroStageNet model card (`models/neurostagenet`)');
    expect(card).not.toContain('Interim card');
    // Both levels, each with its interval, in the headline table and the summary.
    const s = f.test.figures.slices.headline;
    const p = f.test.figures.people!.headline;
    expect([s.count, p.count]).toEqual([44, 11]);
    expect(card).toContain(`| figure (95% interval over people) | per slice (44 slices) | per person (11 people) |`);
    expect(card).toContain(`| accuracy (all classes) | ${iv(s.accuracy)} | ${iv(p.accuracy)} |`);
    expect(card).toContain(`| macro AUC one-vs-rest (Mild_Demented, Non_Demented, Very_Mild_Demented) | ${iv(s.macroAuc)} | ${iv(p.macroAuc)} |`);
    expect(card).toContain(`per slice, accuracy **${iv(s.accuracy)}**`);
    expect(card).toContain(`per person, accuracy **${iv(p.accuracy)}**`);
    expect(s.accuracy.low).toBeLessThan(s.accuracy.high); // a real interval, not a point
    expect(card).toContain('95% percentile bootstrap over people (200 resamples, seed 3)');
    // Moderate (one person) is out of the class averages, and the card says why.
    expect(s.excludedClasses.map((e) => e.name)).toEqual(['Moderate_Demented']);
    expect(card).toContain('Class averages cover Mild_Demented, Non_Demented, Very_Mild_Demented (Moderate_Demented: 1 person, fewer than 2: no honest class figure).');
    expect(card).toMatch(/Moderate is left out of every\s+class\s+average/);
    // The temperature was not kept: the card serves T = 1 and gives the reason.
    expect(f.calibration.kept).toBe(false);
    expect(card).toContain('uncalibrated probabilities (T = 1, see Calibration)');
    expect(card).toContain(`It is kept only if it lowers both NLL and ECE on those people: ${f.calibration.reason}.`);
    expect(f.calibration.reason).toContain('does not lower ECE');
    expect(card).toContain('| ECE (top label, ');
    // Per-class rows with the per-person recall, the person confusion matrix, the report's PNGs, the commands.
    expect(card).toContain('| Moderate_Demented | ');
    const non = f.test.figures.slices.metrics.perClass[2];
    expect(card).toContain(`| Non_Demented | ${non.precision.toFixed(3)} | ${non.recall.toFixed(3)} | ${non.f1.toFixed(3)} | 16 | ${non.auc!.toFixed(3)} | 1.000 of 4 |`);
    expect(card).toContain('| Moderate_Demented | 0 | 1 | 0 | 0 |'); // per person: the one Moderate person, right
    expect(card).toContain('![confusion matrix per person](./neurostagenet/report/confusion_matrix_people.png)');
    expect(card).toContain('npm run cli -- evaluate models/neurostagenet t.parquet');
    expect(card).toContain('| **2** | 206 |'); // the best epoch in bold
    expect(card).toContain('Best `val_person_auc` 0.6650 at epoch 2');
    expect(card).toContain('not for diagnosis');
    expect(card).toMatch(/^It meets the aims/m);
  });

  it('adds the interim note only for a run still in progress, and says when a temperature is kept', () => {
    const interim = renderModelCard(facts(WEAK, { complete: false, keepTemperature: true }), TEMPLATE);
    expect(interim).not.toContain('{{');
    expect(interim).toContain('> **Interim card.** The training run was still in progress when this card was generated: figures are for the checkpoint of epoch 2 of 12 planned');
    expect(interim).toContain('**It does not meet the aims**');
    expect(interim).toContain('probabilities calibrated with T = 0.800');
    expect(interim).toMatch(/It is kept only if it lowers both NLL and ECE on those people: kept T = 0\.800 /);
    expect(interim).not.toContain('uncalibrated probabilities (T = 1');
  });

  it('refuses a template with a slot it cannot fill, or one that leaves a slot out', () => {
    const f = facts(STRONG, { complete: true, keepTemperature: false });
    expect(() => renderModelCard(f, `${TEMPLATE}\n{{noSuchSlot}}\n`)).toThrow(/no value for noSuchSlot/);
    expect(TEMPLATE).toContain('{{verdict}}');
    expect(() => renderModelCard(f, TEMPLATE.replace('{{verdict}}', ''))).toThrow(/does not use verdict/);
    // Sections: a flag used as a value, a value used as a section, a section left open.
    expect(TEMPLATE).toContain('{{#calibrationKept}}');
    expect(() => renderModelCard(f, `${TEMPLATE}\n{{calibrationKept}}\n`)).toThrow(/calibrationKept is a section, not a value/);
    expect(() => renderModelCard(f, `${TEMPLATE}\n{{#verdict}}x{{/verdict}}\n`)).toThrow(/verdict is a value, not a section/);
    expect(() => renderModelCard(f, `${TEMPLATE}\n{{#calibrationKept}}x\n`)).toThrow(/section calibrationKept is not closed/);
  });
});
