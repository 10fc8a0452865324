/**
 * `robust bench` as a library call: robust's speed and memory on the active backend(s), and the peers
 * (PyTorch, plain stock TF.js) on the same digits in the same run, so ratios survive machine drift.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { measureKernels } from './kernels.js';
import { backendFacts, mayUseThreads, useBackend, type BackendChoice, type BackendInfo } from '../backends/index.js';
import { loadDataset } from '../data/index.js';
import type { Dataset } from '../data/types.js';
import { errorMessage, InputError } from '../errors.js';
import { loadModel, type LoadedModel } from '../models/index.js';
import { loadConfig, type LoadedConfig } from '../suite/config.js';
import { runSuite } from '../suite/run.js';
import { machineInfo } from './machine.js';
import { headOf, measureCeiling, measureCw, measureMemory, measurePgd, measurePlainLoop } from './measure.js';
import { runPyTorchPeer, runStockTfjsPeer, type PeerOptions } from './peer.js';
import { BENCH_SCHEMA, type BackendBench, type BenchResult, type ModelBench, type PeerBench, type SuiteBench } from './types.js';

/** How much work each measurement does. */
export interface BenchSizes {
  /** Batch of the ceiling, the plain loop and PGD. Default 128 (the issue's). */
  batchSize: number;
  ceilingWarmup: number;
  /** Calls per timed round of the ceiling (three rounds, the fastest counts). */
  ceilingIterations: number;
  /** Steps of the plain tf.grad PGD loop (one batch). */
  plainSteps: number;
  /** Digits PGD runs on, its steps and eps. */
  pgdN: number;
  pgdSteps: number;
  pgdEps: number;
  /** Digits and Adam steps per binary-search round of Carlini-Wagner. */
  cwN: number;
  cwSteps: number;
  cwBinarySteps: number;
  memoryAttack: 'fgsm' | 'pgd';
  /** Attack batches between the two memory readings (the issue asks for 1,000) and examples per batch. */
  memoryBatches: number;
  memoryBatchSize: number;
  /** Cap on the suite's examples; null runs the suite as configured. */
  suiteN: number | null;
}

/** The full benchmark: minutes on two cores. */
export const FULL_SIZES: BenchSizes = {
  batchSize: 128,
  ceilingWarmup: 3,
  ceilingIterations: 5,
  plainSteps: 40,
  pgdN: 256,
  pgdSteps: 40,
  pgdEps: 0.3,
  cwN: 32,
  cwSteps: 100,
  cwBinarySteps: 9,
  memoryAttack: 'pgd',
  memoryBatches: 1000,
  memoryBatchSize: 2,
  suiteN: null,
};

/** A smoke run (`--quick`): every measurement, each on a few examples. */
export const QUICK_SIZES: BenchSizes = {
  batchSize: 128,
  ceilingWarmup: 1,
  ceilingIterations: 1,
  plainSteps: 4,
  pgdN: 32,
  pgdSteps: 40,
  pgdEps: 0.3,
  cwN: 4,
  cwSteps: 10,
  cwBinarySteps: 2,
  memoryAttack: 'pgd',
  memoryBatches: 50,
  memoryBatchSize: 2,
  suiteN: 10,
};

/** A model to benchmark: a path (model.json or its folder), or a loader with a label (e.g. a model built in memory). */
export type BenchModelSpec = string | { name: string; load: () => Promise<LoadedModel>; dir?: string };

/** Options of {@link runBenchmarks}. */
export interface BenchOptions {
  /** Small sizes for a smoke run. Default false. */
  quick?: boolean;
  /** Backends to measure, one after the other. Default ['auto']. */
  backends?: BackendChoice[];
  /**
   * wasm thread counts to measure, one backend run each, the first being the one the ratios use. Default:
   * the `useBackend` default only (one thread per core).
   */
  wasmThreads?: number[];
  /** Default: `models/mnist-cnn` and `models/mnist-cnn-at` of the package (a missing one is skipped with a note). */
  models?: BenchModelSpec[];
  /** Digits for the ceiling, PGD, CW and memory. Default: the first ones of `mnist:test`. */
  data?: Dataset;
  /** The suite timed end to end; default `examples/mnist/robust.config.json`; null skips it. */
  config?: string | LoadedConfig | null;
  /** Overrides of the sizes `quick` picks. */
  sizes?: Partial<BenchSizes>;
  /**
   * Run the peers after robust's measurements: the PyTorch script (needs python3-torch) and the plain loop on
   * stock TF.js. Default true; each is skipped with a note when it cannot run.
   */
  peer?: boolean | { pythons?: string[]; scriptDir?: string };
  /** Measure robust itself. Default true; false runs only the peers (`robust bench --peer-only`). */
  measureRobust?: boolean;
  /** One line per stage, for progress output. */
  onProgress?: (message: string) => void;
}

/**
 * Read a result `robust bench --json` wrote, e.g. to re-render the page or compare runs.
 * @throws InputError when the file is missing or is not a bench result.
 */
export async function readBenchResult(path: string): Promise<BenchResult> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new InputError(`cannot read bench result ${path}: ${errorMessage(err)}; pass a file written by robust bench --json`);
  }
  if (typeof doc !== 'object' || doc === null || (doc as { schema?: unknown }).schema !== BENCH_SCHEMA) {
    throw new InputError(`${path} is not a robust bench result (no "schema": "${BENCH_SCHEMA}"); pass a file written by robust bench --json`);
  }
  return doc as BenchResult;
}

/** The package root (the folder holding package.json, models/, examples/, benchmarks/): two levels above this file. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const DEFAULT_MODELS = ['models/mnist-cnn', 'models/mnist-cnn-at'];
const DEFAULT_CONFIG = 'examples/mnist/robust.config.json';
const DEFAULT_PYTHONS = [process.env.ROBUST_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => Boolean(p));

interface ResolvedModel {
  name: string;
  dir: string | null;
  load: () => Promise<LoadedModel>;
}

function resolveModels(specs: BenchModelSpec[] | undefined, notes: string[]): ResolvedModel[] {
  const out: ResolvedModel[] = [];
  for (const spec of specs ?? DEFAULT_MODELS) {
    if (typeof spec !== 'string') {
      out.push({ name: spec.name, dir: spec.dir ?? null, load: spec.load });
      continue;
    }
    const path = specs ? spec : join(PACKAGE_ROOT, spec);
    const dir = path.endsWith('.json') ? dirname(path) : path;
    if (!existsSync(path)) {
      notes.push(`${spec}: not found, skipped${spec.includes('-at') ? ' (the adversarially trained model is not shipped yet)' : ''}`);
      continue;
    }
    out.push({ name: spec, dir, load: () => loadModel(path) });
  }
  return out;
}

async function resolveConfig(config: BenchOptions['config'], notes: string[]): Promise<LoadedConfig | null> {
  if (config === null) return null;
  if (config !== undefined && typeof config !== 'string') return config;
  const path = config ?? join(PACKAGE_ROOT, DEFAULT_CONFIG);
  if (!existsSync(path)) {
    notes.push(`end-to-end suite skipped: ${path} not found`);
    return null;
  }
  return loadConfig(path);
}

/** `loaded` with at most `n` examples. */
function capSuite(loaded: LoadedConfig, n: number | null): LoadedConfig {
  if (n === null) return loaded;
  const configured = loaded.config.data.n ?? n;
  return { ...loaded, config: { ...loaded.config, data: { ...loaded.config.data, n: Math.min(configured, n) } } };
}

/** The suite's own examples, selected as `runSuite` selects them. */
async function suiteData(loaded: LoadedConfig): Promise<Dataset> {
  const { data, seed } = loaded.config;
  return loadDataset(data.source, {
    ...(data.n !== undefined ? { n: data.n } : {}),
    ...(data.offset !== undefined ? { offset: data.offset } : {}),
    ...(data.sample ? { sample: data.sample } : {}),
    seed: data.seed ?? String(seed ?? 0),
  });
}

/** What of the suite the PyTorch peer can replay: Linf FGSM and PGD at their eps, and L2 DeepFool. */
function peerSuite(loaded: LoadedConfig, notes: string[]): PeerOptions['suite'] {
  const eps = new Set<number>();
  const attacks: string[] = [];
  let steps = 40;
  for (const a of loaded.config.attacks) {
    const norm = a.norm ?? (a.name === 'deepfool' ? 'l2' : 'linf');
    if ((a.name === 'fgsm' || a.name === 'pgd') && norm === 'linf') {
      for (const e of Array.isArray(a.eps) ? a.eps : a.eps === undefined ? [] : [a.eps]) eps.add(e);
      if (a.name === 'pgd' && typeof a.options?.steps === 'number') steps = a.options.steps;
      attacks.push(a.name);
    } else if (a.name === 'deepfool' && norm === 'l2') {
      attacks.push(a.name);
    } else {
      notes.push(`the PyTorch peer has no ${a.name} (${norm}); its end-to-end time leaves it out`);
    }
  }
  return { eps: [...eps].sort((a, b) => a - b), attacks, steps, batchSize: loaded.config.batchSize ?? 100 };
}

async function benchModel(model: LoadedModel, name: string, data: Dataset, s: BenchSizes, say: (m: string) => void): Promise<ModelBench> {
  say(`${name}: ceiling (forward + input gradient, batch ${s.batchSize})`);
  const ceiling = await measureCeiling(model, data, s.batchSize, s.ceilingWarmup, s.ceilingIterations);
  say(`${name}: plain tf.grad PGD loop (${s.plainSteps} steps)`);
  const plainLoop = await measurePlainLoop(model, data, s.batchSize, s.plainSteps, s.pgdEps);
  const pgdData = headOf(data, s.pgdN);
  const pgd = [];
  for (const earlyStop of [false, true]) {
    say(`${name}: PGD-${s.pgdSteps} on ${pgdData.n} digits, early stop ${earlyStop ? 'on' : 'off'}`);
    pgd.push(await measurePgd(model, pgdData, { eps: s.pgdEps, steps: s.pgdSteps, batchSize: s.batchSize, earlyStop }));
  }
  say(`${name}: CW-${s.cwSteps} on ${Math.min(s.cwN, data.n)} digits`);
  const cw = await measureCw(model, headOf(data, s.cwN), { steps: s.cwSteps, binarySteps: s.cwBinarySteps });
  return { model: name, sha256: model.sha256 ?? null, ceiling, plainLoop, pgd, cw };
}

async function benchSuite(loaded: LoadedConfig, backend: BackendInfo): Promise<SuiteBench> {
  const t0 = performance.now();
  const result = await runSuite(loaded, { backend: backend.name });
  const seconds = (performance.now() - t0) / 1000;
  return {
    config: loaded.path ?? 'config',
    n: result.n,
    seconds,
    gradientEvaluations: result.attacks.reduce((a, r) => a + r.gradientEvaluations, 0),
    cleanAccuracy: result.cleanAccuracy.value,
    attacks: result.attacks.map((a) => ({ id: a.id, seconds: a.seconds, gradientEvaluations: a.gradientEvaluations })),
    robustAccuracy: [
      ...result.attacks.flatMap((a) => a.results.map((r) => ({ key: r.key, robustAccuracy: r.robustAccuracy.value }))),
      ...result.worstCase.map((w) => ({ key: w.key, robustAccuracy: w.robustAccuracy.value })),
    ],
  };
}

/**
 * Measure robust on each backend asked for: per model the ceiling (forward + input gradient), a plain
 * `tf.grad` PGD loop, robust's PGD with early stop off and on, and Carlini-Wagner; then the end-to-end
 * suite and tensors/RSS over many attack batches. Then the peers on the same digits. Missing pieces (a
 * model not shipped, no python3-torch) are skipped with a note, never silently.
 * @example
 *   const result = await runBenchmarks({ quick: true, backends: ['wasm'] });
 *   console.log(result.backends[0]?.models[0]?.ceiling.imageGradientStepsPerSecond);
 */
export async function runBenchmarks(options: BenchOptions = {}): Promise<BenchResult> {
  const started = new Date();
  const t0 = performance.now();
  const sizes: BenchSizes = { ...(options.quick ? QUICK_SIZES : FULL_SIZES), ...options.sizes };
  const say = options.onProgress ?? (() => undefined);
  const notes: string[] = [];
  const machine = machineInfo();
  const models = resolveModels(options.models, notes);
  const loadedConfig = await resolveConfig(options.config, notes);
  const config = loadedConfig ? capSuite(loadedConfig, sizes.suiteN) : null;
  const need = Math.max(sizes.batchSize, sizes.pgdN, sizes.cwN, sizes.memoryBatchSize);
  const data = options.data ?? (await loadDataset('mnist:test', { n: need }));
  const measureRobust = options.measureRobust ?? true;

  const backends: BackendBench[] = [];
  let peer: PeerBench | null = null;
  const runs = (options.backends ?? ['auto']).flatMap((choice): { choice: BackendChoice; threads?: number }[] =>
    mayUseThreads(choice) && options.wasmThreads?.length ? options.wasmThreads.map((threads) => ({ choice, threads })) : [{ choice }],
  );
  for (const { choice, threads } of runs) {
    const info = await useBackend(choice, threads !== undefined ? { threads } : {});
    say(`backend ${info.name}${info.threads !== undefined ? ` on ${info.threads} thread(s)` : ''}`);
    const bench: BackendBench = { backend: info.name, ...(info.threads !== undefined ? { threads: info.threads } : {}), models: [], suite: null, memory: null };
    if (measureRobust) {
      // The kernel table times reference-CNN shapes at batch 128: seconds on wasm, many minutes on the pure-JS
      // cpu backend, and nothing a smoke run needs.
      if (options.quick || backendFacts(info.name).pureJs) {
        notes.push(`kernel table skipped on ${info.name}${options.quick ? ' (quick run)' : ' (too slow at batch 128)'}`);
      } else {
        say('kernels: robust against shipped, reference-CNN shapes at batch 128');
        bench.kernels = measureKernels({ batch: 128, iterations: 3, rounds: 3 });
      }
      for (const spec of models) {
        const model = await spec.load();
        try {
          bench.models.push(await benchModel(model, spec.name, data, sizes, say));
          if (bench.memory === null) {
            say(`${spec.name}: memory over ${sizes.memoryBatches} ${sizes.memoryAttack} batches of ${sizes.memoryBatchSize}`);
            bench.memory = await measureMemory(model, data, { attack: sizes.memoryAttack, batches: sizes.memoryBatches, batchSize: sizes.memoryBatchSize });
          }
        } finally {
          model.dispose();
        }
      }
      if (config) {
        say(`end-to-end suite ${config.path ?? ''} (${config.config.data.n ?? 'all'} examples)`);
        bench.suite = await benchSuite(config, info);
      }
    }
    backends.push(bench);
    // The peers run once, right after the first backend, so robust and its peers share the machine's state.
    if (peer === null && options.peer !== false) {
      machine.loadAverage.peers = os.loadavg();
      peer = await runPeers(options, models, data, config, sizes, info, notes, say);
    }
  }
  machine.loadAverage.end = os.loadavg();
  return {
    schema: BENCH_SCHEMA,
    date: started.toISOString(),
    quick: Boolean(options.quick),
    seconds: (performance.now() - t0) / 1000,
    machine,
    backends,
    peer,
    notes,
  };
}

async function runPeers(
  options: BenchOptions,
  models: ResolvedModel[],
  data: Dataset,
  config: LoadedConfig | null,
  sizes: BenchSizes,
  backend: BackendInfo,
  notes: string[],
  say: (m: string) => void,
): Promise<PeerBench> {
  const reference = models[0];
  if (!reference?.dir) {
    notes.push('peers skipped: they need a model folder on disk (the first model has none)');
    return { pytorch: null, stockTfjs: null };
  }
  const custom = typeof options.peer === 'object' ? options.peer : {};
  const common: PeerOptions = {
    scriptDir: custom.scriptDir ?? join(PACKAGE_ROOT, 'benchmarks', 'peer'),
    modelDir: reference.dir,
    data,
    suiteData: config ? await suiteData(config) : null,
    suite: config ? peerSuite(config, notes) : null,
    pgd: { n: Math.min(sizes.pgdN, data.n), steps: sizes.pgdSteps, eps: sizes.pgdEps, batchSize: sizes.batchSize },
    ceilingIterations: sizes.ceilingIterations,
    tfBackend: backend.tfName,
    pythons: custom.pythons ?? DEFAULT_PYTHONS,
    onNote: (note) => notes.push(note),
  };
  say(`peer: plain PGD loop on stock TF.js (${backend.tfName})`);
  const stockTfjs = await runStockTfjsPeer({ ...common, batchSize: sizes.batchSize, steps: sizes.plainSteps, eps: sizes.pgdEps });
  say('peer: PyTorch (ceiling, PGD, end-to-end suite)');
  const model = await reference.load();
  try {
    const pytorch = await runPyTorchPeer(model, common);
    return { pytorch, stockTfjs };
  } catch (err) {
    notes.push(`PyTorch peer failed: ${errorMessage(err)}`);
    return { pytorch: null, stockTfjs };
  } finally {
    model.dispose();
  }
}
