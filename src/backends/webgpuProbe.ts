/**
 * Whether Dawn finds a GPU adapter here, asked in a child process. Dawn writes native warnings straight to
 * file descriptor 2 while it looks for an adapter ("XDG_RUNTIME_DIR is invalid", Vulkan feature warnings),
 * which no JavaScript hook can silence; a child with piped stderr keeps them off the user's terminal. Its
 * output is kept so `--verbose` can show it.
 */
import { spawnSync } from 'node:child_process';

export interface WebGpuProbe {
  /** Dawn returned an adapter. */
  adapter: boolean;
  /** Why not, in one line, when there is no adapter. */
  reason?: string;
  /** What Dawn printed while probing (native warnings), for `--verbose`. */
  log: string;
}

const PROBE = `
let dawn;
try { dawn = require('webgpu'); } catch (e) { process.stdout.write(JSON.stringify({ adapter: false, reason: 'not installed' })); process.exit(0); }
dawn.create([]).requestAdapter().then(
  (a) => process.stdout.write(JSON.stringify(a ? { adapter: true } : { adapter: false, reason: 'no GPU adapter available' })),
  (e) => process.stdout.write(JSON.stringify({ adapter: false, reason: String((e && e.message) || e).split('\\n')[0] })),
);
`;

let cached: WebGpuProbe | undefined;

/** Probe once per process; later calls reuse the answer. */
export function probeWebGpu(): WebGpuProbe {
  if (cached) return cached;
  const child = spawnSync(process.execPath, ['-e', PROBE], {
    cwd: process.cwd(),
    encoding: 'utf8',
    timeout: 30_000,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Resolve `webgpu` from robust's own install, not the user's working directory.
    env: { ...process.env, NODE_PATH: moduleRoots() },
  });
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

/** The node_modules folders above this file, so the child finds the same optional packages robust would. */
function moduleRoots(): string {
  const roots: string[] = [];
  let dir = new URL('.', import.meta.url).pathname;
  for (;;) {
    roots.push(`${dir.replace(/\/$/, '')}/node_modules`);
    const parent = dir.replace(/\/[^/]+\/?$/, '/');
    if (parent === dir || parent === '') break;
    dir = parent;
  }
  const existing = process.env.NODE_PATH;
  return [...roots, ...(existing ? [existing] : [])].join(':');
}
