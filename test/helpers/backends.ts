import { tf } from '../../src/tf.js';
import { useBackend, type BackendName } from '../../src/backends/index.js';

/** The backends every test table runs on. Both ship with robust, so neither is ever skipped. */
export const TEST_BACKENDS: BackendName[] = ['cpu', 'wasm'];

/** Make `name` the active backend (call in beforeAll / beforeEach of a describe.each block). */
export async function activate(name: BackendName): Promise<void> {
  await useBackend(name);
}

/** Run `fn` and assert it leaves no tensor behind. Returns fn's result. */
export async function noLeak<T>(fn: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`leaked ${after - before} tensors`);
  return result;
}
