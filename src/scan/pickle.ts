/**
 * A static disassembler for Python pickles (protocols 0–5). It decodes every opcode and simulates the stack and
 * memo just far enough to know what GLOBAL, STACK_GLOBAL and INST import (through MEMOIZE/PUT/GET and FRAME),
 * then rates each import (pickleImports.ts). Nothing is unpickled: values are symbolic, and a malformed or
 * truncated stream ends in a finding, never an exception.
 */
import { ScanContext } from './context.js';
import { canonicalModule, rateImport } from './pickleImports.js';
import type { Finding } from './types.js';

/** A symbolic stack value: enough structure to resolve imports and to read joblib's array headers. */
export type PickleValue =
  | { kind: 'mark' }
  | { kind: 'str'; value: string }
  | { kind: 'int'; value: number }
  | { kind: 'global'; module: string; name: string }
  | { kind: 'tuple' | 'list'; items: PickleValue[] }
  | { kind: 'dict'; entries: Array<[PickleValue, PickleValue]> }
  | { kind: 'call'; callee: PickleValue; args: PickleValue; state?: PickleValue }
  | { kind: 'other' };

/** One import a pickle makes. */
export interface PickleImport {
  module: string;
  name: string;
  /** Byte offset of the importing opcode. */
  offset: number;
}

/** What disassembling one pickle found. */
export interface PickleResult {
  imports: PickleImport[];
  /** Offset just past STOP, or where decoding stopped on a fault. */
  end: number;
  /** True when the stream reached STOP without a fault. */
  complete: boolean;
  /** The value STOP returned (symbolic), when complete. */
  value?: PickleValue;
}

/** Options of {@link disassemblePickle}. */
export interface PickleOptions {
  /**
   * Called after BUILD on an object: joblib writes raw array bytes right after a NumpyArrayWrapper's BUILD,
   * so its scanner returns how many bytes to skip there (or undefined to continue with opcodes).
   */
  afterBuild?: (target: PickleValue, at: number) => number | undefined;
}

class Fault extends Error {}

const OTHER: PickleValue = { kind: 'other' };
const decoder = new TextDecoder('utf-8', { fatal: false });
const latin1 = new TextDecoder('latin1');

// Python string-literal escapes used by protocol 0's STRING ('S') and raw-unicode-escape of UNICODE ('V').
function unescapePython(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x' || e[0] === 'u' || e[0] === 'U') return String.fromCodePoint(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' } as Record<string, string>)[e] ?? `\\${e}`;
  });
}

/** Names of the opcodes, for messages. */
const NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT', 0x4b: 'BININT1',
  0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS',
  0x47: 'BINFLOAT', 0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/** Whether `byte` is a pickle opcode. */
export function isPickleOpcode(byte: number): boolean {
  return NAMES[byte] !== undefined;
}

/**
 * Disassemble the pickle starting at `start` of `bytes`, reporting its imports and faults to `ctx`
 * (offsets are relative to `bytes`).
 */
export function disassemblePickle(bytes: Uint8Array, start: number, ctx: ScanContext, options: PickleOptions = {}): PickleResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: PickleValue[] = [];
  const memo = new Map<number, PickleValue>();
  const imports: PickleImport[] = [];
  const reported = new Set<string>();
  let pos = start;
  let op = start;

  const need = (n: number): number => {
    if (n < 0 || pos + n > bytes.length) throw new Fault(`truncated: ${NAMES[bytes[op]!] ?? 'opcode'} at offset ${op} needs ${n} more byte(s) than the stream has`);
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = (): number => bytes[need(1)]!;
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const at = need(8);
    const value = view.getBigUint64(at, true);
    if (value > BigInt(bytes.length)) throw new Fault(`truncated: ${NAMES[bytes[op]!]} at offset ${op} declares ${value} bytes, more than the stream has`);
    return Number(value);
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new Fault(`truncated: ${NAMES[bytes[op]!]} at offset ${op} has no terminating newline`);
    const text = decoder.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const text = (n: number, encoding: 'utf8' | 'latin1' = 'utf8'): PickleValue => {
    const at = need(n);
    return { kind: 'str', value: (encoding === 'utf8' ? decoder : latin1).decode(bytes.subarray(at, at + n)) };
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v.kind === 'mark') throw new Fault(`stack underflow at ${NAMES[bytes[op]!]} (offset ${op})`);
    return v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v.kind === 'mark') throw new Fault(`stack underflow at ${NAMES[bytes[op]!]} (offset ${op})`);
    return v;
  };
  const popMark = (): PickleValue[] => {
    for (let i = stack.length - 1; i >= 0; i--) {
      if (stack[i]!.kind === 'mark') {
        const items = stack.splice(i);
        items.shift();
        return items;
      }
    }
    throw new Fault(`${NAMES[bytes[op]!]} at offset ${op} without a MARK`);
  };
  const importOf = (module: string, name: string): PickleValue => {
    const mod = canonicalModule(module.trim());
    imports.push({ module: mod, name, offset: op });
    const key = `${mod}.${name}`;
    if (!reported.has(key)) {
      reported.add(key);
      const rating = rateImport(mod, name);
      if (rating === 'dangerous') ctx.add('PKL001', { offset: op }, `${NAMES[bytes[op]!]} imports ${key}, a code-execution gadget`);
      else if (rating === 'unlisted') ctx.add('PKL002', { offset: op }, `${NAMES[bytes[op]!]} imports ${key}, which is not on the checkpoint allow-list`);
    }
    return { kind: 'global', module: mod, name };
  };
  const memoGet = (key: number): PickleValue => {
    const v = memo.get(key);
    if (v === undefined) throw new Fault(`${NAMES[bytes[op]!]} at offset ${op} reads memo ${key}, which was never stored`);
    return v;
  };

  try {
    for (;;) {
      op = pos;
      const code = u8();
      switch (code) {
        case 0x80: { // PROTO
          const proto = u8();
          if (proto > 5) throw new Fault(`unsupported pickle protocol ${proto} at offset ${op}`);
          break;
        }
        case 0x95: u64(); break; // FRAME: a length prefix only; opcodes continue inside it
        case 0x2e: { // STOP
          const value = pop();
          return { imports, end: pos, complete: true, value };
        }
        case 0x28: stack.push({ kind: 'mark' }); break;
        case 0x30: if (stack.pop() === undefined) throw new Fault(`stack underflow at POP (offset ${op})`); break;
        case 0x31: popMark(); break;
        case 0x32: stack.push(top()); break;
        case 0x46: line(); stack.push(OTHER); break; // FLOAT
        case 0x49: { // INT (also protocol 0's booleans I00/I01)
          const n = Number(line());
          stack.push(Number.isFinite(n) ? { kind: 'int', value: n } : OTHER);
          break;
        }
        case 0x4c: line(); stack.push(OTHER); break; // LONG
        case 0x4a: stack.push({ kind: 'int', value: view.getInt32(need(4), true) }); break;
        case 0x4b: stack.push({ kind: 'int', value: u8() }); break;
        case 0x4d: stack.push({ kind: 'int', value: u16() }); break;
        case 0x8a: { // LONG1: little-endian two's complement
          const n = u8();
          const at = need(n);
          let value = 0n;
          for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[at + i]!);
          if (n > 0 && bytes[at + n - 1]! & 0x80) value -= 1n << BigInt(8 * n);
          stack.push(value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? { kind: 'int', value: Number(value) } : OTHER);
          break;
        }
        case 0x8b: need(u32()); stack.push(OTHER); break; // LONG4
        case 0x47: need(8); stack.push(OTHER); break; // BINFLOAT
        case 0x4e: case 0x88: case 0x89: stack.push(OTHER); break; // NONE, NEWTRUE, NEWFALSE
        case 0x53: { // STRING: a quoted Python literal
          const raw = line().trim();
          const quoted = raw.length >= 2 && (raw[0] === "'" || raw[0] === '"') && raw[raw.length - 1] === raw[0];
          if (!quoted) throw new Fault(`STRING at offset ${op} is not a quoted literal`);
          stack.push({ kind: 'str', value: unescapePython(raw.slice(1, -1)) });
          break;
        }
        case 0x56: stack.push({ kind: 'str', value: unescapePython(line()) }); break; // UNICODE
        case 0x54: stack.push(text(view.getInt32(need(4), true), 'latin1')); break; // BINSTRING
        case 0x55: stack.push(text(u8(), 'latin1')); break; // SHORT_BINSTRING
        case 0x58: stack.push(text(u32())); break; // BINUNICODE
        case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
        case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
        case 0x42: need(u32()); stack.push(OTHER); break; // BINBYTES
        case 0x43: need(u8()); stack.push(OTHER); break; // SHORT_BINBYTES
        case 0x8e: case 0x96: need(u64()); stack.push(OTHER); break; // BINBYTES8, BYTEARRAY8
        case 0x97: stack.push(OTHER); break; // NEXT_BUFFER
        case 0x98: top(); break; // READONLY_BUFFER
        case 0x50: line(); stack.push(OTHER); break; // PERSID
        case 0x51: pop(); stack.push(OTHER); break; // BINPERSID: the loader's persistent_load decides
        case 0x29: stack.push({ kind: 'tuple', items: [] }); break;
        case 0x5d: stack.push({ kind: 'list', items: [] }); break;
        case 0x7d: stack.push({ kind: 'dict', entries: [] }); break;
        case 0x8f: stack.push({ kind: 'list', items: [] }); break; // EMPTY_SET
        case 0x74: stack.push({ kind: 'tuple', items: popMark() }); break;
        case 0x6c: stack.push({ kind: 'list', items: popMark() }); break;
        case 0x91: stack.push({ kind: 'list', items: popMark() }); break; // FROZENSET
        case 0x85: case 0x86: case 0x87: { // TUPLE1..3
          const items: PickleValue[] = [];
          for (let i = 0; i < code - 0x84; i++) items.unshift(pop());
          stack.push({ kind: 'tuple', items });
          break;
        }
        case 0x64: { // DICT
          const items = popMark();
          const entries: Array<[PickleValue, PickleValue]> = [];
          for (let i = 0; i + 1 < items.length; i += 2) entries.push([items[i]!, items[i + 1]!]);
          stack.push({ kind: 'dict', entries });
          break;
        }
        case 0x61: { // APPEND
          const v = pop();
          const list = top();
          if (list.kind === 'list') list.items.push(v);
          break;
        }
        case 0x65: case 0x90: { // APPENDS, ADDITEMS
          const items = popMark();
          const list = top();
          if (list.kind === 'list') list.items.push(...items);
          break;
        }
        case 0x73: { // SETITEM
          const v = pop();
          const k = pop();
          const dict = top();
          if (dict.kind === 'dict') dict.entries.push([k, v]);
          break;
        }
        case 0x75: { // SETITEMS
          const items = popMark();
          const dict = top();
          for (let i = 0; i + 1 < items.length; i += 2) if (dict.kind === 'dict') dict.entries.push([items[i]!, items[i + 1]!]);
          break;
        }
        case 0x63: { // GLOBAL module\nname\n
          const module = line();
          const name = line();
          stack.push(importOf(module, name.trim()));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = pop();
          const module = pop();
          if (module.kind === 'str' && name.kind === 'str') stack.push(importOf(module.value, name.value));
          else {
            ctx.add('PKL003', { offset: op }, `STACK_GLOBAL imports from computed operands (${module.kind}, ${name.kind}) that cannot be resolved statically`);
            stack.push({ kind: 'global', module: '?', name: '?' });
          }
          break;
        }
        case 0x69: { // INST module\nname\n: import and call with the items above MARK
          const module = line();
          const name = line();
          const args = popMark();
          stack.push({ kind: 'call', callee: importOf(module, name.trim()), args: { kind: 'tuple', items: args } });
          break;
        }
        case 0x82: case 0x83: case 0x84: { // EXT1/2/4: an import through copyreg's extension registry
          const key = code === 0x82 ? u8() : code === 0x83 ? u16() : u32();
          ctx.add('PKL003', { offset: op }, `${NAMES[code]} imports extension code ${key} from copyreg's registry, which cannot be resolved statically`);
          stack.push({ kind: 'global', module: '?', name: `ext${key}` });
          break;
        }
        case 0x6f: { // OBJ: class and args above MARK
          const items = popMark();
          const callee = items.shift();
          if (callee === undefined) throw new Fault(`OBJ at offset ${op} has no class`);
          stack.push({ kind: 'call', callee, args: { kind: 'tuple', items } });
          break;
        }
        case 0x52: case 0x81: { // REDUCE, NEWOBJ
          const args = pop();
          const callee = pop();
          stack.push({ kind: 'call', callee, args });
          break;
        }
        case 0x92: { // NEWOBJ_EX
          pop();
          const args = pop();
          const callee = pop();
          stack.push({ kind: 'call', callee, args });
          break;
        }
        case 0x62: { // BUILD
          const state = pop();
          const target = top();
          if (target.kind === 'call') target.state = state;
          const skip = options.afterBuild?.(target, pos);
          if (skip !== undefined) need(skip);
          break;
        }
        case 0x70: memo.set(Number(line()), top()); break; // PUT
        case 0x71: memo.set(u8(), top()); break;
        case 0x72: memo.set(u32(), top()); break;
        case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
        case 0x67: stack.push(memoGet(Number(line()))); break; // GET
        case 0x68: stack.push(memoGet(u8())); break;
        case 0x6a: stack.push(memoGet(u32())); break;
        default:
          throw new Fault(`unknown opcode 0x${code.toString(16).padStart(2, '0')} at offset ${op}`);
      }
    }
  } catch (err) {
    if (!(err instanceof Fault)) throw err;
    ctx.add('PKL004', { offset: op }, `malformed pickle: ${err.message}`);
    return { imports, end: pos, complete: false };
  }
}

/**
 * Whether `bytes` starting at `start` is a pickle: a PROTO opcode with a known protocol, or a protocol 0/1
 * stream (which has no header) that decodes to STOP, or that imports a gadget before failing. The trial
 * decoding reports nothing.
 */
export function looksLikePickle(bytes: Uint8Array, start = 0): boolean {
  if (bytes.length - start < 2) return false;
  if (bytes[start] === 0x80) return bytes[start + 1]! <= 5;
  if (!isPickleOpcode(bytes[start]!)) return false;
  const probe: Finding[] = [];
  const result = disassemblePickle(bytes, start, new ScanContext('', probe));
  return result.complete || probe.some((f) => f.rule === 'PKL001');
}
