/**
 * Atomic writes: bytes go to a temporary file in the target's folder, then a rename puts it in place, so a
 * crash or a full disk never leaves a half-written file where a reader would take it for a whole one, and the
 * user's previous file survives any failure.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.js';

async function writeTemp(target: string, bytes: Uint8Array): Promise<string> {
  const dir = dirname(target);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomUUID()}.tmp`);
  const handle = await open(temp, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  return temp;
}

/**
 * Write several files so that each target either keeps its old content or gets the whole new content: all
 * bytes go to temporary files beside their targets first, and only when every one is written are they renamed
 * into place. On any failure the temporary files are removed and the error (an InputError naming the path) is
 * thrown.
 */
export async function writeFilesAtomic(files: ReadonlyArray<{ path: string; bytes: Uint8Array }>): Promise<void> {
  const temps: string[] = [];
  let current = '';
  try {
    for (const file of files) {
      current = file.path;
      temps.push(await writeTemp(file.path, file.bytes));
    }
    for (let i = 0; i < files.length; i++) {
      current = files[i]!.path;
      await rename(temps[i]!, files[i]!.path);
      temps[i] = '';
    }
  } catch (err) {
    await Promise.all(temps.filter((t) => t !== '').map((t) => unlink(t).catch(() => undefined)));
    const detail = err instanceof Error ? err.message : String(err);
    throw new InputError(`cannot write ${current}: ${detail}; check that the folder is writable and has space`);
  }
}

/** Write one file atomically (see {@link writeFilesAtomic}). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeFilesAtomic([{ path, bytes: typeof data === 'string' ? new TextEncoder().encode(data) : data }]);
}
