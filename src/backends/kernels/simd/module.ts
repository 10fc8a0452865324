/**
 * robust's WebAssembly SIMD element-wise kernels (built by scripts/build-wasm.mjs; see elementwise.wat),
 * instantiated once, synchronously (2 KB), in their own memory. A kernel copies its operands in, runs,
 * and copies the result out: the copies are typed-array `set`s (about 0.1 ms for a 224×224×3 batch of 4),
 * far below the branchy JavaScript loops they replace on random data (3–5 ms, mostly mispredicted
 * branches of the comparisons).
 */
import { ELEMENTWISE_WASM } from './elementwise.js';

/** The slice of the WebAssembly JS API used here (the project's TypeScript libs declare none). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The module's functions, by name in the WAT source. */
export type SimdOp = 'min' | 'max' | 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';

/** (o, a, as, b, bs, n): see scripts/build-wasm.mjs. Offsets in bytes, strides 0 or 1 in elements. */
type Kernel = (o: number, a: number, as: number, b: number, bs: number, n: number) => void;

/** The instantiated module: its memory and one function per op. */
export type SimdKernels = { memory: WasmMemory } & Record<SimdOp, Kernel>;

let kernels: SimdKernels | null | undefined;

/** The kernels, or null where this runtime has no WebAssembly SIMD (then callers keep their JavaScript loops). */
export function simdKernels(): SimdKernels | null {
  if (kernels !== undefined) return kernels;
  try {
    const module = new wasmApi.Module(Buffer.from(ELEMENTWISE_WASM, 'base64'));
    kernels = new wasmApi.Instance(module).exports as SimdKernels;
  } catch {
    kernels = null;
  }
  return kernels;
}

/** Grow the module's memory to at least `bytes`; returns its buffer (views of the old one are detached). */
export function reserve(k: SimdKernels, bytes: number): ArrayBuffer {
  const have = k.memory.buffer.byteLength;
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / 65536));
  return k.memory.buffer;
}
