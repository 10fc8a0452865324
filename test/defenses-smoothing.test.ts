import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { pgd } from '../src/attacks/pgd.js';
import { clopperPearsonInterval, normalCdf, normalQuantile } from '../src/metrics/confidence.js';
import { certifiedAccuracy, certify, type Certificate } from '../src/defenses/smoothing.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { scalarModel, uniform } from './defenses.fixtures.js';

/**
 * A linear binary classifier, logits [w·x + b, 0]. Under x + σz the score is w·x + b + σ‖w‖·N(0, 1), so
 * p_A = Φ(|w·x + b| / (σ‖w‖)) exactly and Cohen et al.'s radius σ·Φ⁻¹(p_A) is |w·x + b| / ‖w‖, the true
 * distance to the decision boundary. The smoothed classifier of a linear one is the same linear classifier,
 * so an attack on the base model is an attack on the smoothed one.
 */
const D = 10;
const SIGMA = 0.5;
const N = 10_000;
const ALPHA = 0.001;
const w = uniform(D, 'w', -1, 1);
const bias = 0.1;
const norm = Math.sqrt(w.reduce((a, v) => a + v * v, 0));
const model = () => scalarModel([D], (x) => tf.tidy(() => tf.add(tf.sum(tf.mul(x, tf.tensor(w, [1, D])), 1), bias) as tf.Tensor1D), { min: -10, max: 10 });

/** Points at signed distance `s` from the boundary: x = u − ((w·u + b) − s‖w‖) w / ‖w‖². */
function atDistances(signed: number[]): Float32Array {
  const out = new Float32Array(signed.length * D);
  signed.forEach((s, i) => {
    const u = uniform(D, `u${i}`, -1, 1);
    const score = u.reduce((a, v, j) => a + v * (w[j] as number), bias);
    const shift = (score - s * norm) / (norm * norm);
    for (let j = 0; j < D; j++) out[i * D + j] = (u[j] as number) - shift * (w[j] as number);
  });
  return out;
}

describe.each(TEST_BACKENDS)('randomised smoothing on a linear classifier, %s', (backend) => {
  beforeAll(() => activate(backend));
  // Distances in units of σ: near the boundary (abstain) up to 2σ, on both sides.
  const signed = [0.001, -0.1, 0.25, -0.5, 0.8, -1.2, 1.6, -2].map((s) => s * SIGMA);
  const x = atDistances(signed);
  const labels = Int32Array.from(signed, (s) => (s > 0 ? 0 : 1));
  let certs: Certificate[] = [];

  it('certified radius ≤ σ·Φ⁻¹(p_A) = the true distance, and within the Clopper-Pearson bound of it', async () => {
    certs = await noLeak(async () => {
      const input = tf.tensor(x, [signed.length, D]);
      const m = model();
      try {
        return await certify(m, input, { sigma: SIGMA, n0: 100, n: N, alpha: ALPHA, batchSize: 2000, seed: 3 });
      } finally {
        input.dispose();
      }
    });
    signed.forEach((s, i) => {
      const c = certs[i] as Certificate;
      const distance = Math.abs(s);
      const pA = normalCdf(distance / SIGMA);
      expect(SIGMA * normalQuantile(pA)).toBeCloseTo(distance, 6);
      // The count is binomial(N, p_A): within 4.5 standard deviations.
      const sd = Math.sqrt(N * pA * (1 - pA));
      expect(Math.abs(c.count - N * pA)).toBeLessThan(4.5 * sd + 1);
      expect(c.pALower).toBeCloseTo(clopperPearsonInterval(c.count, N, 1 - 2 * ALPHA)[0], 12);
      expect(c.pALower).toBeLessThanOrEqual(pA);
      if (c.prediction === -1) {
        expect(c.radius).toBe(0);
        expect(c.pALower).toBeLessThan(0.5);
        return;
      }
      expect(c.prediction).toBe(labels[i]);
      expect(c.radius).toBeCloseTo(SIGMA * normalQuantile(c.pALower), 10);
      expect(c.radius).toBeLessThanOrEqual(distance);
      // The smallest radius a count 4.5 sd below its mean would give: the certificate may not be looser.
      const low = Math.max(0, Math.floor(N * pA - 4.5 * sd));
      const floor = SIGMA * normalQuantile(Math.max(0.5, clopperPearsonInterval(low, N, 1 - 2 * ALPHA)[0]));
      expect(c.radius).toBeGreaterThanOrEqual(floor - 1e-9);
    });
    expect(certs[0]?.prediction).toBe(-1); // at 0.001σ from the boundary p_A ≈ 1/2: abstain
    // Far points are certified close to their distance (n = 10,000 caps nothing below 3.2σ).
    for (const i of [5, 6, 7]) expect((certs[i] as Certificate).radius).toBeGreaterThan(0.8 * Math.abs(signed[i] as number));
  });

  it('no certified example is broken by PGD-L2 inside its radius; just outside its distance every one is', async () => {
    const certified = certs.map((c, i) => (c.prediction >= 0 ? i : -1)).filter((i) => i >= 0);
    expect(certified.length).toBeGreaterThanOrEqual(6);
    await noLeak(async () => {
      const xs = tf.tensor(Float32Array.from(certified.flatMap((i) => Array.from(x.subarray(i * D, (i + 1) * D)))), [certified.length, D]);
      const ys = Int32Array.from(certified, (i) => labels[i] as number);
      const m = model();
      const inside = await pgd(m, xs, ys, { norm: 'l2', eps: Float32Array.from(certified, (i) => 0.999 * (certs[i] as Certificate).radius), steps: 50, seed: 1 });
      const outside = await pgd(m, xs, ys, { norm: 'l2', eps: Float32Array.from(certified, (i) => 1.05 * Math.abs(signed[i] as number)), steps: 50, seed: 1 });
      expect(Array.from(inside.isAdversarial)).toEqual(new Array(certified.length).fill(0));
      expect(Array.from(outside.isAdversarial)).toEqual(new Array(certified.length).fill(1));
      tf.dispose([xs, inside.xAdv, outside.xAdv]);
    });
  });

  it('is seeded per example: the same certificate alone or in a batch, given the same example id', async () => {
    await noLeak(async () => {
      const m = model();
      const options = { sigma: SIGMA, n0: 50, n: 500, alpha: ALPHA, seed: 'ids' };
      const batch = tf.tensor(x.subarray(0, 4 * D), [4, D]);
      const single = tf.tensor(x.subarray(2 * D, 3 * D), [1, D]);
      const all = await certify(m, batch, { ...options, exampleIds: [10, 11, 12, 13] });
      const one = await certify(m, single, { ...options, exampleIds: [12] });
      expect(one[0]).toEqual(all[2]);
      expect(await certify(m, batch, { ...options, exampleIds: [10, 11, 12, 13] })).toEqual(all);
      tf.dispose([batch, single]);
    });
  });
});

describe('certified accuracy', () => {
  it('counts correct, non-abstaining predictions whose radius reaches r', () => {
    const certs: Certificate[] = [
      { prediction: 0, radius: 0.5, pALower: 0.8, count: 0 },
      { prediction: 1, radius: 0.2, pALower: 0.6, count: 0 },
      { prediction: -1, radius: 0, pALower: 0.4, count: 0 },
      { prediction: 2, radius: 1.0, pALower: 0.95, count: 0 }, // wrong
    ];
    expect(certifiedAccuracy(certs, [0, 1, 2, 1], [0, 0.2, 0.3, 0.5, 0.6])).toEqual([0.5, 0.5, 0.25, 0.25, 0]);
    expect(() => certifiedAccuracy(certs, [0], [0])).toThrow(/4 certificates but 1 labels/);
  });
});
