/**
 * Randomised-smoothing certification over a dataset, shared by `robust certify` and the `certify` section of a
 * suite: the certificates of every example (Cohen et al. 2019, via `defenses/smoothing.ts`) and the certified
 * accuracy against L2 radius they imply.
 */
import { tf } from '../tf.js';
import { certifiedAccuracy, certify, type Certificate } from '../defenses/smoothing.js';
import { proportion, type Proportion } from '../metrics/rates.js';
import type { Dataset } from '../data/types.js';
import type { Model } from '../models/types.js';
import { estimateMemory, planBatch, type BatchPlan } from '../util/memory.js';

/** Settings of a certification run (a suite's `certify` section, or the flags of `robust certify`). */
export interface CertifySettings {
  /** σ, the noise standard deviation in input units. */
  sigma: number;
  /** Noise draws that select the top class. */
  n0: number;
  /** Noise draws that estimate its probability (Cohen et al.'s n). */
  samples: number;
  /** Failure probability of each certificate. */
  alpha: number;
  /** Noisy copies per forward pass. */
  batchSize: number;
}

/**
 * Defaults for the CLI and suites. Cohen et al. use n = 100,000 draws; 1,000 keeps a TF.js run short and caps
 * the radius at σ·Φ⁻¹(α^(1/n)) ≈ 2.46σ at α = 0.001, so raise `samples` to certify larger radii.
 */
export const CERTIFY_DEFAULTS = {
  n0: 100,
  samples: 1000,
  alpha: 0.001,
  batchSize: 1000,
  radii: [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5] as readonly number[],
} as const;

/** Certified accuracy at one radius; `key` ("certified@l2:0.5") is what thresholds and reports call it. */
export interface CertifiedPoint {
  key: string;
  radius: number;
  certifiedAccuracy: Proportion;
}

/** What a set of certificates says about the smoothed classifier. */
export interface CertificationSummary {
  /** Certified accuracy at each radius, ascending. */
  curve: CertifiedPoint[];
  /** Accuracy of the smoothed classifier itself: certified with the right class (= the curve at radius 0). */
  accuracy: Proportion;
  /** Examples where it abstained (p_A's lower bound below 1/2). */
  abstainRate: Proportion;
}

/** What every certified-accuracy key starts with. */
export const CERTIFIED_PREFIX = 'certified@l2:';

/** The key of certified accuracy at `radius`: "certified@l2:0.5". */
export const certifiedKey = (radius: number): string => `${CERTIFIED_PREFIX}${String(radius)}`;

/** Radii sorted ascending without repeats. */
export function radiusGrid(...lists: ReadonlyArray<readonly number[]>): number[] {
  return [...new Set(lists.flat())].sort((a, b) => a - b);
}

/**
 * Certify every example of `ds`, one example per call so that progress can be reported as it goes. The noise
 * of each example is keyed by its id (default: its position), so a subset or a shard certifies each example
 * exactly as the whole run would.
 * @example
 *   const certs = await certifyDataset(model, ds, { sigma: 0.25, n0: 100, samples: 1000, alpha: 0.001, batchSize: 1000 }, { seed: '0' });
 */
export async function certifyDataset(
  model: Model,
  ds: Dataset,
  settings: CertifySettings,
  options: { seed: string; exampleIds?: ArrayLike<number>; onProgress?: (done: number, total: number, certs: readonly Certificate[]) => void },
): Promise<Certificate[]> {
  const size = ds.shape.reduce((a, b) => a * b, 1);
  const out: Certificate[] = [];
  for (let i = 0; i < ds.n; i++) {
    const x = tf.tensor(ds.x.subarray(i * size, (i + 1) * size), [1, ...ds.shape]);
    try {
      const [cert] = await certify(model, x, {
        sigma: settings.sigma,
        n0: settings.n0,
        n: settings.samples,
        alpha: settings.alpha,
        batchSize: settings.batchSize,
        seed: options.seed,
        exampleIds: [options.exampleIds ? Number(options.exampleIds[i]) : i],
      });
      out.push(cert!);
    } finally {
      x.dispose();
    }
    options.onProgress?.(i + 1, ds.n, out);
  }
  return out;
}

/**
 * The certified-accuracy curve of `certificates` at `radii` (sorted ascending here), with 95% intervals. Each
 * value is exactly {@link certifiedAccuracy}'s.
 * @example certificationSummary(certs, ds.y, [0, 0.5]).curve.map((p) => p.certifiedAccuracy.value)
 */
export function certificationSummary(certificates: readonly Certificate[], labels: ArrayLike<number>, radii: readonly number[]): CertificationSummary {
  const n = certificates.length;
  const grid = radiusGrid(radii);
  // k/n with k counted as certifiedAccuracy counts, so the value is exactly certifiedAccuracy's.
  const values = certifiedAccuracy(certificates, labels, grid);
  const curve = grid.map((radius, j) => ({ key: certifiedKey(radius), radius, certifiedAccuracy: proportion(Math.round(values[j]! * n), n) }));
  const correct = certificates.filter((c, i) => c.prediction >= 0 && c.prediction === labels[i]).length;
  const abstained = certificates.filter((c) => c.prediction < 0).length;
  return { curve, accuracy: proportion(correct, n), abstainRate: proportion(abstained, n) };
}

/**
 * The noisy copies per forward pass that fit `maxBytes` when certifying `model` (forward passes only, plus the
 * noise and the noisy input). Noise is drawn in chunks of batch × features values by Box-Muller, which pairs
 * values, so with an odd number of features the batch is kept even: the stream, and so every certificate, is
 * then the same as with any other even batch.
 */
export function certifyBatchPlan(model: Model, settings: CertifySettings, maxBytes: number | 'auto'): BatchPlan {
  const features = model.inputShape.reduce((a, b) => a * b, 1);
  return planBatch(estimateMemory(model, { gradients: false }), {
    requested: Math.min(settings.batchSize, Math.max(settings.n0, settings.samples)),
    maxBytes,
    stateCopies: 3,
    inputBytes: 4 * features,
    multipleOf: features % 2 === 1 ? 2 : 1,
    what: `certification on inputs of shape [${model.inputShape.join(', ')}]`,
  });
}
