import type { tf } from '../tf.js';
import type { Rng } from '../attacks/core/random.js';
import type { Bounds } from '../models/types.js';
import type { OptionSchema } from '../options/schema.js';

/**
 * How an attack gets a gradient through a defence (Athalye, Carlini & Wagner 2018, "Obfuscated Gradients
 * Give a False Sense of Security", ICML):
 * - `exact`: the transform is differentiable; attacks differentiate it as it is;
 * - `bpda`: Backward Pass Differentiable Approximation: the forward pass is the real transform, the
 *   backward pass is the identity (or a differentiable approximation of the transform);
 * - `eot`: Expectation over Transformation (Athalye, Engstrom, Ilyas & Kwok 2018, "Synthesizing Robust
 *   Adversarial Examples", ICML): the transform is random, so attacks differentiate the mean of the
 *   logits over N draws, whose gradient is the average gradient over those draws.
 */
export type GradientPolicy = 'exact' | 'bpda' | 'eot';

/** What a defence knows of the model it protects. */
export interface DefenseContext {
  /** Shape of one example, e.g. [28, 28, 1]. */
  readonly inputShape: number[];
  readonly bounds: Bounds;
  /** The lower and upper bounds as tensors broadcastable over a batch (scalars, or [1, ...inputShape]). */
  readonly lo: tf.Tensor;
  readonly hi: tf.Tensor;
}

/**
 * An input transform placed in front of a classifier (a denoiser, a squeezer, a random transform).
 * It maps a batch [b, ...inputShape] to a batch of the same shape, within the same bounds.
 * A defence is a value: it holds no tensors and no state, so one instance can protect many models.
 */
export interface Defense {
  /** The registry name, e.g. 'median'. */
  readonly kind: string;
  /** A label with its options, for reports, e.g. 'median(3)'. */
  readonly name: string;
  readonly policy: GradientPolicy;
  /** Throws a UsageError when the defence cannot protect a model with this input (e.g. JPEG on a vector). */
  check(context: DefenseContext): void;
  /**
   * The transform as deployed. A random defence draws from `rng` with its row-wise methods only
   * (`normal`/`uniform` with the batch first, `ints(b, n)`), so that row r depends on row r's stream alone.
   * Its gradient is whatever automatic differentiation of this implementation gives: zero through a
   * quantisation or through code run outside the graph (JPEG). That is the "naive" gradient of a
   * non-adaptive evaluation; it never throws.
   */
  apply(x: tf.Tensor, context: DefenseContext, rng: Rng): tf.Tensor;
  /**
   * For `bpda`: a differentiable approximation g of the transform whose gradient the backward pass uses.
   * Absent: the identity, the usual choice for denoisers whose output is close to their input.
   */
  approximation?(x: tf.Tensor, context: DefenseContext): tf.Tensor;
}

/** A defence as a suite file or the CLI names it: the registry name plus options, e.g. `{name: 'median', size: 3}`. */
export interface DefenseSpec {
  name: string;
  [option: string]: number | string;
}

/**
 * A registry entry: everything the API, the suite schema, the docs and the tests need to know about a defence.
 * Option types are type aliases, not interfaces, so that an entry fits the `Record<string, number>` default.
 */
export interface DefenseInfo<O extends object = Record<string, number>> {
  /** Name in suite files, e.g. 'bit-depth'. */
  name: string;
  title: string;
  /** Citation of the defence (and of the attack treatment where it matters). */
  paper: string;
  policy: GradientPolicy;
  /** Every option: type, range, default and a one-line doc (the suite schema, the checks and the docs derive from it). */
  options: OptionSchema;
  /** Every option with its default (from `options`). */
  defaults: O;
  /** Build the defence; options not given take their defaults. Throws UsageError on a bad option. */
  create(options?: Partial<O>): Defense;
}
