/**
 * The attack-time graph ({@link OptNode}s of `optimize.ts`) written out as ONNX, for onnxruntime's
 * native CPU kernels (see `engine.ts`). Two graphs come from one folded graph:
 * - the forward pass: x (the model's NHWC input) → logits;
 * - its vector-Jacobian product: (x, dy, onehot, ce, margin) → (logits, dx), the forward pass followed by
 *   the reverse pass written out op by op (onnxruntime runs graphs, it does not differentiate them).
 *   The reverse pass starts from dy plus the gradients of the attacks' two standard objectives, computed
 *   in the graph from the logits it has just produced: ce · ∂CE/∂z + margin · ∂margin/∂z per example
 *   (see {@link objectiveSeed}). With ce = margin = 0 it is the plain product (∂logits/∂x)ᵀ·dy; with
 *   dy = 0 it is an objective's input gradient in one run, with no separate forward pass for the logits
 *   the objective needs.
 *
 * Inside, images are NCHW as ONNX wants; the input is transposed once on the way in and dx once on the
 * way out, and a flatten transposes back to NHWC first so that a Dense layer after it reads its features
 * in the Keras order. The batch dimension stays symbolic, so one session serves every batch size.
 * A graph with any node this module does not know (a `layer` node) is refused: undefined.
 */
import onnxProto from 'onnx-proto';
import { tf } from '../../tf.js';
import { windowOf, type FusedActivation, type OptNode } from '../optimize.js';

const onnx = onnxProto.onnx;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
/** Opset 17: ScatterElements with reduction 'add' needs 16; Clip, Pad, Slice, ReduceSum take inputs. */
const OPSET = 17;

type Attr = number | number[] | string | { floats: number[] } | { float: number };

/** Collects nodes and initialisers, naming every value. */
class Builder {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private next = 0;

  private name(hint: string): string {
    return `${hint}_${this.next++}`;
  }

  /** One node with a single output (or several, named from `outputs`); returns the first output. */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = 1): string[] {
    const outs = Array.from({ length: outputs }, () => this.name(type.toLowerCase()));
    const attribute = Object.entries(attrs).map(([name, v]): onnxProto.onnx.IAttributeProto => {
      if (typeof v === 'number') return Number.isInteger(v) ? { name, type: onnx.AttributeProto.AttributeType.INT, i: v } : { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v };
      if (typeof v === 'string') return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) };
      if (Array.isArray(v)) return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v };
      if ('float' in v) return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v.float };
      return { name, type: onnx.AttributeProto.AttributeType.FLOATS, floats: v.floats };
    });
    this.nodes.push({ opType: type, input: inputs, output: outs, attribute });
    return outs;
  }

  one(type: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.op(type, inputs, attrs)[0] as string;
  }

  floats(data: ArrayLike<number>, dims: number[]): string {
    const name = this.name('w');
    this.initializers.push({ name, dataType: FLOAT, dims, rawData: new Uint8Array(Float32Array.from(data).buffer) });
    return name;
  }

  ints(data: number[]): string {
    const name = this.name('i');
    this.initializers.push({ name, dataType: INT64, dims: [data.length], rawData: new Uint8Array(BigInt64Array.from(data.map(BigInt)).buffer) });
    return name;
  }

  scalar(v: number): string {
    const name = this.name('c');
    this.initializers.push({ name, dataType: FLOAT, dims: [], rawData: new Uint8Array(Float32Array.of(v).buffer) });
    return name;
  }
}

/** Values of a tensor, transposed by `perm`, as a flat array. */
function laidOut(t: tf.Tensor, perm: number[]): Float32Array {
  // Not through tf.tidy: it would walk the returned array element by element looking for tensors.
  const moved = tf.transpose(t, perm);
  const values = moved.dataSync() as Float32Array;
  moved.dispose();
  return values;
}

/** [top, left, bottom, right] padding of a convolution or pooling. */
type Pads = [number, number, number, number];

/**
 * Per-example shape of every node's output (NHWC for images, as TF.js sees them), and the explicit
 * padding of every convolution and pooling, both as TF.js computes them ('same' included).
 */
function layoutOf(nodes: readonly OptNode[], inputShape: number[]): { shapes: number[][]; pads: (Pads | undefined)[] } {
  const shapes: number[][] = [];
  const pads: (Pads | undefined)[] = [];
  const padsOf = ([[top, bottom], [left, right]]: [[number, number], [number, number]]): Pads => [top, left, bottom, right];
  nodes.forEach((node, i) => {
    const op = node.op;
    const x = shapes[node.inputs[0] ?? 0] ?? [];
    const [h, w, c] = x as [number, number, number];
    switch (op.kind) {
      case 'input':
        shapes[i] = inputShape;
        break;
      case 'conv': {
        const [kh, kw, , mult] = op.filter.shape;
        const win = windowOf(h, w, [kh, kw], op.strides, op.padding);
        shapes[i] = [win.outHeight, win.outWidth, op.depthwise ? c * mult : mult];
        pads[i] = padsOf(win.pads);
        break;
      }
      case 'maxPool': {
        const win = windowOf(h, w, op.pool, op.strides, op.padding);
        shapes[i] = [win.outHeight, win.outWidth, c];
        pads[i] = padsOf(win.pads);
        break;
      }
      case 'dense':
        shapes[i] = [op.kernel.shape[1]];
        break;
      case 'pad':
        shapes[i] = [h + op.padding[0][0] + op.padding[0][1], w + op.padding[1][0] + op.padding[1][1], c];
        break;
      case 'globalAvgPool':
        shapes[i] = op.keepDims === true ? [1, 1, c] : [c];
        break;
      case 'mul': {
        // Equal shapes, or a map against a per-channel [1, 1, C]: the output has the larger.
        const size = (t: number[]): number => t.reduce((a, d) => a * d, 1);
        shapes[i] = node.inputs.map((j) => shapes[j] ?? []).reduce((a, t) => (size(t) > size(a) ? t : a));
        break;
      }
      case 'concat': {
        // Along the channels (the last axis as TF.js holds it), or the features of vectors.
        const parts = node.inputs.map((j) => shapes[j] ?? []);
        const last = (t: number[]): number => t[t.length - 1] ?? 0;
        shapes[i] = [...x.slice(0, -1), parts.reduce((sum, t) => sum + last(t), 0)];
        break;
      }
      case 'reshape':
        shapes[i] = op.shape.slice(1);
        break;
      default:
        shapes[i] = x;
    }
  });
  return { shapes, pads };
}

/** What the reverse pass needs of one forward node. */
interface Saved {
  input: string[];
  output: string;
  /**
   * What the reverse pass multiplies by: a convolution's filter (for ConvTranspose) or its flipped,
   * channel-swapped filter (for a stride-1 convolution: `flipped`), a Dense kernel's transpose, an affine
   * map's scale; or MaxPool's indices.
   */
  extra?: string;
  flipped?: boolean;
}

/** Both graphs, as encoded ModelProtos. */
export interface NativeGraphs {
  forward: Uint8Array;
  vjp: Uint8Array;
  /** Logits per example. */
  classes: number;
  /**
   * Native memory one more example costs in the vector-Jacobian product, estimated: every node's output
   * is kept for the reverse pass, beside a convolution's pre-activation output and the gradient flowing
   * back (three floats per activation). TF.js's tensor accounting cannot see onnxruntime's buffers.
   */
  bytesPerExample: number;
}

/** Whether every node of `nodes` can be written out here. */
export function supportsGraph(nodes: readonly OptNode[]): boolean {
  return nodes.every((n) => n.op.kind !== 'layer' && (n.op.kind !== 'reshape' || n.op.shape.length === 2)) && nodes.length > 1;
}

/**
 * Write the forward graph and its vector-Jacobian product for a folded graph whose input has the
 * per-example shape `inputShape` (rank 1 or 3; for images [H, W, C], or [C, H, W] when `layout` is
 * 'nchw': an ONNX model's own input, which then needs no transpose). Undefined when the graph has a node this module does
 * not know (see {@link supportsGraph}).
 */
export function buildNativeGraphs(nodes: readonly OptNode[], inputShape: number[], layout: 'nhwc' | 'nchw' = 'nhwc'): NativeGraphs | undefined {
  if (!supportsGraph(nodes) || (inputShape.length !== 1 && inputShape.length !== 3)) return undefined;
  const nchw = layout === 'nchw' && inputShape.length === 3;
  const [c0, h0, w0] = inputShape as [number, number, number];
  const { shapes, pads } = layoutOf(nodes, nchw ? [h0, w0, c0] : inputShape);
  const out = shapes[nodes.length - 1] as number[];
  if (out.length !== 1) return undefined;
  const classes = out[0] as number;
  const encode = (withVjp: boolean): Uint8Array => {
    const b = new Builder();
    const saved = forwardPass(b, nodes, shapes, pads, withVjp, nchw);
    const outputs = [{ name: saved.logits, type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: classes }] } } } }];
    const inputs = [{ name: 'x', type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, ...inputShape.map((d) => ({ dimValue: d }))] } } } }];
    if (withVjp) {
      const perExample = (width: number) => ({ tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } } });
      inputs.push(
        { name: 'dy', type: perExample(classes) },
        { name: 'onehot', type: perExample(classes) },
        { name: 'target', type: perExample(classes) },
        ...OBJECTIVE_WEIGHTS.map((name) => ({ name, type: perExample(1) })),
      );
      const dx = reversePass(b, nodes, shapes, pads, saved.values, saved.folded, objectiveSeed(b, saved.logits, classes), nchw);
      outputs.push({ name: dx, type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, ...inputShape.map((d) => ({ dimValue: d }))] } } } });
    }
    const graph = { name: 'robust', node: b.nodes, initializer: b.initializers, input: inputs, output: outputs };
    return onnx.ModelProto.encode({ irVersion: 8, producerName: 'robust', graph, opsetImport: [{ domain: '', version: OPSET }] }).finish();
  };
  const activations = shapes.reduce((sum, s) => sum + s.reduce((a, d) => a * d, 1), 0);
  return { forward: encode(false), vjp: encode(true), classes, bytesPerExample: 3 * 4 * activations };
}

function activate(b: Builder, x: string, act: FusedActivation): string {
  if (act === 'relu') return b.one('Relu', [x]);
  if (act === 'relu6') return b.one('Clip', [x, b.scalar(0), b.scalar(6)]);
  return x;
}

/**
 * Zero paddings that can become the padding of the max pool reading them: the pool is their only reader
 * and their input is a relu or relu6 output, so a zero never beats a real value and the pool's own
 * padding (which no window maximum can come from) gives the same result. The gradient agrees too: where
 * a window is all zeros, the relu before it passes no gradient at 0 either way. Keras writes ResNet's
 * stem this way (ZeroPadding2D, then a 'valid' MaxPooling2D), and the separate Pad cost a tenth of the pass.
 */
function padsIntoPools(nodes: readonly OptNode[]): Set<number> {
  const readers = nodes.map(() => [] as number[]);
  nodes.forEach((n, i) => n.inputs.forEach((j) => readers[j]?.push(i)));
  const folded = new Set<number>();
  nodes.forEach((n, i) => {
    const src = nodes[n.inputs[0] ?? -1]?.op;
    const only = readers[i] ?? [];
    const nonNegative = src !== undefined && (src.kind === 'conv' || src.kind === 'dense' || src.kind === 'activation') && (src.activation === 'relu' || src.activation === 'relu6');
    const pool = nodes[only[0] as number]?.op;
    // onnxruntime refuses pool padding as large as the window; 'valid' pools only, so nothing adds to it.
    const fits = n.op.kind === 'pad' && pool?.kind === 'maxPool' && pool.padding === 'valid' && n.op.padding.every(([a, z], d) => Math.max(a, z) < (pool.pool[d] as number));
    if (fits && nonNegative && only.length === 1 && i !== nodes.length - 1) folded.add(i);
  });
  return folded;
}

function forwardPass(
  b: Builder,
  nodes: readonly OptNode[],
  shapes: number[][],
  padding: (Pads | undefined)[],
  withIndices: boolean,
  nchwInput: boolean,
): { logits: string; values: Saved[]; folded: Set<number> } {
  const values: Saved[] = [];
  const folded = padsIntoPools(nodes);
  nodes.forEach((node, i) => {
    const op = node.op;
    const ins = node.inputs.map((j) => (values[j] as Saved).output);
    const x = ins[0] as string;
    let output: string;
    let extra: string | undefined;
    let flipped = false;
    switch (op.kind) {
      case 'input':
        output = (shapes[0] as number[]).length === 3 && !nchwInput ? b.one('Transpose', ['x'], { perm: [0, 3, 1, 2] }) : 'x';
        break;
      case 'conv': {
        const [kh, kw, inC, mult] = op.filter.shape;
        const weights = op.depthwise
          ? b.floats(laidOut(op.filter, [2, 3, 0, 1]), [inC * mult, 1, kh, kw])
          : b.floats(laidOut(op.filter, [3, 2, 0, 1]), [mult, inC, kh, kw]);
        const bias = op.bias ? [b.floats(op.bias.dataSync(), [op.bias.shape[0]])] : [];
        const pads = padding[i] as Pads;
        // The reverse pass of a stride-1 convolution is itself a convolution (of dy, with the filter flipped
        // in space and its channel axes swapped), which onnxruntime runs on its blocked fast path; its
        // ConvTranspose goes through im2col and col2im, one group at a time for a depthwise filter.
        const flippedPads = [kh - 1 - pads[0], kw - 1 - pads[1], kh - 1 - pads[2], kw - 1 - pads[3]];
        if (withIndices && op.strides[0] === 1 && op.strides[1] === 1 && flippedPads.every((p) => p >= 0)) {
          const reversed = tf.reverse(op.filter, [0, 1]);
          extra = b.floats(laidOut(reversed, [2, 3, 0, 1]), [inC, mult, kh, kw]);
          reversed.dispose();
          flipped = true;
        } else {
          extra = weights;
        }
        const conv = b.one('Conv', [x, weights, ...bias], { kernel_shape: [kh, kw], strides: op.strides, pads, group: op.depthwise ? inC : 1 });
        output = activate(b, conv, op.activation);
        break;
      }
      case 'dense': {
        const [inF, outF] = op.kernel.shape;
        const weights = b.floats(op.kernel.dataSync(), [inF, outF]);
        extra = b.floats(laidOut(op.kernel, [1, 0]), [outF, inF]);
        const mm = b.one('MatMul', [x, weights]);
        output = activate(b, op.bias ? b.one('Add', [mm, b.floats(op.bias.dataSync(), [outF])]) : mm, op.activation);
        break;
      }
      case 'affine': {
        const c = op.scale.shape[0];
        const dims = (shapes[i] as number[]).length === 3 ? [1, c, 1, 1] : [1, c];
        extra = b.floats(op.scale.dataSync(), dims);
        output = b.one('Add', [b.one('Mul', [x, extra]), b.floats(op.shift.dataSync(), dims)]);
        break;
      }
      case 'activation': {
        const a = op.activation;
        output = a === 'softmax' ? b.one('Softmax', [x], { axis: -1 }) : a === 'sigmoid' ? b.one('Sigmoid', [x]) : a === 'tanh' ? b.one('Tanh', [x]) : activate(b, x, a);
        break;
      }
      case 'pad': {
        const [[t, bo], [l, r]] = op.padding;
        output = folded.has(i) ? x : b.one('Pad', [x, b.ints([0, 0, t, l, 0, 0, bo, r])]);
        break;
      }
      case 'add':
        output = b.one('Sum', ins);
        break;
      case 'leakyRelu':
        output = b.one('LeakyRelu', [x], { alpha: { float: op.alpha } });
        break;
      case 'concat':
        output = b.one('Concat', ins, { axis: 1 });
        break;
      case 'globalAvgPool': {
        const pooled = b.one('GlobalAveragePool', [x]);
        output = op.keepDims === true ? pooled : b.one('Flatten', [pooled], { axis: 1 });
        break;
      }
      case 'mul':
        output = b.one('Mul', ins);
        break;
      case 'hardSigmoid':
        output = b.one('HardSigmoid', [x], { alpha: { float: op.alpha }, beta: { float: op.beta } });
        break;
      case 'maxPool': {
        const pads: Pads = [...(padding[i] as Pads)];
        const before = nodes[node.inputs[0] ?? -1]?.op;
        if (folded.has(node.inputs[0] ?? -1) && before?.kind === 'pad') {
          const [[t, bo], [l, r]] = before.padding;
          pads[0] += t;
          pads[1] += l;
          pads[2] += bo;
          pads[3] += r;
        }
        const [y, indices] = b.op('MaxPool', [x], { kernel_shape: op.pool, strides: op.strides, pads }, withIndices ? 2 : 1);
        output = y as string;
        extra = indices;
        break;
      }
      case 'reshape':
        output = (shapes[node.inputs[0] ?? 0] as number[]).length === 3 ? b.one('Flatten', [b.one('Transpose', [x], { perm: [0, 2, 3, 1] })], { axis: 1 }) : x;
        break;
      case 'identity':
        output = x;
        break;
      case 'layer':
        throw new Error('a layer node cannot be written as ONNX');
    }
    values[i] = { input: ins, output, ...(extra !== undefined ? { extra } : {}), ...(flipped ? { flipped } : {}) };
  });
  return { logits: (values[nodes.length - 1] as Saved).output, values, folded };
}

/** The per-example weight inputs of the standard objectives, in the order `objectiveSeed` reads them. */
export const OBJECTIVE_WEIGHTS = ['ce', 'margin', 'dlr', 'dlrTargeted', 'cw', 'cwSign', 'kappa'] as const;

/** Classes the DLR objectives need (the targeted one reads the fourth largest logit). */
export const DLR_MIN_CLASSES = 4;

/**
 * The gradient the reverse pass starts from: dy + ce · ∂CE/∂z + margin · ∂margin/∂z + dlr · ∂DLR/∂z +
 * dlrTargeted · ∂DLR_T/∂z, row by row, for the logits z, the one-hot labels and the one-hot targets. The
 * gradients are those of `attacks/core/losses.ts`, op for op:
 * - the cross-entropy of the labelled class, in the form that stays exact for confident models:
 *   p_o for every other class o, and −Σ_{o≠y} p_o for the labelled one;
 * - the Carlini-Wagner margin max_{j≠y} z_j − z_y: 1 at every other class tied for the largest logit
 *   (as TF.js's max gradient spreads it), −1 at the labelled one;
 * - the Difference of Logits Ratio −N/D (Croce & Hein 2020), untargeted N = z_y − max_{j≠y} z_j,
 *   D = z_π1 − z_π3 + 1e-12, targeted N = z_y − z_t, D = z_π1 − (z_π3 + z_π4)/2 + 1e-12 (π sorts the
 *   logits, first index first among ties, as TopK does on both sides): −∂N/D + N·∂D/D². Only with at
 *   least {@link DLR_MIN_CLASSES} classes.
 * - Carlini-Wagner's c · max(−margin, −κ): the margin's gradient, weighed by cw = −c·s, where the margin
 *   s·(max_{j≠y} z_j − z_y) (s = cwSign, −1 when targeted) is at most κ (TF.js's maximum passes the
 *   gradient to its first operand on ties), zero beyond.
 * A targeted cross-entropy or margin passes −1 as its weight.
 */
function objectiveSeed(b: Builder, z: string, classes: number): string {
  const p = b.one('Softmax', [z], { axis: -1 });
  const notLabel = b.one('Sub', [b.scalar(1), 'onehot']);
  const others = b.one('Mul', [p, notLabel]);
  const gCe = b.one('Sub', [others, b.one('Mul', ['onehot', b.one('ReduceSum', [others, b.ints([1])], { keepdims: 1 })])]);
  const masked = b.one('Sub', [z, b.one('Mul', ['onehot', b.scalar(1e9)])]);
  const maxOther = b.one('ReduceMax', [masked], { axes: [1], keepdims: 1 });
  const topOther = b.one('Cast', [b.one('Equal', [masked, maxOther])], { to: FLOAT });
  const gMargin = b.one('Sub', [topOther, 'onehot']);
  const terms = ['dy', b.one('Mul', ['ce', gCe]), b.one('Mul', ['margin', gMargin])];
  const pickLabel = b.one('ReduceSum', [b.one('Mul', ['onehot', z]), b.ints([1])], { keepdims: 1 });
  const cwOpen = b.one('Cast', [b.one('LessOrEqual', [b.one('Mul', ['cwSign', b.one('Sub', [maxOther, pickLabel])]), 'kappa'])], { to: FLOAT });
  terms.push(b.one('Mul', [b.one('Mul', ['cw', cwOpen]), gMargin]));
  if (classes >= DLR_MIN_CLASSES) {
    const [values, indices] = b.op('TopK', [z, b.ints([4])], { axis: -1, largest: 1, sorted: 1 }, 2) as [string, string];
    const column = (t: string, k: number): string => b.one('Gather', [t, b.ints([k])], { axis: 1 });
    const rank = (k: number): string => b.one('OneHot', [b.one('Squeeze', [column(indices, k), b.ints([1])]), b.ints([classes]), b.floats([0, 1], [2])], { axis: -1 });
    const pick = (onehot: string): string => b.one('ReduceSum', [b.one('Mul', [onehot, z]), b.ints([1])], { keepdims: 1 });
    const zy = pick('onehot');
    // −∂N/D + N·∂D/D², with N, D [b, 1] and ∂N, ∂D [b, classes].
    const ratioGrad = (n: string, dn: string, d: string, dd: string): string =>
      b.one('Add', [b.one('Neg', [b.one('Div', [dn, d])]), b.one('Mul', [b.one('Div', [n, b.one('Mul', [d, d])]), dd])]);
    const eps = b.scalar(1e-12);
    const half = b.scalar(0.5);
    const v0 = column(values, 0);
    const v2 = column(values, 2);
    const untargeted = ratioGrad(
      b.one('Sub', [zy, maxOther]),
      b.one('Sub', ['onehot', topOther]),
      b.one('Add', [b.one('Sub', [v0, v2]), eps]),
      b.one('Sub', [rank(0), rank(2)]),
    );
    const targeted = ratioGrad(
      b.one('Sub', [zy, pick('target')]),
      b.one('Sub', ['onehot', 'target']),
      b.one('Add', [b.one('Sub', [v0, b.one('Mul', [b.one('Add', [v2, column(values, 3)]), half])]), eps]),
      b.one('Sub', [rank(0), b.one('Mul', [b.one('Add', [rank(2), rank(3)]), half])]),
    );
    terms.push(b.one('Mul', ['dlr', untargeted]), b.one('Mul', ['dlrTargeted', targeted]));
  }
  return b.one('Sum', terms);
}

/** dy masked by the derivative of `act`, read off the op's output y. */
function maskGrad(b: Builder, dy: string, y: string, act: FusedActivation): string {
  if (act === 'linear') return dy;
  const zero = b.scalar(0);
  const open = act === 'relu' ? b.one('Greater', [y, zero]) : b.one('And', [b.one('Greater', [y, zero]), b.one('Less', [y, b.scalar(6)])]);
  // A multiply by the mask as floats: onnxruntime's Where with a broadcast operand was a third of the whole pass.
  return b.one('Mul', [dy, b.one('Cast', [open], { to: FLOAT })]);
}

function reversePass(
  b: Builder,
  nodes: readonly OptNode[],
  shapes: number[][],
  padding: (Pads | undefined)[],
  values: Saved[],
  folded: Set<number>,
  seed: string,
  nchwInput: boolean,
): string {
  const grads: string[][] = nodes.map(() => []);
  grads[nodes.length - 1] = [seed];
  const gradOf = (i: number): string | undefined => {
    const g = grads[i] as string[];
    if (g.length === 0) return undefined;
    return g.length === 1 ? (g[0] as string) : b.one('Sum', g);
  };
  for (let i = nodes.length - 1; i >= 1; i--) {
    const node = nodes[i] as OptNode;
    const dy = gradOf(i);
    if (dy === undefined) continue;
    const v = values[i] as Saved;
    const x = v.input[0] as string;
    const inShape = shapes[node.inputs[0] ?? 0] as number[];
    const [h, w] = inShape as [number, number];
    const push = (dx: string, k = 0): void => {
      (grads[node.inputs[k] as number] as string[]).push(dx);
    };
    const op = node.op;
    switch (op.kind) {
      case 'conv': {
        const [kh, kw, inC] = op.filter.shape;
        const [oh, ow] = shapes[i] as [number, number];
        const pads = padding[i] as Pads;
        // The exact input size: the part of the input no window reached gets output padding.
        const outputPadding = [h - ((oh - 1) * op.strides[0] + kh - pads[0] - pads[2]), w - ((ow - 1) * op.strides[1] + kw - pads[1] - pads[3])];
        const g = maskGrad(b, dy, v.output, op.activation);
        const group = op.depthwise ? inC : 1;
        if (v.flipped === true) {
          push(b.one('Conv', [g, v.extra as string], { kernel_shape: [kh, kw], strides: [1, 1], pads: [kh - 1 - pads[0], kw - 1 - pads[1], kh - 1 - pads[2], kw - 1 - pads[3]], group }));
          break;
        }
        push(b.one('ConvTranspose', [g, v.extra as string], { kernel_shape: [kh, kw], strides: op.strides, pads, group, output_padding: outputPadding }));
        break;
      }
      case 'dense':
        push(b.one('MatMul', [maskGrad(b, dy, v.output, op.activation), v.extra as string]));
        break;
      case 'affine':
        push(b.one('Mul', [dy, v.extra as string]));
        break;
      case 'activation':
        if (op.activation === 'softmax') {
          const dot = b.one('ReduceSum', [b.one('Mul', [dy, v.output]), b.ints([1])], { keepdims: 1 });
          push(b.one('Mul', [v.output, b.one('Sub', [dy, dot])]));
        } else if (op.activation === 'sigmoid') {
          // σ' = y (1 − y), read off the output.
          push(b.one('Mul', [dy, b.one('Mul', [v.output, b.one('Sub', [b.scalar(1), v.output])])]));
        } else if (op.activation === 'tanh') {
          // tanh' = 1 − y².
          push(b.one('Mul', [dy, b.one('Sub', [b.scalar(1), b.one('Mul', [v.output, v.output])])]));
        } else {
          push(maskGrad(b, dy, v.output, op.activation));
        }
        break;
      case 'pad': {
        const [[t], [l]] = op.padding;
        if (folded.has(i)) {
          push(dy);
          break;
        }
        push(b.one('Slice', [dy, b.ints([t, l]), b.ints([t + h, l + w]), b.ints([2, 3])]));
        break;
      }
      case 'add':
        node.inputs.forEach((_, k) => push(dy, k));
        break;
      case 'leakyRelu': {
        // 1 where y > 0 (x > 0, for alpha ≥ 0), alpha elsewhere: mask · (1 − alpha) + alpha.
        const open = b.one('Cast', [b.one('Greater', [v.output, b.scalar(0)])], { to: FLOAT });
        push(b.one('Mul', [dy, b.one('Add', [b.one('Mul', [open, b.scalar(1 - op.alpha)]), b.scalar(op.alpha)])]));
        break;
      }
      case 'concat': {
        // Each input gets its own channels' slice of dy (axis 1: channels of NCHW maps, features of vectors).
        let at = 0;
        node.inputs.forEach((j, k) => {
          const t = shapes[j] ?? [];
          const width = t[t.length - 1] ?? 0;
          push(b.one('Slice', [dy, b.ints([at]), b.ints([at + width]), b.ints([1])]), k);
          at += width;
        });
        break;
      }
      case 'globalAvgPool': {
        const spread = op.keepDims === true ? dy : b.one('Unsqueeze', [dy, b.ints([2, 3])]);
        push(b.one('Expand', [b.one('Mul', [spread, b.scalar(1 / (h * w))]), b.one('Shape', [x])]));
        break;
      }
      case 'mul': {
        // d(a·b)/da = dy·b, summed over the spatial axes where a was a per-channel [1, 1, C] spread over a map.
        const out = shapes[i] as number[];
        node.inputs.forEach((j, k) => {
          const g = b.one('Mul', [dy, v.input[1 - k] as string]);
          const own = shapes[j] as number[];
          const spread = out.length === 3 && own.length === 3 && own[0] === 1 && own[1] === 1 && (out[0] as number) * (out[1] as number) > 1;
          push(spread ? b.one('ReduceSum', [g, b.ints([2, 3])], { keepdims: 1 }) : g, k);
        });
        break;
      }
      case 'hardSigmoid': {
        // alpha where 0 < y < 1 (the unclipped stretch), 0 where clipped.
        const open = b.one('And', [b.one('Greater', [v.output, b.scalar(0)]), b.one('Less', [v.output, b.scalar(1)])]);
        push(b.one('Mul', [dy, b.one('Mul', [b.one('Cast', [open], { to: FLOAT }), b.scalar(op.alpha)])]));
        break;
      }
      case 'maxPool': {
        // Each output's gradient goes to the input element its MaxPool index names (the first maximum).
        const flatX = b.one('Reshape', [x, b.ints([-1])]);
        const zeros = b.one('ConstantOfShape', [b.one('Shape', [flatX])]);
        const scattered = b.one('ScatterElements', [zeros, b.one('Reshape', [v.extra as string, b.ints([-1])]), b.one('Reshape', [dy, b.ints([-1])])], { axis: 0, reduction: 'add' });
        push(b.one('Reshape', [scattered, b.one('Shape', [x])]));
        break;
      }
      case 'reshape':
        push(inShape.length === 3 ? b.one('Transpose', [b.one('Reshape', [dy, b.ints([-1, ...inShape])])], { perm: [0, 3, 1, 2] }) : dy);
        break;
      case 'identity':
        push(dy);
        break;
      default:
        break;
    }
  }
  const dx = gradOf(0);
  if (dx === undefined) return b.one('Mul', ['x', b.scalar(0)]);
  return (shapes[0] as number[]).length === 3 && !nchwInput ? b.one('Transpose', [dx], { perm: [0, 2, 3, 1] }) : dx;
}
