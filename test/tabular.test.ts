import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { runAttack } from '../src/attacks/run.js';
import { loadCsv } from '../src/data/csv.js';
import { makeDataset } from '../src/data/dataset.js';
import type { Dataset } from '../src/data/types.js';
import { loadModel, type LoadedModel } from '../src/models/load.js';
import { scaleFeatures, scaleInputs } from '../src/models/scaled.js';
import type { Model } from '../src/models/types.js';
import { loadConfig, parseConfig } from '../src/suite/config.js';
import { runSuite } from '../src/suite/run.js';
import { resolveFeatures, type ResolvedFeatures } from '../src/suite/features.js';
import { UsageError } from '../src/errors.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';

/**
 * The tabular example (examples/tabular): its binary model, its feature constraints in feature units,
 * and the validity of every attack's output in the features' own units.
 */
const CONFIG = 'examples/tabular/robust.config.json';
const NAMES = ['amount', 'distance_km', 'hour', 'tx_24h', 'account_age_days', 'channel_web', 'channel_app', 'channel_pos'];
const F = NAMES.length;

describe('resolveFeatures', () => {
  const bounds = { min: 0, max: [5000, 2000, 23, 40, 3650, 1, 1, 1] };

  it('turns names into a mask, grid spacings in scaled units, one-hot index groups and per-feature bounds', () => {
    const r = resolveFeatures(
      { bounds: { amount: [1, 4000] }, scale: { amount: 100, tx_24h: 2 }, immutable: ['account_age_days', 1], integer: ['hour', 'tx_24h'], oneHot: [['channel_web', 'channel_app', 7]] },
      NAMES,
      F,
      bounds,
    );
    expect(Array.from(r.scale)).toEqual([100, 1, 1, 2, 1, 1, 1, 1]);
    expect(Array.from(r.mask ?? [])).toEqual([1, 0, 1, 1, 0, 1, 1, 1]);
    expect(Array.from(r.constraints.grid ?? [])).toEqual([0, 0, 1, 0.5, 0, 0, 0, 0]);
    expect(r.constraints.oneHot).toEqual([[5, 6, 7]]);
    expect(r.bounds).toEqual({ min: [1, 0, 0, 0, 0, 0, 0, 0], max: [4000, 2000, 23, 40, 3650, 1, 1, 1] });
  });

  it('refuses unknown features, bad bounds and a scaled one-hot member, naming the entry', () => {
    expect(() => resolveFeatures({ immutable: ['amout'] }, NAMES, F, bounds)).toThrow(/no feature named "amout"/);
    expect(() => resolveFeatures({ integer: [8] }, NAMES, F, bounds)).toThrow(UsageError);
    expect(() => resolveFeatures({ bounds: { hour: [5, 1] } }, NAMES, F, bounds)).toThrow(/min < max/);
    expect(() => resolveFeatures({ scale: { channel_app: 2 }, oneHot: [['channel_web', 'channel_app']] }, NAMES, F, bounds)).toThrow(/scale must be 1/);
  });
});

describe('robust attack on a single-output model', () => {
  const args = ['attack', '--model', 'examples/tabular/model', '--data', 'csv:examples/tabular/test.csv', '--n', '20', '--attack', 'fgsm', '--eps', '1', '--backend', 'cpu'];

  it('attacks it as 2 classes, and --model-output refuses a multi-class reading with exit 2', async () => {
    const ok = await runCli(...args);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/clean accuracy/);
    const bad = await runCli(...args, '--model-output', 'softmax');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/output: softmax is for a model with two or more outputs/);
  });
});

describe.each(TEST_BACKENDS)('the tabular example on %s', (backend) => {
  let loaded: LoadedModel;
  let model: Model;
  let raw: Dataset;
  let ds: Dataset;
  let features: ResolvedFeatures;

  beforeAll(async () => {
    await activate(backend);
    const { config } = await loadConfig(CONFIG);
    loaded = await loadModel(config.model.path, { ...(config.model.output ? { output: config.model.output } : {}) });
    const full = await loadCsv('examples/tabular/test.csv');
    // The first 60 examples keep the test short.
    raw = makeDataset({ x: full.x.slice(0, 60 * F), y: full.y.slice(0, 60), shape: full.shape, source: full.source, featureNames: full.featureNames ?? [] });
    features = resolveFeatures(config.features ?? {}, raw.featureNames, F, loaded.bounds);
    model = scaleInputs(loaded, features.scale, features.bounds);
    ds = makeDataset({ x: scaleFeatures(raw.x, features.scale), y: raw.y, shape: raw.shape, source: raw.source });
  });
  afterAll(() => model.dispose());

  it('is a single-sigmoid binary model, read as two logits with the sigmoid stripped', () => {
    expect(raw.featureNames).toEqual(NAMES);
    expect(loaded).toMatchObject({ numClasses: 2, output: 'sigmoid', sigmoidStripped: true, inputShape: [F] });
  });

  it('the view in feature units predicts exactly what the model does on raw features', async () => {
    await noLeak(async () => {
      const u = tf.tensor2d(ds.x, [ds.n, F]);
      const x = tf.tensor2d(raw.x, [raw.n, F]);
      const a = model.predict(u);
      const b = loaded.predict(x);
      const [av, bv] = [(await a.data()) as Float32Array, (await b.data()) as Float32Array];
      av.forEach((v, i) => expect(v).toBeCloseTo(bv[i] as number, 3));
      tf.dispose([u, x, a, b]);
    });
  });

  it.each([
    ['pgd', 'linf', [0.5, 1, 2]],
    ['pgd', 'l2', [1, 2]],
    ['fgsm', 'linf', [1, 2]],
    ['deepfool', 'l2', null],
  ] as const)('%s (%s): adversarial rows are valid in the features’ own units and the verdict is the model’s own', async (name, norm, eps) => {
    const report = await noLeak(() =>
      runAttack(model, ds, { name, norm, eps: eps === null ? null : [...eps], options: { seed: 1, mask: features.mask, constraints: features.constraints } }, { keepAdversarial: true, batchSize: 30 }),
    );
    let broken = 0;
    for (const r of report.results) {
      const adv = r.xAdv as Float32Array;
      const x = Array.from(adv, (u, i) => u * (features.scale[i % F] as number));
      const predicted = await noLeak(async () => {
        const t = tf.tensor2d(adv, [ds.n, F]);
        const top = tf.tidy(() => tf.argMax(model.predict(t), 1));
        const out = Array.from((await top.data()) as Int32Array);
        tf.dispose([t, top]);
        return out;
      });
      for (let i = 0; i < ds.n; i++) {
        const row = x.slice(i * F, (i + 1) * F);
        const clean = Array.from(raw.x.slice(i * F, (i + 1) * F));
        for (const f of [2, 3, 4]) expect(Math.abs((row[f] as number) - Math.round(row[f] as number))).toBeLessThan(1e-3);
        expect(row[4]).toBe(clean[4]); // account_age_days is immutable
        expect([...row.slice(5)].sort()).toEqual([0, 0, 1]);
        row.forEach((v, f) => {
          const lo = (features.bounds.min as number[])[f] as number;
          const hi = (features.bounds.max as number[])[f] as number;
          expect(v).toBeGreaterThanOrEqual(lo - 1e-3);
          expect(v).toBeLessThanOrEqual(hi + 1e-3);
        });
        expect(r.isAdversarial[i]).toBe(predicted[i] !== ds.y[i] ? 1 : 0);
        if (r.isAdversarial[i] && predicted[i] !== ds.y[i]) broken++;
      }
    }
    // The attacks do find valid adversarial examples: the test would be empty otherwise.
    expect(broken).toBeGreaterThan(0);
  });
});

describe('the tabular suite', () => {
  it('applies units, mask and constraints as the library does: suite and runAttack agree on FGSM (deterministic) example by example', async () => {
    await activate('cpu');
    const { config: shipped } = await loadConfig(CONFIG);
    const text = JSON.stringify({
      model: { path: 'model/model.json', output: 'sigmoid' },
      data: { source: 'csv:test.csv', n: 40, sample: 'first' },
      features: shipped.features,
      backend: 'cpu',
      attacks: [{ name: 'fgsm', norm: 'linf', eps: [1, 2] }],
      thresholds: { cleanAccuracy: 0.5 },
      perExample: true,
      samples: 0,
    });
    const config = parseConfig(text, 'tabular.json', 'examples/tabular');
    const result = await runSuite({ config, path: null, sha256: '' });
    expect(result.verdict.status).toBe('pass');
    expect(result.attacks[0]?.params.constraints).toBe('3 gridded (integer) features, 1 one-hot groups');

    const loaded = await loadModel('examples/tabular/model', { output: 'sigmoid' });
    const full = await loadCsv('examples/tabular/test.csv');
    const features = resolveFeatures(shipped.features ?? {}, full.featureNames, F, loaded.bounds);
    const model = scaleInputs(loaded, features.scale, features.bounds);
    const ds = makeDataset({ x: scaleFeatures(full.x.slice(0, 40 * F), features.scale), y: full.y.slice(0, 40), shape: [F], source: 'first 40' });
    const direct = await runAttack(model, ds, { name: 'fgsm', norm: 'linf', eps: [1, 2], options: { mask: features.mask, constraints: features.constraints } });
    model.dispose();
    for (const r of direct.results) expect(result.examples?.robust[`fgsm@linf:${r.eps}`]).toEqual(Array.from(r.robust));
  });
});
