import type { tf } from '../../tf.js';
import type { Bounds, Model, ModelAccess } from '../../models/types.js';
import type { NormName } from './norms.js';
import type { OptionSchema } from '../../options/schema.js';

/**
 * Who the attack aims at. Untargeted: any wrong class. Targeted: given labels, a random other class
 * (seeded), or the class the model finds least likely.
 */
export type Targeting =
  | { kind: 'untargeted' }
  | { kind: 'labels'; labels: Int32Array }
  | { kind: 'random' }
  | { kind: 'least-likely' };

/** Options every attack accepts. Attack-specific options extend this. */
export interface CommonAttackOptions {
  /** Norm of the threat model. Default: the attack's own default (usually 'linf'). */
  norm?: NormName;
  /** Radius for fixed-budget attacks. A number, or one value per example. Minimum-norm attacks ignore it unless they use it to stop early. */
  eps?: number | Float32Array;
  /** Default untargeted. */
  targeting?: Targeting;
  /** Seed for every random choice (random start, random targets, Square's proposals). Default 0. */
  seed?: string | number;
  /**
   * Keys of the per-example random streams, one per example; default 0..b−1. Give each example a stable id
   * (e.g. its position in the dataset) and its random choices no longer depend on the batch, shard or
   * subset it runs in.
   */
  exampleIds?: ArrayLike<number>;
  /** 1 where a feature may change, 0 where it must stay; shape of one example (flattened), broadcast over the batch. */
  mask?: Float32Array;
  /** Per-feature or scalar bounds; default: the model's bounds. */
  bounds?: Bounds;
  /**
   * Fixed-eps attacks: stop spending work on an example as soon as an iterate fools the model, and keep
   * that iterate (the aim is robust accuracy at eps). Default true. With false every example runs every
   * step and keeps its final iterate (restarts still run only on examples not yet fooled, as in the
   * reference implementations). Minimum-norm attacks ignore it.
   */
  earlyStop?: boolean;
  /**
   * Logits of `x`, when the caller already has them (a shared clean pass over several epsilons, or a
   * training loop's own forward pass). The attack reuses them and does not count them as queries.
   * The caller keeps ownership.
   */
  cleanLogits?: tf.Tensor2D;
}

/** Per-example perturbation sizes, in input space. */
export interface PerturbationNorms {
  linf: Float32Array;
  l2: Float32Array;
  l0: Float32Array;
}

/** What every attack returns. The caller owns (and must dispose) `xAdv`. */
export interface AttackResult {
  /** Adversarial inputs, same shape as x, within bounds and (for fixed-eps attacks) within eps. Unsuccessful examples hold the best attempt or x itself. */
  xAdv: tf.Tensor;
  /** 1 where xAdv fools the model under the targeting criterion. */
  isAdversarial: Uint8Array;
  perturbation: PerturbationNorms;
  /** Image-gradient evaluations spent: sum over steps of the number of examples whose gradient was computed. */
  gradientEvaluations: number;
  /** Model queries spent: sum over forward passes of the number of examples evaluated (forward passes inside gradient computations count too). */
  queries: number;
}

/** An attack: a pure function of (model, x, y, options). No I/O, no global state, no leaked tensors. */
export type AttackFn<O extends CommonAttackOptions = CommonAttackOptions> = (
  model: Model,
  x: tf.Tensor,
  y: Int32Array,
  options?: O,
) => Promise<AttackResult>;

/** Whether an attack runs at a fixed budget eps, or finds the smallest perturbation it can. */
export type AttackKind = 'fixed-eps' | 'minimum-norm';

/** A registry entry: everything the API, CLI, docs and tests need to know about an attack. */
export interface AttackInfo<O extends CommonAttackOptions = CommonAttackOptions> {
  name: string;
  title: string;
  /** Citation, e.g. "Madry et al. 2018, Towards Deep Learning Models Resistant to Adversarial Attacks". */
  paper: string;
  kind: AttackKind;
  /** Norms the attack supports; the first is its default. */
  norms: NormName[];
  /** What the attack needs from the model. */
  needs: ModelAccess;
  targeted: boolean;
  /**
   * Every option of this attack besides the common ones: type, range, default and a one-line doc. The one
   * declaration the CLI's flags, the suite schema, the runtime checks and the docs all derive from.
   */
  options: OptionSchema;
  /** What the attack runs with when not told otherwise: its default norm, then the defaults of `options`. */
  defaults: Partial<O>;
  run: AttackFn<O>;
}
