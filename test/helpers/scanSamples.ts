/**
 * Builders of scan samples, written from the formats' own specifications: a pickle assembler (opcodes by
 * hand) and a ZIP writer that can plant each header trick.
 */
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../../src/scan/zip.js';

const enc = new TextEncoder();

/** Concatenate byte strings, plain strings (latin1 opcodes) and numbers (single bytes). */
export function bytes(...parts: Array<string | number | Uint8Array>): Uint8Array {
  const chunks = parts.map((p) => (typeof p === 'number' ? Uint8Array.of(p) : typeof p === 'string' ? Uint8Array.from(p, (c) => c.charCodeAt(0)) : p));
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Pickle opcodes with their arguments. */
export const op = {
  proto: (n: number) => bytes(0x80, n),
  frame: (n: number) => bytes(0x95, u64(n)),
  global: (module: string, name: string) => bytes('c', `${module}\n${name}\n`),
  inst: (module: string, name: string) => bytes('i', `${module}\n${name}\n`),
  shortUnicode: (s: string) => bytes(0x8c, enc.encode(s).length, enc.encode(s)),
  binUnicode: (s: string) => bytes('X', u32(enc.encode(s).length), enc.encode(s)),
  string: (s: string) => bytes('S', `'${s}'\n`),
  stackGlobal: bytes(0x93),
  memoize: bytes(0x94),
  binput: (i: number) => bytes('q', i),
  binget: (i: number) => bytes('h', i),
  put: (i: number) => bytes('p', `${i}\n`),
  get: (i: number) => bytes('g', `${i}\n`),
  mark: bytes('('),
  tuple: bytes('t'),
  tuple1: bytes(0x85),
  emptyTuple: bytes(')'),
  emptyDict: bytes('}'),
  setitems: bytes('u'),
  reduce: bytes('R'),
  newobj: bytes(0x81),
  build: bytes('b'),
  pop: bytes('0'),
  none: bytes('N'),
  int1: (n: number) => bytes('K', n),
  stop: bytes('.'),
};

export function u16(n: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, n, true);
  return b;
}
export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}
export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

/** `module.name(arg)` as a protocol-0 pickle: the classic payload. */
export function callPickle(module: string, name: string, arg = 'id'): Uint8Array {
  return bytes(op.global(module, name), op.mark, op.string(arg), op.tuple, op.reduce, op.stop);
}

/** One member of {@link buildZip}, with optional tricks. */
export interface ZipEntry {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** Name written in the local header instead of `name` (CVE-2025-1944 style). */
  localName?: string;
  /** CRC written in both headers instead of the true one. */
  crc?: number;
  /** Uncompressed size written in both headers instead of the true one. */
  size?: number;
}

/** A ZIP archive by the APPNOTE layout: local headers and data, central directory, end record. */
export function buildZip(entries: ZipEntry[], options: { prefix?: Uint8Array; suffix?: Uint8Array } = {}): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = options.prefix?.length ?? 0;
  for (const e of entries) {
    const payload = e.deflate ? new Uint8Array(deflateRawSync(e.data)) : e.data;
    const crc = e.crc ?? crc32(e.data);
    const size = e.size ?? e.data.length;
    const method = e.deflate ? 8 : 0;
    const localName = enc.encode(e.localName ?? e.name);
    const name = enc.encode(e.name);
    const local = bytes(u32(0x04034b50), u16(20), u16(0), u16(method), u16(0), u16(0), u32(crc), u32(payload.length), u32(size), u16(localName.length), u16(0), localName, payload);
    centrals.push(bytes(u32(0x02014b50), u16(20), u16(20), u16(0), u16(method), u16(0), u16(0), u32(crc), u32(payload.length), u32(size), u16(name.length), u16(0), u16(0), u16(0), u16(0), u32(0), u32(offset), name));
    locals.push(local);
    offset += local.length;
  }
  const cd = bytes(...centrals);
  const end = bytes(u32(0x06054b50), u16(0), u16(0), u16(entries.length), u16(entries.length), u32(cd.length), u32(offset), u16(0));
  return bytes(options.prefix ?? new Uint8Array(), ...locals, cd, end, options.suffix ?? new Uint8Array());
}

/** A `.npy` file (format 1.0) with the given header fields and payload. */
export function npy(descr: string, shape: number[], payload: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  return bytes(0x93, 'NUMPY', 1, 0, u16(header.length), header, payload);
}
