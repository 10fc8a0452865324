import { createRequire } from 'node:module';
import os from 'node:os';
import { VERSION } from '../version.js';
import type { MachineInfo } from './types.js';

/** The TF.js packages whose versions a benchmark records (those installed; optional ones may be absent). */
const PACKAGES = [
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-layers',
  '@tensorflow/tfjs-converter',
  '@tensorflow/tfjs-backend-cpu',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-backend-webgpu',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
];

/** Versions of robust and of every installed TF.js package. */
export function packageVersions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string> = { robust: VERSION };
  for (const name of PACKAGES) {
    try {
      out[name] = (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      // not installed: optional backends are simply left out
    }
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
