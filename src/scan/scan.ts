/**
 * `scanPaths`: walk files and folders, recognise each file's format by its content (never its extension),
 * and hand it to that format's scanner. Static analysis only: nothing is unpickled, imported or executed, and
 * no model loader is imported. Every fault of a file becomes a finding; only a path that does not exist is
 * an error.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, inflateSync } from 'node:zlib';
import { InputError } from '../errors.js';
import { MAX_NESTING, ScanContext } from './context.js';
import { joblibOptions } from './joblib.js';
import { scanKerasConfig, scanKerasH5, scanKerasJson } from './keras.js';
import { isNpy, scanNpy } from './numpy.js';
import { decodeOnnx, scanOnnx } from './onnx.js';
import { disassemblePickle, isPickleOpcode, looksLikePickle } from './pickle.js';
import { isSafetensors, scanSafetensors } from './safetensors.js';
import { isTfjsModel, scanTfjs } from './tfjs.js';
import { severityRank, type Finding, type ScanFormat, type ScanReport, type ScannedFile } from './types.js';
import { MAX_MEMBER_BYTES, extractMember, isZip, readZip } from './zip.js';

// PyTorch's legacy (pre-1.6) files open with a pickled magic number, 0x1950a86a20f9469cfc6c, as LONG1.
const LEGACY_TORCH = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const HDF5 = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
/** Files larger than this are not read (Node buffers hold at most a few GiB). */
export const MAX_FILE_BYTES = 2 ** 31 - 1;

function startsWith(bytes: Uint8Array, magic: readonly number[], at = 0): boolean {
  return bytes.length >= at + magic.length && magic.every((b, i) => bytes[at + i] === b);
}

/** Disassemble a stream of one or more pickles (legacy PyTorch files concatenate five before raw storages). */
function scanPickleStream(bytes: Uint8Array, ctx: ScanContext): ScanFormat {
  const legacy = startsWith(bytes, LEGACY_TORCH);
  const options = joblibOptions(bytes, ctx);
  let joblib = false;
  let pos = 0;
  for (let count = 1; pos < bytes.length; count++) {
    const result = disassemblePickle(bytes, pos, ctx, options);
    joblib ||= result.imports.some((i) => i.module.startsWith('joblib') || i.module.startsWith('sklearn.externals.joblib'));
    if (!result.complete) break;
    pos = result.end;
    if (legacy && count === 5) break;
    if (pos < bytes.length && !looksLikePickle(bytes, pos)) {
      ctx.add('PKL005', { offset: pos }, `${bytes.length - pos} byte(s) after the final STOP opcode`);
      break;
    }
  }
  return legacy ? 'pytorch-legacy' : joblib ? 'joblib' : 'pickle';
}

function scanZip(bytes: Uint8Array, ctx: ScanContext): ScanFormat {
  const members = readZip(bytes, ctx) ?? [];
  const names = members.map((m) => m.name);
  const torch = names.some((n) => /(^|\/)data\.pkl$/.test(n));
  const keras = names.includes('config.json') && names.includes('metadata.json');
  const npz = names.length > 0 && names.every((n) => n.endsWith('.npy'));
  for (const m of members) {
    if (m.name.endsWith('/')) continue;
    const inner = ctx.child(m.name);
    // A PyTorch archive keeps raw tensor bytes under data/; only its pickles are ever unpickled.
    if (torch && !m.name.endsWith('.pkl')) continue;
    if (keras && m.name !== 'config.json') continue;
    const data = extractMember(bytes, m, inner);
    if (data === undefined) continue;
    if (keras) scanKerasJson(new TextDecoder().decode(data), inner);
    else if (torch) scanPickleStream(data, inner);
    else if (npz && isNpy(data)) scanNpy(data, inner);
    else if (isZip(data)) {
      if (inner.depth > MAX_NESTING) inner.add('ZIP008', {}, `archive nested more than ${MAX_NESTING} levels deep is not opened`);
      else {
        inner.add('ZIP007', {}, `member ${m.name} is itself a zip archive`);
        scanZip(data, inner);
      }
    } else scanContentSync(data, inner);
  }
  return torch ? 'pytorch-zip' : keras ? 'keras-v3' : npz ? 'numpy-npz' : 'zip';
}

function decompress(bytes: Uint8Array, ctx: ScanContext): ScanFormat | undefined {
  const gzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
  const zlib = bytes[0] === 0x78 && [0x01, 0x5e, 0x9c, 0xda].includes(bytes[1]!) && ((bytes[0] << 8) | bytes[1]!) % 31 === 0;
  if (startsWith(bytes, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) || startsWith(bytes, [0x42, 0x5a, 0x68]) || startsWith(bytes, [0x04, 0x22, 0x4d, 0x18])) {
    ctx.add('ZIP008', {}, 'the file is xz, bzip2 or lz4 compressed (as joblib may write it), which this scanner cannot open');
    return 'compressed';
  }
  if (!gzip && !zlib) return undefined;
  let inner: Uint8Array;
  try {
    inner = gzip ? gunzipSync(bytes, { maxOutputLength: MAX_MEMBER_BYTES }) : inflateSync(bytes, { maxOutputLength: MAX_MEMBER_BYTES });
  } catch {
    return undefined; // not a real stream after all, or too large: treat as an unknown file
  }
  const format = scanContentSync(inner, ctx);
  return format === 'unknown' ? 'compressed' : format;
}

// The formats that need no file system; scanContent adds those that read beside the file (h5, TF.js shards).
function scanContentSync(bytes: Uint8Array, ctx: ScanContext): ScanFormat {
  if (isZip(bytes)) return scanZip(bytes, ctx);
  if (isNpy(bytes)) {
    scanNpy(bytes, ctx);
    return 'numpy';
  }
  // Before pickles: a header length of 128 to 133 bytes opens with what reads as a PROTO opcode.
  if (isSafetensors(bytes)) {
    scanSafetensors(bytes, ctx);
    return 'safetensors';
  }
  // A PROTO opcode, a known protocol, and an opcode after it: random weight bytes rarely pass all three.
  if (bytes[0] === 0x80 && bytes.length > 2 && bytes[1]! <= 5 && isPickleOpcode(bytes[2]!)) return scanPickleStream(bytes, ctx);
  const onnx = decodeOnnx(bytes);
  if (onnx) {
    scanOnnx(ctx.file, onnx, ctx);
    return 'onnx';
  }
  const compressed = decompress(bytes, ctx);
  if (compressed) return compressed;
  if (looksLikePickle(bytes)) return scanPickleStream(bytes, ctx);
  return 'unknown';
}

/** Scan bytes whose format is unknown; `path` is the file on disk when the bytes are a whole file. */
async function scanContent(bytes: Uint8Array, ctx: ScanContext, path: string | undefined): Promise<ScanFormat> {
  if (startsWith(bytes, HDF5)) {
    if (path !== undefined) await scanKerasH5(path, ctx);
    return 'keras-h5';
  }
  let firstChar = 0;
  while (firstChar < bytes.length && firstChar < 64 && [0x20, 0x09, 0x0a, 0x0d].includes(bytes[firstChar]!)) firstChar++;
  if (bytes[firstChar] === 0x7b) {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      json = undefined;
    }
    if (json !== undefined && isTfjsModel(json)) {
      if (path !== undefined) await scanTfjs(path, json as Record<string, unknown>, ctx);
      return 'tfjs';
    }
    if (typeof json === 'object' && json !== null && 'class_name' in json && 'config' in json) {
      scanKerasConfig(json, ctx);
      return 'keras-v3';
    }
    if (json !== undefined) return 'unknown';
  }
  return scanContentSync(bytes, ctx);
}

/** Scan one file on disk, appending its findings. */
export async function scanFile(path: string, findings: Finding[]): Promise<ScannedFile> {
  const size = (await stat(path)).size;
  const ctx = new ScanContext(path, findings);
  if (size > MAX_FILE_BYTES) {
    ctx.add('ZIP008', {}, `the file is ${size} bytes, more than the ${MAX_FILE_BYTES}-byte inspection limit`);
    return { path, format: 'unknown', bytes: size, sha256: '' };
  }
  const bytes = await readFile(path);
  const format = await scanContent(bytes, ctx, path);
  return { path, format, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

async function listFiles(path: string, out: string[]): Promise<void> {
  const info = await lstat(path);
  if (info.isDirectory()) {
    // Sorted, so reports are the same on every machine; symlinked folders are not followed (no loops).
    const entries = (await readdir(path)).sort();
    for (const entry of entries) {
      const child = join(path, entry);
      const childInfo = await lstat(child);
      if (childInfo.isDirectory()) await listFiles(child, out);
      else if (childInfo.isFile() || (childInfo.isSymbolicLink() && (await stat(child).catch(() => undefined))?.isFile())) out.push(child);
    }
  } else out.push(path);
}

/**
 * Scan files and folders (recursively). Throws an InputError when a path does not exist; everything found in
 * the files is a finding. Findings are sorted by severity (worst first), then file and offset.
 */
export async function scanPaths(paths: readonly string[]): Promise<ScanReport> {
  const files: string[] = [];
  for (const p of paths) {
    try {
      await lstat(p);
    } catch {
      throw new InputError(`${p} does not exist; pass model files or folders to scan`);
    }
    await listFiles(p, files);
  }
  const findings: Finding[] = [];
  const scanned: ScannedFile[] = [];
  for (const f of files) scanned.push(await scanFile(f, findings));
  findings.sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      a.location.file.localeCompare(b.location.file) ||
      (a.location.member ?? '').localeCompare(b.location.member ?? '') ||
      (a.location.offset ?? 0) - (b.location.offset ?? 0),
  );
  return { files: scanned, findings };
}
