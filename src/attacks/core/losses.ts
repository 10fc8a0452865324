import { tf } from '../../tf.js';

/**
 * Per-example losses over logits [b, k] and integer labels [b]. Each is written so that an attack
 * ASCENDS it: larger means closer to (or further past) the decision boundary in the attacker's favour.
 */

/**
 * Cross-entropy with a value and gradient that stay exact when the model is very confident.
 *
 * The textbook forms lose everything once softmax_y rounds to 1 in float32 (a logit margin above ~17,
 * common on a well-trained MNIST CNN): −log softmax_y becomes 0, and its gradient's y-entry
 * softmax_y − 1 becomes 0, so the gradient keeps only Σ_o p_o ∇z_o and loses the −(Σ_o p_o) ∇z_y
 * half. PGD then pushes the runner-up up without pushing the true class down, and stalls (16% of
 * digits survived PGD-40 at eps 0.3 that way). Here
 *   value = (m − z_y) + log1p(Σ_{j≠argmax} exp(z_j − m)),   m = max_j z_j
 *   ∂/∂z_o = p_o (o ≠ y),   ∂/∂z_y = −Σ_{o≠y} p_o
 * are both computed from the small terms directly.
 */
const stableCrossEntropy = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [logits, onehot, save] = inputs as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  const k = logits.shape[1];
  const m = tf.max(logits, 1, true);
  const shifted = tf.exp(tf.sub(logits, m));
  const notTop = tf.sub(1, tf.oneHot(tf.argMax(logits, 1), k));
  const rest = tf.sum(tf.mul(shifted, notTop), 1);
  const zy = tf.sum(tf.mul(onehot, logits), 1);
  // log1p by its series below 1e-3: tfjs-backend-wasm 4.22 computes Log1p as log(1 + x), which is 0 for x < 6e-8.
  const series = tf.mul(rest, tf.add(tf.sub(1, tf.div(rest, 2)), tf.div(tf.square(rest), 3)));
  const log1p = tf.where(tf.less(rest, 1e-3), series, tf.log(tf.add(1, rest)));
  const value = tf.add(tf.sub(tf.reshape(m, [-1]), zy), log1p) as tf.Tensor1D;
  save([logits, onehot]);
  return {
    value,
    gradFunc: (dy: tf.Tensor1D, saved: tf.Tensor[]) => {
      const [z, oh] = saved as [tf.Tensor2D, tf.Tensor2D];
      const others = tf.mul(tf.softmax(z), tf.sub(1, oh));
      const g = tf.sub(others, tf.mul(oh, tf.sum(others, 1, true)));
      return [tf.mul(g, tf.expandDims(dy, 1)), tf.zerosLike(oh)];
    },
  };
});

/** Cross-entropy of the true class (untargeted ascent), [b]. Exact even for very confident models (see above). */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => stableCrossEntropy(logits, tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1])));
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
 * The m largest logits per row, [b, m], with a gradient. TF.js registers none for TopK (so a plain
 * `tf.topk` cannot be differentiated); here each value's gradient flows back to the logit it came from.
 */
function topLogits(z: tf.Tensor2D, m: number): tf.Tensor2D {
  const k = z.shape[1];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[1] as tf.GradSaveFunc;
    const { values, indices } = tf.topk(args[0] as tf.Tensor2D, m);
    save([indices]);
    return {
      value: values,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.sum(tf.mul(tf.expandDims(dy, 2), tf.oneHot(saved[0] as tf.Tensor2D, k, 1, 0, 'float32')), 1),
    };
  });
  return op(z) as tf.Tensor2D;
}

/**
 * Difference of Logits Ratio (Croce & Hein 2020), as an ascent objective: untargeted
 * −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3), targeted −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2).
 */
export function dlr(z: tf.Tensor2D, y: tf.Tensor1D, t?: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const top = topLogits(z, t ? 4 : 3);
    const col = (i: number) => tf.reshape(tf.slice(top, [0, i], [-1, 1]), [-1]);
    const zy = pick(z, y);
    if (!t) return tf.neg(tf.div(tf.sub(zy, maxOther(z, y)), tf.add(tf.sub(col(0), col(2)), 1e-12))) as tf.Tensor1D;
    const den = tf.add(tf.sub(col(0), tf.mul(tf.add(col(2), col(3)), 0.5)), 1e-12);
    return tf.neg(tf.div(tf.sub(zy, pick(z, t)), den)) as tf.Tensor1D;
  });
}
