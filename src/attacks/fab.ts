import { tf } from '../tf.js';
import { applyMask, clip } from '../tensor/bounds.js';
import { defaultsOf, type OptionSchema } from '../options/schema.js';
import { harness, standardObjective, type AttackMeta, type AttackRun } from './core/harness.js';
import { attackOptions } from './core/options.js';
import { projectOnHyperplane } from './core/hyperplane.js';
import { flat, perExample } from './core/norms.js';
import type { AttackFn, AttackInfo, CommonAttackOptions } from './core/types.js';

/** Options of `fab` and `fab-t`. */
export interface FabOptions extends CommonAttackOptions {
  /** Iterations per restart (and per target class for fab-t). Default 100. */
  steps?: number;
  /** Restarts; after the first, each starts from a random point at half the smaller of the best size so far and eps. Default 1. */
  restarts?: number;
  /** Largest weight α of the step from the original point. Default 0.1. */
  alphaMax?: number;
  /** Extrapolation η of each projection step. Default 1.05. */
  eta?: number;
  /** Backward step β towards the original point after an adversarial iterate. Default 0.9. */
  beta?: number;
}

/** Options of `fab-t`. */
export interface FabTOptions extends FabOptions {
  /** Target classes, most likely wrong class first. Default 9, at most classes − 1. */
  targetClasses?: number;
}

const BASE: Omit<AttackMeta, 'name' | 'targeted'> = { kind: 'minimum-norm', norms: ['linf', 'l2'], needs: 'gradients' };
const META: AttackMeta = { ...BASE, name: 'fab', targeted: true };
const META_T: AttackMeta = { ...BASE, name: 'fab-t', targeted: false };
const OPTIONS = {
  steps: { type: 'integer', min: 1, default: 100, doc: 'iterations per restart (and per target class for fab-t)' },
  restarts: { type: 'integer', min: 1, default: 1, doc: 'restarts; later ones start at random, half the best size (or eps) away' },
  alphaMax: { type: 'number', min: 0, max: 1, default: 0.1, doc: 'largest weight of the step from the original point' },
  eta: { type: 'number', min: 1, default: 1.05, doc: 'extrapolation of each projection step' },
  beta: { type: 'number', min: 0, max: 1, default: 0.9, doc: 'backward step towards the original point after a success' },
} as const satisfies OptionSchema;
const OPTIONS_T = {
  ...OPTIONS,
  targetClasses: { type: 'integer', min: 1, default: 9, doc: 'target classes, most likely wrong class first' },
} as const satisfies OptionSchema;
const DEFAULTS = { norm: 'linf' as const, ...defaultsOf(OPTIONS) };
const DEFAULTS_T = { norm: 'linf' as const, ...defaultsOf(OPTIONS_T) };
type Resolved = Required<Pick<FabOptions, 'steps' | 'restarts' | 'alphaMax' | 'eta' | 'beta'>>;

/** What one run aims at: the nearest linearised boundary (fab), a target label (targeted fab), or the rank-th likeliest wrong class (fab-t). */
type Aim = { kind: 'nearest' } | { kind: 'labels' } | { kind: 'rank'; rank: number };

/** Per working example: w = ∇(f_s − f_y) and b = f_s − f_y at x, for the class s the run aims at. */
function boundary(run: AttackRun, xi: tf.Tensor, y: tf.Tensor1D, aim: tf.Tensor1D | null): { w: tf.Tensor2D; b: tf.Tensor1D } {
  const k = run.model.numClasses;
  if (aim) {
    const g = run.gradient(xi, standardObjective('difference', () => y, false, () => aim));
    g.logits.dispose();
    const w = flat(g.grad);
    g.grad.dispose();
    return { w, b: g.loss };
  }
  // Every other class at once: copy j of the batch carries the gradient of f_{c_j} − f_y.
  const m = xi.shape[0] ?? 0;
  const others = tf.tidy(() => tf.topk(tf.sub(tf.tile(tf.reshape(tf.range(k, 0, -1), [1, k]), [m, 1]), tf.mul(tf.oneHot(tf.cast(y, 'int32'), k), 1e6)), k - 1).indices);
  const cls = tf.tidy(() => tf.reshape(tf.transpose(others), [-1]));
  const yRep = tf.tile(y, [k - 1]);
  const xRep = tf.tile(xi, [k - 1, ...xi.shape.slice(1).map(() => 1)]);
  const g = run.gradient(xRep, standardObjective('difference', () => yRep, false, () => cls as tf.Tensor1D));
  const out = tf.tidy(() => {
    const ws = tf.transpose(tf.reshape(g.grad, [k - 1, m, -1]), [1, 0, 2]);
    const bs = tf.transpose(tf.reshape(g.loss, [k - 1, m]));
    const dual = run.norm.name === 'l2' ? tf.sqrt(tf.sum(tf.square(ws), 2)) : tf.sum(tf.abs(ws), 2);
    const nearest = k === 2 ? tf.onesLike(bs) : tf.oneHot(tf.argMin(tf.div(tf.abs(bs), tf.add(dual, 1e-12)), 1), k - 1);
    return { w: tf.sum(tf.mul(ws, tf.expandDims(nearest, 2)), 1) as tf.Tensor2D, b: tf.sum(tf.mul(bs, nearest), 1) as tf.Tensor1D };
  });
  tf.dispose([others, cls, yRep, xRep, g.grad, g.logits, g.loss]);
  return out;
}

/** One FAB run over the working examples `live` (all by default), keeping every adversarial iterate smaller than the best so far. */
async function fabRun(run: AttackRun, o: Resolved, aim: Aim, start: tf.Tensor | null, live: number[]): Promise<void> {
  const at = tf.tensor1d(Int32Array.from(live), 'int32');
  const x0 = tf.gather(run.x, at);
  const y = tf.gather(run.y, at) as tf.Tensor1D;
  const target: tf.Tensor1D | null =
    aim.kind === 'labels' ? (tf.gather(run.labels, at) as tf.Tensor1D)
    : aim.kind === 'rank' ? tf.tidy(() => tf.reshape(tf.slice(tf.topk(tf.sub(tf.gather(run.cleanLogits, at), tf.mul(tf.oneHot(tf.cast(y, 'int32'), run.model.numClasses), 1e9)), aim.rank).indices, [0, aim.rank - 1], [-1, 1]), [-1]) as tf.Tensor1D)
    : null;
  at.dispose();
  const p = run.norm.name === 'l2' ? 'l2' : 'linf';
  const size = (d: tf.Tensor) => (p === 'l2' ? tf.sqrt(tf.sum(tf.square(d), 1)) : tf.max(tf.abs(d), 1));
  let xi = start ? tf.clone(start) : tf.clone(x0);
  for (let t = 0; t < o.steps; t++) {
    const { w, b } = boundary(run, xi, y, target);
    const next = tf.tidy(() => {
      const lo = flat(tf.sub(run.bounds.lo, xi));
      const hi = flat(tf.sub(run.bounds.hi, xi));
      const toOrig = flat(tf.sub(x0, xi));
      const fromHere = projectOnHyperplane(w, tf.neg(b) as tf.Tensor1D, lo, hi, p);
      const fromOrig = projectOnHyperplane(w, tf.sub(tf.neg(b), tf.sum(tf.mul(w, toOrig), 1)) as tf.Tensor1D, tf.sub(lo, toOrig) as tf.Tensor2D, tf.sub(hi, toOrig) as tf.Tensor2D, p);
      const n1 = size(fromHere);
      const n2 = size(fromOrig);
      const alpha = perExample(tf.minimum(tf.div(n1, tf.add(tf.add(n1, n2), 1e-12)), o.alphaMax) as tf.Tensor1D, 2);
      const moved = tf.add(tf.mul(tf.sub(1, alpha), tf.add(flat(xi), tf.mul(fromHere, o.eta))), tf.mul(alpha, tf.add(flat(x0), tf.mul(fromOrig, o.eta))));
      return applyMask(x0, clip(tf.reshape(moved, xi.shape), run.bounds), run.mask);
    });
    tf.dispose([w, b, xi]);
    const logits = run.predict(next);
    const { fooled } = await run.keepFooling(next, logits, live);
    logits.dispose();
    // After a success, step back towards the original point: the boundary lies in between.
    xi = tf.tidy(() => tf.where(tf.broadcastTo(perExample(tf.tensor1d(fooled, 'bool'), next.rank), next.shape), tf.add(tf.mul(x0, 1 - o.beta), tf.mul(next, o.beta)), next));
    next.dispose();
  }
  tf.dispose([xi, x0, y, ...(target ? [target] : [])]);
}

/** Restart r > 0 starts at a random point at half the smaller of each example's best size so far and eps. */
function randomStart(run: AttackRun, r: number, radius: Float32Array): tf.Tensor {
  return tf.tidy(() => {
    const noise = tf.gather(run.rng.fork(`fab${r}`).normal([run.n, ...run.x.shape.slice(1)]), tf.tensor1d(run.active, 'int32'));
    const unit = tf.div(noise, perExample(tf.add(run.norm.distance(noise), 1e-12) as tf.Tensor1D, noise.rank));
    return applyMask(run.x, clip(tf.add(run.x, tf.mul(unit, perExample(tf.tensor1d(radius), noise.rank))), run.bounds), run.mask);
  });
}

async function fabAll(run: AttackRun, o: Resolved & { eps?: number | Float32Array }, aims: Aim[]): Promise<void> {
  const live = Array.from(run.active.keys());
  const best = new Float32Array(run.size).fill(Infinity);
  for (const aim of aims) {
    for (let r = 0; r < o.restarts; r++) {
      // Sizes found so far come from a forward pass of the results: cheap, and they bound the restart radius.
      const eps = (j: number) => (o.eps === undefined ? Infinity : typeof o.eps === 'number' ? o.eps : (o.eps[run.active[j] as number] ?? Infinity));
      const radius = Float32Array.from(live, (j) => 0.5 * Math.min(best[j] as number, eps(j)));
      const start = r > 0 ? randomStart(run, r, radius.map((v) => (Number.isFinite(v) ? v : 0))) : null;
      await fabRun(run, o, aim, start, live);
      start?.dispose();
      run.smallestSizes().forEach((v, j) => (best[j] = v));
    }
  }
}

/**
 * Fast Adaptive Boundary attack (Croce & Hein 2020, "Minimally distorted Adversarial Examples with a
 * Fast Adaptive Boundary Attack", ICML), Linf and L2. At each iterate xᵢ it linearises the classifier,
 * picks the nearest linearised boundary π (targeted: the target's), projects both xᵢ and the original
 * x onto π within the box (δᵢ, δ₀; exactly, see `projectOnHyperplane`) and moves to
 *
 *   xᵢ₊₁ = clip((1 − α)(xᵢ + η·δᵢ) + α(x + η·δ₀)),   α = min(‖δᵢ‖ / (‖δᵢ‖ + ‖δ₀‖), α_max)
 *
 * stepping back to (1 − β)·x + β·xᵢ₊₁ after every adversarial iterate; the smallest adversarial
 * iterate is kept. Untargeted, each step differentiates all classes − 1 boundaries (one backward pass
 * over copies of the batch, counted per copy). Defaults (AutoAttack's): norm linf, steps 100,
 * restarts 1, alphaMax 0.1, eta 1.05, beta 0.9. Minimum-norm; eps, when given, only sets the radius
 * of later restarts. Needs gradients.
 *
 * @example
 *   const r = await fab(model, x, y, { norm: 'l2' });
 *   console.log(r.perturbation.l2);
 *   r.xAdv.dispose();
 */
export const fab: AttackFn<FabOptions> = (model, x, y, options = {}) => {
  const o = attackOptions('fab', OPTIONS, DEFAULTS, options);
  return harness(model, x, y, o, META, (run) => fabAll(run, o, [run.targeted ? { kind: 'labels' } : { kind: 'nearest' }]));
};

/**
 * FAB-T (Croce & Hein 2020, as in AutoAttack): FAB aimed in turn at the boundary of each of the
 * `targetClasses` most likely wrong classes (one gradient per step instead of classes − 1); any
 * misclassification counts, and the smallest over all targets is kept. Defaults as `fab`, targetClasses 9.
 * @example
 *   const r = await fabT(model, x, y, { targetClasses: 3 });
 */
export const fabT: AttackFn<FabTOptions> = (model, x, y, options = {}) => {
  const o = attackOptions('fab-t', OPTIONS_T, DEFAULTS_T, options);
  const ranks = Array.from({ length: Math.min(o.targetClasses, model.numClasses - 1) }, (_, i): Aim => ({ kind: 'rank', rank: i + 1 }));
  return harness(model, x, y, o, META_T, (run) => fabAll(run, o, ranks));
};

const PAPER = 'Croce & Hein 2020, Minimally distorted Adversarial Examples with a Fast Adaptive Boundary Attack (ICML)';

/** Registry entry of `fab`. */
export const fabInfo: AttackInfo<FabOptions> = { ...META, title: 'Fast Adaptive Boundary (FAB)', paper: PAPER, options: OPTIONS, defaults: { ...DEFAULTS }, run: fab };

/** Registry entry of `fab-t`. */
export const fabTInfo: AttackInfo<FabTOptions> = {
  ...META_T,
  title: 'FAB-T: FAB towards the most likely wrong classes',
  paper: PAPER,
  options: OPTIONS_T,
  defaults: { ...DEFAULTS_T },
  run: fabT,
};
