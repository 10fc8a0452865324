import { tf } from '../tf.js';
import { blockGradient, reflectPad, requireImage } from './gradients.js';
import { defaultsOf, resolveOptions, type OptionSchema } from '../options/schema.js';
import type { Defense, DefenseContext, DefenseInfo } from './types.js';

/** Options of {@link median}. */
export type MedianOptions = {
  /** Side of the square window, in pixels. Default 2 (Xu et al.'s MNIST squeezer); 3 is the other common choice. */
  size: number;
};

const OPTIONS = { size: { type: 'integer', min: 1, max: 15, default: 2, doc: 'window side in pixels' } } as const satisfies OptionSchema;
const DEFAULTS: MedianOptions = defaultsOf(OPTIONS);

/** The window's offsets from the centre pixel, SciPy's placement: for an even size the window reaches one further up and left. */
function offsets(size: number): number[] {
  const before = Math.floor(size / 2);
  return Array.from({ length: size }, (_, i) => i - before);
}

/**
 * Every k×k neighbourhood of every pixel, stacked on a new last axis: [b, h, w, c, k²]. Borders are
 * mirrored with the edge pixel repeated (SciPy's `mode='reflect'`, what Xu et al. used).
 */
function neighbourhoods(x: tf.Tensor4D, size: number): tf.Tensor {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const off = offsets(size);
    const before = -(off[0] as number);
    const after = off[off.length - 1] as number;
    const padded = reflectPad(x, before, after);
    const shifted: tf.Tensor[] = [];
    for (const dy of off) for (const dx of off) shifted.push(tf.slice(padded, [0, before + dy, before + dx, 0], [-1, h, w, -1]));
    return tf.stack(shifted, 4);
  });
}

/**
 * Median filter over k×k windows, per channel: the "local smoothing" squeezer of Xu, Evans & Qi 2018,
 * "Feature Squeezing: Detecting Adversarial Examples in Deep Neural Networks" (NDSS). For k² even the
 * upper of the two middle values (SciPy's `median_filter`).
 *
 * Gradient policy: BPDA with the identity (Athalye et al. 2018 broke median-filter defences this way).
 * The naive gradient is the subgradient automatic differentiation gives: each output pixel passes its
 * gradient to the one input pixel it selected.
 *
 * @example
 *   const defended = compose(model, [median({ size: 3 })]);
 */
export function median(options: Partial<MedianOptions> = {}): Defense {
  const { size } = resolveOptions(OPTIONS, DEFAULTS, options, { owner: 'median' });
  const rank = size * size - Math.floor((size * size) / 2);
  // Which of the k² candidates is the median, with the tape off: TopK has no gradient in TF.js.
  const pick = blockGradient((stack) => tf.tidy(() => {
    const { indices } = tf.topk(stack, rank);
    const chosen = tf.squeeze(tf.slice(indices, [0, 0, 0, 0, rank - 1], [-1, -1, -1, -1, 1]), [4]);
    return tf.cast(tf.oneHot(chosen, size * size), 'float32');
  }));
  return {
    kind: 'median',
    name: `median(${size})`,
    policy: 'bpda',
    check(context: DefenseContext): void {
      requireImage('median', context, size);
    },
    apply(x: tf.Tensor): tf.Tensor {
      if (size === 1) return tf.clone(x);
      return tf.tidy(() => {
        const stack = neighbourhoods(x as tf.Tensor4D, size);
        return tf.sum(tf.mul(stack, pick(stack)), 4);
      });
    },
  };
}

/** Registry entry of {@link median}. */
export const medianInfo: DefenseInfo<MedianOptions> = {
  name: 'median',
  title: 'Median filter (local smoothing)',
  paper: 'Xu, Evans & Qi 2018, Feature Squeezing: Detecting Adversarial Examples in Deep Neural Networks (NDSS)',
  policy: 'bpda',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  create: median,
};
