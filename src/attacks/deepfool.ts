import { tf } from '../tf.js';
import { defaultsOf, type OptionSchema } from '../options/schema.js';
import { harness, standardObjective, type AttackMeta } from './core/harness.js';
import { attackOptions } from './core/options.js';
import { exactSign } from './core/norms.js';
import type { AttackFn, AttackInfo, CommonAttackOptions } from './core/types.js';

/** Options of `deepfool`. */
export interface DeepFoolOptions extends CommonAttackOptions {
  /** Maximum iterations. Default 50 (paper and Foolbox). */
  steps?: number;
  /** Scale the accumulated perturbation by 1 + overshoot to land past the boundary. Default 0.02. */
  overshoot?: number;
  /** Classes to linearise: the true class and the k − 1 others with the highest clean logits. Default 10 (all if fewer). */
  candidates?: number;
}

const META: AttackMeta = { name: 'deepfool', kind: 'minimum-norm', norms: ['l2', 'linf'], needs: 'gradients', targeted: false };
const OPTIONS = {
  steps: { type: 'integer', min: 1, default: 50, doc: 'maximum iterations' },
  overshoot: { type: 'number', min: 0, default: 0.02, doc: 'scale the perturbation by 1 + overshoot to land past the boundary' },
  candidates: { type: 'integer', min: 2, default: 10, doc: 'classes to linearise: the true one and the top others' },
} as const satisfies OptionSchema;
const DEFAULTS = { norm: 'l2' as const, ...defaultsOf(OPTIONS) };

/**
 * DeepFool (Moosavi-Dezfooli, Fawzi & Frossard 2016, "DeepFool: a simple and accurate method to fool
 * deep neural networks", CVPR): a minimum-norm attack that linearises the classifier around the
 * current point and jumps to the nearest linearised boundary. At iterate xᵢ, for each candidate k ≠ y
 *
 *   w_k = ∇f_k(xᵢ) − ∇f_y(xᵢ),   f'_k = f_k(xᵢ) − f_y(xᵢ),   k̂ = argmin_k |f'_k| / ‖w_k‖_q
 *   rᵢ = (|f'_k̂| + 1e-4) / ‖w_k̂‖₂² · w_k̂                      (L2, q = 2)
 *   rᵢ = (|f'_k̂| + 1e-4) / ‖w_k̂‖₁ · sign(w_k̂)                 (Linf, q = 1, the dual norm)
 *
 * and xᵢ₊₁ = clip(x + (1 + overshoot) · Σ rᵢ), stopping per example once it is misclassified.
 * On a linear classifier the first step is exact: it finds the closest boundary point.
 * Defaults (Foolbox): norm l2, steps 50, overshoot 0.02, candidates 10. Untargeted only. Needs gradients.
 * The gradients of all k − 1 candidates come from one backward pass over k − 1 copies of the batch
 * (counted as (k − 1) gradient evaluations per example and step).
 *
 * @example
 *   const r = await deepfool(model, x, y);          // minimum-norm: no eps
 *   console.log(r.perturbation.l2);                 // distance found per example
 *   r.xAdv.dispose();
 */
export const deepfool: AttackFn<DeepFoolOptions> = (model, x, y, options = {}) => {
  const o = attackOptions('deepfool', OPTIONS, DEFAULTS, options);
  return harness(model, x, y, o, META, async (run) => {
    const others = Math.min(o.candidates, model.numClasses) - 1;
    if (others < 1) return;
    const linf = run.norm.name === 'linf';
    // Candidates: the k − 1 classes other than y that the clean logits rank highest.
    let classes = tf.tidy(() => {
      const notY = tf.sub(run.cleanLogits, tf.mul(tf.oneHot(run.y, model.numClasses), 1e9));
      return tf.topk(notY, others).indices;
    });
    let total = tf.zerosLike(run.x);
    let xAdv = tf.clone(run.x);
    for (let t = 0; t < o.steps; t++) {
      const b = run.size;
      const shape = run.x.shape.slice(1);
      // Copy j of the batch (rows j·b … j·b + b − 1) carries the gradient of f_{k_j} − f_y.
      const kIdx = tf.tidy(() => tf.reshape(tf.transpose(classes), [-1]));
      const yIdx = tf.tile(run.y, [others]);
      const xRep = tf.tile(xAdv, [others, ...shape.map(() => 1)]);
      const { grad, logits, loss } = run.gradient(xRep, standardObjective('difference', () => yIdx, false, () => kIdx as tf.Tensor1D));
      const step = tf.tidy(() => {
        const f = tf.abs(tf.transpose(tf.reshape(loss, [others, b])));
        const w = tf.transpose(tf.reshape(grad, [others, b, -1]), [1, 0, 2]);
        const wNorm = linf ? tf.sum(tf.abs(w), 2) : tf.sqrt(tf.sum(tf.square(w), 2));
        const nearest = others === 1 ? tf.onesLike(f) : tf.oneHot(tf.argMin(tf.div(f, tf.add(wNorm, 1e-8)), 1), others);
        const fk = tf.sum(tf.mul(f, nearest), 1, true);
        const nk = tf.sum(tf.mul(wNorm, nearest), 1, true);
        const wk = tf.sum(tf.mul(w, tf.expandDims(nearest, 2)), 1);
        const r = linf
          ? tf.mul(tf.div(tf.add(fk, 1e-4), tf.add(nk, 1e-8)), exactSign(wk))
          : tf.mul(tf.div(tf.add(fk, 1e-4), tf.add(tf.square(nk), 1e-8)), wk);
        return tf.add(total, tf.reshape(r, run.x.shape));
      });
      const current = tf.slice(logits, [0, 0], [b, -1]);
      tf.dispose([kIdx, yIdx, xRep, grad, logits, loss, total]);
      const live: [tf.Tensor, tf.Tensor, tf.Tensor] | null = await run.settle(current, xAdv, step, classes);
      if (!live) return;
      const [xt, sum, cls]: [tf.Tensor, tf.Tensor, tf.Tensor] = live;
      xt.dispose();
      total = sum;
      classes = cls;
      xAdv = tf.tidy(() => run.project(tf.add(run.x, tf.mul(total, 1 + o.overshoot))));
    }
    tf.dispose([total, classes]);
    await run.endRestart(xAdv, true);
  });
};

/** Registry entry of `deepfool`. */
export const deepfoolInfo: AttackInfo<DeepFoolOptions> = {
  ...META,
  title: 'DeepFool',
  paper: 'Moosavi-Dezfooli, Fawzi & Frossard 2016, DeepFool: a simple and accurate method to fool deep neural networks (CVPR)',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  run: deepfool,
};
