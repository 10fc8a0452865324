/**
 * Saving a Layers model to a local folder with robust's metadata (input bounds, normalisation),
 * so that `loadModel` later needs no extra flags and every report carries the same hash.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { UsageError } from '../errors.js';
import { fileSaveHandler, type SavedModelFiles } from './io.js';
import { checkBounds, checkNormalization, readRobustMetadata, type RobustMetadata } from './metadata.js';
import type { Bounds, Normalization } from './types.js';

/** Options for {@link saveLayersModel}. */
export interface SaveModelOptions {
  /** Stored as `userDefinedMetadata.robust.bounds`; replaces any bounds the model already carries. */
  bounds?: Bounds;
  /** Stored as `userDefinedMetadata.robust.normalization`; replaces any the model already carries. */
  normalization?: Normalization;
  /** Split weights into shards of at most this many bytes. Default: one `weights.bin`. */
  maxShardBytes?: number;
}

/**
 * Save `model` into `dir` as `model.json` plus `weights.bin`, atomically (see `fileSaveHandler`):
 * a failed save leaves the folder as it was. Other keys of the model's user-defined metadata are kept;
 * the model object itself is not modified. The optimizer state is not saved.
 *
 * @returns the paths written and the SHA-256 `loadModel` will report for them.
 * @example
 * const saved = await saveLayersModel(model, 'models/mnist-cnn', { bounds: { min: 0, max: 1 } });
 * console.log(saved.sha256);
 */
export async function saveLayersModel(model: tfl.LayersModel, dir: string, options: SaveModelOptions = {}): Promise<SavedModelFiles> {
  const declared = model.inputs[0]?.shape.slice(1) ?? [];
  const known = declared.every((d): d is number => d !== null);
  const scalarOnly = (v: number | number[]): boolean => typeof v === 'number' || v.length === 1;
  const check = <T>(value: T | undefined, label: string, isScalar: (v: T) => boolean, validate: (v: T, shape: number[]) => void): void => {
    if (value === undefined) return;
    if (known) validate(value, declared);
    else if (!isScalar(value)) throw new UsageError(`${label} with one value per feature needs a model with a fully known input shape`);
  };
  check(options.bounds, 'bounds', (b) => scalarOnly(b.min) && scalarOnly(b.max), (b, s) => checkBounds(b, s));
  check(options.normalization, 'normalization', (n) => scalarOnly(n.mean) && scalarOnly(n.std), (n, s) => checkNormalization(n, s));

  const robust: RobustMetadata = { ...readRobustMetadata(model.getUserDefinedMetadata(), model.name) };
  if (options.bounds !== undefined) robust.bounds = options.bounds;
  if (options.normalization !== undefined) robust.normalization = options.normalization;
  const handler = fileSaveHandler(dir, { userDefinedMetadata: { robust }, maxShardBytes: options.maxShardBytes });
  await model.save(handler, { includeOptimizer: false });
  if (handler.lastSaved === undefined) throw new Error('save finished without writing files');
  return handler.lastSaved;
}
