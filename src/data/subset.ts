import seedrandom from 'seedrandom';
import { InputError, UsageError } from '../errors.js';
import { exampleSize, makeDataset, type DatasetParts } from './dataset.js';
import type { Dataset } from './types.js';

/** Which examples a run uses. */
export interface SubsetOptions {
  /** Number of examples to take; default: all that remain after `offset`. */
  n?: number;
  /** Number of positions to skip first; default 0. */
  offset?: number;
  /**
   * `'first'` (default) takes positions offset..offset+n-1 of the source order; `'random'` takes the same
   * positions of a seeded permutation, i.e. a sample without replacement, so shards that differ only in
   * `offset` are disjoint.
   */
  sample?: 'first' | 'random';
  /** Seed of the `'random'` permutation (seedrandom ARC4 over `String(seed)`); default 0. */
  seed?: string | number;
}

/**
 * A seeded permutation of 0..n-1: Fisher–Yates from the last position down, swapping position i with
 * j = floor(rng() * (i + 1)), where rng = seedrandom(String(seed)). Same seed, same permutation, on every
 * platform.
 */
export function seededPermutation(n: number, seed: string | number): Int32Array {
  const rng = seedrandom(String(seed));
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}

function checkCount(value: number | undefined, flag: string): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new UsageError(`${flag} must be a whole number >= 0, got ${value}`);
  }
}

/**
 * The source positions a subset uses, in ascending order (a random sample is sorted, so it reads as a set).
 * @throws UsageError when n or offset is negative or fractional, or asks for more examples than exist.
 * @throws InputError when the selection is empty.
 */
export function selectIndices(total: number, opts: SubsetOptions = {}): Int32Array {
  checkCount(opts.n, '--n');
  checkCount(opts.offset, '--offset');
  const offset = opts.offset ?? 0;
  const available = Math.max(0, total - offset);
  const n = opts.n ?? available;
  if (n > available) {
    throw new UsageError(`--n ${n} asks for more than the ${available} examples available after --offset ${offset} (of ${total}); lower --n or --offset`);
  }
  if (n === 0) {
    throw new InputError(`the selection is empty (${total} examples, --offset ${offset}, --n ${n}); select at least one example`);
  }
  const sample = opts.sample ?? 'first';
  if (sample !== 'first' && sample !== 'random') throw new UsageError(`--sample must be 'first' or 'random', got '${String(sample)}'`);
  if (sample === 'first') {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = offset + i;
    return out;
  }
  return seededPermutation(total, opts.seed ?? 0).slice(offset, offset + n).sort();
}

/**
 * The examples of `ds` at `indices`, in that order (new arrays; `ds` is not changed).
 * @example takeIndices(ds, new Int32Array([0, 5, 9]))
 */
export function takeIndices(ds: DatasetParts, indices: Int32Array): DatasetParts {
  const size = exampleSize(ds.shape);
  const count = ds.y.length;
  const x = new Float32Array(indices.length * size);
  const y = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (i < 0 || i >= count) throw new RangeError(`index ${i} is outside 0..${count - 1}`);
    x.set(ds.x.subarray(i * size, (i + 1) * size), k * size);
    y[k] = ds.y[i]!;
  }
  const groups = ds.groups;
  return {
    x,
    y,
    shape: [...ds.shape],
    source: ds.source,
    ...(ds.numClasses !== undefined ? { numClasses: ds.numClasses } : {}),
    ...(groups !== undefined ? { groups: Array.from(indices, (i) => groups[i]!) } : {}),
  };
}

/**
 * A subset of a loaded dataset as a new, re-hashed dataset (see {@link selectIndices} for the rules).
 * @example takeSubset(ds, { n: 100, sample: 'random', seed: 1 })
 */
export function takeSubset(ds: Dataset, opts: SubsetOptions): Dataset {
  return makeDataset(takeIndices(ds, selectIndices(ds.n, opts)));
}
