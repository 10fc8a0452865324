/**
 * AutoAttack's plans (Croce & Hein 2020, the reference's versions): which registry entries each published
 * version runs, in order, with which options, and how a call's options turn a version into the list of
 * components to run. The runner is `../autoattack.ts`.
 */
import { UsageError } from '../../errors.js';
import { apgdCeInfo, apgdDlrInfo, apgdTInfo } from '../apgd.js';
import { fabInfo, fabTInfo } from '../fab.js';
import type { AttackInfo } from '../core/types.js';
import { squareInfo } from '../square.js';

/** The published versions. */
export type AutoAttackVersion = 'standard' | 'plus' | 'rand';
export const AUTOATTACK_VERSIONS: readonly AutoAttackVersion[] = ['standard', 'plus', 'rand'];

/** The registry entries AutoAttack can run, by name. */
export const COMPONENTS: Record<string, AttackInfo> = Object.fromEntries(
  [apgdCeInfo, apgdDlrInfo, apgdTInfo, fabInfo, fabTInfo, squareInfo].map((info) => [info.name, info as AttackInfo]),
);

/** One component of a version: a registry name and the options the version gives it. */
export interface AutoAttackComponent {
  name: string;
  options: Record<string, unknown>;
}

const one = { restarts: 1 };
const five = { restarts: 5 };
const targets9 = { restarts: 1, targetClasses: 9 };
const queries5000 = { queries: 5000 };
const VERSIONS: Record<AutoAttackVersion, { components: AutoAttackComponent[]; eotIterations: number }> = {
  standard: {
    components: [{ name: 'apgd-ce', options: one }, { name: 'apgd-t', options: targets9 }, { name: 'fab-t', options: targets9 }, { name: 'square', options: queries5000 }],
    eotIterations: 1,
  },
  plus: {
    components: [
      { name: 'apgd-ce', options: five }, { name: 'apgd-dlr', options: five }, { name: 'fab', options: five },
      { name: 'square', options: queries5000 }, { name: 'apgd-t', options: targets9 }, { name: 'fab-t', options: targets9 },
    ],
    eotIterations: 1,
  },
  rand: { components: [{ name: 'apgd-ce', options: one }, { name: 'apgd-dlr', options: one }], eotIterations: 20 },
};

/** The published versions' components, in order, with the options each gets (for docs and reports). */
export function autoattackVersions(): Record<AutoAttackVersion, { components: AutoAttackComponent[]; eotIterations: number }> {
  return structuredClone(VERSIONS);
}

/** A call's choice of components and budgets (the subset of `AutoAttackOptions` the plan reads). */
export interface PlanOptions {
  version: AutoAttackVersion;
  attacks?: string[];
  steps?: number;
  restarts?: number;
  targetClasses?: number;
  queries?: number;
}

/** The options that override the budget of every component that has them. */
const BUDGET_KEYS = ['steps', 'restarts', 'targetClasses', 'queries'] as const;

/** The components to run, each with its options: the version's, `attacks` if given, budget overrides on top. */
export function plan(o: PlanOptions): { info: AttackInfo; options: Record<string, unknown> }[] {
  const version = VERSIONS[o.version];
  if (!version) throw new UsageError(`autoattack: unknown version "${String(o.version)}"; choose one of ${AUTOATTACK_VERSIONS.join(', ')}`);
  const names = o.attacks ?? version.components.map((c) => c.name);
  if (names.length === 0) throw new UsageError(`autoattack: attacks is empty; name at least one of ${Object.keys(COMPONENTS).join(', ')}`);
  return names.map((name) => {
    const info = COMPONENTS[name];
    if (!info) throw new UsageError(`autoattack: unknown attack "${name}"; choose from ${Object.keys(COMPONENTS).join(', ')}`);
    const options = { ...(version.components.find((c) => c.name === name)?.options ?? {}) };
    for (const key of BUDGET_KEYS) {
      const value = o[key];
      if (value !== undefined && key in info.options) options[key] = value;
    }
    return { info, options };
  });
}


/** Forward passes averaged into every logit by default: the version's (20 for rand, else 1). */
export function versionEot(version: AutoAttackVersion): number {
  return VERSIONS[version].eotIterations;
}
