/**
 * Element-wise kernels that tfjs-backend-wasm 4.22 computes wrongly (found by test/kernels-sweep.test.ts):
 * - `Sign` returns 0 for |x| below about 1e-7. Input gradients of a confident CNN are often ~1e-14 per
 *   pixel, so FGSM and PGD-Linf (steps along sign(∇)) silently stall on wasm and overstate robustness.
 * - `Log1p` is computed as log(1 + x), which is 0 below about 6e-8 and 0.1% off at 1e-5.
 * - `Selu` is computed as exp(x) − 1 in float32 for x < 0: 0 for |x| below 3e-8, 100% off at 5e-8.
 * - `Sin` and `Cos` lose their argument reduction above |x| ≈ 1e6 (cos(3e8) off in the 4th digit,
 *   cos(1e20) of the wrong sign), and with them the gradient of `Tan`.
 * - `Relu6` and `ClipByValue` map NaN to a bound, so a diverged attack or model looks valid on wasm
 *   while cpu shows the NaN; `ClipByValue` also reads int32 inputs as float32 bit patterns.
 * - `Cast` to bool copies bytes instead of testing for non-zero (cast(0.5) was false, cast(256) false).
 * All are replaced by exact JavaScript loops over the wasm heap.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf.js';
import { type KernelArgs, type Values, input, patchKernel } from './util.js';

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
/** log(1 + x) without the cancellation of 1 + x. */
export const log1pConfig = unary(tf.Log1p, Math.log1p);
/** sin(x) with float64 argument reduction, exact for any float32 x. */
export const sinConfig = unary(tf.Sin, Math.sin);
/** cos(x) with float64 argument reduction, exact for any float32 x. */
export const cosConfig = unary(tf.Cos, Math.cos);
/** min(max(x, 0), 6), keeping NaN as the cpu backend does. */
export const relu6Config = unary(tf.Relu6, (v) => Math.min(Math.max(v, 0), 6));

// The SELU constants of Klambauer et al. (2017), as tfjs-core's selu_util has them.
const SELU_SCALE = 1.0507009873554804934193349852946;
const SELU_SCALE_ALPHA = 1.7580993408473768599402175208123;
/** scale · x for x > 0, scale · alpha · (eᕽ − 1) otherwise, with expm1 so that tiny x stay exact. */
export const seluConfig = unary(tf.Selu, (v) => (v > 0 ? SELU_SCALE * v : SELU_SCALE_ALPHA * Math.expm1(v)));

/** clip(x, min, max) for float32 and int32, keeping NaN as the cpu backend does. */
export const clipByValueConfig: tf.KernelConfig = {
  kernelName: tf.ClipByValue,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const wasm = backend as BackendWasm;
    const x = input(inputs, 'x');
    const { clipValueMin: lo, clipValueMax: hi } = attrs as unknown as { clipValueMin: number; clipValueMax: number };
    const out = wasm.makeOutput(x.shape, x.dtype);
    const o = wasm.typedArrayFromHeap(out) as Values;
    const v = wasm.typedArrayFromHeap(x) as Values;
    for (let i = 0; i < o.length; i++) {
      const e = v[i] as number;
      o[i] = e > hi ? hi : e < lo ? lo : e;
    }
    return out;
  },
};

/**
 * `Cast` for wasm: casts to bool are computed here (x ≠ 0, so NaN is true, as on cpu and in
 * TensorFlow); every other cast is left to the shipped kernel, which the sweep found exact.
 */
export function castConfig(original: tf.KernelConfig): tf.KernelConfig {
  return patchKernel(original, ({ inputs, backend, attrs }) => {
    const x = input(inputs, 'x');
    if ((attrs as { dtype?: string } | undefined)?.dtype !== 'bool' || x.dtype === 'bool') return undefined;
    const wasm = backend as BackendWasm;
    const out = wasm.makeOutput(x.shape, 'bool');
    const o = wasm.typedArrayFromHeap(out) as Uint8Array;
    const v = wasm.typedArrayFromHeap(x) as Values;
    for (let i = 0; i < o.length; i++) o[i] = v[i] !== 0 ? 1 : 0;
    return out;
  });
}

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
