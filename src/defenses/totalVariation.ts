import { tf } from '../tf.js';
import { requireImage } from './gradients.js';
import { defaultsOf, resolveOptions, type OptionSchema } from '../options/schema.js';
import type { Defense, DefenseContext, DefenseInfo } from './types.js';

/** Options of {@link totalVariation}. */
export type TotalVariationOptions = {
  /** λ: weight of the total variation against fidelity, in input units. Default 0.1. */
  weight: number;
  /** Iterations of Chambolle's algorithm. Default 20. */
  steps: number;
};

const OPTIONS = {
  weight: { type: 'number', min: 0, exclusiveMin: true, default: 0.1, doc: 'λ, weight of total variation against fidelity' },
  steps: { type: 'integer', min: 1, max: 1000, default: 20, doc: "iterations of Chambolle's algorithm" },
} as const satisfies OptionSchema;
const DEFAULTS: TotalVariationOptions = defaultsOf(OPTIONS);
/** Chambolle's step: τ ≤ 1/8 guarantees convergence. */
const TAU = 1 / 8;

/** Forward differences down and right, zero on the last row/column (Neumann boundary): [b, h, w, c] each. */
function gradient(u: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
  const [, h, w] = u.shape;
  const down = tf.pad(tf.sub(tf.slice(u, [0, 1, 0, 0], [-1, h - 1, -1, -1]), tf.slice(u, [0, 0, 0, 0], [-1, h - 1, -1, -1])), [[0, 0], [0, 1], [0, 0], [0, 0]]);
  const right = tf.pad(tf.sub(tf.slice(u, [0, 0, 1, 0], [-1, -1, w - 1, -1]), tf.slice(u, [0, 0, 0, 0], [-1, -1, w - 1, -1])), [[0, 0], [0, 0], [0, 1], [0, 0]]);
  return [down as tf.Tensor4D, right as tf.Tensor4D];
}

/** The discrete divergence, minus the adjoint of {@link gradient}. */
function divergence(p: tf.Tensor4D, q: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = p.shape;
  const up = tf.pad(tf.slice(p, [0, 0, 0, 0], [-1, h - 1, -1, -1]), [[0, 0], [1, 0], [0, 0], [0, 0]]);
  const left = tf.pad(tf.slice(q, [0, 0, 0, 0], [-1, -1, w - 1, -1]), [[0, 0], [0, 0], [1, 0], [0, 0]]);
  return tf.add(tf.sub(p, up), tf.sub(q, left)) as tf.Tensor4D;
}

/** Isotropic total variation of each image: Σ over pixels and channels of ‖∇u‖₂. For tests and reports. */
export function totalVariationOf(x: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const [d, r] = gradient(x);
    return tf.sum(tf.sqrt(tf.add(tf.square(d), tf.square(r))), [1, 2, 3]);
  });
}

/**
 * Total-variation minimisation (Rudin, Osher & Fatemi 1992), the denoiser of Guo, Rana, Cissé & van der
 * Maaten 2018, "Countering Adversarial Images using Input Transformations" (ICLR), here without their random
 * pixel dropout:
 *
 *   u = argmin ‖u − x‖² / (2λ) + TV(u)
 *
 * solved per channel by `steps` iterations of Chambolle's dual projection algorithm (Chambolle 2004, "An
 * Algorithm for Total Variation Minimization and Applications", JMIV), each a projected gradient step
 * with τ = 1/8, then clipped to the bounds.
 *
 * Gradient policy: exact. The iterations are differentiable tensor ops, so attacks differentiate the
 * unrolled solver. Athalye, Carlini & Wagner 2018 used BPDA with the identity on Guo et al.'s solver; on
 * robust's MNIST CNN the unrolled gradient proved the stronger of the two (PGD-20 at eps 0.2 on 50 digits:
 * 4% robust unrolled, 18% with BPDA).
 *
 * @example
 *   const defended = compose(model, [totalVariation({ weight: 0.05, steps: 30 })]);
 */
export function totalVariation(options: Partial<TotalVariationOptions> = {}): Defense {
  const { weight, steps } = resolveOptions(OPTIONS, DEFAULTS, options, { owner: 'tv' });
  return {
    kind: 'tv',
    name: `tv(λ=${weight}, ${steps} steps)`,
    policy: 'exact',
    check(context: DefenseContext): void {
      requireImage('tv', context, 2);
    },
    apply(x: tf.Tensor, context: DefenseContext): tf.Tensor {
      return tf.tidy(() => {
        const f = x as tf.Tensor4D;
        let p = tf.zerosLike(f);
        let q = tf.zerosLike(f);
        for (let t = 0; t < steps; t++) {
          const [gp, gq] = gradient(tf.sub(divergence(p, q), tf.div(f, weight)) as tf.Tensor4D);
          // The tiny constant keeps the naive gradient finite where ∇ = 0 (sqrt'(0) is infinite).
          const scale = tf.add(1, tf.mul(TAU, tf.sqrt(tf.add(tf.add(tf.square(gp), tf.square(gq)), 1e-12))));
          p = tf.div(tf.add(p, tf.mul(TAU, gp)), scale);
          q = tf.div(tf.add(q, tf.mul(TAU, gq)), scale);
        }
        const u = tf.sub(f, tf.mul(weight, divergence(p, q)));
        return tf.minimum(tf.maximum(u, context.lo), context.hi);
      });
    },
  };
}

/** Registry entry of {@link totalVariation}. */
export const totalVariationInfo: DefenseInfo<TotalVariationOptions> = {
  name: 'tv',
  title: 'Total-variation minimisation',
  paper: 'Guo, Rana, Cissé & van der Maaten 2018, Countering Adversarial Images using Input Transformations (ICLR); Chambolle 2004',
  policy: 'exact',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  create: totalVariation,
};
