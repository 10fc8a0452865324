/**
 * Square's Linf sampler (Andriushchenko et al. 2020): the initial vertical stripes and the proposal that
 * sets one random window of every channel to x ± eps.
 */
import type { Rng } from '../../tensor/random.js';
import { settleRow, sign, windowSize, type Search } from './geometry.js';

/** The Linf starting point: vertical stripes of ±eps, one sign per column and channel. */
export function linfInitial(s: Search, x: Float32Array, eps: number, rng: Rng): Float32Array {
  const { h, w, c } = s.l;
  const stripes = Array.from({ length: w * c }, () => sign(rng));
  const row = new Float32Array(s.d);
  for (let r = 0; r < h; r++) {
    for (let k = 0; k < w * c; k++) row[r * w * c + k] = (x[r * w * c + k] ?? 0) + eps * (stripes[k] ?? 1);
  }
  settleRow(s, x, row, eps);
  return row;
}

/** One Linf proposal: a random window, every channel of it set to x ± eps. */
export function linfProposal(s: Search, x: Float32Array, best: Float32Array, eps: number, p: number, rng: Rng): Float32Array {
  const { h, w, c } = s.l;
  const [sh, sw] = windowSize(s.l, p, 1, false);
  const vh = rng.int(h - sh + 1);
  const vw = rng.int(w - sw + 1);
  const signs = Array.from({ length: c }, () => sign(rng));
  const row = best.slice();
  for (let r = vh; r < vh + sh; r++) {
    for (let q = vw; q < vw + sw; q++) {
      for (let ch = 0; ch < c; ch++) {
        const f = (r * w + q) * c + ch;
        row[f] = (best[f] ?? 0) + 2 * eps * (signs[ch] ?? 1);
      }
    }
  }
  settleRow(s, x, row, eps);
  return row;
}
