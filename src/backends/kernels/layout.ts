/**
 * Copy and indexing kernels that tfjs-backend-wasm 4.22 gets wrong outside float32 or with less
 * common attributes (found by test/kernels-sweep.test.ts):
 * - `StridedSlice` with strides ≠ 1 or masks always writes a float32 output: int32 values come back as
 *   float bit patterns (a graph model's shape arithmetic breaks), bool inputs are read 4 bytes at a time.
 * - `Select` (tf.where) on bool values returns wrong values, and aborts the wasm module when the
 *   operands were broadcast.
 * - `Reverse` on bool reads past its input ("memory access out of bounds").
 * - `GatherV2` with batchDims > 0 gathers every batch from the first one (and copies slowly otherwise).
 * - `Tile` computes a source index per element (slow; see `tileConfig`).
 * - `Cumsum` and `Cumprod` with a negative axis corrupt the wasm heap (the axis reaches the transpose
 *   unnormalised); on cpu they return an empty array. Both backends get the axis normalised.
 * Each fix handles only the failing case and otherwise calls the shipped kernel.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf.js';
import { type Values, input, patchKernel, stridesOf } from './util.js';

/**
 * Fill every element of a wasm output of `shape` from `x`: `source(coords)` gives the flat index in x
 * of the element at output coordinates `coords`.
 */
function remap(wasm: BackendWasm, x: tf.TensorInfo, shape: number[], source: (coords: number[]) => number): tf.TensorInfo {
  const out = wasm.makeOutput(shape, x.dtype);
  const o = wasm.typedArrayFromHeap(out) as Values;
  const v = wasm.typedArrayFromHeap(x) as Values;
  const coords = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < o.length; ++i) {
    o[i] = v[source(coords)] as number;
    for (let d = shape.length - 1; d >= 0; --d) {
      coords[d] = (coords[d] as number) + 1;
      if ((coords[d] as number) < (shape[d] as number)) break;
      coords[d] = 0;
    }
  }
  return out;
}

interface StridedSliceAttrs {
  begin: number[];
  end: number[];
  strides: number[];
  beginMask: number;
  endMask: number;
  ellipsisMask: number;
  newAxisMask: number;
  shrinkAxisMask: number;
}

/** `StridedSlice` for wasm: int32 and bool inputs are sliced here, float32 by the shipped kernel. */
export function stridedSliceConfig(original: tf.KernelConfig): tf.KernelConfig {
  return patchKernel(original, ({ inputs, backend, attrs }) => {
    const x = input(inputs, 'x');
    if (x.dtype === 'float32') return undefined;
    const a = attrs as unknown as StridedSliceAttrs;
    const info = tf.slice_util.sliceInfo(
      x.shape, a.begin, a.end, a.strides, a.beginMask, a.endMask, a.ellipsisMask, a.newAxisMask, a.shrinkAxisMask,
    );
    // The slice in x's own rank (finalShapeSparse is not always that); the output is the same
    // elements under finalShape, after shrunk and new axes.
    const sliced = info.begin.map((b, d) => Math.max(0, Math.ceil(((info.end[d] as number) - b) / (info.strides[d] as number))));
    const xStrides = stridesOf(x.shape);
    const wasm = backend as BackendWasm;
    const out = remap(wasm, x, sliced, (c) => {
      let at = 0;
      for (let d = 0; d < c.length; ++d) at += ((info.begin[d] as number) + (c[d] as number) * (info.strides[d] as number)) * (xStrides[d] as number);
      return at;
    });
    return { dataId: out.dataId, shape: info.finalShape, dtype: out.dtype };
  });
}

/** `Select` for wasm: bool values are selected here, float32 and int32 by the shipped kernel. */
export function selectConfig(original: tf.KernelConfig): tf.KernelConfig {
  return patchKernel(original, ({ inputs, backend }) => {
    const t = input(inputs, 't');
    if (t.dtype !== 'bool') return undefined;
    const wasm = backend as BackendWasm;
    const condition = input(inputs, 'condition');
    const e = input(inputs, 'e');
    const out = wasm.makeOutput(t.shape, 'bool');
    const o = wasm.typedArrayFromHeap(out) as Uint8Array;
    const cv = wasm.typedArrayFromHeap(condition) as Uint8Array;
    const tv = wasm.typedArrayFromHeap(t) as Uint8Array;
    const ev = wasm.typedArrayFromHeap(e) as Uint8Array;
    // tf.where broadcasts condition, t and e to one shape before it dispatches Select.
    for (let i = 0; i < o.length; ++i) o[i] = (cv[i] as number) !== 0 ? (tv[i] as number) : (ev[i] as number);
    return out;
  });
}

/** `Reverse` for wasm: bool inputs are reversed here, float32 and int32 by the shipped kernel. */
export function reverseConfig(original: tf.KernelConfig): tf.KernelConfig {
  return patchKernel(original, ({ inputs, backend, attrs }) => {
    const x = input(inputs, 'x');
    if (x.dtype !== 'bool') return undefined;
    const dims = tf.util.parseAxisParam((attrs as unknown as { dims: number | number[] }).dims, x.shape);
    const flip = x.shape.map((_, d) => dims.includes(d));
    const xStrides = stridesOf(x.shape);
    return remap(backend as BackendWasm, x, x.shape, (c) => {
      let at = 0;
      for (let d = 0; d < c.length; ++d) at += (flip[d] ? (x.shape[d] as number) - 1 - (c[d] as number) : (c[d] as number)) * (xStrides[d] as number);
      return at;
    });
  });
}

/**
 * `GatherV2` for wasm, done here for float32, int32 and bool: the shipped kernel gathers every batch from
 * the first one when batchDims > 0, and even when it is right it copies element by element through an
 * index computation (50 ms for 4 rows of a 224×224×3 batch, against well under 1 ms for row copies).
 * Each gathered slice is one contiguous block, copied whole.
 */
export function gatherV2Config(original: tf.KernelConfig): tf.KernelConfig {
  return patchKernel(original, ({ inputs, backend, attrs }) => {
    const { axis, batchDims } = attrs as unknown as { axis: number; batchDims: number };
    const x = input(inputs, 'x');
    if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return undefined;
    const wasm = backend as BackendWasm;
    const indices = input(inputs, 'indices');
    const parsedAxis = tf.util.parseAxisParam(axis, x.shape)[0] as number;
    const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(x, indices, parsedAxis, batchDims ?? 0);
    const { batchSize, outerSize, dimSize, sliceSize } = info;
    const perBatch = indices.shape.reduce((p, q) => p * q, 1) / batchSize;
    const idx = Int32Array.from(wasm.typedArrayFromHeap(indices) as Int32Array);
    for (const i of idx) {
      if (i < 0 || i >= dimSize) throw new Error(`GatherV2: the index value ${i} is not in [0, ${dimSize - 1}]`);
    }
    const out = wasm.makeOutput(info.outputShape, x.dtype);
    const o = wasm.typedArrayFromHeap(out) as Values;
    const v = wasm.typedArrayFromHeap(x) as Values;
    // x viewed as [batch, outer, dim, slice], the output as [batch, outer, perBatch, slice].
    let at = 0;
    for (let b = 0; b < batchSize; b++) {
      for (let q = 0; q < outerSize; q++) {
        for (let i = 0; i < perBatch; i++, at += sliceSize) {
          const from = ((b * outerSize + q) * dimSize + (idx[b * perBatch + i] as number)) * sliceSize;
          if (sliceSize === 1) o[at] = v[from] as number;
          else o.set(v.subarray(from, from + sliceSize), at);
        }
      }
    }
    return out;
  });
}

/**
 * `Tile` for wasm, done here for float32, int32 and bool. The shipped kernel computes a source index per
 * element (105 ms to tile a [4, 1, 1, 1] radius over a 224×224×3 batch; `tf.where` and `broadcastTo`
 * tile every broadcast operand). Here x is placed once, then each axis from the innermost out is
 * replicated by doubling block copies.
 */
export function tileConfig(original: tf.KernelConfig): tf.KernelConfig {
  return patchKernel(original, ({ inputs, backend, attrs }) => {
    const x = input(inputs, 'x');
    if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') return undefined;
    const reps = (attrs as unknown as { reps: number[] }).reps;
    const wasm = backend as BackendWasm;
    const shape = x.shape;
    const r = shape.length;
    const outShape = shape.map((n, d) => n * (reps[d] as number));
    const out = wasm.makeOutput(outShape, x.dtype);
    const o = wasm.typedArrayFromHeap(out) as Values;
    if (o.length === 0) return out;
    const v = wasm.typedArrayFromHeap(x) as Values;
    if (r === 0) {
      o[0] = v[0] as number;
      return out;
    }
    const oStrides = stridesOf(outShape);
    // Offsets in the output of every position over x's own extents of axes [0, d).
    const offsets = (d: number): number[] => {
      let at = [0];
      for (let k = 0; k < d; k++) {
        const next: number[] = [];
        for (const base of at) for (let i = 0; i < (shape[k] as number); i++) next.push(base + i * (oStrides[k] as number));
        at = next;
      }
      return at;
    };
    const inner = shape[r - 1] as number;
    let from = 0;
    for (const base of offsets(r - 1)) {
      if (inner < 16) for (let i = 0; i < inner; i++) o[base + i] = v[from + i] as number;
      else o.set(v.subarray(from, from + inner), base);
      from += inner;
    }
    // Axis d: the block of x's extent along d (already complete below d) is repeated reps[d] times.
    for (let d = r - 1; d >= 0; d--) {
      const rep = reps[d] as number;
      if (rep === 1) continue;
      const block = (shape[d] as number) * (oStrides[d] as number);
      const total = block * rep;
      for (const base of offsets(d)) {
        for (let filled = block; filled < total; ) {
          const n = Math.min(filled, total - filled);
          o.copyWithin(base + filled, base, base + n);
          filled += n;
        }
      }
    }
    return out;
  });
}

/** `Cumsum` or `Cumprod` (either backend) with a negative axis turned into its non-negative equivalent. */
export function cumulativeAxisConfig(original: tf.KernelConfig): tf.KernelConfig {
  return patchKernel(original, ({ inputs, backend, attrs }) => {
    const axis = (attrs as unknown as { axis: number }).axis;
    if (!(axis < 0)) return undefined;
    const x = input(inputs, 'x');
    const fixed = { ...attrs, axis: tf.util.parseAxisParam(axis, x.shape)[0] as number };
    return original.kernelFunc({ inputs, backend: backend as tf.KernelBackend, attrs: fixed });
  });
}
