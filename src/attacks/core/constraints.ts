/**
 * Feature constraints that keep an adversarial example a valid input of its domain: a feature that only
 * takes whole values (a count, an age), or a group of features that encode one category one-hot. Gradient
 * attacks move every feature continuously, so the harness applies {@link projectFeasible} as its final
 * projection, after the eps-ball, bounds and mask, and only then evaluates the model: success is always
 * decided on the valid point, never on the continuous iterate that led to it.
 *
 * The projection never leaves the threat model: a grid feature is rounded towards its clean value (so
 * its change only shrinks), and a one-hot group takes the category the attack raised most only when
 * the whole perturbation still fits in eps; otherwise the group keeps its clean category.
 */
import { InputError } from '../../errors.js';
import type { Bounds } from '../../models/types.js';
import { L0_TOLERANCE, type NormName } from './norms.js';

/** Validity rules for the features of one example (flattened). */
export interface FeatureConstraints {
  /**
   * Per feature, the spacing of the values it may take (0: any value). 1 makes a feature integer; a
   * feature whose attack space is scaled by s (see `scaleInputs`) has spacing 1/s. The clean value must
   * lie on the grid.
   */
  grid?: Float32Array;
  /**
   * Groups of feature indices, each one category encoded one-hot: exactly one member is 1, the rest 0,
   * before and after an attack. A group with an immutable (masked) member never changes.
   */
  oneHot?: number[][];
}

/** Whether a projection has anything to do. */
export function hasConstraints(c: FeatureConstraints | undefined): c is FeatureConstraints {
  return c !== undefined && ((c.grid?.some((g) => g > 0) ?? false) || (c.oneHot?.length ?? 0) > 0);
}

/** Values this close (relative to the spacing) to a grid point count as on it: float32 arithmetic blurs them. */
const ON_GRID = 1e-4;

function onGrid(v: number, g: number): boolean {
  const k = v / g;
  return Math.abs(k - Math.round(k)) <= ON_GRID;
}

function side(b: number | number[], f: number): number {
  return typeof b === 'number' ? b : (b[f] as number);
}

/**
 * Check constraints against the example size, the bounds and clean inputs `x` ([n·features]): indices in
 * range and disjoint groups, one-hot members whose bounds hold 0 and 1, clean values on their grid and
 * clean groups one-hot.
 * @throws InputError naming the example and feature.
 */
export function checkConstraints(c: FeatureConstraints, x: Float32Array, features: number, bounds: Bounds, where = 'constraints'): void {
  if (c.grid !== undefined) {
    if (c.grid.length !== features) throw new InputError(`${where}: grid has ${c.grid.length} values but an example has ${features} features`);
    if (!c.grid.every((g) => Number.isFinite(g) && g >= 0)) throw new InputError(`${where}: grid spacings must be finite numbers >= 0`);
  }
  const seen = new Set<number>();
  for (const group of c.oneHot ?? []) {
    if (group.length < 2) throw new InputError(`${where}: a one-hot group needs at least 2 features, got [${group.join(', ')}]`);
    for (const f of group) {
      if (!Number.isInteger(f) || f < 0 || f >= features) throw new InputError(`${where}: one-hot feature ${f} is not one of the ${features} features`);
      if (seen.has(f)) throw new InputError(`${where}: feature ${f} is in two one-hot groups; groups must be disjoint`);
      seen.add(f);
      if (side(bounds.min, f) > 0 || side(bounds.max, f) < 1) throw new InputError(`${where}: one-hot feature ${f} has bounds that exclude 0 or 1`);
    }
  }
  const n = x.length / features;
  for (let i = 0; i < n; i++) {
    const row = i * features;
    c.grid?.forEach((g, f) => {
      const v = x[row + f] as number;
      if (g > 0 && !onGrid(v, g)) throw new InputError(`${where}: example ${i}, feature ${f} is ${v}, not a multiple of ${g}; the data must be valid before an attack`);
    });
    for (const group of c.oneHot ?? []) {
      const hot = group.filter((f) => x[row + f] === 1).length;
      const cold = group.filter((f) => x[row + f] === 0).length;
      if (hot !== 1 || cold !== group.length - 1) {
        throw new InputError(`${where}: example ${i}, one-hot group [${group.join(', ')}] is not one-hot (${group.map((f) => x[row + f]).join(', ')})`);
      }
    }
  }
}

/** The norm of `delta` over the features where `pick` is true. */
function norm(delta: Float32Array, pick: (f: number) => boolean, name: NormName): number {
  let s = 0;
  delta.forEach((d, f) => {
    if (!pick(f)) return;
    const a = Math.abs(d);
    if (name === 'l0') s += a > L0_TOLERANCE ? 1 : 0;
    else s = name === 'linf' ? Math.max(s, a) : name === 'l2' ? s + a * a : s + a;
  });
  return name === 'l2' ? Math.sqrt(s) : s;
}

/**
 * The factor t in [0, 1] by which the continuous part of a perturbation must shrink for the whole to fit
 * in eps, given the norm of the discrete part (grid and one-hot features); null when even t = 0 does not.
 */
function continuousShrink(discrete: number, continuous: number, eps: number, name: NormName): number | null {
  if (discrete > eps) return null;
  if (name === 'linf' || continuous === 0) return 1;
  // Shrinking a change never removes it from an L0 count: the continuous part stays whole or goes.
  if (name === 'l0') return discrete + continuous <= eps ? 1 : 0;
  const room = name === 'l2' ? Math.sqrt(eps * eps - discrete * discrete) : eps - discrete;
  return Math.min(1, room / continuous);
}

const SLACK = 1e-6;

/**
 * Project adversarial examples onto the valid inputs, example by example (host arrays, [n·features]):
 * grid features are rounded towards their clean value; each one-hot group takes the member the attack
 * raised most (the clean one on ties; the group stays clean where `mask` fixes any member). When `eps`
 * is given and a category switch takes the result outside the `norm` ball, the continuous features'
 * change shrinks to make room, or, where the switches alone exceed eps, the groups go back to their
 * clean categories (rounding towards the clean value only ever shrinks a change, so that point is
 * inside). Returns a new array.
 */
export function projectFeasible(
  x: Float32Array,
  xAdv: Float32Array,
  features: number,
  c: FeatureConstraints,
  opts: { mask?: Float32Array; eps?: Float32Array; norm: NormName },
): Float32Array {
  const out = Float32Array.from(xAdv);
  const n = x.length / features;
  const groups = (c.oneHot ?? []).filter((g) => opts.mask === undefined || g.every((f) => (opts.mask?.[f] ?? 1) > 0));
  const delta = new Float32Array(features);
  const discrete = new Uint8Array(features);
  c.grid?.forEach((g, f) => (discrete[f] = g > 0 ? 1 : 0));
  for (const group of groups) for (const f of group) discrete[f] = 1;
  for (let i = 0; i < n; i++) {
    const row = i * features;
    c.grid?.forEach((g, f) => {
      if (g <= 0) return;
      const x0 = x[row + f] as number;
      const steps = ((out[row + f] as number) - x0) / g;
      // Snap values a float rounding away from a grid point onto it before truncating towards x0.
      const k = Math.abs(steps - Math.round(steps)) <= ON_GRID ? Math.round(steps) : Math.trunc(steps);
      out[row + f] = x0 + k * g;
    });
    for (const group of groups) {
      // The category the attack raised most; the clean one wins ties, so noise alone switches nothing.
      let best = group.find((f) => x[row + f] === 1) ?? (group[0] as number);
      const rise = (f: number): number => (out[row + f] as number) - (x[row + f] as number);
      for (const f of group) if (rise(f) > rise(best)) best = f;
      for (const f of group) out[row + f] = f === best ? 1 : 0;
    }
    const eps = opts.eps?.[i];
    if (eps === undefined || groups.length === 0) continue;
    for (let f = 0; f < features; f++) delta[f] = (out[row + f] as number) - (x[row + f] as number);
    const total = norm(delta, () => true, opts.norm);
    if (total <= eps * (1 + SLACK) + SLACK) continue;
    // Over budget after a category switch: keep the switch and shrink the continuous features' change
    // towards their clean values (inside the bounds, as the box is convex); if the discrete part alone is
    // too big, the groups go back to their clean categories, which leaves every change no larger than before.
    const t = continuousShrink(norm(delta, (f) => discrete[f] === 1, opts.norm), norm(delta, (f) => discrete[f] === 0, opts.norm), eps, opts.norm);
    if (t === null) {
      for (const group of groups) for (const f of group) out[row + f] = x[row + f] as number;
    } else {
      for (let f = 0; f < features; f++) if (discrete[f] === 0) out[row + f] = (x[row + f] as number) + t * (delta[f] as number) * (1 - SLACK);
    }
  }
  return out;
}
