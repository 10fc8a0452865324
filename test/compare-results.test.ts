import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// scripts/compare-results.mjs is how a refactor shows `robust test` is unchanged: it must ignore what two equal
// runs differ in (timing, the commit, the command line) and nothing else.
const dir = mkdtempSync(join(tmpdir(), 'robust-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const result = (over: { seconds?: number; commit?: string; robust?: number; json?: string; order?: boolean } = {}) => {
  const attack = over.order ? { seconds: over.seconds ?? 1, id: 'pgd@linf' } : { id: 'pgd@linf', seconds: over.seconds ?? 1 };
  return {
    manifest: { seed: '0', startedAt: `2026-12-06T1${over.seconds ?? 1}:00:00Z`, endedAt: 'x', seconds: over.seconds ?? 1, commandLine: ['test', '--json', over.json ?? 'a.json'], git: { commit: over.commit ?? 'abc', ref: 'main' } },
    attacks: [attack],
    worstCase: [{ key: 'worst@linf:0.1', robustAccuracy: { value: over.robust ?? 0.5 } }],
  };
};

function compare(a: object, b: object): { code: number | null; out: string } {
  writeFileSync(join(dir, 'a.json'), JSON.stringify(a));
  writeFileSync(join(dir, 'b.json'), JSON.stringify(b));
  const r = spawnSync(process.execPath, ['scripts/compare-results.mjs', join(dir, 'a.json'), join(dir, 'b.json')], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout };
}

describe('scripts/compare-results.mjs', () => {
  it('calls two results identical when only timing, the commit and the command line differ', () => {
    expect(compare(result(), result({ seconds: 7, commit: 'def', json: 'b.json' }))).toMatchObject({ code: 0, out: expect.stringMatching(/^identical/) });
  });

  it('finds a changed number, and a changed key order', () => {
    const changed = compare(result(), result({ robust: 0.55 }));
    expect(changed.code).toBe(1);
    expect(changed.out).toContain('- ');
    expect(changed.out).toMatch(/"value": 0\.5\n\+ .*"value": 0\.55/);
    expect(compare(result(), result({ order: true })).code).toBe(0); // `seconds` is left out, so its place does not count
    expect(compare({ a: 1, b: 2 }, { b: 2, a: 1 }).code).toBe(1);
  });
});
