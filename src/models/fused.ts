/**
 * Fused objective gradients: the input gradient of one of the attacks' standard objectives (the
 * cross-entropy or the Carlini-Wagner margin of the labels) computed by the model's engine in one run,
 * beside the logits. Under `tf.grad` a model on the native engine runs a forward pass for the logits
 * and then its reverse pass, which must recompute that forward pass (onnxruntime keeps nothing between
 * runs); the fused gradient does both in one. The attacks' gradient step (`attacks/core/steps.ts`) asks
 * for it and falls back to `tf.grad` when a model has none.
 *
 * A fused gradient belongs to one `predict` function, not to a model object: a wrapper that replaces
 * `predict` (a defence, an averaging of randomised models) computes something else, so it is never
 * reached through the wrapper, even when the wrapper copies the model's other fields.
 */
import { tf } from '../tf.js';
import { normalize } from './metadata.js';
import type { ObjectiveWeights } from './native/engine.js';
import type { Model, Normalization } from './types.js';

/**
 * The standard objectives an engine can fuse, as `attacks/core/losses.ts` defines them, and the logit
 * difference z_t − z_y of DeepFool and FAB ('difference', of `targets` t and `labels` y), whose gradient
 * with respect to the logits is known before the forward pass.
 */
export type StandardObjective = 'ce' | 'margin' | 'dlr' | 'difference' | 'cw';

/** Which objective, of which labels. */
export interface FusedObjective {
  kind: StandardObjective;
  /** The labels the objective reads: the true ones, or for a targeted cross-entropy or margin the targets. */
  labels: tf.Tensor1D;
  /** Cross-entropy and margin: negated, to descend towards `labels`. DLR: its targeted form, with `targets`. */
  targeted: boolean;
  /** The targeted DLR's targets; the classes t of a difference z_t − z_y. */
  targets?: tf.Tensor1D;
  /** Carlini-Wagner's per-example c and its confidence κ: the objective c · max(−margin, −κ). */
  scale?: tf.Tensor1D;
  kappa?: number;
}

/**
 * The logits of x and the input gradient of Σᵢ objective(zᵢ), or undefined when the engine does not
 * fuse this one (DLR on fewer than 4 classes). Equal to `tf.grad` through `predict` within float
 * rounding. The caller owns both tensors.
 */
export type FusedGradient = (x: tf.Tensor, objective: FusedObjective) => { logits: tf.Tensor2D; grad: tf.Tensor } | undefined;

const registry = new WeakMap<Model['predict'], FusedGradient>();

/** The fused gradient of `model`'s `predict`, when its engine has one. */
export function fusedGradientOf(model: Model): FusedGradient | undefined {
  return registry.get(model.predict);
}

/** Make `fused` the fused gradient of `predict` (tests may register their own). */
export function registerFusedGradient(predict: Model['predict'], fused: FusedGradient): void {
  registry.set(predict, fused);
}

/**
 * The fused gradient of a model whose `predict` is `engine` after `normalization` (if any): the
 * engine's own in normalised coordinates, carried back through the normalisation by `tf.grad`.
 */
export function fusedThroughNormalization(
  engine: { gradient: (x: tf.Tensor, weights: ObjectiveWeights) => { logits: tf.Tensor2D; grad: tf.Tensor }; dlr: boolean },
  classes: number,
  normalization: Normalization | undefined,
  inputShape: number[],
): FusedGradient {
  return (x, { kind, labels, targeted, targets, scale, kappa }) => {
    if (kind === 'dlr' && (!engine.dlr || (targeted && targets === undefined))) return undefined;
    if (kind === 'difference' && targets === undefined) return undefined;
    if (kind === 'cw' && (scale === undefined || kappa === undefined)) return undefined;
    return tf.tidy(() => {
      const input = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
      const rows = input.shape[0] ?? 0;
      const onehot = (l: tf.Tensor1D): tf.Tensor2D => tf.cast(tf.oneHot(tf.cast(l, 'int32'), classes), 'float32') as tf.Tensor2D;
      const weights: ObjectiveWeights = { onehot: onehot(labels) };
      if (kind === 'difference') {
        // Linear in the logits: its gradient is the reverse pass's own starting point (targets checked above).
        weights.dy = tf.sub(onehot(targets as tf.Tensor1D), weights.onehot) as tf.Tensor2D;
      } else if (kind === 'cw') {
        const s = targeted ? -1 : 1;
        weights.cw = tf.reshape(tf.mul(scale as tf.Tensor1D, -s), [rows, 1]) as tf.Tensor2D;
        weights.cwSign = tf.fill([rows, 1], s) as tf.Tensor2D;
        weights.kappa = tf.fill([rows, 1], kappa as number) as tf.Tensor2D;
      } else if (kind === 'dlr') {
        weights[targeted ? 'dlrTargeted' : 'dlr'] = tf.ones([rows, 1]) as tf.Tensor2D;
        if (targeted && targets !== undefined) weights.target = onehot(targets);
      } else {
        weights[kind] = tf.fill([rows, 1], targeted ? -1 : 1) as tf.Tensor2D;
      }
      if (normalization === undefined) return engine.gradient(input, weights);
      const inner = engine.gradient(normalize(input, normalization, inputShape), weights);
      const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(normalize(v, normalization, inputShape), inner.grad)))(input);
      return { logits: inner.logits, grad };
    });
  };
}
