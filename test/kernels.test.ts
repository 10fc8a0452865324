/**
 * Kernel fixes (src/backends/kernels): every gradient an attack or a training loop reaches, computed on
 * wasm and on cpu for a seeded table of ops, shapes, strides and paddings, must agree; and the kernels
 * where both backends could be wrong together are checked against oracles that trust no backward
 * kernel: exact adjoints by probing with unit vectors (avg pool, resize), the dot-product test
 * (depthwise with dilations), a hand-worked max-pool tie, and finite differences (cpu conv).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import seedrandom from 'seedrandom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { kernelFixes } from '../src/backends/kernels/index.js';
import { simdKernels } from '../src/backends/kernels/simd/module.js';
import { TEST_BACKENDS, activate } from './helpers/backends.js';

/**
 * Agreement metric used throughout: max |a − b| / max(max |a|, max |b|), the largest absolute
 * difference relative to the largest magnitude of either array (so entries that are tiny next to
 * the rest cannot fail on rounding, and a misrouted entry of typical size fails loudly).
 */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    diff = Math.max(diff, Math.abs(x - y));
    scale = Math.max(scale, Math.abs(x), Math.abs(y));
  }
  if (Number.isNaN(diff)) return Infinity;
  return scale === 0 ? diff : diff / scale;
}

const TOL = 1e-4;
type Fn = (...xs: tf.Tensor[]) => tf.Tensor;
type Gen = (rng: () => number, n: number) => Float32Array;

const uniform: Gen = (rng, n) => Float32Array.from({ length: n }, () => rng() * 2 - 1);
/** MNIST-like pixels: mostly exact 0 and 1, the rest multiples of 1/255, so pooling windows tie often. */
const pixels: Gen = (rng, n) =>
  Float32Array.from({ length: n }, () => {
    const u = rng();
    return u < 0.55 ? 0 : u < 0.8 ? 1 : Math.round(rng() * 255) / 255;
  });

interface GradCase {
  name: string;
  shapes: number[][];
  f: Fn;
  gen?: Gen;
}

const t4 = (t: tf.Tensor): tf.Tensor4D => t as tf.Tensor4D;
const t2 = (t: tf.Tensor): tf.Tensor2D => t as tf.Tensor2D;
type Pad = 'valid' | 'same';

/** The case table: op, shapes drawn from a seeded RNG, stride, padding. */
function buildTable(): GradCase[] {
  const rng = seedrandom('robust-kernel-table');
  const int = (lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
  const cases: GradCase[] = [];
  for (const stride of [1, 2]) {
    for (const pad of ['valid', 'same'] as Pad[]) {
      for (const k of [1, 2, 3, 5]) {
        const n = int(1, 3);
        const h = int(k + 1, 11);
        const w = int(k + 1, 11);
        const ci = int(1, 5);
        const co = int(1, 6);
        cases.push({
          name: `conv2d ${k}x${k} s${stride} ${pad} x[${n},${h},${w},${ci}] co${co}`,
          shapes: [[n, h, w, ci], [k, k, ci, co]],
          f: (x, f) => tf.conv2d(t4(x), t4(f), stride, pad),
        });
      }
      for (const mult of [1, 2]) {
        const k = int(2, 3);
        const n = int(1, 2);
        const h = int(k + 1, 10);
        const w = int(k + 1, 10);
        const c = int(1, 4);
        cases.push({
          name: `depthwise ${k}x${k} s${stride} ${pad} x[${n},${h},${w},${c}] m${mult}`,
          shapes: [[n, h, w, c], [k, k, c, mult]],
          f: (x, f) => tf.depthwiseConv2d(t4(x), t4(f), stride, pad),
        });
      }
      for (const k of [2, 3]) {
        const n = int(1, 2);
        const h = int(k + 1, 12);
        const w = int(k + 1, 12);
        const c = int(1, 4);
        const shapes = [[n, h, w, c]];
        cases.push({ name: `maxPool ${k}x${k} s${stride} ${pad} [${n},${h},${w},${c}] ties`, shapes, gen: pixels, f: (x) => tf.maxPool(t4(x), k, stride, pad) });
        cases.push({ name: `maxPool ${k}x${k} s${stride} ${pad} [${n},${h},${w},${c}]`, shapes, f: (x) => tf.maxPool(t4(x), k, stride, pad) });
        cases.push({ name: `avgPool ${k}x${k} s${stride} ${pad} [${n},${h},${w},${c}]`, shapes, f: (x) => tf.avgPool(t4(x), k, stride, pad) });
      }
    }
  }
  // Explicit padding wider than the kernel: the input gradient's forward-conv form would need negative
  // padding, so this exercises the loop fallback.
  cases.push({
    name: 'conv2d 2x2 s2 explicit pad 3',
    shapes: [[2, 6, 5, 3], [2, 2, 3, 4]],
    f: (x, f) => tf.conv2d(t4(x), t4(f), 2, [[0, 0], [3, 3], [3, 2], [0, 0]]),
  });
  cases.push({ name: 'conv2d 3x3 s[1,2] same', shapes: [[2, 7, 9, 3], [3, 3, 3, 4]], f: (x, f) => tf.conv2d(t4(x), t4(f), [1, 2], 'same') });
  cases.push({ name: 'conv2d 3x2 s[2,1] valid', shapes: [[2, 8, 7, 2], [3, 2, 2, 3]], f: (x, f) => tf.conv2d(t4(x), t4(f), [2, 1], 'valid') });
  cases.push({ name: 'conv2d 3x3 s1 numeric pad 1', shapes: [[1, 6, 6, 2], [3, 3, 2, 3]], f: (x, f) => tf.conv2d(t4(x), t4(f), 1, 1) });
  cases.push({ name: 'conv2d reference conv2 scaled [2,14,14,16]→3x3x16x32', shapes: [[2, 14, 14, 16], [3, 3, 16, 32]], f: (x, f) => tf.conv2d(t4(x), t4(f), 1, 'valid') });
  cases.push({ name: 'conv2dTranspose s2 same', shapes: [[2, 4, 4, 3], [3, 3, 5, 3]], f: (x, f) => tf.conv2dTranspose(t4(x), t4(f), [2, 8, 8, 5], 2, 'same') });
  cases.push({ name: 'separableConv2d', shapes: [[2, 6, 6, 3], [3, 3, 3, 2], [1, 1, 6, 4]], f: (x, d, p) => tf.separableConv2d(t4(x), t4(d), t4(p), 1, 'same') });
  cases.push({
    name: 'fused conv2d bias relu s2 same',
    shapes: [[2, 7, 7, 3], [3, 3, 3, 4], [4]],
    f: (x, f, b) => tf.fused.conv2d({ x: t4(x), filter: t4(f), strides: 2, pad: 'same', bias: b, activation: 'relu' }),
  });
  cases.push({
    name: 'fused depthwise bias relu6 s1 valid',
    shapes: [[2, 7, 7, 3], [3, 3, 3, 2], [6]],
    f: (x, f, b) => tf.fused.depthwiseConv2d({ x: t4(x), filter: t4(f), strides: 1, pad: 'valid', bias: b, activation: 'relu6' }),
  });
  // The big pooling cases the wasm kernel got wrong, on tie-heavy pixels.
  cases.push({ name: 'maxPool 2x2 s2 valid [1,24,24,64] ties', shapes: [[1, 24, 24, 64]], gen: pixels, f: (x) => tf.maxPool(t4(x), 2, 2, 'valid') });
  cases.push({ name: 'maxPool 3x3 s1 same [1,24,24,64] ties', shapes: [[1, 24, 24, 64]], gen: pixels, f: (x) => tf.maxPool(t4(x), 3, 1, 'same') });
  cases.push({ name: 'maxPool 3x3 s1 same [1,24,24,64]', shapes: [[1, 24, 24, 64]], f: (x) => tf.maxPool(t4(x), 3, 1, 'same') });
  // Dense layers and the fused matMul a Dense layer compiles to.
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    cases.push({
      name: `matMul tA=${ta} tB=${tb}`,
      shapes: [ta ? [6, 5] : [5, 6], tb ? [4, 6] : [6, 4]],
      f: (a, b) => tf.matMul(t2(a), t2(b), ta, tb),
    });
    for (const activation of ['linear', 'relu', 'elu', 'sigmoid', 'relu6', 'leakyrelu'] as const) {
      cases.push({
        name: `fused matMul ${activation} tA=${ta} tB=${tb}`,
        shapes: [ta ? [6, 5] : [5, 6], tb ? [4, 6] : [6, 4], [4]],
        f: (a, b, bias) => tf.fused.matMul({ a: t2(a), b: t2(b), transposeA: ta, transposeB: tb, bias, activation, leakyreluAlpha: 0.1 }),
      });
    }
    cases.push({
      name: `fused matMul relu no bias tA=${ta} tB=${tb}`,
      shapes: [ta ? [6, 5] : [5, 6], tb ? [4, 6] : [6, 4]],
      f: (a, b) => tf.fused.matMul({ a: t2(a), b: t2(b), transposeA: ta, transposeB: tb, activation: 'relu' }),
    });
  }
  cases.push({
    name: 'fused matMul prelu',
    shapes: [[5, 6], [6, 4], [4], [4]],
    f: (a, b, bias, alpha) => tf.fused.matMul({ a: t2(a), b: t2(b), bias, activation: 'prelu', preluActivationWeights: alpha }),
  });
  cases.push({
    name: 'fused matMul batched bias elu',
    shapes: [[2, 5, 6], [2, 6, 4], [4]],
    f: (a, b, bias) => tf.fused.matMul({ a: a as tf.Tensor3D, b: b as tf.Tensor3D, bias, activation: 'elu' }),
  });
  cases.push({ name: 'batched matMul tB', shapes: [[3, 5, 6], [3, 4, 6]], f: (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, false, true) });
  // Activations, normalisation and losses.
  const act: [string, Fn][] = [
    ['relu', (x) => tf.relu(x)],
    ['relu6', (x) => tf.relu6(tf.mul(x, 8))],
    ['leakyRelu', (x) => tf.leakyRelu(x, 0.1)],
    ['elu', (x) => tf.elu(x)],
    ['selu', (x) => tf.selu(x)],
    ['sigmoid', (x) => tf.sigmoid(x)],
    ['tanh', (x) => tf.tanh(x)],
    ['softplus', (x) => tf.softplus(x)],
    ['softmax', (x) => tf.softmax(x)],
    ['logSoftmax', (x) => tf.logSoftmax(x)],
    ['logSumExp', (x) => tf.logSumExp(x, 1)],
    ['max over classes', (x) => tf.max(x, 1)],
    ['l2 norm', (x) => tf.norm(x, 2, 1)],
    ['clipByValue', (x) => tf.clipByValue(x, -0.3, 0.4)],
    ['maximum / minimum', (x) => tf.add(tf.maximum(x, tf.mul(x, -0.5)), tf.minimum(x, 0.2))],
    ['where (select)', (x) => tf.where(tf.tensor2d(Array.from({ length: 40 }, (_, i) => i % 3 === 0), [4, 10], 'bool'), x, tf.mul(x, 3))],
    ['pad / slice / concat', (x) => tf.concat([tf.pad(x, [[1, 0], [0, 2]]), tf.slice(tf.pad(x, [[1, 0], [0, 2]]), [0, 1], [5, 4])], 1)],
    ['abs / sign / square / sqrt', (x) => tf.add(tf.mul(tf.abs(x), tf.sign(x)), tf.sqrt(tf.add(tf.square(x), 0.1)))],
  ];
  for (const [name, f] of act) cases.push({ name, shapes: [[4, 10]], f });
  cases.push({ name: 'prelu', shapes: [[4, 10], [10]], f: (x, a) => tf.prelu(x, a) });
  cases.push({ name: 'softmaxCrossEntropy', shapes: [[4, 10], [4, 10]], f: (z, l) => tf.losses.softmaxCrossEntropy(tf.softmax(l), z) });
  cases.push({ name: 'gather (label logits)', shapes: [[6, 4]], f: (x) => tf.gather(x, tf.tensor1d([0, 2, 2, 5], 'int32')) });
  cases.push({
    name: 'batchNorm 4d (FusedBatchNorm)',
    shapes: [[2, 3, 3, 4], [4], [4], [4], [4]],
    f: (x, m, v, o, s) => tf.batchNorm(t4(x), m as tf.Tensor1D, tf.add(tf.abs(v), 0.1) as tf.Tensor1D, o as tf.Tensor1D, s as tf.Tensor1D, 1e-3),
  });
  cases.push({
    name: 'batchNorm 2d',
    shapes: [[5, 4], [4], [4], [4], [4]],
    f: (x, m, v, o, s) => tf.batchNorm(t2(x), m as tf.Tensor1D, tf.add(tf.abs(v), 0.1) as tf.Tensor1D, o as tf.Tensor1D, s as tf.Tensor1D, 1e-3),
  });
  cases.push({
    name: 'moments + batchNorm (layers training path)',
    shapes: [[3, 4, 4, 5]],
    f: (x) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      // tf.batchNorm without scale cannot be differentiated on any backend (it saves the missing scale
      // for the backward pass), so pass neutral ones, as a layers BatchNormalization does by default.
      return tf.batchNorm(t4(x), mean as tf.Tensor1D, variance as tf.Tensor1D, tf.zeros([5]), tf.ones([5]), 1e-3);
    },
  });
  return cases;
}

interface Result {
  y: Float32Array;
  grads: Float32Array[];
}

function valuesFor(c: GradCase): Float32Array[] {
  const rng = seedrandom(`${c.name}/inputs`);
  return c.shapes.map((s) => (c.gen ?? uniform)(rng, s.reduce((a, b) => a * b, 1)));
}

/** Gradients of the random-weighted scalar loss Σ f(x) ⊙ r with respect to every input. */
function gradients(c: GradCase, inputs: Float32Array[]): Result {
  return tf.tidy(() => {
    const xs = c.shapes.map((s, i) => tf.tensor(inputs[i] as Float32Array, s));
    const y = c.f(...xs);
    const r = tf.tensor(uniform(seedrandom(`${c.name}/weights`), y.size), y.shape);
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(c.f(...a), r)))(xs);
    return { y: y.dataSync() as Float32Array, grads: grads.map((g) => g.dataSync() as Float32Array) };
  });
}

const report: string[] = [];
afterAll(() => {
  if (process.env['KERNELS_REPORT']) console.log(report.join('\n'));
});

beforeAll(async () => {
  await activate('cpu');
  await activate('wasm');
});

describe('kernel fixes are registered', () => {
  it('wasm gets every fixed or missing kernel, cpu its pooling, resize, transform and cumulative-axis fixes', () => {
    expect([...kernelFixes('wasm')].sort()).toEqual(
      [
        'AvgPoolGrad',
        'BatchMatMul',
        'Conv2DBackpropFilter',
        'Conv2DBackpropInput',
        'DepthwiseConv2dNativeBackpropFilter',
        'DepthwiseConv2dNativeBackpropInput',
        'MaxPoolGrad',
        'ResizeBilinearGrad',
        'ResizeNearestNeighborGrad',
        'UnsortedSegmentSum',
        '_FusedMatMul',
        'Sign',
        'Log1p',
        'OneHot',
        // From the sweep in test/kernels-sweep.test.ts.
        'Sin',
        'Cos',
        'Selu',
        'Relu6',
        'ClipByValue',
        'Cast',
        'StridedSlice',
        'Select',
        'Reverse',
        'GatherV2',
        'Identity',
        // Speed: the shipped kernels index every element through a generic broadcast (src/backends/kernels/broadcast.ts, layout.ts).
        'Tile',
        'Minimum',
        'Maximum',
        'Greater',
        'GreaterEqual',
        'Less',
        'LessEqual',
        'Equal',
        'NotEqual',
        'Cumsum',
        'Cumprod',
        'Conv3DBackpropInputV2',
        'Conv3DBackpropFilterV2',
        'Dilation2D',
        'Dilation2DBackpropInput',
        'Dilation2DBackpropFilter',
        'MaxPool3DGrad',
        'MaxPoolWithArgmax',
        'FusedConv2D',
        'FusedDepthwiseConv2D',
        'RotateWithOffset',
        'Transform',
        // The attack-time pass's one-pass relu/relu6 gradient (src/backends/kernels/activationGrad.ts).
        'RobustActivationGrad',
      ].sort(),
    );
    expect([...kernelFixes('cpu')].sort()).toEqual(
      ['AvgPoolGrad', 'Cumprod', 'Cumsum', 'ResizeBilinearGrad', 'ResizeNearestNeighborGrad', 'Transform', 'RobustActivationGrad'].sort(),
    );
    for (const name of kernelFixes('wasm')) expect(tf.getKernel(name, 'wasm')).toBeDefined();
  });
});

describe('element-wise kernels are exact for tiny values (wasm returned 0 below ~1e-7)', () => {
  it.each(TEST_BACKENDS)('%s: sign and log1p of values down to 1e-30', async (backend) => {
    await activate(backend);
    const values = [1e-30, -1e-14, 3e-8, -6e-8, 1e-5, 0, 2, -2];
    const sign = tf.sign(tf.tensor1d(values));
    expect(Array.from(await sign.data())).toEqual(values.map((v) => Math.sign(v)));
    const log1p = tf.log1p(tf.tensor1d(values.filter((v) => v > -1)));
    const got = await log1p.data();
    values.filter((v) => v > -1).forEach((v, i) => expect(Math.abs((got[i] as number) - Math.fround(Math.log1p(v)))).toBeLessThanOrEqual(Math.abs(Math.log1p(v)) * 1e-6 + 1e-37));
    tf.dispose([sign, log1p]);
  });
});

describe("robust's WebAssembly SIMD element-wise kernels", () => {
  it('load here, and order −0 below +0 and propagate NaN as Math.min and Math.max do, across chunks, vector lanes and the tail', async () => {
    expect(simdKernels()).not.toBeNull();
    await activate('wasm');
    // Two chunks of 65,536 elements and a part of a third, whose length is not a multiple of 16: vector lanes and a scalar tail.
    const n = 2 * 65536 + 307;
    const a = Array.from({ length: n }, (_, i) => [-0, 0, NaN, 1, -1, 2.5, -Infinity][i % 7] as number);
    const b = Array.from({ length: n }, (_, i) => [0, -0, 1, NaN, -1][i % 5] as number);
    const [ta, tb] = [tf.tensor1d(a), tf.tensor1d(b)];
    const outs = [tf.minimum(ta, tb), tf.maximum(ta, tb), tf.greater(ta, tb), tf.equal(ta, tb), tf.notEqual(ta, tb)];
    const [mn, mx, gt, eq, ne] = await Promise.all(outs.map((t) => t.data()));
    // The first element that differs from JavaScript's own answer, if any (one expect, not 400,000).
    const wrong = a.findIndex((x, i) => {
      const y = b[i] as number;
      const same = Object.is(mn?.[i], Math.fround(Math.min(x, y))) && Object.is(mx?.[i], Math.fround(Math.max(x, y)));
      return !same || gt?.[i] !== (x > y ? 1 : 0) || eq?.[i] !== (x === y ? 1 : 0) || ne?.[i] !== (x !== y ? 1 : 0);
    });
    expect(wrong).toBe(-1);
    tf.dispose([ta, tb, ...outs]);
  });
});

describe('oneHot honours its dtype (wasm wrote int32 bits into float32 outputs)', () => {
  it.each(TEST_BACKENDS)('%s', async (backend) => {
    await activate(backend);
    const idx = tf.tensor1d([2, 0, 5, -1], 'int32');
    const f = tf.oneHot(idx, 4, 1.5, -0.5, 'float32');
    const i = tf.oneHot(idx, 4);
    expect(f.dtype).toBe('float32');
    expect(Array.from(await f.data())).toEqual([-0.5, -0.5, 1.5, -0.5, 1.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5]);
    expect(Array.from(await i.data())).toEqual([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    tf.dispose([idx, f, i]);
  });
});

describe('wasm gradients agree with cpu', () => {
  const table = buildTable();
  it.each(table.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const inputs = valuesFor(c);
    await activate('cpu');
    const cpu = gradients(c, inputs);
    await activate('wasm');
    const wasm = gradients(c, inputs);
    const forward = relErr(wasm.y, cpu.y);
    const grads = cpu.grads.map((g, i) => relErr(wasm.grads[i] as Float32Array, g));
    report.push(`${c.name.padEnd(56)} fwd ${forward.toExponential(1)}  grads ${grads.map((e) => e.toExponential(1)).join(' ')}`);
    expect(forward).toBeLessThan(TOL);
    for (const e of grads) expect(e).toBeLessThan(TOL);
  });
});

describe('max pool gradient goes to the first maximum (TensorFlow convention)', () => {
  // 2×2 windows: top-left ties at (0,0),(0,1),(1,0); top-right ties at (0,3),(1,2),(1,3);
  // bottom-left is all zero; bottom-right is all 3.
  const x = [1, 1, 0, 2, 1, 0, 2, 2, 0, 0, 3, 3, 0, 0, 3, 3];
  it.each(TEST_BACKENDS)('2x2 stride 2 on a hand-made 4x4 input with ties (%s)', async (backend) => {
    await activate(backend);
    const g = tf.tidy(() => {
      const weights = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t4(t), 2, 2, 'valid'), weights)))(tf.tensor4d(x, [1, 4, 4, 1])).dataSync();
    });
    // window (row, col) → first max in row-major order: TL → (0,0), TR → (0,3), BL → (2,0), BR → (2,2).
    expect(Array.from(g)).toEqual([1, 0, 0, 2, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0]);
  });
  it.each(TEST_BACKENDS)('3x3 stride 1 same: each window sends its weight to its first maximum (%s)', async (backend) => {
    await activate(backend);
    const w = Array.from({ length: 16 }, (_, i) => i + 1);
    const g = tf.tidy(() =>
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t4(t), 3, 1, 'same'), tf.tensor4d(w, [1, 4, 4, 1]))))(tf.tensor4d(x, [1, 4, 4, 1])).dataSync(),
    );
    // Oracle by hand-rolled scan: window centred at (i, j), clipped to the image, first strict max wins.
    const expected = new Array<number>(16).fill(0);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        let best = -Infinity;
        let at = -1;
        for (let r = Math.max(0, i - 1); r <= Math.min(3, i + 1); r++) {
          for (let c = Math.max(0, j - 1); c <= Math.min(3, j + 1); c++) {
            if ((x[r * 4 + c] as number) > best) {
              best = x[r * 4 + c] as number;
              at = r * 4 + c;
            }
          }
        }
        expected[at] = (expected[at] as number) + (w[i * 4 + j] as number);
      }
    }
    expect(Array.from(g)).toEqual(expected);
  });
});

/**
 * Every op below is linear in the input, so its exact gradient is Aᵀr, and column i of A is the op
 * applied to the unit vector e_i: an oracle that does not trust any backward kernel.
 */
function adjointByProbing(f: (x: tf.Tensor) => tf.Tensor, shape: number[], r: Float32Array): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const col = tf.tidy(() => f(tf.reshape(tf.cast(tf.oneHot(tf.tensor1d([i], 'int32'), n), 'float32'), shape)).dataSync());
    let s = 0;
    for (let j = 0; j < col.length; j++) s += (col[j] as number) * (r[j] as number);
    out[i] = s;
  }
  return out;
}

describe('avg pool gradient is the exact adjoint of the forward pass (padding excluded from the count)', () => {
  const cases: [string, number[], (x: tf.Tensor) => tf.Tensor][] = [
    ['3x3 s1 same', [1, 5, 6, 2], (x) => tf.avgPool(t4(x), 3, 1, 'same')],
    ['2x2 s2 same', [1, 5, 5, 2], (x) => tf.avgPool(t4(x), 2, 2, 'same')],
    ['3x3 s2 same', [1, 6, 5, 2], (x) => tf.avgPool(t4(x), 3, 2, 'same')],
    ['3x3 s2 valid', [1, 7, 7, 2], (x) => tf.avgPool(t4(x), 3, 2, 'valid')],
  ];
  for (const backend of TEST_BACKENDS) {
    it.each(cases)(`%s (${backend})`, async (_name, shape, f) => {
      await activate(backend);
      const xv = uniform(seedrandom(`avg/${_name}`), shape.reduce((a, b) => a * b, 1));
      const { g, r } = tf.tidy(() => {
        const x = tf.tensor(xv, shape);
        const y = f(x);
        const rt = tf.tensor(uniform(seedrandom(`avg/${_name}/r`), y.size), y.shape);
        return { g: tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), rt)))(x).dataSync() as Float32Array, r: rt.dataSync() as Float32Array };
      });
      const exact = adjointByProbing(f, shape, r);
      report.push(`avgPool adjoint ${_name} (${backend}) ${relErr(g, exact).toExponential(1)}`);
      expect(relErr(g, exact)).toBeLessThan(1e-5);
    });
  }
});

describe('resize gradients are exact adjoints of the forward resize', () => {
  const cases: [string, number[], (x: tf.Tensor) => tf.Tensor][] = [];
  for (const [alignCorners, halfPixelCenters] of [[false, false], [true, false], [false, true]] as const) {
    for (const [shape, size] of [[[2, 4, 6, 3], [7, 5]], [[2, 5, 5, 1], [3, 4]], [[1, 3, 4, 2], [3, 4]]] as [number[], [number, number]][]) {
      const tag = `[${shape.join(',')}]→[${size.join(',')}] alignCorners=${alignCorners} halfPixel=${halfPixelCenters}`;
      cases.push([`bilinear ${tag}`, shape, (x) => tf.image.resizeBilinear(t4(x), size, alignCorners, halfPixelCenters)]);
      cases.push([`nearest ${tag}`, shape, (x) => tf.image.resizeNearestNeighbor(t4(x), size, alignCorners, halfPixelCenters)]);
    }
  }
  for (const backend of TEST_BACKENDS) {
    it.each(cases)(`%s (${backend})`, async (name, shape, f) => {
      await activate(backend);
      const { g, r } = tf.tidy(() => {
        const x = tf.tensor(uniform(seedrandom(`resize/${name}`), shape.reduce((a, b) => a * b, 1)), shape);
        const rt = tf.tensor(uniform(seedrandom(`resize/${name}/r`), f(x).size), f(x).shape);
        return { g: tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), rt)))(x).dataSync() as Float32Array, r: rt.dataSync() as Float32Array };
      });
      const e = relErr(g, adjointByProbing(f, shape, r));
      report.push(`resize adjoint ${name} (${backend}) ${e.toExponential(1)}`);
      expect(e).toBeLessThan(1e-5);
    });
  }
});

describe('backprop kernels are adjoints of the forward convolution (dot-product test)', () => {
  // <dy, conv(x, W)> = <backpropInput(dy, W), x> = <backpropFilter(x, dy), W> for any x, W, dy.
  const dot = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.sum(tf.mul(a, b)).dataSync()[0] as number);
  type Shape4 = [number, number, number, number];
  const geometries: { name: string; x: Shape4; f: Shape4; strides: [number, number]; pad: Pad | number; dilations: [number, number] }[] = [
    { name: 'depthwise dilation 2 same', x: [2, 9, 8, 3], f: [3, 3, 3, 2], strides: [1, 1], pad: 'same', dilations: [2, 2] },
    { name: 'depthwise dilation [2,3] valid', x: [1, 10, 11, 2], f: [2, 3, 2, 1], strides: [1, 1], pad: 'valid', dilations: [2, 3] },
    { name: 'depthwise stride 2 numeric pad 1', x: [2, 7, 8, 3], f: [3, 3, 3, 2], strides: [2, 2], pad: 1, dilations: [1, 1] },
  ];
  it.each(geometries)('$name (wasm)', async (g) => {
    await activate('wasm');
    const rng = seedrandom(`dot/${g.name}`);
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    tf.tidy(() => {
      const x = tf.tensor(uniform(rng, size(g.x)), g.x) as tf.Tensor4D;
      const w = tf.tensor(uniform(rng, size(g.f)), g.f) as tf.Tensor4D;
      const y = tf.depthwiseConv2d(x, w, g.strides, g.pad, 'NHWC', g.dilations);
      const dy = tf.tensor(uniform(rng, y.size), y.shape);
      const attrs = { strides: g.strides, pad: g.pad, dilations: g.dilations };
      const dx = tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter: w }, { ...attrs, inputShape: g.x }) as tf.Tensor;
      const dw = tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { ...attrs, filterShape: g.f }) as tf.Tensor;
      const lhs = dot(dy, y);
      expect(Math.abs(dot(dx, x) - lhs)).toBeLessThan(1e-5 * Math.max(1, Math.abs(lhs)) * 10);
      expect(Math.abs(dot(dw, w) - lhs)).toBeLessThan(1e-5 * Math.max(1, Math.abs(lhs)) * 10);
    });
  });
});

describe('finite differences anchor the cpu conv input gradient', () => {
  it('central differences match tf.grad of a strided same conv (cpu)', async () => {
    await activate('cpu');
    const rng = seedrandom('fd-conv');
    const xShape = [1, 5, 6, 2];
    const xv = uniform(rng, 60);
    const wv = uniform(rng, 3 * 3 * 2 * 3);
    const rv = uniform(rng, 3 * 3 * 3);
    const loss = (x: Float32Array): number =>
      tf.tidy(() => {
        const y = tf.conv2d(tf.tensor4d(x, xShape as [number, number, number, number]), tf.tensor4d(wv, [3, 3, 2, 3]), 2, 'same').dataSync();
        let s = 0; // float64 accumulation keeps the difference quotient clean
        for (let i = 0; i < y.length; i++) s += (y[i] as number) * (rv[i] as number);
        return s;
      });
    const g = tf.tidy(() =>
      tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(t4(x), tf.tensor4d(wv, [3, 3, 2, 3]), 2, 'same'), tf.tensor4d(rv, [1, 3, 3, 3]))))(tf.tensor4d(xv, xShape as [number, number, number, number])).dataSync(),
    );
    const h = 1e-2;
    const fd = new Float32Array(xv.length);
    for (let i = 0; i < xv.length; i++) {
      const plus = Float32Array.from(xv);
      const minus = Float32Array.from(xv);
      plus[i] = (plus[i] as number) + h;
      minus[i] = (minus[i] as number) - h;
      fd[i] = (loss(plus) - loss(minus)) / (2 * h);
    }
    // float32 forward passes: each loss carries ~1e-7 relative rounding, amplified by 1/(2h).
    expect(relErr(g, fd)).toBeLessThan(1e-3);
  });
});

describe('a layers CNN (conv → conv → maxpool → batchnorm → dense) has the same gradients on wasm and cpu', () => {
  it('input and every weight', async () => {
    const build = (): tfl.LayersModel =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 3, activation: 'relu' }),
          tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
          tfl.layers.maxPooling2d({ poolSize: 2 }),
          tfl.layers.batchNormalization(),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 10 }),
        ],
      });
    const rng = seedrandom('layers-cnn');
    let weights: Float32Array[] | undefined;
    const xv = pixels(rng, 2 * 12 * 12);
    const labels = [3, 7];
    const run = (): Float32Array[] => {
      const model = build();
      if (weights === undefined) weights = model.getWeights().map((w) => uniform(rng, w.size).map((v) => v * 0.5));
      tf.tidy(() => model.setWeights(model.getWeights().map((w, i) => tf.tensor(weights?.[i] as Float32Array, w.shape))));
      const out = tf.tidy(() => {
        const x = tf.tensor4d(xv, [2, 12, 12, 1]);
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
        // training: true takes the batch-statistics path of batchNormalization (moments + batchNorm).
        const lossOf = (input: tf.Tensor): tf.Scalar =>
          tf.losses.softmaxCrossEntropy(y, model.apply(input, { training: true }) as tf.Tensor) as tf.Scalar;
        const gx = tf.grad(lossOf)(x);
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const { grads } = tf.variableGrads(() => lossOf(x), vars);
        return [gx.dataSync() as Float32Array, ...vars.map((v) => grads[v.name]?.dataSync() as Float32Array)];
      });
      model.dispose();
      return out;
    };
    await activate('cpu');
    const cpu = run();
    await activate('wasm');
    const wasm = run();
    cpu.forEach((g, i) => {
      expect(g).toBeDefined();
      const e = relErr(wasm[i] as Float32Array, g);
      report.push(`layers CNN grad #${i} ${e.toExponential(1)}`);
      expect(e).toBeLessThan(TOL);
    });
  });
});

describe('the new wasm kernels free every intermediate', () => {
  const leakCases: [string, Fn, number[][]][] = [
    ['conv2d s2 same (BackpropInput spread + BackpropFilter)', (x, f) => tf.conv2d(t4(x), t4(f), 2, 'same'), [[2, 7, 7, 3], [3, 3, 3, 4]]],
    ['conv2d s1 valid', (x, f) => tf.conv2d(t4(x), t4(f), 1, 'valid'), [[2, 7, 7, 3], [3, 3, 3, 4]]],
    ['conv2d explicit pad 3 (loop fallback)', (x, f) => tf.conv2d(t4(x), t4(f), 2, [[0, 0], [3, 3], [3, 3], [0, 0]]), [[1, 5, 5, 2], [2, 2, 2, 3]]],
    ['depthwise', (x, f) => tf.depthwiseConv2d(t4(x), t4(f), 2, 'same'), [[2, 7, 7, 3], [3, 3, 3, 2]]],
    ['maxPool', (x) => tf.maxPool(t4(x), 3, 1, 'same'), [[2, 7, 7, 3]]],
    ['avgPool', (x) => tf.avgPool(t4(x), 3, 2, 'same'), [[2, 7, 7, 3]]],
    ['fused matMul tB bias relu', (a, b, c) => tf.fused.matMul({ a: t2(a), b: t2(b), transposeB: true, bias: c, activation: 'relu' }), [[5, 6], [4, 6], [4]]],
    ['gather', (x) => tf.gather(x, tf.tensor1d([1, 1, 3], 'int32')), [[5, 3]]],
  ];
  it.each(leakCases)('%s', async (name, f, shapes) => {
    await activate('wasm');
    const c: GradCase = { name, shapes, f };
    const inputs = valuesFor(c);
    gradients(c, inputs); // warm-up: first calls may allocate backend-level caches
    const tensors = tf.memory().numTensors;
    const dataIds = tf.engine().backend.numDataIds();
    for (let i = 0; i < 3; i++) gradients(c, inputs);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(dataIds);
  });
});

describe('clear errors', () => {
  it('a channels-first conv gradient on wasm says to convert to NHWC', async () => {
    await activate('wasm');
    expect(() =>
      tf.tidy(() =>
        tf.engine().runKernel(
          tf.Conv2DBackpropFilter,
          { x: tf.zeros([1, 2, 5, 5]), dy: tf.zeros([1, 3, 3, 3]) },
          { strides: 1, pad: 'valid', dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] },
        ),
      ),
    ).toThrow(/NCHW.*NHWC/);
  });
});
