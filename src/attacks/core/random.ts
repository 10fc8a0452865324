import seedrandom from 'seedrandom';
import { tf } from '../../tf.js';

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
  /** A child stream, deterministic in the parent's state, for independent sub-tasks (restarts, workers). */
  fork(label: string): Rng;
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
      for (let i = 0; i < out.length; i += 2) {
        const u = 1 - prng();
        const v = prng();
        const r = Math.sqrt(-2 * Math.log(u));
        out[i] = r * Math.cos(2 * Math.PI * v);
        if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
      }
      return tf.tensor(out, shape);
    },
    fork: (label) => makeRng(`${key}/${label}/${prng().toString(36)}`),
  };
  return rng;
}
