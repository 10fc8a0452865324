import { tf } from '../../tf.js';

/**
 * Per-example losses over logits [b, k] and integer labels [b]. Each is written so that an attack
 * ASCENDS it: larger means closer to (or further past) the decision boundary in the attacker's favour.
 */

/** Cross-entropy of the true class (untargeted ascent), [b]. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    return tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
  });
}

/** Largest logit among classes other than `labels`, [b]. */
export function maxOther(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    // Push the labelled class far below every other so max() ignores it, without NaN from -Inf * 0.
    return tf.max(tf.sub(logits, tf.mul(onehot, 1e9)), 1) as tf.Tensor1D;
  });
}

/** Logit of `labels`, [b]. */
export function pick(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]), logits), 1) as tf.Tensor1D);
}

/**
 * Carlini-Wagner margin, untargeted: max_{j≠y} z_j − z_y (positive once adversarial), [b].
 * Targeted (labels = targets): z_t − max_{j≠t} z_j.
 */
export function margin(logits: tf.Tensor2D, labels: tf.Tensor1D, targeted = false): tf.Tensor1D {
  return tf.tidy(() => {
    const diff = tf.sub(maxOther(logits, labels), pick(logits, labels));
    return (targeted ? tf.neg(diff) : diff) as tf.Tensor1D;
  });
}

/**
 * Difference of Logits Ratio (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an
 * ensemble of diverse parameter-free attacks"), as an ascent objective.
 * Untargeted: −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3). Targeted: −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2).
 * Needs at least 3 classes (4 when targeted).
 */
export function dlr(logits: tf.Tensor2D, labels: tf.Tensor1D, targets?: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const sorted = tf.topk(logits, Math.min(k, 4)).values;
    const col = (i: number) => tf.reshape(tf.slice(sorted, [0, i], [-1, 1]), [-1]);
    const zy = pick(logits, labels);
    if (!targets) {
      const num = tf.sub(zy, maxOther(logits, labels));
      const den = tf.add(tf.sub(col(0), col(2)), 1e-12);
      return tf.neg(tf.div(num, den)) as tf.Tensor1D;
    }
    const num = tf.sub(zy, pick(logits, targets));
    const den = tf.add(tf.sub(col(0), tf.div(tf.add(col(2), col(3)), 2)), 1e-12);
    return tf.neg(tf.div(num, den)) as tf.Tensor1D;
  });
}
