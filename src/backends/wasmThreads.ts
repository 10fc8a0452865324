/**
 * The multi-threaded wasm backend in Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build (XNNPACK on a pthreadpool) but switches it off in Node
 * (`WASM_HAS_MULTITHREAD_SUPPORT` is false there, tensorflow/tfjs#3830). The Emscripten code inside it does
 * support Node's `worker_threads`; what stops it is only tfjs's loader, which hands Emscripten a Blob URL for the
 * pthread worker script and a Blob for the main script, neither of which a Node worker can load. So robust
 * instantiates that build itself: the worker script goes to a file, the main script is named by its path, and
 * the result is wrapped in tfjs's own `BackendWasm` under the name `wasm`, so every wasm kernel (tfjs's and
 * robust's fixes) runs on it unchanged.
 *
 * The thread count: the build sizes its pool once, at start-up, as `emscripten_num_logical_cores() / 2`
 * (it assumes two hyper-threads per core), clamped to 1..4, and `init_with_threads_count` cannot change it
 * afterwards. In Node that function reads `os.cpus().length`, so robust presents `2 × threads` logical cores to
 * it for the duration of the instantiation. XNNPACK splits work by output tiles and never splits a reduction,
 * so results are bit-identical for every thread count (tested in test/wasm-threads.test.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { tf } from '../tf.js';

const require = createRequire(import.meta.url);

/** The most threads the build's pool accepts (its own clamp). */
export const MAX_WASM_THREADS = 4;

/** The shape of the Emscripten module that tfjs's `BackendWasm` expects (`wasm.tfjs.*` plus cwrap). */
interface EmscriptenModule {
  cwrap: (name: string, ret: string | null, args: string[]) => (...args: number[]) => number;
  PThread?: { runningWorkers?: { unref?: () => void }[]; unusedWorkers?: { unref?: () => void }[] };
  tfjs?: Record<string, (...args: number[]) => number>;
}
type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

/** The default thread count: one per core this process may use, within the build's limit. */
export function defaultWasmThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(MAX_WASM_THREADS, cores));
}

/** Whether this Node can run the threaded build at all. */
export function threadsSupported(): boolean {
  return typeof SharedArrayBuffer === 'function' && typeof Atomics === 'object';
}

function wasmOutDir(): string {
  // The package's main is dist/tf-backend-wasm.node.js; the Emscripten outputs sit in wasm-out/ beside dist/.
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'wasm-out');
}

/**
 * Write the pthread worker script to a file a Node worker can load (once per content). tfjs keeps it as a
 * template string with its newlines escaped for a Blob; the same unescaping as tfjs's loader applies.
 */
function workerScriptPath(dir: string): string {
  const { wasmWorkerContents } = require(join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  const text = wasmWorkerContents.replace(/\n/g, '\\n');
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const path = join(os.tmpdir(), `robust-wasm-worker-${hash}.cjs`);
  if (!existsSync(path)) {
    // Concurrent processes may race here; each writes a complete private file and renames it into place.
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  }
  return path;
}

async function instantiate(threads: number): Promise<EmscriptenModule> {
  const dir = wasmOutDir();
  const factory = require(join(dir, 'tfjs-backend-wasm-threaded-simd.js')) as Factory;
  const worker = workerScriptPath(dir);
  const osModule = require('node:os') as { cpus: typeof os.cpus };
  const cpus = osModule.cpus;
  const one = cpus()[0];
  osModule.cpus = () => Array.from({ length: 2 * threads }, () => one as os.CpuInfo);
  // Emscripten adds process-wide handlers that re-throw every uncaught error with its whole minified source
  // as context; robust reports errors itself, so they are removed again once the module is up.
  const before = { uncaughtException: process.listeners('uncaughtException'), unhandledRejection: process.listeners('unhandledRejection') };
  try {
    const module = await factory({
      locateFile: (path: string, prefix: string) =>
        path.endsWith('.worker.js') ? worker : path.endsWith('.wasm') ? join(dir, 'tfjs-backend-wasm-threaded-simd.wasm') : prefix + path,
      mainScriptUrlOrBlob: join(dir, 'tfjs-backend-wasm-threaded-simd.js'),
    });
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    return module;
  } finally {
    osModule.cpus = cpus;
    for (const listener of process.listeners('uncaughtException')) {
      if (!before.uncaughtException.includes(listener)) process.removeListener('uncaughtException', listener);
    }
    for (const listener of process.listeners('unhandledRejection')) {
      if (!before.unhandledRejection.includes(listener)) process.removeListener('unhandledRejection', listener);
    }
  }
}

let registeredThreads = 0;
let stockFactory: (() => tf.KernelBackend | Promise<tf.KernelBackend>) | undefined;

/**
 * Register TF.js's `wasm` backend with `threads` threads: tfjs's own single-threaded build for 1, the threaded
 * build otherwise. It replaces whatever `wasm` was registered, and starts on the next `tf.setBackend('wasm')`.
 */
export async function registerWasm(threads: number): Promise<void> {
  const wasmPackage = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as {
    BackendWasm: new (module: EmscriptenModule) => tf.KernelBackend;
    setThreadsCount: (n: number) => void;
  };
  // Typed as always defined, but null when nothing is registered under the name.
  const current = tf.findBackendFactory('wasm') as ReturnType<typeof tf.findBackendFactory> | null;
  if (registeredThreads === 0 && current) stockFactory = current;
  if (current && registeredThreads === threads) return;
  if (current) tf.removeBackend('wasm');
  if (threads <= 1) {
    if (!stockFactory) throw new Error('the wasm backend package did not register itself');
    tf.registerBackend('wasm', stockFactory, 2);
  } else {
    tf.registerBackend(
      'wasm',
      async () => {
        const module = await instantiate(threads);
        wasmPackage.setThreadsCount(threads);
        const backend = new wasmPackage.BackendWasm(module);
        // The pool's threads live as long as the process and wait for work; Emscripten refs a Node worker while
        // its thread runs, which would keep a finished CLI run alive for ever. They must not hold the process.
        for (const worker of [...(module.PThread?.runningWorkers ?? []), ...(module.PThread?.unusedWorkers ?? [])]) worker.unref?.();
        return backend;
      },
      2,
    );
  }
  registeredThreads = threads;
}

/** Threads the active wasm backend runs on (1 for tfjs's own single-threaded build). */
export async function wasmThreadsInUse(): Promise<number> {
  const wasmPackage = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as { getThreadsCount: () => number };
  return Math.max(1, wasmPackage.getThreadsCount());
}
