import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { apgd } from '../src/attacks/apgd.js';
import { deepfool } from '../src/attacks/deepfool.js';
import { fgsm } from '../src/attacks/fgsm.js';
import { pgd } from '../src/attacks/pgd.js';
import { square } from '../src/attacks/square.js';
import { projectFeasible, type FeatureConstraints } from '../src/attacks/core/constraints.js';
import type { NormName } from '../src/attacks/core/norms.js';
import type { AttackFn, CommonAttackOptions } from '../src/attacks/core/types.js';
import { InputError } from '../src/errors.js';
import type { Model } from '../src/models/types.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { binaryLinear, normals } from './attacks.fixtures.js';

/**
 * Features: 0 an integer count, 1 continuous, 2-4 one category one-hot. Oracles in closed form on
 * binary linear models with logits [0, w·x + c].
 */
const F = 5;
const CONSTRAINTS: FeatureConstraints = { grid: Float32Array.from([1, 0, 0, 0, 0]), oneHot: [[2, 3, 4]] };
const BOUNDS = { min: [0, -5, 0, 0, 0], max: [20, 5, 1, 1, 1] };

async function run(attack: AttackFn, model: Model, x: number[][], y: number[], options: CommonAttackOptions) {
  return noLeak(async () => {
    const xt = tf.tensor2d(x);
    const r = await attack(model, xt, Int32Array.from(y), { constraints: CONSTRAINTS, bounds: BOUNDS, ...options });
    const adv = Array.from((await r.xAdv.data()) as Float32Array);
    // The harness's verdict must be the model's own verdict on the point it returns.
    const top = tf.tidy(() => tf.argMax(model.predict(r.xAdv), 1));
    const predicted = Array.from((await top.data()) as Int32Array);
    tf.dispose([xt, r.xAdv, top]);
    return { adv, isAdversarial: Array.from(r.isAdversarial), predicted };
  });
}

function expectValid(adv: number[], x: number[][]): void {
  x.forEach((row, i) => {
    const a = adv.slice(i * F, (i + 1) * F);
    expect(Number.isInteger(a[0])).toBe(true);
    const group = a.slice(2, 5);
    expect([...group].sort()).toEqual([0, 0, 1]);
    expect(a[0]).toBeGreaterThanOrEqual(0);
    expect(row.length).toBe(F);
  });
}

describe('projectFeasible', () => {
  it('rounds grid features towards the clean value and one-hot groups to their largest member', () => {
    const x = Float32Array.from([3, 0.5, 1, 0, 0]);
    const adv = Float32Array.from([4.7, 0.9, 0.2, 0.3, 0.6]);
    expect(Array.from(projectFeasible(x, adv, F, CONSTRAINTS, { norm: 'linf' }))).toEqual([4, Math.fround(0.9), 0, 0, 1]);
    const down = Float32Array.from([1.2, 0.5, 1, 0, 0]);
    expect(projectFeasible(x, down, F, CONSTRAINTS, { norm: 'linf' })[0]).toBe(2);
    // A category switch costs 1 in Linf: with eps 0.9 the group goes back to its clean category.
    expect(Array.from(projectFeasible(x, adv, F, CONSTRAINTS, { norm: 'linf', eps: Float32Array.of(0.9) })).slice(2)).toEqual([1, 0, 0]);
    // A member the mask fixes makes the whole group immutable.
    const mask = Float32Array.from([1, 1, 1, 0, 1]);
    expect(Array.from(projectFeasible(x, adv, F, CONSTRAINTS, { norm: 'linf', mask })).slice(2)).toEqual([0.2, 0.3, 0.6].map(Math.fround));
  });
});

describe.each(TEST_BACKENDS)('attacks under feature constraints on %s', (backend) => {
  beforeAll(() => activate(backend));

  // z = 2.5 − f0: class 1 at f0 = 0, and only f0 ≥ 3 flips it, as f0 is a count.
  const countModel = () => binaryLinear([-1, 0, 0, 0, 0], 2.5, BOUNDS);
  const clean = [[0, 0, 1, 0, 0]];

  it.each([
    ['pgd', pgd],
    ['fgsm', fgsm],
  ] as const)('%s (linf): a count that must reach 3 is robust at eps 2.9 (the continuous iterate 2.9 would flip it) and broken at eps 3', async (_name, attack) => {
    const model = countModel();
    const below = await run(attack, model, clean, [1], { eps: 2.9, norm: 'linf', seed: 1 });
    const above = await run(attack, model, clean, [1], { eps: 3, norm: 'linf', seed: 1 });
    expectValid(below.adv, clean);
    expectValid(above.adv, clean);
    expect(below.adv[0]).toBe(2);
    expect(below.isAdversarial).toEqual([0]);
    expect(above.isAdversarial).toEqual([1]);
    expect(above.adv[0]).toBe(3);
    for (const r of [below, above]) expect(r.isAdversarial).toEqual(r.predicted.map((p) => (p !== 1 ? 1 : 0)));
    model.dispose();
  });

  // z = 1 − 3·h₂: only category 2 flips it; switching costs 1 in Linf and √2 in L2.
  const categoryModel = () => binaryLinear([0, 0, 0, 0, -3], 1, BOUNDS);
  it.each([
    ['linf', 0.9, 1.0],
    ['l2', 1.35, 1.45],
  ] as [NormName, number, number][])('pgd (%s): a category switch is taken only when it fits the budget (%f: no, %f: yes)', async (norm, small, large) => {
    const model = categoryModel();
    const below = await run(pgd, model, clean, [1], { eps: small, norm, seed: 2 });
    const above = await run(pgd, model, clean, [1], { eps: large, norm, seed: 2 });
    expectValid(below.adv, clean);
    expectValid(above.adv, clean);
    expect(below.isAdversarial).toEqual([0]);
    expect(below.adv.slice(2)).toEqual([1, 0, 0]);
    expect(above.isAdversarial).toEqual([1]);
    expect(above.adv.slice(2)).toEqual([0, 0, 1]);
    model.dispose();
  });

  it('every attack returns valid points on a random model, and its verdict is the model’s own on them', async () => {
    const w = normals(F, 'constraints/w');
    const model = binaryLinear(w, 0.1, BOUNDS);
    const x = Array.from({ length: 12 }, (_, i) => {
      const u = normals(2, `constraints/x${i}`);
      const cat = i % 3;
      return [Math.round(Math.abs(u[0] as number) * 4), u[1] as number, cat === 0 ? 1 : 0, cat === 1 ? 1 : 0, cat === 2 ? 1 : 0];
    });
    const xt = tf.tensor2d(x);
    const y = Array.from((await tf.tidy(() => tf.argMax(model.predict(xt), 1)).data()) as Int32Array);
    xt.dispose();
    const cases: [AttackFn, CommonAttackOptions][] = [
      [pgd, { eps: 1.5, norm: 'linf', seed: 3 }],
      [pgd, { eps: 2, norm: 'l2', seed: 3 }],
      [apgd, { eps: 1.5, norm: 'linf', seed: 3 }],
      [square, { eps: 1.5, norm: 'linf', seed: 3 }],
      [deepfool, { norm: 'l2' }],
    ];
    for (const [attack, options] of cases) {
      const r = await run(attack, model, x, y, options);
      expectValid(r.adv, x);
      expect(r.isAdversarial).toEqual(r.predicted.map((p, i) => (p !== y[i] ? 1 : 0)));
    }
    model.dispose();
  });

  it('refuses clean data that breaks its own constraints, before any work', async () => {
    const model = countModel();
    await expect(run(pgd, model, [[0.5, 0, 1, 0, 0]], [1], { eps: 1, norm: 'linf' })).rejects.toThrow(InputError);
    await expect(run(pgd, model, [[0, 0, 1, 1, 0]], [1], { eps: 1, norm: 'linf' })).rejects.toThrow(/not one-hot/);
    model.dispose();
  });
});
