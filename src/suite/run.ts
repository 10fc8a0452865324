/**
 * `robust test` as a library call: load the model and data a suite names, run the clean pass and every
 * attack over the same examples, probe the model for gradient masking, and evaluate thresholds.
 */
import { createRequire } from 'node:module';
import { useBackend, type BackendChoice, type BackendInfo } from '../backends/index.js';
import { getAttack } from '../attacks/registry.js';
import { runAttack, type AttackReport } from '../attacks/run.js';
import type { NormName } from '../attacks/core/norms.js';
import { loadDataset, makeDataset, takeIndices, toModelLayout, validateDataset, type Dataset, type LoadedDataset } from '../data/index.js';
import { loadModel } from '../models/index.js';
import type { Model } from '../models/types.js';
import { withDefenses } from '../defenses/registry.js';
import { predictLabels, correctFlags } from '../metrics/accuracy.js';
import { CheckError, UsageError } from '../errors.js';
import { VERSION } from '../version.js';
import type { LoadedConfig } from './config.js';
import { suggest } from '../options/schema.js';
import { evaluate, thresholdKeys, type SuiteAttack, type CertificationMeta } from './evaluate.js';
import { CERTIFY_DEFAULTS, certifyDataset, radiusGrid, type CertifySettings } from './certify.js';
import { estimateMemory, planBatch, type BatchPlan, type MemoryEstimate } from '../util/memory.js';
import { attackId, epsKey, parseEpsKey } from './keys.js';
import { runProbes } from './probes.js';
import { attackWork } from './preflight.js';
import { resolveFeatures } from './features.js';
import { scaleFeatures, scaleInputs } from '../models/scaled.js';
import type { FeatureConstraints } from '../attacks/core/constraints.js';
import { chooseGallery, pickSamples } from './samples.js';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { gitInfo, hostInfo, modelFileHashes, relativeSource, relativeTo } from '../provenance/manifest.js';
import type { ExampleOutcomes, RunManifest, SuiteResult } from './types.js';
import { boundsRange } from '../tensor/range.js';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

export interface SuiteProgress {
  stage: 'clean' | 'attack' | 'certify' | 'probes';
  /** Attack id during the 'attack' stage. */
  attack?: string;
  done: number;
  total: number;
  /** Robust accuracy so far at the attack's largest eps. */
  robust?: number;
  /** During 'certify': certified accuracy so far at radius 0 (the smoothed classifier's accuracy). */
  certified?: number;
}

export interface RunSuiteOptions {
  /** Overrides the config's backend. */
  backend?: BackendChoice;
  /** wasm threads (see `useBackend`). */
  threads?: number;
  /** Overrides the config's seed. */
  seed?: string;
  shard?: Shard;
  onProgress?: (p: SuiteProgress) => void;
  /** Called once the backend is chosen. */
  onBackend?: (info: BackendInfo) => void;
  /**
   * Called after the clean pass with an estimate of the attacks' time: their gradient evaluations at most
   * ({@link attackWork}) at about three clean forward passes each, timed on this model and backend.
   */
  onEstimate?: (estimate: { gradientEvaluations: number; seconds: number }) => void;
  /** Called when the model gives less than gradients because of its format (an ONNX model run black-box), with the reason. */
  onAccessNote?: (note: string) => void;
  /** Overrides the config's `adaptive` (e.g. `--adaptive false`). */
  adaptive?: boolean;
  /**
   * Tensor-memory budget in bytes, or 'auto' for the backend's default (see `runAttack`): the clean pass, every
   * attack and certification shrink their batches to fit. Results do not depend on it. Default: no budget.
   */
  maxMemoryBytes?: number | 'auto';
  /** Called once per stage ('clean', an attack id, 'certify') with its batch plan when `maxMemoryBytes` is set. */
  onBatchPlan?: (stage: string, plan: BatchPlan) => void;
  /** The command's arguments, recorded in the manifest (the CLI passes `process.argv.slice(2)`). */
  commandLine?: string[];
  /**
   * Run only these positions of the selection (0-based, ascending), keeping per-example outcomes; every random
   * choice is keyed by position, so each example's outcome is the one a full run gives (`robust verify --recheck`).
   */
  examples?: number[];
}

/**
 * The noisy copies per forward pass that fit `maxBytes` when certifying `model` (forward passes only, plus the
 * noise and the noisy input). Noise is drawn in chunks of batch × features values by Box-Muller, which pairs
 * values, so with an odd number of features the batch is kept even: the stream, and so every certificate, is
 * then the same as with any other even batch.
 */
export function certifyBatchPlan(model: Model, settings: CertifySettings, maxBytes: number | 'auto'): BatchPlan {
  const features = model.inputShape.reduce((a, b) => a * b, 1);
  return planBatch(estimateMemory(model, { gradients: false }), {
    requested: Math.min(settings.batchSize, Math.max(settings.n0, settings.samples)),
    maxBytes,
    stateCopies: 3,
    inputBytes: 4 * features,
    multipleOf: features % 2 === 1 ? 2 : 1,
    what: `certification on inputs of shape [${model.inputShape.join(', ')}]`,
  });
}

/** "2/4" → { index: 2, count: 4 }. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count) throw new UsageError(`--shard: expected i/n with 1 <= i <= n (e.g. 1/4), got "${text}"`);
  return { index, count };
}

/** The positions (in the full selection of `total`) a shard covers: a contiguous, deterministic block. */
export function shardRange(total: number, shard: Shard | undefined): [number, number] {
  if (!shard) return [0, total];
  return [Math.floor(((shard.index - 1) * total) / shard.count), Math.floor((shard.index * total) / shard.count)];
}

function packageVersions(backend: string): Record<string, string> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string> = { robust: VERSION, node: process.versions.node };
  const pkgs = ['@tensorflow/tfjs-core', ({ wasm: '@tensorflow/tfjs-backend-wasm', cpu: '@tensorflow/tfjs-backend-cpu', webgpu: '@tensorflow/tfjs-backend-webgpu', tensorflow: '@tensorflow/tfjs-node', 'tensorflow-gpu': '@tensorflow/tfjs-node-gpu' } as Record<string, string>)[backend]];
  for (const p of pkgs) {
    if (!p) continue;
    try {
      out[p] = (require(`${p}/package.json`) as { version: string }).version;
    } catch {
      out[p] = 'unknown';
    }
  }
  return out;
}

/** The config's path relative to the working directory, or its file name alone when it lies outside it. */
function configPathOf(path: string): string {
  const rel = relativeTo(path, process.cwd());
  return rel.startsWith('../') || isAbsolute(rel) ? basename(path) : rel;
}

/** ‖x‖₂ of every example of `ds`. */
function inputNorms(ds: Dataset): number[] {
  const size = ds.shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: ds.n }, (_, i) => {
    let s = 0;
    for (let f = i * size; f < (i + 1) * size; f++) s += (ds.x[f] as number) ** 2;
    return Math.sqrt(s);
  });
}

/** Attack entries of the config as metas (ids made unique), with their eps lists. */
function plan(loaded: LoadedConfig): (SuiteAttack & { options: Record<string, unknown> })[] {
  const seen = new Map<string, number>();
  return loaded.config.attacks.map((a) => {
    const info = getAttack(a.name);
    const norm: NormName = a.norm ?? info.norms[0] ?? 'linf';
    let id = attackId(a.name, norm);
    const count = (seen.get(id) ?? 0) + 1;
    seen.set(id, count);
    if (count > 1) id = `${id}#${count}`;
    const eps = a.eps === undefined ? [null] : Array.isArray(a.eps) ? [...new Set(a.eps)].sort((x, y) => x - y) : [a.eps];
    return { id, name: a.name, norm, kind: info.kind, params: {}, eps, gradientEvaluations: 0, queries: 0, seconds: 0, options: a.options ?? {} };
  });
}

function checkThresholdKeys(loaded: LoadedConfig, metas: SuiteAttack[]): void {
  const keys = thresholdKeys(metas);
  for (const field of ['robustAccuracy', 'minClassRobustAccuracy', 'minSliceRobustAccuracy'] as const) {
    const spec = loaded.config.thresholds?.[field];
    for (const key of typeof spec === 'object' ? Object.keys(spec) : []) {
      if (keys.includes(key)) continue;
      const hint = suggest(key, keys);
      throw new UsageError(`${loaded.path ?? 'config'}: thresholds.${field}["${key}"]: no attack of this suite evaluates that; ${hint ? `did you mean "${hint}"?` : `keys here are ${keys.join(', ')}`}`);
    }
  }
}

function slice(ds: LoadedDataset, from: number, to: number): { ds: Dataset; indices: number[] } {
  if (from === 0 && to === ds.n) return { ds, indices: Array.from(ds.indices) };
  const pos = Int32Array.from({ length: to - from }, (_, i) => from + i);
  return { ds: makeDataset(takeIndices(ds, pos)), indices: Array.from(pos, (p) => ds.indices[p]!) };
}

function pick(ds: LoadedDataset, positions: number[]): { ds: Dataset; indices: number[] } {
  return { ds: makeDataset(takeIndices(ds, Int32Array.from(positions))), indices: positions.map((p) => ds.indices[p]!) };
}

/**
 * Run a suite. Throws UsageError/InputError for bad config, model or data, and CheckError when the model's
 * SHA-256 differs from the pinned one. Threshold failures are in the result's verdict, not thrown.
 * @example
 *   const result = await runSuite(await loadConfig('examples/mnist/robust.config.json'));
 *   console.log(result.verdict.status, result.worstCase.map((w) => [w.key, w.robustAccuracy.value]));
 */
export async function runSuite(loaded: LoadedConfig, options: RunSuiteOptions = {}): Promise<SuiteResult> {
  const { config } = loaded;
  const started = new Date();
  const t0 = performance.now();
  const seed = options.seed ?? String(config.seed ?? 0);
  const metas = plan(loaded);
  checkThresholdKeys(loaded, metas);

  const backend = await useBackend(options.backend ?? config.backend ?? 'auto', options.threads !== undefined ? { threads: options.threads } : {});
  options.onBackend?.(backend);
  const loadedModel = await loadModel(config.model.path, {
    ...(config.model.bounds ? { bounds: config.model.bounds } : {}),
    ...(config.model.normalization ? { normalization: config.model.normalization } : {}),
    ...(config.model.output ? { output: config.model.output } : {}),
  });
  if (loadedModel.accessNote !== undefined) options.onAccessNote?.(loadedModel.accessNote);
  // With defences, everything below (clean pass, attacks, probes) sees the view the suite asks for:
  // adaptive (BPDA/EOT gradients) by default, or the naive one; disposing it disposes the loaded model.
  let model: Model = loadedModel;
  if (config.defenses && config.defenses.length > 0) {
    try {
      const defended = withDefenses(loadedModel, config.defenses, { seed });
      model = (options.adaptive ?? config.adaptive ?? true) ? defended.adaptive : defended.naive;
    } catch (err) {
      loadedModel.dispose();
      throw err;
    }
  }
  try {
    if (config.model.sha256 && model.sha256 !== config.model.sha256) {
      throw new CheckError(
        `model ${config.model.path} has SHA-256 ${model.sha256} but the config pins ${config.model.sha256}: it may have been tampered with or replaced; if the change is intended, update model.sha256`,
      );
    }
    let full = toModelLayout(await loadDataset(config.data.source, {
      ...(config.data.n !== undefined ? { n: config.data.n } : {}),
      ...(config.data.offset !== undefined ? { offset: config.data.offset } : {}),
      ...(config.data.sample ? { sample: config.data.sample } : {}),
      seed: config.data.seed ?? seed,
    }), loadedModel);
    // A features section puts model and data in the features' units and gives every attack its mask and constraints.
    let threat: { mask?: Float32Array; constraints?: FeatureConstraints } = {};
    if (config.features) {
      const features = full.shape.reduce((a, b) => a * b, 1);
      const resolved = resolveFeatures(config.features, full.featureNames, features, model.bounds, `${loaded.path ?? 'config'}: features`);
      model = scaleInputs(model, resolved.scale, resolved.bounds);
      full = { ...full, x: scaleFeatures(full.x, resolved.scale) };
      threat = { ...(resolved.mask ? { mask: resolved.mask } : {}), constraints: resolved.constraints };
    }
    validateDataset(full, { inputShape: model.inputShape, numClasses: model.numClasses, bounds: model.bounds });
    if (config.thresholds?.minSliceRobustAccuracy !== undefined && full.groups === undefined) {
      throw new UsageError(
        `${loaded.path ?? 'config'}: thresholds.minSliceRobustAccuracy needs slices, but ${full.source} has no group column; name one (csv:<file>,<label>,<group>, or a group column in an image folder's labels.csv)`,
      );
    }
    const [from, to] = shardRange(full.n, options.shard);
    if (to <= from) throw new UsageError(`shard ${options.shard!.index}/${options.shard!.count} of ${full.n} examples is empty; use fewer shards`);
    const picked = options.examples;
    if (picked && picked.some((p) => !Number.isInteger(p) || p < 0 || p >= full.n)) throw new UsageError(`examples: positions must be whole numbers in 0..${full.n - 1}`);
    const { ds, indices } = picked ? pick(full, picked) : slice(full, from, to);
    const positions = picked ? [...picked] : Array.from({ length: ds.n }, (_, i) => from + i);
    const batchSize = config.batchSize ?? 100;
    let cleanBatch = batchSize;
    let estimate: MemoryEstimate | undefined;
    if (options.maxMemoryBytes !== undefined) {
      // One probe serves every attack; with gradients it also bounds the clean pass, which runs forward only.
      estimate = estimateMemory(model);
      const plan = planBatch(estimate, {
        requested: Math.min(batchSize, ds.n),
        maxBytes: options.maxMemoryBytes,
        inputBytes: 4 * ds.shape.reduce((a, b) => a * b, 1),
        what: `the clean pass on inputs of shape [${ds.shape.join(', ')}]`,
      });
      options.onBatchPlan?.('clean', plan);
      cleanBatch = plan.batchSize;
    }
    const memory = options.maxMemoryBytes !== undefined && estimate ? { maxMemoryBytes: options.maxMemoryBytes, memoryEstimate: estimate } : {};

    options.onProgress?.({ stage: 'clean', done: 0, total: ds.n });
    const cleanStart = performance.now();
    const correct = correctFlags(await predictLabels(model, ds, cleanBatch), ds.y);
    const perForward = (performance.now() - cleanStart) / 1000 / ds.n;
    options.onProgress?.({ stage: 'clean', done: ds.n, total: ds.n });
    const gradientEvaluations = ds.n * metas.reduce((sum, m) => sum + attackWork(m.name, m.options, m.eps.length), 0);
    options.onEstimate?.({ gradientEvaluations, seconds: 3 * perForward * gradientEvaluations });

    const examples: ExampleOutcomes = {
      indices,
      labels: Array.from(ds.y),
      cleanCorrect: Array.from(correct),
      robust: {},
      norms: {},
      inputL2: inputNorms(ds),
      minNorm: {},
      certificates: null,
      groups: ds.groups ?? null,
      probes: { fullRangeBroken: [], gradientFinite: [], gradientNonZero: [], deterministic: [], probabilityLike: [], logitDrift: [] },
    };
    const forSamples: { key: string; report: AttackReport; eps: number | null }[] = [];
    for (const meta of metas) {
      const a0 = performance.now();
      // Minimum-norm attacks run once without a budget; every eps is then answered from the distances found.
      const minimum = meta.kind === 'minimum-norm';
      options.onProgress?.({ stage: 'attack', attack: meta.id, done: 0, total: ds.n });
      const report = await runAttack(
        model,
        ds,
        { name: meta.name, norm: meta.norm, eps: minimum || meta.eps[0] === null ? null : (meta.eps as number[]), options: { ...meta.options, ...threat, seed: `${seed}/${meta.id}`, exampleIds: Int32Array.from(positions) } },
        {
          batchSize,
          keepAdversarial: (config.samples ?? 8) > 0,
          onProgress: (done, total, robust) => options.onProgress?.({ stage: 'attack', attack: meta.id, done, total, robust }),
          ...memory,
          onBatchPlan: (plan) => options.onBatchPlan?.(meta.id, plan),
        },
      );
      const { exampleIds: _ids, ...params } = report.params;
      meta.params = params;
      meta.gradientEvaluations = report.timing.gradientEvaluations;
      meta.queries = report.timing.queries;
      meta.seconds = (performance.now() - a0) / 1000;
      const record = (key: string, robust: (i: number) => boolean, norms: { l0: Float32Array; l2: Float32Array; linf: Float32Array }) => {
        // Robust = clean-correct and not broken, as the suite counts it (clean mistakes are never robust).
        examples.robust[key] = Array.from(correct, (c, i) => (c && robust(i) ? 1 : 0));
        const broken = (i: number) => (correct[i] && !robust(i) ? 1 : 0);
        examples.norms[key] = {
          l0: Array.from(norms.l0, (v, i) => (broken(i) ? v : 0)),
          l2: Array.from(norms.l2, (v, i) => (broken(i) ? v : 0)),
          linf: Array.from(norms.linf, (v, i) => (broken(i) ? v : 0)),
        };
      };
      if (minimum) {
        const found = report.results[0]!;
        // Per-example sizes are kept in Linf, L2 and L0; an L1 run is measured by L2 here (no L1 is kept).
        const size = found.norms[meta.norm === 'l1' ? 'l2' : meta.norm];
        const d = Array.from(correct, (c, i) => (!c ? 0 : found.isAdversarial[i] ? (size[i] as number) : null));
        examples.minNorm[meta.id] = d;
        for (const eps of meta.eps) {
          record(epsKey(meta.id, eps), (i) => { const v = d[i]; return v === null || v === undefined || (eps !== null && v > eps); }, found.norms);
        }
        continue; // minimal perturbations can exceed every budget: no samples from them
      }
      for (const r of report.results) record(epsKey(meta.id, r.eps), (i) => Boolean(r.robust[i]), r.norms);
      // Keep the adversarial inputs the gallery may show: at the largest eps and at every eps a threshold names.
      const largest = meta.eps[meta.eps.length - 1] ?? null;
      const galleryEps = new Set<number | null>([largest, ...thresholdEps(config.thresholds?.robustAccuracy, meta.norm)]);
      for (const r of report.results) {
        if (!galleryEps.has(r.eps)) delete r.xAdv;
        else forSamples.push({ key: epsKey(meta.id, r.eps), report, eps: r.eps });
      }
    }

    let certification: CertificationMeta | undefined;
    if (config.certify) {
      const c0 = performance.now();
      const settings = {
        sigma: config.certify.sigma,
        n0: config.certify.n0 ?? CERTIFY_DEFAULTS.n0,
        samples: config.certify.samples ?? CERTIFY_DEFAULTS.samples,
        alpha: config.certify.alpha ?? CERTIFY_DEFAULTS.alpha,
        batchSize: config.certify.batchSize ?? CERTIFY_DEFAULTS.batchSize,
      };
      let certifyBatch = settings.batchSize;
      if (options.maxMemoryBytes !== undefined) {
        const plan = certifyBatchPlan(model, settings, options.maxMemoryBytes);
        options.onBatchPlan?.('certify', plan);
        certifyBatch = plan.batchSize;
      }
      options.onProgress?.({ stage: 'certify', done: 0, total: ds.n });
      // The result records the batch size asked for: certificates do not depend on it (see certifyBatchPlan).
      const certs = await certifyDataset(model, ds, { ...settings, batchSize: certifyBatch }, {
        seed: `${seed}/certify`,
        exampleIds: positions,
        onProgress: (done, total, so) => {
          const right = so.filter((c, i) => c.prediction >= 0 && c.prediction === ds.y[i]).length;
          options.onProgress?.({ stage: 'certify', done, total, certified: right / done });
        },
      });
      examples.certificates = {
        prediction: certs.map((c) => c.prediction),
        radius: certs.map((c) => c.radius),
        pALower: certs.map((c) => c.pALower),
        count: certs.map((c) => c.count),
      };
      // Radii with a threshold are always on the curve, so every threshold is judged on a measured point.
      const thresholdRadii = Object.keys(config.thresholds?.certifiedAccuracy ?? {}).map(Number);
      certification = { ...settings, radii: radiusGrid(config.certify.radii ?? CERTIFY_DEFAULTS.radii, thresholdRadii), seconds: (performance.now() - c0) / 1000 };
    }

    options.onProgress?.({ stage: 'probes', done: 0, total: 1 });
    examples.probes = await runProbes(model, ds, positions, full.n, correct, seed);
    options.onProgress?.({ stage: 'probes', done: 1, total: 1 });

    // The gallery shows the examples behind the verdict: the failing threshold's, else the worst case's.
    const gallery = chooseGallery(metas.filter((m) => m.kind !== 'minimum-norm'), examples.robust, config.thresholds?.robustAccuracy);
    const samples = gallery ? await pickSamples(model, ds, examples, forSamples.filter((s) => gallery.keys.includes(s.key)), config.samples ?? 8) : [];

    // Paths are written relative to the config, so a report shows no one's home folder.
    const baseDir = loaded.path === null ? process.cwd() : dirname(resolve(loaded.path));
    const manifest: RunManifest = {
      robust: VERSION,
      seed,
      backend: backend.name,
      packages: packageVersions(backend.name),
      model: { path: relativeTo(config.model.path, baseDir), sha256: model.sha256 ?? null, pinned: config.model.sha256 ?? null, files: await modelFileHashes(config.model.path, baseDir) },
      data: {
        source: relativeSource(config.data.source, baseDir),
        n: full.n,
        sha256: full.sha256,
        subset: { n: config.data.n ?? null, offset: config.data.offset ?? 0, sample: config.data.sample ?? 'first', seed: String(config.data.seed ?? seed) },
      },
      config: { path: loaded.path === null ? null : configPathOf(loaded.path), sha256: loaded.sha256 },
      startedAt: started.toISOString(),
      endedAt: new Date().toISOString(),
      seconds: (performance.now() - t0) / 1000,
      host: hostInfo(),
      threads: backend.threads ?? options.threads ?? null,
      commandLine: options.commandLine ?? null,
      git: gitInfo(process.cwd()),
      shard: options.shard ?? null,
      defenses: {
        names: (config.defenses ?? []).map((d) => JSON.stringify(d)),
        adaptive: (config.defenses?.length ?? 0) > 0 ? (options.adaptive ?? config.adaptive ?? true) : null,
      },
    };
    return evaluate({
      manifest,
      thresholds: config.thresholds,
      numClasses: model.numClasses,
      attacks: metas.map(({ options: _o, ...m }) => m),
      examples,
      input: {
        shape: ds.shape,
        ...boundsRange(model.bounds),
        numClasses: model.numClasses,
      },
      samples,
      keepExamples: Boolean(config.perExample) || options.shard !== undefined || picked !== undefined,
      ...(certification ? { certification } : {}),
    });
  } finally {
    model.dispose();
  }
}

/** The eps values of `norm` that robust-accuracy threshold keys (`<attack or worst>@<norm>:<eps>`) name. */
function thresholdEps(robustAccuracy: Record<string, number> | undefined, norm: string): number[] {
  return Object.keys(robustAccuracy ?? {}).flatMap((key) => {
    const parts = parseEpsKey(key);
    return parts !== null && parts.norm === norm ? [parts.eps] : [];
  });
}
