/**
 * What the adversarial-training step functions (`pgdTraining.ts`, `trades.ts`, `fastTraining.ts`) share: the
 * classifier they train, their common options, the Linf ball and ascent that find the training examples (the
 * attack's own PGD step, `attacks/pgd.ts`), and the optimizer step that returns a loss and a batch accuracy.
 * Written so a researcher can call a step inside their own TF.js loop: no I/O, no global state, no leaked
 * tensors.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../tf.js';
import { UsageError } from '../errors.js';
import { boundTensors, type BoundTensors } from '../tensor/bounds.js';
import { linf } from '../attacks/core/norms.js';
import type { Ball } from '../attacks/core/harness.js';
import { pgdAscent } from '../attacks/pgd.js';
import { rowRng, type Rng } from '../tensor/random.js';
import { DEFAULT_BOUNDS, normalize, readRobustMetadata } from '../models/metadata.js';
import type { Bounds, Normalization } from '../models/types.js';

/**
 * A classifier as a trainer sees it: logits with a training switch, and the variables an optimizer updates.
 * Adversarial examples are always found with `training: false` (dropout off, batch-norm statistics frozen);
 * only the weight update runs with `training: true`.
 */
export interface Classifier {
  /** Logits [b, classes] for inputs [b, ...shape] in input space. */
  logits(x: tf.Tensor, training: boolean): tf.Tensor;
  /** The variables the optimizer updates. */
  readonly variables: tf.Variable[];
  /** Everything a checkpoint must hold (e.g. batch-norm moving statistics as well). Default: `variables`. */
  readonly state?: tf.Variable[];
  /** Input bounds the attacks clip to, when the classifier knows them. */
  readonly bounds?: Bounds;
}

/** A Layers model that outputs logits, or a {@link Classifier}. */
export type ClassifierSource = tfl.LayersModel | Classifier;

/**
 * View a Layers model as a {@link Classifier}: `apply(x, {training})`, its trainable weights, all its weights as
 * state, and the bounds in its robust metadata. A `normalization` is applied in front, as `loadModel` does.
 * @throws UsageError when the model ends in a softmax: train on logits (the loss applies the softmax).
 * @example
 * const c = asClassifier(buildReferenceCnn(0));
 * const logits = c.logits(x, false);
 */
export function asClassifier(source: ClassifierSource, normalization?: Normalization): Classifier {
  if (!(source instanceof tfl.LayersModel)) {
    if (normalization === undefined) return source;
    const shape = (x: tf.Tensor): number[] => x.shape.slice(1);
    return { ...source, logits: (x, training) => tf.tidy(() => source.logits(normalize(x, normalization, shape(x)), training)) };
  }
  const layers = source.layers;
  const last = layers[layers.length - 1];
  if (last !== undefined && (last.getClassName() === 'Softmax' || last.getConfig().activation === 'softmax')) {
    throw new UsageError(`model ${source.name} ends in a softmax; adversarial training needs logits: make the last layer linear`);
  }
  const variable = (w: tfl.LayerVariable): tf.Variable => w.read() as tf.Variable;
  const bounds = readRobustMetadata(source.getUserDefinedMetadata(), source.name).bounds;
  return {
    logits: (x, training) =>
      tf.tidy(() => source.apply(normalization === undefined ? x : normalize(x, normalization, x.shape.slice(1)), { training }) as tf.Tensor),
    variables: source.trainableWeights.map(variable),
    state: source.weights.map(variable),
    ...(bounds !== undefined ? { bounds } : {}),
  };
}

/** Options every training step takes. */
export interface TrainingStepOptions {
  /** Linf radius of the threat model. Required by the adversarial steps. */
  eps: number;
  /** Input bounds the examples are clipped to. Default: the classifier's bounds, else {min: 0, max: 1}. */
  bounds?: Bounds;
  /**
   * Seed of the random start. Default `iteration <n>` with n = `optimizer.iterations`, so consecutive steps of
   * one optimizer draw fresh starts and a rerun draws the same ones.
   */
  seed?: string | number;
  /**
   * One id per example (e.g. its index in the training set): row r's random start comes from its own stream
   * keyed by (seed, ids[r]), whatever batch it is in. Default 0..b−1.
   */
  ids?: ArrayLike<number>;
}

/** What a training step returns (plain numbers: the step leaves no tensor behind). */
export interface TrainingStepResult {
  /** The minimised loss on this batch, before the update. */
  loss: number;
  /**
   * Fraction of the batch the classifier got right on the examples it was trained on (the adversarial ones for
   * PGD and fast training, x' for TRADES, x for natural training), in training mode, before the update.
   */
  accuracy: number;
}

/** Checks shared by the steps: a finite eps ≥ 0, integer steps ≥ 0 and a finite step size ≥ 0. */
export function checkStepOptions(method: string, o: { eps: number; steps?: number; stepSize?: number }): void {
  if (!Number.isFinite(o.eps) || o.eps < 0) throw new UsageError(`${method}: eps must be a number ≥ 0, got ${o.eps}`);
  if (o.steps !== undefined && (!Number.isInteger(o.steps) || o.steps < 0)) throw new UsageError(`${method}: steps must be an integer ≥ 0, got ${o.steps}`);
  if (o.stepSize !== undefined && (!Number.isFinite(o.stepSize) || o.stepSize < 0)) {
    throw new UsageError(`${method}: stepSize must be a number ≥ 0, got ${o.stepSize}`);
  }
}

/** Labels [b] int32 from an Int32Array, a [b] tensor or a one-hot [b, k] tensor. The caller disposes the result. */
export function labelsOf(y: tf.Tensor | Int32Array): tf.Tensor1D {
  if (y instanceof Int32Array) return tf.tensor1d(y, 'int32');
  return tf.tidy(() => (y.rank === 2 ? tf.argMax(y, 1) : tf.cast(y, 'int32')) as tf.Tensor1D);
}

/** The bounds a step clips to, as tensors (the caller disposes them). */
export function stepBounds(classifier: Classifier, bounds: Bounds | undefined, x: tf.Tensor): BoundTensors {
  return boundTensors(bounds ?? classifier.bounds ?? DEFAULT_BOUNDS, x.shape.slice(1));
}

/** The per-example random streams of a step (see {@link TrainingStepOptions.seed} and `ids`). */
export function stepRng(optimizer: tf.Optimizer, x: tf.Tensor, options: TrainingStepOptions): Rng {
  const n = x.shape[0] ?? 0;
  if (options.ids !== undefined && options.ids.length !== n) throw new UsageError(`${options.ids.length} ids for a batch of ${n}; pass one id per example`);
  return rowRng(options.seed ?? `iteration ${optimizer.iterations}`, options.ids ?? Array.from({ length: n }, (_, i) => i));
}

/** The set a training step's examples live in: the Linf ball of radius eps around x, within the bounds (no mask). */
export function linfBall(x: tf.Tensor, eps: number, bounds: BoundTensors): Ball {
  return { x, norm: linf, eps, bounds, mask: null };
}

/**
 * Sign-gradient ascent in the Linf ball (the inner maximisation of Madry et al. 2018):
 * xᵗ⁺¹ = Π(xᵗ + α · sign ∇ loss(xᵗ)), Π the projection onto ball(x, eps) ∩ bounds, from `start` (kept).
 * It is the attack's own PGD ({@link pgdAscent}: the step and projection of `pgd`), run without the harness:
 * in-graph, no value read back to JavaScript, so a step costs one forward and one backward pass.
 * `loss` maps a batch to a scalar to ascend; it should run the model with `training: false`.
 * @returns the last iterate; the caller disposes it.
 */
export function linfAscent(
  loss: (xAdv: tf.Tensor) => tf.Scalar,
  x: tf.Tensor,
  start: tf.Tensor,
  o: { eps: number; steps: number; stepSize: number; bounds: BoundTensors },
): tf.Tensor {
  return pgdAscent(loss, start, linfBall(x, o.eps, o.bounds), o);
}

/**
 * The frame of every inner maximisation: the Linf ball of `options.eps` around x within the step's bounds, a
 * start in it (`start` maps the ball to a fresh tensor), and the attack's PGD ascent ({@link pgdAscent}) of
 * `loss` from there. Leaves no tensor behind but the result, even when the loss throws.
 * @returns the last iterate; the caller disposes it.
 */
export function ascendInBall(
  classifier: Classifier,
  x: tf.Tensor,
  options: TrainingStepOptions,
  o: { steps: number; stepSize: number },
  start: (ball: Ball) => tf.Tensor,
  loss: (xAdv: tf.Tensor) => tf.Scalar,
): tf.Tensor {
  const bounds = stepBounds(classifier, options.bounds, x);
  const ball = linfBall(x, options.eps, bounds);
  let x0: tf.Tensor | undefined;
  try {
    x0 = start(ball);
    return pgdAscent(loss, x0, ball, o);
  } finally {
    tf.dispose([bounds.lo, bounds.hi, ...(x0 ? [x0] : [])]);
  }
}

/**
 * One optimizer step on the classifier's variables. `objective` builds the loss in training mode and names the
 * logits whose batch accuracy is reported. One read-back per step (loss and accuracy together).
 */
export async function optimizerStep(
  optimizer: tf.Optimizer,
  classifier: Classifier,
  labels: tf.Tensor1D,
  objective: () => { loss: tf.Scalar; logits: tf.Tensor },
): Promise<TrainingStepResult> {
  let correct: tf.Scalar | undefined;
  const loss = optimizer.minimize(
    () => {
      const { loss: value, logits } = objective();
      correct = tf.keep(tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')) as tf.Scalar);
      return value;
    },
    true,
    classifier.variables,
  );
  if (loss === null || correct === undefined) throw new Error('the optimizer returned no loss');
  const both = tf.stack([loss, correct]);
  const [value, accuracy] = await both.data();
  tf.dispose([both, loss, correct]);
  return { loss: value ?? Number.NaN, accuracy: accuracy ?? Number.NaN };
}

/** Mean softmax cross-entropy of logits against labels (TF.js's, stable through logSoftmax). */
export function meanCrossEntropy(labels: tf.Tensor1D, logits: tf.Tensor): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, logits.shape[1] ?? 1), logits) as tf.Scalar;
}

/**
 * Natural training: one step of mean softmax cross-entropy on the clean batch, the baseline the adversarial
 * steps are compared with (and `trainAdversarially`'s method 'natural').
 * @param y labels [b] (Int32Array or tensor) or one-hot [b, k].
 * @example
 * const { loss, accuracy } = await naturalTrainingStep(model, optimizer, x, y);
 */
export async function naturalTrainingStep(
  model: ClassifierSource,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  y: tf.Tensor | Int32Array,
): Promise<TrainingStepResult> {
  const classifier = asClassifier(model);
  const labels = labelsOf(y);
  try {
    return await optimizerStep(optimizer, classifier, labels, () => {
      const logits = classifier.logits(x, true);
      return { loss: meanCrossEntropy(labels, logits), logits };
    });
  } finally {
    labels.dispose();
  }
}
