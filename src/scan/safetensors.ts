/**
 * safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
 * data offsets, then the data. The format cannot run code; the risk is a header that makes a loader read
 * outside the buffer or alias two tensors, so the offsets are checked against each other and the file.
 */
import type { ScanContext } from './context.js';

const DTYPE_BYTES: Record<string, number> = { BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8 };

/** Whether `bytes` looks like safetensors: a plausible header length followed by `{`. */
export function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  return n >= 2n && n < 100_000_000n && bytes[8] === 0x7b;
}

interface Entry {
  name: string;
  begin: number;
  end: number;
}

/** Scan a safetensors file. */
export function scanSafetensors(bytes: Uint8Array, ctx: ScanContext): void {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  if (8 + n > bytes.length) {
    ctx.add('SFT002', { offset: 0 }, `header length ${n} runs past the end of the ${bytes.length}-byte file`);
    return;
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch {
    ctx.add('SFT002', { offset: 8 }, 'the header is not valid UTF-8 JSON');
    return;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    ctx.add('SFT002', { offset: 8 }, 'the header is not a JSON object');
    return;
  }
  const dataLength = bytes.length - 8 - n;
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const offsets = t.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) || !Array.isArray(t.shape) || typeof t.dtype !== 'string') {
      ctx.add('SFT002', { layer: name }, `tensor ${name} lacks a dtype, shape or pair of data offsets`);
      continue;
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin || end > dataLength) {
      ctx.add('SFT001', { layer: name }, `tensor ${name} spans bytes ${begin}..${end} of a ${dataLength}-byte data section`);
      continue;
    }
    const size = DTYPE_BYTES[t.dtype];
    const count = (t.shape as unknown[]).reduce<number>((a, d) => a * (typeof d === 'number' ? d : NaN), 1);
    if (size !== undefined && count * size !== end - begin) ctx.add('SFT001', { layer: name }, `tensor ${name} holds ${end - begin} bytes but ${t.dtype}[${(t.shape as unknown[]).join(', ')}] needs ${count * size}`);
    entries.push({ name, begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1]!;
    const cur = entries[i]!;
    if (cur.begin < prev.end) ctx.add('SFT001', { layer: cur.name }, `tensor ${cur.name} (bytes ${cur.begin}..${cur.end}) overlaps ${prev.name} (bytes ${prev.begin}..${prev.end})`);
  }
}
