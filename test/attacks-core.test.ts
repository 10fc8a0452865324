import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { crossEntropy, dlr, margin } from '../src/attacks/core/losses.js';
import { exactSign, l1, l2, linf } from '../src/attacks/core/norms.js';
import { makeRng } from '../src/tensor/random.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';

/** The attack core's numerics, against closed forms, on every backend. */

async function values(t: tf.Tensor): Promise<number[]> {
  const v = Array.from(await t.data());
  t.dispose();
  return v;
}

describe.each(TEST_BACKENDS)('attack core on %s', (backend) => {
  beforeAll(async () => {
    await activate(backend);
  });

  it('dlr matches its closed form and has a gradient (TopK has none in TF.js), checked by finite differences', async () => {
    const rows = [
      [3, 1, 0.5, -1, 2],
      [0.2, 4, 1, 1.5, -2],
    ];
    const y = [0, 3];
    const t = [4, 0];
    // Untargeted: −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3); targeted: −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2).
    const closed = rows.map((r, i) => {
      const s = [...r].sort((a, b) => b - a);
      const zy = r[y[i]!]!;
      const other = Math.max(...r.filter((_, j) => j !== y[i]));
      return [-(zy - other) / (s[0]! - s[2]!), -(zy - r[t[i]!]!) / (s[0]! - (s[2]! + s[3]!) / 2)];
    });
    const z = tf.tensor2d(rows);
    const yt = tf.tensor1d(y, 'int32');
    const tt = tf.tensor1d(t, 'int32');
    const u = await values(dlr(z, yt));
    const v = await values(dlr(z, yt, tt));
    closed.forEach(([a, b], i) => {
      expect(u[i]).toBeCloseTo(a!, 5);
      expect(v[i]).toBeCloseTo(b!, 5);
    });
    const f = (m: tf.Tensor) => tf.sum(dlr(m as tf.Tensor2D, yt, tt));
    const g = Array.from(await tf.grad(f)(z).data());
    const h = 1e-2;
    for (let k = 0; k < 10; k++) {
      const bump = (d: number) => tf.tidy(() => f(tf.add(z, tf.mul(tf.reshape(tf.oneHot(tf.tensor1d([k], 'int32'), 10), [2, 5]), d))).dataSync()[0]!);
      expect(g[k]).toBeCloseTo((bump(h) - bump(-h)) / (2 * h), 2);
    }
    tf.dispose([z, yt, tt]);
  });

  it('exactSign keeps the sign of values far below 1e-7 (the wasm Sign kernel rounds them to 0)', async () => {
    const t = tf.tensor1d([1e-14, -1e-14, 1e-8, -3e-30, 0, 2, -0.5]);
    expect(await values(exactSign(t))).toEqual([1, -1, 1, -1, 0, 1, -1]);
    t.dispose();
  });

  it('crossEntropy equals −log softmax_y, and its gradient softmax − onehot, for moderate logits', async () => {
    const z = tf.tensor2d([
      [1, 2, 0.5],
      [-1, 0.3, 4],
    ]);
    const y = tf.tensor1d([2, 0], 'int32');
    const p = [
      [1, 2, 0.5].map((v) => Math.exp(v)),
      [-1, 0.3, 4].map((v) => Math.exp(v)),
    ].map((row) => row.map((v) => v / row.reduce((a, b) => a + b, 0)));
    await noLeak(async () => {
      const ce = await values(crossEntropy(z, y));
      expect(ce[0]).toBeCloseTo(-Math.log(p[0]?.[2] as number), 5);
      expect(ce[1]).toBeCloseTo(-Math.log(p[1]?.[0] as number), 5);
      const g = await values(tf.grad((v: tf.Tensor) => tf.sum(crossEntropy(v as tf.Tensor2D, y)))(z));
      const want = [0, 1].flatMap((i) => [0, 1, 2].map((j) => (p[i]?.[j] as number) - (j === [2, 0][i] ? 1 : 0)));
      g.forEach((v, k) => expect(v).toBeCloseTo(want[k] as number, 5));
    });
    tf.dispose([z, y]);
  });

  it('crossEntropy stays exact for a confident model: value log1p(e^−30), gradient ±e^−30 (not 0)', async () => {
    const z = tf.tensor2d([[30, 0, -10]]);
    const y = tf.tensor1d([0], 'int32');
    await noLeak(async () => {
      const [ce] = await values(crossEntropy(z, y));
      const tiny = Math.exp(-30) + Math.exp(-40);
      expect(ce).toBeGreaterThan(0);
      expect(Math.abs((ce as number) / tiny - 1)).toBeLessThan(1e-3);
      const g = await values(tf.grad((v: tf.Tensor) => tf.sum(crossEntropy(v as tf.Tensor2D, y)))(z));
      expect(Math.abs((g[0] as number) / -tiny - 1)).toBeLessThan(1e-3);
      expect(Math.abs((g[1] as number) / Math.exp(-30) - 1)).toBeLessThan(1e-3);
    });
    tf.dispose([z, y]);
  });

  it('margin is max_{j≠y} z_j − z_y, and its negation when targeted', async () => {
    const z = tf.tensor2d([[1, 5, 3]]);
    const y = tf.tensor1d([1], 'int32');
    expect(await values(margin(z, y))).toEqual([-2]);
    expect(await values(margin(z, y, true))).toEqual([2]);
    tf.dispose([z, y]);
  });

  it.each([
    ['linf', linf],
    ['l2', l2],
    ['l1', l1],
  ] as const)('%s: projection lands in the ball and fixes points already inside; random starts lie in the ball', async (_name, norm) => {
    await noLeak(async () => {
      const rng = makeRng(1);
      const big = tf.tidy(() => tf.mul(rng.normal([6, 10]), 3));
      const eps = 0.7;
      const projected = norm.project(big, eps);
      (await values(norm.distance(projected))).forEach((d) => expect(d).toBeLessThanOrEqual(eps * (1 + 1e-6)));
      // Projection is idempotent: a point inside the ball does not move.
      const again = norm.project(projected, eps);
      const a = await values(again);
      const b = await values(tf.clone(projected));
      a.forEach((v, k) => expect(v).toBeCloseTo(b[k] as number, 6));
      const radius = tf.tensor1d(new Array<number>(6).fill(eps));
      const start = norm.randomStart([6, 10], radius, rng);
      (await values(norm.distance(start))).forEach((d) => expect(d).toBeLessThanOrEqual(eps * (1 + 1e-6)));
      tf.dispose([big, projected, start, radius]);
    });
  });

  it('l1 projection is the Euclidean projection (Duchi et al. 2008): matches soft-thresholding', async () => {
    const v = [3, -1, 0.5, -2, 0.1];
    const eps = 2;
    // Closed form: theta solves Σ max(|v_i| − θ, 0) = eps; here |v| sorted 3, 2, 1, 0.5, 0.1 → θ = 1.5.
    const theta = 1.5;
    const want = v.map((x) => Math.sign(x) * Math.max(Math.abs(x) - theta, 0));
    const t = tf.tensor2d([v]);
    const got = await values(l1.project(t, eps));
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i] as number, 5));
    t.dispose();
  });
});
