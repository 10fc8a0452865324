import { erf, lgamma } from 'mathjs';

/** A closed interval `[lo, hi]` within [0, 1]. */
export type Interval = readonly [number, number];

/** How a binomial confidence interval is computed. */
export type CiMethod = 'wilson' | 'clopper-pearson';

/** Confidence level used when none is given: 95%. */
export const DEFAULT_LEVEL = 0.95;

const NAN_INTERVAL: Interval = [Number.NaN, Number.NaN];

/** Bisection to machine precision: robust where Newton steps would leave [lo, hi]; `f` must be increasing. */
function bisect(f: (x: number) => number, target: number, lo: number, hi: number): number {
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (mid === lo || mid === hi) break;
    if (f(mid) < target) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

function checkCounts(k: number, n: number, level: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`binomial interval: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`binomial interval: k must be an integer in [0, ${n}], got ${k}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`binomial interval: level must be in (0, 1), got ${level}`);
}

/**
 * Standard normal CDF Φ(z) = (1 + erf(z/√2)) / 2, from mathjs's `erf`.
 * @example normalCdf(1.959963984540054) // ≈ 0.975
 */
export function normalCdf(z: number): number {
  return 0.5 * (1 + erf(z / Math.SQRT2));
}

/**
 * Standard normal quantile Φ⁻¹(p) for p in (0, 1). mathjs 15 has `erf` but no inverse, so this bisects Φ.
 * @example normalQuantile(0.975) // 1.959963984540054
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  return bisect(normalCdf, p, -40, 40);
}

/**
 * Continued fraction for the incomplete beta function, evaluated by the modified Lentz method
 * (Press et al., Numerical Recipes, 3rd ed., §6.4, `betacf`). Converges fast for x < (a+1)/(a+b+2).
 */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/**
 * Regularised incomplete beta function I_x(a, b) = P(X ≤ x) for X ~ Beta(a, b), a, b > 0.
 * Numerical Recipes `betai`: continued fraction, with the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) where it converges faster.
 * Absolute accuracy is about 1e-11, limited by mathjs's `lgamma` in the prefactor (mathjs 15 has no incomplete beta).
 * @example regularizedIncompleteBeta(0.5, 2, 2) // 0.5
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`regularizedIncompleteBeta: a and b must be positive, got ${a}, ${b}`);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`regularizedIncompleteBeta: x must be in [0, 1], got ${x}`);
  if (x === 0) return 0;
  if (x === 1) return 1;
  const logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(logFront);
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** Inverse of {@link regularizedIncompleteBeta} in x: the p-quantile of Beta(a, b), by bisection on [0, 1]. */
export function inverseRegularizedIncompleteBeta(p: number, a: number, b: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`inverseRegularizedIncompleteBeta: p must be in [0, 1], got ${p}`);
  if (p === 0) return 0;
  if (p === 1) return 1;
  return bisect((x) => regularizedIncompleteBeta(x, a, b), p, 0, 1);
}

/**
 * Wilson score interval for a binomial proportion k/n (Wilson 1927, "Probable inference, the law of succession,
 * and statistical inference"). Good coverage near 0 and 1, where the normal (Wald) interval collapses.
 *
 * Edge cases: `n = 0` returns `[NaN, NaN]` (no evidence either way, e.g. an attack success rate when no point
 * was classified correctly); `k = 0` gives lo = 0 and `k = n` gives hi = 1 exactly.
 * Invalid counts or a level outside (0, 1) throw a `RangeError`.
 * @param level confidence level, default 0.95.
 * @example wilsonInterval(5, 10) // [0.2366, 0.7634]
 */
export function wilsonInterval(k: number, n: number, level: number = DEFAULT_LEVEL): Interval {
  checkCounts(k, n, level);
  if (n === 0) return NAN_INTERVAL;
  const z = normalQuantile(1 - (1 - level) / 2);
  const z2 = z * z;
  const centre = (k + z2 / 2) / (n + z2);
  const half = (z / (n + z2)) * Math.sqrt((k * (n - k)) / n + z2 / 4);
  const lo = k === 0 ? 0 : Math.max(0, centre - half);
  const hi = k === n ? 1 : Math.min(1, centre + half);
  return [lo, hi];
}

/**
 * Exact Clopper-Pearson interval (Clopper & Pearson 1934): lo = B⁻¹(α/2; k, n−k+1), hi = B⁻¹(1−α/2; k+1, n−k),
 * with α = 1 − level and B⁻¹ the Beta quantile. Coverage is at least `level` for every true proportion, so it
 * is the conservative choice for a CI gate. Edge cases as in {@link wilsonInterval}.
 * @example clopperPearsonInterval(0, 10) // [0, 0.3085]
 */
export function clopperPearsonInterval(k: number, n: number, level: number = DEFAULT_LEVEL): Interval {
  checkCounts(k, n, level);
  if (n === 0) return NAN_INTERVAL;
  const alpha = 1 - level;
  const lo = k === 0 ? 0 : inverseRegularizedIncompleteBeta(alpha / 2, k, n - k + 1);
  const hi = k === n ? 1 : inverseRegularizedIncompleteBeta(1 - alpha / 2, k + 1, n - k);
  return [lo, hi];
}

/** The interval for k/n by the named method. Defaults: Wilson, 95%. */
export function binomialInterval(k: number, n: number, method: CiMethod = 'wilson', level: number = DEFAULT_LEVEL): Interval {
  return method === 'wilson' ? wilsonInterval(k, n, level) : clopperPearsonInterval(k, n, level);
}
