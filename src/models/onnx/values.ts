/**
 * The values an ONNX graph passes between nodes while robust runs it, and the layout bookkeeping.
 *
 * ONNX (and PyTorch) images are NCHW; TF.js convolutions and pools want NHWC. Rather than transposing
 * around every conv, a 4-D tensor carries a tag saying it is held NHWC. Convs and pools produce
 * NHWC, elementwise ops and BatchNormalization keep whatever they are given, and any op that cares
 * about axis order asks for the NCHW view ({@link OpContext.tensor}), which transposes only then.
 * So a conv stack runs in NHWC with one transpose at its entry and one at its exit.
 */
import { tf } from '../../tf.js';
import type { AttributeValue, HostValue } from './proto.js';

/** A tensor flowing through the graph; `nhwc` says a 4-D tensor is held with channels last. */
export interface TensorValue {
  kind: 'tensor';
  t: tf.Tensor;
  nhwc: boolean;
}

/** Constants and shape arithmetic live on the host; everything that depends on the input is a tensor. */
export type Value = HostValue | TensorValue;

/** NCHW axis -> its position in the NHWC tensor. */
export const NHWC_POSITION = [0, 3, 1, 2] as const;
/** Permutations between the two layouts. */
export const TO_NHWC = [0, 2, 3, 1];
export const TO_NCHW = [0, 3, 1, 2];

/** A node of the graph as robust plans it (attributes decoded, empty input names kept for optional inputs). */
export interface GraphNode {
  name: string;
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, AttributeValue>;
}

/** What an op implementation may ask of the executor. */
export interface OpContext {
  /** The node's name (for errors) and the model's default-domain opset. */
  readonly node: string;
  readonly opset: number;
  readonly attrs: Map<string, AttributeValue>;
  /** The value as a tensor in ONNX's own (NCHW) layout; host constants are uploaded once and cached. */
  tensor(v: Value): tf.Tensor;
  /** The value as a 4-D NHWC tensor (for convs and pools). */
  nhwc(v: Value): tf.Tensor4D;
  /** A tensor derived from constants, built once per model (under `key`, scoped to this node) and kept. */
  cached(key: string, build: () => tf.Tensor): tf.Tensor;
  /** Raise an InputError about this node. */
  fail(why: string): Error;
}

/** How one ONNX op runs: on tensors (differentiable), and optionally on host constants. */
export interface OpDef {
  run(ctx: OpContext, inputs: (Value | undefined)[]): Value[];
  /**
   * Host evaluation when every input is a constant (folded at load time, or shape arithmetic at run time);
   * undefined when the host form does not cover these inputs, and the tensor form is used instead.
   */
  host?: (ctx: OpContext, inputs: (HostValue | undefined)[]) => HostValue[] | undefined;
  /** A reason this node cannot be translated, checked at load time (e.g. an unsupported mode). */
  check?: (ctx: OpContext) => string | undefined;
}

/** A tagged tensor. */
export function tensorOf(t: tf.Tensor, nhwc = false): TensorValue {
  return { kind: 'tensor', t, nhwc: nhwc && t.rank === 4 };
}

/** The value's shape in ONNX's (NCHW) terms, whichever layout holds it. */
export function logicalShape(v: Value): number[] {
  if (v.kind === 'host') return v.shape;
  return v.nhwc ? TO_NCHW.map((a) => v.t.shape[a] ?? 0) : v.t.shape;
}

/** Anything with decoded attributes: a node, or an op's context. */
export type Attributed = Pick<OpContext, 'attrs'>;

/** An integer attribute, with its default. */
export function intAttr(ctx: Attributed, name: string, fallback: number): number {
  const v = ctx.attrs.get(name);
  return typeof v === 'number' ? v : fallback;
}

/** A float attribute, with its default. */
export function floatAttr(ctx: Attributed, name: string, fallback: number): number {
  return intAttr(ctx, name, fallback);
}

/** An ints attribute, or undefined. */
export function intsAttr(ctx: Attributed, name: string): number[] | undefined {
  const v = ctx.attrs.get(name);
  return Array.isArray(v) ? v : undefined;
}

/** A string attribute, with its default. */
export function stringAttr(ctx: Attributed, name: string, fallback: string): string {
  const v = ctx.attrs.get(name);
  return typeof v === 'string' ? v : fallback;
}

/** A host input's values as numbers (for shapes, axes, pads, clip bounds), or undefined when absent. */
export function hostNumbers(ctx: OpContext, v: Value | undefined, what: string): number[] | undefined {
  if (v === undefined) return undefined;
  if (v.kind !== 'host') throw ctx.fail(`its ${what} is computed from the input; robust needs it to be a constant`);
  return Array.from(v.data);
}

/** An axis attribute made non-negative for a tensor of this rank. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/**
 * Two operands of an elementwise op in a common layout: if either is held NHWC the other joins it
 * (right-aligned to 4-D, as broadcasting would align it, then transposed); otherwise both are NCHW.
 */
export function aligned(ctx: OpContext, a: Value, b: Value): [tf.Tensor, tf.Tensor, boolean] {
  const isNhwc = (v: Value): boolean => v.kind === 'tensor' && v.nhwc;
  if (!isNhwc(a) && !isNhwc(b)) return [ctx.tensor(a), ctx.tensor(b), false];
  const toNhwc = (v: Value): tf.Tensor => {
    if (v.kind === 'tensor' && v.nhwc) return v.t;
    const t = ctx.tensor(v);
    if (t.rank > 4) throw ctx.fail('it broadcasts a rank > 4 tensor against an image');
    const four = t.rank === 4 ? t : tf.reshape(t, [...new Array<number>(4 - t.rank).fill(1), ...t.shape]);
    return tf.transpose(four, TO_NHWC);
  };
  return [toNhwc(a), toNhwc(b), true];
}
