/**
 * What `runAttack` is asked to run, checked and planned before any work: the spec (attack, norm, budgets,
 * options) the CLI, the suite config and the registry share, its checks, the options as a report shows
 * them, and the memory the attack needs per example (for the batch plan).
 */
import { UsageError } from '../../errors.js';
import type { FeatureConstraints } from '../core/constraints.js';
import type { NormName } from '../core/norms.js';
import type { AttackInfo, CommonAttackOptions } from '../core/types.js';
import { checkAttackOptions } from '../registry.js';

/** Attack options as the CLI and configs carry them: the common ones plus any attack-specific ones (steps, c, ...). */
export type AttackOptions = Omit<CommonAttackOptions, 'eps' | 'norm' | 'cleanLogits'> & { [option: string]: unknown };

/** The unit the CLI, suite config and registry share: which attack, in which norm, at which budgets. */
export interface AttackSpec {
  /** A registry name, e.g. 'pgd'. */
  name: string;
  /** Default: the attack's own default norm. */
  norm?: NormName;
  /** Budgets to evaluate; null for a minimum-norm attack run without a budget (one `eps: null` result). */
  eps: number[] | null;
  options?: AttackOptions;
}

/**
 * Input-sized tensors per example an attack keeps besides its model pass (clean and working copies, iterates,
 * momentum, best-so-far, results). Measured with `tf.profile` on a small conv net: PGD and FGSM keep about 3,
 * APGD and AutoAttack 11 to 13, Carlini-Wagner (Adam moments, tanh-space variables) 26; 32 covers them all.
 */
export const ATTACK_STATE_COPIES = 32;

/** Model passes an attack runs at once per example: DeepFool differentiates candidates − 1 copies of its batch. */
export function modelCopies(info: AttackInfo, spec: AttackSpec, numClasses: number): number {
  if (info.name !== 'deepfool') return 1;
  const candidates = Number(spec.options?.candidates ?? (info.defaults as { candidates?: number }).candidates ?? numClasses);
  return Math.max(1, Math.min(candidates, numClasses) - 1);
}

/**
 * Refuse a spec the attack cannot run, before any work, in the library's words (the CLI and the suite
 * check their own spellings first): a norm it lacks, budgets that are not a list, a fixed-eps attack
 * without budgets, options it does not declare.
 */
export function checkSpec(info: AttackInfo, spec: AttackSpec): void {
  const norm = spec.norm ?? info.norms[0] ?? 'linf';
  if (!info.norms.includes(norm)) throw new UsageError(`${info.name} supports norm ${info.norms.join('|')}, not ${norm}`);
  const eps: unknown = spec.eps;
  if (eps !== null && eps !== undefined && !(Array.isArray(eps) && eps.every((e) => typeof e === 'number' && Number.isFinite(e) && e >= 0))) {
    throw new UsageError(`runAttack: spec.eps must be a list of budgets >= 0 such as [${typeof eps === 'number' ? eps : 0.3}], or null; got ${JSON.stringify(eps)}`);
  }
  if (info.kind === 'fixed-eps' && !(Array.isArray(eps) && eps.length > 0)) {
    throw new UsageError(`${info.name} needs budgets: pass spec.eps, e.g. { name: '${info.name}', eps: [0.3] }`);
  }
  checkAttackOptions(info, spec.options ?? {}, { where: 'spec.options' });
}

/** Options as a report shows them: typed arrays (mask, target labels) summarised, not dumped. */
export function reportedParams(defaults: object, options: AttackOptions | undefined, norm: NormName): Record<string, unknown> {
  const params: Record<string, unknown> = { ...defaults, norm };
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value === undefined) continue;
    if (key === 'targeting') params.targeting = (value as { kind: string }).kind;
    else if (key === 'mask' && value instanceof Float32Array) params.mask = `${value.filter((m) => m > 0).length} of ${value.length} features free`;
    else if (key === 'constraints') {
      const c = value as FeatureConstraints;
      params.constraints = `${c.grid?.filter((g) => g > 0).length ?? 0} gridded (integer) features, ${c.oneHot?.length ?? 0} one-hot groups`;
    }
    else params[key] = value;
  }
  return params;
}
