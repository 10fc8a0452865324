import type { tf } from '../tf.js';

import type { Bounds } from '../tensor/bounds.js';

/** Input bounds (defined with the tensor helpers that use them, `src/tensor/bounds.ts`). */
export type { Bounds };

/** Per-channel (or per-feature) normalisation applied inside the model: (x - mean) / std. */
export interface Normalization {
  mean: number | number[];
  std: number | number[];
}

/** What an attack can ask of a model. */
export type ModelAccess = 'gradients' | 'scores' | 'decisions';

/**
 * A classifier as attacks see it: a differentiable map from inputs (in input space, within `bounds`)
 * to logits. Normalisation, if any, happens inside `predict`, so attacks never see it.
 */
export interface Model {
  /** A short label for reports (the path, or a name given by the caller). */
  readonly name: string;
  /** Shape of one example, without the batch dimension, e.g. [28, 28, 1]. */
  readonly inputShape: number[];
  readonly numClasses: number;
  readonly bounds: Bounds;
  /** SHA-256 of the model files (model.json plus shards) when loaded from disk. */
  readonly sha256?: string;
  /** The most an attack may use: 'gradients' for differentiable models, 'scores' for logits only. */
  readonly access: ModelAccess;
  /** Logits [batch, numClasses] for inputs [batch, ...inputShape]. Differentiable when access is 'gradients'. */
  predict(x: tf.Tensor): tf.Tensor2D;
  /** Release the model's weights. */
  dispose(): void;
}
