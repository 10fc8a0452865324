import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAttack } from '../src/attacks/run.js';
import { loadDataset, type LoadedDataset } from '../src/data/index.js';
import { loadModel, type LoadedModel } from '../src/models/load.js';
import { TEST_BACKENDS, activate } from './helpers/backends.js';
import { tf } from '../src/tf.js';
import { apgd, apgdT } from '../src/attacks/apgd.js';
import { square } from '../src/attacks/square.js';
import { autoattack } from '../src/attacks/autoattack.js';

/**
 * The attacks against robust's reference MNIST CNN (undefended, ~98% clean accuracy). Early stop does
 * most of the saving: an undefended model falls within a few PGD steps at eps 0.3.
 */

const MODEL = 'models/mnist-cnn/model.json';
const HAVE_MODEL = existsSync(MODEL);
/**
 * Digits per backend. The cpu backend needs ~0.2 s per image gradient of this CNN, so 60 digits keep
 * it near a minute; wasm takes ~10 ms. The same digits on both make the cross-backend comparison
 * exact in what it compares.
 */
const N = 60;
/** "Within 1 point", and at least one digit, since with N < 100 one digit is more than a point. */
const AGREE = Math.max(0.01, 1 / N) + 1e-9;

/** Robust accuracy per backend of the same seeded attacks, compared after both backends ran. */
const robustBy = new Map<string, { pgd: number; fgsm: number }>();

describe.each(TEST_BACKENDS)('attacks on models/mnist-cnn, %s', (backend) => {
  let model: LoadedModel;
  let data: LoadedDataset;
  const seen = { pgd: Number.NaN, fgsm: Number.NaN };

  beforeAll(async () => {
    if (!HAVE_MODEL) return;
    await activate(backend);
    model = await loadModel(MODEL);
    data = await loadDataset('mnist:test', { n: N });
  });
  afterAll(() => {
    if (HAVE_MODEL) {
      model.dispose();
      robustBy.set(backend, seen);
    }
  });

  it.skipIf(!HAVE_MODEL)(`PGD-40 at eps 0.3 takes robust accuracy to at most 2% (skipped without ${MODEL})`, async () => {
    const report = await runAttack(model, data, { name: 'pgd', eps: [0.3], options: { steps: 40, seed: 0 } });
    expect(report.cleanAccuracy).toBeGreaterThan(0.95);
    seen.pgd = report.results[0]?.robustAccuracy ?? Number.NaN;
    expect(seen.pgd).toBeLessThanOrEqual(0.02);
    expect(report.results[0]?.perturbation.linf.max).toBeLessThanOrEqual(0.3 + 1e-6);
  });

  it.skipIf(!HAVE_MODEL)(`FGSM at eps 0.1, 0.2, 0.3 gives monotone non-increasing accuracy (skipped without ${MODEL})`, async () => {
    // Separate runs, so the monotonicity is the attack's own and not the multi-eps reuse's.
    const robust: number[] = [];
    for (const eps of [0.1, 0.2, 0.3]) {
      const report = await runAttack(model, data, { name: 'fgsm', eps: [eps] });
      robust.push(report.results[0]?.robustAccuracy ?? Number.NaN);
    }
    seen.fgsm = robust[0] as number;
    expect(robust[0]).toBeGreaterThanOrEqual(robust[1] as number);
    expect(robust[1]).toBeGreaterThanOrEqual(robust[2] as number);
    expect(robust[0]).toBeGreaterThan(robust[2] as number);
  });
});

describe('attacks on models/mnist-cnn across backends', () => {
  it.skipIf(!HAVE_MODEL)(`the same seeded attacks give the same robust accuracy on cpu and wasm (skipped without ${MODEL})`, () => {
    // PGD at eps 0.3 drives both to ~0, so FGSM at eps 0.1 (mid-range robust accuracy, where a wrong
    // gradient kernel shows) is compared too.
    const [a, b] = TEST_BACKENDS.map((name) => robustBy.get(name));
    for (const key of ['pgd', 'fgsm'] as const) {
      expect(a?.[key]).toBeTypeOf('number');
      expect(Math.abs((a?.[key] ?? Number.NaN) - (b?.[key] ?? Number.NaN))).toBeLessThanOrEqual(AGREE);
    }
  });
});

describe('autoattack on models/mnist-cnn (wasm)', () => {
  it.skipIf(!HAVE_MODEL)(`is never weaker than its strongest component run alone (skipped without ${MODEL})`, async () => {
    await activate('wasm');
    const model = await loadModel(MODEL);
    const data = await loadDataset('mnist:test', { n: 20 });
    const x = tf.tensor(data.x, [data.n, ...data.shape]);
    const budget = { steps: 10, targetClasses: 3, queries: 100, seed: 5 };
    const eps = 0.08;
    const alone = [
      await apgd(model, x, data.y, { eps, steps: budget.steps, seed: budget.seed }),
      await apgdT(model, x, data.y, { eps, steps: budget.steps, targetClasses: budget.targetClasses, seed: budget.seed }),
      await square(model, x, data.y, { eps, queries: budget.queries, seed: budget.seed }),
    ];
    const aa = await autoattack(model, x, data.y, { eps, ...budget });
    const broken = (r: { isAdversarial: Uint8Array }) => r.isAdversarial.reduce((s, v) => s + v, 0);
    expect(broken(aa)).toBeGreaterThanOrEqual(Math.max(...alone.map(broken)));
    for (const r of alone) r.isAdversarial.forEach((v, i) => v && expect(aa.isAdversarial[i]).toBe(1));
    tf.dispose([x, aa.xAdv, ...alone.map((r) => r.xAdv)]);
    model.dispose();
  });
});

/** ~15 s each on 2 idle cores; several times that on a machine shared with other jobs. */
const SLOW = 600_000;

describe('minimum-norm attacks on models/mnist-cnn (wasm)', () => {
  let model: LoadedModel;
  let data: LoadedDataset;
  let deepfoolL2: number;
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
  const brokenL2 = (r: Awaited<ReturnType<typeof runAttack>>) => {
    const e = r.results[0];
    return e ? Array.from(e.norms.l2).filter((_, i) => r.cleanCorrect[i] && e.isAdversarial[i]) : [];
  };
  beforeAll(async () => {
    if (!HAVE_MODEL) return;
    await activate('wasm');
    model = await loadModel(MODEL);
    data = await loadDataset('mnist:test', { n: 10 });
    deepfoolL2 = median(brokenL2(await runAttack(model, data, { name: 'deepfool', eps: null })));
  });
  afterAll(() => {
    if (HAVE_MODEL) model.dispose();
  });

  it.skipIf(!HAVE_MODEL)(`cw with its defaults fools every digit, at a median L2 below 0.9× DeepFool's (skipped without ${MODEL})`, async () => {
    // 81% of MNIST pixels sit at 0 or 1; the tanh box froze them and fooled about half the digits.
    const r = await runAttack(model, data, { name: 'cw', eps: null });
    expect(r.results[0]?.attackSuccessRate).toBe(1);
    expect(median(brokenL2(r))).toBeLessThanOrEqual(0.9 * deepfoolL2);
  }, SLOW);

  it.skipIf(!HAVE_MODEL).each(['ddn', 'fmn'])(`%s (l2) with its defaults fools every digit, at a median L2 no larger than DeepFool's (skipped without ${MODEL})`, async (name) => {
    const r = await runAttack(model, data, { name, norm: 'l2', eps: null });
    expect(r.results[0]?.attackSuccessRate).toBe(1);
    expect(median(brokenL2(r))).toBeLessThanOrEqual(deepfoolL2);
  }, SLOW);
});
