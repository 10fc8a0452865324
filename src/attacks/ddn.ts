import { tf } from '../tf.js';
import { defaultsOf, type OptionSchema } from '../options/schema.js';
import { meanRange } from '../tensor/bounds.js';
import { harness, type AttackMeta } from './core/harness.js';
import { attackOptions } from './core/options.js';
import { l2, perExample } from './core/norms.js';
import type { AttackFn, AttackInfo, CommonAttackOptions } from './core/types.js';

/** Options of `ddn`. */
export interface DdnOptions extends CommonAttackOptions {
  /** Iterations. Default 100 (the paper's MNIST runs use 100 and 1000). */
  steps?: number;
  /** Factor by which the radius shrinks (after an adversarial iterate) or grows (otherwise). Default 0.05 (paper). */
  gamma?: number;
  /** Initial radius ε₀, in units of the input range hi − lo. Default 1 (paper, on [0, 1] images). */
  initEps?: number;
  /** Step size α at the first iteration, in units of the input range; cosine-annealed to α/100. Default 1 (paper). */
  stepSize?: number;
}

const META: AttackMeta = { name: 'ddn', kind: 'minimum-norm', norms: ['l2'], needs: 'gradients', targeted: true };
const OPTIONS = {
  steps: { type: 'integer', min: 1, default: 100, doc: 'iterations' },
  gamma: { type: 'number', min: 0, max: 1, exclusiveMin: true, exclusiveMax: true, default: 0.05, doc: 'factor by which the radius shrinks or grows each step' },
  initEps: { type: 'number', min: 0, exclusiveMin: true, default: 1, doc: 'initial radius, in units of the input range' },
  stepSize: { type: 'number', min: 0, exclusiveMin: true, default: 1, doc: 'first step size, in units of the input range; cosine-annealed to a hundredth' },
} as const satisfies OptionSchema;
const DEFAULTS = { norm: 'l2' as const, ...defaultsOf(OPTIONS) };

/**
 * Decoupled Direction and Norm (Rony, Hafemann, Oliveira, Ben Ayed, Sabourin & Granger 2019,
 * "Decoupling Direction and Norm for Efficient Gradient-Based L2 Adversarial Attacks and Defenses", CVPR).
 * A minimum-norm L2 attack that takes a normalised gradient step on the cross-entropy (targeted: minus
 * the target's) and then puts the iterate on the sphere of a radius ε that shrinks by (1 − γ) while the
 * current iterate is adversarial and grows by (1 + γ) while it is not:
 *
 *   g = ∇ CE(x + δ),  δ ← δ + α_k · g/‖g‖₂,  ε ← ε · (1 ∓ γ),  δ ← clip(x + ε · δ/‖δ‖₂) − x
 *
 * with α_k cosine-annealed from `stepSize` to `stepSize`/100. Every example runs every step; the
 * smallest adversarial iterate is kept. The paper's optional quantisation to 256 levels is not done.
 * Radii and steps are in units of the mean feature range hi − lo, so the defaults suit any bounds.
 * Defaults: steps 100, gamma 0.05, initEps 1, stepSize 1. Minimum-norm: one run answers every eps. Needs gradients.
 *
 * @example
 *   const r = await ddn(model, x, y, { steps: 200 });
 *   console.log(r.perturbation.l2);
 *   r.xAdv.dispose();
 */
export const ddn: AttackFn<DdnOptions> = (model, x, y, options = {}) => {
  const o = attackOptions('ddn', OPTIONS, DEFAULTS, options);
  return harness(model, x, y, o, META, async (run) => {
    const range = await meanRange(run.bounds, run.x.shape.slice(1));
    let xAdv = tf.clone(run.x);
    let eps = tf.fill([run.size], o.initEps * range) as tf.Tensor1D;
    for (let t = 0; t < o.steps; t++) {
      const { grad, logits, loss } = run.gradient(xAdv, run.crossEntropy);
      const fooled = tf.tensor1d((await run.keepFooling(xAdv, logits)).fooled, 'float32');
      const alpha = o.stepSize * range * (0.01 + 0.99 * 0.5 * (1 + Math.cos((Math.PI * t) / o.steps)));
      const [x1, eps1] = tf.tidy(() => {
        const stepped = tf.add(tf.sub(xAdv, run.x), tf.mul(l2.stepDirection(grad), alpha));
        const radius = tf.mul(eps, tf.sub(1 + o.gamma, tf.mul(fooled, 2 * o.gamma))) as tf.Tensor1D;
        const scale = tf.div(radius, tf.add(l2.distance(stepped), 1e-12));
        return [run.project(tf.add(run.x, tf.mul(stepped, perExample(scale as tf.Tensor1D, stepped.rank)))), radius];
      });
      tf.dispose([grad, logits, loss, fooled, xAdv, eps]);
      [xAdv, eps] = [x1, eps1 as tf.Tensor1D];
    }
    // The last iterate was never evaluated: one more forward pass gives it its chance.
    const logits = run.predict(xAdv);
    await run.keepFooling(xAdv, logits);
    tf.dispose([logits, xAdv, eps]);
  });
};

/** Registry entry of `ddn`. */
export const ddnInfo: AttackInfo<DdnOptions> = {
  ...META,
  title: 'Decoupled Direction and Norm (DDN)',
  paper: 'Rony et al. 2019, Decoupling Direction and Norm for Efficient Gradient-Based L2 Adversarial Attacks and Defenses (CVPR)',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  run: ddn,
};
