/**
 * The ONNX op table: one small function per op, each mapping ONNX semantics onto differentiable TF.js
 * ops. `OPS` is the single list of what robust translates; a graph with any other op is refused (or run
 * black-box through onnxruntime, see `runtime.ts`). Convolutions and pools live in `conv.ts`, the ops that
 * move axes in `shape.ts`, and host-side (constant and shape) evaluation in `fold.ts`.
 */
import { tf } from '../../tf.js';
import { CONV_OPS } from './conv.js';
import { HOST_OPS } from './fold.js';
import { SHAPE_OPS } from './shape.js';
import { aligned, floatAttr, hostNumbers, intAttr, normAxis, tensorOf, type OpContext, type OpDef, type TensorValue, type Value } from './values.js';

function unary(fn: (x: tf.Tensor, ctx: OpContext) => tf.Tensor): OpDef {
  return {
    run: (ctx, [x]) => {
      if (x === undefined) throw ctx.fail('it has no input');
      // Elementwise ops do not care about axis order: keep the layout the input is held in.
      const held = x.kind === 'tensor' ? x : tensorOf(ctx.tensor(x));
      return [tensorOf(fn(held.t, ctx), held.nhwc)];
    },
  };
}

function binary(fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): OpDef {
  return {
    run: (ctx, [a, b]) => {
      if (a === undefined || b === undefined) throw ctx.fail('it needs two inputs');
      const [x, y, nhwc] = aligned(ctx, a, b);
      return [tensorOf(fn(x, y), nhwc)];
    },
  };
}

/** Clip's bounds: attributes before opset 11, optional inputs from 11 on. */
function clip(ctx: OpContext, x: TensorValue | Value, lo: Value | undefined, hi: Value | undefined): TensorValue {
  const held = x.kind === 'tensor' ? x : tensorOf(ctx.tensor(x));
  const min = ctx.opset < 11 ? floatAttr(ctx, 'min', -3.4028234663852886e38) : (hostNumbers(ctx, lo, 'min')?.[0] ?? -3.4028234663852886e38);
  const max = ctx.opset < 11 ? floatAttr(ctx, 'max', 3.4028234663852886e38) : (hostNumbers(ctx, hi, 'max')?.[0] ?? 3.4028234663852886e38);
  return tensorOf(tf.clipByValue(held.t, min, max), held.nhwc);
}

function softmax(ctx: OpContext, x: tf.Tensor): tf.Tensor {
  // Before opset 13 Softmax flattens from `axis` (default 1) into 2-D; from 13 it is one axis (default -1).
  if (ctx.opset < 13) {
    const axis = normAxis(intAttr(ctx, 'axis', 1), x.rank);
    const rows = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    return tf.reshape(tf.softmax(tf.reshape(x, [rows, -1])), x.shape);
  }
  const axis = normAxis(intAttr(ctx, 'axis', -1), x.rank);
  if (axis === x.rank - 1) return tf.softmax(x);
  const shifted = tf.sub(x, tf.max(x, axis, true));
  const e = tf.exp(shifted);
  return tf.div(e, tf.sum(e, axis, true));
}

function gemm(ctx: OpContext, [a, b, c]: (Value | undefined)[]): Value[] {
  if (a === undefined || b === undefined) throw ctx.fail('it needs inputs A and B');
  const transA = intAttr(ctx, 'transA', 0) === 1;
  const transB = intAttr(ctx, 'transB', 0) === 1;
  const alpha = floatAttr(ctx, 'alpha', 1);
  const beta = floatAttr(ctx, 'beta', 1);
  const bias = c === undefined || beta === 0 ? undefined : ctx.tensor(c);
  const x = ctx.tensor(a);
  if (alpha === 1 && (bias === undefined || (beta === 1 && bias.rank <= 1))) {
    return [tensorOf(tf.fused.matMul({ a: x, b: ctx.tensor(b), transposeA: transA, transposeB: transB, bias }))];
  }
  let y = tf.mul(tf.matMul(x, ctx.tensor(b), transA, transB), alpha);
  if (bias !== undefined) y = tf.add(y, beta === 1 ? bias : tf.mul(bias, beta));
  return [tensorOf(y)];
}

function matmul(ctx: OpContext, [a, b]: (Value | undefined)[]): Value[] {
  if (a === undefined || b === undefined) throw ctx.fail('it needs two inputs');
  let x = ctx.tensor(a);
  let y = ctx.tensor(b);
  // numpy.matmul promotes 1-D operands to matrices and drops the added axis afterwards.
  const vecA = x.rank === 1;
  const vecB = y.rank === 1;
  if (vecA) x = tf.expandDims(x, 0);
  if (vecB) y = tf.expandDims(y, 1);
  let z = tf.matMul(x, y);
  if (vecA) z = tf.squeeze(z, [z.rank - 2]);
  if (vecB) z = tf.squeeze(z, [z.rank - 1]);
  return [tensorOf(z)];
}

const passThrough: OpDef = {
  run: (ctx, [x]) => {
    if (x === undefined) throw ctx.fail('it has no input');
    return [x];
  },
  host: (_ctx, [x]) => (x === undefined ? [] : [x]),
};

/** Every op robust translates, by ONNX op type (default domain). */
export const OPS: Record<string, OpDef> = {
  Add: binary(tf.add),
  Sub: binary(tf.sub),
  Mul: binary(tf.mul),
  Div: binary(tf.div),
  Relu: unary((x) => tf.relu(x)),
  LeakyRelu: unary((x, ctx) => tf.leakyRelu(x, floatAttr(ctx, 'alpha', 0.01))),
  Sigmoid: unary((x) => tf.sigmoid(x)),
  Tanh: unary((x) => tf.tanh(x)),
  HardSigmoid: unary((x, ctx) => tf.clipByValue(tf.add(tf.mul(x, floatAttr(ctx, 'alpha', 0.2)), floatAttr(ctx, 'beta', 0.5)), 0, 1)),
  HardSwish: unary((x) => tf.mul(x, tf.clipByValue(tf.add(tf.mul(x, 1 / 6), 0.5), 0, 1))),
  Clip: { run: (ctx, [x, lo, hi]) => (x === undefined ? [] : [clip(ctx, x, lo, hi)]) },
  Softmax: { run: (ctx, [x]) => [tensorOf(softmax(ctx, ctx.tensor(x ?? ctxMissing(ctx))))] },
  Gemm: { run: gemm },
  MatMul: { run: matmul },
  Identity: passThrough,
  Dropout: passThrough,
  ...CONV_OPS,
  ...SHAPE_OPS,
};


function ctxMissing(ctx: OpContext): never {
  throw ctx.fail('it has no input');
}

// Host forms join the tensor forms: an op with a `host` form runs on the host whenever all its inputs are constants.
for (const [name, def] of Object.entries(HOST_OPS)) OPS[name] = { ...OPS[name], ...def } as OpDef;
