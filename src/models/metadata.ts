/**
 * robust's own model metadata (input bounds and normalisation), how it is stored in a TF.js
 * model.json (`userDefinedMetadata.robust`), how it is validated, and how normalisation is applied.
 */
import { tf } from '../tf.js';
import { InputError, UsageError } from '../errors.js';
import { isRecord } from './core.js';
import type { Bounds, Normalization } from './types.js';

/**
 * What robust stores under `userDefinedMetadata.robust` in model.json.
 *
 * @example
 * { "userDefinedMetadata": { "robust": { "bounds": { "min": 0, "max": 1 },
 *   "normalization": { "mean": [0.1307], "std": [0.3081] } } } }
 */
export interface RobustMetadata {
  bounds?: Bounds;
  normalization?: Normalization;
}

/** The bounds a model gets when neither the caller nor its model.json declares any. */
export const DEFAULT_BOUNDS: Bounds = { min: 0, max: 1 };

function isNumberOrArray(value: unknown): value is number | number[] {
  return typeof value === 'number' || (Array.isArray(value) && value.every((v) => typeof v === 'number'));
}

/**
 * Read `userDefinedMetadata.robust` from a model's metadata. Only the shape of the values is checked
 * here; {@link checkBounds} and {@link checkNormalization} check them against the input shape.
 *
 * @param where names the file in error messages.
 * @throws InputError when the robust entry is present but malformed.
 */
export function readRobustMetadata(userDefinedMetadata: unknown, where: string): RobustMetadata {
  if (!isRecord(userDefinedMetadata) || userDefinedMetadata.robust === undefined) return {};
  const robust = userDefinedMetadata.robust;
  if (!isRecord(robust)) throw new InputError(`${where}: userDefinedMetadata.robust must be an object with bounds and/or normalization`);
  const result: RobustMetadata = {};
  if (robust.bounds !== undefined) {
    const b = robust.bounds;
    if (!isRecord(b) || !isNumberOrArray(b.min) || !isNumberOrArray(b.max)) {
      throw new InputError(`${where}: userDefinedMetadata.robust.bounds must be {"min": number | number[], "max": number | number[]}`);
    }
    result.bounds = { min: b.min, max: b.max };
  }
  if (robust.normalization !== undefined) {
    const n = robust.normalization;
    if (!isRecord(n) || !isNumberOrArray(n.mean) || !isNumberOrArray(n.std)) {
      throw new InputError(`${where}: userDefinedMetadata.robust.normalization must be {"mean": number | number[], "std": number | number[]}`);
    }
    result.normalization = { mean: n.mean, std: n.std };
  }
  return result;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function asList(value: number | number[]): number[] {
  return typeof value === 'number' ? [value] : value;
}

/** `fail` builds the error: UsageError for caller options, InputError for values read from a file. */
export type ErrorFactory = (message: string) => Error;

/** Errors in values the caller passed: UsageError. */
export const usageFailure: ErrorFactory = (message) => new UsageError(message);
/** Errors in values read from `where` (a file): InputError naming it. */
export const inputFailure =
  (where: string): ErrorFactory =>
  (message) =>
    new InputError(`${where}: ${message}`);

/**
 * Check bounds: finite numbers, each array of length 1 or the number of features, min ≤ max
 * everywhere and min < max somewhere (an empty box leaves attacks nothing to search).
 */
export function checkBounds(bounds: Bounds, inputShape: number[], fail: ErrorFactory = usageFailure): void {
  const features = size(inputShape);
  const min = asList(bounds.min);
  const max = asList(bounds.max);
  for (const [label, list] of [['min', min], ['max', max]] as const) {
    if (list.length !== 1 && list.length !== features) {
      throw fail(`bounds.${label} has ${list.length} values; give one number or ${features} (one per input feature of [${inputShape.join(', ')}])`);
    }
    if (!list.every(Number.isFinite)) throw fail(`bounds.${label} must be finite numbers`);
  }
  let open = false;
  for (let i = 0; i < Math.max(min.length, max.length); i++) {
    const lo = min[min.length === 1 ? 0 : i] ?? 0;
    const hi = max[max.length === 1 ? 0 : i] ?? 0;
    if (lo > hi) throw fail(`bounds.min (${lo}) exceeds bounds.max (${hi}) at feature ${i}`);
    if (lo < hi) open = true;
  }
  if (!open) throw fail(`bounds.min equals bounds.max everywhere; give the range inputs may take, e.g. {min: 0, max: 1}`);
}

/**
 * Check normalisation: mean and std each one number, one per channel (the last axis of the input)
 * or one per feature; std strictly positive.
 */
export function checkNormalization(normalization: Normalization, inputShape: number[], fail: ErrorFactory = usageFailure): void {
  const channels = inputShape[inputShape.length - 1] ?? 1;
  const features = size(inputShape);
  for (const [label, list] of [['mean', asList(normalization.mean)], ['std', asList(normalization.std)]] as const) {
    if (![1, channels, features].includes(list.length)) {
      throw fail(
        `normalization.${label} has ${list.length} values; give one number, ${channels} (one per channel) or ${features} (one per feature)`,
      );
    }
    if (!list.every(Number.isFinite)) throw fail(`normalization.${label} must be finite numbers`);
  }
  if (!asList(normalization.std).every((s) => s > 0)) throw fail('normalization.std must be positive');
}

function constantFor(value: number | number[], inputShape: number[]): tf.Tensor {
  if (typeof value === 'number' || value.length === 1) return tf.scalar(typeof value === 'number' ? value : (value[0] ?? 0));
  const channels = inputShape[inputShape.length - 1] ?? 1;
  // One value per channel broadcasts along the last axis; one per feature takes the input's shape.
  return value.length === channels ? tf.tensor1d(value) : tf.tensor(value, inputShape);
}

/** (x - mean) / std, broadcast per channel or per feature. Call inside `tf.tidy`. */
export function normalize(x: tf.Tensor, normalization: Normalization, inputShape: number[]): tf.Tensor {
  return tf.div(tf.sub(x, constantFor(normalization.mean, inputShape)), constantFor(normalization.std, inputShape));
}
