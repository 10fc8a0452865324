import seedrandom from 'seedrandom';
import { tf } from '../tf.js';

/**
 * Every random choice in robust flows from one seedrandom stream per call, so a seed reproduces a run
 * bit for bit on any backend (tensors are filled in JS, never by a backend's own RNG).
 */
export interface Rng {
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** A tensor of uniform values in [lo, hi). */
  uniform(shape: number[], lo: number, hi: number): tf.Tensor;
  /** A tensor of standard normal values (Box-Muller). */
  normal(shape: number[]): tf.Tensor;
  /** One uniform integer in [0, n) per row of a batch of `count` rows. */
  ints(count: number, n: number): Int32Array;
  /** A child stream, deterministic in the parent's state, for independent sub-tasks (restarts, workers). */
  fork(label: string): Rng;
}

function fillNormal(out: Float32Array, prng: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    const u = 1 - prng();
    const v = prng();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
}

export function makeRng(seed: string | number = 0): Rng {
  const key = String(seed);
  const prng = seedrandom(key);
  const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
  const rng: Rng = {
    float: () => prng(),
    int: (n) => Math.floor(prng() * n),
    uniform(shape, lo, hi) {
      const out = new Float32Array(size(shape));
      for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * prng();
      return tf.tensor(out, shape);
    },
    normal(shape) {
      const out = new Float32Array(size(shape));
      fillNormal(out, prng);
      return tf.tensor(out, shape);
    },
    ints: (count, n) => Int32Array.from({ length: count }, () => Math.floor(prng() * n)),
    fork: (label) => makeRng(`${key}/${label}/${prng().toString(36)}`),
  };
  return rng;
}

/**
 * A stream with one independent generator per example, keyed by the example's id: tensors whose first axis
 * is the batch get row r from the generator of `ids[r]`. So an example's random start or random target is
 * the same whatever batch, shard or early-stop subset it is computed in.
 */
export function rowRng(seed: string | number, ids: ArrayLike<number>): Rng {
  const key = String(seed);
  const shared = seedrandom(key);
  const rows = Array.from({ length: ids.length }, (_, r) => seedrandom(`${key}#${ids[r]}`));
  const byRow = (shape: number[], fill: (out: Float32Array, prng: () => number) => void): tf.Tensor => {
    if (shape[0] !== rows.length) throw new RangeError(`rowRng: a batch of ${shape[0]} rows for ${rows.length} example ids`);
    const per = shape.slice(1).reduce((a, b) => a * b, 1);
    const out = new Float32Array(rows.length * per);
    rows.forEach((prng, r) => fill(out.subarray(r * per, (r + 1) * per), prng));
    return tf.tensor(out, shape);
  };
  return {
    float: () => shared(),
    int: (n) => Math.floor(shared() * n),
    uniform: (shape, lo, hi) =>
      byRow(shape, (out, prng) => {
        for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * prng();
      }),
    normal: (shape) => byRow(shape, fillNormal),
    ints: (count, n) => {
      if (count !== rows.length) throw new RangeError(`rowRng: ${count} rows for ${rows.length} example ids`);
      return Int32Array.from(rows, (prng) => Math.floor(prng() * n));
    },
    fork: (label) => rowRng(`${key}/${label}`, ids),
  };
}
