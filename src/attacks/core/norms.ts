import { tf } from '../../tf.js';
import type { Rng } from '../../tensor/random.js';
import { L0_TOLERANCE, exactSign, flat, perExample } from '../../tensor/batch.js';

// Shared with the rest of robust through src/tensor; re-exported for the attacks that read them here.
export { L0_TOLERANCE, exactSign, flat, perExample, perturbationNorms, type PerturbationNorms } from '../../tensor/batch.js';

export type NormName = 'linf' | 'l2' | 'l1' | 'l0';
export const NORM_NAMES: readonly NormName[] = ['linf', 'l2', 'l1', 'l0'];

/** A radius: one number for the batch, or a [batch] tensor with one per example. */
export type Radius = number | tf.Tensor1D;

/**
 * A threat model as a value (Foolbox style): how to project onto the eps-ball, which direction a
 * gradient step takes, how to draw a random start, and how to measure a perturbation.
 * All tensors are [batch, ...features]; results have the same shape.
 */
export interface Norm {
  name: NormName;
  /** Project delta onto the ball of radius eps around 0. */
  project(delta: tf.Tensor, eps: Radius): tf.Tensor;
  /** The steepest-ascent direction of unit norm for a gradient (sign for Linf). */
  stepDirection(grad: tf.Tensor): tf.Tensor;
  /** A uniform random point in the eps-ball (for PGD's random start). */
  randomStart(shape: number[], eps: Radius, rng: Rng): tf.Tensor;
  /** Per-example norm, [batch]. */
  distance(delta: tf.Tensor): tf.Tensor1D;
}

const TINY = 1e-12;

/** A radius broadcastable against a [b, ...] tensor of the given rank. */
export function radiusLike(eps: Radius, rank: number): tf.Tensor | number {
  if (typeof eps === 'number') return eps;
  return tf.reshape(eps, [eps.shape[0], ...new Array<number>(rank - 1).fill(1)]);
}

export const linf: Norm = {
  name: 'linf',
  project: (delta, eps) =>
    tf.tidy(() => {
      const r = radiusLike(eps, delta.rank);
      return typeof r === 'number' ? tf.clipByValue(delta, -r, r) : tf.minimum(tf.maximum(delta, tf.neg(r)), r);
    }),
  stepDirection: (grad) => exactSign(grad),
  randomStart: (shape, eps, rng) =>
    tf.tidy(() => tf.mul(rng.uniform(shape, -1, 1), radiusLike(eps, shape.length))),
  distance: (delta) => tf.tidy(() => tf.max(tf.abs(flat(delta)), 1) as tf.Tensor1D),
};

export const l2: Norm = {
  name: 'l2',
  project: (delta, eps) =>
    tf.tidy(() => {
      const n = perExample(l2.distance(delta), delta.rank);
      const factor = tf.minimum(1, tf.div(radiusLike(eps, delta.rank), tf.add(n, TINY)));
      return tf.mul(delta, factor);
    }),
  stepDirection: (grad) =>
    tf.tidy(() => tf.div(grad, tf.add(perExample(l2.distance(grad), grad.rank), TINY))),
  randomStart: (shape, eps, rng) =>
    tf.tidy(() => {
      // Uniform in the ball: a Gaussian direction, radius eps * u^(1/d).
      const d = shape.slice(1).reduce((a, b) => a * b, 1);
      const g = rng.normal(shape);
      const dir = tf.div(g, tf.add(perExample(l2.distance(g), shape.length), TINY));
      const u = tf.pow(rng.uniform([shape[0] ?? 1], 0, 1), 1 / d) as tf.Tensor1D;
      return tf.mul(tf.mul(dir, perExample(u, shape.length)), radiusLike(eps, shape.length));
    }),
  distance: (delta) => tf.tidy(() => tf.sqrt(tf.sum(tf.square(flat(delta)), 1)) as tf.Tensor1D),
};

/**
 * Euclidean projection onto the L1 ball (Duchi et al. 2008, "Efficient Projections onto the l1-Ball"),
 * per example.
 */
function projectL1(delta: tf.Tensor, eps: Radius): tf.Tensor {
  return tf.tidy(() => {
    const v = flat(delta);
    const [b, d] = v.shape;
    const epsCol = typeof eps === 'number' ? tf.fill([b, 1], eps) : tf.reshape(eps, [b, 1]);
    const a = tf.abs(v);
    const u = tf.topk(a, d).values;
    const css = tf.cumsum(u, 1);
    const k = tf.reshape(tf.range(1, d + 1), [1, d]);
    const cond = tf.cast(tf.greater(tf.sub(u, tf.div(tf.sub(css, epsCol), k)), 0), 'float32');
    const rho = tf.maximum(tf.sum(cond, 1, true), 1);
    const pick = tf.oneHot(tf.cast(tf.reshape(tf.sub(rho, 1), [b]), 'int32'), d);
    const theta = tf.div(tf.sub(tf.sum(tf.mul(css, pick), 1, true), epsCol), rho);
    const shrunk = tf.mul(exactSign(v), tf.relu(tf.sub(a, tf.relu(theta))));
    const inside = tf.lessEqual(tf.sum(a, 1, true), epsCol);
    return tf.reshape(tf.where(tf.broadcastTo(inside, [b, d]), v, shrunk), delta.shape);
  });
}

export const l1: Norm = {
  name: 'l1',
  project: projectL1,
  stepDirection: (grad) =>
    tf.tidy(() => {
      // Steepest ascent under L1 moves the largest-magnitude coordinates (sparse step, as in APGD-L1 / SLIDE):
      // keep coordinates at or above the 99th percentile of |g|, with sign, normalised to unit L1 norm.
      const g = flat(grad);
      const [b, d] = g.shape;
      const q = Math.max(1, Math.ceil(0.01 * d));
      const kth = tf.slice(tf.topk(tf.abs(g), q).values, [0, q - 1], [b, 1]);
      const keep = tf.cast(tf.greaterEqual(tf.abs(g), kth), 'float32');
      const s = tf.mul(exactSign(g), keep);
      return tf.reshape(tf.div(s, tf.add(tf.sum(tf.abs(s), 1, true), TINY)), grad.shape);
    }),
  randomStart: (shape, eps, rng) =>
    tf.tidy(() => {
      // Uniform in the L1 ball: Laplace direction normalised to the unit sphere, radius eps * u^(1/d).
      const d = shape.slice(1).reduce((x, y) => x * y, 1);
      const e = tf.neg(tf.log(tf.sub(1, rng.uniform(shape, 0, 1))));
      const sgn = exactSign(rng.uniform(shape, -1, 1));
      const lap = tf.mul(e, sgn);
      const dir = tf.div(lap, tf.add(perExample(l1.distance(lap), shape.length), TINY));
      const u = tf.pow(rng.uniform([shape[0] ?? 1], 0, 1), 1 / d) as tf.Tensor1D;
      return tf.mul(tf.mul(dir, perExample(u, shape.length)), radiusLike(eps, shape.length));
    }),
  distance: (delta) => tf.tidy(() => tf.sum(tf.abs(flat(delta)), 1) as tf.Tensor1D),
};

/**
 * Projection onto the L0 ball: per example keep the ⌊eps⌋ components of largest |δ| and zero the rest
 * (the Euclidean projection onto {‖δ‖₀ ≤ k}). Ties are broken by feature index, so exactly ⌊eps⌋ survive
 * even where many |δ| are equal, as they are on images whose pixels were pushed to a bound. Components
 * within `L0_TOLERANCE` of zero are zeroed too, so every surviving change counts.
 */
function projectL0(delta: tf.Tensor, eps: Radius): tf.Tensor {
  return tf.tidy(() => {
    const v = flat(delta);
    const [b, d] = v.shape;
    const a = tf.abs(v);
    // order[r] is the feature of rank r; sorting the order by feature gives each feature's rank.
    const order = tf.topk(a, d).indices;
    const rank = tf.topk(tf.neg(tf.cast(order, 'float32')), d).indices;
    const k = typeof eps === 'number' ? tf.fill([b, 1], Math.floor(eps)) : tf.reshape(tf.floor(eps), [b, 1]);
    const keep = tf.logicalAnd(tf.less(tf.cast(rank, 'float32'), k), tf.greater(a, L0_TOLERANCE));
    return tf.reshape(tf.where(keep, v, tf.zerosLike(v)), delta.shape);
  });
}

/**
 * L0, the number of features changed. Its ball has no useful steepest-ascent direction of its own, so
 * the step is the L2-normalised gradient, as FMN takes it for every norm (Pintor et al. 2021), and the
 * projection does the sparsifying. A uniform random start would need a magnitude per feature that an
 * L0 radius does not give; no fixed-eps attack declares L0, so none asks for one.
 */
export const l0: Norm = {
  name: 'l0',
  project: projectL0,
  stepDirection: (grad) => l2.stepDirection(grad),
  randomStart: () => {
    throw new Error('l0 has no random start: no fixed-eps attack supports L0');
  },
  distance: (delta) => tf.tidy(() => tf.sum(tf.cast(tf.greater(tf.abs(flat(delta)), L0_TOLERANCE), 'float32'), 1) as tf.Tensor1D),
};

export const NORMS: Record<NormName, Norm> = { linf, l2, l1, l0 };
