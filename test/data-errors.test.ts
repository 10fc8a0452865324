import { tempDirs } from './helpers/tmp.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../src/errors.js';
import {
  dataSourceFromFlags,
  decodeNpy,
  encodeNpy,
  loadDataset,
  makeDataset,
  parseDataSource,
  parseDataSpec,
  validateDataset,
  writeDataset,
  writeNpy,
  type NpyData,
} from '../src/data/index.js';

const dirs = tempDirs('robust-data-err-');
afterAll(dirs.cleanup);
const freshDir = dirs.fresh;

type ErrorClass = typeof InputError | typeof UsageError;

/** Assert that `fn` throws (or rejects with) `cls`, with a one-line message matching every pattern. */
async function expectError(fn: () => unknown, cls: ErrorClass, ...patterns: RegExp[]): Promise<void> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(cls);
  const message = (caught as Error).message;
  expect(message).not.toContain('\n');
  for (const p of patterns) expect(message).toMatch(p);
}

async function npyPair(x: NpyData, xShape: number[], y: NpyData, yShape: number[]): Promise<string> {
  const dir = freshDir();
  await writeNpy(join(dir, 'x.npy'), x, xShape);
  await writeNpy(join(dir, 'y.npy'), y, yShape);
  return `npy:${join(dir, 'x.npy')},${join(dir, 'y.npy')}`;
}

describe('bad values', () => {
  it('names the example and position of a NaN or Inf feature', async () => {
    const nan = await npyPair(new Float32Array([0, 0, 0, 0, 0, Number.NaN]), [2, 1, 3], new Int32Array([0, 1]), [2]);
    await expectError(() => loadDataset(nan), InputError, /x\[1\]\[0,2\] is NaN/, /non-finite/);
    const inf = await npyPair(new Float64Array([0, Number.NEGATIVE_INFINITY]), [2, 1], new Int32Array([0, 1]), [2]);
    await expectError(() => loadDataset(inf), InputError, /x\[1\]\[0\] is -Infinity/);
  });

  it('checks only the examples used', async () => {
    const src = await npyPair(new Float32Array([0, 1, Number.NaN]), [3, 1], new Int32Array([0, 1, 0]), [3]);
    await expect(loadDataset(src, { n: 2 })).resolves.toMatchObject({ n: 2 });
  });

  it('rejects labels out of the model range with the label, its index and the range', async () => {
    const ds = await loadDataset(await npyPair(new Float32Array(3), [3, 1], new Int32Array([0, 9, 3]), [3]));
    await expectError(() => validateDataset(ds, { numClasses: 5 }), InputError, /label 9 at index 1/, /0\.\.4/);
    await expectError(() => makeDataset({ x: new Float32Array(2), y: new Int32Array([0, -2]), shape: [1], source: 'mem' }), InputError, /mem: label -2 at index 1 is out of range/);
    const negative = await npyPair(new Float32Array(2), [2, 1], new Int32Array([0, -2]), [2]);
    await expectError(() => loadDataset(negative), InputError, /y\.npy\[1\] = -2 is not an integer class id >= 0/);
  });

  it('rejects non-integer labels, naming the file, index and value', async () => {
    const src = await npyPair(new Float32Array(3), [3, 1], new Float32Array([1, 2.5, 0]), [3]);
    await expectError(() => loadDataset(src), InputError, /y\.npy\[1\] = 2\.5 is not an integer class id/);
  });

  it('rejects a dataset whose class count differs from the model', async () => {
    const ds = await loadDataset('mnist:test', { n: 4 });
    await expectError(() => validateDataset(ds, { numClasses: 5 }), InputError, /10 classes but the model outputs 5/);
  });

  it('rejects features outside the model bounds, hinting at 0..255 images', async () => {
    const src = await npyPair(new Float32Array([0.5, 255]), [2, 1], new Int32Array([0, 1]), [2]);
    const ds = await loadDataset(src);
    await expectError(() => validateDataset(ds, { bounds: { min: 0, max: 1 } }), InputError, /x\[1\]\[0\] = 255 is outside the model's bounds \[0, 1\]/, /1\/255/);
  });
});

describe('bad shapes and sizes', () => {
  it('rejects examples whose shape differs from the model input', async () => {
    const ds = await loadDataset('mnist:test', { n: 2 });
    await expectError(() => validateDataset(ds, { inputShape: [784] }), InputError, /\[28, 28, 1\] but the model takes \[784\]/);
    await expectError(() => validateDataset(ds, { inputShape: [28, 28, 3] }), InputError, /the model takes \[28, 28, 3\]/);
  });

  it('rejects x and y with different numbers of examples', async () => {
    const src = await npyPair(new Float32Array(6), [3, 2], new Int32Array([0, 1]), [2]);
    await expectError(() => loadDataset(src), InputError, /has 3 examples but .*y\.npy has 2 labels/);
    const x = new Float32Array(5);
    await expectError(() => makeDataset({ x, y: new Int32Array(2), shape: [2], source: 'mem' }), InputError, /mem: x holds 5 values/);
  });

  it('rejects an empty dataset and an empty selection', async () => {
    const empty = await npyPair(new Float32Array(0), [0, 3], new Int32Array(0), [0]);
    await expectError(() => loadDataset(empty), InputError, /empty/);
    await expectError(() => loadDataset('mnist:test', { offset: 2000 }), UsageError, /--offset 2000 is past the end: the data has 2000 examples/);
  });

  it('rejects --n beyond what is available and malformed counts as usage errors', async () => {
    await expectError(() => loadDataset('mnist:test', { n: 1990, offset: 20 }), UsageError, /--n 1990 asks for more than the 1980 examples/);
    await expectError(() => loadDataset('mnist:test', { n: -1 }), UsageError, /--n must be a whole number/);
    await expectError(() => loadDataset('mnist:test', { offset: 1.5 }), UsageError, /--offset must be a whole number/);
  });

  it('rejects labels of the wrong rank and features without a batch dimension', async () => {
    const y3 = await npyPair(new Float32Array(2), [2, 1], new Int32Array(8), [2, 2, 2]);
    await expectError(() => loadDataset(y3), InputError, /labels must be 1-D/);
    const x1 = await npyPair(new Float32Array(2), [2], new Int32Array(2), [2]);
    await expectError(() => loadDataset(x1), InputError, /features need a batch dimension/);
  });
});

describe('bad files', () => {
  it('names the missing path for every source', async () => {
    const dir = freshDir();
    const missing = join(dir, 'nope.npy');
    await expectError(() => loadDataset({ kind: 'npy', x: missing, y: missing }), InputError, new RegExp(`not found: ${missing}`));
    await expectError(() => loadDataset(`csv:${join(dir, 'no.csv')}`), InputError, /CSV file not found: .*no\.csv/);
    await expectError(() => loadDataset(`images:${join(dir, 'nodir')}`), InputError, /image folder not found: .*nodir/);
    await expectError(() => loadDataset(`images:${dir}`), InputError, /labels CSV not found: .*labels\.csv/);
    writeFileSync(join(dir, 'labels.csv'), 'filename,label\nghost.png,1\n');
    await expectError(() => loadDataset(`images:${dir}`), InputError, /image not found: .*ghost\.png/);
  });

  it('rejects a truncated .npy file', async () => {
    const bytes = encodeNpy(new Float32Array([1, 2, 3, 4]), [2, 2]);
    await expectError(() => decodeNpy(bytes.subarray(0, bytes.length - 3), 't.npy'), InputError, /t\.npy is truncated: shape \(2, 2\) needs 16 data bytes but the file has 13/);
    await expectError(() => decodeNpy(bytes.subarray(0, 40), 't.npy'), InputError, /truncated \(header cut short\)/);
    await expectError(() => decodeNpy(new Uint8Array([1, 2, 3]), 'j.npy'), InputError, /j\.npy is not a \.npy file/);
  });

  it('rejects Fortran order, unsupported dtypes and trailing bytes', async () => {
    const header = (h: string): Uint8Array => {
      const text = h.padEnd(117, ' ') + '\n';
      return new Uint8Array(Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 118, 0]), Buffer.from(text, 'latin1'), Buffer.alloc(16)]));
    };
    await expectError(() => decodeNpy(header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }"), 'f.npy'), InputError, /f\.npy is in Fortran order/, /C order/);
    await expectError(() => decodeNpy(header("{'descr': '<f2', 'fortran_order': False, 'shape': (8,), }"), 'h.npy'), InputError, /unsupported dtype '<f2'/);
    await expectError(() => decodeNpy(header("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }"), 'c.npy'), InputError, /unsupported dtype '<c8'/);
    await expectError(() => decodeNpy(header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"), 'e.npy'), InputError, /8 bytes after the data/);
    await expectError(() => decodeNpy(header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"), 's.npy'), InputError, /structured dtypes/);
  });

  it('names the line and column of a bad CSV cell', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'a.csv'), 'x1,x2,label\n1,2,0\n3,abc,1\n');
    await expectError(() => loadDataset(`csv:${join(dir, 'a.csv')}`), InputError, /line 3, column "x2": "abc" is not a number/);
    writeFileSync(join(dir, 'b.csv'), 'x1,label\n1,0\n\n2,\n');
    await expectError(() => loadDataset(`csv:${join(dir, 'b.csv')}`), InputError, /line 4, column "label": "" is not an integer class id/);
    writeFileSync(join(dir, 'c.csv'), 'x1,label\n1,0,5\n');
    await expectError(() => loadDataset(`csv:${join(dir, 'c.csv')}`), InputError, /line 2 has 3 cells but the header has 2/);
    writeFileSync(join(dir, 'd.csv'), 'x1,y\n1,0\n');
    await expectError(() => loadDataset(`csv:${join(dir, 'd.csv')}`), InputError, /no column "label" \(columns: x1, y\)/);
    writeFileSync(join(dir, 'e.csv'), 'x1,label\n0x10,1\n');
    await expectError(() => loadDataset(`csv:${join(dir, 'e.csv')}`), InputError, /"0x10" is not a number/);
    writeFileSync(join(dir, 'f.csv'), 'x1,label\n"1,0\n');
    await expectError(() => loadDataset(`csv:${join(dir, 'f.csv')}`), InputError, /quoted field opened on line 2 is never closed/);
  });

  it('rejects images of different sizes, undecodable images and a bad labels header', async () => {
    const dir = freshDir();
    const png = (w: number, h: number): Buffer => {
      const p = new PNG({ width: w, height: h });
      p.data = Buffer.alloc(w * h * 4, 200);
      return PNG.sync.write(p);
    };
    writeFileSync(join(dir, 'a.png'), png(2, 2));
    writeFileSync(join(dir, 'b.png'), png(3, 2));
    writeFileSync(join(dir, 'c.png'), 'not an image');
    writeFileSync(join(dir, 'labels.csv'), 'filename,label\na.png,0\nb.png,1\n');
    await expectError(() => loadDataset(`images:${dir}`), InputError, /b\.png is 3x2 but a\.png is 2x2; all images must have the same size/);
    writeFileSync(join(dir, 'labels.csv'), 'filename,label\nc.png,0\n');
    await expectError(() => loadDataset(`images:${dir}`), InputError, /c\.png is neither PNG nor JPEG/);
    writeFileSync(join(dir, 'labels.csv'), 'file,class\na.png,0\n');
    await expectError(() => loadDataset(`images:${dir}`), InputError, /needs a header with columns filename,label/);
    writeFileSync(join(dir, 'labels.csv'), 'filename,label\na.png,cat\n');
    await expectError(() => loadDataset(`images:${dir}`), InputError, /line 2: expected filename,label with an integer label/);
  });

  it('refuses to write x and y to the same file', async () => {
    const ds = await loadDataset('mnist:test', { n: 1 });
    await expectError(() => writeDataset(ds, { xPath: 'same.npy', yPath: './same.npy' }), UsageError, /both/);
  });
});

describe('bad source names', () => {
  it('rejects malformed source strings, config objects and flag combinations as usage errors', async () => {
    await expectError(() => parseDataSource('foo:bar'), UsageError, /unknown source type 'foo'/, /mnist:train/);
    await expectError(() => parseDataSource('mnist:val'), UsageError, /train or test/);
    await expectError(() => parseDataSource('npy:x.npy'), UsageError, /two paths/);
    await expectError(() => parseDataSource('data.csv'), UsageError, /no source type/);
    await expectError(() => parseDataSpec({ kind: 'npy', x: 'x.npy' }), UsageError, /data\.y must be a non-empty string/);
    await expectError(() => parseDataSpec({ kind: 'images', dir: 'd', chanels: 1 }), UsageError, /unknown key chanels/);
    await expectError(() => parseDataSpec({ kind: 'images', dir: 'd', channels: 2 }), UsageError, /channels must be 1, 3 or 4/);
    await expectError(() => parseDataSpec(42), UsageError, /data must be a source string/);
    await expectError(() => dataSourceFromFlags({ data: 'mnist:test', x: 'x.npy' }), UsageError, /either --data or --x\/--y/);
    await expectError(() => dataSourceFromFlags({ x: 'x.npy' }), UsageError, /--y is missing/);
    await expectError(() => dataSourceFromFlags({}), UsageError, /no data given/);
  });
});
