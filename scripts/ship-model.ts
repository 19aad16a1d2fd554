/**
 * Ships a trained NeuroStageNet: takes a training run of examples/train.ts, decides on calibration, picks float16 or
 * float32 weights, writes the model directory (model.json + weights.bin + metadata.json), the test-set report (per
 * slice and per person, with intervals over people) and the model card (scripts/model-card.template.md filled with
 * the run's figures).
 *
 *   npx tsx scripts/ship-model.ts --run runs/scratch128b [--out models/neurostagenet] [--card models/README.md]
 *                                 [--backend tensorflow]
 *
 * Steps: load the run's best checkpoint; re-create the run's stratified validation split (same seed and share);
 * save float32 and float16 copies to a temporary directory and evaluate both on the test file; keep float16 when
 * its test accuracy is within 0.5 points of float32 (else float32, and the card says so); fit the calibration
 * temperature on the kept model's validation logits (never on test) and keep it only if it lowers the validation
 * people's NLL and ECE (else T = 1); evaluate on test before / after calibration;
 * check the size (<= 15 MB); write the model, its metadata, the report and the card; reload the written directory
 * with loadPretrainedNeuroStageNet and check that it predicts what was evaluated.
 *
 * The run's facts come from run.json / history.json (written by examples/train.ts when the run ends). For a run
 * still in progress, they come from flags (--val-fraction, --seed, --image-size, --train-command) and from the
 * epoch lines of the run's log (default: `<run>.log`).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MultiClassMetrics, ParquetImageDataset, applyTemperature, countParams, evaluate, figuresByPerson, chooseTemperature, formatEvaluationReport, formatFigures, loadPretrainedNeuroStageNet, selectBackend, type EvaluationResult, type FiguresByPerson, type Interval, type MultiClassMetricsResult, decideTemperature, type CalibrationDecision, type TemperatureFit } from '../src/index.js';
import { footprintRange, headFootprints, selectRows, summarizeDataset } from '../src/data/index.js';
import { loadModel, saveModel, writeEvaluationReport, writeModelMetadata } from '../src/node/index.js';

/** The temperature rule of the library, re-exported for the tests of this script. */
export { decideTemperature };
import type { Values } from '../src/cli/args.js';
import { rowsOf } from '../src/cli/inference.js';
import { flattenTrainFlags, monitorFor, parseTrainFlags, splitTrainingRows, TRAIN_OPTIONS, type FlatTrainOptions } from '../src/cli/train-options.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED_DATA = resolve(REPO, '..', 'shared', 'data', 'alzheimer-mri-subjects');
/** The model card's prose, with `{{slot}}` placeholders that {@link renderModelCard} fills. */
const CARD_TEMPLATE = join(REPO, 'scripts', 'model-card.template.md');
/** Severity order of the dataset's labels (0 Mild, 1 Moderate, 2 Non, 3 Very Mild). */
const SEVERITY_ORDER = [2, 3, 0, 1];
/** float16 is kept when its test accuracy is within this many percentage points of float32 (issue 7). */
const MAX_FP16_ACCURACY_DROP_POINTS = 0.5;
/** Size limit of the shipped model (model.json + weights.bin), in MB (10^6 bytes). */
const MAX_MODEL_MB = 15;

const HELP = `Usage: npx tsx scripts/ship-model.ts --run DIR [options]

Calibrates, quantizes (if harmless), evaluates and writes a run's best model with its model card.

  --run DIR              training run directory of examples/train.ts (best-model/, run.json, history.json)
  --out DIR              model directory to write (default models/neurostagenet)
  --card FILE            model card to write (default models/README.md)
  --report DIR           evaluation report directory (default <out>/report)
  --train FILE           training Parquet (default: run.json's, else ../shared/data/alzheimer-mri-subjects/train.parquet)
  --test FILE            test Parquet (default: run.json's, else ../shared/data/alzheimer-mri-subjects/test.parquet)
  --resamples N          bootstrap resamples of the intervals (default 2000)
  --bootstrap-seed N     bootstrap seed (default 0)
  --backend NAME         tensorflow | wasm | cpu (default: the fastest installed)
  --batch-size N         images per forward pass (default 32)
  --weights auto|float16|float32   auto = float16 if within ${MAX_FP16_ACCURACY_DROP_POINTS} accuracy points (default auto)
Only needed while run.json / history.json do not exist yet (run in progress):
  --log FILE             the run's log with its epoch lines (default <run>.log)
  --val-fraction F       validation share of the run's split (default 0.2)
  --seed N               the run's seed (default 42)
  --image-size N         the run's image size (default 128)
  --train-command ARGS   the arguments the run was started with (for the card's recipe and command)
  -h, --help             this text
`;

/** A command-line mistake: printed as one line, exit code 2. */
class UsageError extends Error {}

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
 * Reads the lines examples/train.ts prints: `backend: …`, `split (seed S): A train / B validation rows`,
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

/** The training recipe, as examples/train.ts's options name it. */
/** A run's recipe as run.json stores it. */
export type Recipe = FlatTrainOptions;

/**
 * The recipe of a training command line, resolved by the same parser as examples/train.ts (used only while a
 * run has not written run.json, which records the resolved options).
 * @param args The arguments after `examples/train.ts`.
 * @returns The recipe.
 */
export function recipeFromTrainArgs(args: string[]): Recipe {
  const { values } = parseArgs({
    args,
    strict: false,
    allowPositionals: true,
    options: { ...TRAIN_OPTIONS, backend: { type: 'string' }, out: { type: 'string' } },
  });
  return flattenTrainFlags(parseTrainFlags(values as Values));
}

/** Everything the model card says; built by {@link main}, rendered by {@link renderModelCard}. */
export interface ModelCardFacts {
  /** ISO date of shipping. */
  date: string;
  /** Repository-relative model directory, e.g. `models/neurostagenet`. */
  modelDir: string;
  /** Repository-relative report directory and the card's relative link to it. */
  report: { dir: string; link: string };
  /** Stored weights and the quantization decision. */
  storage: {
    kept: 'float16' | 'float32';
    forced: boolean;
    modelBytes: number;
    float32Bytes: number;
    float16Bytes: number;
    sha256: string;
    float32: { accuracy: number; macroAuc: number | undefined };
    float16: { accuracy: number; macroAuc: number | undefined };
    agreement: number;
  };
  /** Parameter counts. */
  params: { trainable: number; nonTrainable: number; total: number };
  /** The recipe. */
  recipe: Recipe;
  /** The two files: rows, people and classes, counted from the data. */
  data: { train: FileFacts; test: FileFacts; check?: string };
  /** Split row and people counts. */
  split: { trainRows: number; validationRows: number; trainPeople?: number; validationPeople?: number; validationPeoplePerClass?: number[]; description: string };
  /** The training run. */
  training: {
    runDir: string;
    complete: boolean;
    source: 'history.json' | 'log';
    epochs: EpochFigures[];
    plannedEpochs: number;
    /** The figure the checkpoint was chosen on. */
    monitor: string;
    bestEpoch: number | undefined;
    bestValue: number | undefined;
    epochSeconds: number;
    wallSeconds?: number;
    backend?: string;
    stoppedEarly?: boolean;
  };
  /** Validation figures of the shipped weights. */
  validation: { count: number; people?: number; accuracy: number; macroAuc: number | undefined; personMacroAuc?: number };
  /** The temperature fitted on validation people, and whether it was kept. */
  calibration: CalibrationDecision;
  /** Test metrics: per slice before / after the fitted temperature, and the served figures with intervals. */
  test: { file: string; metrics: MultiClassMetricsResult; calibrated: MultiClassMetricsResult; figures: FiguresByPerson };
  /** Shell commands that reproduce the model and its figures. */
  commands: { train?: string; ship: string; evaluate: string };
  /** Backend the evaluation ran on. */
  evaluationBackend: string;
}

/** Rows, people and class counts of one file. */
export interface FileFacts {
  /** File name. */
  name: string;
  /** Rows (slices). */
  rows: number;
  /** Rows per class. */
  classRows: number[];
  /** People, when the file has subjects. */
  people?: number;
  /** People per class. */
  classPeople?: number[];
}

const f3 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(3));
const f4 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(4));
const pct = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${(100 * v).toFixed(digits)}%`);
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;
const minutes = (s: number): string => (s >= 3600 ? `${(s / 3600).toFixed(2)} h` : `${(s / 60).toFixed(1)} min`);
const iv = (x: Interval | undefined): string => (x === undefined ? 'n/a' : `${f3(x.value)} [${f3(x.low)}, ${f3(x.high)}]`);

/** Issue 13's aims on people the model never saw. */
const AIM = { sliceAccuracy: 0.6, sliceMacroAuc: 0.8, personAccuracy: 0.65 };
/**
 * From-scratch models trained on exactly this split (figures from issue 13, measured outside this repository):
 * slice accuracy / slice macro AUC / person accuracy on the 41 people of test.parquet where reported.
 */
const COMPARISON = [
  { name: 'compact 4-block CNN (PyTorch, flips, early stopping on people)', sliceAccuracy: 0.37, sliceMacroAuc: 0.45 },
  { name: 'NeuroStageNet in Keras 3.15, all layers from scratch, flips', sliceAccuracy: 0.41, sliceMacroAuc: 0.51 },
];

/**
 * One plain-language verdict: whether issue 13's aims are met on the test people, which classes are never right.
 * @param f Served test figures.
 * @returns Sentences.
 */
export function verdict(f: FiguresByPerson): string {
  const s = f.slices.headline;
  const p = f.people?.headline;
  const met = s.accuracy.value >= AIM.sliceAccuracy && (s.macroAuc?.value ?? 0) >= AIM.sliceMacroAuc && (p?.accuracy.value ?? 0) >= AIM.personAccuracy;
  const parts = [met
    ? `It meets the aims (slice accuracy ≥ ${AIM.sliceAccuracy}, slice macro AUC ≥ ${AIM.sliceMacroAuc}, person accuracy ≥ ${AIM.personAccuracy}) on these people.`
    : `**It does not meet the aims** of slice accuracy ≥ ${AIM.sliceAccuracy}, slice macro AUC ≥ ${AIM.sliceMacroAuc} and person accuracy ≥ ${AIM.personAccuracy}.`];
  const never = f.slices.metrics.perClass.filter((c) => c.support > 0 && c.recall === 0).map((c) => c.className);
  if (never.length) parts.push(`It never predicts the true class for: ${never.join(', ')}.`);
  if (!met) parts.push('Treat it as a weak model: a working example of the pipeline, not a useful classifier.');
  return parts.join(' ');
}

function table(header: string[], rows: string[][], align?: string[]): string {
  const a = align ?? header.map((_, i) => (i === 0 ? '---' : '---:'));
  return [`| ${header.join(' | ')} |`, `| ${a.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function describeAugment(augment: Recipe['augment']): string {
  const what: Record<string, string> = {
    true: 'random flip, rotation, zoom, brightness and contrast',
    geometric: 'random flip, rotation and zoom (no brightness or contrast change)',
    'no-zoom': 'random flip, rotation, brightness and contrast (no zoom: head size carries the atrophy signal)',
    photometric: 'random left-right flip, brightness and contrast (no rotation or zoom: the slice geometry is kept)',
    flip: 'random left-right flips only',
  };
  return augment === false ? 'none' : `${what[String(augment)]} (training only, seeded)`;
}

function recipeLines(r: Recipe, monitor: string): string[] {
  const schedule = r.cosine || r.warmupEpochs > 0
    ? `linear warm-up over ${r.warmupEpochs} epoch(s) from ${(r.lr / 10).toExponential(1)} to ${r.lr.toExponential(1)}, then ${r.cosine ? `cosine decay (per step) to ${(r.lr / 100).toExponential(1)} at epoch ${r.epochs}` : 'constant'}`
    : `constant ${r.lr.toExponential(1)}, halved when val_loss has not improved for 2 epochs (min 1e-6)`;
  return [
    `- Recipe \`${r.recipe}\` of \`examples/train.ts\`${r.recipe === 'scratch' ? " (the from-scratch recipe; the seed's recipe stays the documented default for users with ImageNet weights)" : ''}.`,
    `- Backbone: EfficientNetB0 **trained from scratch** (random initialisation${r.backboneWeights ? `; ImageNet weights from ${r.backboneWeights}` : ': no ImageNet weights exist on the build machine'}), ${r.allTrainable ? 'all layers trainable' : 'layers below 150 frozen'}.`,
    `- Input: ${r.imageSize}×${r.imageSize} grayscale, 0–255 (the model rescales and normalises inside).`,
    `- Optimizer: Adam, batch size ${r.batchSize}, learning rate ${schedule}.`,
    `- Loss: categorical cross-entropy with label smoothing ${r.labelSmoothing}; class weights: ${r.classWeight ?? 'none'}${r.classWeight === 'balanced-sqrt' ? ' (square root of n / (K·count), a milder correction than balanced for the 1% Moderate class)' : ''}.`,
    `- Augmentation: ${describeAugment(r.augment)}.`,
    ...(r.mixup ? [`- Mixup: each training image and its label mixed with another of the batch, weight max(λ, 1 − λ), λ ~ Beta(${r.mixup}, ${r.mixup}) (seeded).`] : []),
    `- Early stopping on \`${monitor}\`${monitor === 'val_person_auc' ? ' (validation macro AUC per person, each person\'s slice probabilities averaged)' : ' (validation macro AUC per slice)'}, patience ${r.patience}, best weights restored; the best checkpoint by it is the shipped model. At most ${r.epochs} epochs.`,
  ];
}

function fileLine(what: string, d: FileFacts, names: readonly string[]): string {
  const classes = names.map((n, c) => `${n} ${d.classRows[c]}${d.classPeople ? ` (${d.classPeople[c]} ${d.classPeople[c] === 1 ? 'person' : 'people'})` : ''}`).join(', ');
  return `- ${what}: \`${d.name}\`, ${d.rows.toLocaleString('en-US')} slices${d.people !== undefined ? ` of ${d.people} people` : ''}: ${classes}.`;
}

/**
 * The model card (Markdown): the template with its slots filled from the facts. Every slot must be filled and
 * every fact slot used.
 * @param f The facts.
 * @param template The card template (`scripts/model-card.template.md`), with `{{slot}}` placeholders.
 * @returns The card.
 * @throws When the template names a slot the facts do not fill.
 */
export function renderModelCard(f: ModelCardFacts, template: string): string {
  const m = f.test.metrics;
  const c = f.test.calibrated;
  const t = f.training;
  const names = m.classNames;
  const served = f.test.figures;
  const s = served.slices.headline;
  const p = served.people?.headline;
  const personMetrics = served.people?.metrics;
  const cal = f.calibration;
  const keys = ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'val_auc', 'val_person_auc'];
  const share = `${Math.round((1 - f.recipe.valFraction) * 100)}/${Math.round(f.recipe.valFraction * 100)}`;
  const slots: Record<string, string> = {
    modelDir: f.modelDir,
    date: f.date,
    testPeople: String(f.data.test.people ?? 'the'),
    testFile: f.test.file,
    resamples: String(s.resamples),
    bootstrapSeed: String(s.seed),
    onePerson: p ? pct(1 / p.count) : 'n/a',
    summary:
      `per slice, accuracy **${iv(s.accuracy)}**, macro AUC **${iv(s.macroAuc)}**, quadratic kappa ${iv(s.quadraticKappa)}; ` +
      (p ? `per person, accuracy **${iv(p.accuracy)}**, macro AUC **${iv(p.macroAuc)}**, kappa ${iv(p.quadraticKappa)}. ` : '') +
      `Class averages cover ${s.classNamesCovered.join(', ')} (${s.excludedClasses.map((e) => `${e.name}: ${e.reason}`).join('; ') || 'all classes'}).`,
    verdict: verdict(served),
    interim: t.complete ? '' : `\n> **Interim card.** The training run was still in progress when this card was generated: figures are for the checkpoint of epoch ${t.bestEpoch ?? '?'} of ${t.plannedEpochs} planned, taken from the run's log.\n`,
    dataLines: [
      fileLine('Training', f.data.train, names),
      fileLine('Test', f.data.test, names),
      '- Source: `../shared/data/alzheimer-mri-subjects/` (the Kaggle "Alzheimer\'s Dataset (4 class of Images)", 200 people × 32 axial slices, with each slice\'s person and level recovered; see its README). **No person has slices in both files**; every person has all 32 slices.',
    ].join('\n'),
    dataCheck: f.data.check ? `- Data check (\`neurostagenet inspect train.parquet --compare test.parquet\`): ${f.data.check}` : '',
    splitText:
      `Stratified ${share} split of the training file **by person**, seed ${f.recipe.seed} (\`StratifiedSplit.splitSource\`: every person's slices on one side, people stratified by their label): ` +
      `${f.split.trainPeople ?? '?'} people / ${f.split.trainRows} slices for training, ${f.split.validationPeople ?? '?'} people / ${f.split.validationRows} slices for validation` +
      `${f.split.validationPeoplePerClass ? ` (${names.map((n, i) => `${n} ${f.split.validationPeoplePerClass?.[i]}`).join(', ')})` : ''}. ` +
      'Validation chose the checkpoint and the temperature; the test file was used only to report. A validation set of about 24 people is a weak guide: its figures move by about 0.04 per person.',
    recipeLines: recipeLines(f.recipe, t.monitor).join('\n'),
    runText:
      `Run \`${t.runDir}\`${t.backend ? ` on the ${t.backend === 'tensorflow' ? 'tfjs-node (TensorFlow C, CPU) backend' : `${t.backend} backend`}` : ''}: ${t.epochs.length} epoch(s) run of ${t.plannedEpochs} planned` +
      `${t.stoppedEarly ? ' (stopped early)' : ''}; training wall time ${minutes(t.epochSeconds)} (sum of epoch times${t.wallSeconds ? `; whole run incl. data loading and evaluation ${minutes(t.wallSeconds)}` : ''}) on 2 CPU cores. ` +
      `Best \`${t.monitor}\` ${f4(t.bestValue)} at epoch ${t.bestEpoch ?? 'n/a'}: that checkpoint is the shipped model (validation per slice: accuracy ${f3(f.validation.accuracy)}, macro AUC ${f3(f.validation.macroAuc)}). ` +
      `Parameters: ${f.params.total.toLocaleString('en-US')} (${f.params.trainable.toLocaleString('en-US')} trainable).`,
    epochTable: table(
      ['epoch', 'seconds', ...keys, 'lr'],
      t.epochs.map((e) => [
        e.epoch === t.bestEpoch ? `**${e.epoch}**` : String(e.epoch),
        e.seconds.toFixed(0),
        ...keys.map((k) => f4(e.values[k])),
        e.values.lr === undefined ? 'n/a' : e.values.lr.toExponential(2),
      ]),
    ),
    evaluationBackend: f.evaluationBackend,
    weights: f.storage.kept,
    servedNote: cal.kept ? `, probabilities calibrated with T = ${cal.served.toFixed(3)}` : ', uncalibrated probabilities (T = 1, see Calibration)',
    headlineTable: table(
      ['figure (95% interval over people)', `per slice (${s.count} slices)`, p ? `per person (${p.count} people)` : 'per person'],
      [
        ['accuracy (all classes)', iv(s.accuracy), p ? iv(p.accuracy) : 'n/a'],
        [`balanced accuracy (${s.classNamesCovered.join(', ')})`, iv(s.balancedAccuracy), p ? iv(p.balancedAccuracy) : 'n/a'],
        [`macro AUC one-vs-rest (${s.classNamesCovered.join(', ')})`, iv(s.macroAuc), p ? iv(p.macroAuc) : 'n/a'],
        ['quadratic kappa, severity order (all classes)', iv(s.quadraticKappa), p ? iv(p.quadraticKappa) : 'n/a'],
      ],
    ),
    classPeople: names.map((n, i) => `${n} ${f.data.test.classPeople?.[i] ?? '?'}`).join(', '),
    perClassTable: table(
      ['class', 'precision', 'recall', 'F1', 'slices', 'AUC (one-vs-rest)', 'recall per person'],
      served.slices.metrics.perClass.map((q, i) => [q.className, f3(q.precision), f3(q.recall), f3(q.f1), String(q.support), f3(q.auc), personMetrics ? `${f3(personMetrics.perClass[i].recall)} of ${personMetrics.perClass[i].support}` : 'n/a']),
    ),
    confusionTable: table(['true \\ predicted', ...names], served.slices.metrics.confusionMatrix.map((row, i) => [names[i], ...row.map(String)])),
    personConfusionTable: personMetrics ? table(['true \\ predicted', ...names], personMetrics.confusionMatrix.map((row, i) => [names[i], ...row.map(String)])) : '(no subject column)',
    reportLink: f.report.link,
    calibrationText:
      `One temperature T = ${cal.fit.temperature.toFixed(3)} was fitted on the logits of the ${f.validation.count} validation slices (${f.validation.people ?? '?'} people)${cal.fit.atBound ? ' (**at the search bound**)' : ''}. ` +
      `It is kept only if it lowers both NLL and ECE on those people: ${cal.reason}. \`metadata.json\` stores the served temperature and this decision. ` +
      `On the test file, per slice, the fitted temperature would change ECE ${f4(m.ece)} → ${f4(c.ece)} (shown for information; the decision was made on validation only).`,
    calibrationTable: table(
      ['figure', 'validation, T = 1', `validation, T = ${cal.fit.temperature.toFixed(3)}`, 'test, T = 1', `test, T = ${cal.fit.temperature.toFixed(3)}`],
      [
        ['NLL / log loss', f4(cal.fit.nllBefore), f4(cal.fit.nllAfter), f4(m.logLoss), f4(c.logLoss)],
        [`ECE (top label, ${m.calibrationBins.length} bins)`, f4(cal.validationEce.before), f4(cal.validationEce.after), f4(m.ece), f4(c.ece)],
        ['Brier score (sum over classes)', '', '', f4(m.brier), f4(c.brier)],
      ],
    ),
    comparisonTable: table(
      ['model (from scratch, trained on this split)', 'slice accuracy', 'slice macro AUC', 'person accuracy'],
      [
        ...COMPARISON.map((b) => [b.name, f3(b.sliceAccuracy), f3(b.sliceMacroAuc), 'n/a']),
        [`**this model** (${t.epochs.length} epochs)`, `**${iv(s.accuracy)}**`, `**${iv(s.macroAuc)}**`, `**${p ? iv(p.accuracy) : 'n/a'}**`],
        ['aim (issue 13)', `≥ ${AIM.sliceAccuracy}`, `≥ ${AIM.sliceMacroAuc}`, `≥ ${AIM.personAccuracy}`],
        ['always "Non_Demented"', f3(f.data.test.classRows[2] / f.data.test.rows), '0.500', f3((f.data.test.classPeople?.[2] ?? NaN) / (f.data.test.people ?? NaN))],
      ],
    ),
    comparisonText:
      'The comparison rows were measured outside this repository on the same test file (reported in issue 13, macro AUC over the classes present); on the 40 people kept outside the repository, the same models scored higher ' +
      '(CNN 0.51 / 0.76, Keras NeuroStageNet 0.53 / 0.69 / person 0.53): with about 40 people per set, single figures swing by more than the gaps between models.',
    storageText:
      `\`${f.modelDir}/\`: \`model.json\` (topology + weights manifest), \`weights.bin\` (${f.storage.kept}, sha256 \`${f.storage.sha256.slice(0, 16)}…\`), \`metadata.json\` ` +
      `(class names, ordinal order, served temperature and the calibration decision, image size, training summary, test figures); total ${mb(f.storage.modelBytes)} (limit ${MAX_MODEL_MB} MB). ` +
      `Weights: float32 ${mb(f.storage.float32Bytes)}, float16 ${mb(f.storage.float16Bytes)}; on the test file float32 scores accuracy ${f4(f.storage.float32.accuracy)} / macro AUC ${f4(f.storage.float32.macroAuc)} per slice, ` +
      `float16 ${f4(f.storage.float16.accuracy)} / ${f4(f.storage.float16.macroAuc)} (same predicted class for ${pct(f.storage.agreement, 2)} of the slices). ` +
      (f.storage.forced
        ? `${f.storage.kept} was chosen by the --weights flag.`
        : f.storage.kept === 'float16'
          ? `float16 is within ${MAX_FP16_ACCURACY_DROP_POINTS} accuracy points, so the float16 version is shipped (tfjs restores float32 weights on load).`
          : `**float16 loses more than ${MAX_FP16_ACCURACY_DROP_POINTS} accuracy points, so float32 is shipped.**`),
    evaluateCommand: f.commands.evaluate,
    shipCommand: f.commands.ship,
    trainCommand: f.commands.train ?? '# the training command was not recorded (run.json missing)',
  };
  const missing = new Set<string>();
  const used = new Set<string>();
  const card = template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    used.add(name);
    if (!(name in slots)) missing.add(name);
    return slots[name] ?? '';
  });
  if (missing.size) throw new Error(`model card template: no value for ${[...missing].join(', ')}`);
  const unused = Object.keys(slots).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`model card template does not use ${unused.join(', ')}`);
  return card.replace(/\n{3,}/g, '\n\n');
}

interface Cli {
  run: string;
  out: string;
  card: string;
  report: string;
  train?: string;
  test?: string;
  backend?: string;
  batchSize: number;
  weights: 'auto' | 'float16' | 'float32';
  log?: string;
  valFraction: number;
  seed: number;
  imageSize: number;
  trainCommand?: string;
  resamples: number;
  bootstrapSeed: number;
}

function parseCli(argv: string[]): Cli | null {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      run: { type: 'string' },
      out: { type: 'string' },
      card: { type: 'string' },
      report: { type: 'string' },
      train: { type: 'string' },
      test: { type: 'string' },
      backend: { type: 'string' },
      'batch-size': { type: 'string' },
      weights: { type: 'string' },
      log: { type: 'string' },
      'val-fraction': { type: 'string' },
      seed: { type: 'string' },
      'image-size': { type: 'string' },
      'train-command': { type: 'string' },
      resamples: { type: 'string' },
      'bootstrap-seed': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (!values.run) throw new UsageError('missing --run DIR (a training run directory of examples/train.ts)');
  const run = resolve(values.run);
  if (!existsSync(join(run, 'best-model', 'model.json'))) throw new UsageError(`no best-model/model.json in ${run}`);
  const num = (name: string, raw: string | undefined, d: number): number => {
    if (raw === undefined) return d;
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new UsageError(`--${name} expects a number, got '${raw}'`);
    return v;
  };
  const weights = (values.weights ?? 'auto') as Cli['weights'];
  if (!['auto', 'float16', 'float32'].includes(weights)) throw new UsageError(`--weights must be auto, float16 or float32`);
  const out = resolve(values.out ?? join(REPO, 'models', 'neurostagenet'));
  return {
    run,
    out,
    card: resolve(values.card ?? join(REPO, 'models', 'README.md')),
    report: resolve(values.report ?? join(out, 'report')),
    train: values.train,
    test: values.test,
    backend: values.backend,
    batchSize: num('batch-size', values['batch-size'], 32),
    weights,
    log: values.log,
    valFraction: num('val-fraction', values['val-fraction'], 0.2),
    seed: num('seed', values.seed, 42),
    imageSize: num('image-size', values['image-size'], 128),
    trainCommand: values['train-command'],
    resamples: num('resamples', values.resamples, 2000),
    bootstrapSeed: num('bootstrap-seed', values['bootstrap-seed'], 0),
  };
}

// Repository-relative form of a path (for commands and the card), or the path as given when outside the repo.
function repoPath(p: string): string {
  const r = relative(REPO, resolve(p));
  return r.startsWith('..') && !r.startsWith(`..${'/'}shared`) ? resolve(p) : r || '.';
}

async function readJson<T>(file: string): Promise<T | undefined> {
  if (!existsSync(file)) return undefined;
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

// The predicted class of each row of an evaluation (first maximum).
function argmaxRows(e: EvaluationResult): Int32Array {
  const k = e.numClasses;
  const out = new Int32Array(e.labels.length);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (e.probabilities[i * k + j] > e.probabilities[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
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

// Copies model.json + weights.bin, retrying while the source changes under us (a training run saving a checkpoint).
async function snapshotCheckpoint(src: string, dst: string): Promise<string> {
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

async function dirBytes(dir: string): Promise<number> {
  return (await stat(join(dir, 'model.json'))).size + (await stat(join(dir, 'weights.bin'))).size;
}

/** What {@link main} returns. */
export interface ShipResult {
  facts: ModelCardFacts;
  out: string;
  card: string;
}

/**
 * Runs the whole shipping procedure.
 * @param argv Arguments (without node and the script).
 * @returns The facts written, or null after --help.
 */
export async function main(argv: string[]): Promise<ShipResult | null> {
  const o = parseCli(argv);
  if (!o) {
    console.log(HELP);
    return null;
  }
  const backend = await selectBackend(o.backend);
  console.log(`backend: ${backend}`);

  // 1. The run's facts: run.json / history.json when the run has ended, else flags and the log.
  interface RunJson { argv: string[]; options: Recipe & { trainPath: string; testPath: string }; params: ModelCardFacts['params']; wallSeconds: number; backend: string }
  interface HistoryJson { epochs: Array<{ epoch: number; seconds: number; [k: string]: number | undefined }>; stoppedEarly: boolean; seconds: number }
  const runJson = await readJson<RunJson>(join(o.run, 'run.json'));
  const historyJson = await readJson<HistoryJson>(join(o.run, 'history.json'));
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
  const trainPath = resolve(o.train ?? runJson?.options.trainPath ?? join(SHARED_DATA, 'train.parquet'));
  const testPath = resolve(o.test ?? runJson?.options.testPath ?? join(SHARED_DATA, 'test.parquet'));
  for (const p of [trainPath, testPath]) if (!existsSync(p)) throw new UsageError(`no such file: ${p}`);

  // 2. Data and the run's validation split (re-created from its seed and share, by person when the file has subjects).
  const targetSize = [recipe.imageSize, recipe.imageSize] as const;
  const trainSet = await ParquetImageDataset.fromFile(trainPath, { targetSize });
  const testSet = await ParquetImageDataset.fromFile(testPath, { targetSize });
  const split = await splitTrainingRows(trainSet, { ...recipe, split: recipe.split ?? 'auto', groupThreshold: recipe.groupThreshold ?? 20 });
  if (log?.split && (log.split.seed !== recipe.seed || log.split.validationRows !== split.validation.length)) {
    throw new UsageError(`the run's log says split seed ${log.split.seed} with ${log.split.validationRows} validation rows, but seed ${recipe.seed} / val fraction ${recipe.valFraction} / split ${split.mode} gives ${split.validation.length}`);
  }
  console.log(split.description);
  const monitor = monitorFor(recipe, split);
  const summary = await summarizeDataset(trainSet, { compareWith: testSet });
  const classNames = [...testSet.classNames];
  const evalOptions = { batchSize: o.batchSize, classNames, ordinalOrder: SEVERITY_ORDER, bootstrap: { resamples: o.resamples, seed: o.bootstrapSeed } };

  // 3. float32 and float16 copies, both evaluated on test.
  const tmp = await mkdtemp(join(tmpdir(), 'ship-model-'));
  try {
    // A running training may rewrite best-model/ at any time: work on a consistent copy of it.
    const checkpoint = await snapshotCheckpoint(join(o.run, 'best-model'), join(tmp, 'checkpoint'));
    const model32 = await loadModel(checkpoint);
    const dir32 = join(tmp, 'float32');
    const dir16 = join(tmp, 'float16');
    await saveModel(model32, dir32);
    await saveModel(model32, dir16, { quantize: 'float16' });
    const model16 = await loadModel(dir16);
    let t0 = performance.now();
    const test32 = await evaluate(model32, testSet, evalOptions);
    console.log(`float32 on test: accuracy ${f4(test32.metrics.accuracy)}, macro AUC ${f4(test32.metrics.macro.auc)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    t0 = performance.now();
    const test16 = await evaluate(model16, testSet, evalOptions);
    console.log(`float16 on test: accuracy ${f4(test16.metrics.accuracy)}, macro AUC ${f4(test16.metrics.macro.auc)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    const p32 = argmaxRows(test32);
    const p16 = argmaxRows(test16);
    const agreement = p32.reduce((n, p, i) => n + (p === p16[i] ? 1 : 0), 0) / p32.length;
    const dropPoints = 100 * (test32.metrics.accuracy - test16.metrics.accuracy);
    const kept: 'float16' | 'float32' = o.weights === 'auto' ? (Math.abs(dropPoints) <= MAX_FP16_ACCURACY_DROP_POINTS ? 'float16' : 'float32') : o.weights;
    console.log(`keeping ${kept} (float16 accuracy ${dropPoints >= 0 ? '-' : '+'}${Math.abs(dropPoints).toFixed(2)} points, same class for ${pct(agreement, 2)} of test slices)`);
    const model = kept === 'float16' ? model16 : model32;
    const keptDir = kept === 'float16' ? dir16 : dir32;
    const testEval = kept === 'float16' ? test16 : test32;
    const modelBytes = await dirBytes(keptDir);
    if (modelBytes > MAX_MODEL_MB * 1e6) throw new Error(`the ${kept} model is ${mb(modelBytes)}, above the ${MAX_MODEL_MB} MB limit: nothing written`);

    // 4. Temperature on the validation people's logits, kept only where it helps them; test before / after.
    t0 = performance.now();
    const validation = await evaluate(model, trainSet, { ...evalOptions, indices: split.validation });
    const calibration = chooseTemperature(validation.logits, validation.labels, { numClasses: validation.numClasses });
    const fit = calibration.fit;
    const k = testEval.numClasses;
    const metricOptions = { numClasses: k, classNames, ordinalOrder: SEVERITY_ORDER };
    const validationPeople = validation.figures.people;
    console.log(`validation (${validation.labels.length} slices, ${validationPeople?.headline.count ?? '?'} people): accuracy ${f4(validation.metrics.accuracy)}, macro AUC ${f4(validation.metrics.macro.auc)}, per person ${f4(validationPeople?.metrics.macro.auc)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    console.log(`temperature: ${calibration.reason}`);
    const calibratedProbabilities = applyTemperature(rowsOf(testEval.logits, k), fit.temperature);
    const calibrated = new MultiClassMetrics(metricOptions).update(testEval.labels, calibratedProbabilities).compute();
    // The figures users get: the served probabilities (calibrated only when the temperature was kept).
    const subjects = testSet.subjects;
    const figures = calibration.kept
      ? figuresByPerson(testEval.labels, Float32Array.from(calibratedProbabilities.flat()), {
          ...metricOptions,
          subjects: subjects && Array.from(testEval.indices, (i) => subjects[i]),
          resamples: o.resamples,
          seed: o.bootstrapSeed,
        })
      : testEval.figures;
    console.log(formatFigures(figures, 'the test file\'s subject column'));

    // 5. Facts of the run and the commands. Which epoch the checkpoint is: the best monitored figure of the run,
    // checked against the figure just measured (a run in progress may have saved a checkpoint before logging it).
    if (!historyJson && log) epochs = parseTrainingLog(await readFile(logFile, 'utf8')).epochs;
    const monitored = epochs.map((e) => e.values[monitor] ?? NaN);
    const measured = monitor === 'val_person_auc' ? validationPeople?.metrics.macro.auc : validation.metrics.macro.auc;
    const bestIdx = checkpointEpochIndex(monitored, measured);
    const epochSeconds = epochs.reduce((s, e) => s + e.seconds, 0);
    const weightsBytes = await readFile(join(keptDir, 'weights.bin'));
    const shipArgs = ['--run', repoPath(o.run)];
    if (resolve(o.out) !== join(REPO, 'models', 'neurostagenet')) shipArgs.push('--out', repoPath(o.out));
    if (o.card !== join(REPO, 'models', 'README.md')) shipArgs.push('--card', repoPath(o.card));
    if (o.backend) shipArgs.push('--backend', o.backend);
    const testArg = repoPath(testPath);
    const evaluateCommand = resolve(o.out) === join(REPO, 'models', 'neurostagenet')
      ? `npm run cli -- evaluate models/neurostagenet ${testArg}${o.backend ? ` --backend ${o.backend}` : ''}`
      : `npm run cli -- evaluate ${repoPath(o.out)} ${testArg}${o.backend ? ` --backend ${o.backend}` : ''}`;
    const fileFacts = (ds: ParquetImageDataset, s: { people?: { count: number; perClass: number[] } }): FileFacts => ({
      name: basename(ds.file),
      rows: ds.length,
      classRows: ds.classCounts(),
      people: s.people?.count,
      classPeople: s.people?.perClass,
    });
    const testSummary = await summarizeDataset(testSet);
    const trainSubjects = trainSet.subjects;
    const peopleOf = (rows: Int32Array) => (trainSubjects ? new Set(Array.from(rows, (i) => trainSubjects[i])) : undefined);
    const valPeople = peopleOf(split.validation);
    const valPerClass = valPeople && classNames.map((_, c) => [...valPeople].filter((p) => trainSet.labels[(trainSubjects as readonly string[]).indexOf(p)] === c).length);
    const check = summary.sliceLevel && summary.leakage
      ? `${summary.sharedPeople ? `${summary.sharedPeople.count} people in both files; ` : ''}${summary.leakage.countB} of ${summary.leakage.sizeB} test slices have a near-duplicate in training (RMS ≤ ${summary.leakage.threshold} on ${summary.leakage.size}×${summary.leakage.size} thumbnails); ` +
        `slice levels (head footprint) agree: training median ${f3(summary.sliceLevel.referenceSpread.median)}, test ${f3(summary.sliceLevel.comparedSpread.median)}, ` +
        `${summary.sliceLevel.comparedInsideReference} of ${summary.sliceLevel.comparedSpread.count} test slices inside the training range, KS ${f3(summary.sliceLevel.ks)}.`
      : undefined;
    const facts: ModelCardFacts = {
      date: new Date().toISOString().slice(0, 10),
      modelDir: repoPath(o.out),
      report: { dir: repoPath(o.report), link: relative(dirname(o.card), o.report).split('\\').join('/') || '.' },
      storage: {
        kept,
        forced: o.weights !== 'auto',
        modelBytes,
        float32Bytes: (await stat(join(dir32, 'weights.bin'))).size,
        float16Bytes: (await stat(join(dir16, 'weights.bin'))).size,
        sha256: createHash('sha256').update(weightsBytes).digest('hex'),
        float32: { accuracy: test32.metrics.accuracy, macroAuc: test32.metrics.macro.auc },
        float16: { accuracy: test16.metrics.accuracy, macroAuc: test16.metrics.macro.auc },
        agreement,
      },
      params: runJson?.params ?? log?.params ?? countParams(model32),
      recipe,
      data: { train: fileFacts(trainSet, summary), test: fileFacts(testSet, testSummary), check },
      split: {
        trainRows: split.train.length,
        validationRows: split.validation.length,
        trainPeople: peopleOf(split.train)?.size,
        validationPeople: valPeople?.size,
        validationPeoplePerClass: valPerClass,
        description: split.description,
      },
      training: {
        runDir: repoPath(o.run),
        complete: runJson !== undefined,
        source: historyJson ? 'history.json' : 'log',
        epochs,
        plannedEpochs: recipe.epochs ?? log?.plannedEpochs ?? epochs.length,
        monitor,
        bestEpoch: bestIdx >= 0 ? epochs[bestIdx].epoch : undefined,
        bestValue: bestIdx >= 0 ? monitored[bestIdx] : undefined,
        epochSeconds,
        wallSeconds: runJson?.wallSeconds,
        backend: runJson?.backend ?? log?.backend,
        stoppedEarly: historyJson?.stoppedEarly,
      },
      validation: {
        count: validation.labels.length,
        people: validationPeople?.headline.count,
        accuracy: validation.metrics.accuracy,
        macroAuc: validation.metrics.macro.auc,
        personMacroAuc: validationPeople?.metrics.macro.auc,
      },
      calibration,
      test: { file: basename(testPath), metrics: testEval.metrics, calibrated, figures },
      commands: {
        train: trainArgs ? `npx tsx examples/train.ts ${trainArgs.map((a) => (a.startsWith('/') ? repoPath(a) : a)).join(' ')}` : undefined,
        ship: `npx tsx scripts/ship-model.ts ${shipArgs.join(' ')}`,
        evaluate: evaluateCommand,
      },
      evaluationBackend: backend,
    };

    // 6. Write the model directory, metadata, report and card.
    await mkdir(o.out, { recursive: true });
    for (const file of ['model.json', 'weights.bin']) await copyFile(join(keptDir, file), join(o.out, file));
    const trainFootprints = await headFootprints(selectRows(trainSet, split.train));
    const s = figures.slices.headline;
    const p = figures.people?.headline;
    await writeModelMetadata(o.out, {
      classNames,
      ordinalOrder: SEVERITY_ORDER,
      temperature: calibration.served,
      imageSize: [recipe.imageSize, recipe.imageSize],
      trainingFootprint: footprintRange(trainFootprints),
      weights: kept,
      training: {
        data: `${basename(trainPath)} (${trainSet.length} slices${facts.data.train.people ? ` of ${facts.data.train.people} people` : ''})`,
        split: { by: split.mode, valFraction: recipe.valFraction, seed: recipe.seed, trainRows: split.train.length, validationRows: split.validation.length, trainPeople: facts.split.trainPeople, validationPeople: facts.split.validationPeople },
        recipe,
        monitor,
        command: facts.commands.train,
        epochsRun: epochs.length,
        bestEpoch: facts.training.bestEpoch,
        bestValue: facts.training.bestValue,
        trainingSeconds: Math.round(epochSeconds),
        backend: facts.training.backend,
        complete: facts.training.complete,
        backbone: 'EfficientNetB0 trained from scratch (no ImageNet weights)',
      },
      calibration: {
        temperature: calibration.served,
        kept: calibration.kept,
        reason: calibration.reason,
        fittedTemperature: fit.temperature,
        fittedOn: `validation people (${validation.labels.length} slices of ${validationPeople?.headline.count ?? '?'} people)`,
        nllBefore: fit.nllBefore,
        nllAfter: fit.nllAfter,
        eceBefore: calibration.validationEce.before,
        eceAfter: calibration.validationEce.after,
      },
      test: {
        file: basename(testPath),
        count: s.count,
        people: p?.count,
        classesCovered: s.classNamesCovered,
        accuracy: s.accuracy.value,
        balancedAccuracy: s.balancedAccuracy.value,
        macroAuc: s.macroAuc?.value,
        quadraticKappa: s.quadraticKappa.value,
        personAccuracy: p?.accuracy.value,
        personMacroAuc: p?.macroAuc?.value,
        intervals: { slices: s, people: p },
        eceUncalibrated: testEval.metrics.ece,
        eceWithFittedTemperature: calibrated.ece,
      },
      intendedUse: 'research and teaching only; not for diagnosis',
    });
    const title = `NeuroStageNet on ${basename(testPath)}`;
    const reportOptions = { calibrated, temperature: fit, title, figures, peopleSource: 'the test file\'s subject column' };
    await writeEvaluationReport(testEval.metrics, o.report, reportOptions);
    console.log(formatEvaluationReport(testEval.metrics, { ...reportOptions, title: `${title} (${kept} weights, ${backend})` }));

    // 7. The written directory loads through the public loader and predicts what was evaluated.
    const shipped = await loadPretrainedNeuroStageNet({ location: o.out });
    const probe = Int32Array.from({ length: Math.min(16, testSet.length) }, (_, i) => i);
    const again = await evaluate(shipped.model, testSet, { indices: probe, batchSize: o.batchSize, bootstrap: { resamples: 100 } });
    let maxDiff = 0;
    for (let i = 0; i < again.probabilities.length; i++) maxDiff = Math.max(maxDiff, Math.abs(again.probabilities[i] - testEval.probabilities[i]));
    if (maxDiff > 1e-5 || Math.abs(shipped.temperature - calibration.served) > 1e-12) {
      throw new Error(`the written model in ${o.out} does not reproduce the evaluated one (max probability difference ${maxDiff})`);
    }
    shipped.model.dispose();

    await mkdir(dirname(o.card), { recursive: true });
    await writeFile(o.card, renderModelCard(facts, await readFile(CARD_TEMPLATE, 'utf8')));
    console.log(`wrote ${o.out} (${kept}, ${mb(modelBytes)}), report ${o.report}, card ${o.card}`);
    model16.dispose();
    model32.dispose();
    return { facts, out: o.out, card: o.card };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    if (e instanceof UsageError || (e instanceof Error && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`error: ${e.message}\n(run with --help for usage)`);
      process.exit(2);
    }
    console.error(e instanceof Error ? `error: ${e.name}: ${e.message}` : e);
    if (process.env.DEBUG) console.error(e);
    process.exit(1);
  });
}
