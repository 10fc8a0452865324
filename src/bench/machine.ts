import os from 'node:os';
import { BACKEND_NAMES, backendFacts } from '../backends/index.js';
import { VERSION, installedVersion } from '../version.js';
import type { MachineInfo } from './types.js';

/**
 * The TF.js packages whose versions a benchmark records (those installed; optional backends may be absent).
 * Backends go from cpu up, the order earlier results list them in.
 */
const PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-converter', ...[...BACKEND_NAMES].reverse().map((b) => backendFacts(b).package)];

/** Versions of robust and of every installed TF.js package. */
export function packageVersions(): Record<string, string> {
  const out: Record<string, string> = { robust: VERSION };
  for (const name of new Set(PACKAGES)) {
    const version = installedVersion(name);
    if (version !== null) out[name] = version;
  }
  return out;
}

/** The machine as a benchmark reports it; `loadAverage.peers` and `.end` are filled in later. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    totalMemoryBytes: os.totalmem(),
    platform: os.platform(),
    release: os.release(),
    loadAverage: { start: os.loadavg(), peers: null, end: [] },
    node: process.versions.node,
    packages: packageVersions(),
  };
}
