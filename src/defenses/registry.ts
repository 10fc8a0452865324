import { UsageError } from '../errors.js';
import type { Model } from '../models/types.js';
import { bitDepthInfo } from './bitDepth.js';
import { compose, type DefendOptions, type DefendedModel } from './defended.js';
import { gaussianBlurInfo } from './gaussianBlur.js';
import { jpegInfo } from './jpeg.js';
import { medianInfo } from './median.js';
import { randomNoiseInfo } from './noise.js';
import { resizePadInfo } from './resizePad.js';
import { totalVariationInfo } from './totalVariation.js';
import type { Defense, DefenseInfo, DefenseSpec } from './types.js';
import { checkOptions, suggest } from '../options/schema.js';

/**
 * Every input-transform defence robust ships, in the order the docs list them: the single source of truth
 * for the suite schema's `defenses` entries, the docs table and the test table. Each entry lives beside
 * its defence (`median.ts` exports `medianInfo`).
 */
export const DEFENSES: DefenseInfo[] = [
  medianInfo,
  bitDepthInfo,
  gaussianBlurInfo,
  jpegInfo,
  totalVariationInfo,
  randomNoiseInfo,
  resizePadInfo,
];

/** Names of every registered defence, e.g. for a suite file's `defenses[].name`. */
export function defenseNames(): string[] {
  return DEFENSES.map((d) => d.name);
}

/**
 * The registry entry for `name`.
 * @throws UsageError naming every choice when `name` is unknown.
 */
export function getDefense(name: string): DefenseInfo {
  const found = DEFENSES.find((d) => d.name === name);
  if (!found) {
    const hint = suggest(name, defenseNames());
    throw new UsageError(`unknown defence "${name}": ${hint ? `did you mean "${hint}"? ` : ''}choose one of ${defenseNames().join(', ')}`);
  }
  return found;
}

/**
 * Build a defence from a spec such as `{ name: 'median', size: 3 }`. Options must be ones the entry
 * declares, of its types and ranges; missing ones take their defaults.
 * @throws UsageError on an unknown name or option, or a bad value (`where` prefixes the message).
 */
export function makeDefense(spec: DefenseSpec, where = 'defence'): Defense {
  const info = getDefense(spec.name);
  const { name: _name, ...options } = spec;
  checkOptions(info.options, options, { owner: info.name, where });
  try {
    return info.create(options as Record<string, number>);
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${where}: ${err.message}`);
    throw err;
  }
}

/**
 * {@link compose} from specs, as a suite file names them.
 * @example
 *   const defended = withDefenses(model, [{ name: 'median', size: 3 }, { name: 'bit-depth', bits: 4 }]);
 *   await runAttack(defended.adaptive, data, { name: 'pgd', eps: [0.1] });
 */
export function withDefenses(model: Model, specs: readonly DefenseSpec[], options: DefendOptions = {}): DefendedModel {
  return compose(model, specs.map((s, i) => makeDefense(s, `defenses[${i}]`)), options);
}
