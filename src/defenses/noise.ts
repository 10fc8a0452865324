import { tf } from '../tf.js';
import type { Rng } from '../attacks/core/random.js';
import { defaultsOf, resolveOptions, type OptionSchema } from '../options/schema.js';
import type { Defense, DefenseInfo } from './types.js';

/** Options of {@link randomNoise}. */
export type RandomNoiseOptions = {
  /** Standard deviation of the noise, in input units. Default 0.25. */
  sigma: number;
};

const OPTIONS = { sigma: { type: 'number', min: 0, exclusiveMin: true, default: 0.25, doc: 'noise standard deviation in input units' } } as const satisfies OptionSchema;
const DEFAULTS: RandomNoiseOptions = defaultsOf(OPTIONS);

/**
 * Additive Gaussian noise, a fresh draw per call: x' = x + σ·z, z ~ N(0, I) (Liu, Cheng, Zhang & Hsieh
 * 2018, "Towards Robust Neural Networks via Random Self-ensemble", ECCV, add it at the input and inside the
 * network). Not clipped to the bounds, so the noise stays Gaussian; this is the base classifier's view
 * under randomised smoothing (`certify` in smoothing.ts), whose majority vote turns it into a certificate.
 *
 * Gradient policy: EOT (Athalye, Engstrom, Ilyas & Kwok 2018): each draw is differentiable, and attacks
 * differentiate the mean logits over N draws. The naive view attacks a single draw per step.
 *
 * @example
 *   const defended = compose(model, [randomNoise({ sigma: 0.3 })], { eotSamples: 16 });
 */
export function randomNoise(options: Partial<RandomNoiseOptions> = {}): Defense {
  const { sigma } = resolveOptions(OPTIONS, DEFAULTS, options, { owner: 'noise' });
  return {
    kind: 'noise',
    name: `noise(σ=${sigma})`,
    policy: 'eot',
    check(): void {
      // Any input shape.
    },
    apply(x: tf.Tensor, _context, rng: Rng): tf.Tensor {
      return tf.tidy(() => tf.add(x, tf.mul(rng.normal(x.shape), sigma)));
    },
  };
}

/** Registry entry of {@link randomNoise}. */
export const randomNoiseInfo: DefenseInfo<RandomNoiseOptions> = {
  name: 'noise',
  title: 'Random Gaussian noise',
  paper: 'Liu, Cheng, Zhang & Hsieh 2018, Towards Robust Neural Networks via Random Self-ensemble (ECCV)',
  policy: 'eot',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  create: randomNoise,
};
