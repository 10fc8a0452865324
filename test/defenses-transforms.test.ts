import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { boundTensors } from '../src/tensor/bounds.js';
import { makeRng } from '../src/tensor/random.js';
import type { Bounds } from '../src/models/types.js';
import { bitDepth } from '../src/defenses/bitDepth.js';
import { gaussianBlur, gaussianKernel } from '../src/defenses/gaussianBlur.js';
import { jpeg } from '../src/defenses/jpeg.js';
import { median } from '../src/defenses/median.js';
import { randomNoise } from '../src/defenses/noise.js';
import { resizePad } from '../src/defenses/resizePad.js';
import { totalVariation, totalVariationOf } from '../src/defenses/totalVariation.js';
import { bpda } from '../src/defenses/gradients.js';
import type { Defense, DefenseContext } from '../src/defenses/types.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { uniform, vjp } from './defenses.fixtures.js';

/** Run `fn` with a defence context for images of `shape`; no tensor may outlive it. */
async function withContext<T>(shape: number[], bounds: Bounds, fn: (ctx: DefenseContext) => T | Promise<T>): Promise<T> {
  return noLeak(async () => {
    const b = boundTensors(bounds, shape);
    try {
      return await fn({ inputShape: shape, bounds, lo: b.lo, hi: b.hi });
    } finally {
      tf.dispose([b.lo, b.hi]);
    }
  });
}

/** Apply `d` as deployed to one image [h, w, c] and read the result back. */
function run(d: Defense, ctx: DefenseContext, values: Float32Array, seed = 'draw'): Float32Array {
  return tf.tidy(() => d.apply(tf.tensor(values, [1, ...ctx.inputShape]), ctx, makeRng(seed)).dataSync() as Float32Array);
}

/** SciPy's `mode='reflect'`: mirror with the edge pixel repeated. */
const reflect = (i: number, n: number): number => (i < 0 ? -i - 1 : i >= n ? 2 * n - i - 1 : i);

/** Median filter by brute force: value and the input position each output pixel takes. */
function medianOracle(x: Float32Array, h: number, w: number, k: number): { value: Float32Array; from: Int32Array } {
  const before = Math.floor(k / 2);
  const value = new Float32Array(h * w);
  const from = new Int32Array(h * w);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) {
      const window: [number, number][] = [];
      for (let a = 0; a < k; a++)
        for (let b = 0; b < k; b++) {
          const p = reflect(i + a - before, h) * w + reflect(j + b - before, w);
          window.push([x[p] as number, p]);
        }
      window.sort((u, v) => u[0] - v[0]);
      const [v, p] = window[Math.floor((k * k) / 2)] as [number, number];
      value[i * w + j] = v;
      from[i * w + j] = p;
    }
  return { value, from };
}

describe.each(TEST_BACKENDS)('input transforms against hand-computed oracles, %s', (backend) => {
  beforeAll(() => activate(backend));
  const unit: Bounds = { min: 0, max: 1 };

  it.each([2, 3, 5])('median %i×%i equals the brute-force median with reflected borders', async (k) => {
    const [h, w] = [6, 7];
    // A permutation, so every window has one median pixel and the subgradient has one answer.
    const perm = Array.from({ length: h * w }, (_, i) => i);
    const rng = makeRng(`perm${k}`);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [perm[i], perm[j]] = [perm[j] as number, perm[i] as number];
    }
    const x = Float32Array.from(perm, (v) => v / (h * w));
    const oracle = medianOracle(x, h, w, k);
    await withContext([h, w, 1], unit, (ctx) => {
      const d = median({ size: k });
      expect(Array.from(run(d, ctx, x))).toEqual(Array.from(oracle.value));
      // The naive gradient is the subgradient: each output pixel passes its weight to the pixel it took.
      const weights = uniform(h * w, `w${k}`);
      const expected = new Float32Array(h * w);
      oracle.from.forEach((p, o) => (expected[p] = (expected[p] as number) + (weights[o] as number)));
      const g = vjp((v) => d.apply(v, ctx, makeRng(0)), x, [1, h, w, 1], weights);
      for (let i = 0; i < g.length; i++) expect(g[i]).toBeCloseTo(expected[i] as number, 5);
    });
  });

  it('median filters each channel on its own', async () => {
    const [h, w] = [4, 4];
    const a = uniform(h * w, 'ch0');
    const b = uniform(h * w, 'ch1');
    const x = new Float32Array(h * w * 2);
    for (let p = 0; p < h * w; p++) [x[2 * p], x[2 * p + 1]] = [a[p] as number, b[p] as number];
    await withContext([h, w, 2], unit, (ctx) => {
      const y = run(median({ size: 3 }), ctx, x);
      const [ma, mb] = [medianOracle(a, h, w, 3).value, medianOracle(b, h, w, 3).value];
      for (let p = 0; p < h * w; p++) expect([y[2 * p], y[2 * p + 1]]).toEqual([ma[p], mb[p]]);
    });
  });

  it('bit depth maps onto 2^bits evenly spaced levels across the bounds; its naive gradient is zero', async () => {
    const x = Float32Array.of(0, 0.1, 0.2, 0.5, 0.51, 0.6, 0.8, 1);
    await withContext([8], unit, (ctx) => {
      expect(Array.from(run(bitDepth({ bits: 1 }), ctx, x))).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
      const two = run(bitDepth({ bits: 2 }), ctx, x);
      // x·3 = 0, 0.3, 0.6, 1.5, 1.53, 1.8, 2.4, 3 → levels 0, 0, 1, 2 (a tie, to even), 2, 2, 2, 3 (of 3).
      [0, 0, 1, 2, 2, 2, 2, 3].forEach((level, i) => expect(two[i]).toBeCloseTo(level / 3, 6));
      const g = vjp((v) => bitDepth({ bits: 2 }).apply(v, ctx, makeRng(0)), x, [1, 8], uniform(8, 'w'));
      expect(Array.from(g)).toEqual(new Array(8).fill(0));
    });
    // Bounds [-1, 1]: the same levels, rescaled.
    await withContext([3], { min: -1, max: 1 }, (ctx) => {
      const y = run(bitDepth({ bits: 2 }), ctx, Float32Array.of(-1, -0.2, 0.9));
      [-1, -1 / 3, 1].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 6));
    });
  });

  it('BPDA: forward is the real transform, backward the identity or the given approximation', async () => {
    await withContext([5], unit, () => {
      const x = Float32Array.of(0.1, 0.4, 0.6, 0.7, 0.95);
      const w = uniform(5, 'bpda');
      const squeeze = (v: tf.Tensor) => tf.round(v);
      const identity = bpda(squeeze);
      const doubled = bpda(squeeze, (v) => tf.mul(v, 2));
      for (const f of [identity, doubled]) expect(Array.from(tf.tidy(() => f(tf.tensor(x, [1, 5])).dataSync()))).toEqual([0, 0, 1, 1, 1]);
      expect(Array.from(vjp(identity, x, [1, 5], w))).toEqual(Array.from(w));
      vjp(doubled, x, [1, 5], w).forEach((g, i) => expect(g).toBeCloseTo(2 * (w[i] as number), 6));
      // Without BPDA the same squeeze has a zero gradient: what BPDA replaces.
      expect(Array.from(vjp(squeeze, x, [1, 5], w))).toEqual([0, 0, 0, 0, 0]);
    });
  });

  it('Gaussian blur: a kernel that sums to 1 and is symmetric, equal to direct convolution, with the exact gradient', async () => {
    const kernel = gaussianKernel(1, 5);
    expect(kernel.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 6);
    for (let i = 0; i < 5; i++)
      for (let j = 0; j < 5; j++) {
        expect(kernel[i * 5 + j]).toBeCloseTo(kernel[j * 5 + i] as number, 7);
        expect(kernel[i * 5 + j]).toBeCloseTo(kernel[(4 - i) * 5 + j] as number, 7);
      }
    expect(kernel[12]).toBeGreaterThan(kernel[11] as number); // peaked at the centre
    const [h, w, c] = [6, 5, 2];
    const x = uniform(h * w * c, 'blur');
    await withContext([h, w, c], unit, (ctx) => {
      const d = gaussianBlur({ sigma: 1, size: 5 });
      const y = run(d, ctx, x);
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++)
          for (let ch = 0; ch < c; ch++) {
            let s = 0;
            for (let a = 0; a < 5; a++)
              for (let b = 0; b < 5; b++) s += (kernel[a * 5 + b] as number) * (x[(reflect(i + a - 2, h) * w + reflect(j + b - 2, w)) * c + ch] as number);
            expect(y[(i * w + j) * c + ch]).toBeCloseTo(s, 5);
          }
      expect(Array.from(run(d, ctx, new Float32Array(h * w * c).fill(0.3))).every((v) => Math.abs(v - 0.3) < 1e-6)).toBe(true);
      // Linear, so a central difference is exact up to rounding.
      const weights = uniform(h * w * c, 'bw');
      const g = vjp((v) => d.apply(v, ctx, makeRng(0)), x, [1, h, w, c], weights);
      for (const f of [0, 7, 33, 59]) {
        const bump = (delta: number) => {
          const xs = Float32Array.from(x);
          xs[f] = (xs[f] as number) + delta;
          return run(d, ctx, xs).reduce((a, v, i) => a + v * (weights[i] as number), 0);
        };
        expect(g[f]).toBeCloseTo((bump(0.05) - bump(-0.05)) / 0.1, 3);
      }
    });
  });

  it('JPEG: a close round trip at quality 100, a coarser one at quality 10, for grey and RGB images; zero naive gradient', async () => {
    const [h, w] = [16, 16];
    // A smooth image, what JPEG is made for.
    const smooth = (c: number) => Float32Array.from({ length: h * w * c }, (_, f) => {
      const p = Math.floor(f / c);
      return 0.5 + 0.4 * Math.sin((p % w) / 3 + (f % c)) * Math.cos(Math.floor(p / w) / 4);
    });
    for (const c of [1, 3]) {
      const x = smooth(c);
      await withContext([h, w, c], unit, (ctx) => {
        const err = (q: number) => run(jpeg({ quality: q }), ctx, x).reduce((m, v, i) => Math.max(m, Math.abs(v - (x[i] as number))), 0);
        const fine = err(100);
        expect(fine).toBeLessThan(0.03);
        expect(err(10)).toBeGreaterThan(fine);
        const g = vjp((v) => jpeg({ quality: 75 }).apply(v, ctx, makeRng(0)), x, [1, h, w, c], uniform(h * w * c, 'jw'));
        expect(g.every((v) => v === 0)).toBe(true);
      });
    }
    // Other bounds: the image is mapped to bytes and back, so outputs stay within them.
    await withContext([8, 8, 1], { min: -1, max: 1 }, (ctx) => {
      const y = run(jpeg({ quality: 50 }), ctx, uniform(64, 'pm', -1, 1));
      expect(y.every((v) => v >= -1 && v <= 1)).toBe(true);
    });
  });

  it('TV minimisation: lowers total variation and the ROF energy, keeps constants, and matches the closed form on a step', async () => {
    const [h, w] = [10, 12];
    const x = uniform(h * w, 'tv');
    const weight = 0.1;
    await withContext([h, w, 1], unit, (ctx) => {
      const y = run(totalVariation({ weight, steps: 30 }), ctx, x);
      const [tvx, tvy] = tf.tidy(() => [tf.tensor(x, [1, h, w, 1]), tf.tensor(y, [1, h, w, 1])].map((t) => totalVariationOf(t as tf.Tensor4D).dataSync()[0] as number));
      expect(tvy).toBeLessThan(0.5 * (tvx as number));
      const fidelity = y.reduce((a, v, i) => a + (v - (x[i] as number)) ** 2, 0) / (2 * weight);
      expect(fidelity + (tvy as number)).toBeLessThan(tvx as number); // E(u) < E(x) = TV(x)
      expect(run(totalVariation(), ctx, new Float32Array(h * w).fill(0.4)).every((v) => Math.abs(v - 0.4) < 1e-6)).toBe(true);
    });
    // Rows identical: per row the 1-D ROF problem, whose plateaus of length L move by λ/L towards each other.
    const [a, b, half] = [0.2, 0.8, 4];
    const step = Float32Array.from({ length: 3 * 2 * half }, (_, f) => (f % (2 * half) < half ? a : b));
    await withContext([3, 2 * half, 1], unit, (ctx) => {
      const y = run(totalVariation({ weight, steps: 400 }), ctx, step);
      y.forEach((v, f) => expect(v).toBeCloseTo(f % (2 * half) < half ? a + weight / half : b - weight / half, 3));
    });
  });

  it('random noise: seeded draws of the right scale, fresh on every call', async () => {
    const shape = [20, 20, 1];
    await withContext(shape, unit, (ctx) => {
      const d = randomNoise({ sigma: 0.3 });
      const zeros = new Float32Array(400).fill(0.5);
      const first = run(d, ctx, zeros, 'seed');
      expect(Array.from(run(d, ctx, zeros, 'seed'))).toEqual(Array.from(first));
      expect(Array.from(run(d, ctx, zeros, 'other'))).not.toEqual(Array.from(first));
      const mean = first.reduce((s, v) => s + v, 0) / 400;
      const sd = Math.sqrt(first.reduce((s, v) => s + (v - mean) ** 2, 0) / 399);
      expect(Math.abs(mean - 0.5)).toBeLessThan((4 * 0.3) / 20);
      expect(Math.abs(sd - 0.3)).toBeLessThan(0.05);
    });
  });

  it('random resize and pad: keeps the shape, keeps a constant image at the lower bound, blends in padding elsewhere', async () => {
    const [h, w] = [12, 12];
    await withContext([h, w, 1], unit, (ctx) => {
      const d = resizePad({ ratio: 1.25 });
      const rng = makeRng('rp');
      const out = tf.tidy(() => d.apply(tf.ones([6, h, w, 1]), ctx, rng).dataSync() as Float32Array);
      expect(out.length).toBe(6 * h * w);
      expect(out.every((v) => v >= 0 && v <= 1 + 1e-6)).toBe(true);
      const extra = Math.round(h * 0.25);
      for (let r = 0; r < 6; r++) {
        const mean = out.subarray(r * h * w, (r + 1) * h * w).reduce((s, v) => s + v, 0) / (h * w);
        expect(mean).toBeLessThan(1); // at least one row and column of padding
        expect(mean).toBeGreaterThan((h / (h + extra)) ** 2 - 0.05);
      }
      const means = Array.from({ length: 6 }, (_, r) => out.subarray(r * h * w, (r + 1) * h * w).reduce((s, v) => s + v, 0));
      expect(new Set(means.map((m) => m.toFixed(4))).size).toBeGreaterThan(1); // rows got different draws
      expect(run(d, ctx, new Float32Array(h * w), 'z').every((v) => v === 0)).toBe(true);
    });
  });

  afterAll(() => undefined);
});
