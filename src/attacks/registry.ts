import { UsageError } from '../errors.js';
import { apgdCeInfo, apgdDlrInfo, apgdTInfo } from './apgd.js';
import { autoattackInfo } from './autoattack.js';
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
  if (!found) throw new UsageError(`unknown attack "${name}": choose one of ${attackNames().join(', ')}`);
  return found;
}

/** Names of the options `name` accepts besides the common ones (those with a default or a computed default). */
export function attackOptionNames(name: string): string[] {
  const info = getAttack(name);
  return [...Object.keys(info.defaults), ...Object.keys(info.computedDefaults ?? {})].filter((k) => k !== 'norm');
}
