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
import { makeRng, type Rng } from '../tensor/random.js';
import type { AttackFn, AttackInfo, CommonAttackOptions } from './core/types.js';
import { layoutOf, type Search } from './square/geometry.js';
import { l2Initial, l2Proposal } from './square/l2.js';
import { linfInitial, linfProposal } from './square/linf.js';

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

/** Per-feature bounds as functions of the flat feature index. */
function boundsAt(b: Bounds): { lo: (f: number) => number; hi: (f: number) => number } {
  const at = (v: number | number[]) => (typeof v === 'number' ? () => v : (f: number) => v[f] ?? 0);
  return { lo: at(b.min), hi: at(b.max) };
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
  const initial = s.norm === 'linf' ? linfInitial : l2Initial;
  const best = x.map((row, j) => initial(s, row, eps[j] ?? 0, rngs[j] as Rng));
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
