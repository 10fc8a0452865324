/**
 * Saving a TF.js model into a local folder, atomically: files are staged under temporary names and
 * renamed into place, with the `model.json` rename as the commit point. At every instant the folder
 * holds a loadable model (the old one or the new one), and if anything fails it is put back as it was.
 * The hash reported is the one `readModelFiles` computes (see `io.ts`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { copyFile, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, join, normalize, resolve } from 'node:path';
import { tf } from '../tf.js';
import { InputError, UsageError, errorMessage } from '../errors.js';
import { isRecord } from './core.js';

type ModelArtifacts = tf.io.ModelArtifacts;

/** What a save wrote; see {@link fileSaveHandler}. */
export interface SavedModelFiles {
  modelJsonPath: string;
  weightPaths: string[];
  sha256: string;
  totalBytes: number;
}

/** Options for {@link fileSaveHandler}. */
export interface SaveHandlerOptions {
  /** Merged into `userDefinedMetadata` (top-level keys replace the model's own). */
  userDefinedMetadata?: Record<string, object>;
  /**
   * Split the weights into shards of at most this many bytes, named `group1-shardIofN.bin`.
   * Default: one file, `weights.bin`.
   */
  maxShardBytes?: number;
}

/** The save handler, plus what its last successful save wrote. */
export interface FileSaveHandler extends tf.io.IOHandler {
  save: tf.io.SaveHandler;
  /** Set after a successful save. */
  lastSaved?: SavedModelFiles;
}

async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, fsConstants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms cannot fsync a directory; the renames are still atomic there.
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // Already gone, or never created.
  }
}

/** The shard paths an existing model.json refers to (normalised, so `./weights.bin` is `weights.bin`), or [] when it cannot be parsed. */
function referencedShards(jsonBytes: Buffer): string[] {
  try {
    const json: unknown = JSON.parse(jsonBytes.toString('utf8'));
    if (!isRecord(json) || !Array.isArray(json.weightsManifest)) return [];
    return json.weightsManifest.flatMap((g: unknown) =>
      isRecord(g) && Array.isArray(g.paths) ? g.paths.filter((p): p is string => typeof p === 'string').map((p) => normalize(p)) : [],
    );
  } catch {
    return [];
  }
}

function withRenamedShards(jsonBytes: Buffer, renames: Map<string, string>): Buffer {
  const json = JSON.parse(jsonBytes.toString('utf8')) as { weightsManifest: { paths: string[] }[] };
  for (const group of json.weightsManifest) group.paths = group.paths.map((p) => renames.get(normalize(p)) ?? p);
  return Buffer.from(JSON.stringify(json));
}

/**
 * Put `shards` and then `modelJson` into `dir` so that, at every instant, `dir/model.json` is either
 * the old model with its old weights or the new model with its new weights.
 *
 * Shards that would overwrite a file are first hard-linked (or copied) to a backup name; if the old
 * model.json refers to them, it is re-pointed at the backups before the new shards land. On any
 * error every backup is moved back and the files robust created are removed.
 */
async function commitModel(dir: string, modelJson: Buffer, shards: { name: string; bytes: Buffer }[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tag = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const jsonPath = join(dir, 'model.json');
  const staged = [...shards.map((s) => ({ ...s, final: join(dir, s.name) })), { name: 'model.json', bytes: modelJson, final: jsonPath }].map(
    (f) => ({ ...f, tmp: join(dir, `.${f.name}.robust-tmp-${tag}`) }),
  );
  // `replaced` matters on rollback: a backup is a hard link to the same file until the new shard lands,
  // and renaming a link onto itself is a no-op that would leave the backup behind.
  const backups: { final: string; backup: string; name: string; replaced: boolean }[] = [];
  const created: string[] = [];
  let oldJson: Buffer | undefined;
  let rewroteOldJson = false;
  try {
    for (const file of staged) {
      await writeSynced(file.tmp, file.bytes);
    }
    oldJson = await readFile(jsonPath).catch(() => undefined);
    for (const shard of staged.slice(0, -1)) {
      if (!(await exists(shard.final))) continue;
      const backup = join(dir, `.${shard.name}.robust-bak-${tag}`);
      try {
        await link(shard.final, backup);
      } catch {
        await copyFile(shard.final, backup, fsConstants.COPYFILE_EXCL);
      }
      backups.push({ final: shard.final, backup, name: shard.name, replaced: false });
    }
    if (oldJson !== undefined) {
      const referenced = new Set(referencedShards(oldJson));
      const renames = new Map(backups.filter((b) => referenced.has(b.name)).map((b) => [b.name, basename(b.backup)]));
      if (renames.size > 0) {
        const repointTmp = join(dir, `.model.json.robust-old-${tag}`);
        await writeSynced(repointTmp, withRenamedShards(oldJson, renames));
        await rename(repointTmp, jsonPath);
        rewroteOldJson = true;
      }
    }
    for (const shard of staged.slice(0, -1)) {
      const backup = backups.find((b) => b.final === shard.final);
      await rename(shard.tmp, shard.final);
      if (backup === undefined) created.push(shard.final);
      else backup.replaced = true;
    }
    const last = staged[staged.length - 1];
    if (last === undefined) throw new Error('nothing to write');
    await rename(last.tmp, last.final);
    await syncDir(dir);
  } catch (err) {
    for (const b of backups) {
      if (b.replaced) await rename(b.backup, b.final).catch(() => undefined);
      else await unlinkQuietly(b.backup);
    }
    for (const path of created) await unlinkQuietly(path);
    if (rewroteOldJson && oldJson !== undefined) {
      const restoreTmp = join(dir, `.model.json.robust-restore-${tag}`);
      await writeSynced(restoreTmp, oldJson)
        .then(() => rename(restoreTmp, jsonPath))
        .catch(() => undefined);
    }
    for (const file of staged) await unlinkQuietly(file.tmp);
    await unlinkQuietly(join(dir, `.model.json.robust-old-${tag}`));
    throw new InputError(`could not save the model to ${dir}: ${errorMessage(err)}; the folder was left as it was`);
  }
  for (const b of backups) await unlinkQuietly(b.backup);
}

/** model.json content for `artifacts`, mirroring TF.js's own (unexported) getModelJSONForModelArtifacts. */
function modelJsonFor(artifacts: ModelArtifacts, manifest: tf.io.WeightsManifestConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: manifest,
  };
  const optional = ['signature', 'userDefinedMetadata', 'modelInitializer', 'initializerSignature', 'trainingConfig'] as const;
  for (const key of optional) if (artifacts[key] != null) json[key] = artifacts[key];
  return json;
}

function weightBytes(data: tf.io.WeightData | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  const joined = Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
  return Buffer.from(joined);
}

/**
 * An IOHandler that saves a model into a local folder as `model.json` plus `weights.bin` (or
 * shards), atomically: see the module docs. Use with `model.save(fileSaveHandler(dir))`.
 *
 * @example
 * const handler = fileSaveHandler('models/mine', { userDefinedMetadata: { robust: { bounds: { min: 0, max: 1 } } } });
 * await model.save(handler);
 * console.log(handler.lastSaved?.sha256);
 */
export function fileSaveHandler(dir: string, options: SaveHandlerOptions = {}): FileSaveHandler {
  const maxShardBytes = options.maxShardBytes;
  if (maxShardBytes !== undefined && !(Number.isInteger(maxShardBytes) && maxShardBytes > 0)) {
    throw new UsageError(`maxShardBytes must be a positive integer, got ${maxShardBytes}`);
  }
  const handler: FileSaveHandler = {
    save: async (artifacts: ModelArtifacts): Promise<tf.io.SaveResult> => {
      if (!isRecord(artifacts.modelTopology)) {
        throw new UsageError('only JSON model topologies can be saved to a folder (this one is a binary GraphDef)');
      }
      const data = weightBytes(artifacts.weightData);
      const shards: { name: string; bytes: Buffer }[] = [];
      if (maxShardBytes === undefined || data.length <= maxShardBytes) {
        shards.push({ name: 'weights.bin', bytes: data });
      } else {
        const count = Math.ceil(data.length / maxShardBytes);
        for (let i = 0; i < count; i++) {
          shards.push({ name: `group1-shard${i + 1}of${count}.bin`, bytes: data.subarray(i * maxShardBytes, (i + 1) * maxShardBytes) });
        }
      }
      const manifest: tf.io.WeightsManifestConfig = [{ paths: shards.map((s) => s.name), weights: artifacts.weightSpecs ?? [] }];
      const modelJson = modelJsonFor(
        { ...artifacts, userDefinedMetadata: { ...(artifacts.userDefinedMetadata ?? {}), ...(options.userDefinedMetadata ?? {}) } },
        manifest,
      );
      const jsonBytes = Buffer.from(JSON.stringify(modelJson));
      const target = resolve(dir);
      await commitModel(target, jsonBytes, shards);
      const hash = createHash('sha256').update(jsonBytes);
      for (const s of shards) hash.update(s.bytes);
      handler.lastSaved = {
        modelJsonPath: join(target, 'model.json'),
        weightPaths: shards.map((s) => join(target, s.name)),
        sha256: hash.digest('hex'),
        totalBytes: jsonBytes.length + data.length,
      };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
  return handler;
}

