import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import type { Model } from '../src/models/types.js';
import { apgd, apgdCheckpoints, apgdT, type ApgdCheckpoint } from '../src/attacks/apgd.js';
import { pgd } from '../src/attacks/pgd.js';
import { binaryLinear, labelledByModel, mlpModel } from './attacks.fixtures.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';

/** The model's predictions. */
async function predictedLabels(model: Model, x: tf.Tensor): Promise<Int32Array> {
  const am = tf.tidy(() => tf.argMax(model.predict(x), 1));
  const out = Int32Array.from(await am.data());
  am.dispose();
  return out;
}

describe('apgdCheckpoints', () => {
  it('follows p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06) for N = 100', () => {
    const p = [0, 0.22];
    while (p.length < 12) {
      const last = p[p.length - 1] ?? 0;
      const prev = p[p.length - 2] ?? 0;
      p.push(last + Math.max(last - prev - 0.03, 0.06));
    }
    const expected = p.slice(1).map((v) => Math.round(v * 100)).filter((w) => w <= 100);
    expect(apgdCheckpoints(100)).toEqual(expected);
    expect(apgdCheckpoints(100)).toEqual([22, 41, 57, 70, 80, 87, 93, 99]);
  });
});

describe.each(TEST_BACKENDS)('apgd on %s', (backend) => {
  beforeAll(async () => activate(backend));

  // Binary linear model: f(x) = w·x + c, logits [−f/2, f/2]; minimal L2 distance |f|/‖w‖₂, Linf |f|/‖w‖₁.
  const wv = [0.9, -1.3, 0.4, 2.0, -0.7, 1.1];
  const c = 0.3;
  let linear: Model;
  let x: tf.Tensor2D;
  let y: Int32Array;
  let dist: { linf: Float32Array; l2: Float32Array };
  beforeAll(async () => {
    linear = binaryLinear(wv, c);
    ({ x, y } = (await labelledByModel(linear, 8, 'points', -1, 1)) as { x: tf.Tensor2D; y: Int32Array });
    const xs = await x.array();
    const l1 = wv.reduce((a, w) => a + Math.abs(w), 0);
    const l2 = Math.sqrt(wv.reduce((a, w) => a + w * w, 0));
    const f = xs.map((row) => Math.abs(row.reduce((a, v, i) => a + v * (wv[i] ?? 0), c)));
    dist = { linf: Float32Array.from(f, (v) => v / l1), l2: Float32Array.from(f, (v) => v / l2) };
  });
  afterAll(() => {
    linear.dispose();
    x.dispose();
  });

  for (const norm of ['linf', 'l2'] as const) {
    it(`${norm}: succeeds exactly when eps exceeds the closed-form distance`, async () => {
      for (const [factor, expected] of [[0.98, 0], [1.02, 1]] as const) {
        const eps = Float32Array.from(dist[norm], (v) => v * factor);
        const r = await apgd(linear, x, y, { norm, eps, steps: 50 });
        expect(Array.from(r.isAdversarial)).toEqual(new Array<number>(y.length).fill(expected));
        const size = r.perturbation[norm];
        size.forEach((v, i) => expect(v).toBeLessThanOrEqual((eps[i] ?? 0) + 1e-5));
        // The model agrees: xAdv is classified as claimed.
        const pred = await predictedLabels(linear, r.xAdv);
        pred.forEach((p, i) => expect(p !== y[i] ? 1 : 0).toBe(expected));
        r.xAdv.dispose();
      }
    });
  }

  it('stays within eps and the bounds, respects a mask, leaks nothing, and is seeded bit for bit', async () => {
    const model = mlpModel([10], 16, 5, 'bounds');
    const { x: xs, y: ys } = await labelledByModel(model, 12, 'bx', 0, 1);
    const mask = Float32Array.from({ length: 10 }, (_, i) => (i % 3 === 0 ? 0 : 1));
    for (const norm of ['linf', 'l2'] as const) {
      const eps = norm === 'linf' ? 0.2 : 0.8;
      const run = () => apgd(model, xs, ys, { norm, eps, steps: 20, loss: 'dlr', mask, seed: 7 });
      const r1 = await noLeak(async () => {
        const r = await run();
        const data = await r.xAdv.data();
        r.xAdv.dispose();
        return { ...r, data };
      });
      const r2 = await run();
      const a1 = r1.data;
      const a2 = await r2.xAdv.data();
      expect(Buffer.from(a1.buffer).equals(Buffer.from(a2.buffer))).toBe(true);
      expect(r1.gradientEvaluations).toBe(r2.gradientEvaluations);
      const x0 = await xs.data();
      a1.forEach((v, i) => {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        if (mask[i % 10] === 0) expect(v).toBe(x0[i]);
      });
      r1.perturbation[norm].forEach((v) => expect(v).toBeLessThanOrEqual(eps + 1e-6));
      expect(r1.isAdversarial.some((v) => v === 1)).toBe(true);
      const r3 = await apgd(model, xs, ys, { norm, eps, steps: 20, loss: 'dlr', mask, seed: 8 });
      const a3 = await r3.xAdv.data();
      expect(Buffer.from(a1.buffer).equals(Buffer.from(a3.buffer))).toBe(false);
      tf.dispose([r2.xAdv, r3.xAdv]);
    }
    xs.dispose();
    model.dispose();
  });

  it('halves the step size at checkpoints on a nonconvex model, restarting from the best point', async () => {
    const model = mlpModel([8], 32, 4, 'halving');
    const { x: xs, y: ys } = await labelledByModel(model, 16, 'hx', 0, 1);
    const events: ApgdCheckpoint[] = [];
    const eps = 0.05;
    const r = await apgd(model, xs, ys, { eps, steps: 100, trace: (e) => events.push(e), earlyStop: false });
    expect(events.map((e) => e.iteration)).toEqual(apgdCheckpoints(100));
    const halvings = events.reduce((a, e) => a + e.halved.reduce((s, v) => s + v, 0), 0);
    expect(halvings).toBeGreaterThan(0);
    // Every step size is 2·eps / 2^m, and it only ever shrinks.
    const last = events[events.length - 1];
    last?.stepSize.forEach((s) => {
      const m = Math.log2((2 * eps) / s);
      expect(Math.abs(m - Math.round(m))).toBeLessThan(1e-4);
    });
    for (let j = 1; j < events.length; j++) {
      const prev = events[j - 1];
      events[j]?.stepSize.forEach((s, i) => expect(s).toBeLessThanOrEqual((prev?.stepSize[i] ?? 0) + 1e-9));
    }
    expect(r.gradientEvaluations).toBe(16 * 101);
    r.xAdv.dispose();
    xs.dispose();
    model.dispose();
  });

  it('is at least as strong as fixed-step PGD with the same number of iterations', async () => {
    const model = mlpModel([20], 32, 10, 'strength');
    const { x: xs, y: ys } = await labelledByModel(model, 40, 'sx', 0, 1);
    const steps = 20;
    const broken = (flags: Uint8Array) => flags.reduce((a, v) => a + v, 0);
    const counts: [number, number][] = [];
    for (const eps of [0.03, 0.06, 0.1]) {
      const r = await apgd(model, xs, ys, { eps, steps });
      const p = await pgd(model, xs, ys, { eps, steps });
      counts.push([broken(r.isAdversarial), broken(p.isAdversarial)]);
      tf.dispose([r.xAdv, p.xAdv]);
    }
    // PGD leaves some points robust at some eps, so the comparison has room to fail.
    expect(counts.some(([, p]) => p > 0 && p < 40)).toBe(true);
    for (const [a, p] of counts) expect(a).toBeGreaterThanOrEqual(p);
    xs.dispose();
    model.dispose();
  });

  it('early stop keeps the outcome and spends fewer gradient evaluations', async () => {
    const model = mlpModel([10], 16, 5, 'early');
    const { x: xs, y: ys } = await labelledByModel(model, 20, 'ex', 0, 1);
    const opts = { eps: 0.1, steps: 30, loss: 'dlr' as const };
    const early = await apgd(model, xs, ys, opts);
    const full = await apgd(model, xs, ys, { ...opts, earlyStop: false });
    expect(Array.from(early.isAdversarial)).toEqual(Array.from(full.isAdversarial));
    expect(early.gradientEvaluations).toBeLessThan(full.gradientEvaluations);
    expect(full.gradientEvaluations).toBe(20 * 31);
    // Queries: the clean pass, one per gradient, and the harness's final check of every result.
    expect(full.queries).toBe(20 + 20 * 31 + 20);
    expect(early.queries).toBe(20 + early.gradientEvaluations + 20);
    tf.dispose([early.xAdv, full.xAdv, xs]);
    model.dispose();
  });

  it('apgd-t runs each later target only on the points still robust', async () => {
    const model = mlpModel([10], 16, 6, 'targeted');
    const { x: xs, y: ys } = await labelledByModel(model, 16, 'tx', 0, 1);
    const opts = { eps: 0.05, steps: 10 };
    await noLeak(async () => (await apgdT(model, xs, ys, { ...opts, targetClasses: 3 })).xAdv.dispose());
    const seen = new Map<string, Set<number>>();
    const r = await apgdT(model, xs, ys, {
      ...opts,
      targetClasses: 3,
      trace: (e) => seen.set(e.run, new Set([...(seen.get(e.run) ?? []), ...e.ids])),
    });
    const pred = await predictedLabels(model, r.xAdv);
    r.isAdversarial.forEach((v, i) => expect(v).toBe(pred[i] !== ys[i] ? 1 : 0));
    r.perturbation.linf.forEach((v) => expect(v).toBeLessThanOrEqual(opts.eps + 1e-6));
    // Per-example streams make the first target's run identical to apgd-t with one target.
    const first = await apgdT(model, xs, ys, { ...opts, targetClasses: 1 });
    const brokenFirst = [...first.isAdversarial.keys()].filter((i) => first.isAdversarial[i]);
    expect(brokenFirst.length).toBeGreaterThan(0);
    expect(brokenFirst.length).toBeLessThan(16);
    for (const i of brokenFirst) expect(seen.get('t2/r0')?.has(i) ?? false).toBe(false);
    expect(seen.get('t2/r0')?.size ?? 0).toBeGreaterThan(0);
    // Never weaker than its first target alone; the extra targets cost gradients only on the survivors.
    first.isAdversarial.forEach((v, i) => v && expect(r.isAdversarial[i]).toBe(1));
    expect(r.gradientEvaluations).toBeLessThan(3 * first.gradientEvaluations);
    tf.dispose([r.xAdv, first.xAdv, xs]);
    model.dispose();
  });

  it('targeted apgd reaches given target labels', async () => {
    const model = mlpModel([10], 16, 5, 'tl');
    const { x: xs, y: ys } = await labelledByModel(model, 10, 'tlx', 0, 1);
    const labels = Int32Array.from(ys, (v) => (v + 1) % 5);
    const r = await apgd(model, xs, ys, { eps: 0.3, steps: 30, loss: 'dlr', targeting: { kind: 'labels', labels } });
    const pred = await predictedLabels(model, r.xAdv);
    r.isAdversarial.forEach((v, i) => expect(v).toBe(pred[i] === labels[i] ? 1 : 0));
    expect(r.isAdversarial.reduce((a, v) => a + v, 0)).toBeGreaterThan(0);
    tf.dispose([r.xAdv, xs]);
    model.dispose();
  });

  it('refuses what it cannot do with a one-line error', async () => {
    const scoresOnly: Model = { ...linear, access: 'scores' };
    await expect(apgd(scoresOnly, x, y, { eps: 0.1 })).rejects.toThrow(/needs gradients/);
    await expect(apgd(linear, x, y, {})).rejects.toThrow(/needs an eps/);
    await expect(apgd(linear, x, y, { eps: 0.1, loss: 'dlr' })).rejects.toThrow(/at least 3 classes/);
    await expect(apgd(linear, x, y, { eps: 0.1, norm: 'l1' })).rejects.toThrow(/linf\|l2/);
  });
});
