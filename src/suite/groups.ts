/**
 * Robustness by class and by slice: the same per-example outcomes as the headline numbers, counted within each
 * true class and each group of the data's group column, with a Wilson interval on each. A model can be robust
 * on average and brittle for one class; the weakest group and its gap to the best say so.
 */
import { proportion, worstCase } from '../metrics/rates.js';
import { epsKey } from './keys.js';
import type { AttackOutcome, ExampleOutcomes, GroupBreakdown, GroupOutcome, WorstCaseOutcome } from './types.js';

/**
 * The robust-accuracy key groups are compared at: the first robust-accuracy threshold's key (what the suite
 * gates on); else the largest eps of the suite's first norm at which the worst case keeps any point robust (at a
 * budget that breaks everything every group scores 0 and nothing can be told apart), else its smallest eps; else
 * the last key of the fixed-budget attacks; else null (groups are then compared on clean accuracy).
 */
export function headlineKey(worst: WorstCaseOutcome[], attackKeys: string[], thresholdKeys: string[] = []): string | null {
  const named = thresholdKeys.find((k) => attackKeys.includes(k) || worst.some((w) => w.key === k));
  if (named !== undefined) return named;
  const first = worst[0]?.norm;
  const ofFirst = worst.filter((w) => w.norm === first);
  const robust = ofFirst.filter((w) => w.robustAccuracy.value > 0);
  return robust.at(-1)?.key ?? ofFirst[0]?.key ?? attackKeys.at(-1) ?? null;
}

function breakdown(names: string[], groupOf: (i: number) => string, ex: ExampleOutcomes, keys: string[], key: string | null): GroupBreakdown {
  const members = new Map<string, number[]>(names.map((g) => [g, []]));
  ex.cleanCorrect.forEach((_, i) => members.get(groupOf(i))?.push(i));
  const count = (flags: number[] | undefined, at: number[]) => at.reduce((s, i) => s + (flags?.[i] ? 1 : 0), 0);
  const groups: GroupOutcome[] = [...members].map(([group, at]) => ({
    group,
    n: at.length,
    cleanAccuracy: proportion(count(ex.cleanCorrect, at), at.length),
    robustAccuracy: Object.fromEntries(keys.map((k) => [k, proportion(count(ex.robust[k], at), at.length)])),
  }));
  const valueOf = (g: GroupOutcome) => (key === null ? g.cleanAccuracy : g.robustAccuracy[key])?.value ?? Number.NaN;
  let weakest: GroupOutcome | null = null;
  let best: GroupOutcome | null = null;
  for (const g of groups) {
    if (!Number.isFinite(valueOf(g))) continue;
    if (weakest === null || valueOf(g) < valueOf(weakest)) weakest = g;
    if (best === null || valueOf(g) > valueOf(best)) best = g;
  }
  return {
    key,
    groups,
    weakest: weakest?.group ?? null,
    best: best?.group ?? null,
    gap: weakest !== null && best !== null ? valueOf(best) - valueOf(weakest) : null,
  };
}

/**
 * Robust accuracy per true class, at every key in `keys` (attack and worst-case keys), compared at `key`.
 * Only classes that occur among the examples are listed, in ascending order.
 */
export function perClass(ex: ExampleOutcomes, keys: string[], key: string | null): GroupBreakdown {
  const classes = [...new Set(ex.labels)].sort((a, b) => a - b).map(String);
  return breakdown(classes, (i) => String(ex.labels[i]), ex, keys, key);
}

/** Robust accuracy per slice of the data's group column, or null when the data has none. Slices sort by name. */
export function perSlice(ex: ExampleOutcomes, keys: string[], key: string | null): GroupBreakdown | null {
  const groups = ex.groups;
  if (!groups) return null;
  const names = [...new Set(groups)].sort();
  return breakdown(names, (i) => groups[i]!, ex, keys, key);
}

/**
 * Both breakdowns of a suite, at every attack and worst-case key, compared at {@link headlineKey}. The worst case
 * is recomputed per example (robust only if no attack of its norm and eps broke it), as the groups need it.
 */
export function groupBreakdowns(ex: ExampleOutcomes, attacks: AttackOutcome[], worst: WorstCaseOutcome[], thresholdKeys: string[] = []): { class: GroupBreakdown; slice: GroupBreakdown | null } {
  const worstFlags = worst.map((w) => [w.key, Array.from(worstCase(w.attacks.map((id) => Uint8Array.from(ex.robust[epsKey(id, w.eps)] ?? []))))]);
  const flags = { ...ex, robust: { ...ex.robust, ...Object.fromEntries(worstFlags) } };
  const keys = [...attacks.flatMap((a) => a.results.map((r) => r.key)), ...worst.map((w) => w.key)];
  const key = headlineKey(worst, attacks.filter((a) => a.kind === 'fixed-eps').flatMap((a) => a.results.map((r) => r.key)), thresholdKeys);
  return { class: perClass(flags, keys, key), slice: perSlice(flags, keys, key) };
}
