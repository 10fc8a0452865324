/**
 * Wrapping a TF.js graph model (converted from a TF SavedModel or frozen graph): one float32 input,
 * one output, and a final Softmax (possibly behind Identity ops) skipped so that attacks see logits.
 */
import type * as tfc from '@tensorflow/tfjs-converter';
import type { tf } from '../tf.js';
import { UsageError } from '../errors.js';
import { isRecord, type Core, type LogitsMode } from './core.js';
import type { ErrorFactory } from './metadata.js';

interface GraphNode {
  name: string;
  op: string;
  input: string[];
}

function graphNodes(topology: unknown): Map<string, GraphNode> {
  const nodes = new Map<string, GraphNode>();
  if (!isRecord(topology) || !Array.isArray(topology.node)) return nodes;
  for (const node of topology.node) {
    if (!isRecord(node) || typeof node.name !== 'string' || typeof node.op !== 'string') continue;
    const input = Array.isArray(node.input) ? node.input.filter((i): i is string => typeof i === 'string') : [];
    nodes.set(node.name, { name: node.name, op: node.op, input });
  }
  return nodes;
}

/** The tensor feeding a final `op` (Softmax or Sigmoid, looking through Identity ops), if the output is one. */
function preActivationTensor(nodes: Map<string, GraphNode>, outputName: string, op: 'Softmax' | 'Sigmoid'): { found: boolean; logits?: string } {
  let node = nodes.get(outputName.replace(/:\d+$/, ''));
  for (let hops = 0; node !== undefined && hops < 16; hops++) {
    const first = node.input.find((i) => !i.startsWith('^'));
    if (node.op === op) return { found: true, logits: first };
    if (node.op !== 'Identity' || first === undefined) break;
    node = nodes.get(first.replace(/:\d+$/, ''));
  }
  return { found: false };
}

/**
 * Wrap a graph model: `execute` on its single input, to the pre-softmax tensor when `mode` allows.
 * `ownsModel` decides whether `dispose` frees the weights; `fail` raises errors about the model.
 */
export function graphCore(model: tfc.GraphModel, topology: unknown, mode: LogitsMode, ownsModel: boolean, fail: ErrorFactory): Core {
  const inputs = model.inputs;
  const outputs = model.outputNodes;
  if (inputs.length !== 1 || outputs.length !== 1) {
    throw fail(`robust needs a graph model with one input and one output; this one has ${inputs.length} and ${outputs.length}`);
  }
  const input = inputs[0];
  const outputName = outputs[0] ?? '';
  if (input?.dtype !== undefined && input.dtype !== 'float32') {
    throw fail(`the graph model's input ${input.name} has dtype ${input.dtype}; robust attacks need a float32 input`);
  }
  const nodes = graphNodes(topology);
  const { found: softmax, logits } = preActivationTensor(nodes, outputName, 'Softmax');
  const preSigmoid = preActivationTensor(nodes, outputName, 'Sigmoid');
  const strip = mode !== 'as-is' && softmax && logits !== undefined;
  if (mode === 'strip-softmax' && !strip) {
    throw new UsageError("logits: strip-softmax was asked for, but the graph's output is not a Softmax op; use logits: auto");
  }
  const target = strip && logits !== undefined ? logits : outputName;
  return {
    format: 'graph-model',
    forward: (x) => model.execute(x, target) as tf.Tensor,
    ...(preSigmoid.found
      ? { sigmoid: preSigmoid.logits === undefined ? {} : { logits: (x: tf.Tensor) => model.execute(x, preSigmoid.logits) as tf.Tensor } }
      : {}),
    declaredInputShape: input?.shape?.slice(1).map((d) => (d < 0 ? null : d)),
    outputsProbabilities: softmax && !strip,
    softmaxStripped: strip,
    metadata: model.metadata,
    dispose: ownsModel ? () => model.dispose() : () => undefined,
  };
}

/** The topology of an in-memory GraphModel; TF.js keeps its artifacts in a field it does not type. */
export function graphTopology(model: tfc.GraphModel): unknown {
  const artifacts: unknown = (model as unknown as { artifacts?: unknown }).artifacts;
  return isRecord(artifacts) ? artifacts.modelTopology : undefined;
}
