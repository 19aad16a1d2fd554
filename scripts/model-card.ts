/**
 * The model card of a shipped NeuroStageNet: scripts/model-card.template.md filled with the facts of its run,
 * data, test figures and storage. The code computes values and tables; the template holds the sentences, with
 * `{{slot}}` placeholders for values and `{{#flag}}…{{/flag}}` (kept when the flag is true) or `{{^flag}}…{{/flag}}`
 * (kept when it is false) around the sentences that only some cards say. Used by scripts/ship-model.ts.
 */
import { fileURLToPath } from 'node:url';
import { DEFAULT_FINE_TUNE_AT, type CalibrationDecision, type FiguresByPerson, type Interval, type MultiClassMetricsResult } from 'neurostagenet';
import type { NearDuplicateReport, SliceLevelComparison } from 'neurostagenet/data';
import type { DataFacts, RecordedValidation } from 'neurostagenet/train';
import type { EpochFigures, Recipe } from './training-run.js';

/** Path of the card's template, with the placeholders {@link renderModelCard} fills. */
export const MODEL_CARD_TEMPLATE = fileURLToPath(new URL('./model-card.template.md', import.meta.url));

/** Everything the model card says; built by scripts/ship-model.ts, rendered by {@link renderModelCard}. */
export interface ModelCardFacts {
  /** ISO date of shipping. */
  date: string;
  /** Repository-relative model directory, e.g. `models/neurostagenet`. */
  modelDir: string;
  /** Repository-relative report directory and the card's relative link to it. */
  report: { dir: string; link: string };
  /** Stored weights, the quantization decision and the limits it was made under. */
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
    /** Size limit of the shipped model (model.json + weights.bin), in MB (10^6 bytes). */
    maxModelMb: number;
    /** float16 is kept (unless forced) when its test accuracy is within this many percentage points of float32. */
    maxFloat16DropPoints: number;
  };
  /** Parameter counts. */
  params: { trainable: number; nonTrainable: number; total: number };
  /** The recipe. */
  recipe: Recipe;
  /**
   * The two files: rows, people and classes, counted from the data; `dir` the repository-relative folder they are
   * in; `sharedPeople` the people with slices in both; `check` the data check's near-duplicates and slice levels of
   * the test file against the training file.
   */
  data: { train: FileFacts; test: FileFacts; check?: DataCheckFacts; dir?: string; sharedPeople?: number };
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
  validation: RecordedValidation;
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

/** The data check of the test file against the training file (`summarizeDataset(train, { compareWith: test })`). */
export interface DataCheckFacts {
  /** Test slices with a near-duplicate in the training file. */
  leakage: NearDuplicateReport;
  /** Slice levels (head footprint) of the training (reference) and test (compared) slices. */
  sliceLevel: SliceLevelComparison;
}

const f3 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(3));

/**
 * A figure with 4 decimals (`n/a` when missing or not finite).
 * @param v The figure.
 * @returns The text.
 */
export const f4 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(4));

/**
 * A share as a percentage (`n/a` when missing or not finite).
 * @param v The share (0–1).
 * @param digits Decimals of the percentage.
 * @returns The text, e.g. `42.5%`.
 */
export const pct = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${(100 * v).toFixed(digits)}%`);

/**
 * A size in MB (10^6 bytes).
 * @param bytes The size.
 * @returns The text, e.g. `11.85 MB`.
 */
export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;

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

function table(header: string[], rows: string[][]): string {
  const align = header.map((_, i) => (i === 0 ? '---' : '---:'));
  return [`| ${header.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

// What each augmentation mode does to a training image.
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

// A file's classes with their slices and people: `<class> <slices> (<n> people), …`.
function classList(d: FileFacts, names: readonly string[]): string {
  return names.map((n, c) => `${n} ${d.classRows[c]}${d.classPeople ? ` (${count(d.classPeople[c], 'person', 'people')})` : ''}`).join(', ');
}

// One sentence per class with too few people for a class figure (the served figures' excluded classes).
function fewPeopleText(f: ModelCardFacts, names: readonly string[]): string {
  return f.test.figures.slices.headline.excludedClasses
    .map((e) => {
      const short = shortName(e.name);
      const inTrain = f.data.train.classPeople?.[e.class];
      const inTest = f.data.test.classPeople?.[e.class] ?? 0;
      const where = inTrain === undefined ? `${count(inTest, 'person', 'people')} in the test file` : `${count(inTrain + inTest, 'person', 'people')} in the two files (${inTrain} training, ${inTest} test)`;
      return `The ${names[e.class] ?? e.name} class has ${where}: no ${short} figure here is a class figure (its row is ${inTest === 1 ? "one person's" : `${inTest} people's`} slices), and ${short} is left out of every class average (balanced accuracy, macro AUC).`;
    })
    .join(' ');
}

/** A card's placeholders: a string fills `{{name}}`, a boolean keeps or drops `{{#name}}…{{/name}}` / `{{^name}}…{{/name}}`. */
type CardValues = Record<string, string | boolean>;

// The headline figures per slice and per person (the paragraph, the test table, the comparison).
function headlineValues(f: ModelCardFacts): CardValues {
  const s = f.test.figures.slices.headline;
  const p = f.test.figures.people?.headline;
  const { train, test } = f.data;
  const majority = train.classRows.reduce((b, n, i) => (n > train.classRows[b] ? i : b), 0);
  return {
    testPeople: String(test.people ?? 'the'),
    testPeopleLead: test.people === undefined ? 'the people' : `the ${test.people} people`,
    testFile: f.test.file,
    personFigures: p !== undefined,
    sliceCount: String(s.count),
    personCount: String(p?.count ?? 'n/a'),
    sliceAccuracy: iv(s.accuracy),
    sliceBalancedAccuracy: iv(s.balancedAccuracy),
    sliceMacroAuc: iv(s.macroAuc),
    sliceKappa: iv(s.quadraticKappa),
    personAccuracy: iv(p?.accuracy),
    personBalancedAccuracy: iv(p?.balancedAccuracy),
    personMacroAuc: iv(p?.macroAuc),
    personKappa: iv(p?.quadraticKappa),
    classesCovered: s.classNamesCovered.join(', '),
    classesExcluded: s.excludedClasses.map((e) => `${e.name}: ${e.reason}`).join('; ') || 'all classes',
    resamples: String(s.resamples),
    bootstrapSeed: String(s.seed),
    onePerson: p ? pct(1 / p.count) : 'n/a',
    verdict: verdict(f.test.figures),
    aimSliceAccuracy: String(AIM.sliceAccuracy),
    aimSliceMacroAuc: String(AIM.sliceMacroAuc),
    aimPersonAccuracy: String(AIM.personAccuracy),
    majorityClass: f.test.metrics.classNames[majority],
    majoritySliceAccuracy: f3(test.classRows[majority] / test.rows),
    majorityPersonAccuracy: f3((test.classPeople?.[majority] ?? NaN) / (test.people ?? NaN)),
  };
}

// The two files, their people and the data check.
function dataValues(f: ModelCardFacts): CardValues {
  const m = f.test.metrics;
  const names = m.classNames;
  const { train, test, check, sharedPeople } = f.data;
  const s = f.test.figures.slices.headline;
  const p = f.test.figures.people?.headline;
  const perPerson = [train, test].map((d) => d.slicesPerPerson).filter((x) => x !== undefined);
  const sameSlices = perPerson.length === 2 && perPerson.every((x) => x.min === perPerson[0].min && x.max === perPerson[0].min) ? perPerson[0].min : undefined;
  const sizes = Object.keys({ ...train.sourceSizes, ...test.sourceSizes }).map((k) => k.replace('x', '×'));
  const peopleCounted = train.people !== undefined && test.people !== undefined;
  return {
    classCount: String(names.length),
    trainFileName: train.name,
    trainSlices: train.rows.toLocaleString('en-US'),
    trainFileHasPeople: train.people !== undefined,
    trainFilePeople: String(train.people ?? 'n/a'),
    trainClasses: classList(train, names),
    testFileName: test.name,
    testSlices: test.rows.toLocaleString('en-US'),
    testFileHasPeople: test.people !== undefined,
    testClasses: classList(test, names),
    dataInOneFolder: f.data.dir !== undefined,
    dataFolder: f.data.dir ?? '',
    peopleCounted,
    peopleTotal: peopleCounted ? String((train.people ?? 0) + (test.people ?? 0) - (sharedPeople ?? 0)) : 'n/a',
    sameSlices: sameSlices !== undefined,
    slicesPerPerson: String(sameSlices ?? 'n/a'),
    sharedPeopleCounted: sharedPeople !== undefined,
    sharedPeople: String(sharedPeople ?? 'n/a'),
    noSharedPeople: sharedPeople === 0,
    someSharedPeople: sharedPeople !== undefined && sharedPeople > 0,
    sharedPeopleHave: count(sharedPeople ?? 0, 'person has', 'people have'),
    labelList: names.map((n, i) => `${i} ${n}`).join(', '),
    severityOrder: m.ordinalOrder.map((i) => shortName(names[i])).join(' < '),
    ordinalOrder: `[${m.ordinalOrder.join(', ')}]`,
    storedSizesKnown: sizes.length > 0,
    storedSizes: sizes.join(', '),
    everyClassCovered: s.excludedClasses.length === 0,
    fewPeopleText: fewPeopleText(f, names),
    halfWidth: f3(Math.max(...[s, p].flatMap((h) => (h ? [(h.accuracy.high - h.accuracy.low) / 2] : [])))),
    dataCheck: check !== undefined,
    nearDuplicates: String(check?.leakage.countB ?? 'n/a'),
    checkTestSlices: String(check?.leakage.sizeB ?? 'n/a'),
    nearDuplicateThreshold: String(check?.leakage.threshold ?? 'n/a'),
    thumbnailSize: String(check?.leakage.size ?? 'n/a'),
    trainLevelMedian: f3(check?.sliceLevel.referenceSpread.median),
    testLevelMedian: f3(check?.sliceLevel.comparedSpread.median),
    testSlicesInRange: String(check?.sliceLevel.comparedInsideReference ?? 'n/a'),
    levelTestSlices: String(check?.sliceLevel.comparedSpread.count ?? 'n/a'),
    levelKs: f3(check?.sliceLevel.ks),
  };
}

// The split of the training file.
function splitValues(f: ModelCardFacts): CardValues {
  const { split, recipe } = f;
  const names = f.test.metrics.classNames;
  const mode = !recipe.split || recipe.split === 'auto' ? (f.data.train.people !== undefined ? 'subjects' : 'near-duplicates') : recipe.split;
  return {
    splitShare: `${Math.round((1 - recipe.valFraction) * 100)}/${Math.round(recipe.valFraction * 100)}`,
    splitBySubjects: mode === 'subjects',
    splitByClusters: mode === 'near-duplicates',
    splitBySlices: mode !== 'subjects' && mode !== 'near-duplicates',
    splitSeed: String(recipe.seed),
    trainPeople: String(split.trainPeople ?? '?'),
    trainRows: String(split.trainRows),
    validationPeople: String(split.validationPeople ?? '?'),
    validationRows: String(split.validationRows),
    validationPerClassKnown: split.validationPeoplePerClass !== undefined,
    validationPerClass: names.map((n, i) => `${n} ${split.validationPeoplePerClass?.[i]}`).join(', '),
    validationOnePerson: split.validationPeople ? f3(1 / split.validationPeople) : 'n/a',
  };
}

// The recipe's bullet list.
function recipeValues(f: ModelCardFacts): CardValues {
  const r = f.recipe;
  const train = f.data.train;
  const names = f.test.metrics.classNames;
  const rarest = train.classRows.reduce((b, n, i) => (n < train.classRows[b] ? i : b), 0);
  return {
    recipe: r.recipe,
    scratchRecipe: r.recipe === 'scratch',
    imagenetBackbone: Boolean(r.backboneWeights),
    backboneWeights: r.backboneWeights ?? '',
    allTrainable: r.allTrainable,
    frozenBelow: String(DEFAULT_FINE_TUNE_AT),
    imageSize: String(r.imageSize),
    batchSize: String(r.batchSize),
    warmupSchedule: r.cosine || r.warmupEpochs > 0,
    warmupEpochs: String(r.warmupEpochs),
    warmupStartLr: (r.lr / 10).toExponential(1),
    lr: r.lr.toExponential(1),
    cosine: r.cosine,
    finalLr: (r.lr / 100).toExponential(1),
    epochs: String(r.epochs),
    labelSmoothing: String(r.labelSmoothing),
    classWeight: r.classWeight ?? 'none',
    balancedSqrt: r.classWeight === 'balanced-sqrt',
    rarestShare: pct(train.classRows[rarest] / train.rows, 0),
    rarestClass: shortName(names[rarest] ?? String(rarest)),
    augmentation: describeAugment(r.augment),
    mixup: Boolean(r.mixup),
    mixupShape: String(r.mixup ?? 0),
    personMonitor: f.training.monitor === 'val_person_auc',
    patience: String(r.patience),
  };
}

// The run: epochs, time, the checkpoint, the epoch table.
function trainingValues(f: ModelCardFacts): CardValues {
  const t = f.training;
  const keys = ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'val_auc', 'val_person_auc'];
  return {
    complete: t.complete,
    checkpointEpoch: String(t.bestEpoch ?? '?'),
    runDir: t.runDir,
    runBackendKnown: Boolean(t.backend),
    tfjsNodeBackend: t.backend === 'tensorflow',
    runBackend: t.backend ?? '',
    epochsRun: String(t.epochs.length),
    plannedEpochs: String(t.plannedEpochs),
    stoppedEarly: Boolean(t.stoppedEarly),
    epochTime: minutes(t.epochSeconds),
    wallTimeKnown: Boolean(t.wallSeconds),
    wallTime: minutes(t.wallSeconds ?? 0),
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
  };
}

// The test file's per-class figures and confusion matrices.
function testValues(f: ModelCardFacts): CardValues {
  const names = f.test.metrics.classNames;
  const served = f.test.figures;
  const personMetrics = served.people?.metrics;
  const confusion = (matrix: number[][]): string => table(['true \\ predicted', ...names], matrix.map((row, i) => [names[i], ...row.map(String)]));
  return {
    evaluationBackend: f.evaluationBackend,
    classPeople: names.map((n, i) => `${n} ${f.data.test.classPeople?.[i] ?? '?'}`).join(', '),
    perClassTable: table(
      ['class', 'precision', 'recall', 'F1', 'slices', 'AUC (one-vs-rest)', 'recall per person'],
      served.slices.metrics.perClass.map((q, i) => [q.className, f3(q.precision), f3(q.recall), f3(q.f1), String(q.support), f3(q.auc), personMetrics ? `${f3(personMetrics.perClass[i].recall)} of ${personMetrics.perClass[i].support}` : 'n/a']),
    ),
    confusionTable: confusion(served.slices.metrics.confusionMatrix),
    personConfusionTable: personMetrics ? confusion(personMetrics.confusionMatrix) : '',
    reportLink: f.report.link,
  };
}

// The temperature decision and its figures on validation and test.
function calibrationValues(f: ModelCardFacts): CardValues {
  const cal = f.calibration;
  const m = f.test.metrics;
  const c = f.test.calibrated;
  return {
    calibrationKept: cal.kept,
    servedTemperature: cal.served.toFixed(3),
    fittedTemperature: cal.fit.temperature.toFixed(3),
    atBound: cal.fit.atBound,
    calibrationReason: cal.reason,
    calibrationBins: String(m.calibrationBins.length),
    validationNllBefore: f4(cal.fit.nllBefore),
    validationNllAfter: f4(cal.fit.nllAfter),
    validationEceBefore: f4(cal.validationEce.before),
    validationEceAfter: f4(cal.validationEce.after),
    testNllBefore: f4(m.logLoss),
    testNllAfter: f4(c.logLoss),
    testEceBefore: f4(m.ece),
    testEceAfter: f4(c.ece),
    testBrierBefore: f4(m.brier),
    testBrierAfter: f4(c.brier),
  };
}

// The stored weights, the quantization decision and the commands.
function storageValues(f: ModelCardFacts): CardValues {
  const st = f.storage;
  return {
    modelDir: f.modelDir,
    date: f.date,
    weights: st.kept,
    weightsForced: st.forced,
    float16Kept: st.kept === 'float16',
    maxFloat16Drop: String(st.maxFloat16DropPoints),
    sha256: st.sha256.slice(0, 16),
    modelSize: mb(st.modelBytes),
    maxModelMb: String(st.maxModelMb),
    float32Size: mb(st.float32Bytes),
    float16Size: mb(st.float16Bytes),
    float32Accuracy: f4(st.float32.accuracy),
    float32MacroAuc: f4(st.float32.macroAuc),
    float16Accuracy: f4(st.float16.accuracy),
    float16MacroAuc: f4(st.float16.macroAuc),
    agreement: pct(st.agreement, 2),
    evaluateCommand: f.commands.evaluate,
    shipCommand: f.commands.ship,
    trainCommandKnown: f.commands.train !== undefined,
    trainCommand: f.commands.train ?? '',
  };
}

// `{{#name}}…{{/name}}` or `{{^name}}…{{/name}}`: the leftmost section with its body (sections of one name do not nest).
const SECTION = /\{\{([#^])(\w+)\}\}([\s\S]*?)\{\{\/\2\}\}/;

/**
 * Fills a template: sections first (kept or dropped by their flag, outer before inner), then the value slots.
 * @throws When the template names a placeholder without a value, leaves a value out, uses a flag as a value (or the
 *   reverse), or leaves a section open.
 */
function fillTemplate(template: string, values: CardValues): string {
  const named = new Set([...template.matchAll(/\{\{[#^/]?(\w+)\}\}/g)].map((m) => m[1]));
  const missing = [...named].filter((name) => !(name in values));
  if (missing.length) throw new Error(`model card template: no value for ${missing.join(', ')}`);
  const unused = Object.keys(values).filter((k) => !named.has(k));
  if (unused.length) throw new Error(`model card template does not use ${unused.join(', ')}`);
  let text = template;
  for (let m = SECTION.exec(text); m; m = SECTION.exec(text)) {
    const [whole, kind, name, body] = m;
    const on = values[name];
    if (typeof on !== 'boolean') throw new Error(`model card template: ${name} is a value, not a section`);
    text = text.slice(0, m.index) + ((kind === '#') === on ? body : '') + text.slice(m.index + whole.length);
  }
  const open = /\{\{[#^/](\w+)\}\}/.exec(text);
  if (open) throw new Error(`model card template: section ${open[1]} is not closed`);
  return text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (typeof value !== 'string') throw new Error(`model card template: ${name} is a section, not a value`);
    return value;
  });
}

/**
 * The model card (Markdown): the template with its slots filled and its sections kept or dropped from the facts.
 * Every slot must be filled and every fact slot used.
 * @param f The facts.
 * @param template The card template ({@link MODEL_CARD_TEMPLATE}), with `{{slot}}` placeholders and
 *   `{{#flag}}…{{/flag}}` / `{{^flag}}…{{/flag}}` sections.
 * @returns The card.
 * @throws When the template names a slot the facts do not fill, or leaves one out.
 */
export function renderModelCard(f: ModelCardFacts, template: string): string {
  const values: CardValues = {
    ...headlineValues(f),
    ...dataValues(f),
    ...splitValues(f),
    ...recipeValues(f),
    ...trainingValues(f),
    ...testValues(f),
    ...calibrationValues(f),
    ...storageValues(f),
  };
  return fillTemplate(template, values).replace(/\n{3,}/g, '\n\n');
}
