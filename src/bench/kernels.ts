/**
 * Kernel by kernel, before and after: each kernel on an attack or training path of the reference CNN, at its
 * real shapes (batch 128), timed as robust registers it and as the backend package shipped it. The shipped
 * kernel is called directly (`shippedKernel`), so both run on the same backend instance and inputs.
 */
import { tf } from '../tf.js';
import { kernelFixes, shippedKernel } from '../backends/kernels/index.js';
import type { KernelBench } from './types.js';

interface KernelCase {
  kernel: string;
  label: string;
  inputs: Record<string, tf.Tensor>;
  attrs: tf.NamedAttrMap;
}

/** The reference CNN's kernels at batch `b`: conv2 (26×26×32 → 24×24×64), its pool, and dense1 (9216 → 128). */
function cases(b: number): KernelCase[] {
  const seeded = (shape: number[], seed: number): tf.Tensor => tf.randomUniform(shape, -1, 1, 'float32', seed);
  const x = seeded([b, 26, 26, 32], 1);
  const w = seeded([3, 3, 32, 64], 2);
  const dy = seeded([b, 24, 24, 64], 3);
  const act = seeded([b, 24, 24, 64], 4);
  const pooled = tf.maxPool(act as tf.Tensor4D, 2, 2, 'valid');
  const poolDy = seeded([b, 12, 12, 64], 5);
  const flat = seeded([b, 9216], 6);
  const denseInit = seeded([9216, 128], 7);
  const dense = tf.variable(denseInit, false);
  denseInit.dispose();
  const denseDy = seeded([b, 128], 8);
  // An attack's projection and bookkeeping on the input batch: a per-example radius, a scalar bound.
  const images = seeded([b, 28, 28, 1], 9);
  const radius = seeded([b, 1, 1, 1], 10);
  const rows = tf.tensor1d(Array.from({ length: b }, (_, i) => (i * 7) % b), 'int32');
  const bound = tf.scalar(0);
  const conv = { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: undefined, dilations: [1, 1] };
  return [
    { kernel: tf.Conv2D, label: 'Conv2D (forward, for scale)', inputs: { x, filter: w }, attrs: conv as unknown as tf.NamedAttrMap },
    { kernel: tf.Conv2DBackpropInput, label: 'Conv2DBackpropInput (input gradient)', inputs: { dy, filter: w }, attrs: { ...conv, inputShape: x.shape } as unknown as tf.NamedAttrMap },
    { kernel: tf.Conv2DBackpropFilter, label: 'Conv2DBackpropFilter (weight gradient)', inputs: { x, dy }, attrs: { ...conv, filterShape: w.shape } as unknown as tf.NamedAttrMap },
    { kernel: tf.MaxPoolGrad, label: 'MaxPoolGrad 2×2', inputs: { dy: poolDy, input: act, output: pooled }, attrs: { filterSize: 2, strides: 2, pad: 'valid' } as unknown as tf.NamedAttrMap },
    { kernel: tf.BatchMatMul, label: 'BatchMatMul dy·Wᵀ (dense input gradient, W a variable)', inputs: { a: denseDy, b: dense }, attrs: { transposeA: false, transposeB: true } },
    { kernel: tf.BatchMatMul, label: 'BatchMatMul xᵀ·dy (dense weight gradient)', inputs: { a: flat, b: denseDy }, attrs: { transposeA: true, transposeB: false } },
    { kernel: tf.Identity, label: 'Identity (every Layers output)', inputs: { x: act }, attrs: {} },
    { kernel: tf.Minimum, label: 'Minimum against a per-example radius (PGD projection)', inputs: { a: images, b: radius }, attrs: {} },
    { kernel: tf.Maximum, label: 'Maximum against a scalar bound (clip to bounds)', inputs: { a: images, b: bound }, attrs: {} },
    { kernel: tf.Greater, label: 'Greater against a per-example radius (masks, checks)', inputs: { a: images, b: radius }, attrs: {} },
    { kernel: tf.Tile, label: 'Tile a per-example value over the batch (tf.where, broadcastTo)', inputs: { x: radius }, attrs: { reps: [1, 28, 28, 1] } },
    { kernel: tf.GatherV2, label: 'GatherV2 rows of the batch (early stop)', inputs: { x: images, indices: rows }, attrs: { axis: 0, batchDims: 0 } },
  ];
}

/** A replaced kernel never had its setup run (it was unregistered before the backend started); run it now. */
function withSetup(config: tf.KernelConfig): tf.KernelConfig {
  config.setupFunc?.(tf.backend());
  return config;
}

function infoOf(t: tf.Tensor): tf.TensorInfo {
  return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
}

/** Fastest mean over `rounds` rounds of `iterations` calls of `config`, in ms; outputs are freed after each call. */
function timeKernel(config: tf.KernelConfig, c: KernelCase, iterations: number, rounds: number): number {
  const backend = tf.backend();
  const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, t]) => [k, infoOf(t)]));
  const once = (): void => {
    const out = config.kernelFunc({ inputs, backend, attrs: c.attrs });
    for (const o of Array.isArray(out) ? out : [out]) {
      // Reading one value forces the result on backends that queue work.
      backend.readSync(o.dataId);
      backend.disposeData(o.dataId);
    }
  };
  once();
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) once();
    best = Math.min(best, (performance.now() - t0) / iterations);
  }
  return best;
}

/**
 * Time each attack- and training-path kernel of the reference CNN on the active backend, robust's and the
 * shipped one (null where the package has none, or robust did not replace it).
 * @example
 *   await useBackend('wasm');
 *   const rows = measureKernels({ batch: 128 }); // [{ label: 'MaxPoolGrad 2×2', robustMs: 12, shippedMs: 30, ... }, ...]
 */
export function measureKernels(options: { batch?: number; iterations?: number; rounds?: number } = {}): KernelBench[] {
  const backendName = tf.getBackend();
  const all = cases(options.batch ?? 128);
  try {
    return all.map((c) => {
      const current = tf.getKernel(c.kernel, backendName);
      const original = shippedKernel(backendName, c.kernel);
      const iterations = options.iterations ?? 3;
      const rounds = options.rounds ?? 3;
      return {
        kernel: c.kernel,
        label: c.label,
        shapes: Object.fromEntries(Object.entries(c.inputs).map(([k, t]) => [k, t.shape])),
        robustMs: current ? timeKernel(current, c, iterations, rounds) : null,
        shippedMs: original ? timeKernel(withSetup(original), c, iterations, rounds) : null,
        status: original ? 'replaced' : kernelFixes(backendName).includes(c.kernel) ? 'added' : 'unchanged',
      };
    });
  } finally {
    const seen = new Set<tf.Tensor>();
    for (const c of all) for (const t of Object.values(c.inputs)) seen.add(t);
    tf.dispose([...seen]);
  }
}
