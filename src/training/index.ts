/**
 * robust's trainers, one module: natural training (`train.ts`), the adversarial-training steps (PGD, TRADES,
 * fast; `trainingStep.ts` shares the classifier view, the Linf ascent, which is the `pgd` attack's own step,
 * and the optimizer step), the epoch loop with held-out evaluation and checkpoints (`adversarial.ts`), and
 * learning-rate schedules. Re-exports only.
 */
export { trainClassifier, type TrainOptions } from './train.js';
export {
  trainAdversarially,
  TRAINING_METHODS,
  type AdversarialTrainingOptions,
  type AdversarialTrainingResult,
  type EpochRecord,
  type TrainingMethod,
} from './adversarial.js';
export { learningRateAt, parseSchedule, scheduleName, SCHEDULE_KINDS, type LearningRateSchedule, type TrainingPosition } from './schedule.js';
export {
  asClassifier,
  linfAscent,
  linfBall,
  naturalTrainingStep,
  type Classifier,
  type ClassifierSource,
  type TrainingStepOptions,
  type TrainingStepResult,
} from './trainingStep.js';
export { defaultPgdStepSize, pgdTrainingExamples, pgdTrainingStep, type PgdTrainingOptions } from './pgdTraining.js';
export { klFromLogits, tradesExamples, tradesStep, TRADES_START_SCALE, type TradesOptions } from './trades.js';
export { fastTrainingExamples, fastTrainingStep, type FastTrainingOptions } from './fastTraining.js';
