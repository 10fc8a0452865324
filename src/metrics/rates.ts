import { binomialInterval, DEFAULT_LEVEL, type CiMethod, type Interval } from './confidence.js';

/** A proportion k/n with its confidence interval. `value` and `ci` are NaN when n = 0. */
export interface Proportion {
  value: number;
  k: number;
  n: number;
  ci: Interval;
}

/** How to compute confidence intervals. Defaults: Wilson, 95%. */
export interface CiOptions {
  method?: CiMethod;
  level?: number;
}

/**
 * k/n with its confidence interval.
 * @example proportion(5, 10) // { value: 0.5, k: 5, n: 10, ci: [0.2366, 0.7634] }
 */
export function proportion(k: number, n: number, options: CiOptions = {}): Proportion {
  const ci = binomialInterval(k, n, options.method ?? 'wilson', options.level ?? DEFAULT_LEVEL);
  return { value: n === 0 ? Number.NaN : k / n, k, n, ci };
}

function sameLength(what: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`${what}: ${a.length} clean outcomes for ${b.length} attack outcomes`);
}

function count(flags: ArrayLike<number>): number {
  let k = 0;
  for (let i = 0; i < flags.length; i++) if (flags[i]) k++;
  return k;
}

/**
 * Per-example robustness: 1 iff the example is classified correctly and the attack did not break it.
 * A clean-wrong example is never robust, whatever the attack reports for it.
 * @param correct 1 where the clean prediction equals the label.
 * @param broken 1 where the attack found an adversarial example (`AttackResult.isAdversarial`).
 */
export function robustFlags(correct: Uint8Array, broken: Uint8Array): Uint8Array {
  sameLength('robustFlags', correct, broken);
  const out = new Uint8Array(correct.length);
  for (let i = 0; i < out.length; i++) out[i] = correct[i] && !broken[i] ? 1 : 0;
  return out;
}

/**
 * Worst case over attacks, per example: robust only if no attack broke it (logical AND of the robust flags).
 * This is the per-point worst case of `robust test`, which AutoAttack also reports as its robust accuracy.
 * @param flags one robust-flag array per attack, all of the same length (at least one).
 * @example worstCase([Uint8Array.of(1, 1, 0), Uint8Array.of(1, 0, 1)]) // Uint8Array [1, 0, 0]
 */
export function worstCase(flags: readonly Uint8Array[]): Uint8Array {
  const first = flags[0];
  if (first === undefined) throw new RangeError('worstCase: needs the robust flags of at least one attack');
  const out = Uint8Array.from(first, (v) => (v ? 1 : 0));
  for (const f of flags) {
    if (f.length !== out.length) throw new RangeError(`worstCase: attacks cover ${out.length} and ${f.length} examples`);
    for (let i = 0; i < out.length; i++) if (!f[i]) out[i] = 0;
  }
  return out;
}

/** Clean accuracy: correct / all examples, with its CI. */
export function cleanAccuracy(correct: Uint8Array, options: CiOptions = {}): Proportion {
  return proportion(count(correct), correct.length, options);
}

/**
 * Robust accuracy under one attack: examples correct and not broken, over all examples (clean-wrong ones count
 * as failures). For the worst case over attacks, pass `worstCase(...)` flags to {@link robustAccuracyFromFlags}.
 */
export function robustAccuracy(correct: Uint8Array, broken: Uint8Array, options: CiOptions = {}): Proportion {
  return robustAccuracyFromFlags(robustFlags(correct, broken), options);
}

/** Robust accuracy from per-example robust flags (e.g. the output of {@link worstCase}). */
export function robustAccuracyFromFlags(robust: Uint8Array, options: CiOptions = {}): Proportion {
  return proportion(count(robust), robust.length, options);
}

/**
 * Attack success rate on the points the model classified correctly: broken-and-correct / correct.
 * Clean-wrong points are excluded because an untargeted attack "succeeds" on them with no perturbation.
 * `n = 0` (no correct point) gives NaN.
 */
export function attackSuccessRate(correct: Uint8Array, broken: Uint8Array, options: CiOptions = {}): Proportion {
  sameLength('attackSuccessRate', correct, broken);
  let n = 0;
  let k = 0;
  for (let i = 0; i < correct.length; i++) {
    if (!correct[i]) continue;
    n++;
    if (broken[i]) k++;
  }
  return proportion(k, n, options);
}
