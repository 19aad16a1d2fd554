/**
 * Ships a trained NeuroStageNet: takes a training run of examples/train.ts (or `neurostagenet train`), picks float16 or
 * float32 weights, and runs the training pipeline on its best checkpoint (`runTrainingPipeline` with `trainedModel`:
 * the run's split re-created, the temperature fitted on its validation people and kept only where it helps them, the
 * test file evaluated once, the model written with metadata.json, the report); then checks the written directory and
 * writes the model card (scripts/model-card.template.md filled with the run's facts).
 *
 *   npx tsx scripts/ship-model.ts --run runs/scratch128b [--out models/neurostagenet] [--card models/README.md]
 *                                 [--backend tensorflow]
 *
 * Steps: load the run's best checkpoint; save float32 and float16 copies to a temporary directory and evaluate both
 * on the test file; keep float16 when its test accuracy is within 0.5 points of float32 (else float32, and the card
 * says so); check the size (<= 15 MB); run the pipeline on the kept weights; reload the written directory with
 * loadPretrainedNeuroStageNet and check that it predicts what was evaluated; write the card.
 *
 * The run's facts come from run.json / history.json (written by the pipeline when the run ends). For a run still in
 * progress, they come from flags (--val-fraction, --seed, --image-size, --train-command) and from the epoch lines of
 * the run's log (default: `<run>.log`).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  ParquetImageDataset,
  decideTemperature,
  evaluate,
  loadPretrainedNeuroStageNet,
  selectBackend,
  type CalibrationDecision,
  type EvaluationResult,
  type FiguresByPerson,
  type Interval,
  type MultiClassMetricsResult,
} from 'neurostagenet';
import { summarizeDataset, type DatasetSummary } from 'neurostagenet/data';
import {
  TRAINING_FLAGS,
  flattenTrainingFlags,
  parseTrainingFlags,
  runTrainingPipeline,
  trainingFlagsFromRunOptions,
  type DataFacts,
  type TrainingPipelineFacts,
  type TrainingRunOptions,
  type TrainingRunRecord,
} from 'neurostagenet/train';
import { loadModel, saveModel, writeEvaluationReport } from 'neurostagenet/node';

/** The temperature rule of the library, re-exported for the tests of this script. */
export { decideTemperature };

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED_DATA = resolve(REPO, '..', 'shared', 'data', 'alzheimer-mri-subjects');
/** The model card's prose, with `{{slot}}` placeholders that {@link renderModelCard} fills. */
const CARD_TEMPLATE = join(REPO, 'scripts', 'model-card.template.md');
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
 * Reads the lines a training run prints: `backend: …`, `split (seed S): A train / B validation rows`,
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

/** A run's recipe as run.json stores it. */
export type Recipe = TrainingRunOptions;

/**
 * The recipe of a training command line, resolved by the library's flag parser (used only while a run has not
 * written run.json, which records the resolved options).
 * @param args The arguments after `examples/train.ts`.
 * @returns The recipe.
 */
export function recipeFromTrainArgs(args: string[]): Recipe {
  const { values } = parseArgs({ args, strict: false, allowPositionals: true, options: { ...TRAINING_FLAGS, backend: { type: 'string' }, out: { type: 'string' } } });
  return flattenTrainingFlags(parseTrainingFlags(values));
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
  /**
   * The two files: rows, people and classes, counted from the data; `dir` the repository-relative folder they are
   * in; `sharedPeople` the people with slices in both (from the data check).
   */
  data: { train: FileFacts; test: FileFacts; check?: string; dir?: string; sharedPeople?: number };
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

/** Rows, people and class counts of one file (the pipeline's `DataFacts`, named), and what its summary says. */
export interface FileFacts extends DataFacts {
  /** File name. */
  name: string;
  /** Slices per person: fewest and most. */
  slicesPerPerson?: { min: number; max: number };
  /** Stored image sizes, `'WxH' -> rows`. */
  sourceSizes?: Record<string, number>;
}

const f3 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(3));
const f4 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(4));
const pct = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${(100 * v).toFixed(digits)}%`);
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;
const minutes = (s: number): string => (s >= 3600 ? `${(s / 3600).toFixed(2)} h` : `${(s / 60).toFixed(1)} min`);
const iv = (x: Interval | undefined): string => (x === undefined ? 'n/a' : `${f3(x.value)} [${f3(x.low)}, ${f3(x.high)}]`);
const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
/** A class's short name: `Very_Mild_Demented` -> `Very Mild`. */
const shortName = (name: string): string => name.replace(/_Demented$/, '').replace(/_/g, ' ');

/** Issue 13's aims on people the model never saw. */
const AIM = { sliceAccuracy: 0.6, sliceMacroAuc: 0.8, personAccuracy: 0.65 };

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

function recipeLines(r: Recipe, monitor: string, train: FileFacts, names: readonly string[]): string[] {
  const schedule = r.cosine || r.warmupEpochs > 0
    ? `linear warm-up over ${r.warmupEpochs} epoch(s) from ${(r.lr / 10).toExponential(1)} to ${r.lr.toExponential(1)}, then ${r.cosine ? `cosine decay (per step) to ${(r.lr / 100).toExponential(1)} at epoch ${r.epochs}` : 'constant'}`
    : `constant ${r.lr.toExponential(1)}, halved when val_loss has not improved for 2 epochs (min 1e-6)`;
  const rarest = train.classRows.reduce((b, n, i) => (n < train.classRows[b] ? i : b), 0);
  const rareNote = r.classWeight === 'balanced-sqrt'
    ? ` (square root of n / (K·count), a milder correction than balanced for the ${pct(train.classRows[rarest] / train.rows, 0)} ${shortName(names[rarest] ?? String(rarest))} class)`
    : '';
  return [
    `- Recipe \`${r.recipe}\` of the training pipeline${r.recipe === 'scratch' ? " (the from-scratch recipe; the seed's recipe stays the documented default for users with ImageNet weights)" : ''}.`,
    `- Backbone: EfficientNetB0 ${r.backboneWeights ? `from the ImageNet weights of ${r.backboneWeights}` : '**trained from scratch** (random initialisation: no ImageNet weights exist on the build machine)'}, ${r.allTrainable ? 'all layers trainable' : 'layers below 150 frozen'}.`,
    `- Input: ${r.imageSize}×${r.imageSize} grayscale, 0–255 (the model rescales and normalises inside).`,
    `- Optimizer: Adam, batch size ${r.batchSize}, learning rate ${schedule}.`,
    `- Loss: categorical cross-entropy with label smoothing ${r.labelSmoothing}; class weights: ${r.classWeight ?? 'none'}${rareNote}.`,
    `- Augmentation: ${describeAugment(r.augment)}.`,
    ...(r.mixup ? [`- Mixup: each training image and its label mixed with another of the batch, weight max(λ, 1 − λ), λ ~ Beta(${r.mixup}, ${r.mixup}) (seeded).`] : []),
    `- Early stopping on \`${monitor}\`${monitor === 'val_person_auc' ? ' (validation macro AUC per person, each person\'s slice probabilities averaged)' : ' (validation macro AUC per slice)'}, patience ${r.patience}, best weights restored; the best checkpoint by it is the shipped model. At most ${r.epochs} epochs.`,
  ];
}

function fileLine(what: string, d: FileFacts, names: readonly string[]): string {
  const classes = names.map((n, c) => `${n} ${d.classRows[c]}${d.classPeople ? ` (${count(d.classPeople[c], 'person', 'people')})` : ''}`).join(', ');
  return `- ${what}: \`${d.name}\`, ${d.rows.toLocaleString('en-US')} slices${d.people !== undefined ? ` of ${d.people} people` : ''}: ${classes}.`;
}

// The sentence on classes with too few people for a class figure (from the served figures' excluded classes).
function fewPeopleText(f: ModelCardFacts, names: readonly string[]): string {
  const excluded = f.test.figures.slices.headline.excludedClasses;
  if (!excluded.length) return 'Every class has enough test people to enter the class averages.';
  return excluded
    .map((e) => {
      const short = shortName(e.name);
      const inTrain = f.data.train.classPeople?.[e.class];
      const inTest = f.data.test.classPeople?.[e.class] ?? 0;
      const where = inTrain === undefined ? `${count(inTest, 'person', 'people')} in the test file` : `${count(inTrain + inTest, 'person', 'people')} in the two files (${inTrain} training, ${inTest} test)`;
      return `The ${names[e.class] ?? e.name} class has ${where}: no ${short} figure here is a class figure (its row is ${inTest === 1 ? "one person's" : `${inTest} people's`} slices), and ${short} is left out of every class average (balanced accuracy, macro AUC).`;
    })
    .join(' ');
}

/**
 * The model card (Markdown): the template with its slots filled from the facts. Every slot must be filled and
 * every fact slot used.
 * @param f The facts.
 * @param template The card template (`scripts/model-card.template.md`), with `{{slot}}` placeholders.
 * @returns The card.
 * @throws When the template names a slot the facts do not fill, or leaves one out.
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
  const { train, test } = f.data;
  const perPerson = [train, test].map((d) => d.slicesPerPerson).filter((x) => x !== undefined);
  const sameSlices = perPerson.length === 2 && perPerson.every((x) => x.min === perPerson[0].min && x.max === perPerson[0].min) ? perPerson[0].min : undefined;
  const sizes = Object.keys({ ...train.sourceSizes, ...test.sourceSizes }).map((k) => k.replace('x', '×'));
  const halfWidth = Math.max(...[s, p].flatMap((h) => (h ? [(h.accuracy.high - h.accuracy.low) / 2] : [])));
  const majority = train.classRows.reduce((b, n, i) => (n > train.classRows[b] ? i : b), 0);
  const split = f.split;
  const splitMode = !f.recipe.split || f.recipe.split === 'auto' ? (train.people !== undefined ? 'subjects' : 'near-duplicates') : f.recipe.split;
  const splitBy = splitMode === 'subjects'
    ? "**by person** (`StratifiedSplit.splitSource`: every person's slices on one side, people stratified by their label)"
    : splitMode === 'near-duplicates'
      ? 'by clusters of near-duplicate slices (person proxies: the file has no subject column)'
      : 'by slice (**a person can have slices on both sides**: validation figures are optimistic)';
  const slots: Record<string, string> = {
    modelDir: f.modelDir,
    date: f.date,
    classCount: String(names.length),
    testPeople: String(test.people ?? 'the'),
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
    dataLines: [fileLine('Training', train, names), fileLine('Test', test, names)].join('\n'),
    dataSource: f.data.dir ? `\`${f.data.dir}/\`` : 'the two files above',
    peopleTotal: train.people !== undefined && test.people !== undefined
      ? `${train.people + test.people - (f.data.sharedPeople ?? 0)} people${sameSlices ? ` × ${sameSlices} axial slices` : ''}`
      : 'slices without a subject column',
    sharedPeopleText: f.data.sharedPeople === undefined
      ? ''
      : f.data.sharedPeople === 0
        ? ` **No person has slices in both files**${sameSlices ? `; every person has all ${sameSlices} slices` : ''}.`
        : ` **${count(f.data.sharedPeople, 'person has', 'people have')} slices in both files**: their test figures are optimistic.`,
    labelList: names.map((n, i) => `${i} ${n}`).join(', '),
    severityOrder: m.ordinalOrder.map((i) => shortName(names[i])).join(' < '),
    ordinalOrder: `[${m.ordinalOrder.join(', ')}]`,
    storedSize: sizes.length ? sizes.join(', ') : `decoded at ${f.recipe.imageSize}×${f.recipe.imageSize}`,
    fewPeopleText: fewPeopleText(f, names),
    halfWidth: f3(halfWidth),
    dataCheck: f.data.check ? `- Data check (\`neurostagenet inspect train.parquet --compare test.parquet\`): ${f.data.check}` : '',
    splitShare: `${Math.round((1 - f.recipe.valFraction) * 100)}/${Math.round(f.recipe.valFraction * 100)}`,
    splitBy,
    splitSeed: String(f.recipe.seed),
    trainPeople: String(split.trainPeople ?? '?'),
    trainRows: String(split.trainRows),
    validationPeople: String(split.validationPeople ?? '?'),
    validationRows: String(split.validationRows),
    validationPerClass: split.validationPeoplePerClass ? ` (${names.map((n, i) => `${n} ${split.validationPeoplePerClass?.[i]}`).join(', ')})` : '',
    validationOnePerson: split.validationPeople ? f3(1 / split.validationPeople) : 'n/a',
    recipeLines: recipeLines(f.recipe, t.monitor, train, names).join('\n'),
    runDir: t.runDir,
    runBackend: t.backend ? ` on the ${t.backend === 'tensorflow' ? 'tfjs-node (TensorFlow C, CPU) backend' : `${t.backend} backend`}` : '',
    epochsRun: String(t.epochs.length),
    plannedEpochs: String(t.plannedEpochs),
    stoppedEarly: t.stoppedEarly ? ' (stopped early)' : '',
    trainingTime: `${minutes(t.epochSeconds)} (sum of epoch times${t.wallSeconds ? `; whole run incl. data loading and evaluation ${minutes(t.wallSeconds)}` : ''})`,
    monitor: t.monitor,
    bestValue: f4(t.bestValue),
    bestEpoch: String(t.bestEpoch ?? 'n/a'),
    validationAccuracy: f3(f.validation.accuracy),
    validationMacroAuc: f3(f.validation.macroAuc),
    paramsTotal: f.params.total.toLocaleString('en-US'),
    paramsTrainable: f.params.trainable.toLocaleString('en-US'),
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
    classPeople: names.map((n, i) => `${n} ${test.classPeople?.[i] ?? '?'}`).join(', '),
    perClassTable: table(
      ['class', 'precision', 'recall', 'F1', 'slices', 'AUC (one-vs-rest)', 'recall per person'],
      served.slices.metrics.perClass.map((q, i) => [q.className, f3(q.precision), f3(q.recall), f3(q.f1), String(q.support), f3(q.auc), personMetrics ? `${f3(personMetrics.perClass[i].recall)} of ${personMetrics.perClass[i].support}` : 'n/a']),
    ),
    confusionTable: table(['true \\ predicted', ...names], served.slices.metrics.confusionMatrix.map((row, i) => [names[i], ...row.map(String)])),
    personConfusionTable: personMetrics ? table(['true \\ predicted', ...names], personMetrics.confusionMatrix.map((row, i) => [names[i], ...row.map(String)])) : '(no subject column)',
    reportLink: f.report.link,
    fittedTemperature: cal.fit.temperature.toFixed(3),
    atBound: cal.fit.atBound ? ' (**at the search bound**)' : '',
    calibrationReason: cal.reason,
    testEceBefore: f4(m.ece),
    testEceAfter: f4(c.ece),
    calibrationTable: table(
      ['figure', 'validation, T = 1', `validation, T = ${cal.fit.temperature.toFixed(3)}`, 'test, T = 1', `test, T = ${cal.fit.temperature.toFixed(3)}`],
      [
        ['NLL / log loss', f4(cal.fit.nllBefore), f4(cal.fit.nllAfter), f4(m.logLoss), f4(c.logLoss)],
        [`ECE (top label, ${m.calibrationBins.length} bins)`, f4(cal.validationEce.before), f4(cal.validationEce.after), f4(m.ece), f4(c.ece)],
        ['Brier score (sum over classes)', '', '', f4(m.brier), f4(c.brier)],
      ],
    ),
    comparisonRows: [
      [`**this model** (${t.epochs.length} epochs)`, `**${iv(s.accuracy)}**`, `**${iv(s.macroAuc)}**`, `**${p ? iv(p.accuracy) : 'n/a'}**`],
      ['aim (issue 13)', `≥ ${AIM.sliceAccuracy}`, `≥ ${AIM.sliceMacroAuc}`, `≥ ${AIM.personAccuracy}`],
      [`always "${names[majority]}" (the largest training class)`, f3(test.classRows[majority] / test.rows), '0.500', f3((test.classPeople?.[majority] ?? NaN) / (test.people ?? NaN))],
    ].map((r) => `| ${r.join(' | ')} |`).join('\n'),
    sha256: f.storage.sha256.slice(0, 16),
    modelSize: mb(f.storage.modelBytes),
    maxModelMb: String(MAX_MODEL_MB),
    float32Size: mb(f.storage.float32Bytes),
    float16Size: mb(f.storage.float16Bytes),
    float32Accuracy: f4(f.storage.float32.accuracy),
    float32MacroAuc: f4(f.storage.float32.macroAuc),
    float16Accuracy: f4(f.storage.float16.accuracy),
    float16MacroAuc: f4(f.storage.float16.macroAuc),
    agreement: pct(f.storage.agreement, 2),
    weightsDecision: f.storage.forced
      ? `${f.storage.kept} was chosen by the --weights flag.`
      : f.storage.kept === 'float16'
        ? `float16 is within ${MAX_FP16_ACCURACY_DROP_POINTS} accuracy points, so the float16 version is shipped (tfjs restores float32 weights on load).`
        : `**float16 loses more than ${MAX_FP16_ACCURACY_DROP_POINTS} accuracy points, so float32 is shipped.**`,
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

/** Numeric flags and their defaults. */
const NUMERIC_FLAGS = { 'batch-size': 32, 'val-fraction': 0.2, seed: 42, 'image-size': 128, resamples: 2000, 'bootstrap-seed': 0 } as const;
const STRING_FLAGS = ['run', 'out', 'card', 'report', 'train', 'test', 'backend', 'weights', 'log', 'train-command'] as const;

interface Cli {
  run: string;
  out: string;
  card: string;
  report: string;
  train?: string;
  test?: string;
  backend?: string;
  weights: 'auto' | 'float16' | 'float32';
  log?: string;
  trainCommand?: string;
  batchSize: number;
  valFraction: number;
  seed: number;
  imageSize: number;
  resamples: number;
  bootstrapSeed: number;
}

function parseCli(argv: string[]): Cli | null {
  const options = Object.fromEntries([...STRING_FLAGS, ...Object.keys(NUMERIC_FLAGS)].map((k) => [k, { type: 'string' as const }]));
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...options, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return null;
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const text = values as Record<string, string | undefined>;
  if (!text.run) throw new UsageError('missing --run DIR (a training run directory of examples/train.ts)');
  const run = resolve(text.run);
  if (!existsSync(join(run, 'best-model', 'model.json'))) throw new UsageError(`no best-model/model.json in ${run}`);
  const num = (name: keyof typeof NUMERIC_FLAGS): number => {
    const raw = text[name];
    const v = Number(raw ?? NUMERIC_FLAGS[name]);
    if (!Number.isFinite(v)) throw new UsageError(`--${name} expects a number, got '${raw}'`);
    return v;
  };
  const weights = (text.weights ?? 'auto') as Cli['weights'];
  if (!['auto', 'float16', 'float32'].includes(weights)) throw new UsageError(`--weights must be auto, float16 or float32`);
  const out = resolve(text.out ?? join(REPO, 'models', 'neurostagenet'));
  return {
    run,
    out,
    card: resolve(text.card ?? join(REPO, 'models', 'README.md')),
    report: resolve(text.report ?? join(out, 'report')),
    train: text.train,
    test: text.test,
    backend: text.backend,
    weights,
    log: text.log,
    trainCommand: text['train-command'],
    batchSize: num('batch-size'),
    valFraction: num('val-fraction'),
    seed: num('seed'),
    imageSize: num('image-size'),
    resamples: num('resamples'),
    bootstrapSeed: num('bootstrap-seed'),
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

const sha256Of = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

/** What {@link main} returns. */
export interface ShipResult {
  facts: ModelCardFacts;
  out: string;
  card: string;
}

/** Where the run's facts come from: run.json / history.json when it has ended, else flags and its log. */
interface RunFacts {
  runJson?: Pick<TrainingRunRecord, 'argv' | 'params' | 'wallSeconds' | 'backend'> & { options: Recipe & { trainPath?: string; testPath?: string } };
  historyJson?: { epochs: Array<{ epoch: number; seconds: number; [k: string]: number | undefined }>; stoppedEarly: boolean };
  log?: TrainingLog;
  logFile: string;
  epochs: EpochFigures[];
  trainArgs?: string[];
  recipe: Recipe;
}

async function readRun(o: Cli): Promise<RunFacts> {
  const runJson = await readJson<RunFacts['runJson']>(join(o.run, 'run.json'));
  const historyJson = await readJson<RunFacts['historyJson']>(join(o.run, 'history.json'));
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
  return { runJson, historyJson, log, logFile, epochs, trainArgs, recipe };
}

function dataCheck(summary: DatasetSummary): string | undefined {
  const { sliceLevel: level, leakage } = summary;
  if (!level || !leakage) return undefined;
  return `${summary.sharedPeople ? `${summary.sharedPeople.count} people in both files; ` : ''}${leakage.countB} of ${leakage.sizeB} test slices have a near-duplicate in training (RMS ≤ ${leakage.threshold} on ${leakage.size}×${leakage.size} thumbnails); ` +
    `slice levels (head footprint) agree: training median ${f3(level.referenceSpread.median)}, test ${f3(level.comparedSpread.median)}, ` +
    `${level.comparedInsideReference} of ${level.comparedSpread.count} test slices inside the training range, KS ${f3(level.ks)}.`;
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

  // 1. The run's facts and its data.
  const run = await readRun(o);
  const { recipe, runJson, log } = run;
  const trainPath = resolve(o.train ?? runJson?.options.trainPath ?? join(SHARED_DATA, 'train.parquet'));
  const testPath = resolve(o.test ?? runJson?.options.testPath ?? join(SHARED_DATA, 'test.parquet'));
  for (const p of [trainPath, testPath]) if (!existsSync(p)) throw new UsageError(`no such file: ${p}`);
  const targetSize = [recipe.imageSize, recipe.imageSize] as const;
  const trainSet = await ParquetImageDataset.fromFile(trainPath, { targetSize });
  const testSet = await ParquetImageDataset.fromFile(testPath, { targetSize });
  const summary = await summarizeDataset(trainSet, { compareWith: testSet });
  const testSummary = await summarizeDataset(testSet);

  // 2. float32 and float16 copies of the best checkpoint, both evaluated on test.
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
    const quick = { batchSize: o.batchSize, bootstrap: { resamples: 100 } };
    const test32 = await evaluate(model32, testSet, quick);
    const test16 = await evaluate(model16, testSet, quick);
    const p32 = argmaxRows(test32);
    const p16 = argmaxRows(test16);
    const agreement = p32.reduce((n, p, i) => n + (p === p16[i] ? 1 : 0), 0) / p32.length;
    const dropPoints = 100 * (test32.metrics.accuracy - test16.metrics.accuracy);
    const kept: 'float16' | 'float32' = o.weights === 'auto' ? (Math.abs(dropPoints) <= MAX_FP16_ACCURACY_DROP_POINTS ? 'float16' : 'float32') : o.weights;
    console.log(`float32 on test: accuracy ${f4(test32.metrics.accuracy)}, macro AUC ${f4(test32.metrics.macro.auc)}; float16: ${f4(test16.metrics.accuracy)}, ${f4(test16.metrics.macro.auc)}`);
    console.log(`keeping ${kept} (float16 accuracy ${dropPoints >= 0 ? '-' : '+'}${Math.abs(dropPoints).toFixed(2)} points, same class for ${pct(agreement, 2)} of test slices)`);
    const keptDir = kept === 'float16' ? dir16 : dir32;
    const modelBytes = await dirBytes(keptDir);
    if (modelBytes > MAX_MODEL_MB * 1e6) throw new Error(`the ${kept} model is ${mb(modelBytes)}, above the ${MAX_MODEL_MB} MB limit: nothing written`);
    const sha256 = await sha256Of(join(keptDir, 'weights.bin'));

    // 3. The pipeline on the kept weights: the run's split re-created, calibration on its validation people, the test
    //    file once, the model with metadata and the report. The card's facts are gathered before anything is written.
    let facts: ModelCardFacts | undefined;
    const cardFacts = async (f: TrainingPipelineFacts): Promise<ModelCardFacts> => {
      if (log?.split && (log.split.seed !== recipe.seed || log.split.validationRows !== f.split.validation.length)) {
        throw new UsageError(`the run's log says split seed ${log.split.seed} with ${log.split.validationRows} validation rows, but seed ${recipe.seed} / val fraction ${recipe.valFraction} / split ${f.split.mode} gives ${f.split.validation.length}`);
      }
      if (!f.test) throw new Error('the pipeline evaluated no test file');
      // Which epoch the checkpoint is: the best monitored figure of the run, checked against the figure just measured
      // (a run in progress may have saved a checkpoint before logging it).
      const epochs = !run.historyJson && log ? parseTrainingLog(await readFile(run.logFile, 'utf8')).epochs : run.epochs;
      const monitored = epochs.map((e) => e.values[f.monitor] ?? NaN);
      const measured = f.monitor === 'val_person_auc' ? f.validation.figures.people?.metrics.macro.auc : f.validation.metrics.macro.auc;
      const bestIdx = checkpointEpochIndex(monitored, measured);
      const shipArgs = ['--run', repoPath(o.run)];
      const shippedHere = resolve(o.out) === join(REPO, 'models', 'neurostagenet');
      if (!shippedHere) shipArgs.push('--out', repoPath(o.out));
      if (o.card !== join(REPO, 'models', 'README.md')) shipArgs.push('--card', repoPath(o.card));
      if (o.backend) shipArgs.push('--backend', o.backend);
      const fileFacts = (d: DataFacts, s: DatasetSummary): FileFacts => ({
        ...d,
        name: d.name ?? 'data',
        slicesPerPerson: s.people && { min: s.people.slicesPerPerson.min, max: s.people.slicesPerPerson.max },
        sourceSizes: s.sourceSizes,
      });
      const valPeople = f.validation.figures.people;
      return {
        date: new Date().toISOString().slice(0, 10),
        modelDir: repoPath(o.out),
        report: { dir: repoPath(o.report), link: relative(dirname(o.card), o.report).split('\\').join('/') || '.' },
        storage: {
          kept,
          forced: o.weights !== 'auto',
          modelBytes,
          float32Bytes: (await stat(join(dir32, 'weights.bin'))).size,
          float16Bytes: (await stat(join(dir16, 'weights.bin'))).size,
          sha256,
          float32: { accuracy: test32.metrics.accuracy, macroAuc: test32.metrics.macro.auc },
          float16: { accuracy: test16.metrics.accuracy, macroAuc: test16.metrics.macro.auc },
          agreement,
        },
        params: runJson?.params ?? log?.params ?? f.params,
        recipe: { ...f.options },
        data: {
          train: fileFacts(f.data.train, summary),
          test: fileFacts(f.data.test ?? f.data.train, testSummary),
          check: dataCheck(summary),
          dir: dirname(trainPath) === dirname(testPath) ? repoPath(dirname(trainPath)) : undefined,
          sharedPeople: summary.sharedPeople?.count,
        },
        split: {
          trainRows: f.split.train.length,
          validationRows: f.split.validation.length,
          trainPeople: f.split.people?.train,
          validationPeople: f.split.people?.validation,
          validationPeoplePerClass: f.split.people?.validationPerClass,
          description: f.split.description,
        },
        training: {
          runDir: repoPath(o.run),
          complete: runJson !== undefined,
          source: run.historyJson ? 'history.json' : 'log',
          epochs,
          plannedEpochs: recipe.epochs ?? log?.plannedEpochs ?? epochs.length,
          monitor: f.monitor,
          bestEpoch: bestIdx >= 0 ? epochs[bestIdx].epoch : undefined,
          bestValue: bestIdx >= 0 ? monitored[bestIdx] : undefined,
          epochSeconds: epochs.reduce((s, e) => s + e.seconds, 0),
          wallSeconds: runJson?.wallSeconds,
          backend: runJson?.backend ?? log?.backend,
          stoppedEarly: run.historyJson?.stoppedEarly,
        },
        validation: {
          count: f.validation.labels.length,
          people: valPeople?.headline.count,
          accuracy: f.validation.metrics.accuracy,
          macroAuc: f.validation.metrics.macro.auc,
          personMacroAuc: valPeople?.metrics.macro.auc,
        },
        calibration: f.calibration,
        test: { file: f.data.test?.name ?? 'test', metrics: f.test.evaluation.metrics, calibrated: f.test.calibrated, figures: f.test.figures },
        commands: {
          train: run.trainArgs ? `npx tsx examples/train.ts ${run.trainArgs.map((a) => (a.startsWith('/') ? repoPath(a) : a)).join(' ')}` : undefined,
          ship: `npx tsx scripts/ship-model.ts ${shipArgs.join(' ')}`,
          evaluate: `npm run cli -- evaluate ${shippedHere ? 'models/neurostagenet' : repoPath(o.out)} ${repoPath(testPath)}${o.backend ? ` --backend ${o.backend}` : ''}`,
        },
        evaluationBackend: backend,
      };
    };
    const model = kept === 'float16' ? model16 : model32;
    const shipped = await runTrainingPipeline({
      ...trainingFlagsFromRunOptions(recipe),
      data: trainSet,
      test: testSet,
      trainedModel: model,
      batchSize: o.batchSize,
      bootstrap: { resamples: o.resamples, seed: o.bootstrapSeed },
      out: { model: o.out, report: o.report },
      writeReport: writeEvaluationReport,
      quantize: kept === 'float16' ? 'float16' : undefined,
      log: (line) => console.log(line),
      metadata: async (f) => {
        const card = (facts = await cardFacts(f));
        const t = card.training;
        return {
          weights: kept,
          training: {
            command: card.commands.train,
            epochsRun: t.epochs.length,
            bestEpoch: t.bestEpoch,
            bestValue: t.bestValue,
            trainingSeconds: Math.round(t.epochSeconds),
            backend: t.backend,
            complete: t.complete,
            backbone: recipe.backboneWeights ? `EfficientNetB0 from ImageNet weights (${recipe.backboneWeights})` : 'EfficientNetB0 trained from scratch (no ImageNet weights)',
          },
          intendedUse: 'research and teaching only; not for diagnosis',
        };
      },
    });
    if (!facts || !shipped.test) throw new Error('the pipeline returned no test figures');

    // 4. The written directory holds the weights chosen, loads through the public loader and predicts what was evaluated.
    if ((await sha256Of(join(o.out, 'weights.bin'))) !== sha256) throw new Error(`${o.out}/weights.bin differs from the ${kept} weights evaluated`);
    const reloaded = await loadPretrainedNeuroStageNet({ location: o.out });
    const probe = Int32Array.from({ length: Math.min(16, testSet.length) }, (_, i) => i);
    const again = await evaluate(reloaded.model, testSet, { indices: probe, batchSize: o.batchSize, bootstrap: { resamples: 100 } });
    let maxDiff = 0;
    for (let i = 0; i < again.probabilities.length; i++) maxDiff = Math.max(maxDiff, Math.abs(again.probabilities[i] - shipped.test.evaluation.probabilities[i]));
    reloaded.model.dispose();
    if (maxDiff > 1e-5 || Math.abs(reloaded.temperature - shipped.calibration.served) > 1e-12) {
      throw new Error(`the written model in ${o.out} does not reproduce the evaluated one (max probability difference ${maxDiff})`);
    }

    // 5. The card.
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
