/**
 * Building a {@link Dataset} from arrays: the content hash every dataset carries, and the checks that need
 * nothing but the data itself (sizes, finite features, non-negative labels).
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import { HOST_LITTLE_ENDIAN } from './files.js';
import type { Dataset } from './types.js';

/** A dataset before its hash and checks: what each loader produces and what subsetting works on. */
export interface DatasetParts {
  x: Float32Array;
  y: Int32Array;
  shape: number[];
  source: string;
  numClasses?: number;
  /** Each example's slice, when the source has a group column (see `Dataset.groups`). */
  groups?: string[];
}

/** Number of features in one example of `shape` (1 for the empty shape). */
export function exampleSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function littleEndianBytes(array: Float32Array | Int32Array): Uint8Array {
  if (HOST_LITTLE_ENDIAN) return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  const out = new Uint8Array(array.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < array.length; i++) {
    if (array instanceof Float32Array) view.setFloat32(i * 4, array[i]!, true);
    else view.setInt32(i * 4, array[i]!, true);
  }
  return out;
}

/**
 * SHA-256 (hex) identifying a dataset's content, independent of where it came from:
 * `sha256( JSON.stringify([n, ...shape]) + "\n" ‖ x as float32 little-endian ‖ y as int32 little-endian )`.
 * Two datasets with the same examples in the same order hash the same whether read from mnist or from `.npy`.
 */
export function datasetHash(x: Float32Array, y: Int32Array, shape: readonly number[]): string {
  return createHash('sha256')
    .update(`${JSON.stringify([y.length, ...shape])}\n`)
    .update(littleEndianBytes(x))
    .update(littleEndianBytes(y))
    .digest('hex');
}

/** Where a feature sits, e.g. `x[12][3,7,0]` for example 12 of a [28,28,1] dataset. */
export function featurePosition(flatIndex: number, shape: readonly number[]): string {
  const size = exampleSize(shape);
  const example = Math.floor(flatIndex / size);
  let rest = flatIndex - example * size;
  const coords: number[] = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    const dim = shape[d]!;
    coords[d] = rest % dim;
    rest = Math.floor(rest / dim);
  }
  return `x[${example}][${coords.join(',')}]`;
}

/**
 * Check that x, y and shape agree: a valid shape, at least one example, and as many examples in x as labels.
 * @throws InputError naming the source and what to do.
 */
export function checkSizes(ds: DatasetParts): void {
  const size = exampleSize(ds.shape);
  if (ds.shape.some((d) => !Number.isSafeInteger(d) || d <= 0)) {
    throw new InputError(`${ds.source}: example shape [${ds.shape.join(', ')}] has an empty or invalid dimension; fix the data's shape`);
  }
  if (ds.y.length === 0) {
    throw new InputError(`${ds.source}: the dataset is empty; point at data with at least one example (or lower --offset)`);
  }
  if (ds.x.length !== ds.y.length * size) {
    const rows = ds.x.length / size;
    const held = Number.isInteger(rows)
      ? `${rows} examples`
      : `${ds.x.length} values, not a whole number of [${ds.shape.join(', ')}] examples,`;
    throw new InputError(
      `${ds.source}: x holds ${held} but y has ${ds.y.length} labels; x and y must have the same number of examples`,
    );
  }
}

/**
 * Check what can be checked without a model: {@link checkSizes}, `n` equal to the number of labels,
 * finite features and non-negative labels (below `numClasses` when the source declares it).
 * @throws InputError with a one-line message saying which example is wrong and what to do.
 */
export function checkIntrinsic(ds: Dataset): void {
  checkSizes(ds);
  if (ds.n !== ds.y.length) {
    throw new InputError(`${ds.source}: n is ${ds.n} but there are ${ds.y.length} labels; give exactly one label per example`);
  }
  for (let i = 0; i < ds.x.length; i++) {
    const v = ds.x[i]!;
    if (!Number.isFinite(v)) {
      throw new InputError(`${ds.source}: ${featurePosition(i, ds.shape)} is ${v}; remove or fix non-finite features before testing`);
    }
  }
  for (let i = 0; i < ds.n; i++) {
    const label = ds.y[i]!;
    if (label < 0 || (ds.numClasses !== undefined && label >= ds.numClasses)) {
      const range = ds.numClasses !== undefined ? `0..${ds.numClasses - 1}` : '0 or more';
      throw new InputError(`${ds.source}: label ${label} at index ${i} is out of range (${range}); labels must be class ids`);
    }
  }
}

/**
 * Assemble a dataset, compute its hash and run {@link checkIntrinsic}.
 * @throws InputError when the arrays are inconsistent or hold non-finite values or negative labels.
 */
export function makeDataset(parts: DatasetParts): Dataset {
  const ds: Dataset = {
    x: parts.x,
    y: parts.y,
    shape: [...parts.shape],
    n: parts.y.length,
    source: parts.source,
    sha256: '',
    ...(parts.numClasses !== undefined ? { numClasses: parts.numClasses } : {}),
    ...(parts.groups !== undefined ? { groups: parts.groups } : {}),
  };
  checkIntrinsic(ds);
  ds.sha256 = datasetHash(ds.x, ds.y, ds.shape);
  return ds;
}
