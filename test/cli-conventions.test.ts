/**
 * The conventions of an npm CLI (issue 17): config discovery, quiet backend probing, colour, subcommand help,
 * report flags on `robust test`, reports that say what was tested, and `robust init` reading the model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import YAML from 'yaml';
import { tf } from '../src/tf.js';
import { activate } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';
import { tempDirs } from './helpers/tmp.js';
import { saveLayersModel } from '../src/models/index.js';
import { writeNpy } from '../src/data/index.js';
import { discoverConfig } from '../src/suite/discover.js';
import { colourWanted } from '../src/cli/io.js';
import { renderConsole, renderHtml, renderMarkdown } from '../src/report/index.js';
import { makeSuiteResult } from './fixtures/suite-result.js';
import { chooseGallery } from '../src/suite/samples.js';

const ROOT = resolve(__dirname, '..');
const BIN = join(ROOT, 'bin', 'robust.js');
const tmp = tempDirs('robust-conv-');
let modelPath: string;
let xPath: string;
let yPath: string;

/** Run the built CLI as a user would, in its own process (native output included). */
function spawnCli(args: string[], env: Record<string, string> = {}, cwd = ROOT): { code: number; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true', ...env }, timeout: 120_000 });
  return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(async () => {
  await activate('cpu');
  const dir = tmp.fresh();
  // logits [0, w·x + b] on 4 features in [0, 1]: a model that is not MNIST-shaped.
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2 })] });
  model.layers[0]!.setWeights([tf.tensor2d([0, 1, 0, -2, 0, 0.5, 0, 1.5], [4, 2]), tf.tensor1d([0, -0.6])]);
  await saveLayersModel(model, join(dir, 'lin'), { bounds: { min: 0, max: 1 } });
  model.dispose();
  modelPath = join(dir, 'lin', 'model.json');
  const n = 40;
  const x = new Float32Array(n * 4);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 4; j++) x[i * 4 + j] = ((i * 7 + j * 13) % 17) / 16;
    y[i] = x[i * 4]! - 2 * x[i * 4 + 1]! + 0.5 * x[i * 4 + 2]! + 1.5 * x[i * 4 + 3]! - 0.6 > 0 ? 1 : 0;
  }
  xPath = join(dir, 'x.npy');
  yPath = join(dir, 'y.npy');
  await writeNpy(xPath, x, [n, 4]);
  await writeNpy(yPath, y, [n]);
});
afterAll(() => tmp.cleanup());

describe('config discovery', () => {
  it('finds robust.config.{json,yaml,yml} in the folder or a parent, up to the repository root', () => {
    const repo = tmp.fresh();
    mkdirSync(join(repo, '.git'));
    mkdirSync(join(repo, 'a', 'b'), { recursive: true });
    writeFileSync(join(repo, 'robust.config.yaml'), 'x: 1\n');
    expect(discoverConfig(join(repo, 'a', 'b'))).toBe(join(repo, 'robust.config.yaml'));
    writeFileSync(join(repo, 'a', 'robust.config.yml'), 'x: 1\n');
    expect(discoverConfig(join(repo, 'a', 'b'))).toBe(join(repo, 'a', 'robust.config.yml'));
  });

  it('stops at the repository root, and refuses two candidates in one folder', () => {
    const outer = tmp.fresh();
    writeFileSync(join(outer, 'robust.config.json'), '{}');
    const repo = join(outer, 'repo');
    mkdirSync(join(repo, '.git'), { recursive: true });
    expect(() => discoverConfig(repo)).toThrow(/no robust\.config\.json, robust\.config\.yaml, robust\.config\.yml in .*robust init/);
    writeFileSync(join(repo, 'robust.config.json'), '{}');
    writeFileSync(join(repo, 'robust.config.yaml'), 'x: 1\n');
    expect(() => discoverConfig(repo)).toThrow(/both exist; pass --config/);
  });

  it('robust test without --config runs the suite it finds (exit code of the suite, not "not found")', () => {
    const repo = tmp.fresh();
    mkdirSync(join(repo, '.git'));
    mkdirSync(join(repo, 'sub'));
    const suite = { model: { path: modelPath }, data: { source: `npy:${xPath},${yPath}` }, attacks: [{ name: 'fgsm', eps: [0.05] }], thresholds: { cleanAccuracy: 0.5 } };
    writeFileSync(join(repo, 'robust.config.yml'), YAML.stringify(suite));
    const r = spawnCli(['--backend', 'cpu', '--quiet', 'test', '--markdown', join(repo, 'summary.md')], {}, join(repo, 'sub'));
    expect(r.stderr).not.toMatch(/not found|no robust\.config/);
    expect([0, 3]).toContain(r.code);
    expect(readFileSync(join(repo, 'summary.md'), 'utf8')).toMatch(/robust test/);
  });
});

describe('quiet backend probing', () => {
  it('--backend auto prints no native Dawn/Vulkan noise; --verbose shows it', () => {
    const args = ['attack', '--model', modelPath, '--x', xPath, '--y', yPath, '--attack', 'fgsm', '--eps', '0.1', '--quiet'];
    const quiet = spawnCli(args);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toMatch(/XDG_RUNTIME_DIR|Vulkan|Dawn/);
    const verbose = spawnCli(['--verbose', ...args]);
    expect(verbose.stderr).toMatch(/^backend: \w+/m);
    if (existsSync(join(ROOT, 'node_modules', 'webgpu')) && /XDG_RUNTIME_DIR|Vulkan/.test(verbose.stderr)) {
      // The noise is kept for --verbose, under its own heading.
      expect(verbose.stderr).toMatch(/backend probe output:/);
    }
  });
});

describe('colour', () => {
  it('NO_COLOR wins, FORCE_COLOR forces, else only a TTY gets colour', () => {
    expect(colourWanted({}, true)).toBe(true);
    expect(colourWanted({}, false)).toBe(false);
    expect(colourWanted({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colourWanted({ NO_COLOR: '1', FORCE_COLOR: '1' }, true)).toBe(false);
    expect(colourWanted({ NO_COLOR: '' }, true)).toBe(true);
    expect(colourWanted({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colourWanted({ FORCE_COLOR: '0' }, true)).toBe(false);
  });

  it('robust test paints the verdict with FORCE_COLOR and never with NO_COLOR', () => {
    const dir = tmp.fresh();
    const config = join(dir, 'suite.json');
    writeFileSync(config, JSON.stringify({ model: { path: modelPath }, data: { source: `npy:${xPath},${yPath}` }, attacks: [{ name: 'fgsm', eps: [0.05] }], thresholds: { cleanAccuracy: 0.99 } }));
    const forced = spawnCli(['--backend', 'cpu', '--quiet', 'test', '--config', config], { FORCE_COLOR: '1' });
    expect(forced.stdout).toMatch(/\u001b\[3\dm/);
    const plain = spawnCli(['--backend', 'cpu', '--quiet', 'test', '--config', config], { FORCE_COLOR: '1', NO_COLOR: '1' });
    expect(plain.stdout).not.toMatch(/\u001b\[/);
    expect(plain.stdout).toMatch(/robust test/);
  });
});

describe('help and report flags', () => {
  it("a subcommand's --help lists the global flags it accepts", async () => {
    for (const cmd of ['attack', 'test', 'train', 'certify']) {
      const r = await runCli(cmd, '--help');
      expect(r.code).toBe(0);
      for (const flag of ['--seed', '--backend', '--json', '--verbose']) expect(r.stdout, `${cmd} --help`).toContain(flag);
    }
  });

  it('robust test writes --junit, --markdown and --html', async () => {
    const dir = tmp.fresh();
    const config = join(dir, 'suite.json');
    writeFileSync(config, JSON.stringify({ model: { path: modelPath }, data: { source: `npy:${xPath},${yPath}` }, attacks: [{ name: 'fgsm', eps: [0.05] }] }));
    const out = { junit: join(dir, 'j.xml'), markdown: join(dir, 's.md'), html: join(dir, 'r.html') };
    const r = await runCli('--backend', 'cpu', '--quiet', 'test', '--config', config, '--junit', out.junit, '--markdown', out.markdown, '--html', out.html);
    expect(r.stderr).not.toMatch(/unknown option/);
    expect(readFileSync(out.junit, 'utf8')).toMatch(/<testsuite/);
    expect(readFileSync(out.markdown, 'utf8')).toMatch(/robust test/);
    expect(readFileSync(out.html, 'utf8')).toMatch(/<html/);
  });
});

describe('reports say what was tested', () => {
  it('console, Markdown and HTML name the defences and whether attacks were adaptive', () => {
    const bare = makeSuiteResult({ pass: true });
    for (const text of [renderConsole(bare), renderMarkdown(bare), renderHtml(bare)]) expect(text).toMatch(/none \(the model as loaded\)/);
    const adaptive = makeSuiteResult({ pass: true });
    adaptive.manifest.defenses = { names: [JSON.stringify({ name: 'median', size: 3 }), JSON.stringify({ name: 'bit-depth', bits: 4 })], adaptive: true };
    for (const text of [renderConsole(adaptive), renderMarkdown(adaptive), renderHtml(adaptive)]) {
      expect(text).toMatch(/median\(size 3\) → bit-depth\(bits 4\), attacked adaptively/);
    }
    const naive = makeSuiteResult({ pass: true });
    naive.manifest.defenses = { names: [JSON.stringify({ name: 'median', size: 3 })], adaptive: false };
    for (const text of [renderConsole(naive), renderMarkdown(naive), renderHtml(naive)]) expect(text).toMatch(/attacked naively \(--adaptive false\)/);
  });
});

describe('robust init reads the model', () => {
  it('refuses to guess data for a model that does not take MNIST digits', async () => {
    const dir = tmp.fresh();
    const out = join(dir, 'robust.config.yaml');
    const r = await runCli('--backend', 'cpu', 'init', '--model', modelPath, '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/shape \[4\] with 2 classes, not MNIST digits: pass --data/);
    expect(existsSync(out)).toBe(false);
  });

  it('with --data: paths relative to the config, thresholds from what it measured', async () => {
    const dir = tmp.fresh();
    const out = join(dir, 'nested', 'robust.config.yaml');
    const r = await runCli('--backend', 'cpu', 'init', '--model', modelPath, '--data', `npy:${xPath},${yPath}`, '--out', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = YAML.parse(readFileSync(out, 'utf8'));
    expect(doc.data.source).not.toMatch(/mnist/);
    expect(doc.data.n).toBe(40);
    expect(resolve(join(dir, 'nested'), doc.data.source.slice(4).split(',')[0])).toBe(xPath);
    // The linear model labels its own data: clean accuracy 1, so the clean threshold is 0.98.
    expect(doc.thresholds.cleanAccuracy).toBe(0.98);
    const robust = Object.values(doc.thresholds.robustAccuracy)[0] as number;
    expect(robust).toBeGreaterThanOrEqual(0);
    expect(robust).toBeLessThan(0.98);
    expect(readFileSync(out, 'utf8')).toMatch(/measured on the first 40 examples: clean accuracy 1\.000, PGD-20 robust accuracy/);
  });
});

describe('the gallery shows the examples behind the verdict', () => {
  const attacks = [
    { id: 'fgsm@linf', norm: 'linf', eps: [0.1, 0.3] },
    { id: 'pgd@linf', norm: 'linf', eps: [0.1, 0.3] },
  ];
  // 4 examples; 1 = still robust.
  const robust = {
    'fgsm@linf:0.1': [1, 1, 1, 0],
    'pgd@linf:0.1': [1, 0, 1, 0],
    'fgsm@linf:0.3': [0, 0, 1, 0],
    'pgd@linf:0.3': [0, 0, 0, 0],
  };

  it('the first failing robust-accuracy threshold: its attack, or every attack of its norm for worst@', () => {
    expect(chooseGallery(attacks, robust, { 'fgsm@linf:0.1': 0.5, 'worst@linf:0.10': 0.6 })).toEqual({ keys: ['fgsm@linf:0.1', 'pgd@linf:0.1'], reason: 'worst@linf:0.10, the failing threshold' });
    expect(chooseGallery(attacks, robust, { 'fgsm@linf:0.1': 0.9 })).toEqual({ keys: ['fgsm@linf:0.1'], reason: 'fgsm@linf:0.1, the failing threshold' });
  });

  it('no failing threshold: the worst case at the first norm’s largest eps', () => {
    expect(chooseGallery(attacks, robust, { 'worst@linf:0.1': 0.25 })).toEqual({ keys: ['fgsm@linf:0.3', 'pgd@linf:0.3'], reason: 'worst case at linf eps 0.3' });
    expect(chooseGallery(attacks, robust)).toEqual({ keys: ['fgsm@linf:0.3', 'pgd@linf:0.3'], reason: 'worst case at linf eps 0.3' });
  });

  it('robust test draws its samples at the failing threshold’s eps, not the largest', async () => {
    const dir = tmp.fresh();
    const config = join(dir, 'suite.json');
    const json = join(dir, 'result.json');
    writeFileSync(
      config,
      JSON.stringify({ model: { path: modelPath }, data: { source: `npy:${xPath},${yPath}` }, attacks: [{ name: 'pgd', eps: [0.15, 0.3], options: { steps: 10 } }], thresholds: { robustAccuracy: { 'worst@linf:0.15': 0.9 } }, samples: 4 }),
    );
    await runCli('--backend', 'cpu', '--quiet', '--json', json, 'test', '--config', config);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.samples.length).toBeGreaterThan(0);
    expect(doc.worstCase[0].robustAccuracy.value).toBeLessThan(1);
    for (const s of doc.samples) expect(s.key).toBe('pgd@linf:0.15');
  });
});

describe('CI shards', () => {
  it('a shard leaves thresholds to robust merge (exit 0) but still fails on a pin mismatch (exit 1)', async () => {
    const dir = tmp.fresh();
    const config = join(dir, 'suite.json');
    const base = { model: { path: modelPath }, data: { source: `npy:${xPath},${yPath}` }, attacks: [{ name: 'fgsm', eps: [0.3] }], thresholds: { robustAccuracy: { 'worst@linf:0.3': 1 } } };
    writeFileSync(config, JSON.stringify(base));
    const whole = await runCli('--backend', 'cpu', '--quiet', 'test', '--config', config);
    expect(whole.code).toBe(1);
    const shard = await runCli('--backend', 'cpu', '--quiet', '--json', join(dir, 's1.json'), 'test', '--config', config, '--shard', '1/2');
    expect(shard.code).toBe(0);
    expect(shard.stderr).toMatch(/judged by robust merge/);
    writeFileSync(config, JSON.stringify({ ...base, model: { path: modelPath, sha256: '0'.repeat(64) } }));
    const pinned = await runCli('--backend', 'cpu', '--quiet', 'test', '--config', config, '--shard', '1/2');
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toMatch(/pins 0{64}/);
  });
});

describe("the README's library example", () => {
  it('leaks no tensor once it disposes what it owns, and tfl is the copy robust loads models with', async () => {
    const { loadModel, loadDataset, pgd, tfl: reexported } = await import('../src/index.js');
    expect(reexported.sequential).toBe(tfl.sequential);
    const before = tf.memory().numTensors;
    const model = await loadModel(join(ROOT, 'models', 'mnist-cnn', 'model.json'));
    const data = await loadDataset('mnist:test', { n: 8 });
    const x = tf.tensor(data.x.subarray(0, 8 * 784), [8, 28, 28, 1]);
    const { xAdv, isAdversarial } = await pgd(model, x, data.y.subarray(0, 8), { eps: 0.3, steps: 3 });
    expect(isAdversarial).toHaveLength(8);
    x.dispose();
    xAdv.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('init and scan never write over their inputs', () => {
  it('robust init --force --out onto the model or the data exits 2 before any work and changes nothing', async () => {
    const dir = tmp.fresh();
    const model = join(dir, 'model.json');
    writeFileSync(model, readFileSync(modelPath));
    const before = readFileSync(model, 'utf8');
    const onModel = await runCli('--backend', 'cpu', 'init', '--model', model, '--data', `npy:${xPath},${yPath}`, '--out', model, '--force');
    expect(onModel.code).toBe(2);
    expect(onModel.stderr).toMatch(/--out/);
    expect(readFileSync(model, 'utf8')).toBe(before);
    const xBefore = readFileSync(xPath);
    const onData = await runCli('--backend', 'cpu', 'init', '--model', modelPath, '--data', `npy:${xPath},${yPath}`, '--out', xPath, '--force');
    expect(onData.code).toBe(2);
    expect(readFileSync(xPath).equals(xBefore)).toBe(true);
  });

  it('robust scan --out onto a scanned file exits 2 and leaves it; into a scanned folder is fine', async () => {
    const dir = tmp.fresh();
    const file = join(dir, 'weights.bin');
    writeFileSync(file, Buffer.from([1, 2, 3, 4]));
    const onFile = await runCli('scan', file, '--out', file);
    expect(onFile.code).toBe(2);
    expect(readFileSync(file)).toEqual(Buffer.from([1, 2, 3, 4]));
    const inFolder = await runCli('scan', dir, '--format', 'json', '--out', join(dir, 'scan.json'));
    expect(inFolder.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'scan.json'), 'utf8'))).toBeTypeOf('object');
  });
});
