import { tf } from '../tf.js';
import { applyMask, clip, inwardGradient, meanRange, type BoundTensors } from '../tensor/bounds.js';
import { defaultsOf, type OptionSchema } from '../options/schema.js';
import { harness, type AttackMeta } from './core/harness.js';
import { attackOptions } from './core/options.js';
import { flat, l2, type NormName } from './core/norms.js';
import type { AttackFn, AttackInfo, CommonAttackOptions } from './core/types.js';

/** Options of `fmn`. */
export interface FmnOptions extends CommonAttackOptions {
  /** Iterations. Default 100. */
  steps?: number;
  /** Step size α₀ of the first iteration, in units of the mean input range; cosine-annealed to α₀/100. Default 1 (paper). */
  stepSize?: number;
  /** Initial factor γ₀ by which ε shrinks or grows; cosine-annealed to `gammaFinal`. Default 0.05 (paper). */
  gamma?: number;
  /** Final γ. Default 0.001 (paper). */
  gammaFinal?: number;
}

const META: AttackMeta = { name: 'fmn', kind: 'minimum-norm', norms: ['l2', 'linf', 'l1', 'l0'], needs: 'gradients', targeted: true };
const OPTIONS = {
  steps: { type: 'integer', min: 1, default: 100, doc: 'iterations' },
  stepSize: { type: 'number', min: 0, exclusiveMin: true, default: 1, doc: 'first step size, in units of the input range; cosine-annealed to a hundredth' },
  gamma: { type: 'number', min: 0, max: 1, exclusiveMin: true, exclusiveMax: true, default: 0.05, doc: 'first factor by which ε shrinks or grows; cosine-annealed to gammaFinal' },
  gammaFinal: { type: 'number', min: 0, max: 1, exclusiveMax: true, default: 0.001, doc: 'last such factor' },
} as const satisfies OptionSchema;
const DEFAULTS = { norm: 'l2' as const, ...defaultsOf(OPTIONS) };

/** ‖g‖ in the dual of each norm, per example: what turns a logit gap into a linearised distance (L0 has none; see `l0ToBoundary`). */
const DUAL: Record<Exclude<NormName, 'l0'>, (g: tf.Tensor) => tf.Tensor1D> = {
  l2: (g) => l2.distance(g),
  linf: (g) => tf.tidy(() => tf.sum(tf.abs(flat(g)), 1) as tf.Tensor1D),
  l1: (g) => tf.tidy(() => tf.max(tf.abs(flat(g)), 1) as tf.Tensor1D),
};

/**
 * Features an L0 step needs to reach the linearised boundary, per example: the largest gains |g_i|·room_i
 * (room: how far feature i can still move the way g_i points, inside the bounds), taken greedily until
 * they cover the margin |m|; every feature when even all of them fall short. An L0 ball has no dual norm,
 * and without the bounds the linearised L0 distance is always one feature; with them this is, for a linear
 * model, the exact minimal L0 (every feature costs one, so the largest gains first is optimal).
 */
function l0ToBoundary(grad: tf.Tensor, xAdv: tf.Tensor, bounds: BoundTensors, margin: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const room = tf.where(tf.greater(grad, 0), tf.sub(bounds.hi, xAdv), tf.sub(xAdv, bounds.lo));
    const gain = flat(tf.mul(tf.abs(grad), room));
    const d = gain.shape[1];
    const covered = tf.cumsum(tf.topk(gain, d).values, 1);
    const short = tf.sum(tf.cast(tf.less(covered, tf.reshape(tf.abs(margin), [-1, 1])), 'float32'), 1);
    return tf.minimum(tf.add(short, 1), d) as tf.Tensor1D;
  });
}

/** FMN's radius update for L0, where ε counts features: at least one feature per step, else the paper's γ factors. */
function nextL0(eps: number, fooled: boolean, best: number, gamma: number, d: number): number {
  if (fooled) return Math.max(0, Math.min(eps - 1, Math.floor(eps * (1 - gamma)), best));
  return Math.min(d, Math.max(eps + 1, Math.floor(eps * (1 + gamma))));
}

/**
 * Fast Minimum-Norm attack (Pintor, Roli, Brendel & Biggio 2021, "Fast Minimum-norm Adversarial Attacks
 * through Adaptive Norm Constraints", NeurIPS), for L2, Linf, L1 and L0. Each step ascends the logit margin
 * m = max_{j≠y} z_j − z_y (targeted: z_t − max_{j≠t} z_j) by a normalised gradient step and projects onto
 * an Lp ball of radius ε that adapts per example:
 *
 *   not yet fooled, none found:  ε = max(‖δ‖ + |m| / ‖∇m‖_dual, ε · (1 + γ_k))  (the linearised boundary, and onwards)
 *   not fooled, one found:       ε = ε · (1 + γ_k)
 *   fooled:                      ε = min(ε · (1 − γ_k), ‖δ*‖)  (δ* the smallest adversarial δ so far)
 *   δ ← Π_ε(δ + α_k · ∇m/‖∇m‖₂), then into the bounds
 *
 * with α_k cosine-annealed from `stepSize` to `stepSize`/100 and γ_k from `gamma` to `gammaFinal`.
 * Every example runs every step; the smallest adversarial iterate is kept. Steps are in units of the
 * mean feature range, so the defaults suit any bounds. Gradient components that point out of the box
 * (a feature at a bound pushed beyond it) are dropped before the step and the dual norm.
 *
 * Under L0, ε counts features: it moves by at least one feature per step (fooled: ε − 1 or ⌊ε(1 − γ)⌋,
 * not fooled: ε + 1 or ⌊ε(1 + γ)⌋), the linearised distance is `l0ToBoundary`, and the step is clipped
 * into the bounds before the projection keeps the ⌊ε⌋ largest changes, so a kept change is one that
 * survives the box.
 * Defaults: norm l2, steps 100, stepSize 1, gamma 0.05, gammaFinal 0.001. Minimum-norm. Needs gradients.
 *
 * @example
 *   const r = await fmn(model, x, y, { norm: 'linf' });
 *   console.log(r.perturbation.linf);
 *   r.xAdv.dispose();
 */
export const fmn: AttackFn<FmnOptions> = (model, x, y, options = {}) => {
  const o = attackOptions('fmn', OPTIONS, DEFAULTS, options);
  return harness(model, x, y, o, META, async (run) => {
    const b = run.size;
    const range = await meanRange(run.bounds, run.x.shape.slice(1));
    const features = run.x.size / b;
    const sparse = run.norm.name === 'l0';
    const eps = new Float32Array(b);
    const best = new Float32Array(b).fill(Infinity);
    let xAdv = tf.clone(run.x);
    for (let t = 0; t < o.steps; t++) {
      const anneal = 0.5 * (1 + Math.cos((Math.PI * t) / o.steps));
      const gamma = o.gammaFinal + (o.gamma - o.gammaFinal) * anneal;
      const out = run.gradient(xAdv, run.margin);
      const { logits, loss } = out;
      // Components that would push a feature past its bound would be clipped away after the step; left
      // in, they shrink the step that counts and overstate ‖∇m‖, so ε stalls short of the boundary.
      const grad = inwardGradient(out.grad, xAdv, run.bounds);
      out.grad.dispose();
      const { fooled, size } = await run.keepFooling(xAdv, logits);
      const name = run.norm.name;
      const statsT = tf.tidy(() => tf.concat([loss, name === 'l0' ? l0ToBoundary(grad, xAdv, run.bounds, loss) : DUAL[name](grad)]));
      const s = (await statsT.data()) as Float32Array;
      tf.dispose([statsT, logits, loss]);
      for (let j = 0; j < b; j++) {
        const e = eps[j] as number;
        if (sparse) {
          const none = !fooled[j] && !Number.isFinite(best[j]);
          if (fooled[j]) best[j] = Math.min(best[j] as number, size[j] as number);
          eps[j] = none ? Math.max(e + 1, (size[j] as number) + (s[b + j] as number)) : nextL0(e, fooled[j] === 1, best[j] as number, gamma, features);
        } else if (fooled[j]) {
          best[j] = Math.min(best[j] as number, size[j] as number);
          eps[j] = Math.min(e * (1 - gamma), best[j] as number);
        } else if (Number.isFinite(best[j])) {
          eps[j] = e * (1 + gamma);
        } else {
          // The linearised distance lands on the boundary itself (exactly, for a linear model), where a
          // candidate must still clear the harness's margin slack; growing ε by γ_k at least keeps the
          // iterate moving past it instead of settling there.
          eps[j] = Math.max((size[j] as number) + Math.abs(s[j] as number) / Math.max(s[b + j] as number, 1e-12), e * (1 + gamma));
        }
      }
      const alpha = o.stepSize * range * (0.01 + 0.99 * anneal);
      const next = tf.tidy(() => {
        let delta = tf.add(tf.sub(xAdv, run.x), tf.mul(l2.stepDirection(grad), alpha));
        // Under L0 the box goes first: a change the bounds would clip to nothing must not take a kept place.
        if (sparse) delta = tf.sub(clip(tf.add(run.x, delta), run.bounds), run.x);
        const inBall = run.norm.project(delta, tf.tensor1d(eps));
        return applyMask(run.x, clip(tf.add(run.x, inBall), run.bounds), run.mask);
      });
      tf.dispose([grad, xAdv]);
      xAdv = next;
    }
    // The last iterate was never evaluated: one more forward pass gives it its chance.
    const logits = run.predict(xAdv);
    await run.keepFooling(xAdv, logits);
    tf.dispose([logits, xAdv]);
  });
};

/** Registry entry of `fmn`. */
export const fmnInfo: AttackInfo<FmnOptions> = {
  ...META,
  title: 'Fast Minimum-Norm (FMN)',
  paper: 'Pintor, Roli, Brendel & Biggio 2021, Fast Minimum-norm Adversarial Attacks through Adaptive Norm Constraints (NeurIPS)',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  run: fmn,
};
