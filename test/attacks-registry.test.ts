import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { UsageError } from '../src/errors.js';
import { ATTACKS, attackNames, getAttack } from '../src/attacks/registry.js';
import { attackManyEps, type EpsResult } from '../src/attacks/core/epsilons.js';
import { L0_TOLERANCE, type NormName } from '../src/attacks/core/norms.js';
import type { AttackInfo, CommonAttackOptions } from '../src/attacks/core/types.js';
import type { Bounds, Model } from '../src/models/types.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { labelledByModel, mlpModel } from './attacks.fixtures.js';

/**
 * One table over the registry: every attack, on every test backend, in every norm it supports, must
 * stay within eps and the bounds, respect a mask, report truthfully, reproduce bit for bit from a
 * seed, leak nothing, and lower the accuracy of an undefended model. New attacks join the table the
 * day they are added to ATTACKS.
 */

const D = 16;
const N = 24;
const EPS: Record<NormName, number> = { linf: 0.15, l2: 0.6, l1: 2, l0: 4 };
/**
 * Per-attack options that keep this table fast on 2 shared cores (defaults otherwise). An attack
 * whose defaults cost much more than ~1 s on 24 small examples should get an entry here.
 */
const FAST: Record<string, Record<string, unknown>> = {
  cw: { steps: 40, binarySteps: 5 },
  fab: { steps: 20 },
  'fab-t': { steps: 10, targetClasses: 2 },
};

/** Per-feature bounds that are not [0, 1]: alternately [−1, 2] and [−0.5, 1.5]. */
const WIDE: Bounds = {
  min: Array.from({ length: D }, (_, i) => (i % 2 ? -0.5 : -1)),
  max: Array.from({ length: D }, (_, i) => (i % 2 ? 1.5 : 2)),
};

function lowHigh(bounds: Bounds, i: number): [number, number] {
  const at = (v: number | number[]) => (typeof v === 'number' ? v : (v[i % D] as number));
  return [at(bounds.min), at(bounds.max)];
}

function normOf(delta: Float32Array, norm: NormName): number {
  // Changes within float rounding do not count (as in `perturbationNorms`).
  if (norm === 'l0') return delta.filter((v) => Math.abs(v) > L0_TOLERANCE).length;
  let s = 0;
  for (const v of delta) s = norm === 'linf' ? Math.max(s, Math.abs(v)) : norm === 'l2' ? s + v * v : s + Math.abs(v);
  return norm === 'l2' ? Math.sqrt(s) : s;
}

interface Fixture {
  model: Model;
  x: tf.Tensor;
  y: Int32Array;
  xs: Float32Array;
}

async function fixture(bounds: Bounds, lo: number, hi: number, center: number): Promise<Fixture> {
  const model = mlpModel([D], 32, 4, 'table', bounds, center);
  const { x, y } = await labelledByModel(model, N, 'table/data', lo, hi);
  return { model, x, y, xs: (await x.data()) as Float32Array };
}

async function attackAt(info: AttackInfo, f: Fixture, norm: NormName, extra: CommonAttackOptions = {}): Promise<EpsResult> {
  const many = await attackManyEps(info, f.model, f.x, f.y, [EPS[norm]], { ...FAST[info.name], norm, seed: 3, ...extra });
  return many.results[0] as EpsResult;
}

describe.each(TEST_BACKENDS)('every registered attack on %s', (backend) => {
  let unit: Fixture;
  let wide: Fixture;

  beforeAll(async () => {
    await activate(backend);
    unit = await fixture({ min: 0, max: 1 }, 0, 1, 0.5);
    wide = await fixture(WIDE, -0.5, 1.5, 0.5);
  });
  afterAll(() => {
    for (const f of [unit, wide]) {
      f.x.dispose();
      f.model.dispose();
    }
  });

  const cases = ATTACKS.flatMap((info) => info.norms.map((norm) => ({ name: info.name, norm, info })));

  it.each(cases)('$name ($norm): within eps and bounds, truthful, leak-free, and lowers accuracy', async ({ info, norm }) => {
    for (const [f, bounds] of [
      [unit, { min: 0, max: 1 }],
      [wide, WIDE],
    ] as const) {
      await noLeak(async () => {
        const r = await attackAt(info, f, norm);
        const adv = (await r.xAdv.data()) as Float32Array;
        const predT = tf.tidy(() => tf.argMax(f.model.predict(r.xAdv), 1));
        const pred = await predT.data();
        predT.dispose();
        r.xAdv.dispose();
        let correct = 0;
        for (let i = 0; i < N; i++) {
          const delta = new Float32Array(D);
          for (let j = 0; j < D; j++) {
            const k = i * D + j;
            const [lo, hi] = lowHigh(bounds, j);
            expect(adv[k]).toBeGreaterThanOrEqual(lo);
            expect(adv[k]).toBeLessThanOrEqual(hi);
            delta[j] = (adv[k] as number) - (f.xs[k] as number);
          }
          expect(normOf(delta, norm)).toBeLessThanOrEqual(EPS[norm] + 1e-6);
          expect(r.perturbation.linf[i]).toBeCloseTo(normOf(delta, 'linf'), 5);
          expect(r.perturbation.l2[i]).toBeCloseTo(normOf(delta, 'l2'), 5);
          expect(r.perturbation.l0[i]).toBe(normOf(delta, 'l0'));
          expect(r.isAdversarial[i]).toBe(pred[i] !== f.y[i] ? 1 : 0);
          if (pred[i] === f.y[i]) correct++;
        }
        // Labels are the model's own predictions, so clean accuracy is exactly 1.
        expect(correct / N).toBeLessThan(1);
      });
    }
  });

  it.each(ATTACKS)('$name: masked features stay bit-for-bit unchanged, free ones move', async (info) => {
    const mask = Float32Array.from({ length: D }, (_, j) => (j < D / 2 ? 0 : 1));
    await noLeak(async () => {
      const r = await attackAt(info, unit, info.norms[0] ?? 'linf', { mask });
      const adv = (await r.xAdv.data()) as Float32Array;
      r.xAdv.dispose();
      let moved = 0;
      for (let k = 0; k < adv.length; k++) {
        if (mask[k % D] === 0) expect(adv[k]).toBe(unit.xs[k]);
        else if (adv[k] !== unit.xs[k]) moved++;
      }
      expect(moved).toBeGreaterThan(0);
    });
  });

  it.each(ATTACKS)('$name: the same seed reproduces the result bit for bit', async (info) => {
    const runOnce = async () =>
      noLeak(async () => {
        const r = await attackAt(info, wide, info.norms[0] ?? 'linf', { seed: 'repeat' });
        const data = Array.from((await r.xAdv.data()) as Float32Array);
        r.xAdv.dispose();
        return { data, adv: Array.from(r.isAdversarial), g: r.gradientEvaluations, q: r.queries };
      });
    const a = await runOnce();
    const b = await runOnce();
    expect(b.data).toEqual(a.data);
    expect(b.adv).toEqual(a.adv);
    expect([b.g, b.q]).toEqual([a.g, a.q]);
  });

  it.each(ATTACKS.filter((a) => a.targeted))('$name targeted (random): a success means the prediction is the target', async (info) => {
    await noLeak(async () => {
      const many = await attackManyEps(info, unit.model, unit.x, unit.y, [EPS[info.norms[0] ?? 'linf'] * 2], {
        ...FAST[info.name],
        targeting: { kind: 'random' },
        seed: 5,
      });
      const r = many.results[0] as EpsResult;
      const predT = tf.tidy(() => tf.argMax(unit.model.predict(r.xAdv), 1));
      const pred = await predT.data();
      tf.dispose([predT, r.xAdv]);
      const targets = many.targets as Int32Array;
      expect(targets).not.toBeNull();
      for (let i = 0; i < N; i++) {
        expect(targets[i]).not.toBe(unit.y[i]);
        expect(r.isAdversarial[i]).toBe(pred[i] === targets[i] ? 1 : 0);
      }
      expect(r.isAdversarial.reduce((s, v) => s + v, 0)).toBeGreaterThan(0);
    });
  });
});

describe('registry', () => {
  it('lists every attack once, each with a paper, norms and defaults', () => {
    const names = attackNames();
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['fgsm', 'pgd', 'mifgsm', 'cw', 'deepfool']));
    for (const info of ATTACKS) {
      expect(info.paper).toMatch(/\d{4}/);
      expect(info.norms.length).toBeGreaterThan(0);
      expect(getAttack(info.name)).toBe(info);
    }
  });

  it('rejects an unknown name with a UsageError that lists the choices', () => {
    expect(() => getAttack('pgdd')).toThrow(UsageError);
    expect(() => getAttack('pgdd')).toThrow(/choose one of fgsm, pgd/);
  });
});

