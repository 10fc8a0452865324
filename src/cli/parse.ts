import { UsageError } from '../errors.js';
import { COUNT_LIMITS, isCount } from '../util/limits.js';

/** commander argument parsers that fail with a one-line usage error naming the flag. */

export function parseNumber(flag: string, opts: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean } = {}) {
  return (raw: string): number => {
    const v = Number(raw);
    const what = opts.integer ? 'an integer' : 'a number';
    if (raw.trim() === '' || !Number.isFinite(v) || (opts.integer && !Number.isInteger(v))) {
      throw new UsageError(`${flag}: expected ${what}, got "${raw}"`);
    }
    if (opts.min !== undefined && (opts.exclusiveMin ? v <= opts.min : v < opts.min)) {
      throw new UsageError(`${flag}: expected ${what} ${opts.exclusiveMin ? '>' : '>='} ${opts.min}, got ${raw}`);
    }
    if (opts.max !== undefined && v > opts.max) throw new UsageError(`${flag}: expected ${what} <= ${opts.max}, got ${raw}`);
    return v;
  };
}

/**
 * A whole number >= `min`. A count with a documented maximum (`--steps` → COUNT_LIMITS.steps) is also refused
 * beyond it, so `--steps 1e12` exits 2 at once instead of running for days.
 */
export function parseInteger(flag: string, min = 0) {
  const key = flag.replace(/^--/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
  const parse = parseNumber(flag, { integer: true, min });
  if (!isCount(key)) return parse;
  const max = COUNT_LIMITS[key];
  return (raw: string): number => {
    const v = parse(raw);
    if (v > max) throw new UsageError(`${flag}: ${raw} is beyond the documented maximum of ${max} (see docs/errors.md)`);
    return v;
  };
}

/** A seed: any non-empty string (numbers are strings too); an empty one is almost always a shell variable left unset. */
export function parseSeed(raw: string): string {
  if (raw.trim() === '') throw new UsageError('--seed: expected a non-empty seed, got ""; pass e.g. --seed 0 (was a shell variable left unset?)');
  return raw;
}

/** "0.1,0.2,0.3" → [0.1, 0.2, 0.3], each > 0. */
export function parseNumberList(flag: string) {
  const one = parseNumber(flag, { min: 0, exclusiveMin: true });
  return (raw: string): number[] => {
    const parts = raw.split(',').map((s) => s.trim());
    if (parts.some((p) => p === '')) throw new UsageError(`${flag}: expected a number or comma-separated numbers, got "${raw}"`);
    return parts.map(one);
  };
}

/** "true" / "false" (also yes/no, 1/0). */
export function parseBool(flag: string) {
  return (raw: string): boolean => {
    const v = raw.trim().toLowerCase();
    if (['true', 'yes', '1'].includes(v)) return true;
    if (['false', 'no', '0'].includes(v)) return false;
    throw new UsageError(`${flag}: expected true or false, got "${raw}"`);
  };
}
