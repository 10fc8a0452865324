import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../src/tf.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';
import { tempDirs } from './helpers/tmp.js';
import { saveLayersModel, loadModel } from '../src/models/index.js';
import { makeDataset, writeNpy } from '../src/data/index.js';
import { clopperPearsonInterval, normalCdf, normalQuantile } from '../src/metrics/confidence.js';
import { certifiedAccuracy, type Certificate } from '../src/defenses/smoothing.js';
import { certificationSummary, certifyDataset } from '../src/suite/certify.js';
import { loadConfig, parseConfig } from '../src/suite/config.js';
import { runSuite } from '../src/suite/run.js';
import { initConfig } from '../src/suite/init.js';
import { mergeResults } from '../src/suite/merge.js';
import { renderConsole, renderHtml, renderJson, renderMarkdown, resultSchemaErrors } from '../src/report/index.js';
import { formatNumber } from '../src/report/format.js';

/**
 * A 2-class linear Layers model on 4 features, logits [0, w·x + b]. Under x + σz its score is
 * w·x + b + σ‖w‖·N(0, 1), so p_A = Φ(|w·x + b| / (σ‖w‖)) exactly, and Cohen et al.'s radius σ·Φ⁻¹(p_A) is
 * |w·x + b| / ‖w‖: the true L2 distance to the decision boundary.
 */
const W = [1, -2, 0.5, 1.5];
const B = -0.6;
const D = W.length;
const NORM = Math.sqrt(W.reduce((a, v) => a + v * v, 0));
const N_POINTS = 32;
const SIGMA = 0.25;
const SAMPLES = 2000;
const N0 = 50;
const ALPHA = 0.001;
const RADII = [0, 0.1, 0.25, 0.5];

const dirs = tempDirs('robust-certify-');
let dir: string;
let modelPath: string;
let xPath: string;
let yPath: string;
const X = new Float32Array(N_POINTS * D);
const Y = new Int32Array(N_POINTS);
const score = (i: number) => W.reduce((a, w, j) => a + w * X[i * D + j]!, B);

beforeAll(async () => {
  await activate('cpu');
  dir = dirs.fresh();
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [D], units: 2, useBias: true })] });
  model.layers[0]!.setWeights([tf.tensor2d(W.flatMap((w) => [0, w]), [D, 2]), tf.tensor1d([0, B])]);
  await saveLayersModel(model, join(dir, 'lin'), { bounds: { min: 0, max: 1 } });
  model.dispose();
  modelPath = join(dir, 'lin', 'model.json');
  let s = 11;
  for (let i = 0; i < X.length; i++) X[i] = (s = (s * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < N_POINTS; i++) Y[i] = score(i) > 0 ? 1 : 0;
  xPath = join(dir, 'x.npy');
  yPath = join(dir, 'y.npy');
  await writeNpy(xPath, X, [N_POINTS, D]);
  await writeNpy(yPath, Y, [N_POINTS]);
});
afterAll(() => dirs.cleanup());

interface CertifyDoc {
  settings: { sigma: number; n0: number; samples: number; alpha: number; radii: number[] };
  model: { sha256: string };
  data: { n: number; sha256: string };
  accuracy: { value: number };
  abstainRate: { value: number; k: number };
  curve: { radius: number; certifiedAccuracy: { value: number; k: number; n: number } }[];
  certificates: (Certificate & { index: number; label: number })[];
}

const certifyArgs = (...extra: string[]) => [
  '--backend', 'cpu', '--seed', '1', 'certify', '--model', modelPath, '--x', xPath, '--y', yPath,
  '--sigma', String(SIGMA), '--n0', String(N0), '--samples', String(SAMPLES), '--alpha', String(ALPHA), '--radii', RADII.join(','), ...extra,
];

describe('robust certify on a closed-form linear model', () => {
  let doc: CertifyDoc;
  let stdout: string;

  it('each radius is σ·Φ⁻¹ of the Clopper-Pearson bound on its count, within the bound of σ·Φ⁻¹(p_A) = the distance', async () => {
    const out = dirs.fresh();
    const r = await runCli(...certifyArgs('--out', out));
    expect(r.stderr).not.toMatch(/robust:/);
    expect(r.code).toBe(0);
    stdout = r.stdout;
    doc = JSON.parse(readFileSync(join(out, 'certify.json'), 'utf8')) as CertifyDoc;
    expect(doc.settings).toMatchObject({ sigma: SIGMA, n0: N0, samples: SAMPLES, alpha: ALPHA, radii: RADII });
    expect(doc.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(doc.data).toMatchObject({ n: N_POINTS, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(doc.certificates).toHaveLength(N_POINTS);
    let certified = 0;
    doc.certificates.forEach((c, i) => {
      expect(c.index).toBe(i);
      expect(c.label).toBe(Y[i]);
      const distance = Math.abs(score(i)) / NORM;
      const pA = normalCdf(distance / SIGMA);
      expect(SIGMA * normalQuantile(pA)).toBeCloseTo(distance, 6);
      const sd = Math.sqrt(SAMPLES * pA * (1 - pA));
      expect(Math.abs(c.count - SAMPLES * pA)).toBeLessThan(4.5 * sd + 1);
      expect(c.pALower).toBeCloseTo(clopperPearsonInterval(c.count, SAMPLES, 1 - 2 * ALPHA)[0], 12);
      if (c.prediction === -1) {
        expect(c.radius).toBe(0);
        expect(c.pALower).toBeLessThan(0.5);
        return;
      }
      certified++;
      expect(c.prediction).toBe(Y[i]);
      expect(c.radius).toBeCloseTo(SIGMA * normalQuantile(c.pALower), 10);
      expect(c.radius).toBeLessThanOrEqual(distance);
      // No looser than the radius a count 4.5 sd below its mean would give.
      const low = Math.max(0, Math.floor(SAMPLES * pA - 4.5 * sd));
      expect(c.radius).toBeGreaterThanOrEqual(SIGMA * normalQuantile(Math.max(0.5, clopperPearsonInterval(low, SAMPLES, 1 - 2 * ALPHA)[0])) - 1e-9);
    });
    // The data spread from the boundary to about 3σ: some abstain, most certify.
    expect(certified).toBeGreaterThan(N_POINTS / 2);
    expect(doc.abstainRate.k).toBe(N_POINTS - certified);
  });

  it('the table, the chart and the JSON curve are certifiedAccuracy of the certificates', () => {
    const labels = doc.certificates.map((c) => c.label);
    const expected = certifiedAccuracy(doc.certificates, labels, RADII);
    expect(doc.curve.map((p) => p.radius)).toEqual(RADII);
    expect(doc.curve.map((p) => p.certifiedAccuracy.value)).toEqual(expected);
    expect(doc.accuracy.value).toBe(expected[0]);
    // Certified radii never exceed the true distance, so neither can the curve exceed the distances' curve.
    RADII.forEach((r, j) => expect(expected[j]).toBeLessThanOrEqual(Array.from(Y, (_, i) => Math.abs(score(i)) / NORM >= r).filter(Boolean).length / N_POINTS));
    expect(expected[2]).toBeGreaterThan(0);
    expect(expected[3]).toBeLessThan(expected[0]!);
    const rows = [...stdout.matchAll(/^\s*([\d.]+)\s+([\d.]+)\s+\[[\d.]+, [\d.]+\]\s+(\d+)\/(\d+)\s*$/gm)];
    expect(rows.map((m) => Number(m[1]))).toEqual(RADII);
    expect(rows.map((m) => m[2])).toEqual(expected.map((v) => formatNumber(v)));
    expect(rows.map((m) => Number(m[3]) / Number(m[4]))).toEqual(expected);
    const bars = [...stdout.matchAll(/^\s+r=([\d.]+)\s+│(.*)│ ([\d.]+)$/gm)];
    expect(bars.map((m) => m[3])).toEqual(expected.map((v) => formatNumber(v)));
    // Bars are 40 characters wide in eighths: full blocks make up round(40·v) characters, give or take the last.
    bars.forEach((m, j) => expect(Math.abs([...m[2]!].filter((ch) => ch === '█').length - 40 * expected[j]!)).toBeLessThanOrEqual(1));
  });

  it('--out writes certify.json and a standalone SVG line chart with one point per radius, atomically', async () => {
    const out = dirs.fresh();
    const json = join(dirs.fresh(), 'also.json');
    const r = await runCli(...certifyArgs('--out', out, '--json', json, '--quiet'));
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['certify.json', 'certify.svg']);
    const svg = readFileSync(join(out, 'certify.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain('certified accuracy</text>');
    expect(svg.match(/<circle /g)).toHaveLength(RADII.length);
    const tips = [...svg.matchAll(/<title>σ 0\.25 at radius ([\d.]+): ([\d.]+)/g)];
    expect(tips.map((m) => Number(m[1]))).toEqual(RADII);
    expect(tips.map((m) => m[2])).toEqual(doc.curve.map((p) => formatNumber(p.certifiedAccuracy.value)));
    const again = JSON.parse(readFileSync(json, 'utf8')) as CertifyDoc;
    expect(again.certificates).toEqual(doc.certificates);
  });

  it('is deterministic with the seed, and the seed matters', async () => {
    const same = JSON.parse(readFileSync(await jsonOf(certifyArgs()), 'utf8')) as CertifyDoc;
    expect(same.certificates).toEqual(doc.certificates);
    const other = JSON.parse(readFileSync(await jsonOf(certifyArgs().map((a) => (a === '1' ? '2' : a))), 'utf8')) as CertifyDoc;
    expect(other.certificates.map((c) => c.count)).not.toEqual(doc.certificates.map((c) => c.count));
  });

  const bad: [string, string[], RegExp][] = [
    ['sigma 0', ['--sigma', '0'], /--sigma: expected a number > 0, got 0/],
    ['sigma not a number', ['--sigma', 'x'], /--sigma: expected a number, got "x"/],
    ['alpha too large', ['--alpha', '0.5'], /--alpha: expected a number in \(0, 0\.5\), got 0\.5/],
    ['samples 0', ['--samples', '0'], /--samples: expected an integer >= 1, got 0/],
    ['an empty radius', ['--radii', '0,,1'], /--radii: expected comma-separated numbers >= 0/],
    ['a negative radius', ['--radii', '0,-1'], /--radii: expected a number >= 0, got -1/],
  ];
  it.each(bad)('%s is exit 2 with one line', async (_name, flags, message) => {
    const args = certifyArgs();
    for (let k = 0; k < flags.length; k += 2) {
      const at = args.indexOf(flags[k]!);
      args[at + 1] = flags[k + 1]!;
    }
    const r = await runCli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a missing --sigma or --model is exit 2', async () => {
    const noSigma = await runCli('certify', '--model', modelPath, '--x', xPath, '--y', yPath);
    expect(noSigma.code).toBe(2);
    expect(noSigma.stderr).toMatch(/required option '--sigma <sigma>' not specified/);
    const noModel = await runCli('certify', '--sigma', '0.25', '--x', xPath, '--y', yPath);
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toMatch(/^robust: robust certify needs --model <model\.json>$/);
  });

  async function jsonOf(args: string[]): Promise<string> {
    const path = join(dirs.fresh(), 'c.json');
    const r = await runCli(...args, '--json', path, '--quiet');
    expect(r.code).toBe(0);
    return path;
  }

  describe('suite: certify section and certifiedAccuracy thresholds', () => {
    function suite(name: string, extra: Record<string, unknown> = {}): string {
      const cfg = {
        model: { path: modelPath },
        data: { source: { x: xPath, y: yPath } },
        backend: 'cpu',
        seed: 1,
        attacks: [{ name: 'fgsm', eps: 0.1 }],
        samples: 0,
        certify: { sigma: SIGMA, n0: N0, samples: SAMPLES, alpha: ALPHA, radii: [0, 0.5] },
        ...extra,
      };
      const path = join(dir, `${name}.json`);
      writeFileSync(path, JSON.stringify(cfg));
      return path;
    }
    const at = (r: number) => doc.curve.find((p) => p.radius === r)!.certifiedAccuracy.value;

    it('certifies the same examples as robust certify, passes a met threshold, and reports the curve everywhere', async () => {
      const out = dirs.fresh();
      const outputs = { json: join(out, 'r.json'), markdown: join(out, 'r.md'), html: join(out, 'r.html') };
      const r = await runCli('test', '--config', suite('meets', { thresholds: { certifiedAccuracy: { '0.25': at(0.25) } }, outputs }));
      expect(r.stderr).not.toMatch(/robust:/);
      expect(r.code).toBe(0);
      const result = JSON.parse(readFileSync(outputs.json, 'utf8')) as ReturnType<typeof JSON.parse>;
      expect(resultSchemaErrors(result)).toEqual([]);
      // The threshold's radius joins the configured ones.
      expect(result.certification.curve.map((p: { key: string }) => p.key)).toEqual(['certified@l2:0', 'certified@l2:0.25', 'certified@l2:0.5']);
      expect(result.certification.curve.map((p: { certifiedAccuracy: { value: number } }) => p.certifiedAccuracy.value)).toEqual([at(0), at(0.25), at(0.5)]);
      expect(result.thresholds).toEqual([expect.objectContaining({ key: 'certified@l2:0.25', actual: at(0.25), passed: true })]);
      expect(r.stdout).toMatch(/certified robustness \(randomised smoothing, σ 0\.25, n0 50, n 2000, α 0\.001\)/);
      expect(r.stdout).toMatch(new RegExp(`^\\s*0\\.25\\s+${formatNumber(at(0.25)).replace('.', '\\.')}\\s+\\[`, 'm'));
      const md = readFileSync(outputs.markdown, 'utf8');
      expect(md).toContain(`| 0.25 | ${formatNumber(at(0.25))} |`);
      const html = readFileSync(outputs.html, 'utf8');
      expect(html).toContain('<h2>Certified robustness</h2>');
      expect(html).toContain('aria-label="certified accuracy against L2 radius"');
      expect(html.split('aria-label="certified accuracy against L2 radius"')[1]!.split('</svg>')[0]!.match(/<circle /g)).toHaveLength(3);
    });

    it('fails (exit 1) with one line when the threshold is above the achieved value', async () => {
      const want = Math.min(1, at(0.25) + 0.05);
      const r = await runCli('test', '--config', suite('misses', { thresholds: { certifiedAccuracy: { '0.25': want } } }));
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`certifiedAccuracy for certified@l2:0.25 is ${String(Number(at(0.25).toFixed(4)))}, below the threshold ${want}`);
    });

    it('is off by default: a suite without certify has no certification and no certificates', async () => {
      const { certify: _c, ...rest } = JSON.parse(readFileSync(suite('plain'), 'utf8')) as Record<string, unknown>;
      const path = join(dir, 'off.json');
      writeFileSync(path, JSON.stringify({ ...rest, perExample: true }));
      const result = await runSuite(await loadConfig(path));
      expect(result.certification).toBeNull();
      expect(result.examples?.certificates).toBeNull();
      expect(renderConsole(result)).not.toContain('certified');
      expect(renderHtml(result)).not.toContain('Certified robustness');
      expect(renderMarkdown(result)).not.toContain('Certified');
    });

    it('two shards merge into the certification of one run', async () => {
      const loaded = await loadConfig(suite('shards', { thresholds: { certifiedAccuracy: { '0.5': 0 } }, perExample: true }));
      const whole = await runSuite(loaded);
      const parts = [await runSuite(loaded, { shard: { index: 1, count: 2 } }), await runSuite(loaded, { shard: { index: 2, count: 2 } })];
      const round = parts.map((p) => JSON.parse(renderJson(p)) as typeof p);
      const merged = mergeResults(round);
      expect(merged.certification?.curve).toEqual(JSON.parse(JSON.stringify(whole.certification?.curve)));
      expect(merged.examples?.certificates).toEqual(whole.examples?.certificates);
      expect(merged.thresholds).toEqual(whole.thresholds);
      expect(whole.examples?.certificates?.count).toEqual(doc.certificates.map((c) => c.count));
    });

    it("robust init's commented certify lines validate once uncommented", async () => {
      const model = await loadModel(modelPath);
      try {
        const text = initConfig(model, { configPath: join(dir, 'init.yaml'), modelPath, data: 'mnist:test', n: 10 });
        const on = text.replace('# certify:', 'certify:').replace('# certifiedAccuracy:', 'certifiedAccuracy:');
        expect(on).not.toBe(text);
        const cfg = parseConfig(on, 'init.yaml', dir);
        expect(cfg.certify).toMatchObject({ sigma: 0.25, samples: 1000 });
        expect(cfg.thresholds?.certifiedAccuracy).toEqual({ '0.25': 0.5 });
      } finally {
        model.dispose();
      }
    });

    const badConfigs: [string, Record<string, unknown>, RegExp][] = [
      ['a certified threshold without certify', { certify: undefined, thresholds: { certifiedAccuracy: { '0.5': 0.5 } } }, /thresholds\.certifiedAccuracy: needs a certify section/],
      ['a radius key that is not a number', { thresholds: { certifiedAccuracy: { abc: 0.5 } } }, /thresholds\.certifiedAccuracy\["abc"\]: expected an L2 radius/],
      ['a negative sigma', { certify: { sigma: -1 } }, /certify\.sigma: expected a number > 0, got -1/],
      ['a typo in certify', { certify: { sigma: 0.25, sampels: 10 } }, /certify\.sampels: unknown key; did you mean "samples"\?/],
      ['a certified accuracy above 1', { thresholds: { certifiedAccuracy: { '0.5': 2 } } }, /expected a number in \[0, 1\], got 2/],
    ];
    it.each(badConfigs)('%s is one line (exit 2)', (_name, extra, message) => {
      const cfg = { model: { path: 'm' }, data: { source: 'mnist:test' }, attacks: [{ name: 'fgsm', eps: 0.1 }], certify: { sigma: 0.25 }, ...extra };
      expect(() => parseConfig(JSON.stringify(cfg), 'c.json', '/tmp')).toThrow(message);
    });
  });
});

describe.each(TEST_BACKENDS)('certifyDataset, %s', (backend) => {
  beforeAll(() => activate(backend));

  it('leaks no tensor, keys noise by example id, and agrees with the CLI on every backend', async () => {
    const cli = JSON.parse(readFileSync(await certifyJsonOnce(), 'utf8')) as CertifyDoc;
    await activate(backend); // the CLI run may have switched to cpu
    const model = await loadModel(modelPath);
    try {
      const ds = makeDataset({ x: X, y: Y, shape: [D], source: 'test' });
      const settings = { sigma: SIGMA, n0: N0, samples: SAMPLES, alpha: ALPHA, batchSize: 1000 };
      const seen: number[] = [];
      const all = await noLeak(() => certifyDataset(model, ds, settings, { seed: '1/certify', onProgress: (done) => seen.push(done) }));
      expect(seen).toEqual(Array.from({ length: N_POINTS }, (_, i) => i + 1));
      expect(all.map((c) => c.count)).toEqual(cli.certificates.map((c) => c.count));
      // A subset certified under its original ids gets exactly the certificates of the full run.
      const pick = [3, 17, 29];
      const sub = makeDataset({ x: Float32Array.from(pick.flatMap((i) => Array.from(X.subarray(i * D, (i + 1) * D)))), y: Int32Array.from(pick, (i) => Y[i]!), shape: [D], source: 'sub' });
      const some = await certifyDataset(model, sub, settings, { seed: '1/certify', exampleIds: pick });
      expect(some).toEqual(pick.map((i) => all[i]));
      const summary = certificationSummary(all, Y, [0.5, 0, 0.25]);
      expect(summary.curve.map((p) => p.radius)).toEqual([0, 0.25, 0.5]);
      expect(summary.curve.map((p) => p.certifiedAccuracy.value)).toEqual(certifiedAccuracy(all, Y, [0, 0.25, 0.5]));
    } finally {
      model.dispose();
    }
  });
});

let cliJson: string | null = null;
/** The CLI's certify.json for the default arguments, written once (on the cpu backend). */
async function certifyJsonOnce(): Promise<string> {
  if (cliJson && existsSync(cliJson)) return cliJson;
  const path = join(dirs.fresh(), 'once.json');
  const r = await runCli(...certifyArgs('--json', path, '--quiet'));
  expect(r.code).toBe(0);
  cliJson = path;
  return path;
}
