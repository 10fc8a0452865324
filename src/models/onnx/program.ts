/**
 * An ONNX graph as a TF.js function: checked against the op table, constants folded, BatchNorm folded
 * into convs, then run node by node in topological order (ONNX requires the node list to be sorted).
 */
import { tf } from '../../tf.js';
import { InputError } from '../../errors.js';
import { OPS } from './ops.js';
import { attributes, toNumber, type HostValue, type ModelProto } from './proto.js';
import { foldBatchNorms, fuseConvRelu } from './fold.js';
import { TO_NCHW, TO_NHWC, type GraphNode, type OpContext, type Value } from './values.js';

/** What robust found it cannot translate. */
export interface Untranslatable {
  /** One line per node, e.g. `NonMaxSuppression (node /nms)`. */
  ops: string[];
  /** Nodes outside the default ONNX domain (custom ops), listed the same way. */
  customDomain: string[];
}

/** The planned graph. */
export interface Program {
  opset: number;
  inputName: string;
  /** Per-example input shape (batch axis removed); null for symbolic dimensions. */
  inputShape: (number | null)[];
  /** The graph output, and the op type of the node that produces it (through Identity). */
  outputName: string;
  nodes: GraphNode[];
  consts: Map<string, HostValue>;
}

const DEFAULT_DOMAINS = new Set(['', 'ai.onnx']);

/** The default-domain opset of a model. */
export function opsetOf(model: ModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => DEFAULT_DOMAINS.has(o.domain ?? ''));
  return toNumber(entry?.version);
}

/** Parse the graph's nodes and find every node robust cannot translate (type or attributes). */
export function planNodes(model: ModelProto, where: string): { nodes: GraphNode[]; problems: Untranslatable } {
  const opset = opsetOf(model);
  const problems: Untranslatable = { ops: [], customDomain: [] };
  const nodes = (model.graph?.node ?? []).map((n, i): GraphNode => ({
    name: n.name || `#${i}`,
    op: n.opType ?? '',
    domain: n.domain ?? '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attrs: attributes(n, where),
  }));
  for (const n of nodes) {
    const label = `${n.op} (node ${n.name})`;
    if (!DEFAULT_DOMAINS.has(n.domain)) {
      problems.customDomain.push(`${n.domain}.${label}`);
      continue;
    }
    const op = OPS[n.op];
    const why = op === undefined ? undefined : op.check?.(contextFor(n, opset, new Map()));
    if (op === undefined) problems.ops.push(label);
    else if (why !== undefined) problems.ops.push(`${label}: ${why}`);
  }
  return { nodes, problems };
}

function contextFor(node: GraphNode, opset: number, cache: Map<string, tf.Tensor>, uploads?: WeakMap<HostValue, tf.Tensor>): OpContext {
  const fail = (why: string): Error => new InputError(`ONNX node ${node.name} (${node.op}): ${why}`);
  const ctx: OpContext = {
    node: node.name,
    opset,
    attrs: node.attrs,
    fail,
    tensor(v: Value): tf.Tensor {
      if (v.kind === 'tensor') return v.nhwc ? tf.transpose(v.t, TO_NCHW) : v.t;
      const make = (): tf.Tensor => (v.integer ? tf.tensor(Int32Array.from(v.data, clampInt32), v.shape, 'int32') : tf.tensor(v.data, v.shape, 'float32'));
      if (uploads === undefined) return make();
      let t = uploads.get(v);
      if (t === undefined) {
        t = tf.keep(make());
        uploads.set(v, t);
        cache.set(`upload:${cache.size}`, t);
      }
      return t;
    },
    nhwc(v: Value): tf.Tensor4D {
      if (v.kind === 'tensor' && v.nhwc) return v.t as tf.Tensor4D;
      const t = ctx.tensor(v);
      if (t.rank !== 4) throw fail(`robust translates 2-D convolutions and pools on [batch, channels, height, width] only; got rank ${t.rank}`);
      return tf.transpose(t, TO_NHWC) as tf.Tensor4D;
    },
    cached(key: string, build: () => tf.Tensor): tf.Tensor {
      const full = `${node.name}/${key}`;
      let t = cache.get(full);
      if (t === undefined) {
        t = tf.keep(tf.tidy(build));
        cache.set(full, t);
      }
      return t;
    },
  };
  return ctx;
}

function clampInt32(v: number): number {
  return Math.max(-2147483648, Math.min(2147483647, v));
}

/** Evaluate one node. Constants stay on the host when the op has a host form; otherwise TF.js computes and, if all inputs were constants, the result is read back. */
function evaluate(node: GraphNode, ctx: OpContext, inputs: (Value | undefined)[]): Value[] {
  const op = OPS[node.op];
  if (op === undefined) throw ctx.fail('robust does not translate this op');
  const allHost = inputs.every((v) => v === undefined || v.kind === 'host');
  if (allHost && op.host !== undefined) {
    const out = op.host(ctx, inputs as (HostValue | undefined)[]);
    if (out !== undefined) return out;
  }
  const out = op.run(ctx, inputs);
  if (!allHost || inputs.length === 0) return out;
  return out.map((v) => {
    if (v.kind === 'host') return v;
    const t = ctx.tensor(v);
    return { kind: 'host', data: t.dtype === 'int32' ? Float64Array.from(t.dataSync()) : Float32Array.from(t.dataSync()), shape: t.shape, integer: t.dtype === 'int32' };
  });
}

/**
 * The graph's one float input (name, per-example shape) and one output.
 * @throws InputError for several inputs or outputs, or a non-float input.
 */
export function graphSignature(model: ModelProto, initializers: Map<string, HostValue>, where: string): { inputName: string; inputShape: (number | null)[]; outputName: string } {
  const graph = model.graph;
  const inputs = (graph?.input ?? []).filter((i) => !initializers.has(i.name ?? ''));
  const outputs = graph?.output ?? [];
  if (inputs.length !== 1 || outputs.length !== 1) {
    throw new InputError(`${where}: robust needs an ONNX graph with one input and one output; this one has ${inputs.length} and ${outputs.length}`);
  }
  const input = inputs[0]!;
  const elem = input.type?.tensorType?.elemType ?? 1;
  if (elem !== 1) throw new InputError(`${where}: the graph input ${input.name ?? ''} has ONNX element type ${elem}; robust attacks need a float32 input`);
  const dims = (input.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue !== null && d.dimValue !== undefined && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : null));
  return { inputName: input.name ?? '', inputShape: dims.slice(1), outputName: outputs[0]!.name ?? '' };
}

/**
 * Build the program: fold every node whose inputs are all constants (initializers, Constant nodes, and
 * what follows from them), fold BatchNorms into convs, fuse Conv+Relu. The graph must have one float input
 * and one output.
 */
export function buildProgram(model: ModelProto, nodes: GraphNode[], initializers: Map<string, HostValue>, where: string): Program {
  const { inputName, inputShape, outputName } = graphSignature(model, initializers, where);
  const opset = opsetOf(model);
  const consts = new Map(initializers);
  const keep = new Set([outputName]);
  const cache = new Map<string, tf.Tensor>();
  const left: GraphNode[] = [];
  tf.tidy(() => {
    for (const node of nodes) {
      const values = node.inputs.map((name) => (name === '' ? undefined : consts.get(name)));
      if (node.op === 'Shape' || node.inputs.some((name, i) => name !== '' && values[i] === undefined)) {
        left.push(node);
        continue;
      }
      const out = evaluate(node, contextFor(node, opset, cache), values);
      if (out.some((v) => v.kind !== 'host')) throw new InputError(`${where}: node ${node.name} (${node.op}) of constants did not fold`);
      node.outputs.forEach((name, i) => consts.set(name, out[i] as HostValue));
    }
  });
  tf.dispose([...cache.values()]);
  const planned = fuseConvRelu(foldBatchNorms(left, consts, keep), keep);
  return { opset, inputName, inputShape, outputName, nodes: planned, consts };
}

/** Runs a program; owns the tensors it uploads and derives from the weights. */
export class Executor {
  private readonly cache = new Map<string, tf.Tensor>();
  private readonly uploads = new WeakMap<HostValue, tf.Tensor>();

  constructor(private readonly program: Program) {}

  /** The graph output for an input batch in the model's own layout; differentiable. */
  run(x: tf.Tensor): tf.Tensor {
    const { program } = this;
    const output = program.outputName;
    const env = new Map<string, Value>(program.consts);
    env.set(program.inputName, { kind: 'tensor', t: x, nhwc: false });
    for (const node of program.nodes) {
      const ctx = contextFor(node, program.opset, this.cache, this.uploads);
      const values = node.inputs.map((name) => (name === '' ? undefined : env.get(name)));
      const out = evaluate(node, ctx, values);
      node.outputs.forEach((name, i) => {
        const v = out[i];
        if (v !== undefined) env.set(name, v);
      });
    }
    const result = env.get(output);
    if (result === undefined) throw new InputError(`the ONNX graph never computes ${output}`);
    const ctx = contextFor({ name: output, op: 'output', domain: '', inputs: [], outputs: [], attrs: new Map() }, program.opset, this.cache, this.uploads);
    const t = ctx.tensor(result);
    return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
  }

  dispose(): void {
    tf.dispose([...this.cache.values()]);
    this.cache.clear();
  }
}
