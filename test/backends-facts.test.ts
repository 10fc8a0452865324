import { describe, expect, it, beforeAll } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../src/tf.js';
import { BACKEND_NAMES, WASM_BUDGET_BYTES, activeBackendFacts, backendFacts, mayUseThreads } from '../src/backends/index.js';
import { availableMemory, defaultMemoryBudget } from '../src/util/memory.js';
import { installedVersion } from '../src/version.js';
import { TEST_BACKENDS, activate } from './helpers/backends.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('only src/backends/ names backends', () => {
  it('no other module of src/ compares against or maps a backend name in code', () => {
    // Comments and TSDoc examples may name a backend; code must ask backendFacts instead.
    const names = BACKEND_NAMES.join('|');
    // A quoted name ('wasm', "tensorflow-gpu") or a bare object key (wasm: ...).
    const literal = new RegExp(`['"\`](${names})['"\`]|\\b(${names})\\s*:`);
    const offenders = sourceFiles('src')
      .filter((f) => !f.startsWith(join('src', 'backends')))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .replace(/\/\*[\s\S]*?\*\//g, '')
          .split('\n')
          .filter((line) => !/^\s*\/\//.test(line) && literal.test(line))
          .map((line) => `${f}: ${line.trim()}`),
      );
    expect(offenders).toEqual([]);
  });
});

describe('backendFacts', () => {
  it('names, for each shipped backend, an installed package of the same release as tfjs-core', () => {
    const core = installedVersion('@tensorflow/tfjs-core');
    expect(core).toMatch(/^\d+\.\d+\.\d+/);
    for (const name of TEST_BACKENDS) expect(installedVersion(backendFacts(name).package)).toBe(core);
    expect(installedVersion('no-such-package-robust-test')).toBeNull();
  });

  it('gives threads to wasm alone, and to auto, which may choose it', () => {
    expect(BACKEND_NAMES.filter((n) => mayUseThreads(n))).toEqual(['wasm']);
    expect(mayUseThreads('auto')).toBe(true);
  });
});

describe.each(TEST_BACKENDS)('the active backend on %s', (backend) => {
  beforeAll(async () => activate(backend));

  it('is found by its TF.js name, and sets the default memory budget', () => {
    expect(activeBackendFacts()).toBe(backendFacts(backend));
    const budget = defaultMemoryBudget();
    if (backend === 'wasm') {
      expect(budget).toBe(WASM_BUDGET_BYTES);
    } else {
      // In use now plus half of what the system can still give (which moves a little between the two reads).
      const expected = tf.memory().numBytes + availableMemory() / 2;
      expect(Math.abs(budget - expected) / expected).toBeLessThan(0.05);
    }
  });
});
