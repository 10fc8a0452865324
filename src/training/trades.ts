import { tf } from '../tf.js';
import { UsageError } from '../errors.js';
import { defaultPgdStepSize } from './pgdTraining.js';
import { projectToBall, type Ball } from '../attacks/core/harness.js';
import {
  ascendInBall,
  asClassifier,
  checkStepOptions,
  labelsOf,
  meanCrossEntropy,
  optimizerStep,
  stepRng,
  type ClassifierSource,
  type TrainingStepOptions,
  type TrainingStepResult,
} from './trainingStep.js';

/** Options of TRADES (Zhang et al. 2019). */
export interface TradesOptions extends TrainingStepOptions {
  /** Weight β of the robustness term (trade-off between accuracy and robustness). Default 6 (the paper's CIFAR-10 value; its MNIST value is 1). */
  beta?: number;
  /** Ascent steps on the KL term. Default 10. */
  steps?: number;
  /** Step size α. Default eps / 4, as for PGD training. */
  stepSize?: number;
}

/** Scale of the Gaussian start of TRADES' inner maximisation (the paper's code: 0.001 · N(0, 1)). */
export const TRADES_START_SCALE = 0.001;

/** KL(softmax(a) ‖ softmax(b)) per row, [b], from log-probabilities (stable for confident models). */
export function klFromLogits(a: tf.Tensor, b: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const logP = tf.logSoftmax(a);
    return tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, tf.logSoftmax(b))), 1) as tf.Tensor1D;
  });
}

function resolve(o: TradesOptions): { steps: number; stepSize: number; beta: number } {
  checkStepOptions('trades', o);
  const beta = o.beta ?? 6;
  if (!Number.isFinite(beta) || beta < 0) throw new UsageError(`trades: beta must be a number ≥ 0, got ${beta}`);
  return { steps: o.steps ?? 10, stepSize: o.stepSize ?? defaultPgdStepSize(o.eps), beta };
}

/**
 * The inner maximisation of TRADES: from x + 0.001 · N(0, 1), sign-gradient ascent of KL(f(x) ‖ f(x')) over x'
 * in ball(x, eps) ∩ bounds, with the model in inference mode and f(x) held fixed. Labels are not used. The
 * steps are the `pgd` attack's own step and projection on this loss instead of the cross-entropy.
 * Row r of the Gaussian start is `rowRng(seed, ids).normal(shape)` row r.
 * @param optimizer only its `iterations` count, for the default seed.
 * @returns x'; the caller disposes it.
 */
export function tradesExamples(model: ClassifierSource, optimizer: tf.Optimizer, x: tf.Tensor, options: TradesOptions): tf.Tensor {
  const { steps, stepSize } = resolve(options);
  const classifier = asClassifier(model);
  const clean = tf.tidy(() => classifier.logits(x, false));
  const start = (ball: Ball): tf.Tensor =>
    tf.tidy(() => projectToBall(tf.add(x, tf.mul(stepRng(optimizer, x, options).normal(x.shape), TRADES_START_SCALE)), ball));
  const loss = (xAdv: tf.Tensor): tf.Scalar => tf.sum(klFromLogits(clean, classifier.logits(xAdv, false)));
  try {
    return ascendInBall(classifier, x, options, { steps, stepSize }, start, loss);
  } finally {
    clean.dispose();
  }
}

/**
 * One step of TRADES (Zhang, Yu, Jiao, Xing, El Ghaoui & Jordan 2019, "Theoretically Principled Trade-off
 * between Robustness and Accuracy", ICML): find x' by {@link tradesExamples} (training: false), then take one
 * optimizer step (training: true) on
 *
 *   CE(f(x), y) + β · mean over the batch of KL(softmax f(x) ‖ softmax f(x'))
 *
 * with gradients through both f(x) and f(x'), as in the paper's code. With β = 0 it is a natural step.
 * Defaults: beta 6, steps 10, stepSize eps/4, bounds from the model (else [0, 1]), seed `iteration <n>`.
 * @param y labels [b] (Int32Array or tensor) or one-hot [b, k].
 * @returns the loss and the batch accuracy on x' (before the update), as numbers.
 * @example
 * const { loss } = await tradesStep(model, optimizer, x, y, { eps: 0.3, beta: 1, steps: 40, stepSize: 0.01 });
 */
export async function tradesStep(
  model: ClassifierSource,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor | Int32Array,
  options: TradesOptions,
): Promise<TrainingStepResult> {
  const { beta } = resolve(options);
  const classifier = asClassifier(model);
  const xAdv = tradesExamples(classifier, optimizer, x, options);
  const labels = labelsOf(y);
  try {
    return await optimizerStep(optimizer, classifier, labels, () => {
      const natural = classifier.logits(x, true);
      const adversarial = classifier.logits(xAdv, true);
      const robustness = tf.mean(klFromLogits(natural, adversarial));
      return { loss: tf.add(meanCrossEntropy(labels, natural), tf.mul(robustness, beta)) as tf.Scalar, logits: adversarial };
    });
  } finally {
    tf.dispose([xAdv, labels]);
  }
}
