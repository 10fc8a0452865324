/**
 * The backends robust knows, and what the rest of robust needs to know about each, as facts rather than names:
 * the package whose version a manifest records, the default memory budget, whether it runs on threads and
 * whether its kernels are plain JavaScript. Modules outside `backends/` ask here instead of comparing names.
 */
import { tf } from '../tf.js';

/** Every backend `useBackend` can start, in the order `auto` tries them. */
export const BACKEND_NAMES = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = BackendName | 'auto';

/** What robust knows about one backend. */
export interface BackendFacts {
  /** The name TF.js knows it by (`tf.getBackend()`). */
  tfName: string;
  /** The npm package that implements it, whose version a run's manifest records. */
  package: string;
  /**
   * Tensor bytes a run may use when no `--max-memory` is given, or null for half the free host memory. wasm:
   * half its 4 GiB wasm32 heap, which also holds the module and kernel scratch.
   */
  defaultBudgetBytes: number | null;
  /** Whether its kernels run on a chosen number of threads (`--threads`). */
  threads: boolean;
  /** Whether its kernels are plain JavaScript: minutes where wasm takes seconds, so benchmarks skip heavy tables. */
  pureJs: boolean;
  /**
   * Whether it is embedded (JavaScript or WebAssembly on the CPU, in this process): there a model is faster on
   * onnxruntime's native kernels (`src/models/native/engine.ts`); GPU backends and tfjs-node are native already.
   */
  embedded: boolean;
}

/** The default budget on the wasm backend (see {@link BackendFacts.defaultBudgetBytes}). */
export const WASM_BUDGET_BYTES = 2 * 1024 ** 3;

const FACTS: Record<BackendName, BackendFacts> = {
  'tensorflow-gpu': { tfName: 'tensorflow', package: '@tensorflow/tfjs-node-gpu', defaultBudgetBytes: null, threads: false, pureJs: false, embedded: false },
  tensorflow: { tfName: 'tensorflow', package: '@tensorflow/tfjs-node', defaultBudgetBytes: null, threads: false, pureJs: false, embedded: false },
  webgpu: { tfName: 'webgpu', package: '@tensorflow/tfjs-backend-webgpu', defaultBudgetBytes: null, threads: false, pureJs: false, embedded: false },
  wasm: { tfName: 'wasm', package: '@tensorflow/tfjs-backend-wasm', defaultBudgetBytes: WASM_BUDGET_BYTES, threads: true, pureJs: false, embedded: true },
  cpu: { tfName: 'cpu', package: '@tensorflow/tfjs-backend-cpu', defaultBudgetBytes: null, threads: false, pureJs: true, embedded: true },
};

/**
 * What robust knows about backend `name`.
 * @example backendFacts('wasm').package // '@tensorflow/tfjs-backend-wasm'
 */
export function backendFacts(name: BackendName): BackendFacts {
  return FACTS[name];
}

/**
 * The facts of the backend TF.js runs now, found by its TF.js name (tfjs-node's two builds share one name and
 * the same facts), or null when none robust knows is active.
 */
export function activeBackendFacts(): BackendFacts | null {
  const active = tf.getBackend();
  return BACKEND_NAMES.map((n) => FACTS[n]).find((f) => f.tfName === active) ?? null;
}

/** Whether `choice` may run on threads: a threaded backend, or `auto`, which may pick one. */
export function mayUseThreads(choice: BackendChoice): boolean {
  return choice === 'auto' || FACTS[choice].threads;
}
