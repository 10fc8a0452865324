/**
 * The suite's `features` section: per-feature bounds, immutable features, integer features, one-hot
 * groups and per-feature units for eps, named by column (a CSV header) or by index. Resolved here into
 * the typed values the library takes: a model view in feature units (`scaleInputs`), an attack mask and
 * {@link FeatureConstraints}.
 */
import { UsageError } from '../errors.js';
import type { FeatureConstraints } from '../attacks/core/constraints.js';
import type { Bounds } from '../models/types.js';

/** A feature: its name (a CSV column) or its index in the flattened example. */
export type FeatureRef = string | number;

/** The `features` section of a suite config. */
export interface FeaturesConfig {
  /** Per-feature [min, max] in the feature's own units, overriding `model.bounds` for those features. */
  bounds?: Record<string, [number, number]>;
  /** Features an attacker cannot change (e.g. an account's age, a customer's country). */
  immutable?: FeatureRef[];
  /** Features that only take whole values (counts, ages): attacks' results are rounded towards the clean value. */
  integer?: FeatureRef[];
  /** Groups of features encoding one category one-hot: results keep exactly one member at 1. */
  oneHot?: FeatureRef[][];
  /** Per-feature unit of eps (default 1): eps 1 means one unit of every feature, e.g. {"amount": 100}. */
  scale?: Record<string, number>;
}

/** What a `features` section resolves to for one dataset and model. */
export interface ResolvedFeatures {
  /** Bounds in the features' own units. */
  bounds: Bounds;
  /** One positive unit per feature. */
  scale: Float32Array;
  /** 1 where a feature may change; undefined when every feature may. */
  mask?: Float32Array;
  /** Constraints in the attack's units (x / scale): integer features have grid spacing 1 / scale. */
  constraints: FeatureConstraints;
}

function indexOf(ref: FeatureRef, names: string[] | undefined, features: number, where: string): number {
  if (typeof ref === 'number' || /^\d+$/.test(ref)) {
    const i = Number(ref);
    if (!Number.isInteger(i) || i < 0 || i >= features) throw new UsageError(`${where}: feature ${ref} is out of range (0..${features - 1})`);
    return i;
  }
  const i = names?.indexOf(ref) ?? -1;
  if (i < 0) {
    const known = names === undefined ? 'the data has no feature names (use indices)' : `features are ${names.join(', ')}`;
    throw new UsageError(`${where}: no feature named "${ref}"; ${known}`);
  }
  return i;
}

function perFeature(value: number | number[], features: number): number[] {
  return typeof value === 'number' ? new Array<number>(features).fill(value) : [...value];
}

/**
 * Resolve a `features` section against the data's feature names and the model's bounds.
 * @throws UsageError naming the entry that is wrong (unknown feature, bad bound, scale ≠ 1 on a one-hot member).
 */
export function resolveFeatures(cfg: FeaturesConfig, names: string[] | undefined, features: number, modelBounds: Bounds, where = 'features'): ResolvedFeatures {
  const at = (ref: FeatureRef, field: string): number => indexOf(ref, names, features, `${where}.${field}`);
  const min = perFeature(modelBounds.min, features);
  const max = perFeature(modelBounds.max, features);
  for (const [ref, [lo, hi]] of Object.entries(cfg.bounds ?? {})) {
    const f = at(ref, 'bounds');
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) throw new UsageError(`${where}.bounds.${ref}: expected [min, max] with min < max, got [${lo}, ${hi}]`);
    min[f] = lo;
    max[f] = hi;
  }
  const scale = new Float32Array(features).fill(1);
  for (const [ref, s] of Object.entries(cfg.scale ?? {})) {
    if (!(Number.isFinite(s) && s > 0)) throw new UsageError(`${where}.scale.${ref}: expected a number > 0, got ${s}`);
    scale[at(ref, 'scale')] = s;
  }
  let mask: Float32Array | undefined;
  if ((cfg.immutable?.length ?? 0) > 0) {
    mask = new Float32Array(features).fill(1);
    for (const ref of cfg.immutable ?? []) mask[at(ref, 'immutable')] = 0;
  }
  const grid = new Float32Array(features);
  for (const ref of cfg.integer ?? []) {
    const f = at(ref, 'integer');
    grid[f] = 1 / (scale[f] as number);
  }
  const oneHot = (cfg.oneHot ?? []).map((group, g) =>
    group.map((ref) => {
      const f = at(ref, `oneHot[${g}]`);
      if (scale[f] !== 1) throw new UsageError(`${where}.oneHot[${g}]: feature ${String(ref)} has scale ${scale[f]}; one-hot features take 0 or 1, so their scale must be 1`);
      return f;
    }),
  );
  return { bounds: { min, max }, scale, ...(mask ? { mask } : {}), constraints: { grid, oneHot } };
}
