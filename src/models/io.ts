/**
 * Reading and writing TF.js model files on the local disk, without `@tensorflow/tfjs-node`
 * (which is what normally provides the `file://` handler).
 *
 * Loading is defensive because model folders come from users and CI artefacts: every shard must
 * live inside the model's folder (no `../`, no absolute paths, no symlinks that resolve outside),
 * and the shard bytes must add up exactly to what the manifest's weight specs need, so a truncated
 * download is a one-line {@link InputError} rather than garbage weights.
 *
 * Saving (atomic, in `write.ts`) is re-exported from here so that both handlers have one home.
 *
 * The model hash ({@link ModelFiles.sha256}) is SHA-256 over the exact bytes of `model.json` as
 * stored on disk, followed immediately (no separators) by the bytes of every weight shard in
 * manifest order: groups in the order of `weightsManifest`, and within a group the order of its
 * `paths`. It is therefore the hash of `cat model.json shard1 shard2 ...`.
 */
import { createHash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { tf } from '../tf.js';
import { InputError, errorMessage } from '../errors.js';
import { isRecord } from './core.js';

export { fileSaveHandler, type FileSaveHandler, type SaveHandlerOptions, type SavedModelFiles } from './write.js';

type ModelArtifacts = tf.io.ModelArtifacts;
type WeightsManifestEntry = tf.io.WeightsManifestEntry;
type WeightsManifestGroupConfig = tf.io.WeightsManifestConfig[number];

/** The two model.json flavours TF.js writes. */
export type ModelFormat = 'layers-model' | 'graph-model';

/** A model read from disk: artifacts ready for TF.js plus what robust reports about the files. */
export interface ModelFiles {
  /** Absolute path of the model.json that was read. */
  modelJsonPath: string;
  /** Absolute paths of the weight shards, in manifest order. */
  weightPaths: string[];
  /** Layers or graph model, from `format` or, when absent, from the topology's shape. */
  format: ModelFormat;
  /** SHA-256 (hex) of model.json followed by its shards in manifest order (see the module docs). */
  sha256: string;
  /** model.json bytes plus all shard bytes. */
  totalBytes: number;
  /** What `tf.loadLayersModel` / `loadGraphModel` expect from an IOHandler. */
  artifacts: ModelArtifacts;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
const QUANTIZED_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

function errno(err: unknown): string | undefined {
  return isRecord(err) && typeof err.code === 'string' ? err.code : undefined;
}

/** Resolve a path given by the user to the model.json it means (the file, or `<folder>/model.json`). */
export async function resolveModelJson(path: string): Promise<string> {
  const absolute = resolve(path);
  let info;
  try {
    info = await stat(absolute);
  } catch (err) {
    if (errno(err) === 'ENOENT') throw new InputError(`no model at ${path}: give a model.json file or a folder that holds one`);
    throw new InputError(`cannot read ${path}: ${errorMessage(err)}`);
  }
  if (!info.isDirectory()) return absolute;
  const inside = join(absolute, 'model.json');
  try {
    await stat(inside);
  } catch {
    throw new InputError(`folder ${path} has no model.json: give the path of a TF.js model.json or its folder`);
  }
  return inside;
}

function validateSpec(spec: unknown, where: string): WeightsManifestEntry {
  if (!isRecord(spec) || typeof spec.name !== 'string' || !Array.isArray(spec.shape) || typeof spec.dtype !== 'string') {
    throw new InputError(`${where}: every weight spec needs a name, shape and dtype; the file is not a valid TF.js model.json`);
  }
  if (!spec.shape.every((d): d is number => Number.isInteger(d) && (d as number) >= 0)) {
    throw new InputError(`${where}: weight ${spec.name} has shape ${JSON.stringify(spec.shape)}; dimensions must be non-negative integers`);
  }
  if (spec.dtype !== 'string' && DTYPE_BYTES[spec.dtype] === undefined) {
    throw new InputError(`${where}: weight ${spec.name} has unsupported dtype ${spec.dtype}`);
  }
  if (spec.quantization !== undefined) {
    const q = spec.quantization;
    if (!isRecord(q) || typeof q.dtype !== 'string' || QUANTIZED_BYTES[q.dtype] === undefined) {
      throw new InputError(`${where}: weight ${spec.name} has an unknown quantization; expected uint8, uint16 or float16`);
    }
    if (spec.dtype === 'string') throw new InputError(`${where}: weight ${spec.name} is a quantized string, which TF.js cannot decode`);
  }
  return spec as unknown as WeightsManifestEntry;
}

function validateManifest(manifest: unknown, where: string): WeightsManifestGroupConfig[] {
  if (!Array.isArray(manifest)) {
    throw new InputError(`${where} has no weightsManifest array; is it a TF.js model.json (not a Keras .h5 or SavedModel)?`);
  }
  return manifest.map((group, g) => {
    if (!isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new InputError(`${where}: weightsManifest[${g}] needs "paths" and "weights" arrays`);
    }
    if (!group.paths.every((p): p is string => typeof p === 'string' && p.length > 0)) {
      throw new InputError(`${where}: weightsManifest[${g}].paths must be non-empty strings`);
    }
    return { paths: group.paths, weights: group.weights.map((s) => validateSpec(s, where)) };
  });
}

/**
 * Bytes the specs of one group occupy. Strings are length-prefixed (uint32 little-endian, then
 * UTF-8 bytes, as TF.js encodes them), so their size is read from the data itself; `undefined`
 * when the data ends inside a string, which the caller reports as truncation.
 */
function expectedGroupBytes(specs: WeightsManifestEntry[], data: Buffer): number | undefined {
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.dtype === 'string') {
      for (let i = 0; i < count; i++) {
        if (offset + 4 > data.length) return undefined;
        offset += 4 + data.readUInt32LE(offset);
      }
    } else {
      const per = spec.quantization !== undefined ? QUANTIZED_BYTES[spec.quantization.dtype] : DTYPE_BYTES[spec.dtype];
      offset += count * (per ?? 0);
    }
  }
  return offset;
}

/** The most values one tensor can hold (a TypedArray's length limit); a larger shape is a corrupt manifest. */
const MAX_TENSOR_VALUES = 2 ** 31 - 1;

/** Refuse a weight shape no tensor can have (e.g. [1e9, 1e9]) before it is mistaken for a truncated file. */
function checkShapes(specs: WeightsManifestEntry[], jsonName: string): void {
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    if (!spec.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || count > MAX_TENSOR_VALUES) {
      throw new InputError(
        `weight "${spec.name}" in ${jsonName} has shape [${spec.shape.join(', ')}] (${count.toPrecision(3)} values), more than a tensor can hold; the manifest is corrupt, re-export the model`,
      );
    }
  }
}

/**
 * Refuse NaN or Inf float32 weights, naming the first: such a model still predicts (a constant class, say), and
 * every number measured on it would be meaningless.
 */
function checkFiniteWeights(specs: WeightsManifestEntry[], data: Buffer, jsonName: string): void {
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.dtype === 'string') {
      for (let i = 0; i < count; i++) offset += 4 + data.readUInt32LE(offset);
      continue;
    }
    const per = spec.quantization !== undefined ? QUANTIZED_BYTES[spec.quantization.dtype] : DTYPE_BYTES[spec.dtype];
    if (spec.dtype === 'float32' && spec.quantization === undefined) {
      for (let i = 0; i < count; i++) {
        const v = data.readFloatLE(offset + 4 * i);
        if (!Number.isFinite(v)) {
          throw new InputError(`weight "${spec.name}" in ${jsonName} holds ${v} at flat index ${i} of shape [${spec.shape.join(', ')}]; a model with NaN or Inf weights cannot be evaluated, retrain or re-export it`);
        }
      }
    }
    offset += count * (per ?? 0);
  }
}

/** Refuse shard paths that could read files outside the model's folder; return the real path. */
async function resolveShard(dir: string, realDir: string, shard: string, jsonName: string): Promise<string> {
  if (isAbsolute(shard) || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(shard) || shard.startsWith('\\')) {
    throw new InputError(`${jsonName} lists weight file "${shard}", an absolute path or URL; shards must be relative paths inside the model folder`);
  }
  const lexical = relative(dir, resolve(dir, shard));
  if (lexical === '' || lexical === '..' || lexical.startsWith(`..${sep}`) || isAbsolute(lexical)) {
    throw new InputError(`${jsonName} lists weight file "${shard}", which is outside the model folder ${dir}; refusing to read it`);
  }
  let real: string;
  try {
    real = await realpath(resolve(dir, shard));
  } catch (err) {
    if (errno(err) === 'ENOENT') {
      throw new InputError(`weight file ${shard} listed in ${jsonName} is missing from ${dir}; copy every shard next to model.json`);
    }
    throw new InputError(`cannot read weight file ${shard} listed in ${jsonName}: ${errorMessage(err)}`);
  }
  const inside = relative(realDir, real);
  if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw new InputError(`weight file ${shard} listed in ${jsonName} resolves to ${real}, outside the model folder; refusing to follow the link`);
  }
  return real;
}

function detectFormat(json: Record<string, unknown>, topology: Record<string, unknown>, where: string): ModelFormat {
  if (json.format === 'layers-model' || json.format === 'graph-model') return json.format;
  if (Array.isArray(topology.node)) return 'graph-model';
  if (typeof topology.class_name === 'string' || isRecord(topology.model_config)) return 'layers-model';
  throw new InputError(`${where}: cannot tell a Layers model from a graph model; set "format" to "layers-model" or "graph-model"`);
}

/**
 * Read a TF.js model (Layers or graph format) and its weight shards from a local folder.
 *
 * @param path a `model.json` file, or a folder that holds one.
 * @throws InputError when the file is missing or malformed, a shard is missing, escapes the folder
 *   or its byte count disagrees with the manifest.
 * @example
 * const files = await readModelFiles('models/mnist-cnn');
 * console.log(files.format, files.sha256);
 */
export async function readModelFiles(path: string): Promise<ModelFiles> {
  const modelJsonPath = await resolveModelJson(path);
  const dir = dirname(modelJsonPath);
  const jsonName = basename(modelJsonPath);
  let jsonBytes: Buffer;
  try {
    jsonBytes = await readFile(modelJsonPath);
  } catch (err) {
    throw new InputError(`cannot read ${modelJsonPath}: ${errorMessage(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(jsonBytes.toString('utf8'));
  } catch (err) {
    throw new InputError(`${modelJsonPath} is not valid JSON (${errorMessage(err)}); re-export the model with TF.js or tensorflowjs_converter`);
  }
  if (!isRecord(json)) throw new InputError(`${modelJsonPath} is not a TF.js model.json (expected a JSON object)`);
  if (!isRecord(json.modelTopology)) {
    throw new InputError(`${modelJsonPath} has no modelTopology; is it a TF.js model.json (not a weights-only manifest)?`);
  }
  const manifest = validateManifest(json.weightsManifest, modelJsonPath);
  const format = detectFormat(json, json.modelTopology, modelJsonPath);

  const realDir = await realpath(dir);
  const hash = createHash('sha256').update(jsonBytes);
  const seen = new Set<string>();
  const weightPaths: string[] = [];
  const groupData: Buffer[] = [];
  let totalBytes = jsonBytes.length;
  for (const group of manifest) {
    checkShapes(group.weights, jsonName);
    const parts: Buffer[] = [];
    const sizes: string[] = [];
    for (const shard of group.paths) {
      const real = await resolveShard(dir, realDir, shard, jsonName);
      if (seen.has(real)) throw new InputError(`${jsonName} lists weight file ${shard} twice; the manifest is corrupt`);
      seen.add(real);
      let bytes: Buffer;
      try {
        bytes = await readFile(real);
      } catch (err) {
        throw new InputError(`cannot read weight file ${shard} listed in ${jsonName}: ${errorMessage(err)}`);
      }
      hash.update(bytes);
      parts.push(bytes);
      sizes.push(`${shard} has ${bytes.length} bytes`);
      weightPaths.push(real);
      totalBytes += bytes.length;
    }
    const data = Buffer.concat(parts);
    const expected = expectedGroupBytes(group.weights, data);
    if (expected !== data.length) {
      const need = expected === undefined ? 'more bytes than that' : `${expected} bytes`;
      const verdict = expected === undefined || expected > data.length ? 'truncated' : 'longer than the manifest says';
      throw new InputError(
        `weight data ${verdict}: ${sizes.join(', ')}, but the weight specs in ${jsonName} need ${need}; re-copy the model files`,
      );
    }
    checkFiniteWeights(group.weights, data, jsonName);
    groupData.push(data);
  }

  const all = Buffer.concat(groupData);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const modelJson = json as unknown as tf.io.ModelJSON;
  const artifacts = tf.io.getModelArtifactsForJSONSync(modelJson, manifest.flatMap((g) => g.weights), weightData);
  return { modelJsonPath, weightPaths, format, sha256: hash.digest('hex'), totalBytes, artifacts };
}

/**
 * An IOHandler that loads a model from a local folder through {@link readModelFiles}, for use with
 * `tf.loadLayersModel(fileLoadHandler(path))` or `loadGraphModel(fileLoadHandler(path))`.
 */
export function fileLoadHandler(path: string): tf.io.IOHandler {
  return { load: async () => (await readModelFiles(path)).artifacts };
}

