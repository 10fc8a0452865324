/**
 * Output-path checks run before any work: no output may be an input of the run (the model's files, the data
 * files, the config), no two outputs may be one file, and every output must be writable, so a long evaluation
 * is never lost at the end to a path that could have been checked at the start. Paths are compared by their
 * real path (symlinks and `..` resolved), so `out/../model.json` and a link to the config are caught too.
 */
import { constants } from 'node:fs';
import { access, lstat, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';
import { planWrite } from './atomic.js';

/** A path with what it is, as a message names it, e.g. `{ label: '--json', path: 'out.json' }`. */
export interface NamedPath {
  label: string;
  path: string;
  /** An input folder (an image folder): every file under it is an input. */
  folder?: boolean;
}

/**
 * The real path `p` names: symlinks followed (a dangling link to the file it would create), and for a path
 * that does not exist yet, the real path of its deepest existing folder joined with the rest.
 */
export async function realPathOf(p: string, hops = 0): Promise<string> {
  if (p === '-') return p;
  const exact = await realpath(p).catch(() => null);
  if (exact) return exact;
  const info = await lstat(p).catch(() => null);
  if (info?.isSymbolicLink() && hops < 40) return realPathOf(resolve(dirname(p), await readlink(p)), hops + 1);
  const parent = dirname(resolve(p));
  if (parent === resolve(p)) return parent;
  return join(await realPathOf(parent, hops), basename(p));
}

const inside = (folder: string, file: string) => {
  const rel = relative(folder, file);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep);
};

/**
 * The files a model reads: the model file itself (model.json, or model.json inside a folder) and, for a TF.js
 * model, the weight shards its manifest lists. A file that cannot be parsed contributes only itself: loading
 * it reports the real problem later.
 */
export async function modelInputs(modelPath: string, label = 'the model'): Promise<NamedPath[]> {
  const info = await stat(modelPath).catch(() => null);
  const file = info?.isDirectory() ? join(modelPath, 'model.json') : modelPath;
  const out: NamedPath[] = [{ label, path: file }];
  if (!/\.json$/i.test(file)) return out;
  try {
    const doc = JSON.parse(await readFile(file, 'utf8')) as { weightsManifest?: Array<{ paths?: unknown[] }> };
    for (const group of doc.weightsManifest ?? []) {
      for (const p of group.paths ?? []) if (typeof p === 'string') out.push({ label: `${label}'s weights`, path: resolve(dirname(file), p) });
    }
  } catch {
    // Not readable or not JSON: the loader says so, with its own message.
  }
  return out;
}

/**
 * Check every output against every input and against the other outputs, and that each output can be written.
 * `-` (standard output) is never an input and may be named once.
 * @throws UsageError naming both paths of a clash, or the output and why it cannot be written.
 * @example await checkOutputs([{ label: '--json', path: 'r.json' }], [{ label: '--model', path: 'm/model.json' }]);
 */
export async function checkOutputs(outputs: readonly NamedPath[], inputs: readonly NamedPath[]): Promise<void> {
  const seen: Array<NamedPath & { real: string }> = [];
  const inputsReal = await Promise.all(inputs.map(async (i) => ({ ...i, real: await realPathOf(i.path) })));
  for (const out of outputs) {
    const real = await realPathOf(out.path);
    const twin = seen.find((s) => s.real === real);
    if (twin) {
      throw new UsageError(`${twin.label} (${twin.path}) and ${out.label} (${out.path}) are the same file; give each output its own path`);
    }
    seen.push({ ...out, real });
    if (real === '-') continue;
    for (const input of inputsReal) {
      if (input.real === real || (input.folder && inside(input.real, real))) {
        throw new UsageError(`${out.label} (${out.path}) would overwrite ${input.label} (${input.path}); write the output elsewhere`);
      }
    }
    await checkWritable(out);
  }
}

/** An output must not be a folder, and the folder it goes in (or its nearest existing parent) must be writable. */
async function checkWritable(out: NamedPath): Promise<void> {
  if (out.path === '-') return;
  const info = await stat(out.path).catch(() => null);
  if (info?.isDirectory()) throw new UsageError(`${out.label} (${out.path}) is a folder; give a file path`);
  const plan = await planWrite(out.path);
  if (plan.kind === 'stdout') return;
  if (plan.kind === 'direct') {
    if (!(await access(plan.path, constants.W_OK).then(() => true, () => false))) throw new UsageError(`${out.label} (${out.path}) is not writable`);
    return;
  }
  let folder = dirname(plan.path);
  for (;;) {
    const f = await stat(folder).catch(() => null);
    if (f) {
      if (!f.isDirectory()) throw new UsageError(`${out.label} (${out.path}): ${folder} is a file, not a folder`);
      break;
    }
    const up = dirname(folder);
    if (up === folder) break;
    folder = up;
  }
  if (!(await access(folder, constants.W_OK | constants.X_OK).then(() => true, () => false))) {
    throw new UsageError(`${out.label} (${out.path}): the folder ${folder} is not writable; choose another path`);
  }
}
