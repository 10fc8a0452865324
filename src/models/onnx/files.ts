/**
 * Reading a `.onnx` file and its external data with the same safety rules as TF.js weight shards
 * (`../io.ts`): external files must be relative paths that stay inside the model's folder (also after
 * following links), and each tensor's byte range must lie within its file and match its shape exactly.
 *
 * The model hash is SHA-256 over the `.onnx` bytes followed by the bytes of every external file, each
 * once, in the order the initializers first name them.
 */
import { createHash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { InputError, errorMessage } from '../../errors.js';
import { resolveShard } from '../io.js';
import { decodeModel, rawByteLength, tensorValue, toNumber, type HostValue, type ModelProto, type TensorProto } from './proto.js';

/** An ONNX model read from disk. */
export interface OnnxFiles {
  /** Absolute path of the `.onnx` file. */
  path: string;
  /** The `.onnx` file's bytes (onnxruntime is given these for the black-box fallback). */
  bytes: Uint8Array;
  model: ModelProto;
  /** Initializer values by name, external data included. */
  initializers: Map<string, HostValue>;
  /** Absolute paths of the external data files, in hash order. */
  externalPaths: string[];
  sha256: string;
}

/** Whether bytes look like an ONNX ModelProto rather than JSON: protobuf field 1 (ir_version, varint) comes first. */
export function looksLikeOnnx(path: string, head: Uint8Array): boolean {
  return path.toLowerCase().endsWith('.onnx') || head[0] === 0x08;
}

function entry(t: TensorProto, key: string): string | undefined {
  return t.externalData?.find((e) => e.key === key)?.value ?? undefined;
}

/**
 * Read and decode an `.onnx` file, load its external data, and hash everything.
 * @throws InputError when the file is not ONNX, or external data is missing, outside the folder, or the wrong size.
 */
export async function readOnnxFiles(path: string): Promise<OnnxFiles> {
  const absolute = resolve(path);
  let bytes: Uint8Array;
  try {
    if ((await stat(absolute)).isDirectory()) throw new InputError(`${path} is a folder; give the .onnx file itself`);
    bytes = await readFile(absolute);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read ${path}: ${errorMessage(err)}`);
  }
  const model = decodeModel(bytes, path);
  const dir = dirname(absolute);
  const realDir = await realpath(dir);
  const name = basename(absolute);
  const hash = createHash('sha256').update(bytes);
  const files = new Map<string, Buffer>();
  const externalPaths: string[] = [];
  const initializers = new Map<string, HostValue>();
  for (const t of model.graph?.initializer ?? []) {
    const tname = t.name ?? '';
    let raw: Uint8Array | undefined;
    if (t.dataLocation === 1) {
      const location = entry(t, 'location');
      if (location === undefined) throw new InputError(`${path}: tensor ${tname} has external data without a location`);
      const real = await resolveShard(dir, realDir, location, name);
      let data = files.get(real);
      if (data === undefined) {
        try {
          data = await readFile(real);
        } catch (err) {
          throw new InputError(`cannot read external data ${location} of ${name}: ${errorMessage(err)}`);
        }
        files.set(real, data);
        externalPaths.push(real);
        hash.update(data);
      }
      const offset = Number(entry(t, 'offset') ?? 0);
      const need = rawByteLength(t.dataType ?? 0, (t.dims ?? []).map((d) => toNumber(d)));
      const length = Number(entry(t, 'length') ?? need);
      if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(length) || length !== need || offset + length > data.length) {
        throw new InputError(
          `${name}: tensor ${tname} wants bytes ${offset}..${offset + length} of ${location} (${data.length} bytes) and its shape needs ${need}; re-copy the model files`,
        );
      }
      raw = data.subarray(offset, offset + length);
    }
    initializers.set(tname, tensorValue(t, path, raw));
  }
  return { path: absolute, bytes, model, initializers, externalPaths, sha256: hash.digest('hex') };
}
