import { tf } from '../tf.js';
import { harness, type AttackMeta } from './core/harness.js';
import { attackOptions } from './core/options.js';
import type { AttackFn, AttackInfo, CommonAttackOptions } from './core/types.js';

/**
 * Options of `fgsm`: only the common ones (`eps`, `norm`, `targeting`, `mask`, `bounds`, `seed`).
 * FGSM takes exactly one step of size eps, so it has no step count or step size.
 */
export type FgsmOptions = CommonAttackOptions;

const META: AttackMeta = { name: 'fgsm', kind: 'fixed-eps', norms: ['linf', 'l2', 'l1'], needs: 'gradients', targeted: true };

/**
 * Fast Gradient Sign Method (Goodfellow, Shlens & Szegedy 2015, "Explaining and Harnessing Adversarial
 * Examples", ICLR). One step of length eps along the steepest-ascent direction of the cross-entropy:
 *
 *   x' = clip(x + eps · sign(∇ₓ CE(f(x), y)))            untargeted, Linf
 *   x' = clip(x − eps · sign(∇ₓ CE(f(x), t)))            targeted towards t
 *
 * With `norm: 'l2'` the direction is ∇/‖∇‖₂ (the "fast gradient method" of Miyato et al. 2016); with
 * `'l1'` it is the sparse L1 steepest-ascent direction of `core/norms.ts`.
 * Defaults: norm linf (as torchattacks and Foolbox). Inputs: x [b, ...model.inputShape] within the
 * model's bounds (any range, not just [0, 1]); y [b] integer labels. Needs gradients.
 * Examples the model already misclassifies are returned unchanged and cost no gradient.
 *
 * @example
 *   const { xAdv, isAdversarial } = await fgsm(model, x, y, { eps: 0.1 });
 *   xAdv.dispose();
 */
export const fgsm: AttackFn<FgsmOptions> = (model, x, y, options = {}) =>
  harness(model, x, y, attackOptions('fgsm', {}, {}, options), META, async (run) => {
    const x0 = tf.clone(run.x);
    const { grad, logits, loss } = run.gradient(x0, run.crossEntropy);
    tf.dispose([logits, loss]);
    const xAdv = tf.tidy(() => run.project(tf.add(x0, tf.mul(run.norm.stepDirection(grad), run.scaledEps(1)))));
    tf.dispose([x0, grad]);
    await run.endRestart(xAdv, true);
  });

/** Registry entry of `fgsm`. */
export const fgsmInfo: AttackInfo<FgsmOptions> = {
  ...META,
  title: 'Fast Gradient Sign Method',
  paper: 'Goodfellow, Shlens & Szegedy 2015, Explaining and Harnessing Adversarial Examples (ICLR)',
  options: {},
  defaults: { norm: 'linf' },
  run: fgsm,
};
