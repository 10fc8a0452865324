import { UsageError } from '../errors.js';
import { apgdCeInfo, apgdDlrInfo, apgdTInfo } from './apgd.js';
import { autoattackInfo } from './autoattack.js';
import { checkOptions, suggest } from '../options/schema.js';
import { COMMON_OPTIONS } from './core/options.js';
import type { AttackInfo } from './core/types.js';
import { cwInfo } from './cw.js';
import { ddnInfo } from './ddn.js';
import { deepfoolInfo } from './deepfool.js';
import { fabInfo, fabTInfo } from './fab.js';
import { fgsmInfo } from './fgsm.js';
import { fmnInfo } from './fmn.js';
import { mifgsmInfo } from './mifgsm.js';
import { pgdInfo } from './pgd.js';
import { squareInfo } from './square.js';

/**
 * Every attack robust ships, in the order the CLI and docs list them. The single source of truth:
 * the public index, the CLI's `--attack` choices, the docs table and the test table
 * (`test/attacks-registry.test.ts`) all iterate this array, so a new attack is tested the day it is
 * added here. Each entry lives beside its attack (`pgd.ts` exports `pgdInfo`).
 */
export const ATTACKS: AttackInfo[] = [
  fgsmInfo,
  pgdInfo,
  mifgsmInfo,
  cwInfo,
  deepfoolInfo,
  ddnInfo,
  fmnInfo,
  fabInfo,
  fabTInfo,
  // ── Add new attacks below (apgd-ce, apgd-dlr, apgd-t, square, autoattack). ──
  apgdCeInfo,
  apgdDlrInfo,
  apgdTInfo,
  squareInfo,
  autoattackInfo,
];

/** Names of every registered attack, e.g. for the CLI's `--attack` choices. */
export function attackNames(): string[] {
  return ATTACKS.map((a) => a.name);
}

/**
 * The registry entry for `name`.
 * @throws UsageError naming every choice when `name` is unknown.
 * @example
 *   const info = getAttack('pgd');
 *   const r = await info.run(model, x, y, { ...info.defaults, eps: 0.3 });
 */
export function getAttack(name: string): AttackInfo {
  const found = ATTACKS.find((a) => a.name === name);
  if (!found) {
    const hint = suggest(name, attackNames());
    throw new UsageError(`unknown attack "${name}": ${hint ? `did you mean "${hint}"? ` : ''}choose one of ${attackNames().join(', ')}`);
  }
  return found;
}

/**
 * Refuse an option the attack does not declare, or a value of the wrong type or out of range, before any
 * work: the one check behind the library (`runAttack`), the CLI's flags and a suite file's options.
 * The options every attack takes (seed, targeting, mask, ...) pass through; the harness checks them.
 * @throws UsageError with a "did you mean", e.g. `options.step: pgd has no option "step"; did you mean "steps"?`
 */
export function checkAttackOptions(info: AttackInfo, values: object, context: { where?: string; flags?: boolean; otherFlags?: Readonly<Record<string, string>> } = {}): void {
  checkOptions(info.options, values, { owner: info.name, ...context, passThrough: COMMON_OPTIONS });
}
