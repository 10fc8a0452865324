/**
 * NumPy `.npy` files, format versions 1.0, 2.0 and 3.0 (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 * the magic `\x93NUMPY`, a version, a header length, a Python-dict header (`descr`, `fortran_order`, `shape`),
 * then the raw array in C order. Little- and big-endian numeric dtypes are read; files are written little-endian.
 */
import { InputError } from '../errors.js';
import { makeDataset, type DatasetParts } from './dataset.js';
import { HOST_LITTLE_ENDIAN, readInputFile, writeFilesAtomic } from './files.js';
import type { Dataset } from './types.js';

/** Element types robust reads from `.npy` (`bool` is read as 0/1 bytes). float16 and complex are not supported. */
export type NpyDtype =
  | 'float32'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool';

/** The typed array holding an {@link NpyArray}'s elements; 64-bit integers come as BigInt arrays. */
export type NpyData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A decoded `.npy` array: elements in C (row-major) order. */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

interface DtypeInfo {
  kind: 'f' | 'i' | 'u' | 'b';
  size: number;
  make: (length: number) => NpyData;
  get: (view: DataView, offset: number, littleEndian: boolean) => number | bigint;
  set: (view: DataView, offset: number, value: number | bigint, littleEndian: boolean) => void;
}

type Getter = DtypeInfo['get'];
type Setter = DtypeInfo['set'];
const num = (x: number | bigint): number => Number(x);
const big = (x: number | bigint): bigint => BigInt(x);
function dtypeInfo(kind: DtypeInfo['kind'], size: number, make: DtypeInfo['make'], get: Getter, set: Setter): DtypeInfo {
  return { kind, size, make, get, set };
}

const DTYPES: Record<NpyDtype, DtypeInfo> = {
  float32: dtypeInfo('f', 4, (n) => new Float32Array(n), (v, o, le) => v.getFloat32(o, le), (v, o, x, le) => v.setFloat32(o, num(x), le)),
  float64: dtypeInfo('f', 8, (n) => new Float64Array(n), (v, o, le) => v.getFloat64(o, le), (v, o, x, le) => v.setFloat64(o, num(x), le)),
  int8: dtypeInfo('i', 1, (n) => new Int8Array(n), (v, o) => v.getInt8(o), (v, o, x) => v.setInt8(o, num(x))),
  uint8: dtypeInfo('u', 1, (n) => new Uint8Array(n), (v, o) => v.getUint8(o), (v, o, x) => v.setUint8(o, num(x))),
  bool: dtypeInfo('b', 1, (n) => new Uint8Array(n), (v, o) => v.getUint8(o), (v, o, x) => v.setUint8(o, num(x))),
  int16: dtypeInfo('i', 2, (n) => new Int16Array(n), (v, o, le) => v.getInt16(o, le), (v, o, x, le) => v.setInt16(o, num(x), le)),
  uint16: dtypeInfo('u', 2, (n) => new Uint16Array(n), (v, o, le) => v.getUint16(o, le), (v, o, x, le) => v.setUint16(o, num(x), le)),
  int32: dtypeInfo('i', 4, (n) => new Int32Array(n), (v, o, le) => v.getInt32(o, le), (v, o, x, le) => v.setInt32(o, num(x), le)),
  uint32: dtypeInfo('u', 4, (n) => new Uint32Array(n), (v, o, le) => v.getUint32(o, le), (v, o, x, le) => v.setUint32(o, num(x), le)),
  int64: dtypeInfo('i', 8, (n) => new BigInt64Array(n), (v, o, le) => v.getBigInt64(o, le), (v, o, x, le) => v.setBigInt64(o, big(x), le)),
  uint64: dtypeInfo('u', 8, (n) => new BigUint64Array(n), (v, o, le) => v.getBigUint64(o, le), (v, o, x, le) => v.setBigUint64(o, big(x), le)),
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** The `descr` string robust writes for a dtype (always little-endian where byte order matters). */
export function npyDescr(dtype: NpyDtype): string {
  const info = DTYPES[dtype];
  return `${info.size === 1 ? '|' : '<'}${info.kind}${info.size}`;
}

function parseDescr(descr: string, name: string): { dtype: NpyDtype; littleEndian: boolean } {
  const m = /^([<>|=])([fiub])(\d+)$/.exec(descr);
  const hint = 'save it as float32, uint8 or an integer type (e.g. arr.astype("float32"))';
  if (!m) throw new InputError(`${name}: unsupported dtype '${descr}'; ${hint}`);
  const [, order, kind, sizeText] = m as unknown as [string, string, string, string];
  const size = Number(sizeText);
  const found = (Object.keys(DTYPES) as NpyDtype[]).find((d) => DTYPES[d].kind === kind && DTYPES[d].size === size);
  if (!found) throw new InputError(`${name}: unsupported dtype '${descr}'; ${hint}`);
  return { dtype: found, littleEndian: order === '>' ? false : order === '=' ? HOST_LITTLE_ENDIAN : true };
}

function parseHeader(header: string, name: string): { descr: string; fortran: boolean; shape: number[] } {
  const bad = (what: string): InputError =>
    new InputError(`${name}: malformed .npy header (${what}); re-save the array with numpy.save`);
  const text = header.trim();
  if (!text.startsWith('{') || !text.endsWith('}')) throw bad('not a dict');
  const descr = /['"]descr['"]\s*:\s*(['"])(.*?)\1/.exec(text);
  if (!descr) {
    if (/['"]descr['"]\s*:\s*\[/.test(text)) {
      throw new InputError(`${name}: structured dtypes are not supported; save a plain numeric array`);
    }
    throw bad('no descr');
  }
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  if (!fortran) throw bad('no fortran_order');
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!shape) throw bad('no shape');
  const dims = shape[1]!
    .split(',')
    .map((s) => s.trim().replace(/L$/, ''))
    .filter((s) => s !== '')
    .map((s) => (/^\d+$/.test(s) ? Number(s) : Number.NaN));
  if (dims.some((d) => !Number.isSafeInteger(d))) throw bad(`shape (${shape[1]!})`);
  return { descr: descr[2]!, fortran: fortran[1] === 'True', shape: dims };
}

/**
 * Decode the bytes of a `.npy` file.
 * @param name the file's path, used in error messages.
 * @throws InputError on a bad magic, an unsupported dtype, Fortran order, or a data length that does not
 *   match the shape (a truncated file).
 */
export function decodeNpy(bytes: Uint8Array, name = 'array.npy'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new InputError(`${name} is not a .npy file (bad magic); save arrays with numpy.save`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw new InputError(`${name}: .npy format version ${major} is not supported; use 1.0, 2.0 or 3.0`);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw new InputError(`${name} is truncated (header cut short); re-save it`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (bytes.length < dataStart) throw new InputError(`${name} is truncated (header cut short); re-save it`);
  const headerBytes = bytes.subarray(8 + lengthBytes, dataStart);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(headerBytes);
  const { descr, fortran, shape } = parseHeader(header, name);
  if (fortran) {
    throw new InputError(`${name} is in Fortran order; save it in C order (numpy.ascontiguousarray(a)) and retry`);
  }
  const { dtype, littleEndian } = parseDescr(descr, name);
  const info = DTYPES[dtype];
  const length = shape.reduce((a, b) => a * b, 1);
  const expected = length * info.size;
  const found = bytes.length - dataStart;
  if (found < expected) {
    throw new InputError(`${name} is truncated: shape (${shape.join(', ')}) needs ${expected} data bytes but the file has ${found}; re-save it`);
  }
  if (found > expected) {
    throw new InputError(`${name} has ${found - expected} bytes after the data its header describes; re-save it with numpy.save`);
  }
  const data = info.make(length);
  if (littleEndian === HOST_LITTLE_ENDIAN || info.size === 1) {
    // Copy rather than view: the source offset need not be aligned to the element size.
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart, dataStart + expected));
  } else {
    const out = new DataView(data.buffer);
    for (let i = 0; i < length; i++) {
      info.set(out, i * info.size, info.get(view, dataStart + i * info.size, littleEndian), HOST_LITTLE_ENDIAN);
    }
  }
  return { dtype, shape, data };
}

/** Read a `.npy` file. Throws an InputError naming the path when it is missing or malformed. */
export async function readNpy(path: string): Promise<NpyArray> {
  return decodeNpy(await readInputFile(path, '.npy file'), path);
}

/** The dtype a typed array stores (`Uint8Array` maps to uint8, never bool). */
export function dtypeOf(data: NpyData): NpyDtype {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  return 'uint64';
}

function convert(data: NpyData, dtype: NpyDtype): NpyData {
  const from = dtypeOf(data);
  if (from === dtype) return data;
  const info = DTYPES[dtype];
  const out = info.make(data.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    const value = data[i]!;
    if (dtype === 'bool' && value !== 0 && value !== 1 && value !== 0n && value !== 1n) {
      throw new RangeError(`cannot store ${String(value)} (element ${i}) as bool`);
    }
    // Writing must never silently change a value, so a conversion that rounds, wraps or overflows is refused.
    info.set(view, i * info.size, value, HOST_LITTLE_ENDIAN);
    const back = info.get(view, i * info.size, HOST_LITTLE_ENDIAN);
    const same = typeof value === 'bigint' || typeof back === 'bigint' ? BigInt(back) === BigInt(value) : Object.is(back, value) || (Number.isNaN(back) && Number.isNaN(value));
    if (!same) throw new RangeError(`cannot store ${String(value)} (element ${i}) exactly as ${dtype}`);
  }
  return out;
}

/**
 * Encode an array as `.npy` bytes (format 1.0, or 2.0 when the header needs more than 65,535 bytes),
 * little-endian, C order, header padded so the data starts on a 64-byte boundary: the same bytes as numpy.save.
 * @param dtype stored type; defaults to the typed array's own. When given and different, values are converted
 *   and a value that would not survive exactly throws a RangeError.
 * @example encodeNpy(new Int32Array([1, 2, 3]), [3]) // header {'descr': '<i4', 'fortran_order': False, 'shape': (3,), }
 */
export function encodeNpy(data: NpyData, shape: readonly number[], dtype: NpyDtype = dtypeOf(data)): Uint8Array {
  const length = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0) || length !== data.length) {
    throw new RangeError(`shape [${shape.join(', ')}] does not hold ${data.length} elements`);
  }
  const values = convert(data, dtype);
  const info = DTYPES[dtype];
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  // numpy adds room for the first dimension to grow to 21 digits, so a file can be appended to in place;
  // doing the same makes robust's files byte-identical to numpy.save's.
  const growth = shape.length > 0 ? Math.max(0, 21 - String(shape[0]).length) : 0;
  let header = `{'descr': '${npyDescr(dtype)}', 'fortran_order': False, 'shape': ${shapeText}, }${' '.repeat(growth)}`;
  // numpy's padding rule, kept exactly (a full 64 spaces when already aligned): version 1.0 when the padded
  // header fits a 16-bit length, else 2.0.
  const pad = (prefix: number): number => 64 - ((prefix + header.length + 1) % 64);
  let major = 1;
  let prefix = 10;
  if (header.length + pad(10) + 1 > 0xffff) {
    major = 2;
    prefix = 12;
  }
  header = header + ' '.repeat(pad(prefix)) + '\n';
  const total = prefix + header.length;
  const out = new Uint8Array(total + length * info.size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  if (HOST_LITTLE_ENDIAN || info.size === 1) {
    out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), total);
  } else {
    for (let i = 0; i < length; i++) info.set(view, total + i * info.size, values[i]!, true);
  }
  return out;
}

/**
 * Write an array to a `.npy` file atomically (temporary file in the same folder, then rename), so a failed
 * write never leaves a partial file at `path`.
 * @example await writeNpy('y.npy', new Int32Array([3, 1, 4]), [3], 'int32')
 */
export async function writeNpy(path: string, data: NpyData, shape: readonly number[], dtype?: NpyDtype): Promise<void> {
  await writeFilesAtomic([{ path, bytes: encodeNpy(data, shape, dtype) }]);
}

/**
 * Features as float32: float32 as is, other types converted by value, except that uint8 is divided by 255
 * when `scaleUint8` is true (the default, since uint8 arrays are 0..255 images and image models take [0, 1]).
 */
export function npyToFeatures(arr: NpyArray, scaleUint8 = true): Float32Array {
  if (arr.data instanceof Float32Array) return arr.data;
  const out = new Float32Array(arr.data.length);
  const scale = arr.dtype === 'uint8' && scaleUint8 ? 1 / 255 : 1;
  for (let i = 0; i < out.length; i++) out[i] = Number(arr.data[i]!) * scale;
  return out;
}

/**
 * Labels as int32 class ids, from a 1-D array (or [n, 1]) of integer values, or from a 2-D [n, k] array of
 * one-hot (or score) rows, reduced by argmax (first maximum wins), which also gives `numClasses = k`.
 * @throws InputError on a value that is not a whole number in 0..2^31-1, naming its index.
 */
export function npyToLabels(arr: NpyArray, name: string): { y: Int32Array; numClasses?: number } {
  const { shape, data } = arr;
  if (shape.length === 2 && shape[1]! > 1) {
    const [n, k] = shape as [number, number];
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (Number(data[i * k + c]!) > Number(data[i * k + best]!)) best = c;
      y[i] = best;
    }
    return { y, numClasses: k };
  }
  if (shape.length !== 1 && !(shape.length === 2 && shape[1] === 1)) {
    throw new InputError(`${name} has shape (${shape.join(', ')}); labels must be 1-D (n,) class ids or 2-D (n, classes) one-hot rows`);
  }
  const y = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]!);
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
      throw new InputError(`${name}[${i}] = ${String(data[i]!)} is not an integer class id >= 0; labels must be whole numbers 0..K-1 (or one-hot rows)`);
    }
    y[i] = v;
  }
  return { y };
}

/** The arrays of {@link loadNpyDataset}, unchecked and unhashed. */
export async function npyParts(xPath: string, yPath: string, opts: { scaleUint8?: boolean } = {}, source = `npy:${xPath},${yPath}`): Promise<DatasetParts> {
  const [xs, ys] = await Promise.all([readNpy(xPath), readNpy(yPath)]);
  if (xs.shape.length < 2) {
    throw new InputError(`${xPath} has shape (${xs.shape.join(', ')}); features need a batch dimension, e.g. (n, 28, 28, 1) or (n, features)`);
  }
  const labels = npyToLabels(ys, yPath);
  if (xs.shape[0] !== labels.y.length) {
    throw new InputError(`${xPath} has ${xs.shape[0]!} examples but ${yPath} has ${labels.y.length} labels; x and y must have the same number of examples`);
  }
  return {
    x: npyToFeatures(xs, opts.scaleUint8 ?? true),
    y: labels.y,
    shape: xs.shape.slice(1),
    source,
    ...(labels.numClasses !== undefined ? { numClasses: labels.numClasses } : {}),
  };
}

/**
 * Load features and labels from `.npy` files: x of shape (n, ...example) in any numeric dtype (NHWC for
 * images; uint8 scaled by 1/255 unless `scaleUint8: false`), y as (n,) integer class ids or (n, k) one-hot.
 * @example await loadNpyDataset('x.npy', 'y.npy')
 */
export async function loadNpyDataset(xPath: string, yPath: string, opts: { scaleUint8?: boolean } = {}): Promise<Dataset> {
  return makeDataset(await npyParts(xPath, yPath, opts));
}
