import { tf } from '../tf.js';
import { UsageError } from '../errors.js';
import { reflectPad, requireImage } from './gradients.js';
import { defaultsOf, resolveOptions, type OptionSchema } from '../options/schema.js';
import type { Defense, DefenseContext, DefenseInfo } from './types.js';

/** Options of {@link gaussianBlur}. */
export type GaussianBlurOptions = {
  /** Standard deviation of the kernel, in pixels. Default 1. */
  sigma: number;
  /** Side of the (odd) square kernel. Default 5. */
  size: number;
};

const OPTIONS = {
  sigma: { type: 'number', min: 0, exclusiveMin: true, default: 1, doc: 'kernel standard deviation in pixels' },
  size: { type: 'integer', min: 1, max: 31, default: 5, doc: 'odd kernel side' },
} as const satisfies OptionSchema;
const DEFAULTS: GaussianBlurOptions = defaultsOf(OPTIONS);

/** The normalised 2-D Gaussian kernel, k×k, as the outer product of two 1-D ones (sum 1, symmetric). */
export function gaussianKernel(sigma: number, size: number): Float32Array {
  const r = (size - 1) / 2;
  const g = Array.from({ length: size }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const total = g.reduce((a, b) => a + b, 0);
  const out = new Float32Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) out[i * size + j] = ((g[i] as number) * (g[j] as number)) / (total * total);
  return out;
}

/**
 * Gaussian blur, per channel, with mirrored borders (edge pixel repeated), a classic denoising
 * preprocessor (e.g. Li & Li 2017, "Adversarial Examples Detection in Deep Networks with Convolutional
 * Filter Statistics", ICCV, who blur with a 3×3 average filter). A depthwise convolution: linear, and
 * within the bounds since its weights are positive and sum to 1.
 *
 * Gradient policy: exact. Blurring is differentiable, so attacks differentiate it as it is, and the naive
 * and adaptive evaluations agree.
 *
 * @example
 *   const defended = compose(model, [gaussianBlur({ sigma: 0.8, size: 3 })]);
 */
export function gaussianBlur(options: Partial<GaussianBlurOptions> = {}): Defense {
  const { sigma, size } = resolveOptions(OPTIONS, DEFAULTS, options, { owner: 'gaussian-blur' });
  if (size % 2 === 0) throw new UsageError(`gaussian-blur: size must be odd so the kernel has a centre, got ${size}; try ${size + 1}`);
  const weights = gaussianKernel(sigma, size);
  const half = (size - 1) / 2;
  return {
    kind: 'gaussian-blur',
    name: `gaussian-blur(σ=${sigma}, ${size}×${size})`,
    policy: 'exact',
    check(context: DefenseContext): void {
      requireImage('gaussian-blur', context, half + 1);
    },
    apply(x: tf.Tensor): tf.Tensor {
      return tf.tidy(() => {
        const c = x.shape[3] as number;
        const kernel = tf.tile(tf.tensor4d(weights, [size, size, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
        const padded = reflectPad(x as tf.Tensor4D, half, half);
        return tf.depthwiseConv2d(padded, kernel, 1, 'valid');
      });
    },
  };
}

/** Registry entry of {@link gaussianBlur}. */
export const gaussianBlurInfo: DefenseInfo<GaussianBlurOptions> = {
  name: 'gaussian-blur',
  title: 'Gaussian blur',
  paper: 'Li & Li 2017, Adversarial Examples Detection in Deep Networks with Convolutional Filter Statistics (ICCV)',
  policy: 'exact',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  create: gaussianBlur,
};
