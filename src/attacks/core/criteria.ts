import { tf } from '../../tf.js';
import { InputError } from '../../errors.js';
import type { Rng } from '../../tensor/random.js';
import { margin } from './losses.js';
import type { Targeting } from './types.js';

/**
 * Resolve a targeting spec into per-example target labels (or null when untargeted).
 * `random` draws a class other than the true one from the seeded stream; `least-likely` takes the argmin
 * of the clean logits.
 */
export async function resolveTargets(
  logits: tf.Tensor2D,
  y: Int32Array,
  targeting: Targeting | undefined,
  rng: Rng,
): Promise<Int32Array | null> {
  const t = targeting ?? { kind: 'untargeted' };
  const k = logits.shape[1];
  switch (t.kind) {
    case 'untargeted':
      return null;
    case 'labels':
      if (t.labels.length !== y.length) throw new InputError(`targets: got ${t.labels.length} target labels for ${y.length} examples`);
      return t.labels;
    case 'random': {
      const draws = rng.ints(y.length, k - 1);
      return Int32Array.from(draws, (r, i) => (r >= (y[i] ?? 0) ? r + 1 : r));
    }
    case 'least-likely': {
      const am = tf.argMin(logits, 1);
      const out = Int32Array.from(await am.data());
      am.dispose();
      return out;
    }
  }
}

/** 1 where the prediction meets the criterion: argmax ≠ y (untargeted) or argmax = target (targeted). [b] bool. */
export function adversarialMask(logits: tf.Tensor2D, y: tf.Tensor1D, targets: tf.Tensor1D | null): tf.Tensor1D {
  return tf.tidy(() => {
    const pred = tf.argMax(logits, 1);
    return (targets ? tf.equal(pred, tf.cast(targets, 'int32')) : tf.notEqual(pred, tf.cast(y, 'int32'))) as tf.Tensor1D;
  });
}

/**
 * Margin, relative to the row's largest |logit| (at least 1), that an adversarial point must clear before an
 * attack stops on it or keeps it as its smallest: far above float rounding, far below any size that matters.
 * The final check evaluates a result again through `predict`, another code path than the gradient's forward
 * pass, and rounding flipped points kept at a margin of 1e-6 (FMN on MNIST digit 141, DeepFool Linf on 13).
 */
export const MARGIN_SLACK = 1e-5;

/** Per row, whether the criterion's margin (`labels`: true labels, or targets when targeted) clears `MARGIN_SLACK`. */
export function clearMargin(logits: tf.Tensor2D, labels: tf.Tensor1D, targeted: boolean): tf.Tensor {
  return tf.tidy(() => tf.greater(margin(logits, labels, targeted), tf.mul(tf.maximum(tf.max(tf.abs(logits), 1), 1), MARGIN_SLACK)));
}
