import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import type { Model } from '../src/models/types.js';
import { autoattack } from '../src/attacks/autoattack.js';
import { apgd, apgdT } from '../src/attacks/apgd.js';
import { square } from '../src/attacks/square.js';
import { fab, fabT } from '../src/attacks/fab.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { binaryLinear, labelledByModel, mlpModel } from './attacks.fixtures.js';

/** `inner` with every row it is asked about counted. */
function counting(inner: Model): Model & { rows: number } {
  const wrapped = {
    ...inner,
    rows: 0,
    predict: (x: tf.Tensor) => {
      wrapped.rows += x.shape[0] ?? 0;
      return inner.predict(x);
    },
  };
  return wrapped;
}

async function predictions(model: Model, x: tf.Tensor): Promise<Int32Array> {
  const t = tf.tidy(() => tf.argMax(model.predict(x), 1));
  const out = Int32Array.from(await t.data());
  t.dispose();
  return out;
}

describe.each(TEST_BACKENDS)('autoattack on %s', (backend) => {
  beforeAll(async () => activate(backend));

  const budget = { steps: 10, targetClasses: 3, queries: 150, seed: 4 };

  it('is never weaker than any of its components run alone with the same seed', async () => {
    const model = mlpModel([12], 24, 10, 'aa/m3');
    const { x, y } = await labelledByModel(model, 30, 'aa/x', 0, 1);
    const eps = 0.02;
    const alone = {
      'apgd-ce': await apgd(model, x, y, { eps, steps: budget.steps, seed: budget.seed }),
      'apgd-t': await apgdT(model, x, y, { eps, steps: budget.steps, targetClasses: budget.targetClasses, seed: budget.seed }),
      'fab-t': await fabT(model, x, y, { eps, steps: budget.steps, targetClasses: budget.targetClasses, seed: budget.seed }),
      square: await square(model, x, y, { eps, queries: budget.queries, seed: budget.seed }),
    };
    // FAB-T is minimum-norm: alone, it breaks a point when what it finds lies within eps.
    alone['fab-t'].isAdversarial.forEach((v, i) => (alone['fab-t'].isAdversarial[i] = v && (alone['fab-t'].perturbation.linf[i] as number) <= eps ? 1 : 0));
    const r = await autoattack(model, x, y, { eps, ...budget });
    expect(r.version).toBe('standard');
    const count = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);
    // The components disagree, so the union is a real test of the per-point worst case.
    const sizes = Object.values(alone).map((a) => count(a.isAdversarial));
    expect(Math.max(...sizes)).toBeLessThan(30);
    expect(count(r.isAdversarial)).toBeGreaterThan(Math.max(...sizes));
    for (const [name, res] of Object.entries(alone)) {
      res.isAdversarial.forEach((v, i) => {
        if (v) expect([i, name, r.isAdversarial[i]]).toEqual([i, name, 1]);
      });
    }
    // The first component sees the same points as alone, so it breaks exactly the same ones.
    r.brokenBy.forEach((b, i) => expect(b === 'apgd-ce').toBe(alone['apgd-ce'].isAdversarial[i] === 1));
    // Every claim holds when the model is asked again, and stays within eps and the bounds.
    const pred = await predictions(model, r.xAdv);
    pred.forEach((p, i) => expect(r.isAdversarial[i]).toBe(p !== y[i] ? 1 : 0));
    r.perturbation.linf.forEach((v) => expect(v).toBeLessThanOrEqual(eps + 1e-6));
    const xa = await r.xAdv.data();
    xa.forEach((v) => expect(v >= 0 && v <= 1).toBe(true));
    tf.dispose([r.xAdv, x, ...Object.values(alone).map((a) => a.xAdv)]);
    model.dispose();
  });

  it('runs each later attack only on the points still robust, and counts every query', async () => {
    const model = counting(mlpModel([12], 24, 6, 'aa/mlp'));
    const { x, y } = await labelledByModel(model, 30, 'aa/x', 0, 1);
    model.rows = 0;
    const eps = 0.04;
    const r = await noLeak(async () => {
      const out = await autoattack(model, x, y, { eps, ...budget });
      out.xAdv.dispose();
      return out;
    });
    expect(r.queries).toBe(model.rows);
    expect(r.components.map((c) => c.name)).toEqual(['apgd-ce', 'apgd-t', 'fab-t', 'square']);
    expect(r.components[0]?.attacked).toBe(30);
    for (let k = 1; k < r.components.length; k++) {
      const prev = r.components[k - 1];
      expect(r.components[k]?.attacked).toBe((prev?.attacked ?? 0) - (prev?.broken ?? 0));
    }
    const byName = (n: string) => r.brokenBy.filter((b) => b === n).length;
    r.components.forEach((c) => expect(byName(c.name)).toBe(c.broken));
    expect(r.gradientEvaluations).toBe(r.components.reduce((s, c) => s + c.gradientEvaluations, 0));
    expect(r.components[3]?.gradientEvaluations).toBe(0);
    // APGD-T inside AutoAttack spends exactly what it spends alone on the survivors of APGD-CE.
    const survivors = [...r.brokenBy.keys()].filter((i) => r.brokenBy[i] !== 'apgd-ce');
    const xs = tf.gather(x, tf.tensor1d(survivors, 'int32'));
    const t = await apgdT(model, xs, Int32Array.from(survivors, (i) => y[i] ?? 0), {
      eps,
      steps: budget.steps,
      targetClasses: budget.targetClasses,
      seed: budget.seed,
      exampleIds: survivors,
    });
    expect(t.gradientEvaluations).toBe(r.components[1]?.gradientEvaluations);
    t.isAdversarial.forEach((v, j) => expect(v === 1).toBe(r.brokenBy[survivors[j] ?? 0] === 'apgd-t'));
    tf.dispose([t.xAdv, xs, x]);
    model.dispose();
  });

  it('on a linear model: breaks every point just above the closed-form distance and none just below', async () => {
    const w = [0.8, -1.2, 0.5, 1.5, -0.3];
    const c = 0.2;
    const model = binaryLinear(w, c);
    const { x, y } = await labelledByModel(model, 6, 'aa/lin', -1, 1);
    const xs = await x.data();
    const l1 = w.reduce((a, v) => a + Math.abs(v), 0);
    const dist = Array.from({ length: 6 }, (_, i) => Math.abs(w.reduce((a, wj, j) => a + wj * (xs[i * 5 + j] ?? 0), c)) / l1);
    for (const [factor, expected] of [[1.02, 'apgd-ce'], [0.98, null]] as const) {
      const r = await autoattack(model, x, y, { eps: Float32Array.from(dist, (v) => v * factor), ...budget });
      expect(r.brokenBy).toEqual(new Array(6).fill(expected));
      r.xAdv.dispose();
    }
    x.dispose();
    model.dispose();
  });

  it.each([
    ['plus', ['apgd-ce', 'apgd-dlr', 'fab', 'square', 'apgd-t', 'fab-t']],
    ['rand', ['apgd-ce', 'apgd-dlr']],
  ] as const)('version %s runs its published components, says so, and is never weaker than plain FAB alone', async (version, names) => {
    const model = mlpModel([12], 24, 10, 'aa/m3');
    const { x, y } = await labelledByModel(model, 12, 'aa/x', 0, 1);
    const eps = 0.05;
    const small = { steps: 5, targetClasses: 2, queries: 20, restarts: 1, eotIterations: version === 'rand' ? 2 : 1, seed: 4 };
    const r = await noLeak(async () => {
      const out = await autoattack(model, x, y, { eps, version, ...small, attacks: undefined });
      out.xAdv.dispose();
      return out;
    });
    expect(r.version).toBe(version);
    // Components stop once every point is broken; those that ran are the version's, in its order.
    expect(names.slice(0, r.components.length)).toEqual(r.components.map((c) => c.name));
    if (version === 'plus') {
      const alone = await fab(model, x, y, { eps, steps: small.steps, seed: small.seed });
      alone.isAdversarial.forEach((v, i) => v && (alone.perturbation.linf[i] as number) <= eps && expect(r.isAdversarial[i]).toBe(1));
      alone.xAdv.dispose();
    }
    x.dispose();
    model.dispose();
  });

  it('refuses targeting and unknown attacks with one-line errors', async () => {
    const model = mlpModel([4], 8, 3, 'aa/err');
    const { x, y } = await labelledByModel(model, 2, 'aa/ex', 0, 1);
    await expect(autoattack(model, x, y, { eps: 0.1, targeting: { kind: 'random' } })).rejects.toThrow(/untargeted/);
    await expect(autoattack(model, x, y, {})).rejects.toThrow(/needs an eps/);
    await expect(autoattack(model, x, y, { eps: 0.1, attacks: [] })).rejects.toThrow(/at least one/);
    await expect(autoattack(model, x, y, { eps: 0.1, attacks: ['pgd'] })).rejects.toThrow(/options.attacks/);
    await expect(autoattack(model, x, y, { eps: 0.1, version: 'fast' as 'plus' })).rejects.toThrow(/options.version/);
    x.dispose();
    model.dispose();
  });
});
