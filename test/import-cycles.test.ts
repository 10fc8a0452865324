import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

// "Modules never import each other in a cycle" (developers' guide): a cycle makes load order decide
// whether a value is defined yet, and ties modules that should be layered. This parses every import and
// re-export of src/ (type-only ones too: they tie the modules' meaning together just the same) and looks
// for a cycle by depth-first search, so one cannot come back unnoticed.

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []));
}

/** The src files `file` imports (relative specifiers only; packages are outside the graph). */
export function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\s[^'";]*?\sfrom\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] as string);
  return specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')))
    .map((p) => (existsSync(p) ? p : existsSync(join(p, 'index.ts')) ? join(p, 'index.ts') : p))
    .filter((p) => existsSync(p));
}

/** Every cycle found by a depth-first search, each as the list of files around it. */
function cycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 'open') found.push([...stack.slice(stack.indexOf(g)), g]);
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return found;
}

describe('src/ has no import cycles', () => {
  const files = sourceFiles(resolve('src'));
  it('the parser sees the imports it must (a check that the check works)', () => {
    const registry = importsOf(resolve('src/attacks/registry.ts')).map((p) => relative(resolve('src'), p));
    expect(registry).toContain('attacks/pgd.ts');
    expect(registry).toContain('attacks/core/types.ts');
    expect(cycles([resolve('src/attacks/pgd.ts')]).length).toBe(0);
    expect(files.length).toBeGreaterThan(100);
  });
  it('src/tensor is a leaf: it imports nothing of robust but tf.ts and errors.ts', () => {
    const outside = files
      .filter((f) => relative(resolve('src'), f).startsWith('tensor/'))
      .flatMap((f) => importsOf(f).map((g) => relative(resolve('src'), g)))
      .filter((g) => !g.startsWith('tensor/') && g !== 'tf.ts' && g !== 'errors.ts');
    expect(outside).toEqual([]);
  });
  it('no module imports itself back through others', () => {
    const named = cycles(files).map((c) => c.map((f) => relative(resolve('src'), f)).join(' -> '));
    expect(named).toEqual([]);
  });
});
