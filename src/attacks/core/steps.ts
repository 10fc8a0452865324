import { tf } from '../../tf.js';
import { fusedGradientOf, type StandardObjective } from '../../models/fused.js';
import { clip, type BoundTensors } from '../../tensor/bounds.js';
import { crossEntropy, dlr, margin, pick } from './losses.js';
import { perExample, type Norm, type Radius } from './norms.js';
import { WorkingBatch } from './workingBatch.js';

/**
 * A per-example objective the attack ascends, given logits of the working batch. `standard` marks the
 * cross-entropy and the margin of {@link standardObjective}, whose gradient a model's engine may fuse.
 */
export type Objective = ((logits: tf.Tensor2D) => tf.Tensor1D) & { readonly standard?: StandardTag };

/**
 * What a standard objective is: which one, of which labels (read when it runs), and whether it is
 * targeted (a negated cross-entropy or margin of the targets; DLR's targeted form, of `targets`).
 */
export interface StandardTag {
  kind: StandardObjective;
  labels: () => tf.Tensor1D;
  targeted: boolean;
  targets?: () => tf.Tensor1D;
  /** Carlini-Wagner's per-example c (read when it runs) and κ. */
  cw?: { scale: () => tf.Tensor1D; kappa: number };
}

/**
 * The cross-entropy of `labels()` ('ce'; negated when `targeted`, to descend towards a target), the
 * Carlini-Wagner margin ('margin'), the DLR of `labels()` ('dlr'; targeted: towards `targets()`), or the
 * logit difference z_t − z_y of `targets()` and `labels()` ('difference', DeepFool's and FAB's), or
 * Carlini-Wagner's c · max(−margin, −κ) ('cw', with `cw`),
 * tagged so that `gradient` can hand it to a model's fused gradient (`models/fused.ts`) instead of
 * differentiating it through `predict`.
 */
export function standardObjective(
  kind: StandardObjective,
  labels: () => tf.Tensor1D,
  targeted: boolean,
  targets?: () => tf.Tensor1D,
  cw?: { scale: () => tf.Tensor1D; kappa: number },
): Objective {
  const run = (logits: tf.Tensor2D): tf.Tensor1D => {
    if (kind === 'cw') {
      if (!cw) throw new Error("Carlini-Wagner's objective needs its c and kappa");
      return tf.tidy(() => tf.mul(cw.scale(), tf.maximum(tf.neg(margin(logits, labels(), targeted)), -cw.kappa)) as tf.Tensor1D);
    }
    if (kind === 'difference') {
      if (!targets) throw new Error('a logit difference needs its classes t');
      return tf.tidy(() => tf.sub(pick(logits, targets()), pick(logits, labels())) as tf.Tensor1D);
    }
    if (kind === 'dlr') return targeted && targets ? dlr(logits, labels(), targets()) : dlr(logits, labels());
    if (kind === 'margin') return margin(logits, labels(), targeted);
    return targeted ? tf.tidy(() => tf.neg(crossEntropy(logits, labels()))) : crossEntropy(logits, labels());
  };
  return Object.assign(run, { standard: { kind, labels, targeted, ...(targets !== undefined ? { targets } : {}), ...(cw !== undefined ? { cw } : {}) } });
}

/** What one gradient call returns. The caller owns all three tensors. */
export interface GradientResult {
  /** d sum(loss) / d input, zero on masked features when the input is the image. */
  grad: tf.Tensor;
  logits: tf.Tensor2D;
  loss: tf.Tensor1D;
}

/** The allowed set around clean inputs `x`: the `norm` ball of radius `eps` (none when null), the bounds, the mask. */
export interface Ball {
  x: tf.Tensor;
  norm: Norm;
  eps: Radius | null;
  bounds: BoundTensors;
  /** 1 where a feature may change, broadcastable to `x`; null when every feature may. */
  mask: tf.Tensor | null;
}

/**
 * Map an iterate back into the allowed set: changes only where the mask allows, within eps, within
 * bounds. The one projection of every gradient attack's step and of the adversarial trainers.
 */
export function projectToBall(xAdv: tf.Tensor, ball: Ball): tf.Tensor {
  return tf.tidy(() => {
    let delta = tf.sub(xAdv, ball.x);
    if (ball.mask) delta = tf.mul(delta, ball.mask);
    if (ball.eps !== null) delta = ball.norm.project(delta, ball.eps);
    return clip(tf.add(ball.x, delta), ball.bounds);
  });
}

/**
 * The step helpers of the harness: gradients with exact counts, the standard objectives, eps-scaled
 * sizes, the projection and PGD's random start, all on the working batch. `AttackRun` adds early stop,
 * restarts and the final check on top.
 */
export abstract class AttackSteps extends WorkingBatch {
  private starts = 0;

  /**
   * Gradient of sum(loss) w.r.t. `input`, where `forward` maps the attack's variable to logits and a
   * per-example loss. Examples are independent, so row i of the gradient is example i's own gradient.
   * Counts one gradient evaluation and one query per row of `input`.
   */
  gradientOf(input: tf.Tensor, forward: (v: tf.Tensor) => { logits: tf.Tensor2D; loss: tf.Tensor1D }): GradientResult {
    this.countGradients(input);
    // The forward pass runs inside the gradient's own scope; keep its logits and loss for the caller.
    const kept: { logits?: tf.Tensor2D; loss?: tf.Tensor1D } = {};
    const grad = tf.tidy(() =>
      tf.grad((v: tf.Tensor) => {
        const out = forward(v);
        kept.logits = tf.keep(out.logits);
        kept.loss = tf.keep(out.loss);
        return tf.sum(out.loss);
      })(input),
    );
    if (!kept.logits || !kept.loss) throw new Error(`${this.meta.name}: gradient function did not run`);
    return { grad, logits: kept.logits, loss: kept.loss };
  }

  /**
   * Gradient of an objective of the model's logits w.r.t. the inputs, zero on masked features. An objective
   * of {@link standardObjective} goes through the model's fused gradient when its engine has one (one native
   * run instead of a forward pass and a reverse pass that repeats it; see `models/fused.ts`).
   */
  gradient(xAdv: tf.Tensor, objective: Objective): GradientResult {
    const standard = objective.standard;
    const fusedGradient = standard !== undefined ? fusedGradientOf(this.model) : undefined;
    const fused =
      standard !== undefined && fusedGradient !== undefined
        ? fusedGradient(xAdv, {
            kind: standard.kind,
            labels: standard.labels(),
            targeted: standard.targeted,
            ...(standard.targets ? { targets: standard.targets() } : {}),
            ...(standard.cw ? { scale: standard.cw.scale(), kappa: standard.cw.kappa } : {}),
          })
        : undefined;
    let out: GradientResult;
    if (fused !== undefined) {
      this.countGradients(xAdv);
      out = { grad: fused.grad, logits: fused.logits, loss: objective(fused.logits) };
    } else {
      out = this.gradientOf(xAdv, (v) => {
        const logits = this.model.predict(v);
        return { logits, loss: objective(logits) };
      });
    }
    if (this.mask) {
      const masked = tf.mul(out.grad, this.mask);
      out.grad.dispose();
      out.grad = masked;
    }
    return out;
  }

  /** One gradient evaluation and one query per row of `input`. */
  private countGradients(input: tf.Tensor): void {
    const rows = input.shape[0] ?? 0;
    this.gradientEvaluations += rows;
    this.queries += rows;
  }

  /** Cross-entropy to ascend: of the true class (untargeted), or minus that of the target (targeted). */
  readonly crossEntropy: Objective = standardObjective('ce', () => this.labels, this.targeted);

  /** Carlini-Wagner margin to ascend; positive once the criterion is met. */
  readonly margin: Objective = standardObjective('margin', () => this.labels, this.targeted);

  /** eps · factor for the working batch, shaped to broadcast over it (e.g. a step size eps/4). Fixed-eps attacks only. */
  scaledEps(factor: number): tf.Tensor {
    if (!this.eps) throw new Error(`${this.meta.name}: scaledEps needs a fixed-eps attack`);
    return tf.tidy(() => perExample(tf.mul(this.eps as tf.Tensor1D, factor) as tf.Tensor1D, this.x.rank));
  }

  /** Map a working-batch iterate back into the allowed set: changes only where the mask allows, within eps, within bounds. */
  project(xAdv: tf.Tensor): tf.Tensor {
    return projectToBall(xAdv, this);
  }

  /**
   * A uniform random point of the eps-ball around each working example (PGD's random start), projected.
   * Noise is drawn for the whole caller batch and then gathered, so an example's start does not depend
   * on which other examples are still active: early stop changes no trajectory.
   */
  randomStart(): tf.Tensor {
    if (!this.epsAll) throw new Error(`${this.meta.name}: randomStart needs a fixed-eps attack`);
    const rng = this.rng.fork(`start${this.starts++}`);
    return tf.tidy(() => {
      const noise = this.norm.randomStart(this.xAll.shape, this.epsAll as tf.Tensor1D, rng);
      return this.project(tf.add(this.x, tf.gather(noise, tf.tensor1d(this.active, 'int32'))));
    });
  }
}
