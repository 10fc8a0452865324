/**
 * Measuring perturbations in each feature's own unit. Tabular features live on different scales (an
 * amount in dollars, a count, an hour of the day), so one Linf or L2 eps in raw units means a large change
 * to one feature and nothing to another. Giving each feature a unit s (say $100 for the amount, 1 for a
 * count) and attacking the model in u = x / s makes eps = 1 mean "one unit of every feature": the model
 * below sees x = u · s, so its predictions are unchanged, and bounds scale with the inputs.
 */
import { tf } from '../tf.js';
import { UsageError } from '../errors.js';
import type { Bounds, Model } from './types.js';

function perFeature(value: number | number[], features: number): number[] {
  return typeof value === 'number' ? new Array<number>(features).fill(value) : value;
}

/**
 * A view of `model` whose inputs are u = x / scale, feature by feature (`scale` has one positive value per
 * feature of the flattened input). `bounds` (in the model's own units; default the model's) become
 * bounds / scale. Predictions on u equal the model's on u · scale. Disposing the view disposes the model.
 *
 * @example
 * const scaled = scaleInputs(model, Float32Array.from([100, 1, 1])); // eps 1 = $100 of feature 0
 * const u = tf.div(x, tf.tensor1d([100, 1, 1]));                     // the data, in the same units
 */
export function scaleInputs(model: Model, scale: Float32Array, bounds: Bounds = model.bounds): Model {
  const features = model.inputShape.reduce((a, b) => a * b, 1);
  if (scale.length !== features) throw new UsageError(`feature scale has ${scale.length} values but the model takes ${features} features`);
  if (!scale.every((s) => Number.isFinite(s) && s > 0)) throw new UsageError('feature scales must be positive numbers');
  const lo = perFeature(bounds.min, features);
  const hi = perFeature(bounds.max, features);
  const s = tf.tensor(scale, [1, ...model.inputShape]);
  return {
    name: model.name,
    inputShape: model.inputShape,
    numClasses: model.numClasses,
    bounds: { min: lo.map((v, f) => v / (scale[f] as number)), max: hi.map((v, f) => v / (scale[f] as number)) },
    ...(model.sha256 !== undefined ? { sha256: model.sha256 } : {}),
    access: model.access,
    predict: (u) => tf.tidy(() => model.predict(tf.mul(u, s))),
    dispose: () => {
      s.dispose();
      model.dispose();
    },
  };
}

/** x / scale, example by example, for a flattened [n·features] array. */
export function scaleFeatures(x: Float32Array, scale: Float32Array): Float32Array {
  return x.map((v, i) => v / (scale[i % scale.length] as number));
}
