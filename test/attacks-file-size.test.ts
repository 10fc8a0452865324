import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

// Issue 18: "no file in src/attacks/ (the harness included) exceeds about 250 lines". An attack file should
// read like its paper (STYLE.md: roughly 60-200 lines); machinery that outgrows that belongs in a helper
// split along a real seam (core/, or the attack's own folder), not in one long file. This keeps it true.

const ROOT = join(import.meta.dirname, '..', 'src', 'attacks');
const LIMIT = 260;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('src/attacks file sizes', () => {
  const files = sourceFiles(ROOT);

  it('finds the attack sources, the harness and the per-attack folders among them', () => {
    const names = files.map((f) => relative(ROOT, f));
    expect(names).toEqual(expect.arrayContaining(['pgd.ts', 'apgd.ts', 'square.ts', 'run.ts', 'autoattack.ts', join('core', 'harness.ts'), join('apgd', 'schedule.ts')]));
  });

  it(`keeps every file at ${LIMIT} lines or fewer`, () => {
    const long = files
      .map((f) => ({ file: relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > LIMIT);
    expect(long).toEqual([]);
  });
});
