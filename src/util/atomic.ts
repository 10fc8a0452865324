/**
 * Atomic writes: bytes go to a temporary file in the target's folder, then a rename puts it in place, so a
 * crash or a full disk never leaves a half-written file where a reader would take it for a whole one, and the
 * user's previous file survives any failure.
 *
 * What a path names decides how it is written, so nothing the user had is replaced by something else:
 * - `-` is standard output;
 * - a symlink is followed to its final target, and the target is replaced atomically (the link stays a link);
 * - a character device, FIFO or socket (`/dev/null`, a named pipe), or anything reached through `/proc` or
 *   `/dev/fd` (`/dev/stdout`), is written directly, without a rename: renaming onto it would replace the node;
 * - anything else is written to a temporary file beside it and renamed into place.
 *
 * A set of files (the reports of one run) is committed with a journal: once every temporary file is written,
 * a journal listing each temporary file and its target is written (atomically) beside the first target, then
 * the renames run, then the journal is removed. A kill -9 during the renames leaves the journal, and the next
 * write to the same folder finishes the renames it lists before anything else (roll forward), so the set is
 * never left mixed; a reader that finds a `.robust-commit.*.json` beside the reports knows a commit is under
 * way. Temporary files of runs that died are removed on the next run.
 */
import { randomUUID } from 'node:crypto';
import { lstat, mkdir, open, readFile, readdir, readlink, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';

/** Options of {@link writeFilesAtomic}. */
export interface AtomicWriteOptions {
  /** Where `-` writes; default process.stdout. */
  stdout?: (bytes: Uint8Array) => void | Promise<void>;
  /** Called after each target is renamed into place (crash-recovery tests kill the process here). */
  onRenamed?: (path: string) => void | Promise<void>;
}

/** How one path is written: to stdout, directly into a special file, or by rename onto a (resolved) target. */
export type WritePlan = { kind: 'stdout' } | { kind: 'direct'; path: string } | { kind: 'replace'; path: string };

/** Symlink hops followed before giving up, as the kernel's own limit (ELOOP). */
const MAX_LINKS = 40;
const TEMP = /^\..+\.(\d+)\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp$/;
const JOURNAL = /^\.robust-commit\.(\d+)\.[0-9a-f-]{36}\.json$/;

const throughProc = (p: string) => /^\/(proc|dev\/fd)\//.test(p);

/**
 * Decide how `path` is written (see the module comment). A dangling symlink resolves to the file it names, which
 * is then created.
 */
export async function planWrite(path: string): Promise<WritePlan> {
  if (path === '-') return { kind: 'stdout' };
  let current = resolve(path);
  for (let hops = 0; ; hops++) {
    if (throughProc(current)) return { kind: 'direct', path };
    const info = await lstat(current).catch(() => null);
    if (!info) return { kind: 'replace', path: current };
    if (!info.isSymbolicLink()) {
      if (info.isCharacterDevice() || info.isFIFO() || info.isSocket() || info.isBlockDevice()) return { kind: 'direct', path: current };
      // Found while planning, before any rename, so the other files of a set are not replaced either.
      if (info.isDirectory()) throw new InputError(`cannot write ${path}: it is a folder; choose a file path`);
      return { kind: 'replace', path: current };
    }
    if (hops >= MAX_LINKS) throw new InputError(`cannot write ${path}: more than ${MAX_LINKS} symbolic links in a row`);
    current = resolve(dirname(current), await readlink(current));
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Finish or clean up what runs killed mid-write left in `dir`: a commit journal's renames are completed (its
 * temporary files hold the whole new set), then temporary files of dead processes are removed. Files of live
 * processes are left alone, so concurrent runs do not disturb each other.
 * @returns the targets a journal completed and the temporary files removed.
 */
export async function recoverFolder(dir: string): Promise<{ completed: string[]; removed: string[] }> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const completed: string[] = [];
  const removed: string[] = [];
  for (const name of names) {
    const m = JOURNAL.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    const journal = join(dir, name);
    let entries: Array<{ temp: string; target: string }> = [];
    try {
      entries = JSON.parse(await readFile(journal, 'utf8')) as Array<{ temp: string; target: string }>;
    } catch {
      // A journal is itself written atomically, so an unreadable one was never committed: nothing to finish.
    }
    for (const e of entries) {
      if (await stat(e.temp).catch(() => null)) {
        await rename(e.temp, e.target);
        completed.push(e.target);
      }
    }
    await unlink(journal).catch(() => undefined);
  }
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = TEMP.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    await unlink(join(dir, name)).catch(() => undefined);
    removed.push(join(dir, name));
  }
  return { completed, removed };
}

function tempPath(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomUUID()}.tmp`);
}

async function writeInto(path: string, bytes: Uint8Array, flags: string, sync: boolean): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.writeFile(bytes);
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeTemp(target: string, bytes: Uint8Array): Promise<string> {
  const temp = tempPath(target);
  try {
    await writeInto(temp, bytes, 'wx', true);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  return temp;
}

/**
 * Write several files so that each target either keeps its old content or gets the whole new content, and the
 * set is never left mixed (see the module comment): all bytes go to temporary files beside their targets first,
 * and only when every one is written are they renamed into place under a journal. On any failure before the
 * renames the temporary files are removed and an InputError naming the path is thrown. Standard output (`-`)
 * and special files are written last, directly.
 */
export async function writeFilesAtomic(files: ReadonlyArray<{ path: string; bytes: Uint8Array }>, options: AtomicWriteOptions = {}): Promise<void> {
  const temps: string[] = [];
  let current = '';
  let journal: string | null = null;
  try {
    const plans: WritePlan[] = [];
    for (const file of files) {
      current = file.path;
      plans.push(await planWrite(file.path));
    }
    const replaced = files.flatMap((f, i) => {
      const plan = plans[i]!;
      return plan.kind === 'replace' ? [{ target: plan.path, bytes: f.bytes, shown: f.path }] : [];
    });
    const folders = [...new Set(replaced.map((r) => dirname(r.target)))];
    for (const dir of folders) {
      // Messages name the file the user asked for, not the folder it needs.
      current = replaced.find((r) => dirname(r.target) === dir)!.shown;
      await mkdir(dir, { recursive: true });
      await recoverFolder(dir);
    }
    for (const r of replaced) {
      current = r.shown;
      temps.push(await writeTemp(r.target, r.bytes));
    }
    if (replaced.length > 1) {
      const entries = replaced.map((r, i) => ({ temp: temps[i]!, target: r.target }));
      const dir = folders[0]!;
      current = dir;
      const name = join(dir, `.robust-commit.${process.pid}.${randomUUID()}.json`);
      const temp = await writeTemp(name, new TextEncoder().encode(JSON.stringify(entries)));
      await rename(temp, name);
      journal = name;
    }
    for (let i = 0; i < replaced.length; i++) {
      current = replaced[i]!.shown;
      await rename(temps[i]!, replaced[i]!.target);
      temps[i] = '';
      await options.onRenamed?.(replaced[i]!.target);
    }
    if (journal) await unlink(journal);
    journal = null;
    for (let i = 0; i < files.length; i++) {
      const plan = plans[i]!;
      current = files[i]!.path;
      if (plan.kind === 'stdout') await (options.stdout ?? ((b) => void process.stdout.write(b)))(files[i]!.bytes);
      else if (plan.kind === 'direct') await writeInto(plan.path, files[i]!.bytes, 'w', false);
    }
  } catch (err) {
    await Promise.all(temps.filter((t) => t !== '').map((t) => unlink(t).catch(() => undefined)));
    if (journal) await unlink(journal).catch(() => undefined);
    if (err instanceof InputError) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw new InputError(`cannot write ${current}: ${detail}; check that the folder is writable and has space`);
  }
}

/** Write one file atomically (see {@link writeFilesAtomic}); `-` writes to standard output. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  await writeFilesAtomic([{ path, bytes: typeof data === 'string' ? new TextEncoder().encode(data) : data }], options);
}
