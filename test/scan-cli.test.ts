import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { runCli } from './helpers/cli.js';
import { buildZip, bytes, callPickle, op } from './helpers/scanSamples.js';
import { RULES } from '../src/scan/index.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'scan');
let dir: string;
let samples: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'robust-scan-cli-'));
  samples = join(dir, 'samples');
  mkdirSync(join(samples, 'nested dir'), { recursive: true });
  cpSync(join(FIXTURES, 'clean'), join(samples, 'clean'), { recursive: true });
  writeFileSync(join(samples, 'pytorch_model.bin'), buildZip([{ name: 'archive/data.pkl', data: bytes(op.proto(2), callPickle('os', 'system')) }]));
  writeFileSync(join(samples, 'nested dir', 'notes.txt'), callPickle('argparse', 'Namespace'));
  writeFileSync(join(samples, 'tricky.zip'), buildZip([{ name: 'a.pkl', data: callPickle('builtins', 'eval'), localName: 'b.pkl' }], { suffix: bytes('trailer') }));
  writeFileSync(join(samples, 'model.safetensors'), bytes(8, 0, 0, 0, 0, 0, 0, 0, '{"a":{}}'));
  writeFileSync(join(samples, 'readme.md'), '# not a model\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('robust scan', () => {
  it('exit 0 on clean checkpoints, 1 on findings at or above --fail-on, 2 on a missing path', async () => {
    const clean = await runCli('scan', join(FIXTURES, 'clean'));
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('0 finding(s)');
    const bad = await runCli('scan', samples);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/critical\s+PKL001\s+.*pytorch_model\.bin!\/archive\/data\.pkl@2/);
    expect(bad.stderr).toMatch(/finding\(s\) at or above high/);
    const mediumOnly = join(samples, 'nested dir', 'notes.txt');
    expect((await runCli('scan', mediumOnly)).code).toBe(0);
    expect((await runCli('scan', mediumOnly, '--fail-on', 'medium')).code).toBe(1);
    expect((await runCli('scan', mediumOnly, '--fail-on', 'critical')).code).toBe(0);
    const missing = await runCli('scan', join(dir, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
    expect((await runCli('scan', samples, '--fail-on', 'severe')).code).toBe(2);
  });

  it('--format json lists every file and finding; --out writes atomically', async () => {
    const out = join(dir, 'report.json');
    const run = await runCli('scan', samples, '--format', 'json', '--out', out);
    expect(run.code).toBe(1);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const report = JSON.parse(readFileSync(out, 'utf8')) as { files: Array<{ path: string; format: string }>; findings: Array<{ rule: string }>; summary: Record<string, number> };
    expect(report.files.find((f) => f.path.endsWith('readme.md'))?.format).toBe('unknown');
    expect(report.files.find((f) => f.path.endsWith('notes.txt'))?.format).toBe('pickle');
    expect(report.findings.map((f) => f.rule).sort()).toEqual(['PKL001', 'PKL001', 'PKL002', 'SFT002', 'ZIP002', 'ZIP005'].sort());
    expect(report.summary).toEqual({ critical: 2, high: 2, medium: 2, low: 0 });
  });

  it('--format sarif validates against the official SARIF 2.1.0 schema', async () => {
    const out = join(dir, 'scan.sarif');
    expect((await runCli('scan', samples, '--format', 'sarif', '--out', out)).code).toBe(1);
    const sarif = JSON.parse(readFileSync(out, 'utf8')) as { runs: Array<{ results: Array<{ ruleId: string; ruleIndex: number; level: string }>; tool: { driver: { rules: Array<{ id: string }> } } }> };
    // The OASIS schema is draft-04; with its top-level id as $id it is valid draft-07 (it uses no draft-04-only keywords).
    const schema = JSON.parse(readFileSync(join(FIXTURES, 'sarif-schema-2.1.0.json'), 'utf8')) as Record<string, unknown>;
    const { id, $schema, ...rest } = schema;
    void $schema;
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat('uri', /^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]*$/);
    ajv.addFormat('uri-reference', /^[^\s]*$/);
    ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    const validate = ajv.compile({ ...rest, $id: id as string });
    expect(validate(sarif), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    const run = sarif.runs[0]!;
    expect(run.tool.driver.rules.map((r) => r.id)).toEqual(RULES.map((r) => r.id));
    expect(run.results).toHaveLength(6);
    for (const r of run.results) expect(run.tool.driver.rules[r.ruleIndex]!.id).toBe(r.ruleId);
    expect(run.results.filter((r) => r.level === 'error')).toHaveLength(4);
    // A schema check that could not fail would prove nothing: a result without a message must be rejected.
    const broken = structuredClone(sarif) as { runs: Array<{ results: Array<Record<string, unknown>> }> };
    delete broken.runs[0]!.results[0]!.message;
    expect(validate(broken)).toBe(false);
  });
});

describe('robust test scans its model first', () => {
  it('a critical finding stops the suite with exit 1; --no-scan skips the scan', async () => {
    const folder = join(dir, 'suite');
    mkdirSync(folder, { recursive: true });
    // A pickle renamed model.json: recognised by content.
    writeFileSync(join(folder, 'model.json'), callPickle('os', 'system'));
    const config = join(folder, 'robust.config.json');
    writeFileSync(config, JSON.stringify({ model: { path: 'model.json' }, data: { source: 'mnist:test' }, attacks: [{ name: 'fgsm', eps: 0.1 }] }));
    const stopped = await runCli('--backend', 'cpu', 'test', '--config', config);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/PKL001/);
    expect(stopped.stderr).toMatch(/1 critical finding\(s\) .* the suite did not run \(pass --no-scan/);
    const unscanned = await runCli('--backend', 'cpu', 'test', '--config', config, '--no-scan');
    expect(unscanned.stderr).not.toMatch(/PKL001/);
    expect(unscanned.code).toBe(2);
    expect(existsSync(join(folder, 'robust.config.json'))).toBe(true);
  });
});
