/**
 * TF.js `model.json`: the topology (a Keras config for layers models, a GraphDef for graph models) and a
 * weights manifest of shard files beside it. Checks that shard paths stay in the folder, that the shards
 * exist and hold exactly the bytes the manifest declares, that layer classes are built in, and that float
 * weights are finite.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { ScanContext } from './context.js';
import { scanKerasConfig } from './keras.js';

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}
interface ManifestGroup {
  paths: string[];
  weights: WeightSpec[];
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/** Whether parsed JSON is a TF.js model.json. */
export function isTfjsModel(json: unknown): boolean {
  return typeof json === 'object' && json !== null && ('weightsManifest' in json || ('modelTopology' in json && 'format' in json));
}

/** Whether `path` (relative to `dir`) leaves `dir`. */
export function escapes(dir: string, path: string): boolean {
  if (isAbsolute(path) || /^[a-zA-Z]:[\\/]/.test(path) || path.includes('\0')) return true;
  const rel = relative(dir, resolve(dir, path));
  return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

/** Scan a TF.js model.json at `path` with its parsed `json`. */
export async function scanTfjs(path: string, json: Record<string, unknown>, ctx: ScanContext): Promise<void> {
  const dir = dirname(path);
  const topology = json.modelTopology;
  if (typeof topology === 'object' && topology !== null && !('node' in topology)) scanKerasConfig(topology, ctx, 'TFJ003');
  const manifest = json.weightsManifest;
  if (manifest === undefined) return;
  if (!Array.isArray(manifest)) {
    ctx.add('TFJ005', {}, 'weightsManifest is not an array');
    return;
  }
  for (const group of manifest as ManifestGroup[]) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group.weights)) {
      ctx.add('TFJ005', {}, 'a weightsManifest group lacks paths or weights');
      continue;
    }
    const shards: Uint8Array[] = [];
    let complete = true;
    for (const shard of group.paths) {
      if (typeof shard !== 'string' || escapes(dir, shard)) {
        ctx.add('TFJ001', {}, `weight shard path ${JSON.stringify(shard)} leaves the model folder`);
        complete = false;
        continue;
      }
      try {
        shards.push(await readFile(resolve(dir, shard)));
      } catch {
        ctx.add('TFJ002', {}, `weight shard ${shard} is missing`);
        complete = false;
      }
    }
    if (!complete) continue;
    const data = Buffer.concat(shards);
    let offset = 0;
    const floats: Array<{ name: string; offset: number; count: number }> = [];
    for (const w of group.weights) {
      const count = (w.shape ?? []).reduce((a, d) => a * d, 1);
      const dtype = w.quantization?.dtype ?? w.dtype;
      if (dtype === 'float32') floats.push({ name: w.name, offset, count });
      offset += count * (DTYPE_BYTES[dtype] ?? NaN);
    }
    if (offset !== data.length) {
      ctx.add('TFJ002', {}, `shards ${group.paths.join(', ')} hold ${data.length} bytes but the manifest declares ${offset}`);
      continue;
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (const f of floats) {
      for (let i = 0; i < f.count; i++) {
        if (!Number.isFinite(view.getFloat32(f.offset + 4 * i, true))) {
          ctx.add('TFJ004', { layer: f.name }, `weight ${f.name} has a NaN or infinite value at index ${i}`);
          break;
        }
      }
    }
  }
}
