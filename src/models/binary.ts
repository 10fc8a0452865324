/**
 * Single-output (binary) classifiers as two-class models. A model with one output unit scores one class
 * against the other: its output is either a probability p = sigmoid(z) or the logit z itself. Attacks,
 * accuracy and reports want one score per class, so robust presents it as the logits [0, z]: softmax of
 * [0, z] is [1 − sigmoid(z), sigmoid(z)], class 1 wins exactly when z > 0 (p > 0.5), and the CW margin
 * of [0, z] is |z|, so every multi-class loss means what it should.
 *
 * The pre-sigmoid z is best taken from the model itself (each format's loader strips a final sigmoid as
 * it strips a final softmax): recovering z = log(p) − log(1 − p) from a float32 p saturates once |z|
 * passes about 16, and gradients through a saturated sigmoid vanish, which makes a model look robust
 * when it is not. The conversion from p is the fallback for models whose sigmoid cannot be found.
 *
 * Format loaders (Layers, Graph, ONNX) share this module: {@link asBinaryClassifier} is the one place a
 * single score becomes two logits.
 */
import { tf } from '../tf.js';
import { UsageError } from '../errors.js';

/** What a single output unit holds: a probability of class 1 (`sigmoid`) or the logit of class 1 (`logit`). */
export type BinaryOutput = 'sigmoid' | 'logit';

/**
 * How to read a model's output; `auto` (default) guesses from the model's structure.
 * - `auto`: one output unit is a binary classifier (a final sigmoid is stripped, otherwise the unit is
 *   taken as a logit); two or more are class scores (a final softmax is stripped when exact).
 * - `sigmoid`: one output unit holding p = P(class 1); the sigmoid is stripped when it can be found,
 *   otherwise z = log(p) − log(1 − p).
 * - `logit`: one output unit holding the logit z of class 1, used as it is.
 * - `softmax`: two or more outputs holding probabilities; a final softmax is stripped when exact,
 *   otherwise the logits are log(p) (equal to the true logits up to a per-example constant, which no
 *   prediction or loss robust uses depends on).
 * - `logits`: two or more outputs holding logits, used as they are.
 */
export type OutputMode = 'auto' | BinaryOutput | 'softmax' | 'logits';

/** Every {@link OutputMode}, for option checks and CLI choices. */
export const OUTPUT_MODES: readonly OutputMode[] = ['auto', 'sigmoid', 'logit', 'softmax', 'logits'];

/** Options of {@link asBinaryClassifier}. */
export interface BinaryClassifierOptions {
  /** What the single output holds. */
  output: BinaryOutput;
}

/**
 * The smallest probability distance from 0 and 1 kept before taking log(p / (1 − p)): about float32's
 * resolution near 1, so the recovered logit stays finite (|z| ≤ 16.6) and its gradient defined.
 */
export const PROBABILITY_CLIP = 1e-7;

/** z = log(p) − log(1 − p), with p kept in [PROBABILITY_CLIP, 1 − PROBABILITY_CLIP]. Call inside `tf.tidy`. */
export function logitOfProbability(p: tf.Tensor): tf.Tensor {
  const q = tf.clipByValue(p, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP);
  return tf.sub(tf.log(q), tf.log1p(tf.neg(q)));
}

/**
 * Turn a single-score classifier into a two-class logits function: for each example, the logits
 * [0, z], where z is the model's output (`logit`) or the logit of its probability (`sigmoid`).
 *
 * `forward` may return [batch] or [batch, 1]; anything else is a UsageError. The result is
 * differentiable whenever `forward` is, and runs inside `tf.tidy`.
 *
 * @example
 * // a logistic-regression function returning sigmoid(x·w + b), shape [batch, 1]
 * const logits = asBinaryClassifier((x) => tf.sigmoid(tf.add(tf.matMul(x, w), b)), { output: 'sigmoid' });
 * logits(x); // [batch, 2]: [0, x·w + b] up to float rounding
 */
export function asBinaryClassifier(forward: (x: tf.Tensor) => tf.Tensor, options: BinaryClassifierOptions): (x: tf.Tensor) => tf.Tensor2D {
  const { output } = options;
  if (output !== 'sigmoid' && output !== 'logit') throw new UsageError(`a binary classifier's output is sigmoid or logit, got ${String(output)}`);
  return (x) =>
    tf.tidy(() => {
      const out = forward(x);
      const batch = out.shape[0] ?? 0;
      if (!(out.rank === 1 || (out.rank === 2 && out.shape[1] === 1))) {
        throw new UsageError(`a binary classifier returns one score per example ([batch] or [batch, 1]), got [${out.shape.join(', ')}]`);
      }
      const score = tf.reshape(out, [batch, 1]);
      const z = output === 'sigmoid' ? logitOfProbability(score) : score;
      return tf.concat([tf.zerosLike(z), z], 1) as tf.Tensor2D;
    });
}

/** Whether `mode` applies to a model with `width` outputs; a UsageError saying why not otherwise. */
export function checkOutputMode(mode: OutputMode, width: number, where: string): void {
  if (!OUTPUT_MODES.includes(mode)) throw new UsageError(`output must be one of ${OUTPUT_MODES.join(', ')}, got ${String(mode)}`);
  if ((mode === 'sigmoid' || mode === 'logit') && width !== 1) {
    throw new UsageError(`output: ${mode} is for a model with one output unit, but ${where} returns ${width} scores per example; use output: auto, softmax or logits`);
  }
  if ((mode === 'softmax' || mode === 'logits') && width < 2) {
    throw new UsageError(`output: ${mode} is for a model with two or more outputs, but ${where} returns ${width}; use output: sigmoid or logit for a single-output binary classifier`);
  }
}
