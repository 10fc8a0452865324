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
