import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../src/tf.js';
import { activate } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';
import { saveLayersModel } from '../src/models/index.js';
import { loadDataset, readNpy, writeNpy } from '../src/data/index.js';

// A 2-class linear model on 4 features, logits = [0, w·x + b]: the minimal Linf distance of x to the
// boundary is |w·x+b| / ||w||_1, so FGSM at a given eps must flip exactly the points closer than eps.
const W = [1, -2, 0.5, 1.5];
const B = -0.6;
let dir: string;
let modelPath: string;
let xPath: string;
let yPath: string;
let X: Float32Array;
let Y: Int32Array;

beforeAll(async () => {
  await activate('cpu');
  dir = mkdtempSync(join(tmpdir(), 'robust-cli-'));
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2, useBias: true })] });
  model.layers[0]!.setWeights([tf.tensor2d([0, W[0]!, 0, W[1]!, 0, W[2]!, 0, W[3]!], [4, 2]), tf.tensor1d([0, B])]);
  await saveLayersModel(model, join(dir, 'lin'), { bounds: { min: 0, max: 1 } });
  modelPath = join(dir, 'lin', 'model.json');
  const n = 64;
  X = new Float32Array(n * 4);
  Y = new Int32Array(n);
  let s = 7;
  for (let i = 0; i < X.length; i++) X[i] = ((s = (s * 16807) % 2147483647) / 2147483647);
  for (let i = 0; i < n; i++) {
    const z = W.reduce((a, w, j) => a + w * X[i * 4 + j]!, B);
    Y[i] = z > 0 ? 1 : 0;
  }
  xPath = join(dir, 'x.npy');
  yPath = join(dir, 'y.npy');
  await writeNpy(xPath, X, [n, 4]);
  await writeNpy(yPath, Y, [n]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('robust CLI (in-process)', () => {
  it('--help lists the commands', async () => {
    const r = await runCli('--help');
    expect(r.code).toBe(0);
    for (const c of ['attack', 'data', 'train']) expect(r.stdout).toContain(c);
  });

  it('an unknown command or flag is a usage error (exit 2)', async () => {
    expect((await runCli('frobnicate')).code).toBe(2);
    const r = await runCli('attack', '--model', modelPath, '--x', xPath, '--y', yPath, '--attack', 'fgsm', '--eps', '0.1', '--bogus');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
  });

  it('robust attack: FGSM breaks exactly the points within eps of the boundary, JSON has the contract fields', async () => {
    const json = join(dir, 'out.json');
    const eps = 0.1;
    const r = await runCli('--backend', 'cpu', '--quiet', '--json', json, 'attack', '--model', modelPath, '--x', xPath, '--y', yPath, '--attack', 'fgsm', '--eps', String(eps), '--batch-size', '16');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.attack).toBe('fgsm');
    expect(doc.backend).toBe('cpu');
    expect(doc.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(doc.data).toMatchObject({ source: `npy:${xPath},${yPath}`, n: 64 });
    expect(doc.cleanAccuracy).toBe(1);
    const l1 = W.reduce((a, w) => a + Math.abs(w), 0);
    let expectedRobust = 0;
    for (let i = 0; i < 64; i++) {
      const z = W.reduce((a, w, j) => a + w * X[i * 4 + j]!, B);
      // Bounds [0,1] can stop FGSM short of the full step; count as robust what FGSM cannot cross within bounds.
      let best = z;
      for (let j = 0; j < 4; j++) {
        const dirn = -Math.sign(z) * Math.sign(W[j]!);
        const xi = Math.min(1, Math.max(0, X[i * 4 + j]! + eps * dirn));
        best += W[j]! * (xi - X[i * 4 + j]!);
      }
      if (Math.sign(best) === Math.sign(z) && best !== 0) expectedRobust++;
    }
    expect(doc.results).toHaveLength(1);
    expect(doc.results[0].eps).toBe(eps);
    expect(doc.results[0].robustAccuracy).toBeCloseTo(expectedRobust / 64, 10);
    expect(doc.results[0].robustAccuracy).toBeLessThan(1);
    expect(doc.results[0].perturbation.linf.max).toBeLessThanOrEqual(eps + 1e-6);
    expect(doc.timing.gradientEvaluations).toBeGreaterThan(0);
    expect(r.stdout).toContain('robust acc');
    expect(l1).toBeGreaterThan(0);
  });

  it('robust attack --eps list writes one --save-adv file per eps, eps before .npy', async () => {
    const adv = join(dir, 'adv.npy');
    const r = await runCli('--backend', 'cpu', 'attack', '--model', modelPath, '--x', xPath, '--y', yPath, '--attack', 'pgd', '--eps', '0.05,0.2', '--steps', '5', '--step-size', '0.05', '--save-adv', adv);
    expect(r.code).toBe(0);
    // Not a TTY: progress comes as plain lines on stderr, ending with the full count.
    expect(r.stderr).toMatch(/^pgd: 64\/64 robust/m);
    for (const eps of [0.05, 0.2]) {
      const a = await readNpy(join(dir, `adv.${eps}.npy`));
      expect(a.shape).toEqual([64, 4]);
      let maxDiff = 0;
      const data = a.data as Float32Array;
      for (let i = 0; i < data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(data[i]! - X[i]!));
      expect(maxDiff).toBeLessThanOrEqual(eps + 1e-6);
      expect(maxDiff).toBeGreaterThan(0);
    }
  });

  it('robust data mnist:test writes exactly the test split', async () => {
    const ox = join(dir, 'mx.npy');
    const oy = join(dir, 'my.npy');
    const r = await runCli('data', 'mnist:test', '--n', '50', '--out-x', ox, '--out-y', oy);
    expect(r.code).toBe(0);
    const back = await loadDataset(`npy:${ox},${oy}`);
    const orig = await loadDataset('mnist:test', { n: 50 });
    expect(back.sha256).toBe(orig.sha256);
    expect(Array.from(back.y)).toEqual(Array.from(orig.y));
  });

  describe('bad input: one line, exit 2, says what to do', () => {
    const cases: [string, () => string[], RegExp][] = [
      ['missing model', () => ['attack', '--model', join(dir, 'nope', 'model.json'), '--x', xPath, '--y', yPath, '--attack', 'fgsm', '--eps', '0.1'], /no model at/],
      ['malformed eps', () => ['attack', '--model', modelPath, '--x', xPath, '--y', yPath, '--attack', 'fgsm', '--eps', '0.3x'], /--eps: expected a number/],
      ['unknown attack', () => ['attack', '--model', modelPath, '--x', xPath, '--y', yPath, '--attack', 'pgdd', '--eps', '0.1'], /pgdd/],
      ['unknown backend', () => ['--backend', 'tpu', 'data', 'mnist:test', '--out-x', 'a.npy', '--out-y', 'b.npy'], /tpu/],
      ['fixed-eps attack without eps', () => ['attack', '--model', modelPath, '--x', xPath, '--y', yPath, '--attack', 'pgd'], /needs --eps/],
      ['flag that does not apply', () => ['attack', '--model', modelPath, '--x', xPath, '--y', yPath, '--attack', 'fgsm', '--eps', '0.1', '--kappa', '1'], /--kappa does not apply to fgsm/],
      ['data shape mismatch', () => ['attack', '--model', modelPath, '--data', 'mnist:test', '--n', '4', '--attack', 'fgsm', '--eps', '0.1'], /shape/],
      ['absent optional backend', () => ['--backend', 'tensorflow', 'attack', '--model', modelPath, '--x', xPath, '--y', yPath, '--attack', 'fgsm', '--eps', '0.1'], /npm install @tensorflow\/tfjs-node/],
    ];
    it.each(cases)('%s', async (_name, args, message) => {
      const r = await runCli(...args());
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });

    it('NaN in the data and labels out of range', async () => {
      const bad = Float32Array.from(X);
      bad[5] = Number.NaN;
      const bx = join(dir, 'bad-x.npy');
      await writeNpy(bx, bad, [64, 4]);
      let r = await runCli('attack', '--model', modelPath, '--x', bx, '--y', yPath, '--attack', 'fgsm', '--eps', '0.1');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/NaN/);
      const by = join(dir, 'bad-y.npy');
      await writeNpy(by, Int32Array.from(Y, (v, i) => (i === 3 ? 7 : v)), [64]);
      r = await runCli('attack', '--model', modelPath, '--x', xPath, '--y', by, '--attack', 'fgsm', '--eps', '0.1');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/label 7/);
    });

    it('a truncated weight shard', async () => {
      const copy = join(dir, 'trunc');
      await saveLayersModel(tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2 })] }), copy);
      const shard = join(copy, 'weights.bin');
      writeFileSync(shard, readFileSync(shard).subarray(0, 10));
      const r = await runCli('attack', '--model', join(copy, 'model.json'), '--x', xPath, '--y', yPath, '--attack', 'fgsm', '--eps', '0.1');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/weights\.bin/);
      expect(existsSync(shard)).toBe(true);
    });
  });
});
