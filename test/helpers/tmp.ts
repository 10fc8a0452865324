import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary root for one test file, handing out fresh sub-folders; `cleanup` removes it all. */
export function tempDirs(prefix: string): { fresh: () => string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  let count = 0;
  return {
    fresh: () => {
      const dir = join(root, `d${count++}`);
      mkdirSync(dir);
      return dir;
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
