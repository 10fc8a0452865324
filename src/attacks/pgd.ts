import { tf } from '../tf.js';
import { defaultsOf, type OptionSchema } from '../options/schema.js';
import { harness, projectToBall, type AttackMeta, type Ball, type Objective } from './core/harness.js';
import { attackOptions } from './core/options.js';
import type { AttackFn, AttackInfo, CommonAttackOptions } from './core/types.js';

/** Options of `pgd`. */
export interface PgdOptions extends CommonAttackOptions {
  /** Iterations per restart. Default 40 (Madry et al.'s MNIST setting). */
  steps?: number;
  /**
   * Absolute step size α. Default eps / 4, the ratio of torchattacks (α = 2/255 at eps = 8/255) and of
   * Madry et al.'s CIFAR-10 setting. The other common rule, 2.5 · eps / steps (Madry et al.'s
   * `robustness` library; eps/16 at 40 steps), converges too slowly in L2 from a random start: the
   * component of the start orthogonal to the gradient shrinks only by 1/(1 + α/eps) per step at the
   * ball's surface, and the closed-form linear test (test/attacks-linear.test.ts) misses points 2%
   * inside the budget with it.
   */
  stepSize?: number;
  /** Start from a uniform random point of the eps-ball. Default true; false gives BIM (Kurakin et al. 2017). */
  randomStart?: boolean;
  /** Random restarts; each runs only on examples still robust, and the best restart per example is kept. Default 1. */
  restarts?: number;
  /** Loss to ascend: 'ce' (cross-entropy, default) or 'margin' (the Carlini-Wagner margin). */
  loss?: 'ce' | 'margin';
}

const META: AttackMeta = { name: 'pgd', kind: 'fixed-eps', norms: ['linf', 'l2', 'l1'], needs: 'gradients', targeted: true };
const OPTIONS = {
  steps: { type: 'integer', min: 1, default: 40, doc: 'iterations per restart' },
  stepSize: { type: 'number', min: 0, exclusiveMin: true, computedDefault: 'eps/4', doc: 'absolute step size α per iteration' },
  randomStart: { type: 'boolean', default: true, doc: 'start from a uniform random point of the eps-ball (false: BIM)' },
  restarts: { type: 'integer', min: 1, default: 1, doc: 'random restarts; the best per example is kept' },
  loss: { type: 'enum', values: ['ce', 'margin'], default: 'ce', doc: 'loss to ascend: cross-entropy or the Carlini-Wagner margin' },
} as const satisfies OptionSchema;
const DEFAULTS = { norm: 'linf' as const, ...defaultsOf(OPTIONS) };

/** PGD's default step size as a fraction of eps (see `PgdOptions.stepSize`); the adversarial trainers' default too. */
export const PGD_STEP_FRACTION = 1 / 4;

/**
 * One PGD step, xᵗ⁺¹ = Π(xᵗ + α · dir(grad)), Π the projection onto `ball` (eps-ball, bounds, mask) and dir
 * the ball's norm's step direction. The one step of the attack below and of the adversarial trainers
 * (`src/training/`). Consumes nothing; the caller owns the result.
 */
export function pgdStep(xAdv: tf.Tensor, grad: tf.Tensor, stepSize: tf.Tensor | number, ball: Ball): tf.Tensor {
  return tf.tidy(() => projectToBall(tf.add(xAdv, tf.mul(ball.norm.stepDirection(grad), stepSize)), ball));
}

/**
 * PGD's ascent without the harness, for a training loop: `steps` of {@link pgdStep} on a scalar `loss` from
 * `start` (kept), with no early stop, no result bookkeeping and no read-back, so a step costs one forward and
 * one backward pass. `loss` should run the model in inference mode. Leaves no tensor behind but the result.
 * @returns the last iterate; the caller disposes it.
 * @example
 *   const ball = { x, norm: linf, eps: 0.3, bounds: boundTensors(model.bounds, model.inputShape), mask: null };
 *   const xAdv = pgdAscent((v) => tf.sum(crossEntropy(model.predict(v), y)), x, ball, { steps: 10, stepSize: 0.075 });
 */
export function pgdAscent(loss: (xAdv: tf.Tensor) => tf.Scalar, start: tf.Tensor, ball: Ball, o: { steps: number; stepSize: number }): tf.Tensor {
  const gradient = tf.grad(loss);
  let xAdv = tf.clone(start);
  for (let t = 0; t < o.steps; t++) {
    const current = xAdv;
    xAdv = tf.tidy(() => pgdStep(current, gradient(current), o.stepSize, ball));
    current.dispose();
  }
  return xAdv;
}

/**
 * Projected Gradient Descent (Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards Deep Learning
 * Models Resistant to Adversarial Attacks", ICLR). For each restart:
 *
 *   x⁰ = x + U(ball(eps))                     (or x itself: BIM, Kurakin, Goodfellow & Bengio 2017)
 *   xᵗ⁺¹ = Π_{ball(x, eps) ∩ bounds}(xᵗ + α · dir(∇ₓ L(xᵗ)))
 *
 * where dir is sign(·) for Linf, ·/‖·‖₂ for L2 and the sparse L1 direction for L1, and L is the
 * cross-entropy of the true class (targeted: minus that of the target, i.e. descend towards it).
 * Defaults: norm linf, steps 40, stepSize eps/4, randomStart true, restarts 1, loss ce.
 * Inputs: x [b, ...model.inputShape] within the model's bounds; y [b] labels. Needs gradients.
 * With early stop (default) an example stops the moment an iterate fools the model, and keeps that
 * iterate; without it every example runs every step and keeps its final iterate.
 *
 * @example
 *   const r = await pgd(model, x, y, { eps: 0.3, steps: 40 });
 *   const robust = r.isAdversarial.filter((a) => !a).length / r.isAdversarial.length;
 *   r.xAdv.dispose();
 */
export const pgd: AttackFn<PgdOptions> = (model, x, y, options = {}) => {
  const o = attackOptions('pgd', OPTIONS, DEFAULTS, options);
  return harness(model, x, y, o, META, async (run) => {
    const objective: Objective = o.loss === 'margin' ? run.margin : run.crossEntropy;
    const alpha = (): tf.Tensor | number => o.stepSize ?? run.scaledEps(PGD_STEP_FRACTION);
    for (let r = 0; r < o.restarts && run.size > 0; r++) {
      let xAdv: tf.Tensor | null = o.randomStart ? run.randomStart() : tf.clone(run.x);
      for (let t = 0; t < o.steps && xAdv; t++) {
        const { grad, logits, loss } = run.gradient(xAdv, objective);
        loss.dispose();
        const live: [tf.Tensor, tf.Tensor] | null = await run.settle(logits, xAdv, grad);
        xAdv = null;
        if (!live) break;
        const [xt, g]: [tf.Tensor, tf.Tensor] = live;
        xAdv = tf.tidy((): tf.Tensor => pgdStep(xt, g, alpha(), run));
        tf.dispose([xt, g]);
      }
      if (xAdv) await run.endRestart(xAdv, r === o.restarts - 1);
    }
  });
};

/** Registry entry of `pgd`. */
export const pgdInfo: AttackInfo<PgdOptions> = {
  ...META,
  title: 'Projected Gradient Descent (BIM without random start)',
  paper: 'Madry et al. 2018, Towards Deep Learning Models Resistant to Adversarial Attacks (ICLR)',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  run: pgd,
};
