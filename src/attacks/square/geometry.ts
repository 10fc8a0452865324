/**
 * What Square's two proposal samplers (`linf.ts`, `l2.ts`) share: the image layout of one example, the
 * window a fraction p of it covers, the search's settings in plain arrays, and the clip of a candidate
 * row into its box. The loop is `../square.ts`.
 */
import { UsageError } from '../../errors.js';
import type { Rng } from '../../tensor/random.js';

/** Image layout of one example: rows, columns, channels (NHWC, flattened row-major). */
export interface Layout {
  h: number;
  w: number;
  c: number;
}

export function layoutOf(shape: number[]): Layout {
  const [a = 1, b = 1, c = 1] = shape;
  if (shape.length === 1) return { h: 1, w: a, c: 1 };
  if (shape.length === 2) return { h: a, w: b, c: 1 };
  if (shape.length === 3) return { h: a, w: b, c };
  throw new UsageError(`square works on [h, w, c], [h, w] or [d] inputs, not [${shape.join(', ')}]`);
}

/** Window size for a fraction p: a square for images, a run of features for flat inputs. */
export function windowSize(l: Layout, p: number, min: number, odd: boolean): [number, number] {
  if (l.h === 1) {
    let sw = Math.min(Math.max(Math.round(p * l.w), min), l.w);
    if (odd && sw % 2 === 0) sw = sw < l.w ? sw + 1 : sw - 1;
    return [1, Math.max(sw, 1)];
  }
  let s = Math.max(Math.round(Math.sqrt(p * l.h * l.w)), min);
  if (odd && s % 2 === 0) s += 1;
  s = Math.min(s, l.h, l.w);
  return [s, s];
}

/** Everything the search needs about one call, in plain arrays. */
export interface Search {
  l: Layout;
  d: number;
  norm: 'linf' | 'l2';
  lo: (f: number) => number;
  hi: (f: number) => number;
  free: (f: number) => boolean;
  queries: number;
  pInit: number;
}

/** A random sign, ±1. */
export const sign = (rng: Rng): number => (rng.float() < 0.5 ? -1 : 1);

/** Clip a candidate row into its eps-box (Linf only) and the bounds; masked features stay at x. */
export function settleRow(s: Search, x: Float32Array, row: Float32Array, eps: number): void {
  for (let f = 0; f < s.d; f++) {
    const xf = x[f] ?? 0;
    let v = s.free(f) ? (row[f] ?? 0) : xf;
    if (s.norm === 'linf') v = Math.min(Math.max(v, xf - eps), xf + eps);
    row[f] = Math.min(Math.max(v, s.lo(f)), s.hi(f));
  }
}
