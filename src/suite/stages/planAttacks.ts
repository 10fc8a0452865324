/**
 * Stage 0 of `runSuite`, before any work: the config's attack entries as planned attacks (ids made unique, eps
 * lists sorted), and every threshold key checked against what those attacks evaluate.
 */
import { getAttack } from '../../attacks/registry.js';
import type { NormName } from '../../attacks/core/norms.js';
import { UsageError } from '../../errors.js';
import { suggest } from '../../options/schema.js';
import type { LoadedConfig } from '../config.js';
import { thresholdKeys } from '../evaluate.js';
import { attackId } from '../keys.js';
import type { PlannedAttack } from './types.js';

/** What {@link planAttacks} needs: the loaded config. */
export interface PlanInput {
  loaded: LoadedConfig;
}

/** What {@link planAttacks} gives: one planned attack per config entry, in config order. */
export interface PlanOutput {
  attacks: PlannedAttack[];
}

/**
 * Plan a suite's attacks. A repeated attack in the same norm gets `#2`, `#3`, ... so every id is unique.
 * Throws UsageError when a threshold names a key no attack evaluates (with a did-you-mean).
 */
export function planAttacks({ loaded }: PlanInput): PlanOutput {
  const seen = new Map<string, number>();
  const attacks = loaded.config.attacks.map((a): PlannedAttack => {
    const info = getAttack(a.name);
    const norm: NormName = a.norm ?? info.norms[0] ?? 'linf';
    let id = attackId(a.name, norm);
    const count = (seen.get(id) ?? 0) + 1;
    seen.set(id, count);
    if (count > 1) id = `${id}#${count}`;
    const eps = a.eps === undefined ? [null] : Array.isArray(a.eps) ? [...new Set(a.eps)].sort((x, y) => x - y) : [a.eps];
    return { id, name: a.name, norm, kind: info.kind, params: {}, eps, gradientEvaluations: 0, queries: 0, seconds: 0, options: a.options ?? {} };
  });
  checkThresholdKeys(loaded, attacks);
  return { attacks };
}

function checkThresholdKeys(loaded: LoadedConfig, attacks: PlannedAttack[]): void {
  const keys = thresholdKeys(attacks);
  for (const field of ['robustAccuracy', 'minClassRobustAccuracy', 'minSliceRobustAccuracy'] as const) {
    const spec = loaded.config.thresholds?.[field];
    for (const key of typeof spec === 'object' ? Object.keys(spec) : []) {
      if (keys.includes(key)) continue;
      const hint = suggest(key, keys);
      throw new UsageError(`${loaded.path ?? 'config'}: thresholds.${field}["${key}"]: no attack of this suite evaluates that; ${hint ? `did you mean "${hint}"?` : `keys here are ${keys.join(', ')}`}`);
    }
  }
}
