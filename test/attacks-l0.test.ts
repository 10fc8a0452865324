import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../src/tf.js';
import { fmn } from '../src/attacks/fmn.js';
import { getAttack } from '../src/attacks/registry.js';
import { attackManyEps } from '../src/attacks/core/epsilons.js';
import { l0 } from '../src/attacks/core/norms.js';
import type { AttackResult } from '../src/attacks/core/types.js';
import type { Model } from '../src/models/types.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { linearModel, normals, uniforms } from './attacks.fixtures.js';
import { runCli } from './helpers/cli.js';
import { linearWeights, writeLinearData, writeLinearGraphModel } from './fixtures/suite-fixtures.js';
import { parseConfig } from '../src/suite/config.js';
import type { SuiteResult } from '../src/suite/types.js';

/**
 * The L0 threat model (features changed) and FMN under it. Oracle: for a linear classifier inside a box
 * the minimal L0 change is exact. To raise the margin m(x) = (w_j − w_y)·x + b_j − b_y above 0, feature i
 * can add at most gain_i = |v_i|·room_i (v = w_j − w_y; room_i: the distance from x_i to the bound v_i
 * points at). Every feature costs one, so the fewest features whose gains exceed −m(x) are the largest
 * gains taken first; over the wrong classes j the smallest such count is the minimal L0 of the example.
 */

const D = 24;
const N = 16;

/** Exact minimal number of features to change (inside [lo, hi]) so that some class beats y; Infinity if none can. */
function exactL0(W: number[], b: number[], k: number, x: number[], y: number, lo: number, hi: number): number {
  let best = Infinity;
  for (let j = 0; j < k; j++) {
    if (j === y) continue;
    let gap = (b[y] as number) - (b[j] as number);
    const gains: number[] = [];
    x.forEach((xi, i) => {
      const v = (W[i * k + j] as number) - (W[i * k + y] as number);
      gap -= v * xi;
      gains.push(Math.abs(v) * (v > 0 ? hi - xi : xi - lo));
    });
    // gap = z_y − z_j > 0 at a correctly classified point; the gains must exceed it.
    gains.sort((a, c) => c - a);
    let sum = 0;
    for (let c = 0; c < gains.length; c++) {
      sum += gains[c] as number;
      if (sum > gap) {
        best = Math.min(best, c + 1);
        break;
      }
    }
  }
  return best;
}

/** A k-class linear model on [0, 1]^D and N points it classifies, each with its exact minimal L0. */
function problem(k: number, seed: string, atBounds: boolean) {
  const W = normals(D * k, `${seed}/W`);
  const b = normals(k, `${seed}/b`).map((v) => v * 2);
  const pts: number[][] = [];
  const y: number[] = [];
  const exact: number[] = [];
  for (let i = 0; pts.length < N; i++) {
    const p = uniforms(D, `${seed}/x${i}`).map((u) => (atBounds ? (u < 0.5 ? 0 : 1) : u));
    const f = Array.from({ length: k }, (_, j) => p.reduce((a, v, t) => a + v * (W[t * k + j] as number), b[j] as number));
    const top = f.indexOf(Math.max(...f));
    const e = exactL0(W, b, k, p, top, 0, 1);
    // Points needing 3 features or more (for a spread, at most N/4 of any one count in the first 2000
    // draws), so the tolerance below means something.
    if (e < 3 || !Number.isFinite(e) || (i < 2000 && exact.filter((v) => v === e).length >= N / 4)) continue;
    pts.push(p);
    y.push(top);
    exact.push(e);
  }
  return { W, b, k, pts, y: Int32Array.from(y), exact };
}

describe.each(TEST_BACKENDS)('L0 on %s', (backend) => {
  beforeAll(async () => {
    await activate(backend);
  });

  it('projection keeps exactly the ⌊eps⌋ largest changes per example, ties by feature, and drops sub-tolerance ones', async () => {
    const delta = tf.tensor2d([
      [0.5, -0.9, 0.1, 0.9, -0.3, 0],
      [1, 1, 1, 1, 1e-9, -1],
    ]);
    const out = await noLeak(async () => {
      const eps = tf.tensor1d([2.7, 3]);
      const p = l0.project(delta, eps);
      const d = l0.distance(p);
      const values = [Array.from(await p.data()), Array.from(await d.data())];
      tf.dispose([eps, p, d]);
      return values;
    });
    delta.dispose();
    expect(out[0]?.slice(0, 6)).toEqual([0, -0.9, 0, 0.9, 0, 0].map(Math.fround));
    // Five changes of size 1 tie: the first three by feature index survive.
    expect(out[0]?.slice(6)).toEqual([1, 1, 1, 0, 0, 0]);
    expect(out[1]).toEqual([2, 3]);
  });

  it('distance counts changed features; a change below 1e-7 is float rounding, not a change', async () => {
    const delta = tf.tensor2d([[0, 2e-7, -0.5, 5e-8]]);
    const d = await noLeak(async () => {
      const t = l0.distance(delta);
      const v = Array.from(await t.data());
      t.dispose();
      return v;
    });
    delta.dispose();
    expect(d).toEqual([2]);
  });

  for (const [label, k, atBounds] of [
    ['two classes, features inside the box', 2, false],
    ['two classes, every feature at a bound', 2, true],
    ['five classes, features inside the box', 5, false],
  ] as const) {
    describe(label, () => {
      const q = problem(k, `l0/${label}`, atBounds);
      let model: Model;
      let x: tf.Tensor;
      beforeAll(() => {
        model = linearModel(q.W, q.b, D, { min: 0, max: 1 });
        x = tf.tensor2d(q.pts);
      });
      afterAll(() => {
        x.dispose();
        model.dispose();
      });

      it('fmn (l0) fools every point with at most 1 feature more than the exact minimum, and changes no more than it reports', async () => {
        let adv: Float32Array = new Float32Array(0);
        const r: AttackResult = await noLeak(async () => {
          const out = await fmn(model, x, q.y, { norm: 'l0' });
          adv = (await out.xAdv.data()) as Float32Array;
          out.xAdv.dispose();
          return out;
        });
        const found = Array.from(r.perturbation.l0);
        expect(Array.from(r.isAdversarial)).toEqual(new Array<number>(N).fill(1));
        found.forEach((f, i) => {
          const e = q.exact[i] as number;
          expect(f).toBeGreaterThanOrEqual(e);
          expect(f).toBeLessThanOrEqual(e + 1);
          let changed = 0;
          for (let t = 0; t < D; t++) if (adv[i * D + t] !== Math.fround(q.pts[i]?.[t] ?? NaN)) changed++;
          expect(changed).toBeLessThanOrEqual(f);
        });
      });

      it('fmn (l0) at budgets: broken at eps exactly where its minimal L0 is at most eps; the same seed reproduces it bit for bit', async () => {
        const info = getAttack('fmn');
        const runOnce = (eps: number[] | null) =>
          noLeak(async () => {
            const many = await attackManyEps(info, model, x, q.y, eps, { norm: 'l0', seed: 'l0', steps: 40 });
            const out = await Promise.all(many.results.map(async (r) => ({ adv: Array.from(r.isAdversarial), l0: Array.from(r.perturbation.l0), x: Array.from(await r.xAdv.data()) })));
            many.results.forEach((r) => r.xAdv.dispose());
            return out;
          });
        const [free] = await runOnce(null);
        const budgets = await runOnce([3, 4]);
        expect(await runOnce([3, 4])).toEqual(budgets);
        budgets.forEach((r, k) => {
          const eps = [3, 4][k] as number;
          r.adv.forEach((broken, i) => {
            expect(broken).toBe(free?.adv[i] && (free.l0[i] as number) <= eps ? 1 : 0);
            expect(r.l0[i]).toBe(broken ? free?.l0[i] : 0);
          });
        });
        expect(budgets[1]?.adv.filter(Boolean).length).toBeGreaterThan(0);
      });
    });
  }
});

describe('L0 through the suite and the CLI', () => {
  let dir: string;
  let model: string;
  let data: { x: string; y: string };
  const { W, b } = linearWeights('l0-suite');
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'robust-l0-'));
    model = writeLinearGraphModel(join(dir, 'model'), W, b);
    data = await writeLinearData(join(dir, 'data'), 12, W, b, 'l0-data');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a suite file may ask fmn for l0, never an attack without it (one line naming the choices)', () => {
    const base = { model: { path: 'm/model.json' }, data: { source: 'mnist:test' } };
    expect(parseConfig(JSON.stringify({ ...base, attacks: [{ name: 'fmn', norm: 'l0', eps: [2, 5] }] }), 'c.json', '/tmp').attacks[0]?.norm).toBe('l0');
    expect(() => parseConfig(JSON.stringify({ ...base, attacks: [{ name: 'pgd', norm: 'l0', eps: [2] }] }), 'c.json', '/tmp')).toThrow(/^c\.json: attacks\[0\]\.norm: expected one of linf, l2, l1, got "l0"/);
  });

  it('robust test runs fmn under l0: per-budget robust accuracy follows the minimal L0 found, and every report names l0', async () => {
    const config = join(dir, 'l0.json');
    const md = join(dir, 'l0.md');
    const json = join(dir, 'l0.result.json');
    writeFileSync(config, JSON.stringify({ model: { path: model }, data: { source: { x: data.x, y: data.y } }, backend: 'cpu', seed: 1, samples: 0, perExample: true, attacks: [{ name: 'fmn', norm: 'l0', eps: [1, 3], options: { steps: 30 } }] }));
    const r = await runCli('--quiet', '--json', json, 'test', '--config', config, '--markdown', md, '--no-scan');
    expect(r.stderr).toBe('');
    const result = JSON.parse(readFileSync(json, 'utf8')) as SuiteResult;
    const ex = result.examples!;
    const found = ex.minNorm['fmn@l0']!;
    for (const eps of [1, 3]) {
      const robust = ex.robust[`fmn@l0:${eps}`]!;
      robust.forEach((v, i) => {
        const d = found[i];
        if (d !== 0) expect(v).toBe(d === null || (d as number) > eps ? 1 : 0);
      });
    }
    expect(ex.robust['fmn@l0:3']!.filter((v) => v === 0).length).toBeGreaterThan(ex.robust['fmn@l0:1']!.filter((v) => v === 0).length);
    // The minimal L0 is a whole number of features.
    expect(found.every((d) => d === null || Number.isInteger(d))).toBe(true);
    expect(result.worstCase.map((w) => w.key)).toEqual(['worst@l0:1', 'worst@l0:3']);
    const { resultSchemaErrors } = await import('../src/report/index.js');
    expect(resultSchemaErrors(result)).toEqual([]);
    expect(r.stdout).toMatch(/fmn@l0/);
    expect(readFileSync(md, 'utf8')).toMatch(/fmn@l0/);
  });

  it('robust attack --norm l0 shows the L0 median; --norm l0 for an attack without it is exit 2, one line, before any work', async () => {
    const ok = await runCli('--quiet', '--backend', 'cpu', 'attack', '--model', model, '--x', data.x, '--y', data.y, '--attack', 'fmn', '--norm', 'l0', '--steps', '30');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/fmn \(l0\)/);
    expect(ok.stdout).toMatch(/l0 median/);
    const bad = await runCli('--quiet', '--backend', 'cpu', 'attack', '--model', join(dir, 'missing.json'), '--x', data.x, '--y', data.y, '--attack', 'deepfool', '--norm', 'l0');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('robust: --norm l0: deepfool supports l2, linf');
  });
});
