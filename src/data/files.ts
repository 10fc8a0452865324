/**
 * File access for the data layer: reads that turn "no such file" into an InputError naming the path.
 * Writes go through src/util/atomic.ts.
 */
import { readFile, stat } from 'node:fs/promises';
import { InputError } from '../errors.js';

/** True when this machine stores numbers little-endian, as `.npy` files (as robust writes them) and hashes do. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function codeOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * Read a whole file, or throw an InputError that names the path and what to do.
 * @param what a few words for the message, e.g. "labels CSV".
 */
export async function readInputFile(path: string, what = 'file'): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT') throw new InputError(`${what} not found: ${path}; check the path`);
    if (code === 'EISDIR') throw new InputError(`${what} ${path} is a directory; give the path of a file`);
    if (code === 'EACCES' || code === 'EPERM') throw new InputError(`cannot read ${what} ${path}: permission denied`);
    throw new InputError(`cannot read ${what} ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Throw an InputError unless `path` is an existing directory. */
export async function requireDirectory(path: string, what = 'directory'): Promise<void> {
  let isDir = false;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    if (codeOf(err) === 'ENOENT') throw new InputError(`${what} not found: ${path}; check the path`);
    throw new InputError(`cannot open ${what} ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isDir) throw new InputError(`${what} ${path} is not a directory; give the folder that holds the images`);
}

export { writeFilesAtomic } from '../util/atomic.js';
