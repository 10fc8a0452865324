/**
 * The data layer: every dataset source behind one call, {@link loadDataset}, with subsetting, seeded sampling,
 * validation and a content hash. Datasets are plain typed arrays; tensors are made per batch elsewhere.
 */
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { checkSizes, makeDataset, type DatasetParts } from './dataset.js';
import { csvParts } from './csv.js';
import { writeFilesAtomic } from './files.js';
import { imageFolderParts } from './images.js';
import { mnistParts } from './mnist.js';
import { encodeNpy, npyParts } from './npy.js';
import { formatDataSource, parseDataSource, type DataSource, type DataSpec } from './source.js';
import { selectIndices, takeIndices, type SubsetOptions } from './subset.js';
import type { Dataset } from './types.js';

export type { Dataset } from './types.js';
export { checkIntrinsic, datasetHash, exampleSize, makeDataset, type DatasetParts } from './dataset.js';
export { validateDataset, type DatasetExpectations } from './validate.js';
export { toModelLayout } from './layout.js';
export { seededPermutation, selectIndices, takeIndices, takeSubset, type SubsetOptions } from './subset.js';
export {
  dataSourceFromFlags,
  formatDataSource,
  parseDataSource,
  mapSourcePaths,
  parseDataSpec,
  type CsvSource,
  type DataSource,
  type DataSpec,
  type ImagesSource,
  type MnistSource,
  type NpySource,
} from './source.js';
export { loadMnist, MNIST_SPLIT_SEED, MNIST_TEST_SIZE, MNIST_TRAIN_SIZE, type MnistSplit } from './mnist.js';
export { decodeNpy, encodeNpy, loadNpyDataset, readNpy, writeNpy, type NpyArray, type NpyData, type NpyDtype } from './npy.js';
export { loadImageFolder, type ImageChannels, type ImageFolderOptions } from './images.js';
export { loadCsv, parseCsv, type CsvOptions } from './csv.js';

/** A loaded dataset plus where its examples sit in the full source. */
export interface LoadedDataset extends Dataset {
  /** Position in the full source of each example, ascending. */
  indices: Int32Array;
  /** Number of examples in the full source. */
  total: number;
}

/** How {@link loadDataset} picks examples; see {@link SubsetOptions}. */
export type LoadOptions = SubsetOptions;

async function readParts(src: DataSource): Promise<DatasetParts> {
  const source = formatDataSource(src);
  switch (src.kind) {
    case 'mnist':
      return mnistParts(src.split);
    case 'npy':
      return npyParts(src.x, src.y, src.scaleUint8 !== undefined ? { scaleUint8: src.scaleUint8 } : {}, source);
    case 'images':
      return imageFolderParts(src.dir, { ...(src.labels !== undefined ? { labels: src.labels } : {}), ...(src.channels !== undefined ? { channels: src.channels } : {}) }, source);
    case 'csv':
      return csvParts(src.path, { ...(src.labelColumn !== undefined ? { labelColumn: src.labelColumn } : {}), ...(src.groupColumn !== undefined ? { groupColumn: src.groupColumn } : {}) }, source);
  }
}

/**
 * Load a dataset from any source and take the examples a run uses: positions offset..offset+n-1 of the source
 * order (`sample: 'first'`, the default) or of a seeded permutation (`sample: 'random'`: a sample without
 * replacement, reproducible from `seed`). Only the examples used are checked (finite features, non-negative
 * labels) and hashed.
 *
 * @throws UsageError for a malformed source string or bad n/offset; InputError for missing or malformed data.
 * @example
 * const ds = await loadDataset('mnist:test', { n: 500, sample: 'random', seed: 42 });
 * const own = await loadDataset({ kind: 'npy', x: 'x.npy', y: 'y.npy' });
 */
export async function loadDataset(spec: DataSpec, opts: LoadOptions = {}): Promise<LoadedDataset> {
  const src = typeof spec === 'string' ? parseDataSource(spec) : spec;
  const parts = await readParts(src);
  checkSizes(parts);
  const total = parts.y.length;
  const indices = selectIndices(total, opts);
  const whole = indices.length === total && indices.every((v, i) => v === i);
  const ds = makeDataset(whole ? parts : takeIndices(parts, indices));
  const images = src.kind === 'mnist' || src.kind === 'images';
  return { ...ds, indices, total, ...(images ? { layout: 'nhwc' as const } : {}) };
}

/** Output paths of {@link writeDataset}. */
export interface DatasetPaths {
  xPath: string;
  yPath: string;
}

/**
 * Write a dataset as two `.npy` files: x as float32 with shape [n, ...shape], y as int32 with shape [n].
 * Both files are written to temporaries first and renamed into place only when both are complete, so a
 * failure leaves no partial file. Reading them back with `npy:<x>,<y>` gives the same examples and sha256.
 * Backs `robust data <source> --out-x x.npy --out-y y.npy`.
 *
 * @example await writeDataset(await loadDataset('mnist:test'), { xPath: 'x.npy', yPath: 'y.npy' })
 */
export async function writeDataset(ds: Dataset, paths: DatasetPaths): Promise<void> {
  if (resolve(paths.xPath) === resolve(paths.yPath)) throw new UsageError(`--out-x and --out-y are both ${paths.xPath}; give two different files`);
  await writeFilesAtomic([
    { path: paths.xPath, bytes: encodeNpy(ds.x, [ds.n, ...ds.shape], 'float32') },
    { path: paths.yPath, bytes: encodeNpy(ds.y, [ds.n], 'int32') },
  ]);
}
