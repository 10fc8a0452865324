import type { tf } from '../tf.js';

import type { Bounds } from '../tensor/bounds.js';

/** Input bounds (defined with the tensor helpers that use them, `src/tensor/bounds.ts`). */
export type { Bounds };

/** Per-channel (or per-feature) normalisation applied inside the model: (x - mean) / std. */
export interface Normalization {
  mean: number | number[];
  std: number | number[];
}

/**
 * What runs a model's forward pass and input gradient: `tfjs` (the active TF.js backend) or `onnxruntime`
 * (onnxruntime's native CPU kernels, for the attack-time graph; see `src/models/native/engine.ts`).
 */
export type ModelEngine = 'tfjs' | 'onnxruntime';

/** What an attack can ask of a model. */
export type ModelAccess = 'gradients' | 'scores' | 'decisions';

/**
 * How an image model lays out one example: `nhwc` ([height, width, channels], TF.js and Keras) or `nchw`
 * ([channels, height, width], PyTorch and ONNX). robust's image sources are NHWC and are transposed to an
 * `nchw` model's layout when loaded for it; norms, eps and bounds do not depend on the order of features.
 */
export type InputLayout = 'nhwc' | 'nchw';

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
  /** The layout of image inputs; undefined means NHWC or not an image. */
  readonly layout?: InputLayout;
  /** Why `access` is less than gradients, when the format (not the caller) limits it; shown when an attack needs more. */
  readonly accessNote?: string;
  /**
   * Memory per example that the model's engine holds outside TF.js's tensors (onnxruntime's buffers for
   * the native engine), which memory planning adds to what it measures; undefined or 0 for TF.js.
   */
  readonly engineBytesPerExample?: number;
  /** Logits [batch, numClasses] for inputs [batch, ...inputShape]. Differentiable when access is 'gradients'. */
  predict(x: tf.Tensor): tf.Tensor2D;
  /** Release the model's weights. */
  dispose(): void;
}
