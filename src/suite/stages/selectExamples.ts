/**
 * Stage 2 of `runSuite`: load the data in the model's layout, put model and data in the features' units when
 * the suite has a `features` section, validate the data against the model, and take the examples this run
 * covers (all, one shard, or the positions `robust verify` rechecks).
 */
import { loadDataset, makeDataset, takeIndices, toModelLayout, validateDataset, type Dataset, type LoadedDataset } from '../../data/index.js';
import type { Model } from '../../models/types.js';
import { scaleFeatures, scaleInputs } from '../../models/scaled.js';
import type { FeatureConstraints } from '../../attacks/core/constraints.js';
import { UsageError } from '../../errors.js';
import type { LoadedConfig } from '../config.js';
import { resolveFeatures } from '../features.js';
import { shardRange } from '../shard.js';
import type { RunSuiteOptions } from './types.js';

/** What {@link selectExamples} needs. It owns `model` from the call on. */
export interface SelectExamplesInput {
  loaded: LoadedConfig;
  seed: string;
  /** The model as loaded (its layout decides the data's). */
  layoutModel: Model;
  /** The view to attack; on failure the stage disposes it. */
  model: Model;
  options: Pick<RunSuiteOptions, 'shard' | 'examples'>;
}

/** What every attack of the suite may change, and nothing else: from the `features` section. */
export interface Threat {
  mask?: Float32Array;
  constraints?: FeatureConstraints;
}

/** What {@link selectExamples} gives. The caller owns `model` (in the features' units when there are features). */
export interface SelectedExamples {
  model: Model;
  /** The full selection the config names (its size and hash go into the manifest). */
  full: LoadedDataset;
  /** The examples this run covers. */
  ds: Dataset;
  /** Each example's position in the data source. */
  indices: number[];
  /** Each example's position in the full selection: every random choice is keyed by it. */
  positions: number[];
  threat: Threat;
}

/** Load and select a suite's examples. Throws UsageError/InputError for bad data, an empty shard or bad positions. */
export async function selectExamples({ loaded, seed, layoutModel, model: given, options }: SelectExamplesInput): Promise<SelectedExamples> {
  let model = given;
  try {
    const { config } = loaded;
    let full = toModelLayout(await loadDataset(config.data.source, {
      ...(config.data.n !== undefined ? { n: config.data.n } : {}),
      ...(config.data.offset !== undefined ? { offset: config.data.offset } : {}),
      ...(config.data.sample ? { sample: config.data.sample } : {}),
      seed: config.data.seed ?? seed,
    }), layoutModel);
    // A features section puts model and data in the features' units and gives every attack its mask and constraints.
    let threat: Threat = {};
    if (config.features) {
      const features = full.shape.reduce((a, b) => a * b, 1);
      const resolved = resolveFeatures(config.features, full.featureNames, features, model.bounds, `${loaded.path ?? 'config'}: features`);
      model = scaleInputs(model, resolved.scale, resolved.bounds);
      full = { ...full, x: scaleFeatures(full.x, resolved.scale) };
      threat = { ...(resolved.mask ? { mask: resolved.mask } : {}), constraints: resolved.constraints };
    }
    validateDataset(full, { inputShape: model.inputShape, numClasses: model.numClasses, bounds: model.bounds });
    if (config.thresholds?.minSliceRobustAccuracy !== undefined && full.groups === undefined) {
      throw new UsageError(
        `${loaded.path ?? 'config'}: thresholds.minSliceRobustAccuracy needs slices, but ${full.source} has no group column; name one (csv:<file>,<label>,<group>, or a group column in an image folder's labels.csv)`,
      );
    }
    const [from, to] = shardRange(full.n, options.shard);
    if (to <= from) throw new UsageError(`shard ${options.shard!.index}/${options.shard!.count} of ${full.n} examples is empty; use fewer shards`);
    const picked = options.examples;
    if (picked && picked.some((p) => !Number.isInteger(p) || p < 0 || p >= full.n)) throw new UsageError(`examples: positions must be whole numbers in 0..${full.n - 1}`);
    const { ds, indices } = picked ? pick(full, picked) : slice(full, from, to);
    const positions = picked ? [...picked] : Array.from({ length: ds.n }, (_, i) => from + i);
    return { model, full, ds, indices, positions, threat };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

function slice(ds: LoadedDataset, from: number, to: number): { ds: Dataset; indices: number[] } {
  if (from === 0 && to === ds.n) return { ds, indices: Array.from(ds.indices) };
  const pos = Int32Array.from({ length: to - from }, (_, i) => from + i);
  return { ds: makeDataset(takeIndices(ds, pos)), indices: Array.from(pos, (p) => ds.indices[p]!) };
}

function pick(ds: LoadedDataset, positions: number[]): { ds: Dataset; indices: number[] } {
  return { ds: makeDataset(takeIndices(ds, Int32Array.from(positions))), indices: positions.map((p) => ds.indices[p]!) };
}
