/**
 * A systematic sweep of the wasm backend against cpu: every kernel tfjs-backend-wasm registers (with
 * robust's fixes installed) is dispatched through the public op that reaches it, on seeded inputs full
 * of values that break sloppy kernels (tiny magnitudes of both signs, ±0, huge values, exact and near
 * .5 ties, NaN and ±Inf), in float32, int32 and bool where the op takes them, with non-default
 * attributes; outputs (dtype, shape, values, NaN positions) and, where the op has a gradient, `tf.grads`
 * of a random-weighted sum must agree. Each case is profiled on wasm to prove it really dispatches the
 * kernels it claims, and a coverage test makes every wasm kernel either covered or skipped with a
 * reason, so a kernel added by a TF.js upgrade cannot slip through unchecked.
 *
 * SWEEP_REPORT=1 prints every case's verdict with its first differing entries; SWEEP_ONLY=<regex> runs
 * only the matching cases (the coverage test still sees all of them).
 */
import seedrandom from 'seedrandom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { activate } from './helpers/backends.js';

type DType = 'float32' | 'int32' | 'bool';
type Gen = (rng: () => number, n: number) => number[];
type Out = tf.Tensor | tf.Tensor[];

interface Input {
  shape: number[];
  dtype: DType;
  /** Fixed values (indices, boxes, sorted sequences); otherwise drawn from `gen`. */
  values?: number[];
  gen?: Gen;
}

/**
 * Element i agrees when |wasm − cpu| ≤ rtol·max(|wasm|, |cpu|) + atol + scaled·max|cpu|.
 * `atol` defaults to 2e-38 so that two results that are both denormal (e.g. exp(−100)) may differ in
 * their last denormal bit; `scaled` is non-zero only for ops that accumulate, where a different
 * summation order moves each entry by a few ulps of the largest term, not of the entry itself.
 */
interface Tol {
  rtol: number;
  atol: number;
  scaled: number;
}

interface Case {
  name: string;
  /** Kernels this case must dispatch on wasm (checked with tf.profile). */
  kernels: string[];
  inputs: Input[];
  f: (...xs: tf.Tensor[]) => Out;
  /** Compare gradients with respect to every float32 input: default, when the first kernel has one. */
  grad?: boolean;
  tol?: Partial<Tol>;
}

const DEFAULT_TOL: Tol = { rtol: 1e-5, atol: 2e-38, scaled: 0 };
/** Accumulating ops (sums, matMul, conv, pooling averages, normalisation): see `Tol`. */
const ACC: Partial<Tol> = { scaled: 1e-5 };

// ---------------------------------------------------------------------------------------------
// Input generators. Each draws from the case's own seeded RNG.

const pick = <T>(rng: () => number, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
const logUniform = (rng: () => number, lo: number, hi: number): number => 10 ** (lo + rng() * (hi - lo));

/** Values that broke or could break a float kernel; every tricky input starts with all of them. */
const TRICKY_CATALOG = [
  0, -0, 1e-30, -1e-30, 3e-25, -7e-20, 1e-14, -1e-14, 2e-10, -5e-9, 1e-7, -1e-7, 6e-8, -3e-8, 1e-5, -1e-5,
  1e5, -1e5, 3e8, -7e12, 1e20, -1e20, 1e30, -1e30, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.5, -4.5,
  0.49999997, -0.49999997, 0.50000006, 2.4999998, -2.5000002, 1, -1, 2, -3, 0.999, -0.999, 1.001, 0.3, -0.7,
  2.9999998, 3.0000002, -2.0000002, 7,
];
const tricky: Gen = (rng, n) => {
  const out = TRICKY_CATALOG.slice(0, n);
  while (out.length < n) {
    const u = rng();
    const s = rng() < 0.5 ? -1 : 1;
    if (u < 0.3) out.push(rng() * 6 - 3);
    else if (u < 0.45) out.push(s * logUniform(rng, -30, -7));
    else if (u < 0.5) out.push(pick(rng, [0, -0]));
    else if (u < 0.6) out.push(s * logUniform(rng, 5, 30));
    else if (u < 0.8) out.push(Math.floor(rng() * 11) - 5 + pick(rng, [0, 0.5, -0.5, 1e-3, -1e-3, 0.49999997]));
    else out.push(rng() * 2 - 1);
  }
  // Shuffle so that binary ops pair different categories.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as number, out[i] as number];
  }
  return out;
};
/** Non-finite and denormal values, for forward passes only. */
const special: Gen = (rng, n) =>
  Array.from({ length: n }, (_, i) =>
    i < 12 ? ([NaN, Infinity, -Infinity, 1e-40, -1e-40, 1e-45, 3.4e38, -3.4e38, 0, -0, NaN, 1] as number[])[i] as number : pick(rng, [NaN, Infinity, -Infinity, 1e-40, 0, -0, rng() * 4 - 2]),
  );
/** Ordinary values with exact zeros, −0 and tiny magnitudes mixed in: for ops that sum. */
const moderate: Gen = (rng, n) =>
  Array.from({ length: n }, () => {
    const u = rng();
    const s = rng() < 0.5 ? -1 : 1;
    return u < 0.1 ? 0 : u < 0.15 ? -0 : u < 0.25 ? s * logUniform(rng, -30, -7) : rng() * 4 - 2;
  });
/** Few distinct values, so that max/min/arg/top-k/sort/compare see many ties (and −0 next to 0). */
const ties: Gen = (rng, n) => Array.from({ length: n }, () => pick(rng, [-2, -1, -0, 0, 0, 1, 1, 2, 0.5]));
/** Around 1 with a few zeros and negatives, so products neither overflow nor underflow. */
const nearOne: Gen = (rng, n) => Array.from({ length: n }, () => (rng() < 0.05 ? 0 : (rng() < 0.2 ? -1 : 1) * (0.6 + rng() * 0.9)));
const positive: Gen = (rng, n) => Array.from({ length: n }, () => 0.1 + rng() * 2);
/** Mostly exact 0 and 1, the rest multiples of 1/255: pooling and dilation windows tie often. */
const pixels: Gen = (rng, n) => Array.from({ length: n }, () => (rng() < 0.45 ? 0 : rng() < 0.5 ? 1 : Math.round(rng() * 255) / 255));
/** Integers: small ones of both signs and zero, plus 2^24 + 1, which a kernel computing in float32 loses. */
const INT_CATALOG = [0, 1, -1, 2, -2, 3, -3, 7, -7, 16777217, -16777217, 100000];
const ints: Gen = (rng, n) => Array.from({ length: n }, (_, i) => (i < INT_CATALOG.length && n >= 24 ? (INT_CATALOG[i] as number) : Math.floor(rng() * 21) - 10));
const smallInts = (lo: number, hi: number): Gen => (rng, n) => Array.from({ length: n }, () => lo + Math.floor(rng() * (hi - lo + 1)));
const bools: Gen = (rng, n) => Array.from({ length: n }, () => (rng() < 0.5 ? 1 : 0));

const F = (shape: number[], gen: Gen = tricky): Input => ({ shape, dtype: 'float32', gen });
const I = (shape: number[], gen: Gen = ints): Input => ({ shape, dtype: 'int32', gen });
const B = (shape: number[]): Input => ({ shape, dtype: 'bool', gen: bools });
const V = (values: number[], shape: number[], dtype: DType = 'int32'): Input => ({ shape, dtype, values });

// ---------------------------------------------------------------------------------------------
// The case table.

const cases: Case[] = [];
function add(kernels: string | string[], name: string, inputs: Input[], f: (...xs: tf.Tensor[]) => Out, opts: Pick<Case, 'grad' | 'tol'> = {}): void {
  cases.push({ name, kernels: typeof kernels === 'string' ? [kernels] : kernels, inputs, f, ...opts });
}
const t2 = (t: tf.Tensor): tf.Tensor2D => t as tf.Tensor2D;
const t3 = (t: tf.Tensor): tf.Tensor3D => t as tf.Tensor3D;
const t4 = (t: tf.Tensor): tf.Tensor4D => t as tf.Tensor4D;
const t5 = (t: tf.Tensor): tf.Tensor5D => t as tf.Tensor5D;
const t1 = (t: tf.Tensor): tf.Tensor1D => t as tf.Tensor1D;

// Element-wise unary ops: every op on tricky values (with gradient), on non-finite values, and on
// int32 where the op takes it.
const UNARY: [string, (x: tf.Tensor) => tf.Tensor, boolean][] = [
  [tf.Abs, (x) => tf.abs(x), true],
  [tf.Acos, (x) => tf.acos(x), false],
  [tf.Acosh, (x) => tf.acosh(x), false],
  [tf.Asin, (x) => tf.asin(x), false],
  [tf.Asinh, (x) => tf.asinh(x), false],
  [tf.Atan, (x) => tf.atan(x), false],
  [tf.Atanh, (x) => tf.atanh(x), false],
  [tf.Ceil, (x) => tf.ceil(x), false],
  [tf.Cos, (x) => tf.cos(x), false],
  [tf.Cosh, (x) => tf.cosh(x), false],
  [tf.Elu, (x) => tf.elu(x), false],
  [tf.Erf, (x) => tf.erf(x), false],
  [tf.Exp, (x) => tf.exp(x), false],
  [tf.Expm1, (x) => tf.expm1(x), false],
  [tf.Floor, (x) => tf.floor(x), false],
  [tf.IsFinite, (x) => tf.isFinite(x), false],
  [tf.IsInf, (x) => tf.isInf(x), false],
  [tf.IsNan, (x) => tf.isNaN(x), false],
  [tf.LeakyRelu, (x) => tf.leakyRelu(x, 0.2), true],
  [tf.Log, (x) => tf.log(x), false],
  [tf.Log1p, (x) => tf.log1p(x), false],
  [tf.Neg, (x) => tf.neg(x), true],
  [tf.Reciprocal, (x) => tf.reciprocal(x), false],
  [tf.Relu, (x) => tf.relu(x), true],
  [tf.Relu6, (x) => tf.relu6(x), true],
  [tf.Round, (x) => tf.round(x), false],
  [tf.Rsqrt, (x) => tf.rsqrt(x), false],
  [tf.Selu, (x) => tf.selu(x), false],
  [tf.Sigmoid, (x) => tf.sigmoid(x), false],
  [tf.Sign, (x) => tf.sign(x), true],
  [tf.Sin, (x) => tf.sin(x), false],
  [tf.Sinh, (x) => tf.sinh(x), false],
  [tf.Softplus, (x) => tf.softplus(x), false],
  [tf.Sqrt, (x) => tf.sqrt(x), false],
  [tf.Square, (x) => tf.square(x), true],
  [tf.Step, (x) => tf.step(x, 0.3), true],
  [tf.Tan, (x) => tf.tan(x), false],
  [tf.Tanh, (x) => tf.tanh(x), false],
  [tf.ClipByValue, (x) => tf.clipByValue(x, -0.5, 2.5), true],
  [tf.OnesLike, (x) => tf.onesLike(x), true],
  [tf.ZerosLike, (x) => tf.zerosLike(x), true],
  [tf.Identity, (x) => tf.clone(x), true],
];
/**
 * Where cpu is the less accurate backend: its erf is Abramowitz–Stegun 7.1.26 (absolute error up to
 * 1.5e-7, so erf(1e-30) = 1e-9), and its elu / selu compute exp(x) − 1 in float64, which cancels to
 * an absolute error of ~1e-16 for tiny x (elu(−7e-20) = 0) while wasm is exact; allow exactly that.
 */
const CPU_ERROR: Record<string, Partial<Tol>> = {
  [tf.Erf]: { atol: 1.5e-7 },
  [tf.Elu]: { atol: 1e-15 },
  [tf.Selu]: { atol: 1e-15 },
};
for (const [kernel, f, takesInt] of UNARY) {
  const tol = CPU_ERROR[kernel];
  add(kernel, `${kernel} tricky`, [F([7, 9])], f, tol ? { tol } : {});
  add(kernel, `${kernel} non-finite`, [F([4, 6], special)], f, { grad: false, ...(tol ? { tol } : {}) });
  if (takesInt) add(kernel, `${kernel} int32`, [I([4, 6])], f);
}
add(tf.EluGrad, 'EluGrad (elu gradient) tricky', [F([7, 9])], (x) => tf.elu(x), { grad: true, tol: { atol: 1e-15 } });
add(tf.LeakyRelu, 'LeakyRelu alpha 0 and negative-zero inputs', [F([7, 9])], (x) => tf.leakyRelu(x, 0));
add(tf.LogicalNot, 'LogicalNot', [B([4, 6])], (x) => tf.logicalNot(x));

// Casts, including the float → int truncation of negatives and fractions (tricky values within the
// int32 range; out-of-range ones have their own case), and float → bool of tiny ones.
const inInt32Range: Gen = (rng, n) => tricky(rng, n).filter((v) => Math.abs(v) < 2e9).concat(Array<number>(n).fill(0.75)).slice(0, n);
for (const [from, to, gen] of [
  ['float32', 'int32', inInt32Range],
  ['float32', 'bool', tricky],
  ['float32', 'float32', tricky],
  ['int32', 'float32', ints],
  ['int32', 'bool', ints],
  ['bool', 'float32', bools],
  ['bool', 'int32', bools],
] as [DType, DType, Gen][]) {
  add(tf.Cast, `Cast ${from} → ${to}`, [{ shape: [5, 8], dtype: from, gen }], (x) => tf.cast(x, to));
}
add(tf.Cast, 'Cast float32 → int32 non-finite and out of range', [V([NaN, Infinity, -Infinity, 3e9, -3e9, 1e30], [6], 'float32')], (x) => tf.cast(x, 'int32'));

// Binary element-wise ops.
const BINARY: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, boolean][] = [
  [tf.Add, (a, b) => tf.add(a, b), true],
  [tf.Sub, (a, b) => tf.sub(a, b), true],
  [tf.Multiply, (a, b) => tf.mul(a, b), true],
  [tf.RealDiv, (a, b) => tf.div(a, b), false],
  [tf.FloorDiv, (a, b) => tf.floorDiv(a, b), true],
  [tf.Mod, (a, b) => tf.mod(a, b), true],
  [tf.Maximum, (a, b) => tf.maximum(a, b), true],
  [tf.Minimum, (a, b) => tf.minimum(a, b), true],
  [tf.Pow, (a, b) => tf.pow(a, b), true],
  [tf.SquaredDifference, (a, b) => tf.squaredDifference(a, b), true],
  [tf.Atan2, (a, b) => tf.atan2(a, b), false],
  [tf.Equal, (a, b) => tf.equal(a, b), true],
  [tf.NotEqual, (a, b) => tf.notEqual(a, b), true],
  [tf.Greater, (a, b) => tf.greater(a, b), true],
  [tf.GreaterEqual, (a, b) => tf.greaterEqual(a, b), true],
  [tf.Less, (a, b) => tf.less(a, b), true],
  [tf.LessEqual, (a, b) => tf.lessEqual(a, b), true],
];
const COMPARISONS = new Set<string>([tf.Equal, tf.NotEqual, tf.Greater, tf.GreaterEqual, tf.Less, tf.LessEqual]);
// tfjs-core's Maximum, Minimum and SquaredDifference gradients do not reduce over broadcast axes
// (they throw on every backend), so broadcast cases of those compare forward values only.
const BROADCAST_GRAD_BROKEN = new Set<string>([tf.Maximum, tf.Minimum, tf.SquaredDifference]);
/** Non-zero divisors: integer division by zero is an error in TensorFlow (see HARMLESS). */
const nonZero: Gen = (rng, n) => ints(rng, n).map((v) => (v === 0 ? 3 : v));
for (const [kernel, op, takesInt] of BINARY) {
  // cpu's FloorDiv returns int32 even for float32 inputs (TensorFlow and wasm return float32), so float
  // floorDiv is compared as float32, on values whose quotients fit an int32 (see HARMLESS).
  const f = kernel === tf.FloorDiv ? (a: tf.Tensor, b: tf.Tensor) => tf.cast(op(a, b), 'float32') : op;
  const floats: Gen = kernel === tf.FloorDiv ? moderate : tricky;
  add(kernel, `${kernel} tricky`, [F([6, 8], floats), F([6, 8], kernel === tf.FloorDiv ? positive : tricky)], f);
  if (kernel !== tf.FloorDiv) add(kernel, `${kernel} non-finite`, [F([4, 6], special), F([4, 6], tricky)], f, { grad: false });
  const grad = !BROADCAST_GRAD_BROKEN.has(kernel);
  const divisor: Gen = kernel === tf.FloorDiv ? positive : moderate;
  add(kernel, `${kernel} broadcast [4,1]×[1,6]`, [F([4, 1], moderate), F([1, 6], divisor)], f, { tol: ACC, grad });
  add(kernel, `${kernel} broadcast [3,4,5]×[5]`, [F([3, 4, 5], moderate), F([5], divisor)], f, { tol: ACC, grad });
  // The shapes of an attack's projection: a per-example radius, a per-feature bound, a scalar, either side.
  const projection = new Set<string>([tf.Add, tf.Sub, tf.Multiply, tf.Maximum, tf.Minimum, ...COMPARISONS]);
  const wide: Gen = tricky;
  if (projection.has(kernel)) add(kernel, `${kernel} broadcast [3,4,5,2]×[3,1,1,1]`, [F([3, 4, 5, 2], wide), F([3, 1, 1, 1], divisor)], f, { tol: ACC, grad });
  if (projection.has(kernel)) add(kernel, `${kernel} broadcast [1,4,5,2]×[3,4,5,2]`, [F([1, 4, 5, 2], moderate), F([3, 4, 5, 2], wide)], f, { tol: ACC, grad });
  if (projection.has(kernel)) add(kernel, `${kernel} broadcast []×[3,4,1,2]`, [F([], moderate), F([3, 4, 1, 2], wide)], f, { tol: ACC, grad });
  if (COMPARISONS.has(kernel)) add(kernel, `${kernel} ties`, [F([6, 8], ties), F([6, 8], ties)], f);
  // robust's WebAssembly SIMD kernels (rows of 256 elements or more; four lanes for Minimum/Maximum, sixteen
  // for the comparisons, then a scalar tail): rows not a multiple of a vector, non-finite values and ±0 on
  // both sides, an operand broadcast along the row on either side.
  if (kernel === tf.Maximum || kernel === tf.Minimum || COMPARISONS.has(kernel)) {
    add(kernel, `${kernel} SIMD rows [2,301]×[2,301] non-finite`, [F([2, 301], special), F([2, 301], special)], f, { grad: false });
    add(kernel, `${kernel} SIMD rows [2,517]×[2,1] non-finite`, [F([2, 517], special), F([2, 1], special)], f, { grad: false });
    add(kernel, `${kernel} SIMD rows []×[700] non-finite`, [F([], special), F([700], special)], f, { grad: false });
  }
  if (takesInt) {
    const base = kernel === tf.Pow ? smallInts(-5, 5) : ints;
    const second = kernel === tf.Pow ? smallInts(0, 4) : kernel === tf.FloorDiv || kernel === tf.Mod ? nonZero : ints;
    add(kernel, `${kernel} int32`, [I([5, 6], base), I([5, 6], second)], op);
    add(kernel, `${kernel} int32 broadcast`, [I([5, 6], base), I([6], kernel === tf.Pow ? second : smallInts(1, 9))], op);
  }
}
add(tf.FloorDiv, 'FloorDiv float32 dtype (tricky)', [F([6, 8]), F([6, 8])], (a, b) => tf.floorDiv(a, b));
add(tf.Pow, 'Pow int32 overflow', [V([16777217, 100000, -7, 3, 46341], [5]), V([2, 2, 12, 21, 2], [5])], (a, b) => tf.pow(a, b));
add(tf.Pow, 'Pow negative bases, integer exponents', [F([5, 6], moderate), F([5, 6], smallInts(-3, 3))], (a, b) => tf.pow(a, b));
add(tf.Pow, 'Pow int32 negative exponents', [I([5, 6], (rng, n) => smallInts(-3, 3)(rng, n).map((v) => v || 2)), I([5, 6], smallInts(-2, 3))], (a, b) => tf.pow(a, b));
add(tf.Pow, 'Pow int32 zero to a negative power', [V([0, 0, 2], [3]), V([-1, -2, -1], [3])], (a, b) => tf.pow(a, b));
add(tf.FloorDiv, 'FloorDiv int32 by zero', [I([6], smallInts(-5, 5)), V([0, 0, 0, 1, -1, 2], [6])], (a, b) => tf.floorDiv(a, b));
add(tf.Mod, 'Mod int32 by zero', [I([6], smallInts(-5, 5)), V([0, 0, 0, 1, -1, 2], [6])], (a, b) => tf.mod(a, b));
add(tf.RealDiv, 'RealDiv by ±0', [F([6], moderate), V([0, -0, 0, -0, 1e-30, -1e-30], [6], 'float32')], (a, b) => tf.div(a, b), { grad: false });
for (const [kernel, f] of [
  [tf.LogicalAnd, (a: tf.Tensor, b: tf.Tensor) => tf.logicalAnd(a, b)],
  [tf.LogicalOr, (a: tf.Tensor, b: tf.Tensor) => tf.logicalOr(a, b)],
] as const) {
  add(kernel, `${kernel}`, [B([4, 6]), B([4, 6])], f);
  add(kernel, `${kernel} broadcast`, [B([4, 1]), B([6])], f);
}
add(tf.BitwiseAnd, 'BitwiseAnd int32', [I([4, 6]), I([4, 6])], (a, b) => tf.bitwiseAnd(a, b));
add(tf.Prelu, 'Prelu alpha per channel', [F([4, 6]), F([6], moderate)], (x, a) => tf.prelu(x, a));
add(tf.Prelu, 'Prelu alpha broadcast over [2,3,4,5]', [F([2, 3, 4, 5], moderate), F([4, 5], moderate)], (x, a) => tf.prelu(x, a), { tol: ACC });
add(tf.AddN, 'AddN float', [F([4, 6], moderate), F([4, 6], moderate), F([4, 6], moderate)], (a, b, c) => tf.addN([a, b, c]), { tol: ACC });
add(tf.AddN, 'AddN tricky pairs', [F([4, 6]), F([4, 6])], (a, b) => tf.addN([a, b]));
add(tf.AddN, 'AddN int32', [I([4, 6]), I([4, 6]), I([4, 6])], (a, b, c) => tf.addN([a, b, c]));

// Reductions: every axis form, keepDims, float (with ties for the order-based ones) and int32.
const REDUCE: [string, (x: tf.Tensor, axis: number | number[] | undefined, keep: boolean) => tf.Tensor, Gen][] = [
  [tf.Sum, (x, a, k) => tf.sum(x, a, k), moderate],
  [tf.Mean, (x, a, k) => tf.mean(x, a, k), moderate],
  [tf.Prod, (x, a, k) => tf.prod(x, a, k), nearOne],
  [tf.Max, (x, a, k) => tf.max(x, a, k), tricky],
  [tf.Min, (x, a, k) => tf.min(x, a, k), tricky],
];
const AXES: [string, number | number[] | undefined, boolean][] = [
  ['all', undefined, false],
  ['axis 0', 0, false],
  ['axis -1 keepDims', -1, true],
  ['axes [0,2]', [0, 2], false],
  ['axis 1 keepDims', 1, true],
];
for (const [kernel, f, gen] of REDUCE) {
  for (const [tag, axis, keep] of AXES) {
    add(kernel, `${kernel} ${tag}`, [F([3, 4, 5], gen)], (x) => f(x, axis, keep), { tol: ACC, grad: kernel !== tf.Prod });
    add(kernel, `${kernel} ${tag} int32`, [I([3, 4, 5], kernel === tf.Prod ? smallInts(-2, 2) : ints)], (x) => f(x, axis, keep));
  }
  add(kernel, `${kernel} ties`, [F([4, 6], ties)], (x) => f(x, -1, false), { tol: ACC, grad: kernel !== tf.Prod });
  add(kernel, `${kernel} non-finite`, [F([4, 6], special)], (x) => f(x, -1, false), { grad: false, tol: ACC });
}
for (const [kernel, f] of [
  [tf.ArgMax, (x: tf.Tensor, axis: number) => tf.argMax(x, axis)],
  [tf.ArgMin, (x: tf.Tensor, axis: number) => tf.argMin(x, axis)],
] as const) {
  for (const axis of [0, 1, -1]) {
    add(kernel, `${kernel} axis ${axis} ties`, [F([4, 5, 6], ties)], (x) => f(x, axis));
    add(kernel, `${kernel} axis ${axis} tricky`, [F([4, 5, 6])], (x) => f(x, axis));
    add(kernel, `${kernel} axis ${axis} int32`, [I([4, 5, 6], smallInts(-3, 3))], (x) => f(x, axis));
  }
  add(kernel, `${kernel} NaN`, [F([4, 6], special)], (x) => f(x, -1));
}
for (const [kernel, f] of [
  [tf.All, (x: tf.Tensor, a: number | number[] | undefined, k: boolean) => tf.all(x, a, k)],
  [tf.Any, (x: tf.Tensor, a: number | number[] | undefined, k: boolean) => tf.any(x, a, k)],
] as const) {
  for (const [tag, axis, keep] of AXES) add(kernel, `${kernel} ${tag}`, [B([3, 4, 5])], (x) => f(x, axis, keep));
}
for (const [kernel, f] of [
  [tf.Cumsum, (x: tf.Tensor, axis: number, exclusive: boolean, reverse: boolean) => tf.cumsum(x, axis, exclusive, reverse)],
  [tf.Cumprod, (x: tf.Tensor, axis: number, exclusive: boolean, reverse: boolean) => tf.cumprod(x, axis, exclusive, reverse)],
] as const) {
  for (const axis of [0, 1, -1]) {
    for (const exclusive of [false, true]) {
      for (const reverse of [false, true]) {
        const tag = `${kernel} axis ${axis} exclusive=${exclusive} reverse=${reverse}`;
        // tfjs-core's Cumsum gradient only handles the innermost axis given as a non-negative index.
        add(kernel, tag, [F([4, 6], kernel === tf.Cumsum ? moderate : nearOne)], (x) => f(x, axis, exclusive, reverse), { tol: ACC, grad: kernel === tf.Cumsum && axis === 1 });
        add(kernel, `${tag} int32`, [I([4, 6], smallInts(-3, 3))], (x) => f(x, axis, exclusive, reverse));
      }
    }
  }
  add(kernel, `${kernel} rank 3 axis 1`, [F([2, 5, 3], nearOne)], (x) => f(x, 1, false, false), { tol: ACC, grad: false });
}
add(tf.Softmax, 'Softmax logits', [F([4, 9], (rng, n) => moderate(rng, n).map((v) => v * 8))], (x) => tf.softmax(x), { tol: ACC });
add(tf.Softmax, 'Softmax tricky (huge logits)', [F([6, 8])], (x) => tf.softmax(x), { tol: ACC });
add(tf.Softmax, 'Softmax rank 3', [F([2, 3, 5], moderate)], (x) => tf.softmax(x, -1), { tol: ACC });

// Shape, layout and copy ops, float and int32 (and bool where robust builds masks).
for (const [dtype, mk] of [
  ['float32', (s: number[]) => F(s)],
  ['int32', (s: number[]) => I(s)],
  ['bool', (s: number[]) => B(s)],
] as [DType, (s: number[]) => Input][]) {
  const x3 = mk([3, 4, 5]);
  add(tf.Reshape, `Reshape ${dtype}`, [x3], (x) => tf.reshape(x, [5, -1, 2]));
  add(tf.ExpandDims, `ExpandDims ${dtype}`, [x3], (x) => tf.expandDims(tf.expandDims(x, -1), 1));
  add(tf.Transpose, `Transpose [2,0,1] ${dtype}`, [x3], (x) => tf.transpose(x, [2, 0, 1]));
  add(tf.Transpose, `Transpose 4-D NHWC→NCHW ${dtype}`, [mk([2, 3, 4, 5])], (x) => tf.transpose(x, [0, 3, 1, 2]));
  add(tf.Transpose, `Transpose 2-D ${dtype}`, [mk([5, 7])], (x) => tf.transpose(x));
  add(tf.Concat, `Concat axis 0 ${dtype}`, [mk([2, 3]), mk([3, 3]), mk([1, 3])], (a, b, c) => tf.concat([a, b, c], 0));
  add(tf.Concat, `Concat axis -1 ${dtype}`, [mk([2, 3, 2]), mk([2, 3, 4])], (a, b) => tf.concat([a, b], -1));
  add(tf.Pack, `Pack axis 1 ${dtype}`, [mk([3, 4]), mk([3, 4]), mk([3, 4])], (a, b, c) => tf.stack([a, b, c], 1));
  add(tf.Unpack, `Unpack axis 1 ${dtype}`, [x3], (x) => tf.unstack(x, 1));
  add(tf.Slice, `Slice ${dtype}`, [x3], (x) => tf.slice(x, [1, 0, 2], [2, -1, 2]));
  add(tf.StridedSlice, `StridedSlice negative strides ${dtype}`, [mk([5, 6])], (x) => tf.stridedSlice(x, [4, 5], [0, 0], [-1, -2]));
  add(tf.StridedSlice, `StridedSlice masks ${dtype}`, [x3], (x) => tf.stridedSlice(x, [1, 0, 1], [3, 3, 5], [1, 2, 2], 1, 4, 0, 0, 0));
  add(tf.StridedSlice, `StridedSlice shrink and new axis ${dtype}`, [x3], (x) => tf.stridedSlice(x, [1, 0, 0, 1], [2, 1, 4, 4], [1, 1, 1, 1], 0, 0, 0, 2, 1));
  add(tf.SplitV, `SplitV sizes axis -1 ${dtype}`, [x3], (x) => tf.split(x, [2, 1, 2], -1));
  add(tf.SplitV, `SplitV count axis 0 ${dtype}`, [mk([4, 3])], (x) => tf.split(x, 2, 0));
  add(tf.Tile, `Tile ${dtype}`, [mk([2, 3])], (x) => tf.tile(x, [3, 2]));
  add(tf.Tile, `Tile rank 3 ${dtype}`, [mk([2, 1, 3])], (x) => tf.tile(x, [1, 4, 2]));
  add(tf.Tile, `Tile per-example over a batch ${dtype}`, [mk([3, 1, 1, 1])], (x) => tf.tile(x, [1, 5, 4, 3]));
  add(tf.Tile, `Tile every axis ${dtype}`, [mk([2, 3, 1, 2])], (x) => tf.tile(x, [3, 2, 4, 2]));
  add(tf.Reverse, `Reverse axes [0,2] ${dtype}`, [x3], (x) => tf.reverse(x, [0, 2]));
  add(tf.Reverse, `Reverse axis -1 ${dtype}`, [mk([4, 7])], (x) => tf.reverse(x, -1));
  add(tf.GatherV2, `GatherV2 axis 0 ${dtype}`, [mk([5, 4]), V([0, 4, 4, 2, 1, 0], [6])], (x, i) => tf.gather(x, i, 0));
  add(tf.GatherV2, `GatherV2 rows of a batch ${dtype}`, [mk([4, 5, 3, 2]), V([3, 0, 0, 2], [4])], (x, i) => tf.gather(x, i, 0));
  add(tf.GatherV2, `GatherV2 axis 2 ${dtype}`, [mk([3, 4, 5, 2]), V([4, 1], [2])], (x, i) => tf.gather(x, i, 2));
  add(tf.GatherV2, `GatherV2 axis -1 2-D indices ${dtype}`, [x3, V([4, 0, 2, 2], [2, 2])], (x, i) => tf.gather(x, i, -1));
  // tfjs-core's gather gradient with batchDims uses a chained op (x.split) that its Node bundle lacks.
  add(tf.GatherV2, `GatherV2 batchDims 1 ${dtype}`, [mk([3, 5, 4]), V([4, 0, 1, 1, 3, 2], [3, 2])], (x, i) => tf.gather(x, i, 1, 1), { grad: false });
  add(tf.GatherNd, `GatherNd ${dtype}`, [mk([4, 5, 3]), V([1, 2, 3, 0, 1, 2, 0, 4], [4, 2])], (x, i) => tf.gatherND(x, i));
  add(tf.GatherNd, `GatherNd full index ${dtype}`, [mk([4, 5]), V([1, 2, 3, 0, 3, 4], [3, 2])], (x, i) => tf.gatherND(x, i));
  add(tf.Select, `Select ${dtype}`, [B([4, 6]), mk([4, 6]), mk([4, 6])], (c, a, b) => tf.where(c, a, b));
  add(tf.Select, `Select broadcast ${dtype}`, [B([1, 6]), mk([4, 6]), mk([4, 1])], (c, a, b) => tf.where(c, a, b));
  if (dtype === 'bool') add(tf.Identity, 'Identity bool', [mk([3, 4])], (x) => tf.clone(x));
}
for (const [dtype, mk] of [
  ['float32', (s: number[]) => F(s)],
  ['int32', (s: number[]) => I(s)],
] as [DType, (s: number[]) => Input][]) {
  add(tf.PadV2, `PadV2 ${dtype}`, [mk([3, 4])], (x) => tf.pad(x, [[1, 2], [0, 3]], dtype === 'int32' ? 7 : 1.5));
  add(tf.PadV2, `PadV2 rank 4 ${dtype}`, [mk([2, 3, 3, 2])], (x) => tf.pad(x, [[0, 0], [2, 1], [1, 1], [0, 0]]));
  add(tf.MirrorPad, `MirrorPad reflect ${dtype}`, [mk([4, 5])], (x) => tf.mirrorPad(x, [[1, 3], [2, 0]], 'reflect'));
  add(tf.MirrorPad, `MirrorPad symmetric ${dtype}`, [mk([2, 4, 5])], (x) => tf.mirrorPad(x, [[0, 2], [4, 1], [2, 5]], 'symmetric'));
  add(tf.SpaceToBatchND, `SpaceToBatchND ${dtype}`, [mk([2, 4, 6, 3])], (x) => tf.spaceToBatchND(x, [2, 3], [[0, 2], [1, 2]]));
  add(tf.BatchToSpaceND, `BatchToSpaceND ${dtype}`, [mk([12, 2, 3, 2])], (x) => tf.batchToSpaceND(x, [2, 3], [[0, 1], [1, 2]]));
  if (dtype === 'float32') add(tf.DepthToSpace, 'DepthToSpace', [mk([2, 2, 3, 8])], (x) => tf.depthToSpace(t4(x), 2));
  add(tf.Diag, `Diag 1-D ${dtype}`, [mk([5])], (x) => tf.diag(x));
  add(tf.Diag, `Diag 2-D ${dtype}`, [mk([2, 3])], (x) => tf.diag(x));
  // cpu returns float32 sums of int32 data (TensorFlow and robust's wasm kernel keep int32): compare as float32.
  add(tf.UnsortedSegmentSum, `UnsortedSegmentSum ${dtype}`, [mk([6, 3]), V([0, 3, 3, 1, 0, 3], [6])], (x, s) => tf.cast(tf.unsortedSegmentSum(x, t1(s), 5), 'float32'), { tol: ACC });
  add(tf.ScatterNd, `ScatterNd duplicates ${dtype}`, [V([1, 3, 1, 0], [4, 1]), mk([4, 3])], (i, u) => tf.scatterND(i, u, [5, 3]), { tol: ACC });
  add(tf.ScatterNd, `ScatterNd elements ${dtype}`, [V([1, 2, 0, 0, 3, 1], [3, 2]), mk([3])], (i, u) => tf.scatterND(i, u, [4, 3]));
  add(tf.TensorScatterUpdate, `TensorScatterUpdate ${dtype}`, [mk([5, 3]), V([1, 4], [2, 1]), mk([2, 3])], (t, i, u) => tf.tensorScatterUpdate(t, i, u));
  add(tf.SparseToDense, `SparseToDense ${dtype}`, [V([0, 1, 2, 3, 2, 4], [3, 2]), mk([3])], (i, v) => tf.sparseToDense(i, v, [3, 5], dtype === 'int32' ? -4 : 0.25));
  add(tf.TopK, `TopK k=3 ${dtype}`, [mk([3, 8])], (x) => Object.values(tf.topk(x, 3)));
  add(tf.TopK, `TopK ties k=8 ${dtype}`, [dtype === 'int32' ? I([3, 8], smallInts(-2, 2)) : F([3, 8], ties)], (x) => Object.values(tf.topk(x, 8)));
  add(tf.TopK, `TopK unsorted k=4 ${dtype}`, [dtype === 'int32' ? I([2, 9], smallInts(-2, 2)) : F([2, 9], ties)], (x) => Object.values(tf.topk(x, 4, false)));
  add(tf.Unique, `Unique 1-D ${dtype}`, [dtype === 'int32' ? I([12], smallInts(-2, 2)) : F([12], ties)], (x) => Object.values(tf.unique(x)));
  add(tf.Unique, `Unique axis 1 ${dtype}`, [dtype === 'int32' ? I([3, 6], smallInts(0, 1)) : V([1, 1, 0, 1, -0, 1, 2, 2, 3, 2, 2, 2, 0, 0, 5, 0, 0, 5], [3, 6], 'float32')], (x) => Object.values(tf.unique(x, 1)));
  add(tf.Fill, `Fill ${dtype}`, [], () => tf.fill([2, 3], dtype === 'int32' ? -7 : 1e-30, dtype));
}
add(tf.TopK, 'TopK tricky k=5', [F([4, 12])], (x) => Object.values(tf.topk(x, 5)));
add(tf.TopK, 'TopK NaN', [F([2, 6], special)], (x) => Object.values(tf.topk(x, 3)));
add(tf.OneHot, 'OneHot default (int32)', [V([2, 0, 5, -1, 3], [5])], (i) => tf.oneHot(i, 4));
add(tf.OneHot, 'OneHot float32 on/off', [V([2, 0, 5, -1, 3], [5])], (i) => tf.oneHot(i, 4, 1.5, -0.5, 'float32'));
add(tf.OneHot, 'OneHot int32 on/off 2-D indices', [V([2, 0, 5, -1, 3, 3], [2, 3])], (i) => tf.oneHot(i, 6, 3, -2, 'int32'));
add(tf.Range, 'Range float', [], () => tf.range(0, 5, 0.7));
add(tf.Range, 'Range negative step', [], () => tf.range(10, -3, -2.5));
add(tf.Range, 'Range tenths', [], () => tf.range(0, 1, 0.1));
add(tf.Range, 'Range int32', [], () => tf.range(1, 20, 3, 'int32'));
add(tf.LinSpace, 'LinSpace', [], () => tf.linspace(-1, 2.5, 7));
add(tf.LinSpace, 'LinSpace thirds', [], () => tf.linspace(0, 1, 4));
add(tf.BroadcastArgs, 'BroadcastArgs', [V([2, 1, 4], [3]), V([3, 1], [2])], (a, b) => tf.broadcastArgs(a, b));
add(tf.Bincount, 'Bincount weighted', [V([0, 1, 1, 3, 2, 1, 5, 7, 0, 3], [10]), F([10], moderate)], (x, w) => tf.bincount(t1(x), t1(w), 6), { tol: ACC });
add(tf.Bincount, 'Bincount counts', [V([0, 1, 1, 3, 2, 1, 5, 7, 0, 3], [10])], (x) => tf.bincount(t1(x), tf.tensor1d([]), 6));
add(tf.DenseBincount, 'DenseBincount 1-D weighted', [V([0, 1, 1, 3, 2, 1, 5, 7, 0, 3], [10]), F([10], moderate)], (x, w) => tf.denseBincount(t1(x), t1(w), 6), { tol: ACC });
add(tf.DenseBincount, 'DenseBincount 2-D binary', [V([0, 1, 1, 3, 2, 1, 5, 7, 0, 3], [2, 5])], (x) => tf.denseBincount(t2(x), tf.tensor2d([], [0, 0]), 6, true));
add(tf.DenseBincount, 'DenseBincount 2-D counts int32 weights', [V([0, 1, 1, 3, 2, 1, 5, 2, 0, 3], [2, 5]), I([2, 5], smallInts(1, 4))], (x, w) => tf.denseBincount(t2(x), t2(w), 4));
const SORTED = [-2, -1, -1, 0, 0, 0.5, 1, 1, 2, 3, -3, -3, -1, 0, 0, 0, 2, 2, 2, 5];
for (const side of ['left', 'right'] as const) {
  add(tf.SearchSorted, `SearchSorted ${side} ties`, [V(SORTED, [2, 10], 'float32'), F([2, 7], ties)], (s, v) => tf.searchSorted(s, v, side));
  add(tf.SearchSorted, `SearchSorted ${side} 1-D int32`, [V([-3, -1, -1, 0, 2, 2, 7], [7]), I([9], smallInts(-4, 8))], (s, v) => tf.searchSorted(s, v, side));
}

// Matrix products, in every transpose, batch broadcast and fused bias/activation form.
for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
  const a = ta ? [6, 5] : [5, 6];
  const b = tb ? [4, 6] : [6, 4];
  add(tf.BatchMatMul, `BatchMatMul tA=${ta} tB=${tb}`, [F(a, moderate), F(b, moderate)], (x, y) => tf.matMul(x, y, ta, tb), { tol: ACC });
  add(tf.BatchMatMul, `BatchMatMul batched tA=${ta} tB=${tb}`, [F([3, ...a], moderate), F([3, ...b], moderate)], (x, y) => tf.matMul(x, y, ta, tb), { tol: ACC });
  for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'] as const) {
    add(tf._FusedMatMul, `_FusedMatMul ${activation} bias tA=${ta} tB=${tb}`, [F(a, moderate), F(b, moderate), F([4], moderate)], (x, y, bias) =>
      tf.fused.matMul({ a: t2(x), b: t2(y), transposeA: ta, transposeB: tb, bias, activation, leakyreluAlpha: 0.15 }), { tol: ACC });
  }
  add(tf._FusedMatMul, `_FusedMatMul prelu full bias tA=${ta} tB=${tb}`, [F(a, moderate), F(b, moderate), F([5, 4], moderate), F([4], moderate)], (x, y, bias, alpha) =>
    tf.fused.matMul({ a: t2(x), b: t2(y), transposeA: ta, transposeB: tb, bias, activation: 'prelu', preluActivationWeights: alpha }), { tol: ACC });
  add(tf._FusedMatMul, `_FusedMatMul batched bias tA=${ta} tB=${tb}`, [F([2, ...a], moderate), F([2, ...b], moderate), F([4], moderate)], (x, y, bias) =>
    tf.fused.matMul({ a: t3(x), b: t3(y), transposeA: ta, transposeB: tb, bias, activation: 'relu' }), { tol: ACC });
}
// tfjs-core's BatchMatMul gradient does not reduce over broadcast batch axes (throws on every backend).
add(tf.BatchMatMul, 'BatchMatMul broadcast batch [1,5,6]×[3,6,4]', [F([1, 5, 6], moderate), F([3, 6, 4], moderate)], (x, y) => tf.matMul(x, y), { tol: ACC, grad: false });
add(tf.BatchMatMul, 'BatchMatMul broadcast batch [2,1,5,6]×[1,3,6,4]', [F([2, 1, 5, 6], moderate), F([1, 3, 6, 4], moderate)], (x, y) => tf.matMul(x, y), { tol: ACC, grad: false });
add(tf.BatchMatMul, 'BatchMatMul tricky (tiny, huge)', [F([4, 5]), F([5, 3])], (x, y) => tf.matMul(x, y), { grad: false, tol: ACC });
add(tf.BatchMatMul, 'BatchMatMul int32', [I([4, 5], smallInts(-5, 5)), I([5, 3], smallInts(-5, 5))], (x, y) => tf.matMul(x, y));
add(tf._FusedMatMul, '_FusedMatMul scalar bias', [F([5, 6], moderate), F([6, 4], moderate), F([1], moderate)], (x, y, bias) => tf.fused.matMul({ a: t2(x), b: t2(y), bias }), { tol: ACC });
add(tf._FusedMatMul, '_FusedMatMul broadcast batch, column bias', [F([1, 5, 6], moderate), F([3, 6, 4], moderate), F([5, 1], moderate)], (x, y, bias) => tf.fused.matMul({ a: t3(x), b: t3(y), bias, activation: 'elu' }), { tol: ACC });
add(tf._FusedMatMul, '_FusedMatMul no bias relu6', [F([5, 6], moderate), F([6, 4], moderate)], (x, y) => tf.fused.matMul({ a: t2(x), b: t2(y), activation: 'relu6' }), { tol: ACC });

// Convolutions and pooling, in several geometries; gradients reach the backprop kernels.
const CONV: [string, number[], number[], number | [number, number], 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]], number | [number, number]][] = [
  ['s1 same', [2, 7, 8, 3], [3, 3, 3, 4], 1, 'same', 1],
  ['s[2,1] valid', [2, 8, 7, 2], [3, 2, 2, 3], [2, 1], 'valid', 1],
  ['s2 same', [1, 9, 9, 3], [3, 3, 3, 2], 2, 'same', 1],
  ['dilation 2 same', [2, 9, 8, 2], [3, 3, 2, 3], 1, 'same', 2],
  ['explicit pad', [2, 6, 5, 3], [2, 3, 3, 4], 1, [[0, 0], [1, 2], [2, 0], [0, 0]], 1],
  ['numeric pad 1 s2', [1, 7, 6, 2], [3, 3, 2, 3], 2, 1, 1],
  ['1x1', [2, 4, 5, 6], [1, 1, 6, 5], 1, 'valid', 1],
];
for (const [tag, xs, fs, strides, pad, dil] of CONV) {
  // tfjs-core has no conv gradients with dilations > 1 (it throws on every backend).
  const grads = dil === 1 ? [tf.Conv2DBackpropInput, tf.Conv2DBackpropFilter] : [];
  add([tf.Conv2D, ...grads], `Conv2D ${tag}`, [F(xs, moderate), F(fs, moderate)], (x, w) => tf.conv2d(t4(x), t4(w), strides, pad, 'NHWC', dil), { tol: ACC, grad: dil === 1 });
  const dfs = [fs[0] as number, fs[1] as number, fs[2] as number, 2];
  const dgrads = dil === 1 ? [tf.DepthwiseConv2dNativeBackpropInput, tf.DepthwiseConv2dNativeBackpropFilter] : [];
  add([tf.DepthwiseConv2dNative, ...dgrads], `DepthwiseConv2dNative ${tag}`, [F(xs, moderate), F(dfs, moderate)], (x, w) =>
    tf.depthwiseConv2d(t4(x), t4(w), strides, pad, 'NHWC', dil), { tol: ACC, grad: dil === 1 });
}
for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const) {
  const prelu = (alpha: tf.Tensor) => (activation === 'prelu' ? { preluActivationWeights: alpha } : {});
  add(tf.FusedConv2D, `FusedConv2D ${activation} bias s2 same`, [F([2, 7, 7, 3], moderate), F([3, 3, 3, 4], moderate), F([4], moderate), F([4], moderate)], (x, w, b, alpha) =>
    tf.fused.conv2d({ x: t4(x), filter: t4(w), strides: 2, pad: 'same', bias: b, activation, leakyreluAlpha: 0.15, ...prelu(alpha) }), { tol: ACC });
  add(tf.FusedDepthwiseConv2D, `FusedDepthwiseConv2D ${activation} bias s1 valid`, [F([2, 7, 7, 3], moderate), F([3, 3, 3, 2], moderate), F([6], moderate), F([6], moderate)], (x, w, b, alpha) =>
    tf.fused.depthwiseConv2d({ x: t4(x), filter: t4(w), strides: 1, pad: 'valid', bias: b, activation, leakyreluAlpha: 0.15, ...prelu(alpha) }), { tol: ACC });
}
add(tf.FusedConv2D, 'FusedConv2D relu with stray prelu weights', [F([2, 7, 7, 3], moderate), F([3, 3, 3, 4], moderate), F([4], moderate), F([4], moderate)], (x, w, b, alpha) =>
  tf.fused.conv2d({ x: t4(x), filter: t4(w), strides: 2, pad: 'same', bias: b, activation: 'relu', preluActivationWeights: alpha }), { tol: ACC });
add(tf.FusedDepthwiseConv2D, 'FusedDepthwiseConv2D linear with stray prelu weights', [F([2, 7, 7, 3], moderate), F([3, 3, 3, 2], moderate), F([6], moderate), F([6], moderate)], (x, w, b, alpha) =>
  tf.fused.depthwiseConv2d({ x: t4(x), filter: t4(w), strides: 1, pad: 'valid', bias: b, preluActivationWeights: alpha }), { tol: ACC });
add(tf.FusedConv2D, 'FusedConv2D no bias relu dilation 2', [F([1, 8, 8, 2], moderate), F([3, 3, 2, 3], moderate)], (x, w) => tf.fused.conv2d({ x: t4(x), filter: t4(w), strides: 1, pad: 'same', dilations: 2, activation: 'relu' }), { tol: ACC });
add(tf.FusedDepthwiseConv2D, 'FusedDepthwiseConv2D bias s2 same dilation 1', [F([1, 8, 8, 3], moderate), F([3, 3, 3, 1], moderate), F([3], moderate)], (x, w, b) => tf.fused.depthwiseConv2d({ x: t4(x), filter: t4(w), strides: 2, pad: 'same', bias: b }), { tol: ACC });
add(tf.Conv2DBackpropInput, 'Conv2DBackpropInput (conv2dTranspose) s2 same', [F([2, 4, 4, 3], moderate), F([3, 3, 5, 3], moderate)], (x, w) => tf.conv2dTranspose(t4(x), t4(w), [2, 8, 8, 5], 2, 'same'), { tol: ACC });
add(tf.Conv2DBackpropInput, 'Conv2DBackpropInput (conv2dTranspose) s2 valid', [F([1, 4, 3, 2], moderate), F([3, 2, 4, 2], moderate)], (x, w) => tf.conv2dTranspose(t4(x), t4(w), [1, 9, 6, 4], 2, 'valid'), { tol: ACC });
add([tf.Conv3D, tf.Conv3DBackpropInputV2, tf.Conv3DBackpropFilterV2], 'Conv3D s1 same', [F([1, 4, 5, 6, 2], moderate), F([2, 3, 2, 2, 3], moderate)], (x, w) => tf.conv3d(t5(x), t5(w), 1, 'same'), { tol: ACC });
add([tf.Conv3D, tf.Conv3DBackpropInputV2, tf.Conv3DBackpropFilterV2], 'Conv3D s[1,2,2] valid', [F([2, 5, 6, 5, 2], moderate), F([3, 2, 3, 2, 2], moderate)], (x, w) => tf.conv3d(t5(x), t5(w), [1, 2, 2], 'valid'), { tol: ACC });
add(tf.Conv3DBackpropInputV2, 'Conv3DBackpropInputV2 (conv3dTranspose) s2 same', [F([1, 3, 3, 3, 2], moderate), F([2, 2, 2, 4, 2], moderate)], (x, w) => tf.conv3dTranspose(t5(x), t5(w), [1, 6, 6, 6, 4], 2, 'same'), { tol: ACC });
for (const [tag, gen] of [['', moderate], [' ties', pixels]] as [string, Gen][]) {
  add([tf.Dilation2D, tf.Dilation2DBackpropInput, tf.Dilation2DBackpropFilter], `Dilation2D s1 same${tag}`, [F([2, 6, 7, 3], gen), F([3, 2, 3], gen)], (x, w) => tf.dilation2d(t4(x), t3(w), 1, 'same'), { tol: ACC });
  add([tf.Dilation2D, tf.Dilation2DBackpropInput, tf.Dilation2DBackpropFilter], `Dilation2D s2 valid dilation 2${tag}`, [F([1, 9, 8, 2], gen), F([2, 3, 2], gen)], (x, w) => tf.dilation2d(t4(x), t3(w), 2, 'valid', 2), { tol: ACC });
  for (const [ptag, k, s, pad] of [['3x3 s2 same', 3, 2, 'same'], ['[2,3] s[1,2] valid', [2, 3], [1, 2], 'valid'], ['2x2 s2 valid', 2, 2, 'valid']] as [string, number | [number, number], number | [number, number], 'same' | 'valid'][]) {
    add([tf.MaxPool, tf.MaxPoolGrad], `MaxPool ${ptag}${tag}`, [F([2, 7, 8, 3], gen)], (x) => tf.maxPool(t4(x), k, s, pad), { tol: ACC });
    add([tf.AvgPool, tf.AvgPoolGrad], `AvgPool ${ptag}${tag}`, [F([2, 7, 8, 3], gen)], (x) => tf.avgPool(t4(x), k, s, pad), { tol: ACC });
  }
  add([tf.MaxPool3D, tf.MaxPool3DGrad], `MaxPool3D 2 s2 same${tag}`, [F([1, 5, 6, 4, 2], gen)], (x) => tf.maxPool3d(t5(x), 2, 2, 'same'), { tol: ACC });
  add([tf.MaxPool3D, tf.MaxPool3DGrad], `MaxPool3D 3 s1 valid${tag}`, [F([2, 4, 5, 5, 1], gen)], (x) => tf.maxPool3d(t5(x), 3, 1, 'valid'), { tol: ACC });
  add([tf.AvgPool3D, tf.AvgPool3DGrad], `AvgPool3D 2 s2 same${tag}`, [F([1, 5, 6, 4, 2], gen)], (x) => tf.avgPool3d(t5(x), 2, 2, 'same'), { tol: ACC });
  add([tf.AvgPool3D, tf.AvgPool3DGrad], `AvgPool3D 3 s1 valid${tag}`, [F([2, 4, 5, 5, 1], gen)], (x) => tf.avgPool3d(t5(x), 3, 1, 'valid'), { tol: ACC });
  for (const includeBatch of [false, true]) {
    add(tf.MaxPoolWithArgmax, `MaxPoolWithArgmax includeBatchInIndex=${includeBatch}${tag}`, [F([2, 5, 6, 3], gen)], (x) => Object.values(tf.maxPoolWithArgmax(t4(x), 2, 2, 'same', includeBatch)));
  }
}
add(tf.MaxPool, 'MaxPool tricky', [F([1, 6, 6, 2])], (x) => tf.maxPool(t4(x), 2, 2, 'valid'));
add(tf.MaxPool, 'MaxPool NaN', [F([1, 4, 4, 2], special)], (x) => tf.maxPool(t4(x), 2, 2, 'valid'), { grad: false });

// Normalisation.
add(tf.FusedBatchNorm, 'FusedBatchNorm 4-D', [F([2, 3, 4, 5], moderate), F([5], moderate), F([5], positive), F([5], moderate), F([5], moderate)], (x, m, v, o, s) =>
  tf.batchNorm(t4(x), t1(m), t1(v), t1(o), t1(s), 1e-3), { tol: ACC });
add(tf.FusedBatchNorm, 'FusedBatchNorm 2-D', [F([6, 4], moderate), F([4], moderate), F([4], positive), F([4], moderate), F([4], moderate)], (x, m, v, o, s) =>
  tf.batchNorm(t2(x), t1(m), t1(v), t1(o), t1(s), 1e-3), { tol: ACC });
add(tf.FusedBatchNorm, 'FusedBatchNorm without offset and scale', [F([2, 3, 4, 5], moderate), F([5], moderate), F([5], positive)], (x, m, v) => tf.batchNorm(t4(x), t1(m), t1(v)), { grad: false, tol: ACC });
add(tf.FusedBatchNorm, 'FusedBatchNorm full-shape statistics', [F([3, 4], moderate), F([3, 4], moderate), F([3, 4], positive), F([3, 4], moderate), F([3, 4], moderate)], (x, m, v, o, s) =>
  tf.batchNorm(t2(x), t2(m), t2(v), t2(o), t2(s), 1e-3), { tol: ACC });
add([tf.LRN, tf.LRNGrad], 'LRN radius 2 beta 0.75', [F([2, 3, 4, 8], moderate)], (x) => tf.localResponseNormalization(t4(x), 2, 1, 0.5, 0.75), { tol: ACC });
add([tf.LRN, tf.LRNGrad], 'LRN defaults', [F([1, 3, 3, 12], moderate)], (x) => tf.localResponseNormalization(t4(x)), { tol: ACC });

// Image ops: input transforms (resizing, flips, crops, rotations) are defences and augmentations.
for (const [alignCorners, halfPixelCenters] of [[false, false], [true, false], [false, true]] as const) {
  for (const size of [[7, 3], [2, 9]] as [number, number][]) {
    const tag = `→[${size.join(',')}] alignCorners=${alignCorners} halfPixel=${halfPixelCenters}`;
    add([tf.ResizeBilinear, tf.ResizeBilinearGrad], `ResizeBilinear ${tag}`, [F([2, 4, 5, 3], moderate)], (x) => tf.image.resizeBilinear(t4(x), size, alignCorners, halfPixelCenters), { tol: ACC });
    add([tf.ResizeNearestNeighbor, tf.ResizeNearestNeighborGrad], `ResizeNearestNeighbor ${tag}`, [F([2, 4, 5, 3], moderate)], (x) => tf.image.resizeNearestNeighbor(t4(x), size, alignCorners, halfPixelCenters), { tol: ACC });
  }
}
add(tf.ResizeBilinear, 'ResizeBilinear int32', [I([1, 3, 4, 2], smallInts(0, 255))], (x) => tf.image.resizeBilinear(t4(x), [5, 7]));
add(tf.FlipLeftRight, 'FlipLeftRight', [F([2, 4, 5, 3])], (x) => tf.image.flipLeftRight(t4(x)));
// Boxes whose nearest-neighbour sample points stay clear of exact .5 ties (see HARMLESS).
const BOXES = [0, 0, 1, 1, 0.13, 0.21, 0.77, 0.94, -0.2, 0.53, 1.17, 0.71, 0.91, 0.88, 0.12, 0.07];
for (const method of ['bilinear', 'nearest'] as const) {
  add(tf.CropAndResize, `CropAndResize ${method}`, [F([2, 6, 7, 3], moderate), V(BOXES, [4, 4], 'float32'), V([0, 1, 1, 0], [4])], (x, b, i) =>
    tf.image.cropAndResize(t4(x), t2(b), t1(i), [4, 5], method, 0.3), { tol: ACC });
}
add(tf.CropAndResize, 'CropAndResize nearest exact-tie box', [F([1, 6, 7, 1], moderate), V([0.1, 0.1, 0.9, 0.9], [1, 4], 'float32'), V([0], [1])], (x, b, i) =>
  tf.image.cropAndResize(t4(x), t2(b), t1(i), [4, 5], 'nearest'));
add(tf.RotateWithOffset, 'RotateWithOffset centre [0.3,0.6] fill 0.2', [F([2, 5, 6, 3], moderate)], (x) => tf.image.rotateWithOffset(t4(x), 0.7, 0.2, [0.3, 0.6]));
add(tf.RotateWithOffset, 'RotateWithOffset RGB fill', [F([1, 6, 5, 3], moderate)], (x) => tf.image.rotateWithOffset(t4(x), -2.1, [0.1, 0.5, 0.9]));
for (const interpolation of ['nearest', 'bilinear'] as const) {
  for (const fillMode of ['constant', 'reflect', 'wrap', 'nearest'] as const) {
    add(tf.Transform, `Transform ${interpolation} ${fillMode}`, [F([2, 5, 6, 2], moderate), V([1.1, 0.2, -0.7, -0.15, 0.9, 0.4, 0.01, -0.02, 0.8, -0.3, 1.3, 0.25, 1.2, 0.6, 0, 0], [2, 8], 'float32')], (x, t) =>
      tf.image.transform(t4(x), t2(t), interpolation, fillMode, 0.4, [6, 4]), { tol: ACC });
  }
}
const NMS_BOXES = [0, 0, 1, 1, 0, 0.1, 1, 1.1, 0, -0.1, 1, 0.9, 0, 10, 1, 11, 0, 10.1, 1, 11.1, 0, 100, 1, 101, 1, 1, 0, 0];
const NMS_SCORES = [0.9, 0.75, 0.6, 0.95, 0.5, 0.3, 0.9];
add(tf.NonMaxSuppressionV3, 'NonMaxSuppressionV3', [V(NMS_BOXES, [7, 4], 'float32'), V(NMS_SCORES, [7], 'float32')], (b, s) => tf.image.nonMaxSuppression(t2(b), t1(s), 5, 0.5, 0.4));
add(tf.NonMaxSuppressionV4, 'NonMaxSuppressionV4 padded', [V(NMS_BOXES, [7, 4], 'float32'), V(NMS_SCORES, [7], 'float32')], (b, s) =>
  Object.values(tf.image.nonMaxSuppressionPadded(t2(b), t1(s), 6, 0.5, 0.4, true)));
add(tf.NonMaxSuppressionV5, 'NonMaxSuppressionV5 soft-NMS', [V(NMS_BOXES, [7, 4], 'float32'), V(NMS_SCORES, [7], 'float32')], (b, s) =>
  Object.values(tf.image.nonMaxSuppressionWithScore(t2(b), t1(s), 5, 0.5, 0.2, 0.5)), { tol: ACC });

// Sparse ops (graph models from TensorFlow can carry them).
const SP_INDICES = [0, 0, 1, 0, 1, 3, 1, 4, 3, 2, 3, 3];
add(tf.SparseFillEmptyRows, 'SparseFillEmptyRows', [V(SP_INDICES, [6, 2]), F([6], moderate), V([5, 6], [2])], (i, v, s) =>
  Object.values(tf.sparse.sparseFillEmptyRows(t2(i), t1(v), t1(s), -1)));
add(tf.SparseReshape, 'SparseReshape', [V([0, 0, 0, 0, 1, 5, 1, 2, 3, 1, 0, 1], [4, 3]), V([2, 3, 6], [3]), V([9, -1], [2])], (i, s, n) =>
  Object.values(tf.sparse.sparseReshape(t2(i), t1(s), t1(n))));
add(tf.SparseSegmentMean, 'SparseSegmentMean', [F([4, 3], moderate), V([0, 1, 2, 0, 3], [5]), V([0, 0, 1, 1, 3], [5])], (d, i, s) => tf.sparse.sparseSegmentMean(d, t1(i), t1(s)), { tol: ACC });
add(tf.SparseSegmentSum, 'SparseSegmentSum', [F([4, 3], moderate), V([0, 1, 2, 0, 3], [5]), V([0, 0, 1, 1, 3], [5])], (d, i, s) => tf.sparse.sparseSegmentSum(d, t1(i), t1(s)), { tol: ACC });
add(tf.SparseSegmentSum, 'SparseSegmentSum int32', [I([4, 3]), V([0, 1, 2, 0, 3], [5]), V([0, 0, 1, 1, 3], [5])], (d, i, s) => tf.sparse.sparseSegmentSum(d, t1(i), t1(s)));

/**
 * wasm kernels deliberately left out of the sweep. Each would need a real reason to matter for robust.
 */
const SKIP: Record<string, string> = {
  [tf.LogicalXor]: 'no cpu kernel to compare with, and tf.logicalXor is composed of LogicalAnd/Or/Not in tfjs-core, so nothing dispatches it',
  [tf.Multinomial]: 'random sampling: the backends draw from different generators, so there is no value to agree on',
  [tf.StringNGrams]: 'string op: robust feeds models numeric tensors only',
  [tf.StringSplit]: 'string op: robust feeds models numeric tensors only',
  [tf.StringToHashBucketFast]: 'string op: robust feeds models numeric tensors only',
  RobustActivationGrad: "robust's own kernel (the attack-time pass's one-pass relu/relu6 gradient), checked against TF.js's relu and relu6 gradients on cpu and wasm in test/models-optimize.test.ts",
};

/**
 * Mismatches the sweep found that do not matter for robust, by case name, with the reason. These
 * cases still run (and must not throw on cpu), but their values are not compared.
 */
const HARMLESS: Record<string, string> = {
  'FloorDiv float32 dtype (tricky)':
    "cpu's FloorDiv returns int32 for float32 inputs (a tfjs-backend-cpu bug); wasm returns float32 as TensorFlow does. Values are compared in the FloorDiv cases",
  'FloorDiv int32 by zero': 'integer division by zero is an error in TensorFlow; cpu returns 0, wasm INT32_MIN',
  'Mod int32 by zero': 'integer division by zero is an error in TensorFlow; cpu returns 0, wasm throws "remainder by zero"',
  'Pow int32 overflow': 'int32 overflow is undefined; cpu wraps the float64 power, wasm saturates',
  'Pow int32 zero to a negative power': 'TensorFlow refuses integers to negative powers; cpu returns 0, wasm INT32_MIN',
  'BatchMatMul int32': 'wasm throws a clear "not yet supported" error; models multiply float32 matrices',
  'CropAndResize nearest exact-tie box':
    "cpu computes sample coordinates in float64, wasm in float32 as TensorFlow does; at an exact .5 they round to neighbouring pixels",
};

// ---------------------------------------------------------------------------------------------
// Running a case.

interface Data {
  dtype: string;
  shape: number[];
  values: number[];
}
interface Result {
  outs: Data[];
  grads: Data[];
}

function inputsFor(c: Case): Data[] {
  const rng = seedrandom(`sweep/${c.name}`);
  return c.inputs.map((inp) => {
    const n = inp.shape.reduce((a, b) => a * b, 1);
    return { dtype: inp.dtype, shape: inp.shape, values: inp.values ?? (inp.gen ?? tricky)(rng, n) };
  });
}

const asArray = (o: Out): tf.Tensor[] => (Array.isArray(o) ? o : [o]);
const toData = (t: tf.Tensor): Data => ({ dtype: t.dtype, shape: t.shape.slice(), values: Array.from(t.dataSync() as ArrayLike<number>) });

function gradIndices(c: Case): number[] {
  const floats = c.inputs.flatMap((inp, i) => (inp.dtype === 'float32' ? [i] : []));
  return (c.grad ?? tf.getGradient(c.kernels[0] as string) !== undefined) ? floats : [];
}

/** Forward outputs, and gradients of Σᵢ Σ (yᵢ ⊙ rᵢ) over the float outputs with seeded weights rᵢ. */
function evaluate(c: Case, data: Data[]): Result {
  let result: Result = { outs: [], grads: [] };
  tf.tidy(() => {
    const xs = data.map((d) => tf.tensor(d.values, d.shape, d.dtype as DType));
    const ys = asArray(c.f(...xs));
    const outs = ys.map(toData);
    const floats = ys.flatMap((y, i) => (y.dtype === 'float32' ? [i] : []));
    const gi = gradIndices(c);
    let grads: Data[] = [];
    if (gi.length > 0 && floats.length > 0) {
      const rng = seedrandom(`sweep/${c.name}/weights`);
      const weights = floats.map((i) => tf.tensor(Array.from({ length: (ys[i] as tf.Tensor).size }, () => rng() * 2 - 1), (ys[i] as tf.Tensor).shape));
      const loss = (...vs: tf.Tensor[]): tf.Scalar => {
        const args = xs.slice();
        gi.forEach((k, j) => (args[k] = vs[j] as tf.Tensor));
        const zs = asArray(c.f(...args));
        return floats.map((i, j) => tf.sum(tf.mul(zs[i] as tf.Tensor, weights[j] as tf.Tensor))).reduce((a, b) => tf.add(a, b)) as tf.Scalar;
      };
      grads = tf.grads(loss)(gi.map((k) => xs[k] as tf.Tensor)).map(toData);
    }
    result = { outs, grads };
  });
  return result;
}

/** The first disagreement between wasm and cpu, described in one line, or undefined. */
function firstMismatch(what: string, cpu: Data, wasm: Data, tol: Tol): string | undefined {
  if (cpu.dtype !== wasm.dtype) return `${what}: dtype cpu ${cpu.dtype}, wasm ${wasm.dtype}`;
  if (cpu.shape.join() !== wasm.shape.join()) return `${what}: shape cpu [${cpu.shape}], wasm [${wasm.shape}]`;
  let scale = 0;
  for (const v of cpu.values) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  const bad: string[] = [];
  for (let i = 0; i < cpu.values.length; i++) {
    const a = cpu.values[i] as number;
    const b = wasm.values[i] as number;
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    if (a === b) continue;
    const err = Math.abs(a - b);
    if (err <= tol.rtol * Math.max(Math.abs(a), Math.abs(b)) + tol.atol + tol.scaled * scale) continue;
    bad.push(`[${i}] cpu ${a} wasm ${b}`);
  }
  if (bad.length === 0) return undefined;
  return `${what}: ${bad.length}/${cpu.values.length} differ, e.g. ${bad.slice(0, 4).join(', ')}`;
}

function compare(c: Case, cpu: Result, wasm: Result): string[] {
  const tol = { ...DEFAULT_TOL, ...c.tol };
  const problems: string[] = [];
  if (cpu.outs.length !== wasm.outs.length) problems.push(`output count cpu ${cpu.outs.length}, wasm ${wasm.outs.length}`);
  cpu.outs.forEach((o, i) => {
    const w = wasm.outs[i];
    const m = w && firstMismatch(`output ${i}`, o, w, tol);
    if (m) problems.push(m);
  });
  cpu.grads.forEach((g, i) => {
    const w = wasm.grads[i];
    const m = w && firstMismatch(`gradient ${i}`, g, w, tol);
    if (m) problems.push(m);
  });
  return problems;
}

const report: string[] = [];
afterAll(() => {
  if (process.env['SWEEP_REPORT']) console.log(report.join('\n'));
});

beforeAll(async () => {
  await activate('cpu');
  await activate('wasm');
});

describe('the sweep covers every wasm kernel', () => {
  it('every kernel registered for wasm is covered by a case or skipped with a reason, never both', () => {
    const wasmKernels = tf.getKernelsForBackend('wasm').map((k) => k.kernelName);
    const covered = new Set(cases.flatMap((c) => c.kernels));
    const missing = wasmKernels.filter((k) => !covered.has(k) && SKIP[k] === undefined);
    expect(missing).toEqual([]);
    expect(Object.keys(SKIP).filter((k) => covered.has(k))).toEqual([]);
    // A stale entry would hide a kernel that came back under the same name.
    expect(Object.keys(SKIP).filter((k) => !wasmKernels.includes(k))).toEqual([]);
    expect(Object.keys(HARMLESS).filter((name) => !cases.some((c) => c.name === name))).toEqual([]);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });
});

describe('wasm agrees with cpu', () => {
  it.each(cases.filter((c) => new RegExp(process.env['SWEEP_ONLY'] ?? '').test(c.name)).map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const data = inputsFor(c);
    await activate('cpu');
    const cpu = evaluate(c, data);
    await activate('wasm');
    let wasm: Result | undefined;
    let wasmError: unknown;
    try {
      wasm = evaluate(c, data);
    } catch (err) {
      wasmError = err;
    }
    // Profiled separately: under tf.profile the wasm backend runs kernels inside an async timer, so
    // a kernel that throws would become an unhandled rejection instead of the error caught above.
    // This second run also shows whether a kernel leaks intermediates on the wasm heap.
    const dataIds = tf.engine().backend.numDataIds();
    const dispatched = new Set(wasm === undefined ? [] : (await tf.profile(() => void evaluate(c, data))).kernelNames);
    const leaked = tf.engine().backend.numDataIds() - dataIds;
    const problems =
      wasm === undefined ? [`wasm threw: ${wasmError instanceof Error ? wasmError.message : String(wasmError)}`] : compare(c, cpu, wasm);
    report.push(`${problems.length === 0 ? 'ok      ' : HARMLESS[c.name] !== undefined ? 'harmless' : 'FAIL    '} ${c.name}${problems.length ? `\n         ${problems.join('\n         ')}` : ''}`);
    if (wasm !== undefined) {
      expect(c.kernels.filter((k) => !dispatched.has(k))).toEqual([]);
      expect(leaked).toBe(0);
    }
    if (HARMLESS[c.name] === undefined) expect(problems).toEqual([]);
  });
});

/**
 * Oracles that trust neither backend, for the fixes where cpu is replaced too (Transform, the
 * cumulative axis) or shares a code path with the fix (3-D conv and pool gradients).
 */
describe('fixed kernels against hand-worked and adjoint oracles', () => {
  const IMG = Array.from({ length: 20 }, (_, i) => i + 1); // 4 rows × 5 columns: 1…5, 6…10, …
  it.each(['cpu', 'wasm'] as const)('transform: shift, TensorFlow reflect / wrap modes, one transform per image (%s)', async (backend) => {
    await activate(backend);
    tf.tidy(() => {
      const img = tf.tensor4d(IMG, [1, 4, 5, 1]);
      const run = (t: number[], mode: 'constant' | 'reflect' | 'wrap', x = img): number[] =>
        Array.from(tf.image.transform(x, tf.tensor2d(t, [t.length / 8, 8]), 'nearest', mode, 0.5).dataSync());
      // out(x, y) = in(x + 1, y): columns move left, the last one is fill.
      expect(run([1, 0, 1, 0, 1, 0, 0, 0], 'constant')).toEqual([2, 3, 4, 5, 0.5, 7, 8, 9, 10, 0.5, 12, 13, 14, 15, 0.5, 17, 18, 19, 20, 0.5]);
      // out(x, y) = in(x − 2, y − 1); reflect repeats the edge ([dcba|abcd]), wrap tiles.
      expect(run([1, 0, -2, 0, 1, -1, 0, 0], 'reflect')).toEqual([2, 1, 1, 2, 3, 2, 1, 1, 2, 3, 7, 6, 6, 7, 8, 12, 11, 11, 12, 13]);
      expect(run([1, 0, -2, 0, 1, -1, 0, 0], 'wrap')).toEqual([19, 20, 16, 17, 18, 4, 5, 1, 2, 3, 9, 10, 6, 7, 8, 14, 15, 11, 12, 13]);
      // Two images, two transforms: the second is shifted up a row (cpu used to leave it all fill).
      const two = tf.concat([img, tf.neg(img)]);
      expect(run([1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0], 'constant', two).slice(20)).toEqual(
        [...IMG.slice(5).map((v) => -v), 0.5, 0.5, 0.5, 0.5, 0.5],
      );
    });
  });

  it.each(['cpu', 'wasm'] as const)('cumsum / cumprod with a negative axis equal the non-negative axis (%s)', async (backend) => {
    await activate(backend);
    tf.tidy(() => {
      const x = tf.tensor3d(Array.from({ length: 24 }, (_, i) => (i % 5) - 1.5), [2, 3, 4]);
      for (const [neg, pos] of [[-1, 2], [-2, 1], [-3, 0]]) {
        for (const [exclusive, reverse] of [[false, false], [true, true]]) {
          expect(Array.from(tf.cumsum(x, neg, exclusive, reverse).dataSync())).toEqual(Array.from(tf.cumsum(x, pos, exclusive, reverse).dataSync()));
          expect(Array.from(tf.cumprod(x, neg, exclusive, reverse).dataSync())).toEqual(Array.from(tf.cumprod(x, pos, exclusive, reverse).dataSync()));
        }
      }
    });
  });

  it('conv3d gradients are adjoints of the forward conv3d (dot-product test, wasm)', async () => {
    await activate('wasm');
    // <dy, conv3d(x, W)> = <dx, x> = <dW, W>, with dx, dW from the backprop kernels.
    const rng = seedrandom('sweep/conv3d-adjoint');
    const dot = (a: tf.Tensor, b: tf.Tensor): number => tf.sum(tf.mul(a, b)).dataSync()[0] as number;
    for (const [xs, fs, strides, pad] of [
      [[2, 5, 6, 5, 2], [3, 2, 3, 2, 3], [1, 2, 2], 'valid'],
      [[1, 4, 5, 6, 3], [2, 3, 2, 3, 2], [2, 1, 2], 'same'],
    ] as [[number, number, number, number, number], [number, number, number, number, number], [number, number, number], 'same' | 'valid'][]) {
      tf.tidy(() => {
        const x = tf.tensor5d(moderate(rng, xs.reduce((a, b) => a * b, 1)), xs);
        const w = tf.tensor5d(moderate(rng, fs.reduce((a, b) => a * b, 1)), fs);
        const y = tf.conv3d(x, w, strides, pad);
        const dy = tf.tensor(moderate(rng, y.size), y.shape);
        const dx = tf.engine().runKernel(tf.Conv3DBackpropInputV2, { dy, filter: w }, { strides, pad, inputShape: xs }) as tf.Tensor;
        const dw = tf.engine().runKernel(tf.Conv3DBackpropFilterV2, { x, dy }, { strides, pad, filterShape: fs }) as tf.Tensor;
        const lhs = dot(dy, y);
        expect(Math.abs(dot(dx, x) - lhs)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs)));
        expect(Math.abs(dot(dw, w) - lhs)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs)));
      });
    }
  });

  it.each(['cpu', 'wasm'] as const)('all-negative windows keep their maximum and its gradient (%s)', async (backend) => {
    await activate(backend);
    tf.tidy(() => {
      // Depth 3 with 'same' 2×2×2 pooling: the second window is the padded last depth slice.
      const x = tf.tensor5d(Array.from({ length: 12 }, (_, i) => -(i + 1)), [1, 3, 2, 2, 1]);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.maxPool3d(t as tf.Tensor5D, 2, 2, 'same')))(x);
      expect(Array.from(g.dataSync())).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
      // Dilation of an all-negative image by a zero filter is its 2×2 max, never 1.2e-38 (FLT_MIN).
      const img = tf.tensor4d([-4, -3, -2, -1], [1, 2, 2, 1]);
      expect(Array.from(tf.dilation2d(img, tf.zeros([2, 2, 1]) as tf.Tensor3D, 1, 'valid').dataSync())).toEqual([-1]);
      const { result, indexes } = tf.maxPoolWithArgmax(img, 2, 2, 'valid');
      expect([...result.dataSync(), ...indexes.dataSync()]).toEqual([-1, 3]);
    });
  });
});
