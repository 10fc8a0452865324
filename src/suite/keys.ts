import type { NormName } from '../attacks/core/norms.js';

/**
 * Names of the numbers a suite produces, as thresholds and reports use them:
 * "pgd@linf" (an attack in a norm), "pgd@linf:0.3" (at one eps), "cw@l2:min" (a minimum-norm run without eps),
 * "worst@linf:0.3" (the per-point worst case over attacks).
 */
export const attackId = (name: string, norm: NormName): string => `${name}@${norm}`;
export const epsKey = (id: string, eps: number | null): string => `${id}:${eps === null ? 'min' : String(eps)}`;
export const worstKey = (norm: NormName, eps: number): string => `worst@${norm}:${String(eps)}`;

/**
 * The parts of an eps key: "pgd@linf:0.3" → { who: 'pgd', norm: 'linf', eps: 0.3 }, "worst@l2:1" → who 'worst';
 * null for a key without a numeric eps (e.g. "cw@l2:min") or not of that shape.
 */
export function parseEpsKey(key: string): { who: string; norm: string; eps: number } | null {
  const m = /^([^@]+)@([^:]+):(.+)$/.exec(key);
  const eps = m ? Number(m[3]) : Number.NaN;
  return m && Number.isFinite(eps) ? { who: m[1]!, norm: m[2]!, eps } : null;
}
