/**
 * Training checkpoints: after an epoch, the model's variables, the optimizer's state, the epoch, the history
 * and a fingerprint of the options, in one folder. The tensor bytes go to `state-epoch<k>.bin` first and
 * `checkpoint.json`, which names that file and its SHA-256, replaces the old one last (both atomically), so a
 * kill at any moment leaves either the previous checkpoint or the new one, never a mixture.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, errorMessage } from '../errors.js';
import { writeFilesAtomic } from '../util/atomic.js';

/** A tensor's values held in JavaScript (little-endian bytes on disk). */
export interface SavedTensor {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

/** What a checkpoint holds. `H` is one epoch's history record (plain JSON). */
export interface Checkpoint<H> {
  /** Epochs completed. */
  epoch: number;
  /** The settings that must match for a resume (plain JSON). */
  fingerprint: Record<string, unknown>;
  history: H[];
  model: SavedTensor[];
  optimizer: SavedTensor[];
}

/** Name of the file that says which checkpoint is current. */
export const CHECKPOINT_FILE = 'checkpoint.json';
const FORMAT = 'robust-training-checkpoint';

interface Entry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
}

function entries(tensors: SavedTensor[], start: number): { list: Entry[]; end: number } {
  let offset = start;
  const list = tensors.map((t) => {
    const e: Entry = { name: t.name, shape: t.shape, dtype: t.dtype, offset, length: t.data.length };
    offset += t.data.byteLength;
    return e;
  });
  return { list, end: offset };
}

const isStateFile = (f: string): boolean => /^state-epoch\d+\.bin$/.test(f);
const isLeftover = (f: string): boolean => f.startsWith('.') && f.endsWith('.tmp') && (f.includes('state-epoch') || f.includes(CHECKPOINT_FILE));

/** Write a checkpoint into `dir` (created if needed), then remove the files of older ones. */
export async function writeCheckpoint<H>(dir: string, c: Checkpoint<H>): Promise<void> {
  const model = entries(c.model, 0);
  const optimizer = entries(c.optimizer, model.end);
  const bytes = new Uint8Array(optimizer.end);
  for (const [t, e] of [...c.model.map((t, i) => [t, model.list[i]!] as const), ...c.optimizer.map((t, i) => [t, optimizer.list[i]!] as const)]) {
    bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), e.offset);
  }
  const state = `state-epoch${c.epoch}.bin`;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const json = { format: FORMAT, version: 1, epoch: c.epoch, fingerprint: c.fingerprint, history: c.history, state, sha256, model: model.list, optimizer: optimizer.list };
  await writeFilesAtomic([
    { path: join(dir, state), bytes },
    { path: join(dir, CHECKPOINT_FILE), bytes: new TextEncoder().encode(`${JSON.stringify(json, null, 1)}\n`) },
  ]);
  const stale = (await readdir(dir)).filter((f) => (isStateFile(f) && f !== state) || isLeftover(f));
  await Promise.all(stale.map((f) => unlink(join(dir, f)).catch(() => undefined)));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readEntries(v: unknown, size: number, fail: (m: string) => InputError): Entry[] {
  if (!Array.isArray(v)) throw fail('tensor list missing');
  return v.map((e: unknown) => {
    if (!isRecord(e) || typeof e.name !== 'string' || !Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw fail('bad tensor entry');
    }
    const { offset, length, dtype } = e;
    if ((dtype !== 'float32' && dtype !== 'int32') || !Number.isInteger(offset) || !Number.isInteger(length)) throw fail('bad tensor entry');
    const shape = e.shape as number[];
    const o = offset as number;
    const n = length as number;
    if (n !== shape.reduce((a, b) => a * b, 1) || o < 0 || o % 4 !== 0 || o + 4 * n > size) throw fail(`tensor ${e.name} does not fit the state file`);
    return { name: e.name, shape, dtype, offset: o, length: n };
  });
}

/**
 * Read the checkpoint in `dir`, or null when there is none.
 * @throws InputError when it is damaged (one line, saying to remove the folder to start over).
 */
export async function readCheckpoint<H>(dir: string): Promise<Checkpoint<H> | null> {
  const path = join(dir, CHECKPOINT_FILE);
  const fail = (m: string): InputError => new InputError(`checkpoint ${path} is damaged (${m}); remove ${dir} to start training over`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isRecord(err) && err.code === 'ENOENT') return null;
    throw new InputError(`cannot read ${path}: ${errorMessage(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw fail('not JSON');
  }
  if (!isRecord(json) || json.format !== FORMAT || json.version !== 1) throw fail(`not a ${FORMAT} version 1`);
  const { epoch, fingerprint, history, state, sha256 } = json;
  if (!Number.isInteger(epoch) || !isRecord(fingerprint) || !Array.isArray(history) || typeof state !== 'string' || !isStateFile(state) || typeof sha256 !== 'string') {
    throw fail('missing fields');
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(join(dir, state));
  } catch (err) {
    throw fail(`cannot read ${state}: ${errorMessage(err)}`);
  }
  if (createHash('sha256').update(bytes).digest('hex') !== sha256) throw fail(`${state} does not match its SHA-256`);
  // Copy into an aligned buffer: a Buffer may sit at any offset of a shared pool.
  const aligned = new Uint8Array(bytes.length);
  aligned.set(bytes);
  const tensors = (list: Entry[]): SavedTensor[] =>
    list.map((e) => ({
      name: e.name,
      shape: e.shape,
      dtype: e.dtype,
      data: e.dtype === 'float32' ? new Float32Array(aligned.buffer, e.offset, e.length) : new Int32Array(aligned.buffer, e.offset, e.length),
    }));
  return {
    epoch: epoch as number,
    fingerprint,
    history: history as H[],
    model: tensors(readEntries(json.model, bytes.length, fail)),
    optimizer: tensors(readEntries(json.optimizer, bytes.length, fail)),
  };
}

/** Remove a checkpoint's files from `dir`, and `dir` itself when that leaves it empty. Other files stay. */
export async function removeCheckpoint(dir: string): Promise<void> {
  let files: string[];
  try {
    files = await readdir(dir);
  } catch {
    return;
  }
  const ours = files.filter((f) => f === CHECKPOINT_FILE || isStateFile(f) || isLeftover(f));
  await Promise.all(ours.map((f) => unlink(join(dir, f)).catch(() => undefined)));
  if (ours.length === files.length) await rmdir(dir).catch(() => undefined);
}

/**
 * The first setting that differs between two fingerprints, as `name: <saved> in the checkpoint, <now> now`,
 * or null when they agree.
 */
export function fingerprintDifference(saved: Record<string, unknown>, now: Record<string, unknown>): string | null {
  const show = (v: unknown): string => (v === undefined ? 'unset' : JSON.stringify(v));
  for (const key of new Set([...Object.keys(now), ...Object.keys(saved)])) {
    if (JSON.stringify(saved[key]) !== JSON.stringify(now[key])) return `${key}: ${show(saved[key])} in the checkpoint, ${show(now[key])} now`;
  }
  return null;
}
