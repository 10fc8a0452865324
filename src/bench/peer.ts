/**
 * The peers `robust bench` measures in the same run, as child processes: the PyTorch script
 * (`benchmarks/peer/pgd_bench.py`, Debian's python3-torch) and the plain PGD loop on stock TF.js
 * (`benchmarks/peer/tfjs_plain.mjs`, without robust's kernels). Both read the digits robust exports here,
 * so every side attacks the same examples.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tf } from '../tf.js';
import { CheckError, errorMessage } from '../errors.js';
import { encodeNpy } from '../data/npy.js';
import type { Dataset } from '../data/types.js';
import type { Model } from '../models/types.js';
import type { AccuracyEntry, PeerCeiling, PeerEntry, PyTorchPeer, StockTfjsPeer, Throughput } from './types.js';

const run = promisify(execFile);

/** What the peers need to know. */
export interface PeerOptions {
  /** Folder holding `pgd_bench.py` and `tfjs_plain.mjs`. */
  scriptDir: string;
  /** Model folder (model.json + weights) both peers load. It must be the reference CNN's architecture for PyTorch. */
  modelDir: string;
  /** Digits for the ceiling and PGD. */
  data: Dataset;
  /** Digits of the end-to-end suite (the suite's own selection). */
  suiteData: Dataset | null;
  /** The suite's Linf eps list, attacks (fgsm, pgd, deepfool), PGD steps and batch size. */
  suite: { eps: number[]; attacks: string[]; steps: number; batchSize: number } | null;
  pgd: { n: number; steps: number; eps: number; batchSize: number };
  ceilingIterations: number;
  /** Backend for the stock TF.js loop, as TF.js names it (`wasm`, `cpu`). */
  tfBackend: string;
  /** Python interpreters to try, in order; the first that imports torch runs the peer. */
  pythons: string[];
  onNote: (note: string) => void;
}

// ── Reading the peers' JSON without trusting it ─────────────────────────────────────────────────────
type Json = Record<string, unknown>;

function obj(v: unknown, where: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CheckError(`peer output: ${where} is not an object`);
  return v as Json;
}
function num(o: Json, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new CheckError(`peer output: ${where}.${key} is not a number`);
  return v;
}
function numOrNull(o: Json, key: string, where: string): number | null {
  return o[key] === null || o[key] === undefined ? null : num(o, key, where);
}
function str(o: Json, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new CheckError(`peer output: ${where}.${key} is not a string`);
  return v;
}
function arr(o: Json, key: string, where: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new CheckError(`peer output: ${where}.${key} is not a list`);
  return v;
}
function throughputOf(o: Json, where: string): Throughput {
  return { seconds: num(o, 'seconds', where), gradientEvaluations: num(o, 'gradientEvaluations', where), imageGradientStepsPerSecond: num(o, 'imageGradientStepsPerSecond', where) };
}

/** Parse and check the JSON `pgd_bench.py` prints. */
export function parsePyTorchPeer(text: string): PyTorchPeer {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CheckError(`peer output is not JSON: ${errorMessage(err)}`);
  }
  const o = obj(doc, 'output');
  const pgd = obj(o.pgd, 'pgd');
  const e2e = obj(o.e2e, 'e2e');
  const ceiling: PeerCeiling[] = arr(o, 'ceiling', 'output').map((c, i) => {
    const r = obj(c, `ceiling[${i}]`);
    return { threads: num(r, 'threads', 'ceiling'), batchSize: num(r, 'batchSize', 'ceiling'), iterations: num(r, 'iterations', 'ceiling'), ...throughputOf(r, 'ceiling') };
  });
  const results: PeerEntry[] = arr(e2e, 'results', 'e2e').map((e, i) => {
    const r = obj(e, `e2e.results[${i}]`);
    return {
      key: str(r, 'key', 'e2e.results'),
      attack: str(r, 'attack', 'e2e.results'),
      eps: numOrNull(r, 'eps', 'e2e.results'),
      robustAccuracy: numOrNull(r, 'robustAccuracy', 'e2e.results'),
      seconds: num(r, 'seconds', 'e2e.results'),
      gradientEvaluations: num(r, 'gradientEvaluations', 'e2e.results'),
    };
  });
  const worstCase: AccuracyEntry[] = arr(e2e, 'worstCase', 'e2e').map((e, i) => {
    const r = obj(e, `e2e.worstCase[${i}]`);
    return { key: str(r, 'key', 'e2e.worstCase'), robustAccuracy: num(r, 'robustAccuracy', 'e2e.worstCase') };
  });
  return {
    torch: str(o, 'torch', 'output'),
    python: str(o, 'python', 'output'),
    defaultThreads: num(o, 'defaultThreads', 'output'),
    threads: num(o, 'threads', 'output'),
    n: num(o, 'n', 'output'),
    cleanAccuracy: num(o, 'cleanAccuracy', 'output'),
    agreement: numOrNull(o, 'agreement', 'output'),
    ceiling,
    pgd: { n: num(pgd, 'n', 'pgd'), eps: num(pgd, 'eps', 'pgd'), steps: num(pgd, 'steps', 'pgd'), batchSize: num(pgd, 'batchSize', 'pgd'), robustAccuracy: num(pgd, 'robustAccuracy', 'pgd'), ...throughputOf(pgd, 'pgd') },
    e2e: { n: num(e2e, 'n', 'e2e'), cleanAccuracy: num(e2e, 'cleanAccuracy', 'e2e'), results, worstCase, ...throughputOf(e2e, 'e2e') },
  };
}

/** Parse and check the JSON `tfjs_plain.mjs` prints. */
export function parseStockTfjsPeer(text: string): StockTfjsPeer {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CheckError(`stock TF.js peer output is not JSON: ${errorMessage(err)}`);
  }
  const o = obj(doc, 'output');
  return {
    backend: str(o, 'backend', 'output'),
    tfjs: str(o, 'tfjs', 'output'),
    batchSize: num(o, 'batchSize', 'output'),
    steps: num(o, 'steps', 'output'),
    eps: num(o, 'eps', 'output'),
    ...throughputOf(o, 'output'),
  };
}

// ── Running them ─────────────────────────────────────────────────────────────────────────────────────
async function writeNpyPair(dir: string, stem: string, ds: Dataset): Promise<{ x: string; y: string }> {
  const x = join(dir, `${stem}-x.npy`);
  const y = join(dir, `${stem}-y.npy`);
  await writeFile(x, encodeNpy(ds.x, [ds.n, ...ds.shape], 'float32'));
  await writeFile(y, encodeNpy(ds.y, [ds.n], 'int32'));
  return { x, y };
}

/** robust's predicted labels on `ds`, for the peer's agreement check. */
async function predictions(model: Model, ds: Dataset): Promise<Int32Array> {
  const out = new Int32Array(ds.n);
  const size = ds.shape.reduce((a, b) => a * b, 1);
  for (let start = 0; start < ds.n; start += 256) {
    const end = Math.min(ds.n, start + 256);
    const labels = tf.tidy(() => tf.argMax(model.predict(tf.tensor(ds.x.subarray(start * size, end * size), [end - start, ...ds.shape])), 1));
    out.set((await labels.data()) as Int32Array, start);
    labels.dispose();
  }
  return out;
}

async function findPython(candidates: string[]): Promise<string | null> {
  for (const python of candidates) {
    try {
      await run(python, ['-c', 'import torch, numpy'], { timeout: 60_000 });
      return python;
    } catch {
      // not this one: no such interpreter, or no torch/numpy in it
    }
  }
  return null;
}

const MAX_BUFFER = 64 * 1024 * 1024;

/**
 * Run the PyTorch peer. Returns null (with a note) when no interpreter with torch is found or the script
 * is missing; throws CheckError when torch's predictions disagree with robust's on more than 1% of digits.
 */
export async function runPyTorchPeer(model: Model, options: PeerOptions): Promise<PyTorchPeer | null> {
  const script = join(options.scriptDir, 'pgd_bench.py');
  if (!existsSync(script)) {
    options.onNote(`PyTorch peer skipped: ${script} not found (it ships with the repository, not the npm package)`);
    return null;
  }
  const python = await findPython(options.pythons);
  if (!python) {
    options.onNote(`PyTorch peer skipped: none of ${options.pythons.join(', ')} imports torch and numpy; apt-get install -y python3-torch python3-numpy`);
    return null;
  }
  const dir = await mkdtemp(join(tmpdir(), 'robust-bench-'));
  try {
    const digits = await writeNpyPair(dir, 'bench', options.data);
    const pred = join(dir, 'robust-pred.npy');
    const robustPred = await predictions(model, options.data);
    await writeFile(pred, encodeNpy(robustPred, [robustPred.length], 'int32'));
    const args = [
      script, '--x', digits.x, '--y', digits.y, '--robust-pred', pred, '--model', options.modelDir,
      '--ceiling-iterations', String(options.ceilingIterations),
      '--pgd-n', String(options.pgd.n), '--pgd-steps', String(options.pgd.steps), '--pgd-eps', String(options.pgd.eps), '--pgd-batch', String(options.pgd.batchSize),
    ];
    if (options.suite && options.suiteData) {
      const suite = await writeNpyPair(dir, 'suite', options.suiteData);
      args.push(
        '--suite-x', suite.x, '--suite-y', suite.y, '--suite-n', String(options.suiteData.n), '--suite-eps', options.suite.eps.join(','),
        '--suite-attacks', options.suite.attacks.join(','), '--suite-steps', String(options.suite.steps), '--suite-batch', String(options.suite.batchSize),
      );
    } else {
      args.push('--suite-attacks', '');
    }
    let stdout: string;
    try {
      ({ stdout } = await run(python, args, { maxBuffer: MAX_BUFFER }));
    } catch (err) {
      const stderr = (err as { stderr?: unknown }).stderr;
      const last = typeof stderr === 'string' ? stderr.trim().split('\n').pop() : undefined;
      throw new CheckError(`the PyTorch peer failed: ${last ?? errorMessage(err)}`);
    }
    return parsePyTorchPeer(stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Run the plain PGD loop on stock TF.js in a fresh Node process. Null (with a note) when it cannot run there. */
export async function runStockTfjsPeer(options: PeerOptions & { batchSize: number; steps: number; eps: number }): Promise<StockTfjsPeer | null> {
  const script = join(options.scriptDir, 'tfjs_plain.mjs');
  if (!existsSync(script)) {
    options.onNote(`stock TF.js peer skipped: ${script} not found`);
    return null;
  }
  const dir = await mkdtemp(join(tmpdir(), 'robust-bench-'));
  try {
    const digits = await writeNpyPair(dir, 'bench', options.data);
    const args = [script, '--model', options.modelDir, '--x', digits.x, '--y', digits.y, '--backend', options.tfBackend,
      '--batch', String(options.batchSize), '--steps', String(options.steps), '--eps', String(options.eps)];
    try {
      const { stdout } = await run(process.execPath, args, { maxBuffer: MAX_BUFFER });
      return parseStockTfjsPeer(stdout);
    } catch (err) {
      const stderr = (err as { stderr?: unknown }).stderr;
      const last = typeof stderr === 'string' ? stderr.trim().split('\n').pop() : undefined;
      options.onNote(`stock TF.js peer skipped on ${options.tfBackend}: ${last ?? errorMessage(err)}`);
      return null;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
