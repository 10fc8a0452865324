import { describe, expect, it } from 'vitest';
import seedrandom from 'seedrandom';
import { correctFlags } from '../src/metrics/accuracy.js';
import {
  binomialInterval,
  clopperPearsonInterval,
  inverseRegularizedIncompleteBeta,
  normalCdf,
  normalQuantile,
  regularizedIncompleteBeta,
  wilsonInterval,
} from '../src/metrics/confidence.js';
import { attackSuccessRate, cleanAccuracy, proportion, robustAccuracy, robustAccuracyFromFlags, robustFlags, worstCase } from '../src/metrics/rates.js';
import { percentile, perturbationStats, summarize } from '../src/metrics/norms.js';
import { curveArea, minimalPerturbationSummary, robustnessCurve, worstCaseMinNorm } from '../src/metrics/curve.js';
import { empiricalRobustness } from '../src/metrics/empirical.js';
import { robustnessScore, robustnessScoreFromMinNorms, type ScoreInput } from '../src/metrics/score.js';

const u8 = (...v: number[]): Uint8Array => Uint8Array.from(v);

/** log C(n, k) by summing logs: exact enough for n ≤ 100 and independent of the code under test. */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}
function binomPmf(j: number, n: number, p: number): number {
  return Math.exp(logChoose(n, j) + j * Math.log(p) + (n - j) * Math.log1p(-p));
}
/** P(X ≤ k) for X ~ Binomial(n, p), by direct summation. */
function binomCdf(k: number, n: number, p: number): number {
  let s = 0;
  for (let j = 0; j <= k; j++) s += binomPmf(j, n, p);
  return s;
}

// Reference values from scipy 1.17.1 (scipy.stats.beta.ppf / norm.ppf / binomtest(...).proportion_ci).
const SCIPY_CP: Array<[number, number, number, number]> = [
  [0, 10, 0, 0.3084971078187607],
  [1, 10, 0.0025285785444617848, 0.4450161170281954],
  [5, 10, 0.18708602844739855, 0.8129139715526015],
  [9, 10, 0.5549838829718047, 0.9974714214555382],
  [10, 10, 0.6915028921812392, 1],
  [0, 1, 0, 0.975],
  [1, 1, 0.025, 1],
  [3, 7, 0.09898827844250786, 0.8159484323599169],
  [42, 50, 0.7088736934048891, 0.9282992328167138],
  [981, 1000, 0.9704875983749022, 0.988522963006899],
  [0, 1000, 0, 0.003682083896865671],
  [1000, 1000, 0.9963179161031344, 1],
];
const SCIPY_WILSON: Array<[number, number, number, number]> = [
  [0, 10, 0, 0.27753279986288926],
  [1, 10, 0.017876213095072896, 0.4041500267952385],
  [5, 10, 0.236593090512564, 0.7634069094874361],
  [9, 10, 0.5958499732047615, 0.9821237869049271],
  [10, 10, 0.7224672001371109, 1],
  [0, 1, 0, 0.7934506856227626],
  [1, 1, 0.20654931437723745, 1],
  [3, 7, 0.1582198552514697, 0.7495416354723428],
  [42, 50, 0.7148578393696501, 0.916625793219666],
  [981, 1000, 0.9705155440876868, 0.9878031142492091],
  [0, 1000, 0, 0.0038267584855551234],
];

describe('normal quantile and incomplete beta', () => {
  it('inverts the normal CDF built on mathjs erf', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 10);
    expect(normalQuantile(0.995)).toBeCloseTo(2.5758293035489004, 10);
    expect(normalQuantile(0.95)).toBeCloseTo(1.6448536269514722, 10);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 12);
    expect(normalCdf(normalQuantile(0.025))).toBeCloseTo(0.025, 12);
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });

  // Absolute accuracy is about 1e-11, set by mathjs's lgamma in the prefactor; CIs need far less.
  it('matches closed forms and scipy for I_x(a, b)', () => {
    for (const x of [0.01, 0.2, 0.5, 0.77, 0.99]) {
      expect(regularizedIncompleteBeta(x, 1, 7)).toBeCloseTo(1 - (1 - x) ** 7, 10);
      expect(regularizedIncompleteBeta(x, 5, 1)).toBeCloseTo(x ** 5, 10);
    }
    expect(regularizedIncompleteBeta(0.5, 13, 13)).toBeCloseTo(0.5, 10);
    expect(regularizedIncompleteBeta(0.3, 2.5, 4)).toBeCloseTo(0.3521975859067672, 10);
    expect(regularizedIncompleteBeta(0.9, 30, 2)).toBeCloseTo(0.1695646331008649, 10);
    expect(regularizedIncompleteBeta(0.01, 0.5, 0.5)).toBeCloseTo(0.06376856085851985, 10);
    const q = inverseRegularizedIncompleteBeta(0.3, 3, 9);
    expect(regularizedIncompleteBeta(q, 3, 9)).toBeCloseTo(0.3, 12);
  });
});

describe('Clopper-Pearson interval', () => {
  it('reproduces the published 95% values for n = 10', () => {
    const r = (iv: readonly [number, number]): number[] => iv.map((v) => Math.round(v * 1e4) / 1e4);
    expect(r(clopperPearsonInterval(0, 10))).toEqual([0, 0.3085]);
    expect(r(clopperPearsonInterval(5, 10))).toEqual([0.1871, 0.8129]);
    expect(r(clopperPearsonInterval(10, 10))).toEqual([0.6915, 1]);
  });

  it.each(SCIPY_CP)('%i/%i matches scipy', (k, n, lo, hi) => {
    const [a, b] = clopperPearsonInterval(k, n);
    expect(a).toBeCloseTo(lo, 9);
    expect(b).toBeCloseTo(hi, 9);
  });

  it('solves its defining binomial tail equations (brute-force CDF oracle)', () => {
    const n = 20;
    for (const level of [0.9, 0.95, 0.99]) {
      const alpha = 1 - level;
      for (let k = 0; k <= n; k++) {
        const [lo, hi] = clopperPearsonInterval(k, n, level);
        if (k > 0) expect(1 - binomCdf(k - 1, n, lo)).toBeCloseTo(alpha / 2, 10);
        if (k < n) expect(binomCdf(k, n, hi)).toBeCloseTo(alpha / 2, 10);
      }
      expect(clopperPearsonInterval(0, n, level)[1]).toBeCloseTo(1 - (alpha / 2) ** (1 / n), 12);
      expect(clopperPearsonInterval(n, n, level)[0]).toBeCloseTo((alpha / 2) ** (1 / n), 12);
    }
    const [lo99, hi99] = clopperPearsonInterval(5, 10, 0.99);
    expect(lo99).toBeCloseTo(0.12831055393508325, 9);
    expect(hi99).toBeCloseTo(0.8716894460649167, 9);
  });

  it('covers every true proportion at least at the nominal level (exact coverage)', () => {
    const n = 30;
    const intervals = Array.from({ length: n + 1 }, (_, k) => clopperPearsonInterval(k, n));
    for (let p = 0.01; p < 1; p += 0.01) {
      let coverage = 0;
      for (let k = 0; k <= n; k++) {
        const [lo, hi] = intervals[k] as readonly [number, number];
        if (lo <= p && p <= hi) coverage += binomPmf(k, n, p);
      }
      expect(coverage).toBeGreaterThanOrEqual(0.95 - 1e-9);
    }
  });
});

describe('Wilson interval', () => {
  it('reproduces 5/10 ≈ [0.2366, 0.7634]', () => {
    const [lo, hi] = wilsonInterval(5, 10);
    expect(lo).toBeCloseTo(0.2366, 4);
    expect(hi).toBeCloseTo(0.7634, 4);
  });

  it.each(SCIPY_WILSON)('%i/%i matches scipy', (k, n, lo, hi) => {
    const [a, b] = wilsonInterval(k, n);
    expect(a).toBeCloseTo(lo, 10);
    expect(b).toBeCloseTo(hi, 10);
  });

  it('is the inversion of the score test: (k − np)² = z² n p (1 − p) at both ends', () => {
    const z = 2.5758293035489004;
    for (const [k, n] of [[3, 17], [12, 40], [1, 5]] as const) {
      for (const p of wilsonInterval(k, n, 0.99)) expect((k - n * p) ** 2).toBeCloseTo(z * z * n * p * (1 - p), 9);
    }
  });

  it('has near-nominal average coverage', () => {
    const n = 40;
    const intervals = Array.from({ length: n + 1 }, (_, k) => wilsonInterval(k, n));
    let total = 0;
    let count = 0;
    for (let p = 0.05; p < 0.951; p += 0.01) {
      let coverage = 0;
      for (let k = 0; k <= n; k++) {
        const [lo, hi] = intervals[k] as readonly [number, number];
        if (lo <= p && p <= hi) coverage += binomPmf(k, n, p);
      }
      expect(coverage).toBeGreaterThan(0.88);
      total += coverage;
      count++;
    }
    expect(total / count).toBeGreaterThan(0.93);
    expect(total / count).toBeLessThan(0.97);
  });
});

describe('interval edge cases', () => {
  it('returns NaN for n = 0, exact 0 and 1 at k = 0 and k = n, and rejects bad counts', () => {
    for (const method of ['wilson', 'clopper-pearson'] as const) {
      expect(binomialInterval(0, 0, method).every(Number.isNaN)).toBe(true);
      expect(binomialInterval(0, 7, method)[0]).toBe(0);
      expect(binomialInterval(7, 7, method)[1]).toBe(1);
      expect(() => binomialInterval(8, 7, method)).toThrow(RangeError);
      expect(() => binomialInterval(-1, 7, method)).toThrow(RangeError);
      expect(() => binomialInterval(1.5, 7, method)).toThrow(RangeError);
      expect(() => binomialInterval(1, 7, method, 1)).toThrow(RangeError);
    }
    expect(binomialInterval(5, 10, 'clopper-pearson')).toEqual(clopperPearsonInterval(5, 10));
  });
});

describe('rates', () => {
  it('proportion and clean accuracy', () => {
    const p = proportion(5, 10, { method: 'clopper-pearson' });
    expect(p.value).toBe(0.5);
    expect(p.ci[0]).toBeCloseTo(0.18708602844739855, 9);
    const acc = cleanAccuracy(correctFlags(Int32Array.of(1, 2, 3, 4), Int32Array.of(1, 0, 3, 4)));
    expect([acc.k, acc.n, acc.value]).toEqual([3, 4, 0.75]);
    expect(acc.ci).toEqual(wilsonInterval(3, 4));
    expect(Number.isNaN(cleanAccuracy(new Uint8Array(0)).value)).toBe(true);
  });

  it('robust accuracy: robust iff clean-correct and not broken', () => {
    const correct = u8(1, 1, 1, 0, 0);
    const broken = u8(1, 0, 0, 0, 1);
    expect(Array.from(robustFlags(correct, broken))).toEqual([0, 1, 1, 0, 0]);
    const r = robustAccuracy(correct, broken);
    expect([r.k, r.n, r.value]).toEqual([2, 5, 0.4]);
    expect(() => robustFlags(correct, u8(1))).toThrow(RangeError);
  });

  it('worst case is the per-point AND over attacks', () => {
    expect(Array.from(worstCase([u8(1, 1, 0, 1), u8(1, 0, 1, 1), u8(1, 1, 1, 0)]))).toEqual([1, 0, 0, 0]);
    const rng = seedrandom('worst');
    const flags = Array.from({ length: 4 }, () => Uint8Array.from({ length: 200 }, () => (rng() < 0.8 ? 1 : 0)));
    const w = worstCase(flags);
    for (let i = 0; i < 200; i++) expect(w[i]).toBe(flags.every((f) => f[i] === 1) ? 1 : 0);
    const perAttack = flags.map((f) => robustAccuracyFromFlags(f).k);
    expect(robustAccuracyFromFlags(w).k).toBeLessThan(Math.min(...perAttack));
    expect(() => worstCase([])).toThrow(RangeError);
    expect(() => worstCase([u8(1), u8(1, 1)])).toThrow(RangeError);
  });

  it('attack success rate counts only the points classified correctly', () => {
    const s = attackSuccessRate(u8(1, 1, 1, 0, 0), u8(1, 0, 0, 1, 1), { method: 'clopper-pearson' });
    expect([s.k, s.n]).toEqual([1, 3]);
    expect(s.value).toBeCloseTo(1 / 3, 15);
    expect(s.ci).toEqual(clopperPearsonInterval(1, 3));
    expect(Number.isNaN(attackSuccessRate(u8(0, 0), u8(1, 1)).value)).toBe(true);
  });
});

describe('perturbation norm statistics', () => {
  it('percentiles match numpy (linear) on small arrays', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBeCloseTo(2.5, 12);
    expect(percentile([1, 2, 3, 4], 90)).toBeCloseTo(3.7, 12);
    expect(percentile([7, 1, 3], 90)).toBeCloseTo(6.2, 12);
    expect(percentile([7, 1, 3], 50)).toBe(3);
    expect(percentile([7, 1, 3], 25)).toBeCloseTo(2, 12);
    expect(percentile([5], 90)).toBe(5);
    expect(percentile([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90)).toBeCloseTo(90, 12);
    expect(percentile(Float32Array.of(4, 1), 0)).toBe(1);
    expect(percentile(Float32Array.of(4, 1), 100)).toBe(4);
    expect(percentile([1, Infinity, Infinity], 90)).toBe(Infinity);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('summarises only the successful adversarial examples', () => {
    expect(summarize([4, 1, 3, 2])).toEqual({ count: 4, mean: 2.5, median: 2.5, p90: expect.closeTo(3.7, 12) as number, min: 1, max: 4 });
    // Failed examples carry the full budget; counting them would move every statistic.
    const stats = perturbationStats(
      { linf: Float32Array.of(0.1, 0.3, 0.2, 0.3), l2: Float32Array.of(1, 9, 3, 9), l0: Float32Array.of(10, 784, 30, 784) },
      u8(1, 0, 1, 0),
    );
    expect(stats.l2).toEqual({ count: 2, mean: 2, median: 2, p90: expect.closeTo(2.8, 12) as number, min: 1, max: 3 });
    expect(stats.l0.mean).toBe(20);
    expect(stats.linf.max).toBeCloseTo(0.2, 6);
    expect(perturbationStats({ linf: [1], l2: [1], l0: [1] }, u8(0)).l2.count).toBe(0);
  });
});

describe('robustness curve from minimum-norm attacks', () => {
  // 8 examples: one clean-wrong (0), two failures (Infinity), the rest broken at the given size.
  const d = [0, 0.05, 0.1, 0.1, 0.25, Infinity, Infinity, 0.4];

  it('is the step function acc(eps) = #{d > eps} / n at every breakpoint', () => {
    const curve = robustnessCurve(d);
    expect(curve.map((p) => p.eps)).toEqual([0, 0.05, 0.1, 0.25, 0.4]);
    expect(curve.map((p) => p.accuracy.k)).toEqual([7, 6, 4, 3, 2]);
    expect(curve[0]?.accuracy.n).toBe(8);
    const at = robustnessCurve(d, [0.0999, 0.1, 0.3, 100]);
    expect(at.map((p) => p.accuracy.value)).toEqual([6 / 8, 4 / 8, 3 / 8, 2 / 8]);
    expect(at[0]?.accuracy.ci).toEqual(wilsonInterval(6, 8));
    expect(() => robustnessCurve([0, Number.NaN])).toThrow(RangeError);
  });

  it('has the exact area of the hand-built step function', () => {
    // Rectangles over [0, 0.3]: 7/8·0.05 + 6/8·0.05 + 4/8·0.15 + 3/8·0.05 = 0.175
    expect(curveArea(d, 0.3)).toBeCloseTo(7 / 8 * 0.05 + 6 / 8 * 0.05 + 4 / 8 * 0.15 + 3 / 8 * 0.05, 14);
    expect(curveArea(d, 0.3)).toBeCloseTo(0.175, 14);
    // Past the last finite breakpoint only the two failures keep accuracy up.
    expect(curveArea(d, 1)).toBeCloseTo(0.175 + 3 / 8 * 0.1 + 2 / 8 * 0.6, 14);
    // Independent check: midpoint rule on the curve itself.
    const steps = 3000;
    const mids = Array.from({ length: steps }, (_, i) => ((i + 0.5) * 0.3) / steps);
    const riemann = robustnessCurve(d, mids).reduce((s, p) => s + p.accuracy.value * (0.3 / steps), 0);
    expect(riemann).toBeCloseTo(curveArea(d, 0.3), 3);
  });

  it('takes the per-point minimum over attacks and summarises the minimal perturbations', () => {
    expect(Array.from(worstCaseMinNorm([[0, 0.2, Infinity, 0.5], [0, 0.3, 0.4, Infinity]]))).toEqual([0, 0.2, 0.4, 0.5]);
    const s = minimalPerturbationSummary(d);
    expect([s.attacked, s.found, s.failed, s.count]).toEqual([7, 5, 2, 5]);
    expect(s.mean).toBeCloseTo(0.9 / 5, 14);
    expect(s.median).toBe(0.1);
    expect(s.medianIncludingFailures).toBe(0.25);
  });
});

describe('empirical robustness (ART definition)', () => {
  const x = [3, 4, 1, 0];
  const xAdv = [3, 4.5, 1, 0.2];

  it('averages ‖x_adv − x‖_p / ‖x‖_p over examples whose prediction changed', () => {
    expect(empiricalRobustness({ x, xAdv, cleanPred: [0, 1], advPred: [1, 1] })).toBeCloseTo(0.5 / 5, 14);
    expect(empiricalRobustness({ x, xAdv, cleanPred: [0, 1], advPred: [1, 1] }, 'linf')).toBeCloseTo(0.5 / 4, 14);
    expect(empiricalRobustness({ x, xAdv, cleanPred: [0, 1], advPred: [1, 1] }, 'l1')).toBeCloseTo(0.5 / 7, 14);
    // A mean of ratios, not a ratio of means: (0.1 + 0.2) / 2.
    expect(empiricalRobustness({ x, xAdv, cleanPred: [0, 1], advPred: [1, 2] })).toBeCloseTo(0.15, 14);
  });

  it('is 0 when no prediction changed, as in ART', () => {
    expect(empiricalRobustness({ x, xAdv, cleanPred: [0, 1], advPred: [0, 1] })).toBe(0);
    expect(() => empiricalRobustness({ x, xAdv: [1], cleanPred: [0, 1], advPred: [0, 1] })).toThrow(RangeError);
  });
});

describe('robustness score', () => {
  function randomInput(rng: () => number): ScoreInput {
    const m = 1 + Math.floor(rng() * 6);
    const eps: number[] = [];
    let e = 0;
    for (let j = 0; j < m; j++) eps.push((e += 0.01 + rng() * 0.2));
    return { cleanAccuracy: rng(), eps, accuracy: eps.map(() => rng()) };
  }

  it('scores the worked example of docs/metrics.md', () => {
    const input = { cleanAccuracy: 0.9, eps: [0.1, 0.2, 0.3], accuracy: [0.8, 0.5, 0.2] };
    expect(robustnessScore(input)).toBeCloseTo(61.6667, 4);
    expect(robustnessScore({ ...input, interpolation: 'step' })).toBeCloseTo(50, 10);
    expect(robustnessScore({ ...input, epsMax: 0.15 })).toBeCloseTo((100 * (0.085 + 0.05 * (0.8 + 0.65) / 2)) / 0.15, 10);
  });

  it('(a) is 100 when accuracy stays 1 and (b) 0 when it is 0', () => {
    const rng = seedrandom('score-ab');
    for (let t = 0; t < 50; t++) {
      const base = randomInput(rng);
      for (const interpolation of ['trapezoid', 'step'] as const) {
        const ones = { ...base, cleanAccuracy: 1, accuracy: base.accuracy.map(() => 1), interpolation };
        const zeros = { ...base, cleanAccuracy: 0, accuracy: base.accuracy.map(() => 0), interpolation };
        expect(robustnessScore(ones)).toBeCloseTo(100, 10);
        expect(robustnessScore(zeros)).toBe(0);
      }
    }
  });

  it('(c) never decreases when any accuracy point rises, and rises strictly within the range', () => {
    const rng = seedrandom('score-c');
    for (let t = 0; t < 300; t++) {
      const input = randomInput(rng);
      for (const interpolation of ['trapezoid', 'step'] as const) {
        const base = robustnessScore({ ...input, interpolation });
        const bump = 0.01 + rng() * 0.5;
        const j = Math.floor(rng() * input.accuracy.length);
        const accuracy = input.accuracy.map((a, i) => (i === j ? Math.min(1, a + bump) : a));
        if (accuracy[j] !== input.accuracy[j]) expect(robustnessScore({ ...input, accuracy, interpolation })).toBeGreaterThan(base);
        if (interpolation === 'trapezoid' && input.cleanAccuracy < 0.99) {
          expect(robustnessScore({ ...input, cleanAccuracy: Math.min(1, input.cleanAccuracy + bump) })).toBeGreaterThan(base);
        }
      }
    }
  });

  it('(d) from a grid, approaches the exact area of a minimum-norm curve; step never overstates it', () => {
    const rng = seedrandom('score-d');
    const d = Array.from({ length: 200 }, () => (rng() < 0.1 ? 0 : rng() < 0.2 ? Infinity : rng() * 0.5));
    const epsMax = 0.4;
    const exact = robustnessScoreFromMinNorms(d, epsMax);
    expect(exact).toBeCloseTo((100 * curveArea(d, epsMax)) / epsMax, 12);
    for (const m of [4, 10, 400]) {
      const eps = Array.from({ length: m }, (_, j) => ((j + 1) * epsMax) / m);
      const grid = { cleanAccuracy: robustnessCurve(d, [0])[0]?.accuracy.value ?? Number.NaN, eps, accuracy: robustnessCurve(d, eps).map((p) => p.accuracy.value) };
      expect(robustnessScore({ ...grid, interpolation: 'step' })).toBeLessThanOrEqual(exact + 1e-9);
      if (m === 400) expect(Math.abs(robustnessScore(grid) - exact)).toBeLessThan(0.2);
    }
  });

  it('rejects grids it would have to extrapolate or cannot read', () => {
    const ok = { cleanAccuracy: 0.9, eps: [0.1, 0.2], accuracy: [0.5, 0.4] };
    expect(() => robustnessScore({ ...ok, epsMax: 0.3 })).toThrow(RangeError);
    expect(() => robustnessScore({ ...ok, eps: [0.2, 0.1] })).toThrow(RangeError);
    expect(() => robustnessScore({ ...ok, eps: [0, 0.1] })).toThrow(RangeError);
    expect(() => robustnessScore({ ...ok, accuracy: [0.5, 1.2] })).toThrow(RangeError);
    expect(() => robustnessScore({ ...ok, eps: [] , accuracy: [] })).toThrow(RangeError);
  });
});
