/**
 * Loading an ONNX classifier (`loadModel('model.onnx')`): the graph is translated into TF.js ops, so
 * every gradient attack works on it. Models with ops robust cannot translate run black-box through
 * onnxruntime when it is installed (`runtime.ts`), or are refused with the full list of such ops.
 */
import { InputError, errorMessage } from '../../errors.js';
import type { tf } from '../../tf.js';
import type { Core, LogitsMode } from '../core.js';
import { UsageError } from '../../errors.js';
import { readOnnxFiles } from './files.js';
import { buildProgram, Executor, planNodes, type Program } from './program.js';
import { optGraphOfProgram } from './optGraph.js';
import { blackBoxCore } from './runtime.js';
import type { GraphNode } from './values.js';

/** What robust learnt about an ONNX model beyond the {@link Core}. */
export interface OnnxInfo {
  /** SHA-256 of the .onnx file followed by its external data files. */
  sha256: string;
  /** The model's default-domain opset. */
  opset: number;
  /** The op type producing the raw graph output (looking through Identity), e.g. `Softmax`, `Sigmoid`, `Gemm`. */
  lastOp: string;
  /** Set when robust could not translate the graph and runs it through onnxruntime: the ops it could not translate. */
  untranslated?: string[];
}

function producers(nodes: GraphNode[]): Map<string, GraphNode> {
  const map = new Map<string, GraphNode>();
  for (const n of nodes) for (const o of n.outputs) map.set(o, n);
  return map;
}

/** The node producing `name`, looking through Identity ops. */
function lastNode(nodes: GraphNode[], name: string): GraphNode | undefined {
  const by = producers(nodes);
  let node = by.get(name);
  for (let hops = 0; node?.op === 'Identity' && hops < 16; hops++) node = by.get(node.inputs[0] ?? '');
  return node;
}

/** Whether a Softmax normalises the class axis of a [batch, classes] output (every opset's default does). */
function softmaxOverClasses(node: GraphNode, opset: number): boolean {
  const axis = node.attrs.get('axis');
  if (axis === undefined) return true;
  return opset < 13 ? axis === 1 || axis === -1 : axis === -1 || axis === 1;
}

/** robust's bounds and normalisation may sit in the ONNX metadata_props under the key `robust`, as JSON. */
function robustMetadata(program: { metadataProps?: { key?: string | null; value?: string | null }[] | null }, where: string): unknown {
  const entry = (program.metadataProps ?? []).find((p) => p.key === 'robust');
  if (entry?.value === undefined || entry.value === null) return undefined;
  try {
    return { robust: JSON.parse(entry.value) as unknown };
  } catch (err) {
    throw new InputError(`${where}: metadata_props "robust" is not valid JSON (${errorMessage(err)})`);
  }
}

/**
 * Read an `.onnx` file and wrap it as a {@link Core}. A final Softmax is skipped according to `mode`,
 * as for Layers and graph models; BatchNormalization is folded into the conv or Gemm before it. With
 * `optimize`, the core can also build the attack-time graph the native engine runs (`optGraph.ts`).
 * @throws InputError for a malformed file, custom-domain ops, or untranslatable ops when onnxruntime is absent.
 */
export async function onnxCore(path: string, mode: LogitsMode, optimize = true): Promise<{ core: Core; info: OnnxInfo }> {
  const files = await readOnnxFiles(path);
  const { model } = files;
  const { nodes, problems } = planNodes(model, path);
  if (problems.customDomain.length > 0) {
    throw new InputError(
      `${path} uses ops from custom domains, which are code outside the ONNX standard that robust will not run: ${problems.customDomain.join(', ')}`,
    );
  }
  const metadata = robustMetadata(model, path);
  const lastOp = lastNode(nodes, model.graph?.output?.[0]?.name ?? '')?.op ?? '';
  if (problems.ops.length > 0) {
    const core = await blackBoxCore(files, problems.ops, metadata, lastOp);
    return { core, info: { sha256: files.sha256, opset: 0, lastOp, untranslated: problems.ops } };
  }
  const program = buildProgram(model, nodes, files.initializers, path);
  const last = lastNode(program.nodes, program.outputName);
  const isSoftmax = last?.op === 'Softmax' && softmaxOverClasses(last, program.opset);
  const strip = mode !== 'as-is' && isSoftmax;
  if (mode === 'strip-softmax' && !strip) {
    throw new UsageError("logits: strip-softmax was asked for, but the ONNX graph's output is not a Softmax over the classes; use logits: auto");
  }
  // The nodes are sorted, so the softmax's input is computed by the nodes before it.
  const target: Program =
    strip && last !== undefined ? { ...program, outputName: last.inputs[0] ?? program.outputName, nodes: program.nodes.slice(0, program.nodes.indexOf(last)) } : program;
  const executor = new Executor(target);
  // A final Sigmoid (a binary classifier): the forward pass up to its input, for robust's binary handling.
  const preSigmoidProgram: Program | undefined =
    last?.op === 'Sigmoid' ? { ...program, outputName: last.inputs[0] ?? program.outputName, nodes: program.nodes.slice(0, program.nodes.indexOf(last)) } : undefined;
  const preSigmoid = preSigmoidProgram !== undefined ? new Executor(preSigmoidProgram) : undefined;
  const core: Core = {
    format: 'onnx',
    forward: (x: tf.Tensor) => executor.run(x),
    // The native engine's graph of the same program (`optGraph.ts`), up to a final sigmoid's input when there
    // is one; the TF.js translation stays the fallback.
    ...(optimize ? { buildGraph: () => optGraphOfProgram(preSigmoidProgram ?? target), ...(preSigmoidProgram ? { graphBeforeSigmoid: true } : {}) } : {}),
    ...(preSigmoid !== undefined ? { sigmoid: { logits: (x: tf.Tensor) => preSigmoid.run(x) } } : {}),
    declaredInputShape: program.inputShape,
    outputsProbabilities: isSoftmax && !strip,
    softmaxStripped: strip,
    metadata,
    layout: program.inputShape.length === 3 ? 'nchw' : undefined,
    dispose: () => {
      executor.dispose();
      preSigmoid?.dispose();
    },
  };
  return { core, info: { sha256: files.sha256, opset: program.opset, lastOp } };
}
