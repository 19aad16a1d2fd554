/**
 * `neurostagenet/train`: training NeuroStageNet — the pipeline (`runTrainingPipeline`: split by person, build,
 * train, calibrate, evaluate, save with metadata, report) and its command-line flags, the trainer, the recipes, the
 * callbacks tfjs lacks, the smoothed loss, learning-rate schedules, progress reporters and evaluation.
 * @module
 */
export { TrainingError } from './errors.js';
export {
  categoricalCrossentropyWithSmoothing,
  checkLabelSmoothing,
  LABEL_SMOOTHING_RANGE,
  type SmoothedCrossentropyOptions,
  type LossFunction,
} from './loss.js';
export { compileNeuroStageNet, type CompileNeuroStageNetOptions } from './compile.js';
export { trainNeuroStageNet } from './trainer.js';
export type { DataSubset, EpochRecord, BatchProgress, ProgressReporter, TrainOptions, TrainResult } from './types.js';
export { evaluate, type EvaluateOptions, type EvaluationResult } from './evaluate.js';
export type { TestTimeAugmentation } from './inference.js';
export { getLearningRate, setLearningRate, warmupCosineSchedule, type WarmupCosineOptions } from './learning-rate.js';
export {
  TRAINING_RECIPES,
  resolveTrainingRecipe,
  recipeCallbacks,
  recipeTrainOptions,
  augmentOption,
  AUGMENT_MODES,
  type AugmentMode,
  type TrainingRecipe,
  type TrainingRecipeName,
  type TrainingRecipeOverrides,
} from './recipe.js';
export { barProgress, lineProgress, formatEpochLine } from './progress.js';
export type { CallbackLogs, MonitorMode } from './callbacks/monitor.js';
export { EarlyStopping, earlyStopping, type EarlyStoppingOptions } from './callbacks/early-stopping.js';
export { ReduceLROnPlateau, reduceLROnPlateau, type ReduceLROnPlateauOptions, type LearningRateReduction } from './callbacks/reduce-lr-on-plateau.js';
export { ValidationAuc, validationAuc, type ValidationAucOptions } from './callbacks/validation-auc.js';
export { ModelCheckpoint, modelCheckpoint, type ModelCheckpointOptions } from './callbacks/model-checkpoint.js';
export {
  LearningRateScheduler,
  learningRateScheduler,
  type LearningRateSchedulerOptions,
  type ScheduledLearningRate,
} from './callbacks/learning-rate-scheduler.js';
export {
  runTrainingPipeline,
  splitTrainingRows,
  describeData,
  type TrainingPipelineOptions,
  type TrainingPipelineOutputs,
  type TrainingPipelineResult,
  type TrainingPipelineFacts,
  type TrainingPipelineFiles,
  type TrainingRunRecord,
  type TrainingRunInfo,
  type TrainingRows,
  type SplitPeople,
  type PipelineTestEvaluation,
  type DataFacts,
  type ModelSpec,
  type BestEpoch,
  type PipelineData,
  type RecordedRunOptions,
  type RecordedSplit,
  type RecordedCalibration,
  recordedValidation,
  type RecordedValidation,
  type RecordedTest,
} from './pipeline.js';
export {
  TRAINING_FLAGS,
  TRAINING_FLAGS_HELP,
  parseTrainingFlags,
  flattenTrainingFlags,
  trainingFlagsFromRunOptions,
  monitorFor,
  TrainingFlagError,
  type FlagValues,
  type FlagSpec,
  type SplitMode,
  type SplitOutcome,
  type TrainingFlags,
  type TrainingRunOptions,
  type TrainingSplitSettings,
} from './flags.js';
