/**
 * The attack-time model pass: a Layers model rewritten for what attacks ask of it, an inference-mode
 * forward pass and the gradient with respect to the input only.
 *
 * - BatchNormalization is folded into the convolution, depthwise convolution or Dense layer before it
 *   (W' = W·γ/√(σ²+ε), b' = (b − μ)·γ/√(σ²+ε) + β); one left alone becomes a per-channel affine map.
 * - Bias and relu / relu6 are fused into one XNNPACK convolution (`FusedConv2D`), a ZeroPadding2D in
 *   front of a 'valid' convolution becomes its explicit padding, Dropout and identities disappear.
 * - Weights are constants captured by each op's custom gradient, so no weight gradient is ever computed
 *   (TF.js's fused ops compute the filter gradient eagerly), and each op keeps only its output for the
 *   activation mask. The input gradient of a convolution is a forward convolution of dy with the
 *   filter flipped and transposed once, here, instead of on every call.
 *
 * The pass works on a small graph of {@link OptNode}s, so another format's loader can build the same
 * graph and reuse the folding and the compiled ops. Anything it does not know runs as the original layer.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../tf.js';
import { ACTIVATION_GRAD } from '../backends/kernels/activationGrad.js';

/** Activations fused into an op. */
export type FusedActivation = 'linear' | 'relu' | 'relu6';

/** Activations a node of their own may apply: the fusable ones, and softmax, sigmoid and tanh, which stay separate. */
export type NodeActivation = FusedActivation | 'softmax' | 'sigmoid' | 'tanh';

/** Activations that follow a conv or Dense as a node of their own (the op itself goes linear). */
const SEPARATE = new Set<string>(['softmax', 'sigmoid', 'tanh']);

/** Explicit [top, bottom], [left, right] padding, or a TF.js padding mode. */
export type ConvPadding = 'same' | 'valid' | [[number, number], [number, number]];

/** One operation of the optimisable graph; `inputs` are indices of earlier nodes (0 is the model input). */
export type OptOp =
  | { kind: 'input' }
  | { kind: 'conv'; depthwise: boolean; filter: tf.Tensor4D; bias?: tf.Tensor1D; strides: [number, number]; padding: ConvPadding; activation: FusedActivation }
  | { kind: 'dense'; kernel: tf.Tensor2D; bias?: tf.Tensor1D; activation: FusedActivation }
  | { kind: 'affine'; scale: tf.Tensor1D; shift: tf.Tensor1D }
  | { kind: 'activation'; activation: NodeActivation }
  | { kind: 'pad'; padding: [[number, number], [number, number]] }
  | { kind: 'add' }
  | { kind: 'globalAvgPool'; keepDims?: boolean }
  | { kind: 'maxPool'; pool: [number, number]; strides: [number, number]; padding: ConvPadding }
  | { kind: 'reshape'; shape: number[] }
  | { kind: 'identity' }
  | { kind: 'leakyRelu'; alpha: number }
  | { kind: 'hardSigmoid'; alpha: number; beta: number }
  | { kind: 'concat' }
  | { kind: 'mul' }
  | { kind: 'layer'; layer: tfl.layers.Layer };

/** A node: an op and the nodes it reads. */
export interface OptNode {
  op: OptOp;
  inputs: number[];
}

const ACTIVATIONS = new Set(['linear', 'relu', 'relu6']);

function asActivation(name: unknown): NodeActivation | undefined {
  if (name === undefined || name === null) return 'linear';
  if (typeof name === 'string' && (ACTIVATIONS.has(name) || SEPARATE.has(name))) return name as NodeActivation;
  return undefined;
}

/** Whether `a` can be fused into the op before it. */
function fusable(a: NodeActivation): a is FusedActivation {
  return ACTIVATIONS.has(a);
}

function pair(v: unknown): [number, number] {
  return Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)];
}

/**
 * Average pooling as what it is when no window reaches past the input: a depthwise convolution whose
 * filter is 1/(kh·kw) everywhere. Then the native engine (and the fused conv kernels) run it like any
 * other depthwise convolution. With padding ('same' on a size the windows do not tile), the divisor
 * changes at the border (TF.js counts real pixels only), so that case stays a layer.
 */
function averagePool(layer: tfl.layers.Layer, pool: [number, number], stridesConfig: unknown, padding: unknown): OptOp | undefined {
  const strides = pair(stridesConfig ?? pool);
  const shape = Array.isArray(layer.input) ? undefined : layer.input.shape;
  const [h, w, channels] = (shape ?? []).slice(1) as (number | null)[];
  if (typeof h !== 'number' || typeof w !== 'number' || typeof channels !== 'number') return undefined;
  if (padding === 'same') {
    const info = tf.backend_util.computePool2DInfo([1, h, w, channels], pool, strides, 1, 'same');
    const { top, bottom, left, right } = info.padInfo;
    if (top + bottom + left + right !== 0) return undefined;
  }
  const filter = tf.fill([pool[0], pool[1], channels, 1], 1 / (pool[0] * pool[1])) as tf.Tensor4D;
  return { kind: 'conv', depthwise: true, filter, strides, padding: 'valid', activation: 'linear' };
}

/** The op for one layer, with copies of its weights; undefined where only the layer itself can run it. */
function opOf(layer: tfl.layers.Layer): OptOp | undefined {
  const c = layer.getConfig();
  const w = layer.getWeights();
  const cls = layer.getClassName();
  const channelsLast = c.dataFormat === undefined || c.dataFormat === 'channelsLast';
  switch (cls) {
    case 'Conv2D':
    case 'DepthwiseConv2D': {
      const act = asActivation(c.activation);
      if (!channelsLast || act === undefined || act === 'softmax' || pair(c.dilationRate ?? 1).some((d) => d !== 1)) return undefined;
      // A sigmoid or tanh conv becomes the linear conv and an activation node after it (graphFromLayers adds that).
      const [filter, bias] = w;
      return {
        kind: 'conv',
        depthwise: cls === 'DepthwiseConv2D',
        filter: tf.clone(filter) as tf.Tensor4D,
        bias: c.useBias === false || bias === undefined ? undefined : (tf.clone(bias) as tf.Tensor1D),
        strides: pair(c.strides ?? 1),
        padding: c.padding === 'same' ? 'same' : 'valid',
        activation: fusable(act) ? act : 'linear',
      };
    }
    case 'Dense': {
      const act = asActivation(c.activation);
      const [kernel, b] = w;
      if (act === undefined || kernel?.rank !== 2 || (Array.isArray(layer.input) ? 0 : layer.input.shape.length) !== 2) return undefined;
      // A softmax, sigmoid or tanh Dense becomes the linear Dense and an activation node after it (graphFromLayers adds that).
      const bias = c.useBias === false || b === undefined ? undefined : (tf.clone(b) as tf.Tensor1D);
      return { kind: 'dense', kernel: tf.clone(kernel) as tf.Tensor2D, bias, activation: fusable(act) ? act : 'linear' };
    }
    case 'BatchNormalization': {
      const axis = Array.isArray(c.axis) ? c.axis[0] : c.axis;
      const rank = Array.isArray(layer.input) ? 0 : layer.input.shape.length;
      if (axis !== -1 && axis !== rank - 1) return undefined;
      const values = [...w];
      const gamma = c.scale === false ? undefined : values.shift();
      const beta = c.center === false ? undefined : values.shift();
      const [mean, variance] = values;
      if (mean === undefined || variance === undefined) return undefined;
      const [scale, shift] = tf.tidy(() => {
        const inv = tf.rsqrt(tf.add(variance, Number(c.epsilon ?? 1e-3)));
        const s = gamma === undefined ? inv : tf.mul(inv, gamma);
        return [s, tf.sub(beta ?? tf.zerosLike(mean), tf.mul(mean, s))];
      });
      return { kind: 'affine', scale: scale as tf.Tensor1D, shift: shift as tf.Tensor1D };
    }
    case 'ReLU': {
      const max = c.maxValue;
      if (max === undefined || max === null) return { kind: 'activation', activation: 'relu' };
      return max === 6 ? { kind: 'activation', activation: 'relu6' } : undefined;
    }
    case 'Activation': {
      const act = asActivation(c.activation);
      return act === undefined ? undefined : act === 'linear' ? { kind: 'identity' } : { kind: 'activation', activation: act };
    }
    case 'ZeroPadding2D': {
      const p = c.padding as [[number, number], [number, number]] | undefined;
      return channelsLast && Array.isArray(p) ? { kind: 'pad', padding: [pair(p[0]), pair(p[1])] } : undefined;
    }
    case 'Add':
      return { kind: 'add' };
    case 'LeakyReLU': {
      const alpha = Number(c.alpha ?? 0.3);
      return alpha >= 0 ? { kind: 'leakyRelu', alpha } : undefined;
    }
    case 'Concatenate': {
      // Along the channels only (the last axis), of inputs of equal rank.
      const rank = Array.isArray(layer.input) ? (layer.input[0]?.shape.length ?? 0) : 0;
      const axis = Number(c.axis ?? -1);
      return channelsLast && (axis === -1 || axis === rank - 1) ? { kind: 'concat' } : undefined;
    }
    case 'GlobalAveragePooling2D':
      return channelsLast ? { kind: 'globalAvgPool', keepDims: c.keepDims === true } : undefined;
    case 'Multiply':
      // Two inputs: equal shapes, or a map and a per-channel [1, 1, C] (squeeze-and-excite).
      return Array.isArray(layer.input) && layer.input.length === 2 ? { kind: 'mul' } : undefined;
    case 'MaxPooling2D': {
      const pool = pair(c.poolSize ?? 2);
      return channelsLast ? { kind: 'maxPool', pool, strides: pair(c.strides ?? pool), padding: c.padding === 'same' ? 'same' : 'valid' } : undefined;
    }
    case 'AveragePooling2D':
      return channelsLast ? averagePool(layer, pair(c.poolSize ?? 2), c.strides, c.padding) : undefined;
    case 'Flatten':
      return { kind: 'reshape', shape: [-1, layer.outputShape.slice(1).reduce<number>((a, d) => a * Number(d), 1)] };
    case 'Dropout':
    case 'SpatialDropout1D':
    case 'SpatialDropout2D':
    case 'GaussianNoise':
    case 'GaussianDropout':
    case 'AlphaDropout':
      return { kind: 'identity' };
    default:
      return undefined;
  }
}

/**
 * The Layers model as an {@link OptNode} graph, unfolded (one node per layer, weights copied). Undefined
 * for models the pass does not handle: several inputs or outputs, or a layer called more than once.
 * The caller disposes the graph with {@link disposeGraph}.
 */
export function graphFromLayers(model: tfl.LayersModel): OptNode[] | undefined {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return undefined;
  const input = model.inputs[0] as tfl.SymbolicTensor;
  const nodes: OptNode[] = [{ op: { kind: 'input' }, inputs: [] }];
  const where = new Map<number, number>([[input.id, 0]]);
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    if (layer.inboundNodes.length !== 1) return undefined;
    const ins = Array.isArray(layer.input) ? layer.input : [layer.input];
    const out = layer.output;
    if (Array.isArray(out)) return undefined;
    const ids = ins.map((t) => where.get(t.id));
    if (ids.some((i) => i === undefined)) return undefined;
    const op = opOf(layer) ?? { kind: 'layer', layer };
    nodes.push({ op, inputs: ids as number[] });
    const act = layer.getConfig().activation;
    if ((op.kind === 'dense' || op.kind === 'conv') && typeof act === 'string' && SEPARATE.has(act)) {
      nodes.push({ op: { kind: 'activation', activation: act as NodeActivation }, inputs: [nodes.length - 1] });
    }
    where.set(out.id, nodes.length - 1);
  }
  const output = where.get((model.outputs[0] as tfl.SymbolicTensor).id);
  if (output !== nodes.length - 1) return undefined;
  return nodes;
}

/** Dispose the weights a graph holds (not the layers of `layer` nodes, which belong to their model). */
export function disposeGraph(nodes: OptNode[]): void {
  for (const { op } of nodes) {
    if (op.kind === 'conv') tf.dispose([op.filter, ...(op.bias ? [op.bias] : [])]);
    if (op.kind === 'dense') tf.dispose([op.kernel, ...(op.bias ? [op.bias] : [])]);
    if (op.kind === 'affine') tf.dispose([op.scale, op.shift]);
  }
}

/** How many nodes read each node's output. */
function consumers(nodes: OptNode[]): number[] {
  const count = nodes.map(() => 0);
  for (const n of nodes) for (const i of n.inputs) count[i] = (count[i] ?? 0) + 1;
  count[nodes.length - 1] = (count[nodes.length - 1] ?? 0) + 1; // the model output
  return count;
}

/**
 * Fold and fuse, in place of a copy: BatchNormalization (affine) into the conv / dense before it,
 * activations into the op before them, padding into a 'valid' conv after it, identities away. Only
 * where the intermediate result has no other reader, so every output of the model stays the same.
 * Returns a new node list; weights replaced by folding are disposed.
 */
export function foldGraph(input: OptNode[]): OptNode[] {
  const nodes = input.map((n) => ({ op: n.op, inputs: [...n.inputs] }));
  const alias = nodes.map((_, i) => i);
  const resolve = (i: number): number => (alias[i] === i ? i : (alias[i] = resolve(alias[i] as number)));
  const dead = new Set<number>();
  const uses = consumers(nodes);
  nodes.forEach((node, i) => {
    node.inputs = node.inputs.map(resolve);
    const op = node.op;
    const src = node.inputs[0];
    const prev = src === undefined ? undefined : nodes[src];
    const sole = src !== undefined && uses[src] === 1 && prev !== undefined && node.inputs.length === 1;
    if (op.kind === 'identity' && src !== undefined) {
      alias[i] = src;
      dead.add(i);
      uses[src] = (uses[src] ?? 0) - 1 + (uses[i] ?? 0);
      return;
    }
    if (!sole || prev === undefined) return;
    const p = prev.op;
    if (op.kind === 'affine' && (p.kind === 'conv' || p.kind === 'dense') && p.activation === 'linear') {
      const folded = tf.tidy(() => {
        const weights = p.kind === 'conv' ? p.filter : p.kernel;
        const scale = p.kind === 'conv' && p.depthwise ? tf.reshape(op.scale, [weights.shape[2] ?? 1, weights.shape[3] ?? 1]) : op.scale;
        const w = tf.keep(tf.mul(weights, scale));
        const b = tf.keep(tf.add(p.bias === undefined ? op.shift : tf.mul(p.bias, op.scale), p.bias === undefined ? 0 : op.shift)) as tf.Tensor1D;
        return { w, b };
      });
      tf.dispose([p.kind === 'conv' ? p.filter : p.kernel, ...(p.bias ? [p.bias] : []), op.scale, op.shift]);
      node.op = p.kind === 'conv' ? { ...p, filter: folded.w as tf.Tensor4D, bias: folded.b } : { ...p, kernel: folded.w as tf.Tensor2D, bias: folded.b };
    } else if (op.kind === 'activation' && fusable(op.activation) && (p.kind === 'conv' || p.kind === 'dense') && p.activation === 'linear') {
      node.op = { ...p, activation: op.activation };
    } else if (op.kind === 'conv' && p.kind === 'pad' && op.padding === 'valid') {
      node.op = { ...op, padding: p.padding };
    } else {
      return;
    }
    node.inputs = prev.inputs;
    dead.add(src);
  });
  // Renumber the survivors.
  const index = new Map<number, number>();
  const out: OptNode[] = [];
  nodes.forEach((n, i) => {
    if (dead.has(i)) return;
    index.set(i, out.length);
    out.push({ op: n.op, inputs: n.inputs.map((j) => index.get(resolve(j)) as number) });
  });
  return out;
}

type Act = FusedActivation;

/** A compiled op: its forward pass (differentiable in its inputs only) and what it allocated. */
interface Compiled {
  apply: (...xs: tf.Tensor[]) => tf.Tensor;
  dispose: () => void;
}

/** dy masked by the derivative of `act`, read off the op's output y (relu: y > 0; relu6: 0 < y < 6). */
function maskGrad(dy: tf.Tensor, y: tf.Tensor, act: Act): tf.Tensor {
  if (act === 'linear') return dy;
  // One pass where robust registered the kernel (wasm, cpu); TF.js's element-wise ops elsewhere.
  if (tf.getKernel(ACTIVATION_GRAD, tf.getBackend()) !== undefined) {
    return tf.engine().runKernel(ACTIVATION_GRAD, { dy, y }, { upper: act === 'relu6' ? 6 : Infinity }) as tf.Tensor;
  }
  if (act === 'relu') return tf.mul(dy, tf.step(y));
  return tf.where(tf.logicalAnd(tf.greater(y, 0), tf.less(y, 6)), dy, tf.zerosLike(dy));
}

/**
 * A kh×kw window (a convolution's or a pool's) at `strides` with `padding` over an h×w map, as TF.js
 * computes it: the output size and the explicit [top, bottom], [left, right] padding ('same' resolved).
 * The one place the pass, the native graph writer and the ONNX reader get these from.
 */
export function windowOf(h: number, w: number, window: [number, number], strides: [number, number], padding: ConvPadding): { outHeight: number; outWidth: number; pads: [[number, number], [number, number]] } {
  const pad = Array.isArray(padding) ? ([[0, 0], ...padding, [0, 0]] as unknown as tf.backend_util.ExplicitPadding) : padding;
  const { outHeight, outWidth, padInfo } = tf.backend_util.computePool2DInfo([1, h, w, 1], window, strides, 1, pad);
  return { outHeight, outWidth, pads: [[padInfo.top, padInfo.bottom], [padInfo.left, padInfo.right]] };
}

/** The explicit padding of `op`'s convolution over an input of NHWC shape `inShape`. */
function explicit(op: { padding: ConvPadding; filter: tf.Tensor4D; strides: [number, number] }, inShape: number[]): [[number, number], [number, number]] {
  const [kh, kw] = op.filter.shape;
  return windowOf(inShape[1] ?? 0, inShape[2] ?? 0, [kh, kw], op.strides, op.padding).pads;
}

/**
 * dy spread out by the stride (s − 1 zeros between rows and columns, and after the last), by two
 * rank-4 pads, so a stride-1 convolution can run the transposed one. TF.js has no strided scatter.
 */
function spread(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  const [b, h, w, c] = dy.shape;
  let t: tf.Tensor = dy;
  if (sw > 1) t = tf.reshape(tf.pad(tf.reshape(t, [b * h, w, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]), [b, h, w * sw, c]);
  if (sh > 1) t = tf.reshape(tf.pad(tf.reshape(t, [b, h, 1, w * sw * c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0]]), [b, h * sh, w * sw, c]);
  return t as tf.Tensor4D;
}

/** A convolution with its input gradient only, as forward XNNPACK convolutions. */
function convOp(op: Extract<OptOp, { kind: 'conv' }>): Compiled {
  const [kh, kw, , mult] = op.filter.shape;
  // The transposed convolution's filter: flipped in space, channel axes swapped (depthwise: flipped only).
  const back = tf.tidy(() => {
    const flipped = tf.reverse(op.filter, [0, 1]);
    return op.depthwise ? flipped : tf.transpose(flipped, [0, 1, 3, 2]);
  });
  const fastBack = !op.depthwise || mult === 1;
  const fwd = (x: tf.Tensor4D): tf.Tensor4D => {
    const pad = explicit(op, x.shape);
    const attrs = { strides: op.strides, pad: [[0, 0], ...pad, [0, 0]], dataFormat: 'NHWC', dilations: [1, 1], activation: op.activation };
    const inputs: tf.NamedTensorMap = { x, filter: op.filter, ...(op.bias ? { bias: op.bias } : {}) };
    // runKernel directly: tf.fused.* falls back to unfused ops whenever a gradient is being recorded.
    const kernel = op.depthwise ? tf.FusedDepthwiseConv2D : tf.FusedConv2D;
    return tf.engine().runKernel(kernel, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  };
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x4 = args[0] as tf.Tensor4D;
    const save = args[1] as tf.GradSaveFunc;
    const y = fwd(x4);
    save([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [out]: tf.Tensor[]) => {
        const g = maskGrad(dy, out as tf.Tensor, op.activation) as tf.Tensor4D;
        const [[top, bottom], [left, right]] = explicit(op, x4.shape);
        const [, inH, inW] = x4.shape;
        const [sh, sw] = op.strides;
        const sp = spread(g, sh, sw);
        const padT = kh - 1 - top;
        const padL = kw - 1 - left;
        const padB = inH + kh - 1 - padT - sp.shape[1];
        const padR = inW + kw - 1 - padL - sp.shape[2];
        if (!fastBack || Math.min(padT, padL) < 0 || Math.max(-padB, -padR) > Math.max(sh, sw)) {
          const pad = [[0, 0], [top, bottom], [left, right], [0, 0]] as unknown as tf.backend_util.ExplicitPadding;
          if (!op.depthwise) return tf.conv2dTranspose(g, op.filter, x4.shape, op.strides, pad);
          const attrs = { strides: op.strides, pad, dilations: [1, 1], inputShape: x4.shape };
          return tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy: g, filter: op.filter }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
        }
        // The spread has s − 1 trailing zeros a negative bottom/right padding would cut; they meet zeros anyway.
        const trimmed = padB < 0 || padR < 0 ? tf.slice(sp, [0, 0, 0, 0], [-1, sp.shape[1] + Math.min(padB, 0), sp.shape[2] + Math.min(padR, 0), -1]) : sp;
        const pad = [[0, 0], [padT, Math.max(padB, 0)], [padL, Math.max(padR, 0)], [0, 0]] as unknown as tf.backend_util.ExplicitPadding;
        return op.depthwise ? tf.depthwiseConv2d(trimmed as tf.Tensor4D, back as tf.Tensor4D, 1, pad) : tf.conv2d(trimmed as tf.Tensor4D, back as tf.Tensor4D, 1, pad);
      },
    };
  });
  return { apply: (x) => run(x), dispose: () => back.dispose() };
}

/** Dense with its input gradient only: dx = (dy masked) · Wᵀ, Wᵀ laid out once. */
function denseOp(op: Extract<OptOp, { kind: 'dense' }>): Compiled {
  const kernelT = tf.transpose(op.kernel);
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[1] as tf.GradSaveFunc;
    const y = tf.fused.matMul({ a: args[0] as tf.Tensor2D, b: op.kernel, bias: op.bias, activation: op.activation });
    save([y]);
    return { value: y, gradFunc: (dy: tf.Tensor, [out]: tf.Tensor[]) => tf.matMul(maskGrad(dy, out as tf.Tensor, op.activation) as tf.Tensor2D, kernelT) };
  });
  return { apply: (x) => run(x), dispose: () => kernelT.dispose() };
}

const none = (): void => undefined;

/** relu / relu6 standing alone (after an Add, say), with the one-pass gradient of {@link maskGrad}. */
function activationOp(act: Act): Compiled {
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    const y = act === 'relu' ? tf.relu(x) : act === 'relu6' ? tf.relu6(x) : x;
    (args[1] as tf.GradSaveFunc)([y]);
    return { value: y, gradFunc: (dy: tf.Tensor, [out]: tf.Tensor[]) => maskGrad(dy, out as tf.Tensor, act) };
  });
  return { apply: (x) => run(x), dispose: none };
}

function compileOp(op: OptOp): Compiled {
  switch (op.kind) {
    case 'conv':
      return convOp(op);
    case 'dense':
      return denseOp(op);
    case 'affine':
      return { apply: (x) => tf.add(tf.mul(x, op.scale), op.shift), dispose: none };
    case 'activation': {
      const a = op.activation;
      if (fusable(a)) return activationOp(a);
      return { apply: (x) => (a === 'softmax' ? tf.softmax(x) : a === 'sigmoid' ? tf.sigmoid(x) : tf.tanh(x)), dispose: none };
    }
    case 'pad':
      return { apply: (x) => tf.pad(x, [[0, 0], ...op.padding, [0, 0]]), dispose: none };
    case 'add':
      return { apply: (...xs) => tf.addN(xs), dispose: none };
    case 'globalAvgPool':
      return { apply: (x) => tf.mean(x, [1, 2], op.keepDims === true), dispose: none };
    case 'maxPool':
      return { apply: (x) => tf.maxPool(x as tf.Tensor4D, op.pool, op.strides, Array.isArray(op.padding) ? [[0, 0], ...op.padding, [0, 0]] : op.padding), dispose: none };
    case 'reshape':
      return { apply: (x) => tf.reshape(x, op.shape), dispose: none };
    case 'layer':
      return { apply: (...xs) => op.layer.apply(xs.length === 1 ? (xs[0] as tf.Tensor) : xs, { training: false }) as tf.Tensor, dispose: none };
    case 'leakyRelu':
      return { apply: (x) => tf.leakyRelu(x, op.alpha), dispose: none };
    case 'hardSigmoid':
      return { apply: (x) => tf.clipByValue(tf.add(tf.mul(x, op.alpha), op.beta), 0, 1), dispose: none };
    case 'concat':
      return { apply: (...xs) => tf.concat(xs, -1), dispose: none };
    case 'mul':
      return { apply: (a, b) => tf.mul(a as tf.Tensor, b as tf.Tensor), dispose: none };
    case 'identity':
    case 'input':
      return { apply: (x) => x, dispose: none };
  }
}

/** A compiled graph: the forward pass from the input to the last node, and the release of its weights. */
export interface CompiledGraph {
  forward: (x: tf.Tensor) => tf.Tensor;
  /** Nodes after folding, for reports and tests. */
  readonly nodes: readonly OptNode[];
  dispose: () => void;
}

/** Compile a (folded) graph into a forward pass. Takes ownership of the graph's weights. */
export function compileGraph(nodes: OptNode[]): CompiledGraph {
  const ops = nodes.map((n) => compileOp(n.op));
  const forward = (x: tf.Tensor): tf.Tensor => tf.tidy(() => {
    const values: (tf.Tensor | undefined)[] = [x];
    for (let i = 1; i < nodes.length; i++) {
      const node = nodes[i] as OptNode;
      values[i] = (ops[i] as Compiled).apply(...node.inputs.map((j) => values[j] as tf.Tensor));
    }
    return values[nodes.length - 1] as tf.Tensor;
  });
  return {
    forward,
    nodes,
    dispose: () => {
      for (const op of ops) op.dispose();
      disposeGraph(nodes);
    },
  };
}

/** Options of {@link optimizeLayersModel}. */
export interface OptimizeOptions {
  /** Leave out a final softmax (of the last Dense, Activation or Softmax layer), as `logits: auto` does. */
  stripSoftmax?: boolean;
  /** Leave out a final sigmoid (of the last Dense or Activation layer): the pass then gives a binary classifier's logit. */
  stripSigmoid?: boolean;
}

/**
 * The attack-time forward pass of a Layers model: BatchNormalization folded, bias and activations fused,
 * input gradient only (see the module comment). The weights are copied at this moment: training the
 * model afterwards does not reach the optimised pass. Undefined for a model the pass does not handle
 * (several inputs or outputs, shared layers); the caller then keeps `model.apply`.
 * @example
 *   const fast = optimizeLayersModel(net, { stripSoftmax: true });
 *   const logits = fast?.forward(x);
 *   fast?.dispose();
 */
export function optimizeLayersModel(model: tfl.LayersModel, options: OptimizeOptions = {}): CompiledGraph | undefined {
  const graph = graphFromLayers(model);
  if (graph === undefined) return undefined;
  const last = graph[graph.length - 1] as OptNode;
  if (options.stripSoftmax === true) {
    const isSoftmaxLayer = last.op.kind === 'layer' && last.op.layer.getClassName() === 'Softmax';
    if ((last.op.kind === 'activation' && last.op.activation === 'softmax') || isSoftmaxLayer) last.op = { kind: 'identity' };
  }
  if (options.stripSigmoid === true && last.op.kind === 'activation' && last.op.activation === 'sigmoid') last.op = { kind: 'identity' };
  return compileGraph(foldGraph(graph));
}
