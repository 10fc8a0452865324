/** The p-norm ART measures with: L1, L2 (its default) or Linf. */
export type EmpiricalNorm = 'l1' | 'l2' | 'linf';

/** Clean and adversarial inputs with the model's predictions on both, as flat row-major arrays. */
export interface EmpiricalRobustnessInput {
  /** Clean inputs, `n × featuresPerExample` values. */
  x: ArrayLike<number>;
  /** Adversarial inputs, same layout as `x`. */
  xAdv: ArrayLike<number>;
  /** Predicted class of each clean input. */
  cleanPred: ArrayLike<number>;
  /** Predicted class of each adversarial input. */
  advPred: ArrayLike<number>;
}

function pNorm(v: ArrayLike<number>, start: number, end: number, norm: EmpiricalNorm, minus?: ArrayLike<number>): number {
  let acc = 0;
  for (let j = start; j < end; j++) {
    const a = Math.abs((v[j] as number) - (minus === undefined ? 0 : (minus[j] as number)));
    if (norm === 'linf') acc = Math.max(acc, a);
    else acc += norm === 'l1' ? a : a * a;
  }
  return norm === 'l2' ? Math.sqrt(acc) : acc;
}

/**
 * Empirical robustness as IBM's Adversarial Robustness Toolbox defines it (`art.metrics.empirical_robustness`,
 * art/metrics/metrics.py, after Moosavi-Dezfooli et al. 2016, DeepFool, arXiv:1511.04599):
 *
 *   ρ = mean over i in S of ‖x_adv,i − x_i‖_p / ‖x_i‖_p,   S = { i : argmax f(x_adv,i) ≠ argmax f(x_i) }
 *
 * Success is a change of the predicted class (labels play no part), the mean is over successful examples
 * only, and, as in ART, the result is 0 when no example succeeded (or there are none). ART runs a minimal attack first (FGSM with
 * `minimal=True` or HopSkipJump) and takes p from the attack's `norm`, default 2; here the caller brings the
 * adversarial examples, ideally from a minimum-norm attack. An example with ‖x‖_p = 0 contributes Infinity,
 * as the division does in numpy.
 * @example empiricalRobustness({ x: [3, 4], xAdv: [3, 4.5], cleanPred: [0], advPred: [1] }) // 0.5 / 5 = 0.1
 */
export function empiricalRobustness(input: EmpiricalRobustnessInput, norm: EmpiricalNorm = 'l2'): number {
  const { x, xAdv, cleanPred, advPred } = input;
  const n = cleanPred.length;
  if (advPred.length !== n) throw new RangeError(`empiricalRobustness: ${n} clean and ${advPred.length} adversarial predictions`);
  if (xAdv.length !== x.length) throw new RangeError(`empiricalRobustness: x has ${x.length} values, xAdv ${xAdv.length}`);
  if (n === 0) return 0;
  if (x.length % n !== 0) throw new RangeError(`empiricalRobustness: ${x.length} input values do not split into ${n} examples`);
  const size = x.length / n;
  let sum = 0;
  let successes = 0;
  for (let i = 0; i < n; i++) {
    if (advPred[i] === cleanPred[i]) continue;
    successes++;
    const start = i * size;
    sum += pNorm(xAdv, start, start + size, norm, x) / pNorm(x, start, start + size, norm);
  }
  return successes === 0 ? 0 : sum / successes;
}
