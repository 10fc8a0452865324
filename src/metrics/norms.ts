/** Location statistics of a sample. All NaN when the sample is empty. */
export interface Summary {
  count: number;
  mean: number;
  median: number;
  p90: number;
  min: number;
  max: number;
}

/**
 * Per-example perturbation sizes, one array per norm. Structurally the same as the attacks' `PerturbationNorms`
 * (kept local so metrics stay free of tensor types).
 */
export interface NormSamples {
  l0: ArrayLike<number>;
  l2: ArrayLike<number>;
  linf: ArrayLike<number>;
}

/** {@link Summary} of each norm. */
export interface NormStats {
  l0: Summary;
  l2: Summary;
  linf: Summary;
}

function percentileOfSorted(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (q / 100) * (n - 1);
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const below = sorted[lo] as number;
  const above = sorted[hi] as number;
  // Equal neighbours short-circuit so that a run of Infinity (failed minimum-norm attacks) yields Infinity, not NaN.
  return h === lo || below === above ? below : below + (h - lo) * (above - below);
}

function sortedCopy(values: ArrayLike<number>): number[] {
  const out = Array.from(values);
  for (const v of out) if (Number.isNaN(v)) throw new RangeError('percentile: the sample contains NaN');
  return out.sort((a, b) => a - b);
}

/**
 * The q-th percentile (q in [0, 100]) by linear interpolation between order statistics: with the sample sorted
 * as v[0] ≤ … ≤ v[n−1] and h = (n−1)·q/100, the result is v[⌊h⌋] + (h − ⌊h⌋)·(v[⌊h⌋+1] − v[⌊h⌋]).
 * This is numpy's default (`method='linear'`, Hyndman & Fan type 7). NaN for an empty sample.
 * @example percentile([1, 2, 3, 4], 90) // 3.7
 */
export function percentile(values: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 100)) throw new RangeError(`percentile: q must be in [0, 100], got ${q}`);
  return percentileOfSorted(sortedCopy(values), q);
}

/**
 * Count, mean, median (the 50th percentile), p90, min and max of a sample, percentiles as in {@link percentile}.
 * @example summarize([1, 2, 3, 4]) // { count: 4, mean: 2.5, median: 2.5, p90: 3.7, min: 1, max: 4 }
 */
export function summarize(values: ArrayLike<number>): Summary {
  const sorted = sortedCopy(values);
  const n = sorted.length;
  if (n === 0) return { count: 0, mean: Number.NaN, median: Number.NaN, p90: Number.NaN, min: Number.NaN, max: Number.NaN };
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: n,
    mean: sum / n,
    median: percentileOfSorted(sorted, 50),
    p90: percentileOfSorted(sorted, 90),
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
  };
}

/** The entries of `values` where `mask` is set. */
export function select(values: ArrayLike<number>, mask: ArrayLike<number>): number[] {
  if (values.length !== mask.length) throw new RangeError(`select: ${values.length} values for ${mask.length} flags`);
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) if (mask[i]) out.push(values[i] as number);
  return out;
}

/**
 * L0, L2 and Linf perturbation statistics over the successful adversarial examples only: failed attempts hold
 * the best try or x itself, and would drag every statistic towards the budget or zero.
 * @param norms per-example norms, e.g. `AttackResult.perturbation`.
 * @param success 1 where the example is a successful adversarial example; pass the clean-correct AND broken
 *   flags to leave out clean-wrong points, on which an untargeted attack succeeds without perturbing.
 */
export function perturbationStats(norms: NormSamples, success: Uint8Array): NormStats {
  return {
    l0: summarize(select(norms.l0, success)),
    l2: summarize(select(norms.l2, success)),
    linf: summarize(select(norms.linf, success)),
  };
}
