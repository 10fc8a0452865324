import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import type { Model } from '../src/models/types.js';
import { square, squareFraction } from '../src/attacks/square.js';
import { apgd } from '../src/attacks/apgd.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { binaryLinear, labelledByModel, mlpModel, normals } from './attacks.fixtures.js';

/**
 * A scores-only view of `inner`: its logits pass through a custom gradient that throws, so any
 * gradient an attack asks for fails loudly, and every query is counted (rows of each predict call).
 */
function scoresOnly(inner: Model, shape = inner.inputShape): Model & { rows: number } {
  const noGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: () => {
      throw new Error('square asked for a gradient');
    },
  }));
  const wrapped = {
    ...inner,
    inputShape: shape,
    access: 'scores' as const,
    rows: 0,
    predict: (x: tf.Tensor) => {
      wrapped.rows += x.shape[0] ?? 0;
      return tf.tidy(() => noGradient(inner.predict(x)) as tf.Tensor2D);
    },
  };
  return wrapped;
}

/** Per-example closed-form distances of the binary linear model f(x) = w·x + c. */
async function distances(w: number[], c: number, x: tf.Tensor): Promise<{ linf: Float32Array; l2: Float32Array }> {
  const d = w.length;
  const xs = await x.data();
  const n = xs.length / d;
  const l1 = w.reduce((a, v) => a + Math.abs(v), 0);
  const l2 = Math.hypot(...w);
  const f = Array.from({ length: n }, (_, i) => Math.abs(w.reduce((a, wi, j) => a + wi * (xs[i * d + j] ?? 0), c)));
  return { linf: Float32Array.from(f, (v) => v / l1), l2: Float32Array.from(f, (v) => v / l2) };
}

describe('squareFraction', () => {
  it('halves p after 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 of 10 000 queries, rescaled', () => {
    expect([0, 10, 11, 50, 51, 200, 201, 8000, 8001].map((i) => squareFraction(i, 10000))).toEqual([
      0.8, 0.8, 0.4, 0.4, 0.2, 0.2, 0.1, 0.8 / 256, 0.8 / 512,
    ]);
    // With 1000 queries the same schedule runs ten times faster: iteration 2 is "iteration 20".
    expect(squareFraction(2, 1000)).toBe(0.4);
  });
});

describe.each(TEST_BACKENDS)('square on %s', (backend) => {
  beforeAll(async () => activate(backend));

  const w = normals(12, 'square/w').map((v) => v + Math.sign(v) * 0.2);
  const c = 0.1;

  for (const shape of [[12], [2, 3, 2]]) {
    it(`linf on a linear model of shape [${shape.join(', ')}]: reaches the boundary within its budget, without gradients`, async () => {
      const model = scoresOnly(binaryLinear(w, c), shape);
      const { x, y } = await labelledByModel(model, 10, 'square/x', -1, 1);
      const dist = await distances(w, c, x);
      const queries = 400;
      for (const [factor, expected] of [[1.05, 1], [0.95, 0]] as const) {
        model.rows = 0;
        const eps = Float32Array.from(dist.linf, (v) => v * factor);
        const r = await square(model, x, y, { eps, queries, seed: 3 });
        expect(Array.from(r.isAdversarial)).toEqual(new Array<number>(10).fill(expected));
        r.perturbation.linf.forEach((v, i) => expect(v).toBeLessThanOrEqual((eps[i] ?? 0) + 1e-6));
        // Exact count: every row the model saw, and within budget (clean pass + search + final check).
        expect(r.queries).toBe(model.rows);
        expect(r.gradientEvaluations).toBe(0);
        if (expected === 0) expect(r.queries).toBe(10 * (queries + 2));
        else expect(r.queries).toBeLessThan(10 * (queries + 2));
        r.xAdv.dispose();
      }
      x.dispose();
      model.dispose();
    });
  }

  it('l2 on a linear model: succeeds above the closed-form distance, stays within eps', async () => {
    const model = scoresOnly(binaryLinear(w, c), [12]);
    const { x, y } = await labelledByModel(model, 10, 'square/x2', -1, 1);
    const dist = await distances(w, c, x);
    const eps = Float32Array.from(dist.l2, (v) => v * 1.3);
    model.rows = 0;
    const r = await square(model, x, y, { eps, queries: 1000, norm: 'l2' });
    expect(Array.from(r.isAdversarial)).toEqual(new Array<number>(10).fill(1));
    r.perturbation.l2.forEach((v, i) => expect(v).toBeLessThanOrEqual((eps[i] ?? 0) + 1e-6));
    expect(r.queries).toBe(model.rows);
    tf.dispose([r.xAdv, x]);
    model.dispose();
  });

  it('on an MLP with image inputs: within eps, bounds and mask, seeded bit for bit, no leaks', async () => {
    const inner = mlpModel([6, 6, 2], 24, 5, 'square/mlp');
    const model = scoresOnly(inner);
    const { x, y } = await labelledByModel(model, 12, 'square/mx', 0, 1);
    const mask = Float32Array.from({ length: 72 }, (_, f) => (f % 5 === 0 ? 0 : 1));
    for (const norm of ['linf', 'l2'] as const) {
      const eps = norm === 'linf' ? 0.15 : 1.0;
      const opts = { eps, norm, queries: 300, mask, seed: 11 };
      const first = await noLeak(async () => {
        const r = await square(model, x, y, opts);
        const data = await r.xAdv.data();
        r.xAdv.dispose();
        return { ...r, data };
      });
      const again = await square(model, x, y, opts);
      const data2 = await again.xAdv.data();
      expect(Buffer.from(first.data.buffer).equals(Buffer.from(data2.buffer))).toBe(true);
      expect(first.queries).toBe(again.queries);
      const x0 = await x.data();
      first.data.forEach((v, f) => {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        if (mask[f % 72] === 0) expect(v).toBe(x0[f]);
      });
      first.perturbation[norm].forEach((v) => expect(v).toBeLessThanOrEqual(eps + 1e-6));
      expect(first.isAdversarial.some((a) => a === 1)).toBe(true);
      const other = await square(model, x, y, { ...opts, seed: 12 });
      expect(Buffer.from(first.data.buffer).equals(Buffer.from((await other.xAdv.data()).buffer))).toBe(false);
      tf.dispose([again.xAdv, other.xAdv]);
    }
    x.dispose();
    model.dispose();
  });

  it('per-example streams: attacking a subset with its exampleIds reproduces the full run', async () => {
    const model = scoresOnly(mlpModel([8], 16, 4, 'square/sub'));
    const { x, y } = await labelledByModel(model, 10, 'square/sx', 0, 1);
    const opts = { eps: 0.1, queries: 200, seed: 5 };
    const full = await square(model, x, y, opts);
    const pick = [1, 4, 7];
    const xs = tf.gather(x, tf.tensor1d(pick, 'int32'));
    const part = await square(model, xs, Int32Array.from(pick, (i) => y[i] ?? 0), { ...opts, exampleIds: pick });
    const a = await full.xAdv.data();
    const b = await part.xAdv.data();
    pick.forEach((i, j) => {
      expect(Array.from(b.subarray(j * 8, (j + 1) * 8))).toEqual(Array.from(a.subarray(i * 8, (i + 1) * 8)));
      expect(part.isAdversarial[j]).toBe(full.isAdversarial[i]);
    });
    tf.dispose([full.xAdv, part.xAdv, xs, x]);
    model.dispose();
  });

  it('refuses what it cannot do, and gradient attacks refuse a scores-only model', async () => {
    const model = scoresOnly(binaryLinear(w, c));
    const { x, y } = await labelledByModel(model, 2, 'square/r', -1, 1);
    await expect(square(model, x, y, {})).rejects.toThrow(/needs an eps/);
    await expect(square(model, x, y, { eps: 0.1, queries: 1 })).rejects.toThrow(/queries/);
    const five = tf.zeros([1, 1, 2, 3, 2]);
    await expect(square({ ...model, inputShape: [1, 2, 3, 2] }, five, Int32Array.of(0), { eps: 0.1 })).rejects.toThrow(/\[h, w, c\]/);
    five.dispose();
    await expect(apgd(model, x, y, { eps: 0.1 })).rejects.toThrow(/needs gradients/);
    x.dispose();
    model.dispose();
  });
});
