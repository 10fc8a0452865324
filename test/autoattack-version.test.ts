/**
 * AutoAttack's `version` from every entry point: `--aa-version` in `robust attack` (its kebab-case flag would
 * be `--version`, which prints robust's own version), `version` in a suite file, and the version named in
 * every report. The CLI runs in its own process, as a user starts it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { linearWeights, writeLinearData, writeLinearGraphModel } from './fixtures/suite-fixtures.js';
import { tempDirs } from './helpers/tmp.js';

const ROOT = resolve(__dirname, '..');
const BIN = join(ROOT, 'bin', 'robust.js');
const tmp = tempDirs('robust-aa-version-');
let dir: string;
let model: string;
let data: { x: string; y: string };

function spawnCli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' }, timeout: 120_000 });
  return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  dir = tmp.fresh();
  const { W, b } = linearWeights('aa-version');
  model = writeLinearGraphModel(join(dir, 'model'), W, b);
  data = await writeLinearData(join(dir, 'data'), 8, W, b, 'aa-version');
});
afterAll(() => tmp.cleanup());

describe('AutoAttack version', () => {
  it('--version alone still prints robust\'s version', () => {
    const r = spawnCli('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });

  const attack = (...rest: string[]) => ['--backend', 'cpu', '--quiet', 'attack', '--model', model, '--x', data.x, '--y', data.y, '--attack', 'autoattack', '--eps', '0.1', '--attacks', 'apgd-ce', '--steps', '2', ...rest];

  it('robust attack --aa-version rand runs that version and says so in the console and the JSON', () => {
    const json = join(dir, 'rand.json');
    const r = spawnCli('--json', json, ...attack('--aa-version', 'rand', '--eot-iterations', '2'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^autoattack \(linf, version rand\) on /m);
    expect(JSON.parse(readFileSync(json, 'utf8')).params).toMatchObject({ version: 'rand', eotIterations: 2 });
    const plain = spawnCli('--json', json, ...attack());
    expect(plain.stdout).toMatch(/^autoattack \(linf, version standard\) on /m);
    expect(JSON.parse(readFileSync(json, 'utf8')).params.version).toBe('standard');
  });

  it('a bad --aa-version, or --aa-version for another attack, is exit 2 with one line', () => {
    const bad = spawnCli(...attack('--aa-version', 'fast'));
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('robust: --aa-version: expected one of standard, plus, rand for autoattack, got "fast"');
    const other = spawnCli('--backend', 'cpu', '--quiet', 'attack', '--model', model, '--x', data.x, '--y', data.y, '--attack', 'pgd', '--eps', '0.1', '--aa-version', 'plus');
    expect(other.code).toBe(2);
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
    expect(other.stderr).toMatch(/--aa-version does not apply to pgd/);
  });

  it('a suite\'s version reaches its console, Markdown and JSON reports', () => {
    const config = join(dir, 'suite.json');
    const md = join(dir, 'suite.md');
    const json = join(dir, 'suite.result.json');
    writeFileSync(config, JSON.stringify({ model: { path: model }, data: { source: { x: data.x, y: data.y } }, backend: 'cpu', samples: 0, attacks: [{ name: 'autoattack', eps: [0.1], options: { version: 'plus', attacks: ['apgd-ce'], steps: 2 } }] }));
    const r = spawnCli('--quiet', '--json', json, 'test', '--config', config, '--markdown', md, '--no-scan');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/autoattack@linf \(plus\)/);
    expect(readFileSync(md, 'utf8')).toMatch(/autoattack@linf \(plus\)/);
    const result = JSON.parse(readFileSync(json, 'utf8')) as { attacks: { id: string; params: Record<string, unknown> }[] };
    expect(result.attacks.find((a) => a.id === 'autoattack@linf')?.params.version).toBe('plus');
  });
});
