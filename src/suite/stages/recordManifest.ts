/**
 * Stage 8 of `runSuite`: where the result came from: versions, seed, backend, model and data hashes, the
 * config, the host, the git commit and the time taken. Paths are written relative to the config, so a report
 * shows no one's home folder.
 */
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { backendFacts, type BackendInfo } from '../../backends/index.js';
import type { Model, ModelEngine } from '../../models/types.js';
import { gitInfo, hostInfo, modelFileHashes, relativeSource, relativeTo } from '../../provenance/manifest.js';
import { VERSION, installedVersion } from '../../version.js';
import type { LoadedConfig } from '../config.js';
import type { RunManifest } from '../types.js';
import type { SelectedExamples } from './selectExamples.js';
import type { RunSuiteOptions } from './types.js';

/** What {@link recordManifest} needs. */
export interface ManifestInput {
  loaded: LoadedConfig;
  seed: string;
  backend: BackendInfo;
  /** What ran the model: with onnxruntime, its package joins the versions that computed the numbers. */
  engine: ModelEngine;
  model: Model;
  full: SelectedExamples['full'];
  /** Whether attacks went through the defences' BPDA/EOT gradients; null without defences. */
  adaptive: boolean | null;
  /** When the run started, and `performance.now()` then. */
  started: { at: Date; t0: number };
  options: Pick<RunSuiteOptions, 'threads' | 'commandLine' | 'shard'>;
}

/** Build the run's manifest (called last, so `endedAt` and `seconds` cover the whole run). */
export async function recordManifest({ loaded, seed, backend, engine, model, full, adaptive, started, options }: ManifestInput): Promise<RunManifest> {
  const { config } = loaded;
  const baseDir = loaded.path === null ? process.cwd() : dirname(resolve(loaded.path));
  return {
    robust: VERSION,
    seed,
    backend: backend.name,
    packages: packageVersions([backendFacts(backend.name).package, ...(engine === 'onnxruntime' ? ['onnxruntime-node'] : [])]),
    model: { path: relativeTo(config.model.path, baseDir), sha256: model.sha256 ?? null, pinned: config.model.sha256 ?? null, files: await modelFileHashes(config.model.path, baseDir) },
    data: {
      source: relativeSource(config.data.source, baseDir),
      n: full.n,
      sha256: full.sha256,
      subset: { n: config.data.n ?? null, offset: config.data.offset ?? 0, sample: config.data.sample ?? 'first', seed: String(config.data.seed ?? seed) },
    },
    config: { path: loaded.path === null ? null : configPathOf(loaded.path), sha256: loaded.sha256 },
    startedAt: started.at.toISOString(),
    endedAt: new Date().toISOString(),
    seconds: (performance.now() - started.t0) / 1000,
    host: hostInfo(),
    threads: backend.threads ?? options.threads ?? null,
    commandLine: options.commandLine ?? null,
    git: gitInfo(process.cwd()),
    shard: options.shard ?? null,
    defenses: {
      names: (config.defenses ?? []).map((d) => JSON.stringify(d)),
      adaptive,
    },
  };
}

/** Versions of robust, Node, tfjs-core and the backend's own package (`unknown` where one cannot be read). */
function packageVersions(computing: string[]): Record<string, string> {
  const out: Record<string, string> = { robust: VERSION, node: process.versions.node };
  for (const p of ['@tensorflow/tfjs-core', ...computing]) out[p] = installedVersion(p) ?? 'unknown';
  return out;
}

/** The config's path relative to the working directory, or its file name alone when it lies outside it. */
function configPathOf(path: string): string {
  const rel = relativeTo(path, process.cwd());
  return rel.startsWith('../') || isAbsolute(rel) ? basename(path) : rel;
}
