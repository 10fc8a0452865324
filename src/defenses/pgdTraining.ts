import { tf } from '../tf.js';
import { crossEntropy } from '../attacks/core/losses.js';
import {
  asClassifier,
  checkStepOptions,
  labelsOf,
  linfAscent,
  naturalTrainingStep,
  projectLinf,
  stepBounds,
  stepRng,
  type Classifier,
  type ClassifierSource,
  type TrainingStepOptions,
  type TrainingStepResult,
} from './trainingStep.js';

/** Options of PGD adversarial training (Madry et al. 2018). */
export interface PgdTrainingOptions extends TrainingStepOptions {
  /** PGD iterations of the inner maximisation. Default 10. */
  steps?: number;
  /**
   * Step size α. Default 2.5 · eps / steps, the rule of Madry et al.'s `robustness` library, which lets an
   * iterate cross the ball from one side to the other (eps/4 at the default 10 steps).
   */
  stepSize?: number;
}

/** 2.5 · eps / steps: the default step size of the PGD inner maximisation. */
export function defaultPgdStepSize(eps: number, steps: number): number {
  return steps > 0 ? (2.5 * eps) / steps : 0;
}

function resolve(o: PgdTrainingOptions): { steps: number; stepSize: number } {
  checkStepOptions('pgd training', o);
  const steps = o.steps ?? 10;
  return { steps, stepSize: o.stepSize ?? defaultPgdStepSize(o.eps, steps) };
}

/**
 * The inner maximisation of PGD training: Linf PGD on the cross-entropy from a uniform random start in the
 * eps-ball, with the model in inference mode:
 *
 *   x⁰ = Π(x + U(−eps, eps)),   xᵗ⁺¹ = Π(xᵗ + α · sign ∇ₓ CE(f(xᵗ), y))
 *
 * Π projects onto ball(x, eps) ∩ bounds. Row r of the start is `rowRng(seed, ids).uniform(shape, −eps, eps)`
 * row r, so it depends only on (seed, ids[r]). In-graph throughout (no read-back per step).
 * @param optimizer only its `iterations` count, for the default seed.
 * @returns the adversarial batch; the caller disposes it.
 * @example
 * const xAdv = pgdTrainingExamples(model, optimizer, x, y, { eps: 0.3, steps: 40, stepSize: 0.01 });
 */
export function pgdTrainingExamples(
  model: ClassifierSource,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor | Int32Array,
  options: PgdTrainingOptions,
): tf.Tensor {
  const { steps, stepSize } = resolve(options);
  const classifier: Classifier = asClassifier(model);
  const labels = labelsOf(y);
  const bounds = stepBounds(classifier, options.bounds, x);
  const noise = stepRng(optimizer, x, options).uniform(x.shape, -options.eps, options.eps);
  const start = tf.tidy(() => projectLinf(x, tf.add(x, noise), options.eps, bounds));
  const loss = (xAdv: tf.Tensor): tf.Scalar => tf.sum(crossEntropy(classifier.logits(xAdv, false) as tf.Tensor2D, labels));
  const xAdv = linfAscent(loss, x, start, { eps: options.eps, steps, stepSize, bounds });
  tf.dispose([labels, bounds.lo, bounds.hi, noise, start]);
  return xAdv;
}

/**
 * One step of PGD adversarial training (Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards Deep Learning
 * Models Resistant to Adversarial Attacks", ICLR): find x' by {@link pgdTrainingExamples} (training: false), then
 * take one optimizer step on the mean cross-entropy of f(x') (training: true), i.e. train on the adversarial
 * batch only, as Madry et al. do.
 *
 * Defaults: steps 10, stepSize 2.5·eps/steps, bounds from the model (else [0, 1]), seed `iteration <n>`.
 * Madry et al.'s MNIST setting is eps 0.3, 40 steps of 0.01.
 * @param y labels [b] (Int32Array or tensor) or one-hot [b, k].
 * @returns the loss and the batch accuracy on x' (before the update), as numbers.
 * @example
 * const optimizer = tf.train.adam(1e-3);
 * for (const [x, y] of batches) {
 *   const { loss, accuracy } = await pgdTrainingStep(model, optimizer, x, y, { eps: 0.3, steps: 10 });
 * }
 */
export async function pgdTrainingStep(
  model: ClassifierSource,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor | Int32Array,
  options: PgdTrainingOptions,
): Promise<TrainingStepResult> {
  const classifier = asClassifier(model);
  const xAdv = pgdTrainingExamples(classifier, optimizer, x, y, options);
  try {
    return await naturalTrainingStep(classifier, optimizer, xAdv, y);
  } finally {
    xAdv.dispose();
  }
}
