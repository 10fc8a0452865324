import { tf } from '../../tf.js';

/**
 * The smallest δ (in L2 or Linf) with w·δ = c inside a box lo ≤ δ ≤ hi that contains 0, per row:
 * FAB's projection onto a linearised decision boundary intersected with the input domain
 * (Croce & Hein 2020, "Minimally distorted adversarial examples with a fast adaptive boundary attack").
 *
 * By the KKT conditions the solution is δ(μ) = clip(μ·u, lo, hi) with u = sign(c)·w (L2) or
 * sign(c)·sign(w) (Linf), at the μ ≥ 0 where sign(c)·w·δ(μ) reaches |c|. That function of μ is piecewise
 * linear and increasing, with a kink where each coordinate reaches its bound (μ_j = bound_j / u_j), so
 * sorting the kinks and summing along them gives the piece that holds |c| and μ exactly, with no
 * iteration and no device sync. Where the box cannot reach the hyperplane, δ goes as far towards it as
 * the box allows.
 *
 * Shapes: w, lo, hi [m, d]; c [m]. Returns δ [m, d].
 */
export function projectOnHyperplane(w: tf.Tensor2D, c: tf.Tensor1D, lo: tf.Tensor2D, hi: tf.Tensor2D, norm: 'l2' | 'linf'): tf.Tensor2D {
  return tf.tidy(() => {
    const d = w.shape[1];
    const sign = tf.reshape(tf.sub(tf.cast(tf.greaterEqual(c, 0), 'float32'), tf.cast(tf.less(c, 0), 'float32')), [-1, 1]);
    const dir = norm === 'l2' ? w : tf.sub(tf.cast(tf.greater(w, 0), 'float32'), tf.cast(tf.less(w, 0), 'float32'));
    const u = tf.mul(sign, dir);
    const a = tf.mul(sign, w);
    const target = tf.reshape(tf.abs(c), [-1, 1]);
    const bound = tf.where(tf.greater(u, 0), hi, tf.where(tf.less(u, 0), lo, tf.zerosLike(lo)));
    const moving = tf.notEqual(u, 0);
    const kink = tf.where(moving, tf.div(bound, tf.where(moving, u, tf.onesLike(u))), tf.fill(u.shape, 1e30));
    // Sort the kinks; before kink i the coordinates sorted below i sit at their bounds, the rest move with μ.
    const order = tf.topk(tf.neg(kink), d).indices;
    const kinks = tf.gather(kink, order, 1, 1);
    const sat = tf.gather(tf.mul(a, bound), order, 1, 1);
    const slope = tf.gather(tf.mul(a, u), order, 1, 1);
    const satBefore = tf.cumsum(sat, 1, true);
    const slopeLeft = tf.sub(tf.sum(slope, 1, true), tf.cumsum(slope, 1, true));
    const reached = tf.greaterEqual(tf.add(satBefore, tf.mul(kinks, slopeLeft)), target);
    // The first kink at which |c| is reached closes the piece that holds it; none: the box falls short.
    const piece = tf.oneHot(tf.argMax(tf.cast(reached, 'int32'), 1), d);
    const feasible = tf.any(reached, 1, true);
    const mu = tf.div(tf.sub(target, tf.sum(tf.mul(piece, satBefore), 1, true)), tf.add(tf.sum(tf.mul(piece, slopeLeft), 1, true), 1e-30));
    return tf.minimum(tf.maximum(tf.mul(tf.where(feasible, mu, tf.fill(mu.shape, 1e30)), u), lo), hi) as tf.Tensor2D;
  });
}
