import { tf } from '../tf.js';
import { pgdTrainingExamples, pgdTrainingStep, type PgdTrainingOptions } from './pgdTraining.js';
import { checkStepOptions, type ClassifierSource, type TrainingStepOptions, type TrainingStepResult } from './trainingStep.js';

/** Options of fast adversarial training (Wong, Rice & Kolter 2020). */
export interface FastTrainingOptions extends TrainingStepOptions {
  /**
   * Size α of the one FGSM step. Default 1.25 · eps, the paper's choice; at α ≥ 2 · eps it suffers the
   * "catastrophic overfitting" the paper describes (robustness to PGD collapses within an epoch).
   */
  stepSize?: number;
}

/**
 * The training examples of fast adversarial training: FGSM from a uniform random start, with the model in
 * inference mode:
 *
 *   δ⁰ ~ U(−eps, eps),   x' = Π(x + δ⁰ + α · sign ∇ₓ CE(f(Π(x + δ⁰)), y))
 *
 * Π projects onto ball(x, eps) ∩ bounds. Row r of δ⁰ is `rowRng(seed, ids).uniform(shape, −eps, eps)` row r.
 * @param optimizer only its `iterations` count, for the default seed.
 * @returns the adversarial batch; the caller disposes it.
 */
export function fastTrainingExamples(
  model: ClassifierSource,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor | Int32Array,
  options: FastTrainingOptions,
): tf.Tensor {
  return pgdTrainingExamples(model, optimizer, x, y, asPgd(options));
}

/** FGSM from a random start is PGD with one step of α (default 1.25·eps). */
function asPgd(options: FastTrainingOptions): PgdTrainingOptions {
  checkStepOptions('fast training', options);
  return { ...options, steps: 1, stepSize: options.stepSize ?? 1.25 * options.eps };
}

/**
 * One step of fast adversarial training, "FGSM with random initialisation" (Wong, Rice & Kolter 2020, "Fast is
 * better than free: Revisiting adversarial training", ICLR): find x' by {@link fastTrainingExamples}
 * (training: false), then take one optimizer step on the mean cross-entropy of f(x') (training: true).
 * One gradient of the input per step, so an epoch costs about twice natural training. The paper pairs it with
 * a cyclic learning rate (`trainAdversarially`'s schedule `cyclic`).
 *
 * Defaults: stepSize 1.25·eps, bounds from the model (else [0, 1]), seed `iteration <n>`.
 * @param y labels [b] (Int32Array or tensor) or one-hot [b, k].
 * @returns the loss and the batch accuracy on x' (before the update), as numbers.
 * @example
 * const { loss } = await fastTrainingStep(model, optimizer, x, y, { eps: 0.3, seed: `${epoch}/${step}` });
 */
export async function fastTrainingStep(
  model: ClassifierSource,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor | Int32Array,
  options: FastTrainingOptions,
): Promise<TrainingStepResult> {
  return pgdTrainingStep(model, optimizer, x, y, asPgd(options));
}
