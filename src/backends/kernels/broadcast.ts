/**
 * Element-wise binary kernels for wasm that the shipped backend runs through its generic broadcasting
 * loop: `Minimum`, `Maximum` and the comparisons. TF.js's wasm backend sends `Add`, `Sub`, `Mul` and
 * `Div` to XNNPACK but these to a per-element index computation, which on a [4, 224, 224, 3] batch
 * took 110–160 ms against a per-example [4, 1, 1, 1] radius and 4–14 ms even with equal shapes,
 * against 0.2–1.5 ms for `Add` (2 threads, 2026-12-06). PGD's projection is two of them per step, and
 * they cost as much as the MobileNetV2 input gradient itself.
 *
 * Here the broadcast is planned once: axes of extent 1 are dropped and neighbouring axes that both
 * inputs step through alike are merged, so a per-example radius becomes [b, features] against [b, 1]
 * and the inner loop runs over whole examples with a constant operand. Values follow the cpu backend
 * (`Math.min`/`Math.max`, so NaN propagates; comparisons give 1 or 0). float32 operands run each row on
 * robust's WebAssembly SIMD kernels (`simd/`), four or sixteen lanes at a time and branch-free: the
 * JavaScript loops below took 3–5 ms per op on a [4, 224, 224, 3] batch of gradients, mostly mispredicted
 * branches, four to six ops per PGD step. int32 operands run the JavaScript loops; anything else goes to
 * the shipped kernel.
 */
import { tf } from '../../tf.js';
import { reserve, simdKernels, type SimdKernels, type SimdOp } from './simd/module.js';
import { type KernelArgs, type Values, input, patchKernel, stridesOf, typedOutput } from './util.js';

/** The inner loop of one op: n outputs from a (stride as) and b (stride bs). */
type Inner = (o: Values, oi: number, a: Values, ai: number, as: number, b: Values, bi: number, bs: number, n: number) => void;

/** A broadcast of two shapes: the output shape, and the merged loop axes with each input's strides. */
export interface BroadcastPlan {
  outShape: number[];
  dims: number[];
  aStrides: number[];
  bStrides: number[];
}

/** Plan the broadcast of `a` against `b` (NumPy rules; the caller's op has already checked they agree). */
export function planBroadcast(a: number[], b: number[]): BroadcastPlan {
  const outShape = tf.backend_util.assertAndGetBroadcastShape(a, b);
  const r = outShape.length;
  const pad = (s: number[]): number[] => [...new Array<number>(r - s.length).fill(1), ...s];
  const pa = pad(a);
  const pb = pad(b);
  const sa = stridesOf(pa);
  const sb = stridesOf(pb);
  const dims: number[] = [];
  const aStrides: number[] = [];
  const bStrides: number[] = [];
  for (let d = 0; d < r; d++) {
    const n = outShape[d] as number;
    if (n === 1) continue;
    const as = pa[d] === 1 ? 0 : (sa[d] as number);
    const bs = pb[d] === 1 ? 0 : (sb[d] as number);
    const k = dims.length - 1;
    // Merge with the previous loop axis when stepping it once equals stepping this one n times, for both.
    if (k >= 0 && aStrides[k] === as * n && bStrides[k] === bs * n) {
      dims[k] = (dims[k] as number) * n;
      aStrides[k] = as;
      bStrides[k] = bs;
    } else {
      dims.push(n);
      aStrides.push(as);
      bStrides.push(bs);
    }
  }
  return { outShape, dims, aStrides, bStrides };
}

/** Run `inner` over a planned broadcast: an odometer over the outer axes, `inner` along the last. */
export function runBroadcast(plan: BroadcastPlan, o: Values, a: Values, b: Values, inner: Inner): void {
  walk(plan, o.length, (oi, ai, as, bi, bs, n) => inner(o, oi, a, ai, as, b, bi, bs, n));
}

/** The odometer of {@link runBroadcast}: `row` gets each row's element offsets, the last axis's strides, and its length. */
function walk(plan: BroadcastPlan, size: number, row: (oi: number, ai: number, as: number, bi: number, bs: number, n: number) => void): void {
  const { dims, aStrides, bStrides } = plan;
  const last = dims.length - 1;
  if (last < 0) {
    row(0, 0, 0, 0, 0, 1);
    return;
  }
  const n = dims[last] as number;
  const as = aStrides[last] as number;
  const bs = bStrides[last] as number;
  const coords = new Array<number>(last).fill(0);
  let ai = 0;
  let bi = 0;
  for (let oi = 0; oi < size; oi += n) {
    row(oi, ai, as, bi, bs, n);
    for (let d = last - 1; d >= 0; d--) {
      coords[d] = (coords[d] as number) + 1;
      ai += aStrides[d] as number;
      bi += bStrides[d] as number;
      if ((coords[d] as number) < (dims[d] as number)) break;
      ai -= (aStrides[d] as number) * (dims[d] as number);
      bi -= (bStrides[d] as number) * (dims[d] as number);
      coords[d] = 0;
    }
  }
}

// One function per op, so that each inner loop stays monomorphic.
const INNER: Record<string, Inner> = {
  [tf.Minimum]: (o, oi, a, ai, as, b, bi, bs, n) => {
    for (let k = 0; k < n; k++, ai += as, bi += bs) o[oi + k] = Math.min(a[ai] as number, b[bi] as number);
  },
  [tf.Maximum]: (o, oi, a, ai, as, b, bi, bs, n) => {
    for (let k = 0; k < n; k++, ai += as, bi += bs) o[oi + k] = Math.max(a[ai] as number, b[bi] as number);
  },
  [tf.Greater]: (o, oi, a, ai, as, b, bi, bs, n) => {
    for (let k = 0; k < n; k++, ai += as, bi += bs) o[oi + k] = (a[ai] as number) > (b[bi] as number) ? 1 : 0;
  },
  [tf.GreaterEqual]: (o, oi, a, ai, as, b, bi, bs, n) => {
    for (let k = 0; k < n; k++, ai += as, bi += bs) o[oi + k] = (a[ai] as number) >= (b[bi] as number) ? 1 : 0;
  },
  [tf.Less]: (o, oi, a, ai, as, b, bi, bs, n) => {
    for (let k = 0; k < n; k++, ai += as, bi += bs) o[oi + k] = (a[ai] as number) < (b[bi] as number) ? 1 : 0;
  },
  [tf.LessEqual]: (o, oi, a, ai, as, b, bi, bs, n) => {
    for (let k = 0; k < n; k++, ai += as, bi += bs) o[oi + k] = (a[ai] as number) <= (b[bi] as number) ? 1 : 0;
  },
  [tf.Equal]: (o, oi, a, ai, as, b, bi, bs, n) => {
    for (let k = 0; k < n; k++, ai += as, bi += bs) o[oi + k] = (a[ai] as number) === (b[bi] as number) ? 1 : 0;
  },
  [tf.NotEqual]: (o, oi, a, ai, as, b, bi, bs, n) => {
    for (let k = 0; k < n; k++, ai += as, bi += bs) o[oi + k] = (a[ai] as number) !== (b[bi] as number) ? 1 : 0;
  },
};

const COMPARISONS = new Set<string>([tf.Greater, tf.GreaterEqual, tf.Less, tf.LessEqual, tf.Equal, tf.NotEqual]);

const SIMD: Record<string, SimdOp> = {
  [tf.Minimum]: 'min',
  [tf.Maximum]: 'max',
  [tf.Greater]: 'gt',
  [tf.GreaterEqual]: 'ge',
  [tf.Less]: 'lt',
  [tf.LessEqual]: 'le',
  [tf.Equal]: 'eq',
  [tf.NotEqual]: 'ne',
};

/** The shortest row worth a SIMD call. */
const SIMD_MIN_ROW = 256;

/** Elements per SIMD call: the module's memory stays at three such blocks (768 KiB), whatever the tensors' size. */
const CHUNK = 1 << 16;
const A_AT = 0;
const B_AT = CHUNK * 4;
const O_AT = 2 * CHUNK * 4;

/**
 * A planned broadcast of float32 operands on the SIMD module, row by row (the last axis's strides are 0 or 1
 * by construction of the plan) and at most {@link CHUNK} elements at a time: each operand's stretch (or its
 * one value, for stride 0) is copied into the module's memory, the op runs, and the result is copied out into
 * `o` (float32, or one byte per element for a comparison).
 */
function runSimd(plan: BroadcastPlan, o: Float32Array | Uint8Array, a: Float32Array, b: Float32Array, k: SimdKernels, op: SimdOp): void {
  const memory = reserve(k, O_AT + CHUNK * 4);
  const inA = new Float32Array(memory, A_AT, CHUNK);
  const inB = new Float32Array(memory, B_AT, CHUNK);
  const out = o instanceof Float32Array ? new Float32Array(memory, O_AT, CHUNK) : new Uint8Array(memory, O_AT, CHUNK);
  const run = k[op];
  walk(plan, o.length, (oi, ai, as, bi, bs, n) => {
    for (let start = 0; start < n; start += CHUNK) {
      const m = Math.min(CHUNK, n - start);
      inA.set(as === 0 ? a.subarray(ai, ai + 1) : a.subarray(ai + start, ai + start + m));
      inB.set(bs === 0 ? b.subarray(bi, bi + 1) : b.subarray(bi + start, bi + start + m));
      run(O_AT, A_AT, as, B_AT, bs, m);
      o.set(out.subarray(0, m), oi + start);
    }
  });
}

/** The kernel names this module speeds up. */
export const BROADCAST_KERNELS: readonly string[] = Object.keys(INNER);

/** The wasm kernel `original` (one of `BROADCAST_KERNELS`), run here for float32 and int32 operands. */
export function broadcastBinaryConfig(original: tf.KernelConfig): tf.KernelConfig {
  const inner = INNER[original.kernelName];
  if (inner === undefined) throw new Error(`no broadcast kernel for ${original.kernelName}`);
  const outDtype = COMPARISONS.has(original.kernelName) ? 'bool' : undefined;
  return patchKernel(original, ({ inputs, backend }: KernelArgs) => {
    const a = input(inputs, 'a');
    const b = input(inputs, 'b');
    if (a.dtype !== b.dtype || (a.dtype !== 'float32' && a.dtype !== 'int32')) return undefined;
    const plan = planBroadcast(a.shape, b.shape);
    // Rows shorter than a few vectors (a per-feature bound on narrow tabular rows, say) stay on the JavaScript
    // loop: there the copies and the call per row would cost more than the branches they save.
    const rowLength = plan.dims[plan.dims.length - 1] ?? 1;
    const simd = a.dtype === 'float32' && rowLength >= SIMD_MIN_ROW ? simdKernels() : null;
    const op = SIMD[original.kernelName];
    return typedOutput('wasm', backend, plan.outShape, outDtype ?? a.dtype, [a, b], (o, [av, bv]) => {
      if (simd !== null && op !== undefined) runSimd(plan, o as Float32Array | Uint8Array, av as Float32Array, bv as Float32Array, simd, op);
      else runBroadcast(plan, o, av as Values, bv as Values, inner);
    });
  });
}
