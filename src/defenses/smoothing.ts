/**
 * Randomised smoothing (Cohen, Rosenfeld & Kolter 2019, "Certified Adversarial Robustness via Randomized
 * Smoothing", ICML). The smoothed classifier g(x) = argmax_c P(f(x + σz) = c), z ~ N(0, I), is constant
 * within an L2 ball of radius σ·Φ⁻¹(p_A) around x, where p_A is the top class's probability (their Theorem 1
 * with p_B = 1 − p_A). CERTIFY (their Algorithm, §3.2) bounds p_A from below with a Clopper-Pearson bound on
 * Monte Carlo counts, so the radius holds with probability at least 1 − α.
 */
import { tf } from '../tf.js';
import { UsageError } from '../errors.js';
import { defaultsOf, resolveOptions, type OptionSchema } from '../options/schema.js';
import { makeRng } from '../attacks/core/random.js';
import { clopperPearsonInterval, normalQuantile } from '../metrics/confidence.js';
import type { Model } from '../models/types.js';

/** Options of {@link certify}. */
export interface CertifyOptions {
  /** σ, the noise standard deviation in input units. Required. */
  sigma: number;
  /** Noise draws that select the top class. Default 100 (Cohen et al.). */
  n0?: number;
  /** Noise draws that estimate its probability. Default 100,000 (Cohen et al.); fewer give smaller radii. */
  n?: number;
  /** Failure probability of each certificate. Default 0.001 (Cohen et al.). */
  alpha?: number;
  /** Noisy copies per forward pass. Default 1,000. */
  batchSize?: number;
  /** Seed of the noise. Default 0. */
  seed?: string | number;
  /** Stable ids of the examples, keying their noise (as attacks' `exampleIds`). Default 0..b−1. */
  exampleIds?: ArrayLike<number>;
}

/** The certificate of one example. */
export interface Certificate {
  /** The smoothed classifier's class, or −1 when it abstains (p_A's lower bound is below 1/2). */
  prediction: number;
  /** Certified L2 radius σ·Φ⁻¹(pALower); 0 when abstaining. */
  radius: number;
  /** One-sided (1 − α) Clopper-Pearson lower bound on p_A. */
  pALower: number;
  /** Draws (of n) that the base classifier gave the predicted class. */
  count: number;
}

/** The checkable options of {@link certify}, with Cohen et al.'s defaults. */
const OPTIONS = {
  sigma: { type: 'number', min: 0, exclusiveMin: true, doc: 'noise standard deviation in input units' },
  n0: { type: 'integer', min: 1, default: 100, doc: 'noise draws that select the top class' },
  n: { type: 'integer', min: 1, default: 100_000, doc: 'noise draws that estimate its probability' },
  alpha: { type: 'number', min: 0, max: 0.5, exclusiveMin: true, exclusiveMax: true, default: 0.001, doc: 'failure probability of each certificate' },
  batchSize: { type: 'integer', min: 1, default: 1000, doc: 'noisy copies per forward pass' },
} as const satisfies OptionSchema;

/** Class counts of the base classifier over `draws` noisy copies of one example [1, ...shape]. */
async function sampleCounts(model: Model, x: tf.Tensor, draws: number, sigma: number, batchSize: number, seed: string): Promise<Int32Array> {
  const counts = new Int32Array(model.numClasses);
  const rng = makeRng(seed);
  for (let done = 0; done < draws; done += batchSize) {
    const m = Math.min(batchSize, draws - done);
    const labels = tf.tidy(() => {
      const noisy = tf.add(x, tf.mul(rng.normal([m, ...model.inputShape]), sigma));
      return tf.argMax(model.predict(noisy), 1);
    });
    for (const c of (await labels.data()) as Int32Array) counts[c] = (counts[c] as number) + 1;
    labels.dispose();
  }
  return counts;
}

function argMax(counts: Int32Array): number {
  let best = 0;
  counts.forEach((c, i) => {
    if (c > (counts[best] as number)) best = i;
  });
  return best;
}

/**
 * CERTIFY of Cohen et al. for every row of `x` [b, ...model.inputShape] (the caller keeps `x`):
 * 1. draw n0 noisy copies and take the class ĉ_A the base model predicts most often;
 * 2. draw n fresh copies and count k, how often it predicts ĉ_A;
 * 3. p_A ≥ pALower, the one-sided (1 − α) Clopper-Pearson lower bound on k/n (the lower end of the
 *    two-sided interval at level 1 − 2α); if pALower < 1/2 abstain, else certify radius σ·Φ⁻¹(pALower).
 * Noise is drawn in JavaScript from a seeded stream per example, so results repeat on every backend.
 * @example
 *   const certs = await certify(model, x, { sigma: 0.25, n: 10_000 });
 *   certifiedAccuracy(certs, labels, [0, 0.25, 0.5]);
 */
export async function certify(model: Model, x: tf.Tensor, options: CertifyOptions): Promise<Certificate[]> {
  if (options.sigma === undefined) throw new UsageError('certify: sigma is required (the noise standard deviation)');
  const { sigma, n0, n, alpha, batchSize, seed = 0 } = resolveOptions(OPTIONS, defaultsOf(OPTIONS), options, { owner: 'certify', passThrough: ['seed', 'exampleIds'] });
  const b = x.shape[0] ?? 0;
  const ids = options.exampleIds;
  if (ids && ids.length !== b) throw new UsageError(`certify: ${ids.length} exampleIds for ${b} examples; pass one per example`);
  const out: Certificate[] = [];
  for (let i = 0; i < b; i++) {
    const row = tf.slice(x, i, 1);
    try {
      const key = `${seed}#${ids ? Number(ids[i]) : i}`;
      const top = argMax(await sampleCounts(model, row, n0, sigma, batchSize, `${key}/select`));
      const count = (await sampleCounts(model, row, n, sigma, batchSize, `${key}/estimate`))[top] as number;
      const pALower = clopperPearsonInterval(count, n, 1 - 2 * alpha)[0];
      out.push(pALower < 0.5 ? { prediction: -1, radius: 0, pALower, count } : { prediction: top, radius: sigma * normalQuantile(pALower), pALower, count });
    } finally {
      row.dispose();
    }
  }
  return out;
}

/**
 * Certified accuracy at each radius r: the fraction of examples whose certified prediction is the label
 * and whose radius is at least r (Cohen et al.'s curve; abstentions count as wrong).
 * @example certifiedAccuracy(certs, Int32Array.of(3, 7), [0, 0.5]) // e.g. [1, 0.5]
 */
export function certifiedAccuracy(certificates: readonly Certificate[], labels: ArrayLike<number>, radii: readonly number[]): number[] {
  if (labels.length !== certificates.length) throw new UsageError(`certifiedAccuracy: ${certificates.length} certificates but ${labels.length} labels`);
  const n = certificates.length;
  return radii.map((r) => (n === 0 ? 0 : certificates.filter((c, i) => c.prediction >= 0 && c.prediction === labels[i] && c.radius >= r).length / n));
}
