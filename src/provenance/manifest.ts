/**
 * The provenance parts of a result's manifest that say where and how it was made: the host (OS, platform,
 * CPU count), the git commit of the working tree, a SHA-256 of each model file, and paths written relative
 * to the config so that a report never leaks the user's home folder.
 *
 * Nothing here needs a git binary: the commit is read from `.git/HEAD` and the refs (loose or packed) the way
 * git itself stores them, so a CI image without git still gets it, and any failure just means "no commit".
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { cpus, release, type as osType } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { readModelFiles } from '../models/io.js';
import { readOnnxFiles } from '../models/onnx/files.js';
import { formatDataSource, mapSourcePaths, type DataSource } from '../data/source.js';

/** The machine a result was computed on. */
export interface HostInfo {
  /** Operating system name and kernel release, e.g. "Linux 6.1.0". */
  os: string;
  /** Node's platform and architecture, e.g. "linux-x64". */
  platform: string;
  /** Logical CPUs. */
  cpus: number;
}

/** The git commit of a working tree; `ref` is the branch HEAD points at, null for a detached HEAD. */
export interface GitInfo {
  commit: string;
  ref: string | null;
}

/** One model file and its own SHA-256 (the model hash covers all of them together; see docs/report-schema.md). */
export interface ModelFileHash {
  /** Relative to the config's folder (or the working directory), with `/` separators. */
  path: string;
  sha256: string;
  bytes: number;
}

/** The host this process runs on. */
export function hostInfo(): HostInfo {
  return { os: `${osType()} ${release()}`, platform: `${process.platform}-${process.arch}`, cpus: cpus().length };
}

/**
 * `path` relative to `baseDir` with `/` separators, so reports read the same on every OS and never show the
 * user's home folder. A path on another drive (Windows) stays absolute, as nothing shorter names it.
 * @example relativeTo('/home/me/proj/models/m/model.json', '/home/me/proj') // "models/m/model.json"
 */
export function relativeTo(path: string, baseDir: string): string {
  const rel = relative(baseDir, resolve(baseDir, path));
  if (rel === '') return '.';
  if (isAbsolute(rel)) return rel;
  return rel.split(sep).join('/');
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** The folder holding HEAD for the working tree at or above `dir`, and the shared folder holding refs. */
function findGitDir(dir: string): { gitDir: string; commonDir: string } | null {
  let current = resolve(dir);
  for (;;) {
    const dotGit = join(current, '.git');
    if (existsSync(dotGit)) {
      let gitDir = dotGit;
      // A worktree or submodule has a file ".git" saying "gitdir: <path>".
      if (statSync(dotGit).isFile()) {
        const pointer = /^gitdir:\s*(.+)$/m.exec(readText(dotGit) ?? '')?.[1];
        if (pointer === undefined) return null;
        gitDir = resolve(current, pointer.trim());
      }
      const common = readText(join(gitDir, 'commondir'));
      return { gitDir, commonDir: common === null ? gitDir : resolve(gitDir, common) };
    }
    const parent = dirname(current);
    if (parent === current) return null;
    current = parent;
  }
}

function resolveRef(commonDir: string, gitDir: string, ref: string): string | null {
  for (const dir of [gitDir, commonDir]) {
    const loose = readText(join(dir, ...ref.split('/')));
    if (loose !== null && /^[0-9a-f]{40,64}$/.test(loose)) return loose;
  }
  const packed = readText(join(commonDir, 'packed-refs'));
  for (const line of packed?.split('\n') ?? []) {
    const [hash, name] = line.trim().split(/\s+/);
    if (name === ref && hash !== undefined && /^[0-9a-f]{40,64}$/.test(hash)) return hash;
  }
  return null;
}

/**
 * The commit checked out in the git working tree that contains `dir`, or null when there is none (or it
 * cannot be read). Reads `.git` directly: works for worktrees, packed refs and detached heads, without git.
 * @example gitInfo(process.cwd()) // { commit: 'ec8c770…', ref: 'refs/heads/main' }
 */
export function gitInfo(dir: string): GitInfo | null {
  try {
    const found = findGitDir(dir);
    if (found === null) return null;
    const head = readText(join(found.gitDir, 'HEAD'));
    if (head === null) return null;
    const symbolic = /^ref:\s*(.+)$/.exec(head)?.[1]?.trim();
    if (symbolic === undefined) return /^[0-9a-f]{40,64}$/.test(head) ? { commit: head, ref: null } : null;
    const commit = resolveRef(found.commonDir, found.gitDir, symbolic);
    return commit === null ? null : { commit, ref: symbolic };
  } catch {
    return null;
  }
}

async function hashFile(path: string, baseDir: string): Promise<ModelFileHash> {
  const bytes = await readFile(path);
  return { path: relativeTo(path, baseDir), sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
}

/**
 * A SHA-256 of each file of the model at `modelPath`: model.json, then its weight shards in manifest order
 * (the order the model hash concatenates them in); for an `.onnx` file, the file then its external data files.
 * A path that is not a TF.js or ONNX model (a single file in another
 * format) is hashed as that one file.
 */
export async function modelFileHashes(modelPath: string, baseDir: string): Promise<ModelFileHash[]> {
  let paths: string[];
  try {
    if (modelPath.toLowerCase().endsWith('.onnx')) {
      // An ONNX file and its external data, in the order the model hash reads them.
      const onnx = await readOnnxFiles(modelPath);
      const realDir = await realpath(dirname(onnx.path));
      paths = [onnx.path, ...onnx.externalPaths.map((w) => join(dirname(onnx.path), relative(realDir, w)))];
    } else {
      paths = await tfjsModelPaths(modelPath);
    }
  } catch {
    paths = [resolve(modelPath)];
  }
  const out: ModelFileHash[] = [];
  for (const p of paths) out.push(await hashFile(p, baseDir));
  return out;
}

/** model.json and its shards, shards named from model.json's folder. */
async function tfjsModelPaths(modelPath: string): Promise<string[]> {
  const files = await readModelFiles(modelPath);
  // Shards come back as real paths; name them from model.json's folder as the user sees it (symlinks kept).
  const dir = dirname(files.modelJsonPath);
  const realDir = await realpath(dir);
  return [files.modelJsonPath, ...files.weightPaths.map((w) => join(dir, relative(realDir, w)))];
}

/**
 * The canonical string of a data source with its file paths relative to `baseDir` (see {@link relativeTo}).
 * @example relativeSource({ kind: 'npy', x: '/p/x.npy', y: '/p/y.npy' }, '/p') // "npy:x.npy,y.npy"
 */
export function relativeSource(src: DataSource, baseDir: string): string {
  return formatDataSource(mapSourcePaths(src, (p) => relativeTo(p, baseDir)));
}
