import { tf } from '../tf.js';
import { InputError } from '../errors.js';

/**
 * Input bounds. A number applies to every feature; an array gives one value per feature
 * (flattened in the model's input layout, length = product of `inputShape`).
 */
export interface Bounds {
  min: number | number[];
  max: number | number[];
}

/** Bounds as tensors broadcastable against a [b, ...shape] batch (scalars stay scalars). */
export interface BoundTensors {
  lo: tf.Tensor;
  hi: tf.Tensor;
}

function side(v: number | number[], shape: number[], what: string): tf.Tensor {
  if (typeof v === 'number') return tf.scalar(v);
  const size = shape.reduce((a, b) => a * b, 1);
  if (v.length !== size) throw new InputError(`bounds.${what}: expected ${size} per-feature values (one per input feature), got ${v.length}`);
  return tf.tensor(v, [1, ...shape]);
}

/** Make bound tensors for one example shape. The caller disposes them. */
export function boundTensors(bounds: Bounds, shape: number[]): BoundTensors {
  return { lo: side(bounds.min, shape, 'min'), hi: side(bounds.max, shape, 'max') };
}

/** Clip x into [lo, hi]. */
export function clip(x: tf.Tensor, b: BoundTensors): tf.Tensor {
  return tf.tidy(() => tf.minimum(tf.maximum(x, b.lo), b.hi));
}

/**
 * Keep only the changes a mask allows: xAdv where mask > 0, x elsewhere.
 * A select rather than x + mask·(xAdv − x), so masked features stay bit-for-bit equal to x and free
 * features bit-for-bit equal to xAdv (the arithmetic form can round a clipped value past a bound).
 */
export function applyMask(x: tf.Tensor, xAdv: tf.Tensor, mask: tf.Tensor | null): tf.Tensor {
  if (!mask) return tf.clone(xAdv);
  return tf.tidy(() => tf.where(tf.greater(mask, 0), xAdv, x));
}

/** Mean of hi − lo over the features of one example of shape `shape`: the unit of scale-free radii and steps (1 for [0, 1] images). */
export async function meanRange(b: BoundTensors, shape: number[]): Promise<number> {
  const t = tf.tidy(() => tf.mean(tf.mul(tf.sub(b.hi, b.lo), tf.ones([1, ...shape]))));
  const v = (await t.data())[0] as number;
  t.dispose();
  return v;
}

/**
 * `grad` with the components that point out of the box zeroed: those of features at their lower bound
 * with a negative component, and at their upper bound with a positive one (an ascent step along `grad`
 * cannot move them). A step or a linearised distance from what is left spends nothing on clipped moves.
 */
export function inwardGradient(grad: tf.Tensor, x: tf.Tensor, b: BoundTensors): tf.Tensor {
  return tf.tidy(() => {
    const blocked = tf.logicalOr(tf.logicalAnd(tf.lessEqual(x, b.lo), tf.less(grad, 0)), tf.logicalAnd(tf.greaterEqual(x, b.hi), tf.greater(grad, 0)));
    return tf.where(blocked, tf.zerosLike(grad), grad);
  });
}
