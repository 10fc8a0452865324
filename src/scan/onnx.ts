/**
 * ONNX models: a protobuf ModelProto, decoded with onnx-proto (no runtime is loaded). Checks that tensors
 * stored as external data stay in the model's folder, and that every node's operator domain is a standard
 * one, since any other needs a native custom-op library.
 */
import { dirname } from 'node:path';
import onnxProto from 'onnx-proto';
import type { ScanContext } from './context.js';
import { escapes } from './tfjs.js';

const { onnx } = onnxProto;

/** Operator domains that ONNX and onnxruntime ship. */
export const STANDARD_DOMAINS: ReadonlySet<string> = new Set(['', 'ai.onnx', 'ai.onnx.ml', 'ai.onnx.training', 'ai.onnx.preview.training', 'com.microsoft']);

/** Decode `bytes` as an ONNX model, or undefined when it is not one (no graph, no IR version). */
export function decodeOnnx(bytes: Uint8Array): InstanceType<typeof onnx.ModelProto> | undefined {
  if (bytes[0] !== 0x08) return undefined; // field 1 (ir_version) as a varint opens every ModelProto onnx writes
  try {
    const model = onnx.ModelProto.decode(bytes);
    return model.graph && Number(model.irVersion) > 0 ? model : undefined;
  } catch {
    return undefined;
  }
}

type Graph = InstanceType<typeof onnx.GraphProto>;
type Tensor = InstanceType<typeof onnx.TensorProto>;

/** Scan a decoded ONNX model stored at `path`. */
export function scanOnnx(path: string, model: InstanceType<typeof onnx.ModelProto>, ctx: ScanContext): void {
  const dir = dirname(path);
  const tensor = (t: Tensor, where: string): void => {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return;
    const location = t.externalData.find((e) => e.key === 'location')?.value ?? '';
    if (escapes(dir, location)) ctx.add('ONX001', { layer: where }, `tensor ${t.name} reads its data from ${JSON.stringify(location)}, outside the model folder`);
  };
  const graph = (g: Graph): void => {
    for (const t of g.initializer) tensor(t as Tensor, t.name ?? '');
    for (const node of g.node) {
      const domain = node.domain ?? '';
      if (!STANDARD_DOMAINS.has(domain)) ctx.add('ONX002', { layer: node.name || node.opType || '' }, `node ${node.name || '?'} runs ${node.opType} from custom domain ${domain}`);
      for (const a of node.attribute ?? []) {
        if (a.t) tensor(a.t as Tensor, node.name ?? '');
        if (a.g) graph(a.g as Graph);
        for (const sub of a.graphs ?? []) graph(sub as Graph);
      }
    }
  };
  graph(model.graph as Graph);
}
