/**
 * Conv gradient kernels on wasm, on the reference CNN's second conv ([128, 26, 26, 32] → 3×3×32×64,
 * 'valid'): the shipped `Conv2DBackpropInput` against robust's, robust's `Conv2DBackpropFilter`
 * (the shipped backend has none), and the forward conv for scale.
 *
 *   npx vitest bench --run benchmarks/kernels.bench.ts
 */
import '@tensorflow/tfjs-backend-wasm';
import seedrandom from 'seedrandom';
import { bench, describe } from 'vitest';
import { tf } from '../src/tf.js';
import { registerKernelFixes } from '../src/backends/kernels/index.js';

// Initialise wasm with its own kernels first, so the shipped kernel is set up and can be timed too.
await tf.setBackend('wasm');
await tf.ready();
const shipped = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
registerKernelFixes('wasm');
const backend = tf.engine().backend;

const rng = seedrandom('bench');
const values = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng() * 2 - 1);
const xShape: [number, number, number, number] = [128, 26, 26, 32];
const fShape: [number, number, number, number] = [3, 3, 32, 64];
const x = tf.tensor4d(values(128 * 26 * 26 * 32), xShape);
const filter = tf.tensor4d(values(3 * 3 * 32 * 64), fShape);
const dy = tf.tensor4d(values(128 * 24 * 24 * 64), [128, 24, 24, 64]);
const common = { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC' };
const attrs = (extra: Record<string, number[]>): tf.NamedAttrMap => ({ ...common, ...extra }) as unknown as tf.NamedAttrMap;
const options = { iterations: 3, warmupIterations: 1, time: 0, warmupTime: 0 };

const run = (f: () => tf.Tensor | tf.TensorInfo): void => {
  const out = f();
  if ('dispose' in out) out.dispose();
  else backend.disposeData(out.dataId);
};

describe('reference conv2 gradients on wasm', () => {
  bench('forward Conv2D (for scale)', () => run(() => tf.conv2d(x, filter, 1, 'valid')), options);
  if (shipped !== undefined) {
    bench(
      'Conv2DBackpropInput, shipped',
      () => run(() => shipped.kernelFunc({ inputs: { dy, filter }, backend, attrs: attrs({ inputShape: xShape }) }) as tf.TensorInfo),
      options,
    );
  }
  bench(
    'Conv2DBackpropInput, robust',
    () => run(() => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, attrs({ inputShape: xShape })) as tf.Tensor),
    options,
  );
  bench(
    'Conv2DBackpropFilter, robust',
    () => run(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs({ filterShape: fShape })) as tf.Tensor),
    options,
  );
});
