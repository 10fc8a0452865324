import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { FEATURES, linearWeights, writeLinearData, writeLinearGraphModel } from './fixtures/suite-fixtures.js';
import { loadDataset } from '../src/data/index.js';
import { loadConfig } from '../src/suite/config.js';
import { runSuite } from '../src/suite/run.js';
import { mergeResults } from '../src/suite/merge.js';
import { perClass } from '../src/suite/groups.js';
import { wilsonInterval } from '../src/metrics/confidence.js';
import { renderHtml, renderMarkdown, resultSchemaErrors } from '../src/report/index.js';
import type { ExampleOutcomes, SuiteResult } from '../src/suite/types.js';

let dir: string;
let model: string;
let csv: string;
const SITES = ['east', 'north', 'west'];
const siteOf = (i: number) => SITES[(i * 7) % 3]!;
const N = 60;

/** A CSV of the linear fixture's points with a `site` column; `keep` picks the rows written. */
async function writeCsv(path: string, keep: (i: number) => boolean): Promise<void> {
  const ds = await loadDataset({ kind: 'npy', x: join(dir, 'data', 'x.npy'), y: join(dir, 'data', 'y.npy') });
  const header = [...Array.from({ length: FEATURES }, (_, f) => `f${f}`), 'label', 'site'];
  const rows = [header.join(',')];
  for (let i = 0; i < ds.n; i++) {
    if (!keep(i)) continue;
    rows.push([...Array.from(ds.x.subarray(i * FEATURES, (i + 1) * FEATURES), (v) => String(v)), String(ds.y[i]), siteOf(i)].join(','));
  }
  writeFileSync(path, `${rows.join('\n')}\n`);
}

function suite(name: string, source: string, extra: Record<string, unknown> = {}): string {
  const path = join(dir, `${name}.json`);
  // FGSM has no randomness, so a point's outcome does not depend on which other points are in the run.
  writeFileSync(path, JSON.stringify({ model: { path: model }, data: { source }, backend: 'cpu', attacks: [{ name: 'fgsm', eps: [0.05, 0.1] }], samples: 0, perExample: true, ...extra }));
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'robust-groups-'));
  const { W, b } = linearWeights('groups');
  model = writeLinearGraphModel(join(dir, 'model'), W, b);
  await writeLinearData(join(dir, 'data'), N, W, b, 'groups');
  csv = join(dir, 'all.csv');
  await writeCsv(csv, () => true);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('robustness by class', () => {
  it('counts each class, with Wilson intervals, and flags the weakest and its gap to the best', () => {
    // Class 0: 3 of 4 robust; class 1: 1 of 2; class 2: 2 of 2.
    const ex = { labels: [0, 0, 0, 0, 1, 1, 2, 2], cleanCorrect: [1, 1, 1, 1, 1, 0, 1, 1], robust: { k: [1, 1, 1, 0, 1, 0, 1, 1] }, groups: null } as unknown as ExampleOutcomes;
    const b = perClass(ex, ['k'], 'k');
    expect(b.groups.map((g) => [g.group, g.n, g.robustAccuracy['k']!.k, g.cleanAccuracy.k])).toEqual([['0', 4, 3, 4], ['1', 2, 1, 1], ['2', 2, 2, 2]]);
    expect(b.groups[1]!.robustAccuracy['k']!.ci).toEqual(wilsonInterval(1, 2));
    expect([b.weakest, b.best, b.gap]).toEqual(['1', '2', 0.5]);
  });
});

describe('robustness by slice (a CSV group column)', () => {
  it('equals running the suite on each slice alone, and the weakest slice gates the run', async () => {
    const whole = await runSuite(await loadConfig(suite('whole', `csv:${csv},label,site`)));
    expect(resultSchemaErrors(JSON.parse(JSON.stringify(whole)))).toEqual([]);
    expect(whole.examples!.groups).toEqual(Array.from({ length: N }, (_, i) => siteOf(i)));
    const slices = whole.perSlice!;
    expect(slices.key).toBe('worst@linf:0.1');
    expect(slices.groups.map((g) => g.group)).toEqual(SITES);
    // The group column is not a feature: the model (16 inputs) ran, and every slice adds up to the whole.
    expect(slices.groups.reduce((s, g) => s + g.n, 0)).toBe(N);
    for (const g of slices.groups) {
      const path = join(dir, `${g.group}.csv`);
      await writeCsv(path, (i) => siteOf(i) === g.group);
      const alone = await runSuite(await loadConfig(suite(g.group, `csv:${path},label,site`)));
      expect(g.robustAccuracy['worst@linf:0.1']).toEqual(alone.worstCase.find((w) => w.key === 'worst@linf:0.1')!.robustAccuracy);
      expect(g.cleanAccuracy).toEqual(alone.cleanAccuracy);
    }
    const values = slices.groups.map((g) => g.robustAccuracy['worst@linf:0.1']!.value);
    expect(slices.gap).toBeCloseTo(Math.max(...values) - Math.min(...values), 12);
    const weakest = slices.groups.find((g) => g.group === slices.weakest)!;
    expect(weakest.robustAccuracy['worst@linf:0.1']!.value).toBe(Math.min(...values));

    // Gates: a threshold just above the weakest slice fails and names it; just below passes.
    const low = weakest.robustAccuracy['worst@linf:0.1']!.value;
    const failing = await runCli('--quiet', 'test', '--config', suite('gate-fail', `csv:${csv},label,site`, { thresholds: { minSliceRobustAccuracy: low + 0.01 } }));
    expect(failing.code).toBe(1);
    expect(failing.stdout).toContain(`weakest slice, ${weakest.group}, for worst@linf:0.1`);
    const passing = await runCli('--quiet', 'test', '--config', suite('gate-pass', `csv:${csv},label,site`, { thresholds: { minSliceRobustAccuracy: Math.max(0, low - 0.01), minClassRobustAccuracy: { 'fgsm@linf:0.05': 0 } } }));
    expect(passing.code, passing.stderr).toBe(0);

    // Reports show both breakdowns.
    const md = renderMarkdown(whole);
    expect(md).toContain('**Robustness by slice:** weakest slice');
    expect(md).toContain('**Robustness by class:**');
    const html = renderHtml(whole);
    expect(html).toContain('<h2>Robustness by class</h2>');
    expect(html).toContain('aria-label="robust accuracy at worst@linf:0.1 per slice"');
  });

  it('refuses a slice threshold without a group column, or an unknown key, before any attack', async () => {
    const noGroups = await runCli('--quiet', 'test', '--config', suite('nogroups', `npy:${join(dir, 'data', 'x.npy')},${join(dir, 'data', 'y.npy')}`, { thresholds: { minSliceRobustAccuracy: 0.5 } }));
    expect(noGroups.code).toBe(2);
    expect(noGroups.stderr).toMatch(/thresholds\.minSliceRobustAccuracy needs slices, but .* has no group column/);
    const badKey = await runCli('--quiet', 'test', '--config', suite('badkey', `csv:${csv},label,site`, { thresholds: { minClassRobustAccuracy: { 'worst@linf:0.2': 0.5 } } }));
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/minClassRobustAccuracy\["worst@linf:0.2"\]: no attack of this suite evaluates that; did you mean "worst@linf:0.1"\?/);
    const noColumn = await runCli('--quiet', 'test', '--config', suite('nocolumn', `csv:${csv},label,region`));
    expect(noColumn.code).toBe(2);
    expect(noColumn.stderr).toContain('has no column "region"');
  });

  it('shards merge to the same breakdowns as one run', async () => {
    const path = suite('shards', `csv:${csv},label,site`, { thresholds: { minClassRobustAccuracy: 0.1 } });
    const shards: SuiteResult[] = [];
    for (const i of [1, 2]) {
      const out = join(dir, `shard${i}.json`);
      expect((await runCli('--quiet', '--json', out, 'test', '--config', path, '--shard', `${i}/2`)).code).toBeLessThan(2);
      shards.push(JSON.parse(readFileSync(out, 'utf8')) as SuiteResult);
    }
    const merged = mergeResults(shards);
    const one = await runSuite(await loadConfig(path));
    expect(merged.perSlice).toEqual(one.perSlice);
    expect(merged.perClass).toEqual(one.perClass);
    expect(merged.thresholds.map((t) => [t.key, t.passed])).toEqual(one.thresholds.map((t) => [t.key, t.passed]));
  });
});
