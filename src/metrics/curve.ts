import { percentile, summarize, type Summary } from './norms.js';
import { proportion, type CiOptions, type Proportion } from './rates.js';

/** One point of a robustness curve: the accuracy (with CI) of examples whose minimal perturbation exceeds eps. */
export interface CurvePoint {
  eps: number;
  accuracy: Proportion;
}

/** Distribution of minimal perturbations found by a minimum-norm attack. */
export interface MinimalPerturbationSummary extends Summary {
  /** Clean-correct examples (minimal norm > 0): the ones the attack had to break. */
  attacked: number;
  /** Attacked examples the attack broke (finite minimal norm); the {@link Summary} fields are over these. */
  found: number;
  /** Attacked examples the attack failed on (minimal norm Infinity). */
  failed: number;
  /** Median over all attacked examples, failures counted as Infinity: a lower bound that failures cannot flatter. */
  medianIncludingFailures: number;
}

function checkMinNorms(minNorms: ArrayLike<number>): void {
  for (let i = 0; i < minNorms.length; i++) {
    const d = minNorms[i] as number;
    if (!(d >= 0)) throw new RangeError(`minimal perturbation ${i} is ${d}; expected >= 0 (0 clean-wrong, Infinity failed)`);
  }
}

/**
 * Per-example worst case over several minimum-norm attacks (same norm, same examples): the smallest perturbation
 * any of them found.
 */
export function worstCaseMinNorm(perAttack: readonly ArrayLike<number>[]): Float64Array {
  const first = perAttack[0];
  if (first === undefined) throw new RangeError('worstCaseMinNorm: needs the minimal perturbations of at least one attack');
  const out = Float64Array.from(first);
  for (const d of perAttack) {
    if (d.length !== out.length) throw new RangeError(`worstCaseMinNorm: attacks cover ${out.length} and ${d.length} examples`);
    for (let i = 0; i < out.length; i++) out[i] = Math.min(out[i] as number, d[i] as number);
  }
  return out;
}

/**
 * The robustness curve of a minimum-norm attack: acc(eps) = #{i : d_i > eps} / n, where d_i is the minimal
 * perturbation of example i, with the convention d_i = 0 for clean-wrong examples and d_i = Infinity where the
 * attack failed. So acc(0) is the clean accuracy, and acc is a non-increasing, right-continuous step function
 * (an example whose minimal perturbation is exactly eps counts as broken at eps).
 * @param minNorms per-example minimal perturbation sizes (all in one norm).
 * @param eps where to evaluate; default: 0 and every breakpoint (each distinct finite d_i > 0), ascending.
 * @example robustnessCurve([0, 0.1, 0.3, Infinity]) // eps 0, 0.1, 0.3 → accuracy 0.75, 0.5, 0.25
 */
export function robustnessCurve(minNorms: ArrayLike<number>, eps?: readonly number[], options: CiOptions = {}): CurvePoint[] {
  checkMinNorms(minNorms);
  const at = eps ?? [0, ...new Set(Array.from(minNorms).filter((d) => d > 0 && Number.isFinite(d)))].sort((a, b) => a - b);
  return at.map((e) => {
    if (!(e >= 0)) throw new RangeError(`robustnessCurve: eps must be >= 0, got ${e}`);
    let k = 0;
    for (let i = 0; i < minNorms.length; i++) if ((minNorms[i] as number) > e) k++;
    return { eps: e, accuracy: proportion(k, minNorms.length, options) };
  });
}

/**
 * Exact area under the robustness curve over [0, epsMax]: ∫₀^epsMax acc(eps) deps = (1/n) Σᵢ min(dᵢ, epsMax),
 * because example i contributes 1/n on [0, dᵢ). Divide by epsMax for the mean accuracy over the range.
 * NaN for no examples.
 * @example curveArea([0, 0.1, 0.3, Infinity], 0.2) // (0 + 0.1 + 0.2 + 0.2) / 4 = 0.125
 */
export function curveArea(minNorms: ArrayLike<number>, epsMax: number): number {
  checkMinNorms(minNorms);
  if (!(epsMax > 0 && Number.isFinite(epsMax))) throw new RangeError(`curveArea: epsMax must be a positive number, got ${epsMax}`);
  if (minNorms.length === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < minNorms.length; i++) sum += Math.min(minNorms[i] as number, epsMax);
  return sum / minNorms.length;
}

/**
 * How large the minimal perturbations are: a {@link Summary} over the examples the attack broke, plus how many
 * were attacked and how many it failed on. Clean-wrong examples (d = 0) are left out: they needed no perturbation.
 */
export function minimalPerturbationSummary(minNorms: ArrayLike<number>): MinimalPerturbationSummary {
  checkMinNorms(minNorms);
  const attacked = Array.from(minNorms).filter((d) => d > 0);
  const found = attacked.filter((d) => Number.isFinite(d));
  return {
    ...summarize(found),
    attacked: attacked.length,
    found: found.length,
    failed: attacked.length - found.length,
    medianIncludingFailures: percentile(attacked, 50),
  };
}
