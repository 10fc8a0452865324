/**
 * Whether Dawn finds a GPU adapter here, asked in a child process. Dawn writes native warnings straight to
 * file descriptor 2 while it looks for an adapter ("XDG_RUNTIME_DIR is invalid", Vulkan feature warnings),
 * which no JavaScript hook can silence; a child with piped stderr keeps them off the user's terminal. Its
 * output is kept so `--verbose` can show it.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

export interface WebGpuProbe {
  /** Dawn returned an adapter. */
  adapter: boolean;
  /** Why not, in one line, when there is no adapter. */
  reason?: string;
  /** What Dawn printed while probing (native warnings), for `--verbose`. */
  log: string;
}

/** The child's script; it is handed the path of robust's own `webgpu` install as its first argument. */
const PROBE = `
const dawn = require(process.argv[1]);
dawn.create([]).requestAdapter().then(
  (a) => process.stdout.write(JSON.stringify(a ? { adapter: true } : { adapter: false, reason: 'no GPU adapter available' })),
  (e) => process.stdout.write(JSON.stringify({ adapter: false, reason: String((e && e.message) || e).split('\\n')[0] })),
);
`;

let cached: WebGpuProbe | undefined;

/** Probe once per process; later calls reuse the answer. */
export function probeWebGpu(): WebGpuProbe {
  if (cached) return cached;
  let entry: string;
  try {
    // Resolved from robust's own install, not the user's working directory; absent means not installed.
    entry = createRequire(import.meta.url).resolve('webgpu');
  } catch {
    cached = { adapter: false, reason: 'not installed', log: '' };
    return cached;
  }
  const child = spawnSync(process.execPath, ['-e', PROBE, entry], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = (child.stderr ?? '').trim();
  try {
    const parsed = JSON.parse(child.stdout ?? '') as { adapter: boolean; reason?: string };
    cached = { adapter: parsed.adapter, ...(parsed.reason !== undefined ? { reason: parsed.reason } : {}), log };
  } catch {
    const why = child.error ? child.error.message : `the probe exited with ${String(child.status ?? child.signal)}`;
    cached = { adapter: false, reason: `WebGPU probe failed (${why})`, log };
  }
  return cached;
}

/** The answer of the last probe in this process, if one ran. */
export function lastWebGpuProbe(): WebGpuProbe | undefined {
  return cached;
}
