/**
 * Work done once, at load time, on the host:
 * - host forms of the shape arithmetic PyTorch emits around Reshape (Shape, Gather, Unsqueeze, Squeeze,
 *   Concat, Cast, ConstantOfShape, Constant, small integer Add/Sub/Mul/Div), used to fold every node whose
 *   inputs are constants and, at run time, to evaluate what depends only on the batch size;
 * - folding BatchNormalization into the Conv or Gemm before it (inference mode), and marking a Relu
 *   right after a Conv for TF.js's fused conv kernel.
 */
import { batchNormAffine, FUSED_ACTIVATION } from './conv.js';
import { host, sizeOf, type HostValue } from './proto.js';
import { axesOf, flattened, isIntegerType, reshaped, squeezed, unsqueezed } from './shape.js';
import { floatAttr, hostNumbers, intAttr, intsAttr, logicalShape, normAxis, type GraphNode, type OpContext, type OpDef } from './values.js';

function need(ctx: OpContext, v: HostValue | undefined): HostValue {
  if (v === undefined) throw ctx.fail('an input is missing');
  return v;
}

function reshapeHost(v: HostValue, shape: number[]): HostValue {
  return { ...v, shape };
}

function constant(ctx: OpContext): HostValue {
  const attr = ['value', 'value_float', 'value_floats', 'value_int', 'value_ints'].find((a) => ctx.attrs.has(a));
  const v = attr === undefined ? undefined : ctx.attrs.get(attr);
  if (typeof v === 'object' && !Array.isArray(v)) return v;
  if (typeof v === 'number') return host([v], [], attr === 'value_int');
  if (Array.isArray(v)) return host(v, [v.length], attr === 'value_ints');
  throw ctx.fail('Constant without a tensor, float or int value is not supported');
}

function gather(ctx: OpContext, [x, indices]: (HostValue | undefined)[]): HostValue[] | undefined {
  const data = need(ctx, x);
  const idx = need(ctx, indices);
  const axis = normAxis(intAttr(ctx, 'axis', 0), data.shape.length);
  if (axis !== 0) return undefined;
  const dim = data.shape[0] ?? 0;
  const row = sizeOf(data.shape.slice(1));
  const out: number[] = [];
  for (const i of idx.data) {
    const at = i < 0 ? i + dim : i;
    for (let k = 0; k < row; k++) out.push(data.data[at * row + k]!);
  }
  return [host(out, [...idx.shape, ...data.shape.slice(1)], data.integer)];
}

function concat(ctx: OpContext, inputs: (HostValue | undefined)[]): HostValue[] | undefined {
  const values = inputs.filter((v): v is HostValue => v !== undefined);
  if (values.some((v) => v.shape.length !== 1)) return undefined;
  const out = values.flatMap((v) => Array.from(v.data));
  return [host(out, [out.length], values.every((v) => v.integer))];
}

/** Elementwise arithmetic on the host, for a scalar against anything or two equal shapes; otherwise TF.js does it. */
function arithmetic(fn: (a: number, b: number) => number, divides = false): OpDef['host'] {
  return (ctx, [a, b]) => {
    const x = need(ctx, a);
    const y = need(ctx, b);
    const same = x.shape.length === y.shape.length && x.shape.every((d, i) => d === y.shape[i]);
    if (!same && sizeOf(x.shape) !== 1 && sizeOf(y.shape) !== 1) return undefined;
    const shape = sizeOf(x.shape) === 1 && !same ? y.shape : x.shape;
    const integer = x.integer && y.integer;
    const out = Array.from({ length: sizeOf(shape) }, (_, i) => {
      const v = fn(x.data[sizeOf(x.shape) === 1 ? 0 : i]!, y.data[sizeOf(y.shape) === 1 ? 0 : i]!);
      return integer && divides ? Math.trunc(v) : v;
    });
    return [host(out, shape, integer)];
  };
}

function shapeOf(ctx: OpContext, shape: number[]): HostValue[] {
  // Opset 15 added start/end to slice the shape.
  const start = normAxis(intAttr(ctx, 'start', 0), shape.length);
  const end = ctx.attrs.has('end') ? normAxis(intAttr(ctx, 'end', shape.length), shape.length) : shape.length;
  const dims = shape.slice(Math.max(0, start), Math.min(shape.length, end));
  return [host(dims, [dims.length], true)];
}

/** Host forms (and the host-only ops Shape, Constant, ConstantOfShape), merged into the op table. */
export const HOST_OPS: Record<string, Partial<OpDef>> = {
  Shape: { run: (ctx, [x]) => shapeOf(ctx, x === undefined ? [] : logicalShape(x)), host: (ctx, [x]) => shapeOf(ctx, need(ctx, x).shape) },
  Constant: { run: (ctx) => [constant(ctx)], host: (ctx) => [constant(ctx)] },
  ConstantOfShape: {
    run: (ctx, [shape]) => {
      const dims = hostNumbers(ctx, shape, 'shape') ?? [];
      const v = ctx.attrs.get('value');
      const fill = typeof v === 'object' && !Array.isArray(v) ? v : host([0], [1], false);
      return [host(new Array<number>(sizeOf(dims)).fill(fill.data[0] ?? 0), dims, fill.integer)];
    },
  },
  Gather: { host: gather },
  Unsqueeze: { host: (ctx, [x, axes]) => [reshapeHost(need(ctx, x), unsqueezed(ctx, need(ctx, x).shape, axesOf(ctx, axes)))] },
  Squeeze: { host: (ctx, [x, axes]) => [reshapeHost(need(ctx, x), squeezed(need(ctx, x).shape, axesOf(ctx, axes)))] },
  Reshape: {
    host: (ctx, [x, shape]) => [reshapeHost(need(ctx, x), reshaped(ctx, need(ctx, x).shape, hostNumbers(ctx, shape, 'target shape') ?? intsAttr(ctx, 'shape') ?? []))],
  },
  Flatten: { host: (ctx, [x]) => [reshapeHost(need(ctx, x), flattened(ctx, need(ctx, x).shape))] },
  Concat: { host: concat },
  Cast: {
    host: (ctx, [x]) => {
      const v = need(ctx, x);
      const integer = isIntegerType(intAttr(ctx, 'to', 1));
      return [host(integer ? Float64Array.from(v.data, Math.trunc) : Float32Array.from(v.data), v.shape, integer)];
    },
  },
  Add: { host: arithmetic((a, b) => a + b) },
  Sub: { host: arithmetic((a, b) => a - b) },
  Mul: { host: arithmetic((a, b) => a * b) },
  Div: { host: arithmetic((a, b) => a / b, true) },
};

/** Names of the nodes that read each value, and the graph output, to know when a value has a single reader. */
function readers(nodes: GraphNode[]): Map<string, number> {
  const count = new Map<string, number>();
  for (const n of nodes) for (const i of n.inputs) count.set(i, (count.get(i) ?? 0) + 1);
  return count;
}

/**
 * Fold a BatchNormalization into the Conv (or Gemm with transB=1, as PyTorch writes Linear) whose output only
 * it reads: scale the weights per output channel and shift the bias. Returns the nodes left to run; new
 * constants are added to `consts`. Inference only: the running statistics are used, as onnxruntime does.
 */
export function foldBatchNorms(nodes: GraphNode[], consts: Map<string, HostValue>, outputs: Set<string>): GraphNode[] {
  const count = readers(nodes);
  const producer = new Map<string, GraphNode>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const dropped = new Set<GraphNode>();
  for (const bn of nodes) {
    if (bn.op !== 'BatchNormalization' || bn.outputs.length !== 1) continue;
    const source = producer.get(bn.inputs[0] ?? '');
    const params = bn.inputs.slice(1, 5).map((i) => consts.get(i));
    if (source === undefined || count.get(bn.inputs[0] ?? '') !== 1 || outputs.has(bn.inputs[0] ?? '')) continue;
    if (!params.every((p): p is HostValue => p !== undefined) || params.length !== 4) continue;
    const isConv = source.op === 'Conv' && source.attrs.get(FUSED_ACTIVATION) === undefined;
    const isGemm = source.op === 'Gemm' && intAttr(source, 'transB', 0) === 1 && floatAttr(source, 'alpha', 1) === 1 && floatAttr(source, 'beta', 1) === 1;
    const weight = consts.get(source.inputs[1] ?? '');
    if (!(isConv || isGemm) || weight === undefined || weight.integer) continue;
    const [a, c] = batchNormAffine(params, floatAttr(bn, 'epsilon', 1e-5));
    const channels = weight.shape[0] ?? 0;
    if (a.length !== channels) continue;
    const per = sizeOf(weight.shape) / channels;
    const w = Float32Array.from(weight.data, (v, i) => v * a[Math.floor(i / per)]!);
    const oldBias = source.inputs[2] ? consts.get(source.inputs[2]) : undefined;
    const b = Float32Array.from(a, (s, o) => (oldBias?.data[o] ?? 0) * s + c[o]!);
    const wName = `${source.name}/bn-folded-weight`;
    const bName = `${source.name}/bn-folded-bias`;
    consts.set(wName, host(w, weight.shape, false));
    consts.set(bName, host(b, [channels], false));
    source.inputs = [source.inputs[0] ?? '', wName, bName];
    source.outputs = [...bn.outputs];
    dropped.add(bn);
  }
  return nodes.filter((n) => !dropped.has(n));
}

/** Mark a Relu that alone reads a Conv's output for the fused conv kernel (bias and ReLU in one pass) and drop it. */
export function fuseConvRelu(nodes: GraphNode[], outputs: Set<string>): GraphNode[] {
  const count = readers(nodes);
  const producer = new Map<string, GraphNode>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const dropped = new Set<GraphNode>();
  for (const relu of nodes) {
    const input = relu.inputs[0] ?? '';
    const conv = producer.get(input);
    if (relu.op !== 'Relu' || conv?.op !== 'Conv' || count.get(input) !== 1 || outputs.has(input)) continue;
    conv.attrs.set(FUSED_ACTIVATION, 'relu');
    conv.outputs = [...relu.outputs];
    dropped.add(relu);
  }
  return nodes.filter((n) => !dropped.has(n));
}
