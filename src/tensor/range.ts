/**
 * Extremes of per-feature and per-example arrays, by a loop. `Math.min(...values)` passes every element as
 * a call argument and overflows the stack past about 10^5 of them (a 224×224×3 image has 150,528 features;
 * a suite's per-example distances grow with its size), so robust never spreads an array into a call.
 */

/** The smallest of `values`; Infinity when there are none. */
export function minOf(values: ArrayLike<number>): number {
  let lo = Infinity;
  for (let i = 0; i < values.length; i++) if ((values[i] as number) < lo) lo = values[i] as number;
  return lo;
}

/** The largest of `values`; −Infinity when there are none. */
export function maxOf(values: ArrayLike<number>): number {
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) if ((values[i] as number) > hi) hi = values[i] as number;
  return hi;
}

/** A bound given as one number or one per feature, as [its lowest, its highest] value. */
export function extremes(bound: number | ArrayLike<number>): [number, number] {
  return typeof bound === 'number' ? [bound, bound] : [minOf(bound), maxOf(bound)];
}

/** The scalar range that holds every feature's bounds: the lowest lower bound and the highest upper bound. */
export function boundsRange(bounds: { min: number | ArrayLike<number>; max: number | ArrayLike<number> }): { min: number; max: number } {
  return { min: extremes(bounds.min)[0], max: extremes(bounds.max)[1] };
}
