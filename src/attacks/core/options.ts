import { resolveOptions, type OptionSchema, type Resolved } from '../../options/schema.js';
import type { CommonAttackOptions } from './types.js';

/**
 * Options every attack takes besides its own (the harness checks them: eps, norm, targeting, bounds, mask,
 * exampleIds). Only attack-specific options are declared in an attack's schema.
 */
export const COMMON_OPTIONS: readonly (keyof CommonAttackOptions)[] = ['norm', 'eps', 'targeting', 'seed', 'exampleIds', 'mask', 'bounds', 'earlyStop', 'cleanLogits'];

/**
 * An attack's options: `defaults` overlaid with what the caller gave, after refusing an unknown, ill-typed
 * or out-of-range option against `schema` (the common options pass through, as do `internal` ones a
 * caller inside robust may set, such as APGD's trace).
 * @example const o = attackOptions('pgd', OPTIONS, DEFAULTS, options); // throws on { step: 5 }
 */
export function attackOptions<D extends object, V extends object>(attack: string, schema: OptionSchema, defaults: D, values: V, internal: readonly string[] = []): Resolved<D, V> {
  return resolveOptions(schema, defaults, values, { owner: attack, passThrough: [...COMMON_OPTIONS, ...internal] });
}
