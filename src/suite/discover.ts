/**
 * Finding the suite file when `--config` is not given, as vitest and eslint find theirs: look for
 * `robust.config.json`, `.yaml` or `.yml` in the working directory, then in each parent up to the repository
 * root (the first folder holding `.git`) or the file-system root.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** The names `robust test` looks for, in the order it reports them. */
export const CONFIG_NAMES = ['robust.config.json', 'robust.config.yaml', 'robust.config.yml'] as const;

/**
 * The suite file for a run started in `cwd`.
 * @throws UsageError when none is found, or when one folder holds more than one of the names (which one
 *   the user meant is not ours to guess).
 */
export function discoverConfig(cwd: string = process.cwd()): string {
  let dir = resolve(cwd);
  for (;;) {
    const found = CONFIG_NAMES.map((name) => join(dir, name)).filter((p) => existsSync(p));
    if (found.length > 1) throw new UsageError(`${found.join(' and ')} both exist; pass --config <file> to say which suite to run`);
    if (found.length === 1) return found[0]!;
    const parent = dirname(dir);
    if (existsSync(join(dir, '.git')) || parent === dir) break;
    dir = parent;
  }
  throw new UsageError(
    `no ${CONFIG_NAMES.join(', ')} in ${resolve(cwd)} or its parents up to the repository root; write one with robust init --model <model.json>, or pass --config <file>`,
  );
}
