/**
 * Ops that move or select axes, on tensors. Each works on ONNX's NCHW view, except Concat and Pad,
 * which follow an NHWC-held input so that a conv stack does not leave its layout. The output-shape
 * rules (`unsqueezed`, `squeezed`, `reshaped`, `flattened`) are shared with the host forms in `fold.ts`.
 */
import { tf } from '../../tf.js';
import { hostNumbers, intAttr, intsAttr, logicalShape, normAxis, NHWC_POSITION, stringAttr, tensorOf, type OpContext, type OpDef, type Value } from './values.js';

/** Squeeze/Unsqueeze axes: an attribute before opset 13, an optional input from 13 on. */
export function axesOf(ctx: OpContext, input: Value | undefined): number[] | undefined {
  return ctx.opset < 13 ? intsAttr(ctx, 'axes') : hostNumbers(ctx, input, 'axes');
}

export function unsqueezed(ctx: OpContext, shape: number[], axes: number[] | undefined): number[] {
  if (axes === undefined) throw ctx.fail('it has no axes');
  const rank = shape.length + axes.length;
  const at = new Set(axes.map((a) => normAxis(a, rank)));
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(at.has(i) ? 1 : shape[k++]!);
  return out;
}

export function squeezed(shape: number[], axes: number[] | undefined): number[] {
  const at = axes === undefined ? undefined : new Set(axes.map((a) => normAxis(a, shape.length)));
  return shape.filter((d, i) => (at === undefined ? d !== 1 : !at.has(i)));
}

/** Reshape's target: 0 copies the input's dimension (unless allowzero), -1 takes what is left. */
export function reshaped(ctx: OpContext, shape: number[], target: number[]): number[] {
  const allowZero = intAttr(ctx, 'allowzero', 0) === 1;
  const out = target.map((d, i) => (d === 0 && !allowZero ? (shape[i] ?? 0) : d));
  const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const total = shape.reduce((a, b) => a * b, 1);
  return out.map((d) => (d === -1 ? total / known : d));
}

export function flattened(ctx: OpContext, shape: number[]): number[] {
  const axis = normAxis(intAttr(ctx, 'axis', 1), shape.length);
  const prod = (s: number[]): number => s.reduce((a, b) => a * b, 1);
  return [prod(shape.slice(0, axis)), prod(shape.slice(axis))];
}

function reshapeTo(t: tf.Tensor, shape: number[]): tf.Tensor {
  return tf.reshape(t, shape);
}

function need(ctx: OpContext, v: Value | undefined): Value {
  if (v === undefined) throw ctx.fail('an input is missing');
  return v;
}

/** The indices one Slice axis keeps, by ONNX's clamping rules (which differ for negative steps). */
function sliceIndices(dim: number, start: number, end: number, step: number): number[] {
  const wrap = (v: number): number => (v < 0 ? v + dim : v);
  const out: number[] = [];
  if (step > 0) {
    const from = Math.min(Math.max(wrap(start), 0), dim);
    const to = Math.min(Math.max(wrap(end), 0), dim);
    for (let i = from; i < to; i += step) out.push(i);
  } else {
    const from = Math.min(Math.max(wrap(start), -1), dim - 1);
    const to = Math.min(Math.max(wrap(end), -1), dim - 1);
    for (let i = from; i > to; i += step) out.push(i);
  }
  return out;
}

function slice(ctx: OpContext, [x, starts, ends, axes, steps]: (Value | undefined)[]): Value[] {
  let t = ctx.tensor(need(ctx, x));
  const s = (ctx.opset < 10 ? intsAttr(ctx, 'starts') : hostNumbers(ctx, starts, 'starts')) ?? [];
  const e = (ctx.opset < 10 ? intsAttr(ctx, 'ends') : hostNumbers(ctx, ends, 'ends')) ?? [];
  const ax = (ctx.opset < 10 ? intsAttr(ctx, 'axes') : hostNumbers(ctx, axes, 'axes')) ?? s.map((_, i) => i);
  const st = (ctx.opset < 10 ? undefined : hostNumbers(ctx, steps, 'steps')) ?? s.map(() => 1);
  ax.forEach((a, i) => {
    const axis = normAxis(a, t.rank);
    const step = st[i] ?? 1;
    if (step === 0) throw ctx.fail('Slice with step 0 is invalid');
    const keep = sliceIndices(t.shape[axis] ?? 0, s[i] ?? 0, e[i] ?? 0, step);
    if (step === 1) {
      const begin = t.shape.map((_, k) => (k === axis ? (keep[0] ?? 0) : 0));
      const size = t.shape.map((d, k) => (k === axis ? keep.length : d));
      t = tf.slice(t, begin, size);
    } else {
      t = tf.gather(t, tf.tensor1d(keep, 'int32'), axis);
    }
  });
  return [tensorOf(t)];
}

function pad(ctx: OpContext, [x, pads, value, axes]: (Value | undefined)[]): Value[] {
  const held = need(ctx, x);
  const rank = logicalShape(held).length;
  const list = ctx.opset < 11 ? intsAttr(ctx, 'pads') : hostNumbers(ctx, pads, 'pads');
  if (list === undefined) throw ctx.fail('it has no pads');
  const fill = ctx.opset < 11 ? (ctx.attrs.get('value') as number | undefined) ?? 0 : (hostNumbers(ctx, value, 'constant_value')?.[0] ?? 0);
  const along = hostNumbers(ctx, axes, 'axes')?.map((a) => normAxis(a, rank)) ?? Array.from({ length: rank }, (_, i) => i);
  const pairs: [number, number][] = Array.from({ length: rank }, () => [0, 0]);
  along.forEach((a, i) => (pairs[a] = [list[i] ?? 0, list[i + along.length] ?? 0]));
  if (pairs.some(([b, e]) => b < 0 || e < 0)) throw ctx.fail('negative pads are not supported');
  const nhwc = held.kind === 'tensor' && held.nhwc;
  const t = nhwc ? held.t : ctx.tensor(held);
  const ordered = nhwc ? [0, 2, 3, 1].map((a) => pairs[a]!) : pairs;
  const mode = stringAttr(ctx, 'mode', 'constant');
  return [tensorOf(mode === 'reflect' ? tf.mirrorPad(t, ordered, 'reflect') : tf.pad(t, ordered, fill), nhwc)];
}

function concat(ctx: OpContext, inputs: (Value | undefined)[]): Value[] {
  const values = inputs.filter((v): v is Value => v !== undefined);
  const axis = intAttr(ctx, 'axis', 0);
  if (values.every((v) => v.kind === 'tensor' && v.nhwc)) {
    return [tensorOf(tf.concat(values.map((v) => (v as { t: tf.Tensor }).t), NHWC_POSITION[normAxis(axis, 4)]), true)];
  }
  const ts = values.map((v) => ctx.tensor(v));
  return [tensorOf(tf.concat(ts, normAxis(axis, ts[0]?.rank ?? 1)))];
}

function reduceMean(ctx: OpContext, [x, axesInput]: (Value | undefined)[]): Value[] {
  const held = need(ctx, x);
  const rank = logicalShape(held).length;
  const keep = intAttr(ctx, 'keepdims', 1) === 1;
  const given = ctx.opset < 18 ? intsAttr(ctx, 'axes') : hostNumbers(ctx, axesInput, 'axes');
  if ((given === undefined || given.length === 0) && ctx.opset >= 18 && intAttr(ctx, 'noop_with_empty_axes', 0) === 1) return [held];
  const axes = (given ?? Array.from({ length: rank }, (_, i) => i)).map((a) => normAxis(a, rank));
  if (held.kind === 'tensor' && held.nhwc && keep) return [tensorOf(tf.mean(held.t, axes.map((a) => NHWC_POSITION[a]!), true), true)];
  return [tensorOf(tf.mean(ctx.tensor(held), axes, keep))];
}

/** Axis-moving ops on tensors, by ONNX op type. */
export const SHAPE_OPS: Record<string, OpDef> = {
  Flatten: { run: (ctx, [x]) => [tensorOf(reshapeTo(ctx.tensor(need(ctx, x)), flattened(ctx, logicalShape(need(ctx, x)))))] },
  Reshape: {
    run: (ctx, [x, shape]) => {
      const target = hostNumbers(ctx, shape, 'target shape') ?? intsAttr(ctx, 'shape') ?? [];
      return [tensorOf(reshapeTo(ctx.tensor(need(ctx, x)), reshaped(ctx, logicalShape(need(ctx, x)), target)))];
    },
  },
  Transpose: {
    run: (ctx, [x]) => {
      const t = ctx.tensor(need(ctx, x));
      return [tensorOf(tf.transpose(t, intsAttr(ctx, 'perm') ?? Array.from({ length: t.rank }, (_, i) => t.rank - 1 - i)))];
    },
  },
  Concat: { run: concat },
  Pad: { run: pad, check: (ctx) => (['constant', 'reflect'].includes(stringAttr(ctx, 'mode', 'constant')) ? undefined : `Pad mode ${stringAttr(ctx, 'mode', '')} is not supported`) },
  Slice: { run: slice },
  Squeeze: { run: (ctx, [x, axes]) => [tensorOf(reshapeTo(ctx.tensor(need(ctx, x)), squeezed(logicalShape(need(ctx, x)), axesOf(ctx, axes))))] },
  Unsqueeze: { run: (ctx, [x, axes]) => [tensorOf(reshapeTo(ctx.tensor(need(ctx, x)), unsqueezed(ctx, logicalShape(need(ctx, x)), axesOf(ctx, axes))))] },
  Gather: {
    run: (ctx, [x, indices]) => {
      const t = ctx.tensor(need(ctx, x));
      const axis = normAxis(intAttr(ctx, 'axis', 0), t.rank);
      const dim = t.shape[axis] ?? 0;
      const idx = need(ctx, indices);
      const list = idx.kind === 'host' ? tf.tensor(Int32Array.from(idx.data, (i) => (i < 0 ? i + dim : i)), idx.shape, 'int32') : tf.cast(ctx.tensor(idx), 'int32');
      return [tensorOf(tf.gather(t, list, axis))];
    },
  },
  Cast: { run: (ctx, [x]) => [tensorOf(tf.cast(ctx.tensor(need(ctx, x)), isIntegerType(intAttr(ctx, 'to', 1)) ? 'int32' : 'float32'))] },
  ReduceMean: { run: reduceMean },
};

/** ONNX data types held as integers (everything but float, float16, double and bfloat16). */
export function isIntegerType(to: number): boolean {
  return ![1, 10, 11, 16].includes(to);
}
