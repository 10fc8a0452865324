import { curveArea } from './curve.js';

/**
 * How accuracy is filled in between grid points: `trapezoid` (linear, the default) or `step`, which holds each
 * grid accuracy over the interval to its left, (eps_{j−1}, eps_j]. For a non-increasing curve `step` can only
 * under-state the area, so it is the conservative choice.
 */
export type ScoreInterpolation = 'trapezoid' | 'step';

/** The worst-case accuracy–eps curve on a fixed grid. */
export interface ScoreInput {
  /** Clean accuracy, used as acc(0). */
  cleanAccuracy: number;
  /** Grid of budgets, strictly increasing, all > 0. */
  eps: readonly number[];
  /** Worst-case robust accuracy at each eps, in [0, 1]. */
  accuracy: readonly number[];
  /** Upper end of the range; default the last eps. Must lie in (0, last eps]: the score never extrapolates. */
  epsMax?: number;
  interpolation?: ScoreInterpolation;
}

function checkAccuracy(what: string, a: number): void {
  if (!(a >= 0 && a <= 1)) throw new RangeError(`robustnessScore: ${what} must be in [0, 1], got ${a}`);
}

/**
 * The robustness score, 0–100: the mean worst-case accuracy over budgets from 0 to epsMax, in percent,
 *
 *   score = 100 · (1 / epsMax) · ∫₀^epsMax acc(eps) deps,
 *
 * with acc(0) = clean accuracy and acc interpolated between the grid points (trapezoid by default).
 * It is 100 exactly when accuracy is 1 at every grid point (clean included), 0 when it is 0 everywhere, and
 * non-decreasing in every accuracy value, since each enters the integral with a non-negative weight. It
 * rewards clean accuracy and robustness together: a model that is 60% accurate and never broken scores 60.
 * Compare scores only across runs with the same norm, grid and epsMax. See docs/metrics.md for a worked example.
 * @example robustnessScore({ cleanAccuracy: 0.9, eps: [0.1, 0.2, 0.3], accuracy: [0.8, 0.5, 0.2] }) // 61.67
 */
export function robustnessScore(input: ScoreInput): number {
  const { cleanAccuracy, eps, accuracy } = input;
  const interpolation = input.interpolation ?? 'trapezoid';
  if (eps.length === 0) throw new RangeError('robustnessScore: needs at least one eps');
  if (eps.length !== accuracy.length) throw new RangeError(`robustnessScore: ${eps.length} eps for ${accuracy.length} accuracies`);
  checkAccuracy('cleanAccuracy', cleanAccuracy);
  let prev = 0;
  for (let j = 0; j < eps.length; j++) {
    const e = eps[j] as number;
    if (!(e > prev && Number.isFinite(e))) throw new RangeError(`robustnessScore: eps must be finite, > 0 and strictly increasing, got ${eps.join(', ')}`);
    checkAccuracy(`accuracy at eps ${e}`, accuracy[j] as number);
    prev = e;
  }
  const epsMax = input.epsMax ?? prev;
  if (!(epsMax > 0 && epsMax <= prev)) throw new RangeError(`robustnessScore: epsMax must be in (0, ${prev}], got ${epsMax}`);

  let area = 0;
  let x0 = 0;
  let y0 = cleanAccuracy;
  for (let j = 0; j < eps.length && x0 < epsMax; j++) {
    const x1 = eps[j] as number;
    const y1 = accuracy[j] as number;
    const right = Math.min(x1, epsMax);
    if (interpolation === 'step') area += (right - x0) * y1;
    else area += ((right - x0) * (y0 + (y0 + ((right - x0) / (x1 - x0)) * (y1 - y0)))) / 2;
    x0 = x1;
    y0 = y1;
  }
  return (100 * area) / epsMax;
}

/**
 * The same score, exact, from the minimal perturbations of a minimum-norm attack (or their per-example worst case,
 * `worstCaseMinNorm`): 100 · curveArea(minNorms, epsMax) / epsMax, with no grid and no interpolation error.
 * @example robustnessScoreFromMinNorms([0, 0.1, 0.3, Infinity], 0.2) // 62.5
 */
export function robustnessScoreFromMinNorms(minNorms: ArrayLike<number>, epsMax: number): number {
  return (100 * curveArea(minNorms, epsMax)) / epsMax;
}
