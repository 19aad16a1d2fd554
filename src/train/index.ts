/**
 * `neurostagenet/train`: training NeuroStageNet — the trainer, the recipes, the callbacks tfjs lacks, the smoothed
 * loss, learning-rate schedules, progress reporters and evaluation.
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
