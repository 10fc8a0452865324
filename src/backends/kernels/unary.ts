/**
 * Element-wise kernels that tfjs-backend-wasm 4.22 computes wrongly for small values:
 * - `Sign` returns 0 for |x| below about 1e-7. Input gradients of a confident CNN are often ~1e-14 per
 *   pixel, so FGSM and PGD-Linf (steps along sign(∇)) silently stall on wasm and overstate robustness.
 * - `Log1p` is computed as log(1 + x), which is 0 below about 6e-8 and 0.1% off at 1e-5.
 * Both are replaced by exact JavaScript loops over the wasm heap.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf.js';
import { type KernelArgs, input } from './util.js';

function unary(kernelName: string, f: (v: number) => number): tf.KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }: KernelArgs) => {
      const wasm = backend as BackendWasm;
      const x = input(inputs, 'x');
      const dtype = kernelName === tf.Log1p ? 'float32' : x.dtype;
      const out = wasm.makeOutput(x.shape, dtype);
      // Views after the allocation: growing the heap detaches earlier ones.
      const o = wasm.typedArrayFromHeap(out) as Float32Array | Int32Array;
      const v = wasm.typedArrayFromHeap(x) as Float32Array | Int32Array;
      for (let i = 0; i < o.length; i++) o[i] = f(v[i] as number);
      return out;
    },
  };
}

/** sign(x) ∈ {−1, 0, 1}; NaN maps to 0, as on the cpu backend. */
export const signConfig = unary(tf.Sign, (v) => (v > 0 ? 1 : v < 0 ? -1 : 0));
export const log1pConfig = unary(tf.Log1p, Math.log1p);

/**
 * `OneHot` for wasm: the shipped kernel ignores the `dtype` attribute and writes int32 bit patterns into
 * a float32 output (oneHot(..., 'float32') gives 1.4e-45 for 1), which silently zeroed the gradient of
 * any loss built on a float one-hot mask (DLR's top-k picks, for one).
 */
export const oneHotConfig: tf.KernelConfig = {
  kernelName: tf.OneHot,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const wasm = backend as BackendWasm;
    const indices = input(inputs, 'indices');
    const { depth, onValue, offValue, dtype } = attrs as unknown as { depth: number; onValue: number; offValue: number; dtype: tf.DataType };
    const out = wasm.makeOutput([...indices.shape, depth], dtype);
    const o = wasm.typedArrayFromHeap(out) as Float32Array | Int32Array;
    const idx = wasm.typedArrayFromHeap(indices) as Int32Array;
    o.fill(offValue);
    for (let i = 0; i < idx.length; i++) {
      const k = idx[i] as number;
      if (k >= 0 && k < depth) o[i * depth + k] = onValue;
    }
    return out;
  },
};
