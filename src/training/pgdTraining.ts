import { tf } from '../tf.js';
import { crossEntropy } from '../attacks/core/losses.js';
import { projectToBall, type Ball } from '../attacks/core/harness.js';
import { PGD_STEP_FRACTION } from '../attacks/pgd.js';
import {
  ascendInBall,
  asClassifier,
  checkStepOptions,
  labelsOf,
  naturalTrainingStep,
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
   * Step size α. Default eps / 4, the `pgd` attack's rule (see `PgdOptions.stepSize` for why not
   * 2.5 · eps / steps, which it equals at the default 10 steps).
   */
  stepSize?: number;
  /** Start from a uniform random point of the eps-ball. Default true; false starts at x (BIM, as `pgd` with randomStart false). */
  randomStart?: boolean;
}

/** eps / 4: the default step size of the PGD inner maximisation, the `pgd` attack's own. */
export function defaultPgdStepSize(eps: number): number {
  return eps * PGD_STEP_FRACTION;
}

function resolve(o: PgdTrainingOptions): { steps: number; stepSize: number } {
  checkStepOptions('pgd training', o);
  return { steps: o.steps ?? 10, stepSize: o.stepSize ?? defaultPgdStepSize(o.eps) };
}

/**
 * The inner maximisation of PGD training: Linf PGD on the cross-entropy from a uniform random start in the
 * eps-ball, with the model in inference mode:
 *
 *   x⁰ = Π(x + U(−eps, eps)),   xᵗ⁺¹ = Π(xᵗ + α · sign ∇ₓ CE(f(xᵗ), y))
 *
 * Π projects onto ball(x, eps) ∩ bounds. Row r of the start is `rowRng(seed, ids).uniform(shape, −eps, eps)`
 * row r, so it depends only on (seed, ids[r]); with randomStart false x⁰ = x. The steps are the `pgd` attack's
 * own (`pgdStep`), in-graph throughout (no read-back per step, no early stop): from x⁰ = x the result is
 * what `pgd` returns with randomStart false and earlyStop false.
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
  const o = resolve(options);
  const classifier: Classifier = asClassifier(model);
  const labels = labelsOf(y);
  // Row r of the uniform start comes from rowRng(seed, ids) row r, so it follows the example, not the batch.
  const start = (ball: Ball): tf.Tensor =>
    options.randomStart === false
      ? tf.clone(x)
      : tf.tidy(() => projectToBall(tf.add(x, stepRng(optimizer, x, options).uniform(x.shape, -options.eps, options.eps)), ball));
  const loss = (xAdv: tf.Tensor): tf.Scalar => tf.sum(crossEntropy(classifier.logits(xAdv, false) as tf.Tensor2D, labels));
  try {
    return ascendInBall(classifier, x, options, o, start, loss);
  } finally {
    labels.dispose();
  }
}

/**
 * One step of PGD adversarial training (Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards Deep Learning
 * Models Resistant to Adversarial Attacks", ICLR): find x' by {@link pgdTrainingExamples} (training: false), then
 * take one optimizer step on the mean cross-entropy of f(x') (training: true), i.e. train on the adversarial
 * batch only, as Madry et al. do.
 *
 * Defaults: steps 10, stepSize eps/4, randomStart true, bounds from the model (else [0, 1]), seed `iteration <n>`.
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
