import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { linearWeights, writeLinearData, writeLinearGraphModel } from './fixtures/suite-fixtures.js';
import { configSchema } from '../src/suite/schema.js';
import { loadConfig, parseConfig } from '../src/suite/config.js';
import { runSuite, shardRange } from '../src/suite/run.js';
import { mergeResults } from '../src/suite/merge.js';
import type { ProbeOutcomes, SuiteResult } from '../src/suite/types.js';

let dir: string;
let plain: string;
let masked: string;
let data: { x: string; y: string };
let maskedData: { x: string; y: string };
const { W, b } = linearWeights('suite');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'robust-suite-'));
  plain = writeLinearGraphModel(join(dir, 'plain'), W, b);
  masked = writeLinearGraphModel(join(dir, 'masked'), W, b, 8);
  data = await writeLinearData(join(dir, 'data'), 60, W, b, 'data');
  maskedData = await writeLinearData(join(dir, 'mdata'), 60, W, b, 'data', 8);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Write a suite file; `extra` is merged over a small, fast default suite on the plain model. */
function suite(name: string, extra: Record<string, unknown> = {}): string {
  const cfg = {
    model: { path: plain },
    data: { source: { x: data.x, y: data.y } },
    backend: 'cpu',
    seed: 1,
    batchSize: 25,
    attacks: [
      { name: 'fgsm', eps: [0.02, 0.05, 0.1] },
      { name: 'pgd', eps: [0.02, 0.05, 0.1], options: { steps: 10 } },
    ],
    samples: 0,
    ...extra,
  };
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(cfg));
  return path;
}

describe('suite config', () => {
  it('the published schema is the one the code validates with', () => {
    const published = JSON.parse(readFileSync('schema/robust.config.schema.json', 'utf8'));
    expect(published).toEqual(configSchema());
  });

  const base = { model: { path: 'm/model.json' }, data: { source: 'mnist:test' }, attacks: [{ name: 'fgsm', eps: 0.1 }] };
  const bad: [string, unknown, RegExp][] = [
    ['eps not a number', { ...base, attacks: [{ name: 'fgsm', eps: 0.1 }, { name: 'pgd', eps: '0.3x' }] }, /^c\.json: attacks\[1\]\.eps: expected a number or list of numbers > 0, got "0\.3x"$/],
    ['a typo in a key', { ...base, atacks: [] }, /atacks: unknown key; did you mean "attacks"\?/],
    ['an unknown attack', { ...base, attacks: [{ name: 'pgdd', eps: 0.1 }] }, /attacks\[0\]\.name: expected one of .*got "pgdd"; did you mean "pgd"\?/],
    ['a typo in an option', { ...base, attacks: [{ name: 'pgd', eps: 0.1, options: { stpes: 10 } }] }, /attacks\[0\]\.options\.stpes: pgd has no option "stpes"; did you mean "steps"\?/],
    ['a norm the attack lacks', { ...base, attacks: [{ name: 'deepfool', norm: 'l1' }] }, /attacks\[0\]\.norm: expected one of l2, linf, got "l1"/],
    ['a fixed-eps attack without eps', { ...base, attacks: [{ name: 'pgd' }] }, /attacks\[0\]\.eps: pgd needs a budget/],
    ['a threshold out of range', { ...base, thresholds: { cleanAccuracy: 1.5 } }, /thresholds\.cleanAccuracy: expected a number in \[0, 1\], got 1\.5/],
    ['a missing model', { data: base.data, attacks: base.attacks }, /model: required but missing/],
    ['a bad sha256 pin', { ...base, model: { path: 'm', sha256: 'abc' } }, /model\.sha256: expected a 64-digit lowercase hex SHA-256, got "abc"/],
  ];
  it.each(bad)('%s is one line naming the path and the fix', (_name, doc, message) => {
    expect(() => parseConfig(JSON.stringify(doc), 'c.json', '/tmp')).toThrow(message);
  });

  it('reads YAML and resolves paths against the config folder', () => {
    const cfg = parseConfig('model: {path: m/model.json}\ndata: {source: "npy:x.npy,y.npy"}\nattacks: [{name: fgsm, eps: [0.1, 0.2]}]\n', '/a/b/c.yaml', '/a/b');
    expect(cfg.model.path).toBe('/a/b/m/model.json');
    expect(cfg.data.source).toMatchObject({ kind: 'npy', x: '/a/b/x.npy', y: '/a/b/y.npy' });
    expect(() => parseConfig('model: [\n', 'c.yaml', '/')).toThrow(/c\.yaml is not valid YAML/);
  });

  it('a threshold on a key no attack evaluates is refused with a suggestion, before any attack runs', async () => {
    const r = await runCli('test', '--config', suite('badkey', { thresholds: { robustAccuracy: { 'pgd@linf:0.3': 0.5 } } }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/thresholds\.robustAccuracy\["pgd@linf:0\.3"\]: no attack of this suite evaluates that; did you mean "pgd@linf:0\.1"\?/);
  });
});

describe('robust test', () => {
  let whole: SuiteResult;
  beforeAll(async () => {
    whole = await runSuite(await loadConfig(suite('whole', { perExample: true, thresholds: { robustAccuracy: { 'worst@linf:0.1': 0.0 } } })));
  });

  it('keeps the per-point worst case over attacks and judges thresholds', () => {
    const ex = whole.examples!;
    for (const eps of [0.02, 0.05, 0.1]) {
      const f = ex.robust[`fgsm@linf:${eps}`]!;
      const p = ex.robust[`pgd@linf:${eps}`]!;
      const worst = whole.worstCase.find((w) => w.key === `worst@linf:${eps}`)!;
      expect(worst.robustAccuracy.k).toBe(f.filter((v, i) => v && p[i]).length);
      expect(worst.robustAccuracy.k).toBeLessThanOrEqual(Math.min(f.filter(Boolean).length, p.filter(Boolean).length));
    }
    expect(whole.cleanAccuracy.value).toBe(1);
    const w01 = whole.worstCase.find((w) => w.key === 'worst@linf:0.1')!.robustAccuracy.value;
    expect(w01).toBeLessThan(1);
    expect(whole.verdict.status).toBe('pass');
    expect(whole.checks.filter((c) => c.status === 'failed')).toEqual([]);
    expect(whole.manifest.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(whole.manifest.backend).toBe('cpu');
  });

  it('exit 0 when every threshold holds, 1 with one line per failure', async () => {
    const pass = await runCli('--quiet', 'test', '--config', suite('pass', { thresholds: { cleanAccuracy: 0.9, robustAccuracy: { 'fgsm@linf:0.02': 0.1 } } }));
    expect(pass.stderr).toBe('');
    expect(pass.code).toBe(0);
    const fail = await runCli('--quiet', 'test', '--config', suite('fail', { thresholds: { cleanAccuracy: 0.9, robustAccuracy: { 'worst@linf:0.1': 0.99 } } }));
    expect(fail.code).toBe(1);
    expect(fail.stdout).toMatch(/robustAccuracy for worst@linf:0\.1 is 0\.\d+, below the threshold 0\.99/);
    expect(fail.stderr).toMatch(/1 threshold\(s\) failed/);
  });

  it('exit 1 when the model does not match its pinned SHA-256', async () => {
    const r = await runCli('--quiet', 'test', '--config', suite('pin', { model: { path: plain, sha256: '0'.repeat(64) } }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pins 0{64}: it may have been tampered with or replaced/);
  });

  it('exit 2 for a bad config or missing data', async () => {
    expect((await runCli('test', '--config', join(dir, 'nope.json'))).code).toBe(2);
    const r = await runCli('test', '--config', suite('nodata', { data: { source: { x: join(dir, 'no-x.npy'), y: data.y } } }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no-x\.npy/);
  });

  it('flags a gradient-masked model as unreliable (exit 3 with --fail-on-unreliable)', async () => {
    const path = suite('masked', { model: { path: masked }, data: { source: { x: maskedData.x, y: maskedData.y } }, thresholds: { robustAccuracy: { 'pgd@linf:0.1': 0.5 } } });
    const result = await runSuite(await loadConfig(path));
    const byName = Object.fromEntries(result.checks.map((c) => [c.name, c.status]));
    expect(byName['accuracy at eps = the full input range is near chance']).toBe('failed');
    expect(byName['gradients are finite and non-zero on most inputs']).toBe('failed');
    expect(result.verdict.unreliable).toBe(true);
    // PGD finds little on the masked model although the same weights unmasked are easily broken.
    const maskedPgd = result.attacks.find((a) => a.id === 'pgd@linf')!.results.at(-1)!.robustAccuracy.value;
    const plainPgd = whole.attacks.find((a) => a.id === 'pgd@linf')!.results.at(-1)!.robustAccuracy.value;
    expect(maskedPgd).toBeGreaterThan(plainPgd + 0.3);
    const cli = await runCli('--quiet', 'test', '--config', path, '--fail-on-unreliable');
    expect(cli.code).toBe(3);
    expect(cli.stdout).toMatch(/UNRELIABLE/);
    expect((await runCli('--quiet', 'test', '--config', path)).code).toBe(0);
  });

  it('--shard i/n then robust merge gives the result of one run', async () => {
    const path = suite('shards', { perExample: true, thresholds: { robustAccuracy: { 'worst@linf:0.1': 0.0 } } });
    const files: string[] = [];
    for (const i of [1, 2, 3]) {
      const out = join(dir, `shard${i}.json`);
      const r = await runCli('--quiet', '--json', out, 'test', '--config', path, '--shard', `${i}/3`);
      expect(r.code).toBe(0);
      files.push(out);
    }
    const shards = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as SuiteResult);
    expect(shards.map((s) => s.n)).toEqual([20, 20, 20]);
    const merged = mergeResults(shards);
    const strip = (r: SuiteResult) => ({ ...r, manifest: { ...r.manifest, seconds: 0, startedAt: '', endedAt: '', config: { ...r.manifest.config, path: null } }, attacks: r.attacks.map((a) => ({ ...a, seconds: 0 })) });
    const one = JSON.parse(JSON.stringify(await runSuite(await loadConfig(path)))) as SuiteResult;
    expect(strip(JSON.parse(JSON.stringify(merged)))).toEqual(strip(one));
    // A shard written before robust recorded logit drift still merges: its exactly identical logits drifted by 0,
    // its differing ones by an unknown amount (null), and every other shard keeps its own numbers in place.
    const drift = merged.examples!.probes.logitDrift;
    expect(drift).toHaveLength(60);
    const older = shards.map((s, i) => {
      if (i !== 1) return s;
      const { logitDrift: _, ...flags } = s.examples!.probes;
      return { ...s, examples: { ...s.examples!, probes: { ...flags, deterministic: flags.deterministic.map((d, j) => (j === 0 ? 0 : d)) } as unknown as ProbeOutcomes } };
    });
    const back = mergeResults(older).examples!.probes;
    expect(back.deterministic).toEqual(merged.examples!.probes.deterministic.map((d, j) => (j === 20 ? 0 : d)));
    expect(back.logitDrift).toEqual(drift.map((v, j) => (j === 20 ? null : j >= 20 && j < 40 ? merged.examples!.probes.deterministic[j] === 1 ? 0 : -1 : v)));
    const mergedFile = join(dir, 'merged.json');
    const r = await runCli('--quiet', '--json', mergedFile, 'merge', ...files);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(mergedFile, 'utf8')).worstCase).toEqual(one.worstCase);
    expect((await runCli('merge', files[0]!, files[2]!)).stderr).toMatch(/shards 1, 3 of 3 given/);
  });

  it('an attack gives every example the same outcome whatever the batch size (random starts keyed by example)', async () => {
    const { loadModel } = await import('../src/models/index.js');
    const { loadDataset } = await import('../src/data/index.js');
    const { runAttack } = await import('../src/attacks/run.js');
    const model = await loadModel(plain);
    const ds = await loadDataset({ kind: 'npy', x: data.x, y: data.y });
    const spec = { name: 'pgd', eps: [0.05], options: { steps: 5, seed: 3 } };
    const [small, big] = [await runAttack(model, ds, spec, { batchSize: 7 }), await runAttack(model, ds, spec, { batchSize: 60 })];
    expect(Array.from(small.results[0]!.robust)).toEqual(Array.from(big.results[0]!.robust));
    expect(Array.from(small.results[0]!.norms.l2)).toEqual(Array.from(big.results[0]!.norms.l2));
    expect(small.results[0]!.robustAccuracy).toBeLessThan(1);
    model.dispose();
  });

  it('a real result validates against the published result schema, with minimum-norm curves and empirical robustness', async () => {
    const { resultSchemaErrors, renderJson } = await import('../src/report/index.js');
    const path = suite('schema', {
      perExample: true,
      samples: 2,
      attacks: [{ name: 'pgd', eps: [0.05, 0.1], options: { steps: 5 } }, { name: 'deepfool', norm: 'linf', eps: [0.05, 0.1] }],
    });
    const result = await runSuite(await loadConfig(path));
    expect(resultSchemaErrors(JSON.parse(renderJson(result)))).toEqual([]);
    const mn = result.minimumNorm.find((m) => m.id === 'deepfool@linf')!;
    const d = result.examples!.minNorm['deepfool@linf']!;
    // The curve is the fraction of points whose minimal perturbation exceeds eps; the eps results agree with it.
    for (const eps of [0.05, 0.1]) {
      const robust = d.filter((v) => v === null || v > eps).length;
      expect(result.attacks.find((a) => a.id === 'deepfool@linf')!.results.find((r) => r.eps === eps)!.robustAccuracy.k).toBe(robust);
    }
    expect(mn.curve.at(-1)!.eps).toBeCloseTo(0.1, 10);
    expect(mn.summary.attacked).toBe(60);
    const pgd = result.attacks[0]!.results.at(-1)!;
    expect(pgd.empiricalRobustness).toBeGreaterThan(0);
    expect(pgd.empiricalRobustness).toBeLessThan(pgd.perturbation.l2.max / Math.min(...result.examples!.inputL2) + 1e-9);
    expect(result.samples.length).toBe(2);
  });

  it('--adaptive picks BPDA or naive gradients for a defended model, and the manifest records it', async () => {
    // Two-bit depth reduction: zero gradient naively, identity gradient (BPDA) adaptively.
    const path = suite('defended', { defenses: [{ name: 'bit-depth', bits: 2 }], attacks: [{ name: 'pgd', eps: [0.1], options: { steps: 10 } }] });
    const runWith = async (adaptive: string) => {
      const out = join(dir, `defended-${adaptive}.json`);
      const r = await runCli('--quiet', '--json', out, 'test', '--config', path, '--adaptive', adaptive);
      expect(r.code).toBe(0);
      return JSON.parse(readFileSync(out, 'utf8')) as SuiteResult;
    };
    const [adaptive, naive] = [await runWith('true'), await runWith('false')];
    expect(adaptive.manifest.defenses).toEqual({ names: ['{"name":"bit-depth","bits":2}'], adaptive: true });
    expect(naive.manifest.defenses.adaptive).toBe(false);
    const acc = (r: SuiteResult) => r.attacks[0]!.results[0]!.robustAccuracy.value;
    expect(acc(naive)).toBeGreaterThan(acc(adaptive));
    expect(naive.verdict.unreliable).toBe(true);
    expect((await runCli('test', '--config', path, '--adaptive', 'maybe')).stderr).toMatch(/--adaptive: expected true or false, got "maybe"/);
  });

  it('shards are contiguous, disjoint and cover every example', () => {
    for (const total of [1, 7, 60, 101]) {
      const seen: number[] = [];
      for (let i = 1; i <= 4; i++) {
        const [a, z] = shardRange(total, { index: i, count: 4 });
        for (let p = a; p < z; p++) seen.push(p);
      }
      expect(seen).toEqual(Array.from({ length: total }, (_, p) => p));
    }
  });

  it('robust init writes a suite that validates, and never overwrites without --force', async () => {
    const out = join(dir, 'init.yaml');
    let r = await runCli('--backend', 'cpu', 'init', '--model', plain, '--data', `npy:${data.x},${data.y}`, '--n', '10', '--out', out);
    expect(r.code).toBe(0);
    const cfg = await loadConfig(out);
    expect(cfg.config.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    r = await runCli('--backend', 'cpu', 'init', '--model', plain, '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exists; pass --force/);
    expect(existsSync(out)).toBe(true);
  });
});
