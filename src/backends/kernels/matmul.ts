/**
 * `BatchMatMul` and `_FusedMatMul` on wasm.
 *
 * Speed: the shipped kernels reach XNNPACK only when neither operand is transposed; with `transposeA` or
 * `transposeB` they fall back to a scalar loop about 15–40× slower. Every Dense layer's gradient asks for a
 * transpose (dx = dy·Wᵀ, dW = xᵀ·dy), so on the reference CNN the input gradient's dy·Wᵀ took 190 ms per
 * batch of 128 where the same product with Wᵀ laid out took 12 ms, and training's xᵀ·dy took 500 ms. Both
 * kernels therefore lay the transposed operands out first (the wasm Transpose kernel) and multiply
 * untransposed. Measured by `.scratch`-style micro runs in docs/benchmarks.md ("kernels").
 *
 * Correctness of `_FusedMatMul`: the shipped kernel (tfjs-backend-wasm 4.22) adds the bias wrongly whenever
 * an operand is transposed or the product is batched (relative error 0.03–1.2 against matMul + add),
 * while the plain 2-D, untransposed case a Dense layer uses is right. The forward value is wrong, and
 * so is every activation gradient computed from it. It also throws on a bias of rank 2.
 *
 * The fix keeps the shipped kernel where it is right, and elsewhere runs it without bias or activation
 * (that part is right in every case) and then applies the bias (Add) and the activation with the
 * backend's own kernels.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf.js';
import { type KernelArgs, disposeAll, input, jsOutput, runWasmKernel } from './util.js';

interface FusedMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation: string;
  leakyreluAlpha?: number;
}

function applyActivation(
  wasm: BackendWasm,
  x: tf.TensorInfo,
  a: FusedMatMulAttrs,
  preluWeights: tf.TensorInfo | undefined,
): tf.TensorInfo | undefined {
  switch (a.activation) {
    case 'linear':
      return undefined;
    case 'relu':
      return runWasmKernel(tf.Relu, wasm, { x });
    case 'relu6':
      return runWasmKernel(tf.Relu6, wasm, { x });
    case 'elu':
      return runWasmKernel(tf.Elu, wasm, { x });
    case 'sigmoid':
      return runWasmKernel(tf.Sigmoid, wasm, { x });
    case 'leakyrelu':
      return runWasmKernel(tf.LeakyRelu, wasm, { x }, { alpha: a.leakyreluAlpha ?? 0.2 });
    case 'prelu':
      if (preluWeights === undefined) throw new Error('_FusedMatMul with prelu needs preluActivationWeights');
      return runWasmKernel(tf.Prelu, wasm, { x, alpha: preluWeights });
    default:
      throw new Error(`_FusedMatMul activation "${a.activation}" is not supported on wasm`);
  }
}

/** Copy `src` ([batch, rows, cols] flattened) into `dst` as [batch, cols, rows], in cache-sized tiles. */
function transposeInto(src: Float32Array, dst: Float32Array, batch: number, rows: number, cols: number): void {
  const T = 32;
  for (let b = 0; b < batch; b++) {
    const o = b * rows * cols;
    for (let r0 = 0; r0 < rows; r0 += T) {
      const r1 = Math.min(rows, r0 + T);
      for (let c0 = 0; c0 < cols; c0 += T) {
        const c1 = Math.min(cols, c0 + T);
        for (let r = r0; r < r1; r++) {
          const from = o + r * cols;
          for (let c = c0; c < c1; c++) dst[o + c * rows + r] = src[from + c] as number;
        }
      }
    }
  }
}

/**
 * Laid-out transposes of variables (a Dense layer's kernel, in every input gradient dy·Wᵀ), per backend
 * instance and keyed by the variable's data id. TF.js never writes into a tensor's data, and assigning a
 * variable gives it a new data id, so an entry is valid for as long as its key lives; the few that outlive
 * their variable are freed on eviction.
 */
const layoutCache = new WeakMap<BackendWasm, Map<tf.DataId, tf.TensorInfo>>();
const LAYOUT_CACHE_ENTRIES = 16;

function isVariableData(dataId: tf.DataId): boolean {
  const variables = (tf.engine() as unknown as { state: { registeredVariables: Record<string, tf.Variable> } }).state.registeredVariables;
  for (const name in variables) if ((variables[name] as unknown as { dataId: tf.DataId }).dataId === dataId) return true;
  return false;
}

/** Lay out `x` with its last two axes swapped, so a product can run untransposed; the caller frees it. */
function transposed(wasm: BackendWasm, x: tf.TensorInfo): { info: tf.TensorInfo; owned: boolean } {
  const rank = x.shape.length;
  const rows = x.shape[rank - 2] ?? 1;
  const cols = x.shape[rank - 1] ?? 1;
  const batch = x.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const outShape = [...x.shape.slice(0, -2), cols, rows];
  if (x.dtype !== 'float32') {
    const perm = Array.from({ length: rank }, (_, i) => (i === rank - 2 ? rank - 1 : i === rank - 1 ? rank - 2 : i));
    return { info: runWasmKernel(tf.Transpose, wasm, { x }, { perm }), owned: true };
  }
  const cacheable = isVariableData(x.dataId);
  let cache = layoutCache.get(wasm);
  const hit = cacheable ? cache?.get(x.dataId) : undefined;
  if (hit) {
    // Refresh its place in the insertion order (least recently used first).
    cache?.delete(x.dataId);
    cache?.set(x.dataId, hit);
    return { info: hit, owned: false };
  }
  const out = jsOutput('wasm', wasm, outShape, [x], (dst, [src]) => transposeInto(src as Float32Array, dst, batch, rows, cols));
  if (!cacheable) return { info: out, owned: true };
  if (!cache) layoutCache.set(wasm, (cache = new Map()));
  cache.set(x.dataId, out);
  if (cache.size > LAYOUT_CACHE_ENTRIES) {
    const [oldest, info] = cache.entries().next().value as [tf.DataId, tf.TensorInfo];
    cache.delete(oldest);
    wasm.disposeData(info.dataId);
  }
  return { info: out, owned: false };
}

/**
 * Run `multiply` on the operands with every transpose laid out, so it takes the XNNPACK path; free the
 * laid-out copies afterwards.
 */
function untransposed(
  wasm: BackendWasm,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  attrs: { transposeA: boolean; transposeB: boolean },
  multiply: (a: tf.TensorInfo, b: tf.TensorInfo) => tf.TensorInfo,
): tf.TensorInfo {
  const aT = attrs.transposeA ? transposed(wasm, a) : undefined;
  const bT = attrs.transposeB ? transposed(wasm, b) : undefined;
  try {
    return multiply(aT?.info ?? a, bT?.info ?? b);
  } finally {
    disposeAll(wasm, [aT?.owned ? aT.info : undefined, bT?.owned ? bT.info : undefined]);
  }
}

/** Wrap the shipped `BatchMatMul` kernel so transposed operands are laid out first (see above). */
export function batchMatMulConfig(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = ({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo => {
    const wasm = backend as BackendWasm;
    const at = (attrs ?? {}) as unknown as { transposeA: boolean; transposeB: boolean };
    const run = (a: tf.TensorInfo, b: tf.TensorInfo, t: { transposeA: boolean; transposeB: boolean }): tf.TensorInfo => {
      const out = original.kernelFunc({ inputs: { a, b }, backend: wasm, attrs: t });
      return Array.isArray(out) ? (out[0] as tf.TensorInfo) : out;
    };
    const a = input(inputs, 'a');
    const b = input(inputs, 'b');
    if (!at.transposeA && !at.transposeB) return run(a, b, at);
    return untransposed(wasm, a, b, at, (x, y) => run(x, y, { transposeA: false, transposeB: false }));
  };
  const config: tf.KernelConfig = { kernelName: tf.BatchMatMul, backendName: 'wasm', kernelFunc };
  if (original.setupFunc !== undefined) config.setupFunc = original.setupFunc;
  return config;
}

/**
 * Wrap the shipped `_FusedMatMul` kernel. `original` must be the wasm backend's own config, taken
 * before it is unregistered; its setup function still has to run when the backend initialises.
 */
export function fusedMatMulConfig(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = ({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo => {
    const wasm = backend as BackendWasm;
    const a = attrs as unknown as FusedMatMulAttrs;
    if (a.transposeA || a.transposeB) {
      // Lay the operands out and come back through this kernel untransposed (fast, and the bias is right).
      return untransposed(wasm, input(inputs, 'a'), input(inputs, 'b'), a, (x, y) =>
        kernelFunc({ inputs: { ...inputs, a: x, b: y }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }),
      );
    }
    const bias = inputs['bias'];
    const aIn = input(inputs, 'a');
    const batched = (aIn.shape[0] ?? 1) > 1 || (input(inputs, 'b').shape[0] ?? 1) > 1;
    const runOriginal = (ins: tf.NamedTensorInfoMap, at: tf.NamedAttrMap): tf.TensorInfo => {
      const out = original.kernelFunc({ inputs: ins, backend: wasm, attrs: at });
      return Array.isArray(out) ? (out[0] as tf.TensorInfo) : out;
    };
    // The shipped kernel also refuses a bias of rank 2 ([M, N] or [M, 1]), which Add broadcasts fine, and
    // reads N values past a one-element bias (whatever the heap holds there), which Add broadcasts too.
    const columns = input(inputs, 'b').shape.at(-1) ?? 1;
    const biasSize = bias?.shape.reduce((p, q) => p * q, 1);
    if (bias === undefined || bias === null || (!a.transposeA && !a.transposeB && !batched && bias.shape.length <= 1 && biasSize === columns)) {
      return runOriginal(inputs, attrs ?? {});
    }
    const product = runOriginal(
      { a: aIn, b: input(inputs, 'b') },
      { transposeA: a.transposeA, transposeB: a.transposeB, activation: 'linear', leakyreluAlpha: 0 },
    );
    let biased: tf.TensorInfo | undefined;
    try {
      biased = runWasmKernel(tf.Add, wasm, { a: product, b: bias });
      const activated = applyActivation(wasm, biased, a, inputs['preluActivationWeights'] ?? undefined);
      if (activated === undefined) {
        const result = biased;
        biased = undefined;
        return result;
      }
      return activated;
    } finally {
      disposeAll(wasm, [product, biased]);
    }
  };
  const config: tf.KernelConfig = { kernelName: tf._FusedMatMul, backendName: 'wasm', kernelFunc };
  if (original.setupFunc !== undefined) config.setupFunc = original.setupFunc;
  return config;
}
