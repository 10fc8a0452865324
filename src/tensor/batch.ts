import { tf } from '../tf.js';

/** Shapes and per-example reductions of batches [b, ...]: what attacks, defences and trainers share. */

/** [b, d] view of a [b, ...] tensor. */
export function flat(t: tf.Tensor): tf.Tensor2D {
  return tf.reshape(t, [t.shape[0] ?? 1, -1]) as tf.Tensor2D;
}

/** Per-example value [b] reshaped to broadcast over a [b, ...] tensor. */
export function perExample(v: tf.Tensor1D, rank: number): tf.Tensor {
  return tf.reshape(v, [v.shape[0], ...new Array<number>(rank - 1).fill(1)]);
}

/**
 * sign(t) from two exact comparisons. tfjs-backend-wasm 4.22's Sign kernel returns 0 for |t| below
 * about 1e-7, and the input gradients of a confident model are often that small (1e-14 per pixel on
 * the reference MNIST CNN), so sign-based steps (FGSM, PGD-Linf) would silently stall on wasm.
 */
export function exactSign(t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.cast(tf.greater(t, 0), t.dtype), tf.cast(tf.less(t, 0), t.dtype)));
}

/** Per-example perturbation sizes, in input space. */
export interface PerturbationNorms {
  linf: Float32Array;
  l2: Float32Array;
  l0: Float32Array;
}

/**
 * Magnitude below which a change of a feature does not count under L0: float32 rounding of x + δ − x
 * (an ulp of 1 is 1.2e-7). Shared by the reported L0 and the `l0` norm, so an attack's own L0 and the
 * reported one agree.
 */
export const L0_TOLERANCE = 1e-7;

/** Per-example Linf, L2 and L0 (count of changed features, |delta| > `L0_TOLERANCE`) of xAdv - x. */
export async function perturbationNorms(x: tf.Tensor, xAdv: tf.Tensor): Promise<PerturbationNorms> {
  const [li, l2n, l0] = tf.tidy(() => {
    const d = flat(tf.sub(xAdv, x));
    const a = tf.abs(d);
    return [tf.max(a, 1), tf.sqrt(tf.sum(tf.square(d), 1)), tf.sum(tf.cast(tf.greater(a, L0_TOLERANCE), 'float32'), 1)];
  });
  const out = {
    linf: (await li.data()) as Float32Array,
    l2: (await l2n.data()) as Float32Array,
    l0: (await l0.data()) as Float32Array,
  };
  tf.dispose([li, l2n, l0]);
  return out;
}
