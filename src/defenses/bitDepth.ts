import { tf } from '../tf.js';
import { defaultsOf, resolveOptions, type OptionSchema } from '../options/schema.js';
import type { Defense, DefenseContext, DefenseInfo } from './types.js';

/** Options of {@link bitDepth}. */
export type BitDepthOptions = {
  /** Bits kept per feature, 1 to 8: 2^bits levels across the bounds. Default 1 (binarisation, Xu et al.'s MNIST squeezer). */
  bits: number;
};

const OPTIONS = { bits: { type: 'integer', min: 1, max: 8, default: 1, doc: 'bits per feature' } } as const satisfies OptionSchema;
const DEFAULTS: BitDepthOptions = defaultsOf(OPTIONS);

/**
 * Bit-depth reduction, the first squeezer of Xu, Evans & Qi 2018, "Feature Squeezing: Detecting
 * Adversarial Examples in Deep Neural Networks" (NDSS): each feature is rescaled from the model's bounds
 * to [0, 1], rounded to one of 2^bits evenly spaced levels, and mapped back:
 *
 *   x' = lo + round((x − lo)/(hi − lo) · L) / L · (hi − lo),   L = 2^bits − 1
 *
 * Ties round to even (TF.js's `round`, as NumPy's `rint` that Xu et al. used).
 *
 * Gradient policy: BPDA with the identity (Athalye, Carlini & Wagner 2018). The naive gradient is zero
 * everywhere (a staircase is flat almost everywhere), the textbook case of gradient masking.
 *
 * @example
 *   const defended = compose(model, [bitDepth({ bits: 4 })]);
 */
export function bitDepth(options: Partial<BitDepthOptions> = {}): Defense {
  const { bits } = resolveOptions(OPTIONS, DEFAULTS, options, { owner: 'bit-depth' });
  const levels = 2 ** bits - 1;
  return {
    kind: 'bit-depth',
    name: `bit-depth(${bits})`,
    policy: 'bpda',
    check(): void {
      // Any input shape: the squeezer works feature by feature.
    },
    apply(x: tf.Tensor, context: DefenseContext): tf.Tensor {
      return tf.tidy(() => {
        const span = tf.sub(context.hi, context.lo);
        const unit = tf.clipByValue(tf.div(tf.sub(x, context.lo), span), 0, 1);
        return tf.add(context.lo, tf.mul(tf.div(tf.round(tf.mul(unit, levels)), levels), span));
      });
    },
  };
}

/** Registry entry of {@link bitDepth}. */
export const bitDepthInfo: DefenseInfo<BitDepthOptions> = {
  name: 'bit-depth',
  title: 'Bit-depth reduction (feature squeezing)',
  paper: 'Xu, Evans & Qi 2018, Feature Squeezing: Detecting Adversarial Examples in Deep Neural Networks (NDSS)',
  policy: 'bpda',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  create: bitDepth,
};
