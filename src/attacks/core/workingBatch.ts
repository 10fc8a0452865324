import { tf } from '../../tf.js';
import type { Model } from '../../models/types.js';
import type { BoundTensors } from '../../tensor/bounds.js';
import type { Rng } from '../../tensor/random.js';
import { scatterRows } from '../../tensor/rows.js';
import { projectFeasible, type FeatureConstraints } from './constraints.js';
import { adversarialMask } from './criteria.js';
import type { Norm } from './norms.js';
import type { AttackMeta } from './checks.js';

/** What a working batch is built from: the caller's batch and the resolved threat model. The batch owns every tensor. */
export interface WorkingBatchSetup {
  model: Model;
  meta: AttackMeta;
  /** The caller's clean inputs (the caller keeps them), true labels, labels the loss uses, clean logits, eps. */
  x: tf.Tensor;
  y: tf.Tensor1D;
  labels: tf.Tensor1D;
  cleanLogits: tf.Tensor2D;
  /** Whether the clean logits were computed here (and so are disposed here) rather than handed in. */
  ownsClean: boolean;
  eps: tf.Tensor1D | null;
  norm: Norm;
  rng: Rng;
  targeted: boolean;
  earlyStop: boolean;
  bounds: BoundTensors;
  mask: tf.Tensor | null;
}

/**
 * The bookkeeping layer of the harness (see `harness.ts`): which examples of the caller's batch are still
 * being attacked, their clean tensors gathered down to them, the result rows written back per example (for
 * a minimum-norm attack, the smallest so far), and exact query counts. It knows nothing of steps or
 * success; `AttackSteps` and `AttackRun` build on it.
 */
export class WorkingBatch {
  readonly model: Model;
  readonly meta: AttackMeta;
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
  protected maskValues: Float32Array | undefined;

  /** Positions, in the caller's batch, of the examples still being attacked. */
  active: Int32Array;
  /** Working batch: clean inputs, true labels, the labels the loss uses (targets when targeted), clean logits, eps. */
  x: tf.Tensor;
  y: tf.Tensor1D;
  labels: tf.Tensor1D;
  cleanLogits: tf.Tensor2D;
  eps: tf.Tensor1D | null;

  /** The caller's whole batch, as handed in (clean inputs, labels, loss labels, clean logits, eps). */
  protected readonly xAll: tf.Tensor;
  protected readonly yAll: tf.Tensor1D;
  protected readonly labelsAll: tf.Tensor1D;
  protected readonly cleanAll: tf.Tensor2D;
  protected readonly epsAll: tf.Tensor1D | null;
  private readonly ownsClean: boolean;
  /** One result row per example of the caller's batch; starts as the clean input. */
  protected result: tf.Tensor;
  /** Per example of the caller's batch, the smallest size `keepSmallest` has kept (Infinity where none). */
  private readonly smallest: Float32Array;

  protected constructor(setup: WorkingBatchSetup) {
    this.model = setup.model;
    this.meta = setup.meta;
    this.norm = setup.norm;
    this.rng = setup.rng;
    this.targeted = setup.targeted;
    this.earlyStop = setup.earlyStop;
    this.bounds = setup.bounds;
    this.mask = setup.mask;
    this.xAll = setup.x;
    this.yAll = setup.y;
    this.labelsAll = setup.labels;
    this.cleanAll = setup.cleanLogits;
    this.ownsClean = setup.ownsClean;
    this.epsAll = setup.eps;
    this.n = setup.x.shape[0] ?? 0;
    this.active = Int32Array.from({ length: this.n }, (_, i) => i);
    this.x = tf.clone(setup.x);
    this.y = tf.clone(setup.y);
    this.labels = tf.clone(setup.labels);
    this.cleanLogits = tf.clone(setup.cleanLogits);
    this.eps = setup.eps ? tf.clone(setup.eps) : null;
    this.result = tf.clone(setup.x);
    this.smallest = new Float32Array(this.n).fill(Infinity);
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

  /**
   * A minimum-norm attack's best-so-far: row r of `rows` (working example `local[r]`, default r) becomes
   * that example's result when `fooled[r]` is 1 and `size[r]` is below the smallest size kept for it so far.
   */
  keepSmallest(rows: tf.Tensor, fooled: ArrayLike<number>, size: ArrayLike<number>, local?: readonly number[]): void {
    const improved: number[] = [];
    const rowOf: number[] = [];
    for (let r = 0; r < fooled.length; r++) {
      const j = local ? (local[r] as number) : r;
      const i = this.active[j] as number;
      if (fooled[r] && (size[r] as number) < (this.smallest[i] as number)) {
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

  dispose(): void {
    tf.dispose([this.x, this.y, this.labels, this.cleanLogits, this.result, this.yAll, this.labelsAll, this.bounds.lo, this.bounds.hi]);
    if (this.eps) this.eps.dispose();
    if (this.epsAll) this.epsAll.dispose();
    if (this.mask) this.mask.dispose();
    if (this.ownsClean) this.cleanAll.dispose();
  }

  /** Criterion per working example: 1 where these logits already fool the model. */
  protected async flags(logits: tf.Tensor2D): Promise<Uint8Array> {
    const t = adversarialMask(logits, this.y, this.targeted ? this.labels : null);
    const d = await t.data();
    t.dispose();
    return Uint8Array.from(d);
  }

  /** Drop the working examples flagged in `drop`; returns the kept local indices (caller disposes), or null if none remain. */
  protected shrink(drop: Uint8Array): tf.Tensor1D | null {
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

  /**
   * The valid projection (see constraints.ts) of `xAdv` around clean inputs `x` with radii `eps`: the
   * working batch's by default. The caller owns the result.
   */
  protected async feasible(x: tf.Tensor, xAdv: tf.Tensor, eps: tf.Tensor1D | null): Promise<tf.Tensor> {
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
}
