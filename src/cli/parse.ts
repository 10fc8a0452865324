import { UsageError } from '../errors.js';

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

export const parseInteger = (flag: string, min = 0) => parseNumber(flag, { integer: true, min });

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
