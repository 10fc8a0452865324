/**
 * Square's L2 sampler (Andriushchenko et al. 2020, the reference's eta bumps): the initial grid of bumps
 * and the proposal that moves the perturbation's mass from one window into another at norm eps.
 */
import type { Rng } from '../../tensor/random.js';
import { settleRow, sign, windowSize, type Search } from './geometry.js';

/** The reference's eta_rectangles: nested rectangles of weight 1/(k+1)², normalised. Row-major [x, y]. */
function etaRectangles(x: number, y: number): Float64Array {
  const out = new Float64Array(x * y);
  if (out.length === 0) return out;
  let r0 = Math.floor(x / 2);
  let c0 = Math.floor(y / 2);
  for (let k = 0; k < Math.max(r0 + 1, c0 + 1); k++) {
    for (let r = Math.max(r0, 0); r < Math.min(r0 + 2 * k + 1, x); r++) {
      for (let c = Math.max(c0, 0); c < Math.min(c0 + 2 * k + 1, y); c++) out[r * y + c] = (out[r * y + c] ?? 0) + 1 / (k + 1) ** 2;
    }
    r0 -= 1;
    c0 -= 1;
  }
  const size = Math.hypot(...out);
  return out.map((v) => v / size);
}

/** The reference's eta: +bump on one half of the window, −bump on the other, unit L2 norm, randomly transposed. */
function eta(sh: number, sw: number, rng: Rng): Float64Array {
  const out = new Float64Array(sh * sw);
  if (sh === 1) {
    // Flat inputs: the halves are the left and right runs of features.
    const left = etaRectangles(1, Math.floor(sw / 2));
    const right = etaRectangles(1, sw - Math.floor(sw / 2));
    left.forEach((v, i) => (out[i] = v));
    right.forEach((v, i) => (out[left.length + i] = -v));
  } else {
    const top = etaRectangles(Math.floor(sh / 2), sw);
    const bottom = etaRectangles(sh - Math.floor(sh / 2), sw);
    top.forEach((v, i) => (out[i] = v));
    bottom.forEach((v, i) => (out[top.length + i] = -v));
  }
  const size = Math.hypot(...out);
  const unit = out.map((v) => v / size);
  if (rng.float() > 0.5 && sh === sw) {
    const t = new Float64Array(unit.length);
    for (let r = 0; r < sh; r++) for (let c = 0; c < sw; c++) t[c * sh + r] = unit[r * sw + c] ?? 0;
    return t;
  }
  return unit;
}

/** x + eps · delta/‖delta‖₂ over the free features, clipped into the bounds. */
function l2Row(s: Search, x: Float32Array, delta: Float64Array, eps: number): Float32Array {
  let size = 0;
  for (let f = 0; f < s.d; f++) if (s.free(f)) size += (delta[f] ?? 0) ** 2;
  const scale = eps / (Math.sqrt(size) + 1e-12);
  const row = new Float32Array(s.d);
  for (let f = 0; f < s.d; f++) row[f] = (x[f] ?? 0) + (s.free(f) ? (delta[f] ?? 0) * scale : 0);
  settleRow(s, x, row, eps);
  return row;
}

/** The L2 starting point: a grid of eta bumps with random signs per channel, scaled to norm eps. */
export function l2Initial(s: Search, x: Float32Array, eps: number, rng: Rng): Float32Array {
  const { h, w, c } = s.l;
  const delta = new Float64Array(s.d);
  const sh = h === 1 ? 1 : Math.max(Math.floor(h / 5), 1);
  const sw = h === 1 ? Math.max(Math.floor(w / 5), 1) : sh;
  const start = (len: number, side: number) => Math.max(Math.floor((len - side * 5) / 2), 0);
  for (let vh = h === 1 ? 0 : start(h, sh); vh + sh <= h; vh += sh) {
    for (let vw = start(w, sw); vw + sw <= w; vw += sw) {
      const bump = eta(sh, sw, rng);
      for (let ch = 0; ch < c; ch++) {
        const sg = sign(rng);
        for (let r = 0; r < sh; r++) for (let q = 0; q < sw; q++) delta[((vh + r) * w + vw + q) * c + ch] += sg * (bump[r * sw + q] ?? 0);
      }
    }
  }
  return l2Row(s, x, delta, eps);
}

/** One L2 proposal (the reference's): move the perturbation of one window into another, keep norm eps. */
export function l2Proposal(s: Search, x: Float32Array, best: Float32Array, eps: number, p: number, rng: Rng): Float32Array {
  const { h, w, c } = s.l;
  const [sh, sw] = windowSize(s.l, p, 3, true);
  const delta = Float64Array.from(best, (v, f) => v - (x[f] ?? 0));
  const vh = rng.int(h - sh + 1);
  const vw = rng.int(w - sw + 1);
  const vh2 = rng.int(h - sh + 1);
  const vw2 = rng.int(w - sw + 1);
  const inWindow = (r: number, q: number, a: number, b: number) => r >= a && r < a + sh && q >= b && q < b + sw;
  let image = 0;
  let windows = 0;
  for (let r = 0; r < h; r++) {
    for (let q = 0; q < w; q++) {
      const both = inWindow(r, q, vh, vw) || inWindow(r, q, vh2, vw2);
      for (let ch = 0; ch < c; ch++) {
        const v2 = (delta[(r * w + q) * c + ch] ?? 0) ** 2;
        image += v2;
        if (both) windows += v2;
      }
    }
  }
  const bump = eta(sh, sw, rng);
  const fresh: Float64Array[] = [];
  for (let ch = 0; ch < c; ch++) {
    const sg = sign(rng);
    let old = 0;
    for (let r = 0; r < sh; r++) for (let q = 0; q < sw; q++) old += (delta[((vh + r) * w + vw + q) * c + ch] ?? 0) ** 2;
    const oldNorm = Math.sqrt(old) + 1e-12;
    const win = new Float64Array(sh * sw);
    for (let r = 0; r < sh; r++) {
      for (let q = 0; q < sw; q++) win[r * sw + q] = sg * (bump[r * sw + q] ?? 0) + (delta[((vh + r) * w + vw + q) * c + ch] ?? 0) / oldNorm;
    }
    const target = Math.sqrt(Math.max(eps * eps - image, 0) / c + windows);
    const size = Math.hypot(...win) + 1e-12;
    fresh.push(win.map((v) => (v / size) * target));
  }
  for (let r = 0; r < sh; r++) for (let q = 0; q < sw; q++) for (let ch = 0; ch < c; ch++) delta[((vh2 + r) * w + vw2 + q) * c + ch] = 0;
  fresh.forEach((win, ch) => {
    for (let r = 0; r < sh; r++) for (let q = 0; q < sw; q++) delta[((vh + r) * w + vw + q) * c + ch] = win[r * sw + q] ?? 0;
  });
  return l2Row(s, x, delta, eps);
}
