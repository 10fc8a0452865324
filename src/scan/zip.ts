/**
 * A small, strict reader of ZIP archives (PyTorch checkpoints, Keras 3 `.keras`, NumPy `.npz`). It reads the
 * central directory as Python's zipfile and PyTorch do, then checks every member's local header against it.
 * Each trick used to show scanners something other than what loaders read (CVE-2025-1716/-1889/-1944/-1945:
 * mismatched headers, duplicate names, wrong sizes or CRCs, data outside the members) is a finding, never a
 * crash.
 */
import { inflateRawSync } from 'node:zlib';
import type { ScanContext } from './context.js';

/** One member as the central directory lists it. */
export interface ZipMember {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  /** Offset of the local file header. */
  headerOffset: number;
  /** Offset of the member's data (after the local header), when the local header is readable. */
  dataOffset?: number;
}

/** Members larger than this are not inflated (reported as not inspected). */
export const MAX_MEMBER_BYTES = 1 << 30;

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;

let crcTable: Uint32Array | undefined;
/** CRC-32 (IEEE), as ZIP stores it. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function findEocd(view: DataView): number {
  const last = view.byteLength - 22;
  for (let at = last; at >= 0 && at >= last - 0xffff; at--) if (view.getUint32(at, true) === EOCD) return at;
  return -1;
}

/** Whether `bytes` is a ZIP archive: a local header at the start, or an end-of-central-directory record. */
export function isZip(bytes: Uint8Array): boolean {
  if (bytes.length < 22) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) === LOCAL || view.getUint32(0, true) === EOCD) return true;
  // Elsewhere (data prepended to an archive) the end record must also be preceded by a central directory,
  // so four random bytes of a weights file that happen to spell the signature do not make it a zip.
  const eocd = findEocd(view);
  if (eocd < 0) return false;
  const cdStart = eocd - view.getUint32(eocd + 12, true);
  return view.getUint16(eocd + 10, true) === 0 || (cdStart >= 0 && view.getUint32(cdStart, true) === CENTRAL);
}

function unsafePath(name: string): boolean {
  return name.startsWith('/') || name.startsWith('\\') || /^[a-zA-Z]:/.test(name) || name.split(/[\\/]/).includes('..');
}

/** Read the central directory of `bytes`, reporting every inconsistency to `ctx`. Undefined when unreadable. */
export function readZip(bytes: Uint8Array, ctx: ScanContext): ZipMember[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eocd = findEocd(view);
  if (eocd < 0) {
    ctx.add('ZIP001', {}, 'no end-of-central-directory record: the archive is truncated or not a zip');
    return undefined;
  }
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  const commentLength = view.getUint16(eocd + 20, true);
  let cdEnd = eocd;
  if (eocd >= 20 && view.getUint32(eocd - 20, true) === ZIP64_LOCATOR) {
    const at = Number(view.getBigUint64(eocd - 12, true));
    if (at + 56 <= bytes.length && view.getUint32(at, true) === ZIP64_EOCD) {
      count = Number(view.getBigUint64(at + 32, true));
      cdSize = Number(view.getBigUint64(at + 40, true));
      cdOffset = Number(view.getBigUint64(at + 48, true));
      cdEnd = at;
    }
  }
  if (eocd + 22 + commentLength < bytes.length) ctx.add('ZIP005', { offset: eocd + 22 + commentLength }, `${bytes.length - (eocd + 22 + commentLength)} byte(s) after the end-of-central-directory record`);
  if (eocd + 22 + commentLength > bytes.length) ctx.add('ZIP001', { offset: eocd }, 'the archive comment runs past the end of the file');
  if (cdOffset + cdSize > cdEnd) {
    ctx.add('ZIP001', { offset: eocd }, `the central directory (offset ${cdOffset}, ${cdSize} bytes) runs past its end record`);
    return undefined;
  }
  if (cdOffset + cdSize < cdEnd) ctx.add('ZIP005', { offset: cdOffset + cdSize }, `${cdEnd - cdOffset - cdSize} byte(s) between the central directory and its end record`);

  const members: ZipMember[] = [];
  let at = cdOffset;
  while (at < cdOffset + cdSize) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL) {
      ctx.add('ZIP001', { offset: at }, `corrupt central directory entry at offset ${at}`);
      return members;
    }
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const member: ZipMember = {
      flags: view.getUint16(at + 8, true),
      method: view.getUint16(at + 10, true),
      crc: view.getUint32(at + 16, true),
      compressedSize: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
      headerOffset: view.getUint32(at + 42, true),
      name: new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength)),
    };
    readZip64Extra(view, at + 46 + nameLength, extraLength, member);
    members.push(member);
    at += 46 + nameLength + extraLength + view.getUint16(at + 32, true);
  }
  if (members.length !== count) ctx.add('ZIP001', { offset: eocd }, `the end record counts ${count} member(s) but the central directory lists ${members.length}`);

  const seen = new Set<string>();
  let firstHeader = Number.POSITIVE_INFINITY;
  for (const m of members) {
    const where = { member: m.name };
    if (seen.has(m.name)) ctx.child(m.name).add('ZIP003', {}, `member ${m.name} appears more than once; loaders and scanners may read different copies`);
    seen.add(m.name);
    if (unsafePath(m.name)) ctx.child(m.name).add('ZIP006', {}, `member name ${m.name} is absolute or climbs out with ..`);
    firstHeader = Math.min(firstHeader, m.headerOffset);
    checkLocalHeader(view, bytes, m, ctx.child(where.member));
  }
  if (members.length > 0 && firstHeader > 0 && firstHeader !== Number.POSITIVE_INFINITY) ctx.add('ZIP005', { offset: 0 }, `${firstHeader} byte(s) before the first member`);
  return members;
}

function readZip64Extra(view: DataView, start: number, length: number, m: ZipMember): void {
  let at = start;
  while (at + 4 <= start + length && at + 4 <= view.byteLength) {
    const id = view.getUint16(at, true);
    const size = view.getUint16(at + 2, true);
    if (id === 0x0001) {
      let field = at + 4;
      const next = (): number | undefined => {
        if (field + 8 > at + 4 + size || field + 8 > view.byteLength) return undefined;
        const v = Number(view.getBigUint64(field, true));
        field += 8;
        return v;
      };
      if (m.size === 0xffffffff) m.size = next() ?? m.size;
      if (m.compressedSize === 0xffffffff) m.compressedSize = next() ?? m.compressedSize;
      if (m.headerOffset === 0xffffffff) m.headerOffset = next() ?? m.headerOffset;
    }
    at += 4 + size;
  }
}

function checkLocalHeader(view: DataView, bytes: Uint8Array, m: ZipMember, ctx: ScanContext): void {
  const at = m.headerOffset;
  if (at + 30 > bytes.length || view.getUint32(at, true) !== LOCAL) {
    ctx.add('ZIP002', { offset: at }, `no local file header where the central directory says member ${m.name} starts`);
    return;
  }
  const nameLength = view.getUint16(at + 26, true);
  const localName = new TextDecoder().decode(bytes.subarray(at + 30, at + 30 + nameLength));
  m.dataOffset = at + 30 + nameLength + view.getUint16(at + 28, true);
  const differences: string[] = [];
  if (localName !== m.name) differences.push(`name ${JSON.stringify(localName)}`);
  if (view.getUint16(at + 8, true) !== m.method) differences.push(`method ${view.getUint16(at + 8, true)} vs ${m.method}`);
  // With bit 3 set the sizes and CRC live in a data descriptor after the data, and the local fields are zero.
  if ((m.flags & 0x08) === 0) {
    const crc = view.getUint32(at + 14, true);
    const csize = view.getUint32(at + 18, true);
    const size = view.getUint32(at + 22, true);
    if (crc !== m.crc) differences.push('CRC');
    if (csize !== 0xffffffff && csize !== m.compressedSize) differences.push(`compressed size ${csize} vs ${m.compressedSize}`);
    if (size !== 0xffffffff && size !== m.size) differences.push(`size ${size} vs ${m.size}`);
  }
  if (differences.length > 0) ctx.add('ZIP002', { offset: at }, `local header of ${m.name} disagrees with the central directory: ${differences.join(', ')}`);
  if (m.dataOffset + m.compressedSize > bytes.length) ctx.add('ZIP001', { offset: at }, `member ${m.name} runs past the end of the archive`);
}

/**
 * The uncompressed bytes of member `m` (stored or deflated), checking size and CRC. Undefined, with a finding,
 * when it cannot be read.
 */
export function extractMember(bytes: Uint8Array, m: ZipMember, ctx: ScanContext): Uint8Array | undefined {
  if (m.dataOffset === undefined || m.dataOffset + m.compressedSize > bytes.length) return undefined;
  if (m.flags & 0x01) {
    ctx.add('ZIP008', {}, `member ${m.name} is encrypted and cannot be inspected`);
    return undefined;
  }
  if (m.size > MAX_MEMBER_BYTES) {
    ctx.add('ZIP008', {}, `member ${m.name} declares ${m.size} bytes, more than the ${MAX_MEMBER_BYTES}-byte inspection limit`);
    return undefined;
  }
  const raw = bytes.subarray(m.dataOffset, m.dataOffset + m.compressedSize);
  let data: Uint8Array;
  if (m.method === 0) data = raw;
  else if (m.method === 8) {
    try {
      // One byte over the declared size is enough to prove the declaration wrong without inflating a bomb.
      data = inflateRawSync(raw, { maxOutputLength: Math.max(m.size + 1, 1) });
    } catch (err) {
      const tooLong = err instanceof RangeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      ctx.add(tooLong ? 'ZIP004' : 'ZIP001', {}, tooLong ? `member ${m.name} inflates to more than its declared ${m.size} bytes` : `member ${m.name} does not inflate: ${(err as Error).message}`);
      return undefined;
    }
  } else {
    ctx.add('ZIP008', {}, `member ${m.name} uses compression method ${m.method}, which this scanner does not read`);
    return undefined;
  }
  if (data.length !== m.size) ctx.add('ZIP004', {}, `member ${m.name} holds ${data.length} bytes but declares ${m.size}`);
  else if (crc32(data) !== m.crc) ctx.add('ZIP004', {}, `member ${m.name} fails its CRC-32 check`);
  return data;
}
