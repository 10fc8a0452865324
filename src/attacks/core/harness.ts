import { tf } from '../../tf.js';
import type { Model } from '../../models/types.js';
import { applyMask, boundTensors, clip } from '../../tensor/bounds.js';
import { checkConstraints, hasConstraints } from './constraints.js';
import { adversarialMask, clearMargin } from './criteria.js';
import { NORMS, perturbationNorms } from './norms.js';
import type { AttackResult, CommonAttackOptions } from './types.js';
import { checkCall, exampleRng, resolveTargetLabels, type AttackMeta } from './checks.js';
import { AttackSteps } from './steps.js';
import type { WorkingBatchSetup } from './workingBatch.js';

export { exampleRng, resolveTargetLabels, type AttackMeta };
export { projectToBall, standardObjective, type Ball, type GradientResult, type Objective, type StandardTag } from './steps.js';

/**
 * The shared machinery behind every gradient attack (Foolbox's split: the attack computes perturbed
 * inputs, the harness does everything else). It owns
 *  - the clean forward pass, target resolution, bounds, mask and per-example eps;
 *  - the working batch: the examples still being attacked. With early stop an example leaves it the
 *    moment an iterate fools the model; its adversarial example is written back and the batch shrinks
 *    by gathering, so later steps spend no work on it;
 *  - exact counts: `gradientEvaluations` (examples × gradient calls) and `queries` (examples × forward
 *    passes, those inside gradient calls included);
 *  - the final step: constrain every result to the eps-ball, the bounds and the mask, evaluate it once,
 *    and measure the perturbation. So a result is never trusted on the attack's word alone.
 *
 * An attack writes its loop against `AttackRun` and is wrapped by `harness()`; see `pgd.ts`. The class is
 * built in three layers, one file each: `workingBatch.ts` (the bookkeeping), `steps.ts` (gradients, the
 * projection, the random start) and this file (early stop, restarts, best-so-far and the final check).
 */

/** One call of one attack on one batch. Created by `harness()`. */
export class AttackRun extends AttackSteps {
  private readonly hasCandidate: Uint8Array;
  private readonly score: Float32Array;

  private constructor(setup: WorkingBatchSetup) {
    super(setup);
    this.hasCandidate = new Uint8Array(this.n);
    this.score = new Float32Array(this.n).fill(-Infinity);
  }

  /** Check the options against the attack and the model, run the clean pass, and build the working batch. */
  static async start(model: Model, x: tf.Tensor, y: Int32Array, options: CommonAttackOptions, meta: AttackMeta): Promise<AttackRun> {
    const { n, shape, normName, targeting, epsValues, bounds } = checkCall(model, x, y, options, meta);

    const seed = options.seed ?? 0;
    const ownsClean = options.cleanLogits === undefined;
    const cleanAll = options.cleanLogits ?? tf.tidy(() => model.predict(x));
    let targets: Int32Array | null;
    try {
      targets = await resolveTargetLabels(cleanAll, y, targeting, seed, options.exampleIds);
    } catch (err) {
      if (ownsClean) cleanAll.dispose();
      throw err;
    }
    const run = new AttackRun({
      model,
      meta,
      x,
      y: tf.tensor1d(y, 'int32'),
      labels: tf.tensor1d(targets ?? y, 'int32'),
      cleanLogits: cleanAll,
      ownsClean,
      eps: epsValues ? tf.tensor1d(epsValues) : null,
      norm: NORMS[normName],
      rng: exampleRng(seed, n, options.exampleIds),
      targeted: targets !== null,
      earlyStop: meta.kind === 'minimum-norm' || (options.earlyStop ?? true),
      bounds: boundTensors(bounds, shape),
      mask: options.mask ? tf.tidy(() => tf.cast(tf.greater(tf.tensor(options.mask ?? [], [1, ...shape]), 0), 'float32')) : null,
    });
    if (ownsClean) run.queries += n;
    if (hasConstraints(options.constraints)) {
      try {
        const features = shape.reduce((a, b) => a * b, 1);
        checkConstraints(options.constraints, (await x.data()) as Float32Array, features, bounds, meta.name);
      } catch (err) {
        run.dispose();
        throw err;
      }
      run.constraints = options.constraints;
      run.maskValues = options.mask;
    }
    // Points the model already gets wrong need no perturbation at all.
    if (run.earlyStop && n > 0) {
      const clean = await run.flags(run.cleanLogits);
      run.shrink(clean)?.dispose();
    }
    return run;
  }

  /**
   * Early stop: `logits` are those of `carry[0]` (the current iterate, from the gradient call's own
   * forward pass, so checking costs no query). Examples it fools are written back and leave the batch;
   * every carried tensor is gathered down to the examples that remain. Consumes `logits` and `carry`;
   * returns the gathered tensors, or null when no example remains. Without early stop it returns
   * `carry` untouched and never syncs.
   */
  async settle<T extends tf.Tensor[]>(logits: tf.Tensor2D, ...carry: T): Promise<T | null> {
    if (!this.earlyStop) {
      logits.dispose();
      return carry;
    }
    // Under feature constraints an iterate counts only once its valid projection fools the model.
    const valid = this.constraints && carry[0] ? await this.feasible(this.x, carry[0], this.eps) : null;
    if (valid) {
      logits.dispose();
      logits = this.predict(valid);
    }
    // An early stop is final: an iterate on the boundary itself (see MARGIN_SLACK) stays for another step.
    const adv = await this.flags(logits, true);
    logits.dispose();
    const hits: number[] = [];
    adv.forEach((a, j) => a && hits.push(j));
    if (hits.length === 0) {
      valid?.dispose();
      return carry;
    }
    const first = valid ?? carry[0];
    if (first) this.write(first, hits);
    valid?.dispose();
    const keep = this.shrink(adv);
    if (!keep) {
      tf.dispose(carry);
      return null;
    }
    const out = carry.map((t) => {
      const g = tf.gather(t, keep);
      t.dispose();
      return g;
    });
    keep.dispose();
    return out as T;
  }

  /**
   * End of one restart: `xAdv` is its final iterate (consumed). Adversarial rows are kept as results;
   * for the rest the restart with the highest margin so far is kept (best restart per example). After
   * a restart that is not the last, adversarial examples leave the batch (as in every reference
   * implementation of restarts). The last restart of an attack with no earlier candidate skips the
   * evaluation: the final check in `finish()` does it.
   */
  async endRestart(xAdv: tf.Tensor, last: boolean): Promise<void> {
    if (this.constraints) {
      const valid = await this.feasible(this.x, xAdv, this.eps);
      xAdv.dispose();
      xAdv = valid;
    }
    const all = Array.from(this.active.keys());
    if (last && !all.some((j) => this.hasCandidate[this.active[j] as number])) {
      this.write(xAdv, all);
      for (const i of this.active) this.hasCandidate[i] = 1;
      xAdv.dispose();
      return;
    }
    const logits = this.predict(xAdv);
    const scoreT = this.margin(logits);
    const adv = await this.flags(logits);
    const scores = (await scoreT.data()) as Float32Array;
    tf.dispose([logits, scoreT]);
    const hits: number[] = [];
    const better: number[] = [];
    adv.forEach((a, j) => {
      const i = this.active[j] as number;
      if (a) {
        hits.push(j);
      } else if (!this.hasCandidate[i] || (scores[j] as number) > (this.score[i] as number)) {
        better.push(j);
        this.hasCandidate[i] = 1;
        this.score[i] = scores[j] as number;
      }
    });
    this.write(xAdv, [...hits, ...better]);
    xAdv.dispose();
    if (!last) this.shrink(adv)?.dispose();
  }

  /**
   * `keepSmallest` judged by the harness's criterion: `logits` are those of `xAdv` (rows `local`, default
   * the whole working batch), sizes are in the run's norm. Consumes nothing; returns per row 1 where it
   * fools the model by more than `MARGIN_SLACK` (a point fooled by less is kept only until a clear one is
   * found, and is not reported), and its size.
   */
  async keepFooling(xAdv: tf.Tensor, logits: tf.Tensor2D, local?: readonly number[]): Promise<{ fooled: Uint8Array; size: Float32Array }> {
    const stats = tf.tidy(() => {
      const at = local ? tf.tensor1d(Int32Array.from(local), 'int32') : null;
      const y = at ? tf.gather(this.y, at) : this.y;
      const labels = at ? tf.gather(this.labels, at) : this.labels;
      const x = at ? tf.gather(this.x, at) : this.x;
      const fooled = adversarialMask(logits, y as tf.Tensor1D, this.targeted ? (labels as tf.Tensor1D) : null);
      const clear = tf.logicalAnd(fooled, clearMargin(logits, labels as tf.Tensor1D, this.targeted));
      return tf.concat([tf.cast(fooled, 'float32'), tf.cast(clear, 'float32'), this.norm.distance(tf.sub(xAdv, x))]);
    });
    const s = (await stats.data()) as Float32Array;
    stats.dispose();
    const k = s.length / 3;
    this.keepSmallest(xAdv, s.subarray(0, k), s.subarray(2 * k), local, s.subarray(k, 2 * k));
    return { fooled: Uint8Array.from(s.subarray(k, 2 * k)), size: s.slice(2 * k) };
  }

  /**
   * Constrain, evaluate once and measure every result. The caller owns the returned `xAdv`. With feature
   * constraints, the constrained point is then projected onto the valid inputs (see constraints.ts), so
   * the model is evaluated, and success decided, on what a user could actually submit.
   */
  async finish(): Promise<AttackResult> {
    let xAdv = tf.tidy(() => {
      let delta = tf.sub(this.result, this.xAll);
      if (this.epsAll) delta = this.norm.project(delta, this.epsAll);
      return applyMask(this.xAll, clip(tf.add(this.xAll, delta), this.bounds), this.mask);
    });
    if (this.constraints && this.n > 0) {
      const valid = await this.feasible(this.xAll, xAdv, this.epsAll);
      xAdv.dispose();
      xAdv = valid;
    }
    this.queries += this.n;
    let isAdversarial = new Uint8Array(0);
    if (this.n > 0) {
      const advT = tf.tidy(() => adversarialMask(this.model.predict(xAdv), this.yAll, this.targeted ? this.labelsAll : null));
      isAdversarial = Uint8Array.from(await advT.data());
      advT.dispose();
    }
    const perturbation = await perturbationNorms(this.xAll, xAdv);
    return { xAdv, isAdversarial, perturbation, gradientEvaluations: this.gradientEvaluations, queries: this.queries };
  }

}

/**
 * Run an attack body against a fresh `AttackRun` and return the typed result: the shape of every
 * gradient attack in robust. Nothing leaks, even when the body throws.
 * @example
 *   export const fgsm: AttackFn = (model, x, y, options = {}) =>
 *     harness(model, x, y, options, META, async (run) => { ... run.endRestart(xAdv, true) ... });
 */
export async function harness(
  model: Model,
  x: tf.Tensor,
  y: Int32Array,
  options: CommonAttackOptions,
  meta: AttackMeta,
  body: (run: AttackRun) => Promise<void>,
): Promise<AttackResult> {
  const run = await AttackRun.start(model, x, y, options, meta);
  try {
    if (run.size > 0) await body(run);
    return await run.finish();
  } finally {
    run.dispose();
  }
}
