import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linearWeights, writeLinearData, writeLinearGraphModel } from './fixtures/suite-fixtures.js';
import { loadConfig } from '../src/suite/config.js';
import { runSuite, type RunSuiteOptions } from '../src/suite/run.js';
import { runAttack } from '../src/attacks/run.js';
import { loadModel } from '../src/models/index.js';
import { loadDataset } from '../src/data/index.js';
import { useBackend } from '../src/backends/index.js';
import { tf } from '../src/tf.js';

// The suite answers a minimum-norm attack's budgets from one unbudgeted run (stage attackAll); a single
// runAttack answers them in attackManyEps, measuring L1 with its own norm. The two must agree, in L1 too, where
// the suite once judged an L1 attack by the L2 size of what it found.
let dir: string;
let model: string;
let data: { x: string; y: string };
const { W, b } = linearWeights('stages');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'robust-stages-'));
  model = writeLinearGraphModel(join(dir, 'model'), W, b);
  data = await writeLinearData(join(dir, 'data'), 24, W, b, 'stages');
  await useBackend('cpu');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('attackAll: an L1 minimum-norm attack in a suite', () => {
  it('is judged at each eps by the L1 size of what it found, as runAttack judges the same budgets', async () => {
    const options = { steps: 30 };
    // First the distances, to put the budgets where L1 and L2 disagree.
    const m = await loadModel(model);
    const ds = await loadDataset({ kind: 'npy', x: data.x, y: data.y });
    const found = await runAttack(m, ds, { name: 'fmn', norm: 'l1', eps: null, options: { ...options, seed: '1/fmn@l1', exampleIds: Int32Array.from({ length: ds.n }, (_, i) => i) } }, { keepAdversarial: true });
    const size = ds.x.length / ds.n;
    const l1 = Array.from({ length: ds.n }, (_, i) => ds.x.slice(i * size, (i + 1) * size).reduce((s, v, f) => s + Math.abs(found.results[0]!.xAdv![i * size + f]! - v), 0));
    const l2 = found.results[0]!.norms.l2;
    // Budgets where L1 and L2 disagree: halfway between the two sizes of the point where they differ most, and
    // above every L1 size found. Judged by L2, that point would be broken at the first; by L1 it is not.
    const gap = (i: number) => (found.results[0]!.isAdversarial[i] ? l1[i]! - l2[i]! : -1);
    const far = l1.map((_, i) => i).reduce((p, q) => (gap(q) > gap(p) ? q : p), 0);
    expect(gap(far)).toBeGreaterThan(0.05);
    const eps = [(l1[far]! + l2[far]!) / 2, l1.reduce((m, v) => Math.max(m, v), 0) + 0.01].map((e) => Math.round(e * 1e4) / 1e4);

    const budgeted = await runAttack(m, ds, { name: 'fmn', norm: 'l1', eps, options: { ...options, seed: '1/fmn@l1', exampleIds: Int32Array.from({ length: ds.n }, (_, i) => i) } });
    m.dispose();

    const path = join(dir, 'l1.json');
    writeFileSync(path, JSON.stringify({ model: { path: model }, data: { source: { x: data.x, y: data.y } }, backend: 'cpu', seed: 1, perExample: true, samples: 0, attacks: [{ name: 'fmn', norm: 'l1', eps, options }] }));
    const before = tf.memory().numTensors;
    const result = await runSuite(await loadConfig(path));
    expect(tf.memory().numTensors).toBe(before);
    const examples = result.examples!;
    for (const [k, e] of eps.entries()) {
      expect(examples.robust[`fmn@l1:${e}`]).toEqual(Array.from(budgeted.results[k]!.robust));
    }
    // The minimal perturbations the suite keeps are L1 sizes: the same distances, to float32 rounding.
    const minNorm = examples.minNorm['fmn@l1']!;
    minNorm.forEach((d, i) => {
      if (d === null || examples.cleanCorrect[i] === 0) return;
      expect(d).toBeCloseTo(l1[i]!, 4);
    });
  });
});

describe('stages that fail dispose the model they were handed', () => {
  const write = (name: string, extra: Record<string, unknown>): string => {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify({ model: { path: model }, data: { source: { x: data.x, y: data.y } }, backend: 'cpu', seed: 1, samples: 0, attacks: [{ name: 'fgsm', eps: 0.1 }], ...extra }));
    return path;
  };

  const extras: Record<string, (m: string) => Record<string, unknown>> = { pin: (m) => ({ model: { path: m, sha256: '0'.repeat(64) } }), shard: () => ({}), pos: () => ({}) };
  const cases: [string, string, RunSuiteOptions, RegExp][] = [
    ['openModel, on a wrong SHA-256 pin', 'pin', {}, /SHA-256/],
    ['selectExamples, on an empty shard', 'shard', { shard: { index: 1, count: 25 } }, /shard 1\/25 of 24 examples is empty/],
    ['selectExamples, on positions outside the selection', 'pos', { examples: [3, 24] }, /positions must be whole numbers in 0\.\.23/],
  ];
  it.each(cases)('%s: no tensor is left behind', async (_name, file, options, message) => {
    const config = await loadConfig(write(file, extras[file]!(model)));
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    await expect(runSuite(config, { ...options, backend: 'cpu' })).rejects.toThrow(message);
    expect(tf.memory().numTensors).toBe(before);
  });
});
