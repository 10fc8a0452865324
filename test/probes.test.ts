/**
 * The "logits are identical for two identical calls" self-check. It must fail on a randomised model (which needs
 * EOT), and must not fail on a deterministic model whose backend sums in a varying order (tfjs-webgpu's split-K
 * matmul moves logits by a few ulps from call to call), which it did before it had a tolerance.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import seedrandom from 'seedrandom';
import { tf } from '../src/tf.js';
import { compose } from '../src/defenses/defended.js';
import { randomNoise } from '../src/defenses/noise.js';
import type { Dataset } from '../src/data/types.js';
import type { Model } from '../src/models/types.js';
import { evaluationChecks } from '../src/suite/checks.js';
import { DRIFT_TOLERANCE, logitDrift, runProbes } from '../src/suite/probes.js';
import type { ProbeOutcomes } from '../src/suite/types.js';
import { activate, noLeak } from './helpers/backends.js';
import { linearModel, normals, uniforms } from './attacks.fixtures.js';

const D = 16;
const K = 4;
const N = 30;

function dataset(): Dataset {
  return { x: Float32Array.from(uniforms(N * D, 'probe-x')), y: Int32Array.from({ length: N }, (_, i) => i % K), shape: [D], n: N, source: 'test', sha256: '' };
}

/** `base` plus, on every call, a fresh relative jitter of `size` on each logit: the signature of a varying summation order. */
function jittered(base: Model, size: number): Model {
  const rng = seedrandom('jitter');
  return {
    ...base,
    predict: (x) =>
      tf.tidy(() => {
        const y = base.predict(x);
        const noise = tf.tensor(Array.from({ length: y.size }, () => 1 + size * (2 * rng() - 1)), y.shape);
        return tf.mul(y, noise) as tf.Tensor2D;
      }),
  };
}

async function probe(model: Model): Promise<{ probes: ProbeOutcomes; check: { status: string; message: string } }> {
  const ds = dataset();
  const positions = Int32Array.from({ length: N }, (_, i) => i);
  const probes = await noLeak(() => runProbes(model, ds, positions, N, new Uint8Array(N), 'probe'));
  const check = evaluationChecks([], [], probes, K).find((c) => c.name === 'logits are identical for two identical calls')!;
  return { probes, check };
}

describe('determinism probe', () => {
  let base: Model;
  beforeAll(async () => {
    await activate('cpu');
    base = linearModel(normals(D * K, 'probe-W').map((v) => 3 * v), [0.1, -0.2, 0.3, 0], D);
  });

  it('logitDrift is relative to max(1, the largest logit), and infinite where only one call gave NaN', () => {
    expect(logitDrift([10, 0, -20], [10, 0.004, -20], 0, 3)).toBeCloseTo(0.0002, 12);
    expect(logitDrift([0.1, 0.2], [0.1, 0.2005], 0, 2)).toBeCloseTo(0.0005, 12);
    expect(logitDrift([9, 9, 1, NaN], [9, 9, 1, 1], 2, 2)).toBe(Infinity);
    expect(logitDrift([1, NaN], [1, NaN], 0, 2)).toBe(0);
    expect(logitDrift([1, 2], [1, 2], 0, 2)).toBe(0);
  });

  it('a deterministic model: ok, identical, zero drift on every probed input', async () => {
    const { probes, check } = await probe(base);
    const probed = probes.deterministic.filter((v) => v !== -1);
    expect(probed.length).toBeGreaterThan(0);
    expect(probed.every((v) => v === 1)).toBe(true);
    expect(probes.logitDrift.filter((v) => v !== -1).every((v) => v === 0)).toBe(true);
    expect(check).toMatchObject({ status: 'ok', message: expect.stringMatching(/^identical on \d+ probed inputs$/) });
  });

  it('float-rounding jitter between calls: ok, and the message names the largest drift', async () => {
    const { probes, check } = await probe(jittered(base, 1e-6));
    const drift = Math.max(...probes.logitDrift.map((v) => v ?? Infinity));
    expect(drift).toBeGreaterThan(0);
    expect(drift).toBeLessThan(DRIFT_TOLERANCE);
    expect(check.status).toBe('ok');
    expect(check.message).toMatch(/up to float rounding .*largest relative change \d\.\de-\d+.*not randomised/);
  });

  it('jitter above the tolerance, and a randomised defence, fail the check and point to EOT', async () => {
    const coarse = await probe(jittered(base, 1e-2));
    expect(coarse.check.status).toBe('failed');
    const noisy = compose(base, [randomNoise({ sigma: 0.05 })]);
    const { probes, check } = await probe(noisy);
    expect(probes.deterministic.filter((v) => v === 0).length).toBe(probes.deterministic.filter((v) => v !== -1).length);
    expect(check).toMatchObject({ status: 'failed', message: expect.stringMatching(/randomised, so attack it with EOT/) });
  });
});
