import { tf } from '../tf.js';
import { defaultsOf, type OptionSchema } from '../options/schema.js';
import { harness, type AttackMeta } from './core/harness.js';
import { attackOptions } from './core/options.js';
import { l1, perExample } from './core/norms.js';
import type { AttackFn, AttackInfo, CommonAttackOptions } from './core/types.js';

/** Options of `mifgsm`. */
export interface MifgsmOptions extends CommonAttackOptions {
  /** Iterations T. Default 10 (paper and torchattacks). */
  steps?: number;
  /** Momentum decay μ. Default 1.0 (paper and torchattacks). */
  decay?: number;
  /** Absolute step size α. Default eps / steps, the paper's choice (torchattacks uses 2/255 at eps 8/255). */
  stepSize?: number;
}

const META: AttackMeta = { name: 'mifgsm', kind: 'fixed-eps', norms: ['linf', 'l2'], needs: 'gradients', targeted: true };
const OPTIONS = {
  steps: { type: 'integer', min: 1, default: 10, doc: 'iterations T' },
  decay: { type: 'number', min: 0, default: 1.0, doc: 'momentum decay μ' },
  stepSize: { type: 'number', min: 0, exclusiveMin: true, computedDefault: 'eps/steps', doc: 'absolute step size α per iteration' },
} as const satisfies OptionSchema;
const DEFAULTS = { norm: 'linf' as const, ...defaultsOf(OPTIONS) };
const TINY = 1e-12;

/**
 * Momentum Iterative FGSM (Dong, Liao, Pang, Su, Zhu, Hu & Li 2018, "Boosting Adversarial Attacks with
 * Momentum", CVPR). Accumulates L1-normalised gradients in a velocity g and steps along its sign:
 *
 *   gᵗ⁺¹ = μ · gᵗ + ∇ₓL(xᵗ) / ‖∇ₓL(xᵗ)‖₁
 *   xᵗ⁺¹ = Π_{ball(x, eps) ∩ bounds}(xᵗ + α · sign(gᵗ⁺¹))      (L2: α · gᵗ⁺¹/‖gᵗ⁺¹‖₂)
 *
 * starting from x⁰ = x, g⁰ = 0. L is the cross-entropy (targeted: minus that of the target).
 * Defaults: norm linf, steps 10, decay 1.0, stepSize eps/steps. Needs gradients.
 *
 * @example
 *   const r = await mifgsm(model, x, y, { eps: 8 / 255 });
 *   r.xAdv.dispose();
 */
export const mifgsm: AttackFn<MifgsmOptions> = (model, x, y, options = {}) => {
  const o = attackOptions('mifgsm', OPTIONS, DEFAULTS, options);
  return harness(model, x, y, o, META, async (run) => {
    const alpha = (): tf.Tensor | number => o.stepSize ?? run.scaledEps(1 / o.steps);
    let xAdv = tf.clone(run.x);
    let velocity = tf.zerosLike(xAdv);
    for (let t = 0; t < o.steps; t++) {
      const { grad, logits, loss } = run.gradient(xAdv, run.crossEntropy);
      loss.dispose();
      const live = await run.settle(logits, xAdv, grad, velocity);
      if (!live) return;
      const [xt, g, v] = live;
      velocity = tf.tidy(() => {
        const gNorm = perExample(tf.add(l1.distance(g), TINY) as tf.Tensor1D, g.rank);
        return tf.add(tf.mul(v, o.decay), tf.div(g, gNorm));
      });
      xAdv = tf.tidy(() => run.project(tf.add(xt, tf.mul(run.norm.stepDirection(velocity), alpha()))));
      tf.dispose([xt, g, v]);
    }
    velocity.dispose();
    await run.endRestart(xAdv, true);
  });
};

/** Registry entry of `mifgsm`. */
export const mifgsmInfo: AttackInfo<MifgsmOptions> = {
  ...META,
  title: 'Momentum Iterative FGSM',
  paper: 'Dong et al. 2018, Boosting Adversarial Attacks with Momentum (CVPR)',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  run: mifgsm,
};
