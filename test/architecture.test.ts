import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// docs/ARCHITECTURE.md drifted once (it named a folder that did not exist); these checks tie it to the tree:
// every path it names exists, every folder of src/ has a row, and every stage of runSuite is in the diagram.
const doc = readFileSync('docs/ARCHITECTURE.md', 'utf8');
const ROOTS = /^(src|test|scripts|models|benchmarks|docs|schema|examples)\//;

/** Backticked repository paths (`src/…`, `test/…`, …), with globs such as `commands/*.ts` left out. */
function backtickedPaths(text: string): string[] {
  return [...text.matchAll(/`([^`\s]+)`/g)].map((m) => m[1] as string).filter((p) => ROOTS.test(p) && !p.includes('*'));
}

/** Paths in the data-flow diagram, written relative to src/ (e.g. `suite/evaluate.ts`). */
function diagramPaths(text: string): string[] {
  const diagram = /```\n([\s\S]*?)```/.exec(text)?.[1] ?? '';
  return [...diagram.matchAll(/\b([a-z]+(?:\/[A-Za-z]+)*\.(?:ts|mjs))\b/g)].map((m) => `src/${m[1] as string}`);
}

describe('docs/ARCHITECTURE.md matches the tree', () => {
  it('names only paths that exist', () => {
    const paths = [...new Set([...backtickedPaths(doc), ...diagramPaths(doc)])];
    expect(paths.length).toBeGreaterThan(40);
    expect(paths.filter((p) => !existsSync(p))).toEqual([]);
  });

  it('has a row for every folder of src/', () => {
    const folders = readdirSync('src', { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `src/${e.name}/`);
    expect(folders.filter((f) => !doc.includes(`\`${f}`))).toEqual([]);
  });

  it('shows every stage of runSuite in the diagram, in the order run.ts calls them', () => {
    const run = readFileSync(join('src', 'suite', 'run.ts'), 'utf8');
    const stages = readdirSync('src/suite/stages').filter((f) => f !== 'types.ts').map((f) => f.replace(/\.ts$/, ''));
    expect(stages.filter((s) => !run.includes(`${s}({`))).toEqual([]);
    const callOrder = [...stages].sort((a, b) => run.indexOf(`${a}({`) - run.indexOf(`${b}({`));
    const inDiagram = [...doc.matchAll(/^\s+\d ([A-Za-z]+) /gm)].map((m) => m[1]);
    expect(inDiagram).toEqual(callOrder);
  });
});
