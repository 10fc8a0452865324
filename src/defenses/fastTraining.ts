import { tf } from '../tf.js';
import { crossEntropy } from '../attacks/core/losses.js';
import {
  asClassifier,
  checkStepOptions,
  labelsOf,
  linfAscent,
  meanCrossEntropy,
  optimizerStep,
  projectLinf,
  stepBounds,
  stepRng,
  type ClassifierSource,
  type TrainingStepOptions,
  type TrainingStepResult,
} from './trainingStep.js';

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
  checkStepOptions('fast training', options);
  const classifier = asClassifier(model);
  const labels = labelsOf(y);
  const bounds = stepBounds(classifier, options.bounds, x);
  const noise = stepRng(optimizer, x, options).uniform(x.shape, -options.eps, options.eps);
  const start = tf.tidy(() => projectLinf(x, tf.add(x, noise), options.eps, bounds));
  const loss = (xAdv: tf.Tensor): tf.Scalar => tf.sum(crossEntropy(classifier.logits(xAdv, false) as tf.Tensor2D, labels));
  const stepSize = options.stepSize ?? 1.25 * options.eps;
  const xAdv = linfAscent(loss, x, start, { eps: options.eps, steps: 1, stepSize, bounds });
  tf.dispose([labels, bounds.lo, bounds.hi, noise, start]);
  return xAdv;
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
  const classifier = asClassifier(model);
  const xAdv = fastTrainingExamples(classifier, optimizer, x, y, options);
  const labels = labelsOf(y);
  try {
    return await optimizerStep(optimizer, classifier, labels, () => {
      const logits = classifier.logits(xAdv, true);
      return { loss: meanCrossEntropy(labels, logits), logits };
    });
  } finally {
    tf.dispose([xAdv, labels]);
  }
}
