/** What the Layers, graph and function wrappers hand to the shared assembly in `load.ts`. */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { tf } from '../tf.js';
import type { OptNode } from './optimize.js';
import type { NativeEngine } from './native/engine.js';
import type { InputLayout, ModelAccess, ModelEngine } from './types.js';

/**
 * What to do when the model's output is a softmax.
 * - `auto` (default): predict returns the pre-softmax logits when that can be done exactly (a final
 *   Dense layer with softmax activation, a final Activation('softmax') or Softmax layer, or a graph
 *   whose output is a Softmax op, possibly behind Identity ops); otherwise keep the probabilities
 *   and set `outputsProbabilities`.
 * - `strip-softmax`: as `auto`, but a UsageError when there is no softmax to strip or it cannot be
 *   stripped exactly.
 * - `as-is`: never change the model's output.
 *
 * Attacks want logits: gradients through a saturated softmax vanish, which makes a model look
 * robust when it is not (Carlini & Wagner 2017, "Towards Evaluating the Robustness of Neural Networks").
 * Stripping never changes a prediction, since softmax preserves the argmax.
 */
export type LogitsMode = 'auto' | 'strip-softmax' | 'as-is';

/** A wrapped model before bounds, normalisation and shape checks are added. */
export interface Core {
  format: 'layers-model' | 'graph-model' | 'function' | 'onnx';
  forward: (x: tf.Tensor) => tf.Tensor;
  /** Per-example input shape as the model declares it; null for unknown dimensions. */
  declaredInputShape?: (number | null)[];
  outputsProbabilities: boolean;
  softmaxStripped: boolean;
  /** True when `forward` is the attack-time pass of `optimize.ts` rather than the model as loaded. */
  optimized?: boolean;
  /** The folded attack-time graph behind an optimised `forward`, which the native engine can run. */
  graph?: readonly OptNode[];
  /**
   * Builds that graph on demand, for a format whose `forward` does not run one (ONNX): undefined when a
   * node is not covered. The caller owns the nodes' weights.
   */
  buildGraph?: () => OptNode[] | undefined;
  /**
   * True when `graph` (or `buildGraph`'s) ends before the model's final sigmoid: it computes the logit z of
   * `sigmoid.logits`, and `forward` is sigmoid(z).
   */
  graphBeforeSigmoid?: boolean;
  /** What runs `forward`: TF.js's backend (default) or onnxruntime's native kernels (`native/engine.ts`). */
  engine?: ModelEngine;
  /** See {@link Model.engineBytesPerExample}. */
  engineBytesPerExample?: number;
  /** The engine's fused objective gradient of `forward` (see `fused.ts`), when it has one, and whether it has DLR. */
  fused?: { gradient: NativeEngine['objectiveGradient']; dlr: boolean };
  /**
   * Present when the model ends in a sigmoid (a single-output binary classifier, usually): `logits` is
   * the exact forward pass up to the sigmoid's input, when the loader could find it.
   */
  sigmoid?: { logits?: (x: tf.Tensor) => tf.Tensor };
  /** The model's userDefinedMetadata, where robust's bounds and normalisation may be. */
  metadata: unknown;
  dispose: () => void;
  layersModel?: tfl.LayersModel;
  /** See {@link Model.layout}. */
  layout?: InputLayout;
  /** The most the format allows (a black-box ONNX model gives scores only); default gradients. */
  access?: ModelAccess;
  /** See {@link Model.accessNote}. */
  accessNote?: string;
}

/** A plain JSON object (not null, not an array), as model.json fields must be. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
