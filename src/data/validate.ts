import { InputError } from '../errors.js';
import type { Bounds } from '../models/types.js';
import { checkIntrinsic, exampleSize, featurePosition } from './dataset.js';
import type { Dataset } from './types.js';

/** What a dataset must agree with, usually taken from the model under test. */
export interface DatasetExpectations {
  /** Shape of one example the model takes, without the batch dimension; a dimension <= 0 matches any size. */
  inputShape?: readonly number[];
  /** Number of classes the model outputs; labels must lie in 0..numClasses-1. */
  numClasses?: number;
  /** The model's input bounds; every feature must lie within them (1e-6 slack for float rounding). */
  bounds?: Bounds;
}

const BOUNDS_SLACK = 1e-6;

function boundAt(value: number | number[], feature: number, size: number, which: string): number {
  if (typeof value === 'number') return value;
  if (value.length !== size) {
    throw new InputError(`the model's bounds.${which} has ${value.length} values but one example has ${size} features; fix the model's bounds`);
  }
  return value[feature]!;
}

/**
 * Check a dataset against what a model expects, after the intrinsic checks done at load time (non-empty,
 * x/y lengths, finite features, non-negative labels). Each failure is an InputError with one line that names
 * the offending example and says what to do.
 *
 * @example validateDataset(ds, { inputShape: model.inputShape, numClasses: model.numClasses, bounds: model.bounds })
 */
export function validateDataset(ds: Dataset, expect: DatasetExpectations = {}): void {
  checkIntrinsic(ds);
  const { inputShape, numClasses, bounds } = expect;
  if (inputShape !== undefined) {
    const matches = inputShape.length === ds.shape.length && inputShape.every((d, i) => d <= 0 || d === ds.shape[i]);
    if (!matches) {
      const transposed = inputShape.length === 3 && ds.shape.length === 3 && [2, 0, 1].every((a, i) => inputShape[i] === ds.shape[a]);
      if (transposed) {
        throw new InputError(
          `${ds.source}: examples are [${ds.shape.join(', ')}] (height, width, channels) but the model takes [${inputShape.join(', ')}] (channels first, as PyTorch and ONNX do); transpose the .npy to NCHW, e.g. x.transpose(0, 3, 1, 2) in NumPy`,
        );
      }
      throw new InputError(
        `${ds.source}: examples have shape [${ds.shape.join(', ')}] but the model takes [${inputShape.join(', ')}]; reshape the data or use a matching model`,
      );
    }
  }
  if (numClasses !== undefined) {
    if (ds.numClasses !== undefined && ds.numClasses !== numClasses) {
      throw new InputError(`${ds.source}: the data has ${ds.numClasses} classes but the model outputs ${numClasses}; use a model trained on these classes`);
    }
    for (let i = 0; i < ds.n; i++) {
      const label = ds.y[i]!;
      if (label >= numClasses) {
        throw new InputError(
          `${ds.source}: label ${label} at index ${i} is out of range 0..${numClasses - 1} for a ${numClasses}-class model; fix the labels or use a matching model`,
        );
      }
    }
  }
  if (bounds !== undefined) {
    const size = exampleSize(ds.shape);
    for (let i = 0; i < ds.x.length; i++) {
      const feature = i % size;
      const lo = boundAt(bounds.min, feature, size, 'min');
      const hi = boundAt(bounds.max, feature, size, 'max');
      const v = ds.x[i]!;
      if (v < lo - BOUNDS_SLACK || v > hi + BOUNDS_SLACK) {
        const hint = v > 1 && hi <= 1 ? ' (0..255 pixels? scale them by 1/255)' : '';
        throw new InputError(
          `${ds.source}: ${featurePosition(i, ds.shape)} = ${v} is outside the model's bounds [${lo}, ${hi}]${hint}; rescale the data or set the model's bounds`,
        );
      }
    }
  }
}
