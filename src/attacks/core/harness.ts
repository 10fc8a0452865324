import { tf } from '../../tf.js';
import type { Model } from '../../models/types.js';
import { applyMask, boundTensors, clip, type BoundTensors } from '../../tensor/bounds.js';
import { checkConstraints, hasConstraints, projectFeasible, type FeatureConstraints } from './constraints.js';
import { adversarialMask } from './criteria.js';
import { crossEntropy, margin } from './losses.js';
import { NORMS, perExample, perturbationNorms, type Norm } from './norms.js';
import type { Rng } from '../../tensor/random.js';
import { scatterRows } from '../../tensor/rows.js';
import type { AttackResult, CommonAttackOptions } from './types.js';
import { checkCall, exampleRng, resolveTargetLabels, type AttackMeta } from './checks.js';

export { exampleRng, resolveTargetLabels, type AttackMeta };

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
 * An attack writes its loop against `AttackRun` and is wrapped by `harness()`; see `pgd.ts`.
 */

/** Margin, relative to the largest |logit| (at least 1), a minimum-norm candidate must clear: far above float rounding, far below any size that matters. */
const MARGIN_SLACK = 1e-5;

/** Per row, whether the criterion's margin clears `MARGIN_SLACK` of the row's largest |logit|. */
function clearMargin(logits: tf.Tensor2D, labels: tf.Tensor1D, targeted: boolean): tf.Tensor {
  return tf.tidy(() => tf.greater(margin(logits, labels, targeted), tf.mul(tf.maximum(tf.max(tf.abs(logits), 1), 1), MARGIN_SLACK)));
}

/** A per-example objective the attack ascends, given logits of the working batch. */
export type Objective = (logits: tf.Tensor2D) => tf.Tensor1D;

/** What one gradient call returns. The caller owns all three tensors. */
export interface GradientResult {
  /** d sum(loss) / d input, zero on masked features when the input is the image. */
  grad: tf.Tensor;
  logits: tf.Tensor2D;
  loss: tf.Tensor1D;
}

/** One call of one attack on one batch. Created by `harness()`. */
export class AttackRun {
  readonly norm: Norm;
  readonly rng: Rng;
  readonly targeted: boolean;
  /** Whether examples leave the working batch as soon as they are adversarial (always, for minimum-norm attacks). */
  readonly earlyStop: boolean;
  /** Examples in the caller's batch. */
  readonly n: number;
  readonly bounds: BoundTensors;
  /** 1 where a feature may change, [1, ...shape]; null when every feature may. */
  readonly mask: tf.Tensor | null;
  gradientEvaluations = 0;
  queries = 0;
  /** Validity rules applied by the final projection; null when there are none. */
  constraints: FeatureConstraints | null = null;
  private maskValues: Float32Array | undefined;

  /** Positions, in the caller's batch, of the examples still being attacked. */
  active: Int32Array;
  /** Working batch: clean inputs, true labels, the labels the loss uses (targets when targeted), clean logits, eps. */
  x: tf.Tensor;
  y: tf.Tensor1D;
  labels: tf.Tensor1D;
  cleanLogits: tf.Tensor2D;
  eps: tf.Tensor1D | null;

  private result: tf.Tensor;
  private readonly hasCandidate: Uint8Array;
  private readonly score: Float32Array;
  private readonly smallest: Float32Array;
  /** 1 where the kept candidate's margin cleared `MARGIN_SLACK`. */
  private readonly clearKept: Uint8Array;
  private starts = 0;

  private constructor(
    readonly model: Model,
    readonly meta: AttackMeta,
    private readonly xAll: tf.Tensor,
    private readonly yAll: tf.Tensor1D,
    private readonly labelsAll: tf.Tensor1D,
    private readonly cleanAll: tf.Tensor2D,
    private readonly ownsClean: boolean,
    private readonly epsAll: tf.Tensor1D | null,
    setup: { norm: Norm; rng: Rng; targeted: boolean; earlyStop: boolean; bounds: BoundTensors; mask: tf.Tensor | null },
  ) {
    this.norm = setup.norm;
    this.rng = setup.rng;
    this.targeted = setup.targeted;
    this.earlyStop = setup.earlyStop;
    this.bounds = setup.bounds;
    this.mask = setup.mask;
    this.n = xAll.shape[0] ?? 0;
    this.active = Int32Array.from({ length: this.n }, (_, i) => i);
    this.x = tf.clone(xAll);
    this.y = tf.clone(yAll);
    this.labels = tf.clone(labelsAll);
    this.cleanLogits = tf.clone(cleanAll);
    this.eps = epsAll ? tf.clone(epsAll) : null;
    this.result = tf.clone(xAll);
    this.hasCandidate = new Uint8Array(this.n);
    this.score = new Float32Array(this.n).fill(-Infinity);
    this.smallest = new Float32Array(this.n).fill(Infinity);
    this.clearKept = new Uint8Array(this.n);
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
    const run = new AttackRun(
      model,
      meta,
      x,
      tf.tensor1d(y, 'int32'),
      tf.tensor1d(targets ?? y, 'int32'),
      cleanAll,
      ownsClean,
      epsValues ? tf.tensor1d(epsValues) : null,
      {
        norm: NORMS[normName],
        rng: exampleRng(seed, n, options.exampleIds),
        targeted: targets !== null,
        earlyStop: meta.kind === 'minimum-norm' || (options.earlyStop ?? true),
        bounds: boundTensors(bounds, shape),
        mask: options.mask ? tf.tidy(() => tf.cast(tf.greater(tf.tensor(options.mask ?? [], [1, ...shape]), 0), 'float32')) : null,
      },
    );
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

  /** Examples in the working batch. */
  get size(): number {
    return this.active.length;
  }

  /** Logits of a working-batch tensor. Counts one query per example. */
  predict(xAdv: tf.Tensor): tf.Tensor2D {
    this.queries += xAdv.shape[0] ?? 0;
    return tf.tidy(() => this.model.predict(xAdv));
  }

  /**
   * Gradient of sum(loss) w.r.t. `input`, where `forward` maps the attack's variable to logits and a
   * per-example loss. Examples are independent, so row i of the gradient is example i's own gradient.
   * Counts one gradient evaluation and one query per row of `input`.
   */
  gradientOf(input: tf.Tensor, forward: (v: tf.Tensor) => { logits: tf.Tensor2D; loss: tf.Tensor1D }): GradientResult {
    const rows = input.shape[0] ?? 0;
    this.gradientEvaluations += rows;
    this.queries += rows;
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

  /** Gradient of an objective of the model's logits w.r.t. the inputs, zero on masked features. */
  gradient(xAdv: tf.Tensor, objective: Objective): GradientResult {
    const out = this.gradientOf(xAdv, (v) => {
      const logits = this.model.predict(v);
      return { logits, loss: objective(logits) };
    });
    if (this.mask) {
      const masked = tf.mul(out.grad, this.mask);
      out.grad.dispose();
      out.grad = masked;
    }
    return out;
  }

  /** Cross-entropy to ascend: of the true class (untargeted), or minus that of the target (targeted). */
  readonly crossEntropy: Objective = (logits) =>
    this.targeted ? tf.tidy(() => tf.neg(crossEntropy(logits, this.labels))) : crossEntropy(logits, this.labels);

  /** Carlini-Wagner margin to ascend; positive once the criterion is met. */
  readonly margin: Objective = (logits) => margin(logits, this.labels, this.targeted);

  /** eps · factor for the working batch, shaped to broadcast over it (e.g. a step size eps/4). Fixed-eps attacks only. */
  scaledEps(factor: number): tf.Tensor {
    if (!this.eps) throw new Error(`${this.meta.name}: scaledEps needs a fixed-eps attack`);
    return tf.tidy(() => perExample(tf.mul(this.eps as tf.Tensor1D, factor) as tf.Tensor1D, this.x.rank));
  }

  /** Map a working-batch iterate back into the allowed set: changes only where the mask allows, within eps, within bounds. */
  project(xAdv: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let delta = tf.sub(xAdv, this.x);
      if (this.mask) delta = tf.mul(delta, this.mask);
      if (this.eps) delta = this.norm.project(delta, this.eps);
      return clip(tf.add(this.x, delta), this.bounds);
    });
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
    // An early stop is final, so it needs a margin the final check will see too (see `keepFooling`): an
    // iterate on the boundary itself stays in the batch for another step (DeepFool Linf, MNIST digit 13).
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
   * A minimum-norm attack's best-so-far: row r of `rows` (working example `local[r]`, default r) becomes
   * that example's result when `fooled[r]` is 1 and `size[r]` is below the smallest size kept for it so far.
   * With `clear` (1 where the margin clears float rounding, see `keepFooling`), a clear candidate beats
   * one that is not, whatever their sizes.
   */
  keepSmallest(rows: tf.Tensor, fooled: ArrayLike<number>, size: ArrayLike<number>, local?: readonly number[], clear?: ArrayLike<number>): void {
    const improved: number[] = [];
    const rowOf: number[] = [];
    for (let r = 0; r < fooled.length; r++) {
      const j = local ? (local[r] as number) : r;
      const i = this.active[j] as number;
      const c = clear ? (clear[r] as number) : 1;
      const kept = this.clearKept[i] as number;
      if (fooled[r] && (c > kept || (c === kept && (size[r] as number) < (this.smallest[i] as number)))) {
        this.clearKept[i] = c;
        this.smallest[i] = size[r] as number;
        improved.push(j);
        rowOf.push(r);
      }
    }
    this.write(rows, improved, rowOf);
  }

  /** Per working example, the smallest size `keepSmallest` has kept for it (Infinity where none). */
  smallestSizes(): Float32Array {
    return Float32Array.from(this.active, (i) => this.smallest[i] as number);
  }

  /**
   * `keepSmallest` judged by the harness's criterion: `logits` are those of `xAdv` (rows `local`, default
   * the whole working batch), sizes are in the run's norm. Consumes nothing; returns per row 1 where it
   * fools the model with a margin clear of float rounding (`MARGIN_SLACK`; a point fooled by less is kept
   * only while no clear one is found, and is not reported as fooled), and its size.
   */
  async keepFooling(xAdv: tf.Tensor, logits: tf.Tensor2D, local?: readonly number[]): Promise<{ fooled: Uint8Array; size: Float32Array }> {
    const stats = tf.tidy(() => {
      const at = local ? tf.tensor1d(Int32Array.from(local), 'int32') : null;
      const y = at ? tf.gather(this.y, at) : this.y;
      const labels = at ? tf.gather(this.labels, at) : this.labels;
      const x = at ? tf.gather(this.x, at) : this.x;
      // A best-so-far must stay adversarial when the final check evaluates it again: on another code
      // path (predict, not the gradient's forward pass) logits differ by float rounding, and a point kept
      // at a margin of 1e-6 flipped back (FMN, MNIST digit 141). So a candidate whose margin clears that
      // beats any that does not, and only such a one counts as fooled for the attack's own steps.
      const fooled = adversarialMask(logits, y as tf.Tensor1D, this.targeted ? (labels as tf.Tensor1D) : null);
      const clear = tf.logicalAnd(fooled, clearMargin(logits, labels as tf.Tensor1D, this.targeted));
      return tf.concat([tf.cast(fooled, 'float32'), tf.cast(clear, 'float32'), this.norm.distance(tf.sub(xAdv, x))]);
    });
    const s = (await stats.data()) as Float32Array;
    stats.dispose();
    const k = s.length / 3;
    const clear = s.subarray(k, 2 * k);
    this.keepSmallest(xAdv, s.subarray(0, k), s.subarray(2 * k), local, clear);
    return { fooled: Uint8Array.from(clear), size: s.slice(2 * k) };
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

  dispose(): void {
    tf.dispose([this.x, this.y, this.labels, this.cleanLogits, this.result, this.yAll, this.labelsAll, this.bounds.lo, this.bounds.hi]);
    if (this.eps) this.eps.dispose();
    if (this.epsAll) this.epsAll.dispose();
    if (this.mask) this.mask.dispose();
    if (this.ownsClean) this.cleanAll.dispose();
  }

  /**
   * The valid projection (see constraints.ts) of `xAdv` around clean inputs `x` with radii `eps`: the
   * working batch's by default. The caller owns the result.
   */
  private async feasible(x: tf.Tensor, xAdv: tf.Tensor, eps: tf.Tensor1D | null): Promise<tf.Tensor> {
    const constraints = this.constraints;
    const rows = x.shape[0] ?? 0;
    if (!constraints || rows === 0) return tf.clone(xAdv);
    const radii = eps ? ((await eps.data()) as Float32Array) : undefined;
    const valid = projectFeasible((await x.data()) as Float32Array, (await xAdv.data()) as Float32Array, x.size / rows, constraints, {
      norm: this.norm.name,
      ...(this.maskValues ? { mask: this.maskValues } : {}),
      ...(radii ? { eps: radii } : {}),
    });
    return tf.tensor(valid, xAdv.shape);
  }

  /** Criterion per working example: 1 where these logits already fool the model (with `clear`, by a margin clear of float rounding). */
  private async flags(logits: tf.Tensor2D, clear = false): Promise<Uint8Array> {
    const t = tf.tidy(() => {
      const fooled = adversarialMask(logits, this.y, this.targeted ? this.labels : null);
      return clear ? tf.logicalAnd(fooled, clearMargin(logits, this.labels, this.targeted)) : fooled;
    });
    const d = await t.data();
    t.dispose();
    return Uint8Array.from(d);
  }

  /**
   * Write rows of `rows` (`rowOf`, default `local`) as the results of working examples `local` (a gather and a
   * select, no host copy): `endRestart` writes what fooled the model, and a minimum-norm attack its best-so-far.
   */
  write(rows: tf.Tensor, local: number[], rowOf?: number[]): void {
    if (local.length === 0) return;
    let next: tf.Tensor;
    if (rowOf === undefined) {
      next = scatterRows(this.result, rows, this.active, local);
    } else {
      // Row rowOf[k] of `rows` goes to the result row of working example local[k].
      const into = new Array<number>(rows.shape[0] ?? 0).fill(0);
      rowOf.forEach((r, k) => (into[r] = this.active[local[k] as number] as number));
      next = scatterRows(this.result, rows, into, rowOf);
    }
    this.result.dispose();
    this.result = next;
  }

  /** Drop the working examples flagged in `drop`; returns the kept local indices (caller disposes), or null if none remain. */
  private shrink(drop: Uint8Array): tf.Tensor1D | null {
    const kept: number[] = [];
    drop.forEach((d, j) => d || kept.push(j));
    if (kept.length === this.active.length) return tf.tensor1d(kept, 'int32');
    this.active = Int32Array.from(kept, (j) => this.active[j] as number);
    const idx = tf.tensor1d(kept, 'int32');
    const regather = <T extends tf.Tensor>(t: T): T => {
      const g = tf.gather(t, idx) as T;
      t.dispose();
      return g;
    };
    this.x = regather(this.x);
    this.y = regather(this.y);
    this.labels = regather(this.labels);
    this.cleanLogits = regather(this.cleanLogits);
    if (this.eps) this.eps = regather(this.eps);
    if (kept.length === 0) {
      idx.dispose();
      return null;
    }
    return idx;
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
