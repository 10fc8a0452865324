/**
 * NumPy `.npy` files (and the members of `.npz` archives). An object dtype means the data is a pickle that
 * `np.load(..., allow_pickle=True)` runs, so it is flagged and the pickle is disassembled; other dtypes are
 * checked for a data length that matches the declared shape.
 */
import type { ScanContext } from './context.js';
import { disassemblePickle } from './pickle.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Whether `bytes` starts with the `.npy` magic. */
export function isNpy(bytes: Uint8Array): boolean {
  return bytes.length >= 10 && MAGIC.every((b, i) => bytes[i] === b);
}

/** Bytes per element of a simple NumPy type string such as `<f4`, `|u1`, `<U5`; undefined for others. */
export function itemSize(descr: string): number | undefined {
  const m = /^[<>|=]?([biufcSUVMm])(\d+)(?:\[\w+\])?$/.exec(descr);
  if (!m) return undefined;
  return m[1] === 'U' ? 4 * Number(m[2]) : Number(m[2]);
}

/** Scan one `.npy` payload. */
export function scanNpy(bytes: Uint8Array, ctx: ScanContext): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  const headerLength = major === 1 ? view.getUint16(8, true) : bytes.length >= 12 ? view.getUint32(8, true) : Number.POSITIVE_INFINITY;
  const start = major === 1 ? 10 : 12;
  if (major < 1 || major > 3 || start + headerLength > bytes.length) {
    ctx.add('NPY002', { offset: 0 }, `.npy header (version ${major}) is truncated or of an unknown version`);
    return;
  }
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLength));
  const dataStart = start + headerLength;
  const descr = /'descr'\s*:\s*('([^']*)'|\[.*\])\s*,/s.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape) {
    ctx.add('NPY002', { offset: start }, '.npy header lacks a readable descr or shape');
    return;
  }
  // Object fields make the whole payload a pickle, in a plain dtype ('|O') or inside a structured one.
  if (/'\|?O\d*'/.test(descr[1]!)) {
    ctx.add('NPY001', { offset: start }, `array of dtype ${descr[1]} is stored as a pickle; loading it needs allow_pickle=True`);
    disassemblePickle(bytes, dataStart, ctx);
    return;
  }
  const size = descr[2] !== undefined ? itemSize(descr[2]) : undefined;
  const dims = shape[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (size === undefined || dims.some((d) => !Number.isInteger(d) || d < 0)) return;
  const expected = dims.reduce((a, d) => a * d, 1) * size;
  if (bytes.length - dataStart !== expected) ctx.add('NPY002', { offset: dataStart }, `.npy data holds ${bytes.length - dataStart} bytes but shape (${dims.join(', ')}) of ${descr[2]} needs ${expected}`);
}
