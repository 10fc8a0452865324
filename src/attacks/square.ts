/**
 * @packageDocumentation
 * Square Attack (Andriushchenko, Croce, Flammarion & Hein 2020, ECCV, "Square Attack: a query-efficient
 * black-box adversarial attack via random search"), following the reference `square.py` of AutoAttack.
 *
 * Score-based random search: it needs only logits (`model.predict`, never a gradient). Per example:
 *
 *   x̂ = x + init                      (Linf: vertical stripes of ±eps; L2: a grid of ±"eta" bumps of norm eps)
 *   repeat until fooled or out of queries:
 *     p = schedule(i); s = side of a square covering a fraction p of the image
 *     x_new = x̂ with a random s×s square changed (Linf: every channel set to x ± eps, one sign per channel;
 *             L2: mass moved from one square into another, total norm kept at eps)
 *     if margin(x_new) < margin(x̂) or x_new fools the model: x̂ = x_new
 *
 * with margin = z_y − max_{j≠y} z_j (targeted: max_{j≠t} z_j − z_t). The schedule halves p, from
 * `pInit` (default 0.8), after iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 of a
 * 10 000-query run, scaled to the actual budget as the reference does.
 *
 * Budget: `queries` (default 5000) is the most queries Square spends per example on perturbed inputs,
 * the initial one included; the shared clean pass and the harness's final check of each result come on
 * top and are counted in `queries` too. Each example stops as soon as it is adversarial.
 *
 * Inputs: [h, w, c] images (TF.js layout), [h, w] (one channel), or flat [d] feature vectors, which are
 * treated as a [1, d, 1] image so that a "square" is a run of round(p·d) consecutive features (at least
 * one). Random choices come from one seeded stream per example. Norms: linf (default), l2.
 * One deviation from the reference: square positions are drawn from every valid offset (the reference's
 * `random_int(0, h − s)` never picks the last row or column).
 *
 * @example
 *   const r = await square(model, x, y, { eps: 0.05, queries: 1000 });
 *   console.log(r.queries, r.isAdversarial);
 *   r.xAdv.dispose();
 */
import { tf } from '../tf.js';
import { UsageError } from '../errors.js';
import type { Bounds } from '../models/types.js';
import { defaultsOf, type OptionSchema } from '../options/schema.js';
import { harness, type AttackMeta, type AttackRun } from './core/harness.js';
import { attackOptions } from './core/options.js';
import { makeRng, type Rng } from './core/random.js';
import type { AttackFn, AttackInfo, CommonAttackOptions } from './core/types.js';

/** Options of `square`. */
export interface SquareOptions extends CommonAttackOptions {
  /** Most queries per example on perturbed inputs (the initial one included). Default 5000. */
  queries?: number;
  /** Initial fraction of the image a square covers. Default 0.8. */
  pInit?: number;
  /**
   * Keys of the per-example random streams, one per example; default 0..b−1. When attacking a subset
   * of a larger batch, pass the examples' positions in it and each gets the same proposals as there.
   */
  exampleIds?: ArrayLike<number>;
}

const META: AttackMeta = { name: 'square', kind: 'fixed-eps', norms: ['linf', 'l2'], needs: 'scores', targeted: true };
const OPTIONS = {
  queries: { type: 'integer', min: 2, default: 5000, doc: 'most queries per example on perturbed inputs' },
  pInit: { type: 'number', min: 0, exclusiveMin: true, max: 1, default: 0.8, doc: 'initial fraction of the image a square covers' },
} as const satisfies OptionSchema;
const DEFAULTS = { norm: 'linf' as const, ...defaultsOf(OPTIONS) };

/** The reference's p schedule, with iteration `it` rescaled to a 10 000-query run. */
export function squareFraction(it: number, queries: number, pInit = 0.8): number {
  const i = Math.floor((it / queries) * 10000);
  const steps = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  const halvings = steps.filter((s) => i > s).length;
  return pInit / 2 ** halvings;
}

/** Image layout of one example: rows, columns, channels (NHWC, flattened row-major). */
interface Layout {
  h: number;
  w: number;
  c: number;
}

function layoutOf(shape: number[]): Layout {
  const [a = 1, b = 1, c = 1] = shape;
  if (shape.length === 1) return { h: 1, w: a, c: 1 };
  if (shape.length === 2) return { h: a, w: b, c: 1 };
  if (shape.length === 3) return { h: a, w: b, c };
  throw new UsageError(`square works on [h, w, c], [h, w] or [d] inputs, not [${shape.join(', ')}]`);
}

/** Window size for a fraction p: a square for images, a run of features for flat inputs. */
function windowSize(l: Layout, p: number, min: number, odd: boolean): [number, number] {
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

const sign = (rng: Rng): number => (rng.float() < 0.5 ? -1 : 1);

/** Per-feature bounds as functions of the flat feature index. */
function boundsAt(b: Bounds): { lo: (f: number) => number; hi: (f: number) => number } {
  const at = (v: number | number[]) => (typeof v === 'number' ? () => v : (f: number) => v[f] ?? 0);
  return { lo: at(b.min), hi: at(b.max) };
}

/** Everything the search needs about one call, in plain arrays. */
interface Search {
  l: Layout;
  d: number;
  norm: 'linf' | 'l2';
  lo: (f: number) => number;
  hi: (f: number) => number;
  free: (f: number) => boolean;
  queries: number;
  pInit: number;
}

/** Clip a candidate row into its eps-box (Linf only) and the bounds; masked features stay at x. */
function settleRow(s: Search, x: Float32Array, row: Float32Array, eps: number): void {
  for (let f = 0; f < s.d; f++) {
    const xf = x[f] ?? 0;
    let v = s.free(f) ? (row[f] ?? 0) : xf;
    if (s.norm === 'linf') v = Math.min(Math.max(v, xf - eps), xf + eps);
    row[f] = Math.min(Math.max(v, s.lo(f)), s.hi(f));
  }
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

/** The starting point: vertical stripes (Linf) or a grid of eta bumps (L2). */
function initialRow(s: Search, x: Float32Array, eps: number, rng: Rng): Float32Array {
  const { h, w, c } = s.l;
  if (s.norm === 'linf') {
    const stripes = Array.from({ length: w * c }, () => sign(rng));
    const row = new Float32Array(s.d);
    for (let r = 0; r < h; r++) {
      for (let k = 0; k < w * c; k++) row[r * w * c + k] = (x[r * w * c + k] ?? 0) + eps * (stripes[k] ?? 1);
    }
    settleRow(s, x, row, eps);
    return row;
  }
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

/** One Linf proposal: a random window, every channel of it set to x ± eps. */
function linfProposal(s: Search, x: Float32Array, best: Float32Array, eps: number, p: number, rng: Rng): Float32Array {
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

/** One L2 proposal (the reference's): move the perturbation of one window into another, keep norm eps. */
function l2Proposal(s: Search, x: Float32Array, best: Float32Array, eps: number, p: number, rng: Rng): Float32Array {
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

/** Margin (the loss Square minimises) and the criterion, per row of logits. */
function score(logits: Float32Array, k: number, label: number, targeted: boolean): { margin: number; fooled: boolean } {
  let top = 0;
  let other = -Infinity;
  for (let j = 0; j < k; j++) {
    const z = logits[j] ?? 0;
    if (z > (logits[top] ?? 0)) top = j;
    if (j !== label && z > other) other = z;
  }
  const zl = logits[label] ?? 0;
  return targeted ? { margin: other - zl, fooled: top === label } : { margin: zl - other, fooled: top !== label };
}

/** The search over the harness's working batch; hands every example's best point back to the harness. */
async function search(run: AttackRun, s: Search, seed: string, ids: ArrayLike<number> | undefined): Promise<void> {
  const n = run.size;
  const k = run.model.numClasses;
  const xs = (await run.x.data()) as Float32Array;
  const labels = await run.labels.data();
  const epsT = run.scaledEps(1);
  const eps = await epsT.data();
  epsT.dispose();
  const x = Array.from({ length: n }, (_, j) => xs.subarray(j * s.d, (j + 1) * s.d));
  const rngs = Array.from(run.active, (i) => makeRng(`${seed}/square/${ids ? (ids[i] ?? i) : i}`));
  const best = x.map((row, j) => initialRow(s, row, eps[j] ?? 0, rngs[j] as Rng));
  const margin = new Float64Array(n);
  const fooled = new Uint8Array(n);

  /** Query the rows of `who`; returns their scores. */
  const ask = async (who: number[], rows: Float32Array[]) => {
    const batch = new Float32Array(who.length * s.d);
    rows.forEach((r, m) => batch.set(r, m * s.d));
    const input = tf.tensor(batch, [who.length, ...run.x.shape.slice(1)]);
    const logits = run.predict(input);
    const z = (await logits.data()) as Float32Array;
    tf.dispose([input, logits]);
    return who.map((j, m) => score(z.subarray(m * k, (m + 1) * k), k, labels[j] ?? 0, run.targeted));
  };

  const all = [...Array(n).keys()];
  (await ask(all, best)).forEach((r, j) => {
    margin[j] = r.margin;
    fooled[j] = r.fooled ? 1 : 0;
  });
  for (let it = 0; it < s.queries - 1; it++) {
    const who = all.filter((j) => !fooled[j]);
    if (who.length === 0) break;
    const p = squareFraction(it, s.queries, s.pInit);
    const proposals = who.map((j) => {
      const propose = s.norm === 'linf' ? linfProposal : l2Proposal;
      return propose(s, x[j] as Float32Array, best[j] as Float32Array, eps[j] ?? 0, p, rngs[j] as Rng);
    });
    (await ask(who, proposals)).forEach((r, m) => {
      const j = who[m] as number;
      if (r.margin < (margin[j] ?? 0) || r.fooled) {
        margin[j] = r.margin;
        best[j] = proposals[m] as Float32Array;
        fooled[j] = r.fooled ? 1 : 0;
      }
    });
  }
  const out = new Float32Array(n * s.d);
  best.forEach((r, j) => out.set(r, j * s.d));
  await run.endRestart(tf.tensor(out, run.x.shape), true);
}

/**
 * Square Attack (Andriushchenko et al. 2020), score-based. See the module comment.
 * Defaults: norm linf, queries 5000, pInit 0.8.
 * @example
 *   const r = await square(model, x, y, { eps: 8 / 255, queries: 5000 });
 */
export const square: AttackFn<SquareOptions> = async (model, x, y, options = {}) => {
  const o = attackOptions('square', OPTIONS, DEFAULTS, options);
  if (o.exampleIds && o.exampleIds.length !== y.length) {
    throw new UsageError(`square: ${o.exampleIds.length} exampleIds for ${y.length} examples; pass one per example`);
  }
  const l = layoutOf(model.inputShape);
  const { lo, hi } = boundsAt(o.bounds ?? model.bounds);
  const mask = o.mask;
  const s: Search = {
    l,
    d: l.h * l.w * l.c,
    norm: o.norm === 'l2' ? 'l2' : 'linf',
    lo,
    hi,
    free: mask ? (f) => (mask[f] ?? 0) > 0 : () => true,
    queries: o.queries,
    pInit: o.pInit,
  };
  return harness(model, x, y, o, META, (run) => search(run, s, String(o.seed ?? 0), o.exampleIds));
};

/** Registry entry of `square`. */
export const squareInfo: AttackInfo<SquareOptions> = {
  ...META,
  title: 'Square Attack (score-based random search)',
  paper: 'Andriushchenko et al. 2020, Square Attack: a query-efficient black-box adversarial attack via random search (ECCV)',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  run: square,
};
