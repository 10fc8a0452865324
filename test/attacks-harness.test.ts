import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { InputError, UsageError } from '../src/errors.js';
import { attackManyEps } from '../src/attacks/core/epsilons.js';
import { deepfool } from '../src/attacks/deepfool.js';
import { fgsm } from '../src/attacks/fgsm.js';
import { pgd } from '../src/attacks/pgd.js';
import { mifgsm } from '../src/attacks/mifgsm.js';
import { getAttack } from '../src/attacks/registry.js';
import { runAttack, summarize } from '../src/attacks/run.js';
import type { AttackResult } from '../src/attacks/core/types.js';
import type { Dataset } from '../src/data/types.js';
import type { Model } from '../src/models/types.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { labelledByModel, mlpModel } from './attacks.fixtures.js';

/** Early stop, several epsilons, exact work counts, the dataset runner, and the errors a user can meet. */

const D = 16;
const N = 40;
const STEPS = 20;

function robustSet(r: AttackResult): number[] {
  return Array.from(r.isAdversarial.keys()).filter((i) => !r.isAdversarial[i]);
}

function sum(a: Uint8Array): number {
  return a.reduce((s, v) => s + v, 0);
}

async function run<T extends AttackResult>(p: Promise<T>): Promise<T> {
  const r = await p;
  r.xAdv.dispose();
  return r;
}

describe.each(TEST_BACKENDS)('attack harness on %s', (backend) => {
  let model: Model;
  let x: tf.Tensor;
  let y: Int32Array;

  beforeAll(async () => {
    await activate(backend);
    model = mlpModel([D], 32, 4, 'harness');
    ({ x, y } = await labelledByModel(model, N, 'harness/data', 0, 1));
  });
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  describe('early stop', () => {
    it.each([
      ['pgd', { steps: STEPS }],
      ['pgd, two restarts', { steps: STEPS, restarts: 2 }],
      ['bim', { steps: STEPS, randomStart: false }],
      ['mifgsm', {}],
    ] as const)('%s: robust accuracy no higher than running every step, with strictly fewer gradients', async (label, opts) => {
      const attack = label === 'mifgsm' ? mifgsm : pgd;
      const eps = 0.08;
      const early = await noLeak(() => run(attack(model, x, y, { eps, seed: 9, ...opts })));
      const every = await noLeak(() => run(attack(model, x, y, { eps, seed: 9, ...opts, earlyStop: false })));
      // Same per-example trajectories: every example early stop leaves robust is robust without it too.
      expect(robustSet(every)).toEqual(expect.arrayContaining(robustSet(early)));
      expect(robustSet(early).length).toBeLessThanOrEqual(robustSet(every).length);
      expect(sum(early.isAdversarial)).toBeGreaterThan(0);
      expect(early.gradientEvaluations).toBeLessThan(every.gradientEvaluations);
    });

    it('counts work exactly: every step of every example without early stop, one clean pass and one final check', async () => {
      const every = await run(pgd(model, x, y, { eps: 0.08, steps: STEPS, earlyStop: false }));
      expect(every.gradientEvaluations).toBe(N * STEPS);
      expect(every.queries).toBe(N + N * STEPS + N);
      const once = await run(fgsm(model, x, y, { eps: 0.08 }));
      expect(once.gradientEvaluations).toBe(N);
      expect(once.queries).toBe(N + N + N);
    });

    it('spends no gradient on points the model already gets wrong', async () => {
      const wrong = Int32Array.from(y, (label, i) => (i < 10 ? (label + 1) % 4 : label));
      const r = await run(fgsm(model, x, wrong, { eps: 0.08 }));
      expect(r.gradientEvaluations).toBe(N - 10);
      for (let i = 0; i < 10; i++) {
        expect(r.isAdversarial[i]).toBe(1);
        expect(r.perturbation.linf[i]).toBe(0);
      }
    });

    it('keeps the best of several restarts: never fewer successes than the first restart alone', async () => {
      const one = await run(pgd(model, x, y, { eps: 0.06, steps: 10, seed: 4 }));
      const three = await run(pgd(model, x, y, { eps: 0.06, steps: 10, seed: 4, restarts: 3 }));
      expect(robustSet(one)).toEqual(expect.arrayContaining(robustSet(three)));
      expect(three.gradientEvaluations).toBeGreaterThan(one.gradientEvaluations);
    });
  });

  describe('several epsilons', () => {
    const epsList = [0.1, 0.03, 0.06];

    it('fixed-eps: results in the order given, robust accuracy monotone, and less work than separate runs', async () => {
      const info = getAttack('pgd');
      const many = await noLeak(async () => {
        const m = await attackManyEps(info, model, x, y, epsList, { steps: STEPS, seed: 2 });
        m.results.forEach((r) => r.xAdv.dispose());
        return m;
      });
      expect(many.results.map((r) => r.eps)).toEqual(epsList);
      const robust = (e: number) => N - sum(many.results[epsList.indexOf(e)]?.isAdversarial ?? new Uint8Array());
      expect(robust(0.03)).toBeGreaterThanOrEqual(robust(0.06));
      expect(robust(0.06)).toBeGreaterThanOrEqual(robust(0.1));
      expect(robust(0.03)).toBeGreaterThan(robust(0.1));
      many.results.forEach((r) => r.perturbation.linf.forEach((v) => expect(v).toBeLessThanOrEqual((r.eps as number) + 1e-6)));

      let gradients = 0;
      let queries = 0;
      for (const eps of epsList) {
        const r = await run(pgd(model, x, y, { eps, steps: STEPS, seed: 2 }));
        gradients += r.gradientEvaluations;
        queries += r.queries;
      }
      expect(many.gradientEvaluations).toBeLessThanOrEqual(gradients);
      // One shared clean pass instead of three.
      expect(many.queries).toBeLessThanOrEqual(queries - 2 * N);
    });

    it('minimum-norm: one deepfool run answers every eps, exactly as its distances say', async () => {
      const info = getAttack('deepfool');
      const single = await run(deepfool(model, x, y));
      const many = await noLeak(async () => {
        const m = await attackManyEps(info, model, x, y, epsList, {});
        m.results.forEach((r) => r.xAdv.dispose());
        return m;
      });
      expect(many.gradientEvaluations).toBe(single.gradientEvaluations);
      many.results.forEach((r) => {
        r.isAdversarial.forEach((a, i) => {
          const found = single.isAdversarial[i] === 1 && (single.perturbation.l2[i] as number) <= (r.eps as number);
          expect(a).toBe(found ? 1 : 0);
          expect(r.perturbation.l2[i]).toBeLessThanOrEqual((r.eps as number) + 1e-6);
        });
      });
      const none = await attackManyEps(info, model, x, y, null, {});
      expect(none.results.map((r) => r.eps)).toEqual([null]);
      none.results.forEach((r) => r.xAdv.dispose());
    });

    it('targets are drawn once, so every eps aims at the same ones', async () => {
      const many = await attackManyEps(getAttack('pgd'), model, x, y, [0.05, 0.1], { steps: 5, targeting: { kind: 'random' }, seed: 8 });
      many.results.forEach((r) => r.xAdv.dispose());
      const again = await attackManyEps(getAttack('pgd'), model, x, y, [0.1], { steps: 5, targeting: { kind: 'random' }, seed: 8 });
      again.results.forEach((r) => r.xAdv.dispose());
      expect(Array.from(again.targets ?? [])).toEqual(Array.from(many.targets ?? []));
    });
  });

  describe('runAttack over a dataset', () => {
    let dataset: Dataset;
    beforeAll(async () => {
      dataset = { x: (await x.data()) as Float32Array, y, shape: [D], n: N, source: 'synthetic', sha256: '' };
    });

    it('batches with progress, and matches one whole-batch call of a deterministic attack', async () => {
      const progress: number[][] = [];
      const report = await noLeak(() =>
        runAttack(model, dataset, { name: 'fgsm', eps: [0.05, 0.1] }, {
          batchSize: 16,
          keepAdversarial: true,
          onProgress: (done, total, robust) => progress.push([done, total, robust]),
        }),
      );
      expect(progress.map((p) => p.slice(0, 2))).toEqual([
        [16, N],
        [32, N],
        [40, N],
      ]);
      expect(report.cleanAccuracy).toBe(1);
      expect(report.n).toBe(N);
      const whole = await fgsm(model, x, y, { eps: 0.1 });
      const wholeX = (await whole.xAdv.data()) as Float32Array;
      whole.xAdv.dispose();
      // With one eps the batches see exactly what one whole-batch call sees (with two, points broken at
      // 0.05 keep that smaller perturbation at 0.1).
      const single = await runAttack(model, dataset, { name: 'fgsm', eps: [0.1] }, { batchSize: 16, keepAdversarial: true });
      expect(Array.from(single.results[0]?.xAdv ?? [])).toEqual(Array.from(wholeX));
      const one = single.results[0];
      expect(Array.from(one?.isAdversarial ?? [])).toEqual(Array.from(whole.isAdversarial));
      expect(one?.robustAccuracy).toBeCloseTo(1 - sum(whole.isAdversarial) / N, 10);
      expect(one?.attackSuccessRate).toBeCloseTo(sum(whole.isAdversarial) / N, 10);
      const at = report.results[1];
      expect(at?.eps).toBe(0.1);
      expect(at?.xAdv?.length).toBe(N * D);
      expect(at?.robustAccuracy).toBeLessThanOrEqual(one?.robustAccuracy ?? -1);
      expect(at?.robustAccuracy).toBeCloseTo(1 - (at?.attackSuccessRate ?? 2), 10);
      expect(progress[2]?.[2]).toBeCloseTo(at?.robustAccuracy ?? -1, 10);
      expect(at?.perturbation.linf.max).toBeLessThanOrEqual(0.1 + 1e-6);
      expect(report.results[0]?.robustAccuracy).toBeGreaterThanOrEqual(at?.robustAccuracy ?? 2);
      expect(report.timing.gradientEvaluations).toBeGreaterThan(0);
    });

    it('reports a minimum-norm attack without eps as one eps: null entry', async () => {
      const report = await runAttack(model, dataset, { name: 'deepfool', eps: null }, { batchSize: 64 });
      expect(report.results.map((r) => r.eps)).toEqual([null]);
      expect(report.results[0]?.attackSuccessRate).toBe(1);
      expect(report.results[0]?.perturbation.l2.median).toBeGreaterThan(0);
    });

    it('rejects a dataset whose examples do not fit the model', async () => {
      const bad = { ...dataset, shape: [4, 4] };
      await expect(runAttack(model, bad, { name: 'fgsm', eps: [0.1] })).rejects.toThrow(InputError);
    });
  });

  describe('errors a user can meet', () => {
    it.each([
      ['a fixed-eps attack without eps', () => pgd(model, x, y, {}), /needs an eps/],
      ['an unsupported norm', () => mifgsm(model, x, y, { eps: 0.1, norm: 'l1' }), /supports norm linf\|l2/],
      ['targeting an untargeted attack', () => deepfool(model, x, y, { targeting: { kind: 'random' } }), /no targeted mode/],
      ['a score-only model', () => fgsm({ ...model, access: 'scores' }, x, y, { eps: 0.1 }), /needs gradients/],
      ['zero steps', () => pgd(model, x, y, { eps: 0.1, steps: 0 }), /steps: expected a whole number >= 1/],
    ] as const)('%s is a UsageError', async (_label, call, message) => {
      await noLeak(async () => {
        await expect(Promise.resolve().then(call)).rejects.toThrow(UsageError);
        await expect(Promise.resolve().then(call)).rejects.toThrow(message);
      });
    });

    it('mismatched labels are an InputError', async () => {
      await expect(fgsm(model, x, y.subarray(1), { eps: 0.1 })).rejects.toThrow(InputError);
    });
  });
});

describe('summarize', () => {
  it('gives mean, median and max, and nulls for no values', () => {
    expect(summarize([3, 1, 2, 10])).toEqual({ mean: 4, median: 2.5, max: 10 });
    expect(summarize([])).toEqual({ mean: null, median: null, max: null });
  });
});
