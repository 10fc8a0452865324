/**
 * An ONNX program (constants folded, BatchNormalization folded into convs and Gemms, a Relu after a conv
 * marked on it: `program.ts`, `fold.ts`) as the attack-time graph of `optimize.ts`, so that the native
 * engine (`native/`) runs ONNX exports as it runs Layers models: a forward pass and its hand-written
 * reverse pass on onnxruntime's kernels, where the TF.js translation runs on TF.js's.
 *
 * The graph's nodes hold weights in TF.js's layout (filters [kh, kw, in, out], Dense kernels [in, out])
 * and its images NHWC; the engine is told that the input itself is NCHW, as ONNX (and PyTorch) hold it.
 * A flatten of a feature map is written the Keras way (NHWC order), so the Gemm or MatMul reading it gets
 * its weight rows permuted to match; a flattened map read by anything else is not covered.
 *
 * Covered: Conv (plain and depthwise, any padding, no dilation), Relu, LeakyRelu, Sigmoid, HardSigmoid, Tanh, Clip
 * to [0, 6] or [0, ∞), Concat along the channels, Mul of two tensors (equal shapes, or a map by a per-channel
 * [C, 1, 1]: SiLU, hard-swish and squeeze-and-excite, so torchvision's MobileNetV3 and EfficientNet), Add and
 * Sum of two tensors, Add, Sub, Mul and Div by a per-channel constant, zero Pad of the spatial axes,
 * MaxPool (no ceil_mode, no dilation), AveragePool whose divisor is the window size everywhere (as a depthwise
 * convolution), GlobalAveragePool and ReduceMean over the spatial axes, Flatten and
 * Reshape to [batch, features] (PyTorch's `x.view(x.size(0), -1)` arithmetic included, and a Transpose to
 * NHWC before it), Gemm, MatMul by a constant,
 * Softmax over the classes, Identity and Dropout. Anything else gives undefined: the model keeps the
 * TF.js translation.
 */
import { tf } from '../../tf.js';
import { disposeGraph, foldGraph, windowOf, type ConvPadding, type FusedActivation, type OptNode, type OptOp } from '../optimize.js';
import { FUSED_ACTIVATION } from './conv.js';
import { sizeOf, type HostValue } from './proto.js';
import type { Program } from './program.js';
import { floatAttr, intAttr, intsAttr, stringAttr, type GraphNode } from './values.js';

/** A value of the graph: the node computing it, and its per-example shape as ONNX sees it. */
interface Held {
  index: number;
  /** [C, H, W] for a feature map, [F] for a vector. */
  shape: number[];
  /** A feature map [C, H, W] flattened in NHWC order: only a Gemm or MatMul, with permuted rows, may read it. */
  nhwcOf?: [number, number, number];
  /** A feature map transposed to [H, W, C] (`shape`): only a flatten may read it, which is then NHWC-ordered already. */
  transposed?: boolean;
}

/**
 * Shape arithmetic PyTorch writes for `x.view(x.size(0), -1)`: Shape of a tensor, Gather of its axis 0,
 * Unsqueeze, then Concat with [-1] (or the feature count). Tracked so that the Reshape it feeds is read
 * as the flatten it is; any other shape arithmetic is not covered.
 */
type ShapeValue = 'shape' | 'batch' | { batchBy: number };

class Unsupported extends Error {}

/** The attack-time graph of `program`, or undefined when a node is not covered (see the module comment). */
export function optGraphOfProgram(program: Program): OptNode[] | undefined {
  const shape = program.inputShape;
  if (!shape.every((d): d is number => d !== null) || (shape.length !== 3 && shape.length !== 1)) return undefined;
  const nodes: OptNode[] = [{ op: { kind: 'input' }, inputs: [] }];
  try {
    const values = new Map<string, Held>([[program.inputName, { index: 0, shape }]]);
    const shapes = new Map<string, ShapeValue>();
    for (const node of program.nodes) {
      if (!shapeArithmetic(node, program, values, shapes)) convert(node, program, values, nodes, shapes);
    }
    const out = values.get(program.outputName);
    if (out === undefined || out.shape.length !== 1 || out.nhwcOf !== undefined) throw new Unsupported();
    if (out.index !== nodes.length - 1) nodes.push({ op: { kind: 'identity' }, inputs: [out.index] });
    // Then the same folding as a Layers model's: a Clip to [0, 6] into the conv before it, affine maps into their neighbours.
    return foldGraph(nodes);
  } catch (err) {
    disposeGraph(nodes);
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

/** Follow the flatten idiom's shape arithmetic (see {@link ShapeValue}); false for any other node. */
function shapeArithmetic(node: GraphNode, program: Program, values: Map<string, Held>, shapes: Map<string, ShapeValue>): boolean {
  const out = node.outputs[0] ?? '';
  const [a, b] = node.inputs;
  const constant = (name: string | undefined) => (name ? program.consts.get(name) : undefined);
  if (node.op === 'Shape' && values.has(a ?? '') && intAttr(node, 'start', 0) === 0) shapes.set(out, 'shape');
  else if (node.op === 'Gather' && shapes.get(a ?? '') === 'shape' && constant(b)?.data.length === 1 && constant(b)?.data[0] === 0) shapes.set(out, 'batch');
  else if (node.op === 'Unsqueeze' && shapes.get(a ?? '') === 'batch') shapes.set(out, 'batch');
  else if (node.op === 'Concat' && node.inputs.length === 2 && shapes.get(a ?? '') === 'batch' && constant(b)?.data.length === 1) {
    shapes.set(out, { batchBy: constant(b)?.data[0] as number });
  }
  else return false;
  return true;
}

function convert(node: GraphNode, program: Program, values: Map<string, Held>, nodes: OptNode[], shapes: Map<string, ShapeValue>): void {
  const constant = (name: string | undefined): HostValue | undefined => (name ? program.consts.get(name) : undefined);
  const tensorIn = (k: number): Held => {
    const held = values.get(node.inputs[k] ?? '');
    if (held === undefined) throw new Unsupported();
    return held;
  };
  const emit = (op: OptOp, inputs: Held[], shape: number[], extra: Partial<Held> = {}): void => {
    if (inputs.some((h) => h.nhwcOf !== undefined || h.transposed === true)) throw new Unsupported();
    nodes.push({ op, inputs: inputs.map((h) => h.index) });
    values.set(node.outputs[0] ?? '', { index: nodes.length - 1, shape, ...extra });
  };
  const alias = (held: Held, shape = held.shape): void => {
    values.set(node.outputs[0] ?? '', { ...held, shape });
  };
  switch (node.op) {
    case 'Identity':
    case 'Dropout':
      alias(tensorIn(0));
      return;
    case 'Conv':
      convNode(node, tensorIn(0), constant(node.inputs[1]), constant(node.inputs[2]), emit);
      return;
    case 'Relu':
    case 'Sigmoid':
    case 'Tanh': {
      const activation = node.op === 'Relu' ? 'relu' : node.op === 'Sigmoid' ? 'sigmoid' : 'tanh';
      emit({ kind: 'activation', activation }, [tensorIn(0)], tensorIn(0).shape);
      return;
    }
    case 'Clip': {
      const lo = node.inputs.length > 1 ? constant(node.inputs[1])?.data[0] : floatAttr(node, 'min', -Infinity);
      const hi = node.inputs.length > 2 ? constant(node.inputs[2])?.data[0] : floatAttr(node, 'max', Infinity);
      const activation: FusedActivation | undefined = lo === 0 && hi === 6 ? 'relu6' : lo === 0 && (hi === undefined || hi >= 3.4e38) ? 'relu' : undefined;
      if (activation === undefined || (node.inputs.length > 2 && node.inputs[2] && hi === undefined)) throw new Unsupported();
      emit({ kind: 'activation', activation }, [tensorIn(0)], tensorIn(0).shape);
      return;
    }
    case 'HardSigmoid':
      emit({ kind: 'hardSigmoid', alpha: floatAttr(node, 'alpha', 0.2), beta: floatAttr(node, 'beta', 0.5) }, [tensorIn(0)], tensorIn(0).shape);
      return;
    case 'LeakyRelu': {
      const alpha = floatAttr(node, 'alpha', 0.01);
      if (alpha < 0) throw new Unsupported();
      emit({ kind: 'leakyRelu', alpha }, [tensorIn(0)], tensorIn(0).shape);
      return;
    }
    case 'Concat': {
      // Along the channels of maps, or the features of vectors (axis 1 of ONNX's per-batch layout).
      const parts = node.inputs.map((_, k) => tensorIn(k));
      const rank = (parts[0] as Held).shape.length;
      const axis = intAttr(node, 'axis', 1);
      if ((axis !== 1 && axis !== 1 - (rank + 1)) || parts.some((p) => p.shape.length !== rank || p.shape.slice(1).join() !== (parts[0] as Held).shape.slice(1).join())) {
        throw new Unsupported();
      }
      emit({ kind: 'concat' }, parts, [parts.reduce((sum, p) => sum + (p.shape[0] as number), 0), ...(parts[0] as Held).shape.slice(1)]);
      return;
    }
    case 'Add':
    case 'Sum':
    case 'Sub':
    case 'Mul':
    case 'Div':
      arithmetic(node, values, constant, emit);
      return;
    case 'MaxPool': {
      const { x, pool, strides, padding } = poolWindow(node, tensorIn(0));
      emit({ kind: 'maxPool', pool, strides, padding }, [x], outShape(x.shape, x.shape[0] as number, pool, strides, padding));
      return;
    }
    case 'AveragePool': {
      // A depthwise convolution with the filter 1/(kh·kw), where every window's divisor is kh·kw: no
      // padding, or padding counted (count_include_pad). Zero padding excluded from the count is not.
      const { x, pool, strides, padding } = poolWindow(node, tensorIn(0));
      const padded = padding === 'same' || (Array.isArray(padding) && padding.flat().some((p) => p !== 0));
      if (padded && (padding === 'same' || intAttr(node, 'count_include_pad', 0) !== 1)) throw new Unsupported();
      const channels = x.shape[0] as number;
      const filter = tf.fill([pool[0], pool[1], channels, 1], 1 / (pool[0] * pool[1])) as tf.Tensor4D;
      emit({ kind: 'conv', depthwise: true, filter, strides, padding, activation: 'linear' }, [x], outShape(x.shape, channels, pool, strides, padding));
      return;
    }
    case 'GlobalAveragePool': {
      const x = image(tensorIn(0));
      emit({ kind: 'globalAvgPool', keepDims: true }, [x], [x.shape[0] as number, 1, 1]);
      return;
    }
    case 'ReduceMean': {
      // x.mean((2, 3)), as hand-written networks pool: GlobalAveragePool, flattened unless keepdims.
      const x = image(tensorIn(0));
      const axes = (node.inputs.length > 1 ? Array.from(constant(node.inputs[1])?.data ?? [], Number) : intsAttr(node, 'axes')) ?? [];
      if ([...axes].map((a) => (a < 0 ? a + 4 : a)).sort().join() !== '2,3') throw new Unsupported();
      const c = x.shape[0] as number;
      const keep = intAttr(node, 'keepdims', 1) === 1;
      emit({ kind: 'globalAvgPool', keepDims: keep }, [x], keep ? [c, 1, 1] : [c]);
      return;
    }
    case 'Flatten':
    case 'Reshape': {
      // The target's second entry: from the idiom's arithmetic, or a constant [b | -1, features | -1].
      const arithmetic = shapes.get(node.inputs[1] ?? '');
      const target = constant(node.inputs[1]);
      const last = typeof arithmetic === 'object' ? arithmetic.batchBy : target?.shape.length === 1 && target.data.length === 2 ? target.data[1] : undefined;
      flatten(node, tensorIn(0), last, alias, emit);
      return;
    }
    case 'Transpose': {
      const x = image(tensorIn(0));
      const perm = intsAttr(node, 'perm') ?? [];
      if (perm.join() !== '0,2,3,1') throw new Unsupported();
      const [c, h, w] = x.shape as [number, number, number];
      alias({ ...x, transposed: true }, [h, w, c]);
      return;
    }
    case 'Pad': {
      const x = image(tensorIn(0));
      const pads = node.inputs.length > 1 ? constant(node.inputs[1])?.data : intsAttr(node, 'pads');
      const value = node.inputs.length > 2 && node.inputs[2] ? constant(node.inputs[2])?.data[0] : floatAttr(node, 'value', 0);
      if (stringAttr(node, 'mode', 'constant') !== 'constant' || value !== 0 || pads?.length !== 8) throw new Unsupported();
      const [n0, c0, t, l, n1, c1, bo, r] = Array.from(pads, Number) as number[];
      if (n0 !== 0 || c0 !== 0 || n1 !== 0 || c1 !== 0 || [t, l, bo, r].some((p) => (p as number) < 0)) throw new Unsupported();
      const [c, h, w] = x.shape as [number, number, number];
      const padding: [[number, number], [number, number]] = [
        [t as number, bo as number],
        [l as number, r as number],
      ];
      emit({ kind: 'pad', padding }, [x], [c, h + padding[0][0] + padding[0][1], w + padding[1][0] + padding[1][1]]);
      return;
    }
    case 'Gemm':
    case 'MatMul':
      dense(node, tensorIn(0), constant(node.inputs[1]), constant(node.inputs[2]), nodes, values);
      return;
    case 'Softmax': {
      const x = tensorIn(0);
      const axis = intAttr(node, 'axis', program.opset < 13 ? 1 : -1);
      if (x.shape.length !== 1 || (axis !== 1 && axis !== -1)) throw new Unsupported();
      emit({ kind: 'activation', activation: 'softmax' }, [x], x.shape);
      return;
    }
    default:
      throw new Unsupported();
  }
}

type Emit = (op: OptOp, inputs: Held[], shape: number[], extra?: Partial<Held>) => void;

function image(held: Held): Held {
  if (held.shape.length !== 3) throw new Unsupported();
  return held;
}

/** A pool's input map, window, strides and padding; no ceil_mode or dilation. */
function poolWindow(node: GraphNode, input: Held): { x: Held; pool: [number, number]; strides: [number, number]; padding: ConvPadding } {
  const x = image(input);
  if (intAttr(node, 'ceil_mode', 0) !== 0 || (intsAttr(node, 'dilations') ?? [1, 1]).some((d) => d !== 1)) throw new Unsupported();
  return { x, pool: pairOf(intsAttr(node, 'kernel_shape'), 1), strides: pairOf(intsAttr(node, 'strides'), 1), padding: paddingOf(node) };
}

function pairOf(v: number[] | undefined, fallback: number): [number, number] {
  return [v?.[0] ?? fallback, v?.[1] ?? v?.[0] ?? fallback];
}

/** [[top, bottom], [left, right]] from ONNX pads [top, left, bottom, right] (or 'same' / 'valid' from auto_pad). */
function paddingOf(node: GraphNode): ConvPadding {
  const auto = stringAttr(node, 'auto_pad', 'NOTSET');
  if (auto === 'VALID') return 'valid';
  if (auto === 'SAME_UPPER') return 'same';
  if (auto !== 'NOTSET') throw new Unsupported();
  const [t = 0, l = 0, b = 0, r = 0] = intsAttr(node, 'pads') ?? [];
  return [
    [t, b],
    [l, r],
  ];
}

/** [C, H, W] after a window of `k` at `s` with `padding` over a [·, H, W] input. */
function outShape([, h = 0, w = 0]: number[], channels: number, k: [number, number], s: [number, number], padding: ConvPadding): number[] {
  const { outHeight, outWidth } = windowOf(h, w, k, s, padding);
  return [channels, outHeight, outWidth];
}

function convNode(node: GraphNode, x: Held, weight: HostValue | undefined, bias: HostValue | undefined, emit: Emit): void {
  image(x);
  if (weight === undefined || weight.shape.length !== 4 || (node.inputs[2] && bias === undefined)) throw new Unsupported();
  if ((intsAttr(node, 'dilations') ?? [1, 1]).some((d) => d !== 1)) throw new Unsupported();
  const [out = 0, perGroup = 0, kh = 0, kw = 0] = weight.shape;
  const group = intAttr(node, 'group', 1);
  const channels = x.shape[0] as number;
  const depthwise = group > 1 && group === channels && perGroup === 1;
  if (perGroup * group !== channels || (group > 1 && !depthwise)) throw new Unsupported();
  const oihw = tf.tensor4d(Float32Array.from(weight.data), [out, perGroup, kh, kw]);
  // Depthwise: output channel o reads input channel floor(o / multiplier), TF.js's [h, w, in, multiplier] order.
  const filter = tf.tidy(() => (depthwise ? tf.transpose(tf.reshape(oihw, [group, out / group, kh, kw]), [2, 3, 0, 1]) : tf.transpose(oihw, [2, 3, 1, 0]))) as tf.Tensor4D;
  oihw.dispose();
  const strides = pairOf(intsAttr(node, 'strides'), 1);
  const padding = paddingOf(node);
  const activation: FusedActivation = node.attrs.get(FUSED_ACTIVATION) === 'relu' ? 'relu' : 'linear';
  const op: OptOp = { kind: 'conv', depthwise, filter, strides, padding, activation, ...(bias !== undefined ? { bias: tf.tensor1d(Float32Array.from(bias.data)) } : {}) };
  emit(op, [x], outShape(x.shape, out, [kh, kw], strides, padding));
}

/**
 * Per-channel values of a constant that broadcasts along the channels of a value of per-example shape
 * `shape` ([C, 1, 1] or [1, C, 1, 1] for a map, [F] or [1, F] for a vector) or is a scalar; else undefined.
 */
function perChannel(c: HostValue, shape: number[]): Float32Array | undefined {
  const channels = shape[0] as number;
  if (sizeOf(c.shape) === 1) return new Float32Array(channels).fill(c.data[0] as number);
  const dims = [...c.shape];
  while (dims.length > shape.length && dims[0] === 1) dims.shift();
  while (dims.length < shape.length) dims.unshift(1);
  return dims.length === shape.length && dims.every((d, i) => d === (i === 0 ? channels : 1)) ? Float32Array.from(c.data) : undefined;
}

function arithmetic(node: GraphNode, values: Map<string, Held>, constant: (name: string | undefined) => HostValue | undefined, emit: Emit): void {
  const [a, b] = [values.get(node.inputs[0] ?? ''), values.get(node.inputs[1] ?? '')];
  if ((node.op === 'Add' || node.op === 'Sum') && a !== undefined && b !== undefined && node.inputs.length === 2) {
    if (a.shape.join() !== b.shape.join()) throw new Unsupported();
    emit({ kind: 'add' }, [a, b], a.shape);
    return;
  }
  if (node.op === 'Mul' && a !== undefined && b !== undefined) {
    // Equal shapes (x · sigmoid(x), x · hardsigmoid(x)), or a map scaled per channel by a [C, 1, 1] (squeeze-and-excite).
    const perChannelOf = (m: Held, v: Held): boolean => m.shape.length === 3 && v.shape.join() === `${m.shape[0]},1,1`;
    if (a.shape.join() !== b.shape.join() && !perChannelOf(a, b) && !perChannelOf(b, a)) throw new Unsupported();
    emit({ kind: 'mul' }, [a, b], perChannelOf(b, a) ? b.shape : a.shape);
    return;
  }
  // A tensor and a constant on its right (on its left too for the commutative two): an affine map per channel.
  const held = a ?? (node.op === 'Add' || node.op === 'Mul' ? b : undefined);
  const c = constant(held === a ? node.inputs[1] : node.inputs[0]);
  if (held === undefined || c === undefined || node.inputs.length !== 2) throw new Unsupported();
  const v = perChannel(c, held.shape);
  if (v === undefined) throw new Unsupported();
  const n = v.length;
  const scale = new Float32Array(n).fill(1);
  const shift = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const k = v[i] as number;
    if (node.op === 'Add') shift[i] = k;
    else if (node.op === 'Sub') shift[i] = -k;
    else if (node.op === 'Mul') scale[i] = k;
    else scale[i] = 1 / k;
  }
  emit({ kind: 'affine', scale: tf.tensor1d(scale), shift: tf.tensor1d(shift) }, [held], held.shape);
}

/**
 * Flatten (axis 1), or Reshape to [batch, features] whose target's second entry is `last` (−1 or the
 * feature count). A map held as is flattens NHWC-ordered (see `nhwcOf`); one transposed to NHWC first
 * flattens in that order already.
 */
function flatten(node: GraphNode, x: Held, last: number | undefined, alias: (h: Held, shape?: number[]) => void, emit: Emit): void {
  const features = sizeOf(x.shape);
  const fits = node.op === 'Flatten' ? intAttr(node, 'axis', 1) === 1 : last === -1 || last === features;
  if (!fits) throw new Unsupported();
  if (x.shape.length === 1) {
    alias({ ...x, shape: [features] });
    return;
  }
  if (x.transposed === true) {
    emit({ kind: 'reshape', shape: [-1, features] }, [{ ...x, transposed: false }], [features]);
    return;
  }
  const [c, h, w] = x.shape as [number, number, number];
  emit({ kind: 'reshape', shape: [-1, features] }, [x], [features], h * w === 1 ? {} : { nhwcOf: [c, h, w] });
}

function dense(node: GraphNode, x: Held, weight: HostValue | undefined, bias: HostValue | undefined, nodes: OptNode[], values: Map<string, Held>): void {
  if (x.shape.length !== 1 || weight === undefined || weight.shape.length !== 2 || (node.inputs[2] && bias === undefined)) throw new Unsupported();
  const gemm = node.op === 'Gemm';
  if (gemm && (intAttr(node, 'transA', 0) !== 0 || floatAttr(node, 'alpha', 1) !== 1 || floatAttr(node, 'beta', 1) !== 1)) throw new Unsupported();
  const transB = gemm && intAttr(node, 'transB', 0) === 1;
  const [rows = 0, cols = 0] = weight.shape;
  const [inF, outF] = transB ? [cols, rows] : [rows, cols];
  if (inF !== x.shape[0]) throw new Unsupported();
  // kernel[i][o], with input feature i renumbered to NHWC order when x is a feature map flattened that way.
  const kernel = new Float32Array(inF * outF);
  const source = (i: number): number => {
    if (x.nhwcOf === undefined) return i;
    const [c, h, w] = x.nhwcOf;
    const ch = i % c;
    const pixel = (i - ch) / c;
    return ch * h * w + pixel;
  };
  for (let i = 0; i < inF; i++) {
    const from = source(i);
    for (let o = 0; o < outF; o++) kernel[i * outF + o] = weight.data[transB ? o * inF + from : from * outF + o] as number;
  }
  let b: tf.Tensor1D | undefined;
  if (bias !== undefined) {
    if (sizeOf(bias.shape) !== outF) throw new Unsupported();
    b = tf.tensor1d(Float32Array.from(bias.data));
  }
  nodes.push({ op: { kind: 'dense', kernel: tf.tensor2d(kernel, [inF, outF]), activation: 'linear', ...(b !== undefined ? { bias: b } : {}) }, inputs: [x.index] });
  values.set(node.outputs[0] ?? '', { index: nodes.length - 1, shape: [outF] });
}
