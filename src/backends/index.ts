/**
 * Choosing and initialising a TF.js backend. This is the only module that knows backend names.
 *
 * `auto` tries, in order: tensorflow-gpu, tensorflow (both optional installs of tfjs-node),
 * webgpu (Dawn, only when a GPU adapter exists), wasm (the embedded default) and cpu (the last resort),
 * and reports which one it chose and why the others were skipped.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { tf } from '../tf.js';
import { UsageError, errorMessage } from '../errors.js';
import { registerKernelFixes } from './kernels/index.js';
import { MAX_WASM_THREADS, defaultWasmThreads, registerWasm, threadsSupported, wasmThreadsInUse } from './wasmThreads.js';
import { lastWebGpuProbe, probeWebGpu } from './webgpuProbe.js';
import { BACKEND_NAMES, activeBackendFacts, backendFacts, type BackendChoice, type BackendName } from './names.js';

export { MAX_WASM_THREADS, defaultWasmThreads } from './wasmThreads.js';

export { BACKEND_NAMES, WASM_BUDGET_BYTES, activeBackendFacts, backendFacts, mayUseThreads, type BackendChoice, type BackendFacts, type BackendName } from './names.js';

export interface BackendInfo {
  /** The backend robust chose. */
  name: BackendName;
  /** The name TF.js knows it by (`tf.getBackend()`). */
  tfName: string;
  /** For `auto`: the backends tried before it, with the reason each was skipped. */
  skipped: { name: BackendName; reason: string }[];
  /** What native libraries printed while robust probed the backends (Dawn's warnings); shown under `--verbose`. */
  probeLog?: string;
  /** wasm only: the threads its XNNPACK kernels run on, and why fewer than asked if so. */
  threads?: number;
  threadsNote?: string;
}

/** Options of {@link useBackend}. */
export interface UseBackendOptions {
  /**
   * Threads for the wasm backend (1..4). Default: `ROBUST_WASM_THREADS` if set, else one per core. 1 is tfjs's
   * own single-threaded build; more starts its threaded build on Node worker threads (src/backends/wasmThreads.ts).
   * Results are bit-identical for every count.
   */
  threads?: number;
}

/** The wasm thread count `options` asks for, checked. */
export function wasmThreadsFrom(options: UseBackendOptions = {}): number {
  const fromEnv = process.env.ROBUST_WASM_THREADS;
  const asked = options.threads ?? (fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : defaultWasmThreads());
  if (!Number.isInteger(asked) || asked < 1 || asked > MAX_WASM_THREADS) {
    const where = options.threads !== undefined ? '--threads' : 'ROBUST_WASM_THREADS';
    throw new UsageError(`${where}: expected a whole number of threads from 1 to ${MAX_WASM_THREADS}, got "${String(options.threads ?? fromEnv)}"`);
  }
  return asked;
}

const INSTALL_HINT: Partial<Record<BackendName, string>> = {
  'tensorflow-gpu': 'npm install @tensorflow/tfjs-node-gpu@4.22.0 (needs CUDA and network access to download libtensorflow)',
  tensorflow: 'npm install @tensorflow/tfjs-node@4.22.0 (needs network access to download libtensorflow)',
  webgpu: 'npm install webgpu, and run on a machine with a GPU and a Vulkan driver',
};

/** Dynamic import of an optional package by a computed name, so TypeScript does not require it at build time. */
async function importOptional(specifier: string): Promise<unknown> {
  return import(specifier);
}

function hasVulkanLoader(): boolean {
  const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  const extra = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  return [...extra, ...dirs].some((d) => existsSync(`${d}/libvulkan.so.1`));
}

async function loadWebGpu(quietProbe = false): Promise<void> {
  // Dawn prints a native warning on every start without a Vulkan loader; probe for it first.
  if (process.platform === 'linux' && !hasVulkanLoader()) throw new Error('no Vulkan loader (libvulkan.so.1) found');
  if (quietProbe) {
    // `auto` must not print Dawn's native noise when there is no GPU: ask a child process first.
    const probe = probeWebGpu();
    if (!probe.adapter) throw new Error(probe.reason ?? 'no GPU adapter available');
  }
  const dawn = (await importOptional('webgpu')) as {
    create: (flags: string[]) => { requestAdapter: () => Promise<unknown> };
    globals: Record<string, unknown>;
  };
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter();
  if (adapter === null || adapter === undefined) throw new Error('no GPU adapter available');
  Object.assign(globalThis, dawn.globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  // Registers itself at import time, and only when navigator.gpu exists.
  await import('@tensorflow/tfjs-backend-webgpu');
}

const loaders: Record<BackendName, () => Promise<void>> = {
  'tensorflow-gpu': async () => void (await importOptional('@tensorflow/tfjs-node-gpu')),
  tensorflow: async () => void (await importOptional('@tensorflow/tfjs-node')),
  webgpu: () => loadWebGpu(false),
  wasm: async () => void (await import('@tensorflow/tfjs-backend-wasm')),
  cpu: async () => void (await import('@tensorflow/tfjs-backend-cpu')),
};

async function activateRegistered(tfName: string): Promise<void> {
  const ok = await tf.setBackend(tfName);
  if (!ok) throw new Error(`TF.js could not initialise the ${tfName} backend`);
  await tf.ready();
}

/** Start the wasm backend on `threads` threads, falling back to one thread if the threaded build fails here. */
async function startWasm(threads: number): Promise<{ threads: number; threadsNote?: string }> {
  const wanted = threadsSupported() ? threads : 1;
  await registerWasm(wanted);
  try {
    await activateRegistered('wasm');
  } catch (err) {
    if (wanted === 1) throw err;
    await registerWasm(1);
    await activateRegistered('wasm');
    return { threads: 1, threadsNote: `the threaded wasm build failed to start (${errorMessage(err)}); running on 1 thread` };
  }
  const running = await wasmThreadsInUse();
  if (running < threads) {
    const why = threadsSupported() ? `the build ran ${running}` : 'this Node has no SharedArrayBuffer';
    return { threads: running, threadsNote: `asked for ${threads} threads; ${why}` };
  }
  return { threads: running };
}

async function tryBackend(name: BackendName, options: UseBackendOptions = {}, auto = false): Promise<Pick<BackendInfo, 'threads' | 'threadsNote'>> {
  const { tfName } = backendFacts(name);
  const load = loaders[name];
  await (auto && name === 'webgpu' ? loadWebGpu(true) : load());
  registerKernelFixes(tfName);
  const threads = name === 'wasm' ? await startWasm(wasmThreadsFrom(options)) : (await activateRegistered(tfName), {});
  // The cpu backend greets Node users on first use with a console warning to install tfjs-node; robust
  // reports its own backend choice, so silence the greeting.
  const active = tf.findBackend(tfName) as { firstUse?: boolean } | null;
  if (active && 'firstUse' in active) active.firstUse = false;
  return threads;
}

function reasonOf(name: BackendName, err: unknown): string {
  const msg = errorMessage(err);
  if (/Cannot find (package|module)|ERR_MODULE_NOT_FOUND/.test(msg)) return 'not installed';
  return msg;
}

/**
 * Make `choice` the active TF.js backend and return what was chosen.
 * @example
 *   const info = await useBackend('auto'); // e.g. { name: 'wasm', skipped: [{ name: 'tensorflow', reason: 'not installed' }, ...] }
 */
export async function useBackend(choice: BackendChoice = 'auto', options: UseBackendOptions = {}): Promise<BackendInfo> {
  if (choice !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(choice)) {
    throw new UsageError(`unknown backend "${String(choice)}": choose one of auto, ${BACKEND_NAMES.join(', ')}`);
  }
  if (choice !== 'auto') {
    wasmThreadsFrom(options);
    let threads: Pick<BackendInfo, 'threads' | 'threadsNote'>;
    try {
      threads = await tryBackend(choice, options);
    } catch (err) {
      const reason = reasonOf(choice, err);
      const hint = INSTALL_HINT[choice];
      throw new UsageError(`backend ${choice} is unavailable (${reason})${hint ? `; to use it: ${hint}` : ''}`);
    }
    return { name: choice, tfName: backendFacts(choice).tfName, skipped: [], ...threads };
  }
  wasmThreadsFrom(options);
  const skipped: BackendInfo['skipped'] = [];
  for (const name of BACKEND_NAMES) {
    try {
      const threads = await tryBackend(name, options, true);
      return { name, tfName: backendFacts(name).tfName, skipped, ...threads, ...probeLogOf() };
    } catch (err) {
      skipped.push({ name, reason: reasonOf(name, err) });
    }
  }
  throw new UsageError(`no TF.js backend could be initialised: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

function probeLogOf(): Pick<BackendInfo, 'probeLog'> {
  const log = lastWebGpuProbe()?.log;
  return log ? { probeLog: log } : {};
}

/**
 * The threads the active TF.js backend computes on when it is one of the embedded CPU backends (wasm:
 * the threads its build started; cpu: the cores), where a model is faster on onnxruntime's native
 * kernels (see `src/models/native/engine.ts`), which then get as many; undefined on a GPU or on
 * tfjs-node, whose kernels are native already.
 */
export async function embeddedCpuThreads(): Promise<number | undefined> {
  const facts = activeBackendFacts();
  if (!facts?.embedded) return undefined;
  return facts.threads ? wasmThreadsInUse() : availableParallelism();
}

/** Whether a backend can be loaded here, without keeping it active. Used by tests to skip with a reason. */
export async function backendAvailable(name: BackendName): Promise<boolean> {
  const previous = tf.getBackend();
  try {
    await tryBackend(name);
    return true;
  } catch {
    return false;
  } finally {
    if (previous) await tf.setBackend(previous);
  }
}
