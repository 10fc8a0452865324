import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { runAttack } from '../src/attacks/run.js';
import { pgd } from '../src/attacks/pgd.js';
import { loadDataset, type LoadedDataset } from '../src/data/index.js';
import { loadModel } from '../src/models/load.js';
import type { Model } from '../src/models/types.js';
import { bitDepth } from '../src/defenses/bitDepth.js';
import { compose } from '../src/defenses/defended.js';
import { detectionCurve, squeezingScores, thresholdAt } from '../src/defenses/detector.js';
import { randomNoise } from '../src/defenses/noise.js';
import { loadConfig } from '../src/suite/config.js';
import { runSuite } from '../src/suite/run.js';
import { activate, noLeak } from './helpers/backends.js';

/**
 * Defences against robust's reference MNIST CNN, on wasm (a CNN gradient costs ~10 ms there against
 * ~200 ms on cpu; the transforms themselves are checked on both backends in defenses-transforms).
 */
const MODEL = 'models/mnist-cnn/model.json';
const HAVE_MODEL = existsSync(MODEL);
const N = 50;
const GRADIENT_CHECK = 'gradients are finite and non-zero on most inputs';

let data: LoadedDataset;
let dir: string;
beforeAll(async () => {
  if (!HAVE_MODEL) return;
  await activate('wasm');
  data = await loadDataset('mnist:test', { n: N });
  dir = mkdtempSync(join(tmpdir(), 'robust-defenses-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Accuracy of `judge` on `x` against the dataset's first labels. */
function accuracyOf(judge: Model, x: tf.Tensor): number {
  const predicted = tf.tidy(() => tf.argMax(judge.predict(x), 1).dataSync() as Int32Array);
  return predicted.reduce((a, p, i) => a + (p === data.y[i] ? 1 : 0), 0) / predicted.length;
}

describe.skipIf(!HAVE_MODEL)(`defences on ${MODEL} (wasm)`, () => {
  it('BPDA: naive PGD on 2-bit depth reduction reports near-clean accuracy; BPDA PGD brings it to the undefended number', async () => {
    const spec = { name: 'pgd', eps: [0.2], options: { steps: 20, seed: 0 } };
    const base = await loadModel(MODEL);
    const undefended = (await runAttack(base, data, spec)).results[0]?.robustAccuracy ?? Number.NaN;
    base.dispose();
    const defended = compose(await loadModel(MODEL), [bitDepth({ bits: 2 })]);
    const naive = await runAttack(defended.naive, data, spec);
    const adaptive = await runAttack(defended.adaptive, data, spec);
    defended.dispose();
    expect(naive.cleanAccuracy).toBeGreaterThan(0.95);
    const [fooled, honest] = [naive.results[0]?.robustAccuracy ?? Number.NaN, adaptive.results[0]?.robustAccuracy ?? Number.NaN];
    expect(fooled).toBeGreaterThan(0.9);
    expect(honest).toBeLessThanOrEqual(undefended + 0.06);
    expect(fooled - honest).toBeGreaterThan(0.8);
  });

  it('the suite evaluates the defence a suite file names; its gradient check flags the naive run and passes the adaptive one', async () => {
    const suite = (name: string, adaptive: boolean) => {
      const path = join(dir, `${name}.json`);
      writeFileSync(path, JSON.stringify({
        model: { path: resolve(MODEL) },
        data: { source: 'mnist:test', n: 20 },
        backend: 'wasm',
        attacks: [{ name: 'pgd', eps: 0.2, options: { steps: 10 } }],
        defenses: [{ name: 'bit-depth', bits: 2 }],
        adaptive,
        samples: 0,
      }));
      return path;
    };
    const naive = await runSuite(await loadConfig(suite('naive', false)));
    const adaptive = await runSuite(await loadConfig(suite('adaptive', true)));
    expect(naive.checks.find((c) => c.name === GRADIENT_CHECK)?.status).toBe('failed');
    expect(naive.verdict.unreliable).toBe(true);
    expect(adaptive.checks.find((c) => c.name === GRADIENT_CHECK)?.status).toBe('ok');
    const robust = (r: typeof naive) => r.attacks[0]?.results[0]?.robustAccuracy.value ?? Number.NaN;
    expect(robust(naive)).toBeGreaterThan(robust(adaptive) + 0.5);
  });

  it('EOT: averaging gradients over noise draws beats attacking one draw per step', async () => {
    const n = 30;
    const x = tf.tensor(data.x.subarray(0, n * 784), [n, 28, 28, 1]);
    const y = data.y.subarray(0, n);
    const defended = compose(await loadModel(MODEL), [randomNoise({ sigma: 0.3 })], { eotSamples: 8 });
    // An independent judge: the 64-draw average under another seed, so neither attack saw its draws.
    const judge = compose(await loadModel(MODEL), [randomNoise({ sigma: 0.3 })], { eotSamples: 64, seed: 'judge' });
    const options = { eps: 0.15, steps: 10, seed: 0 };
    const single = await pgd(defended.naive, x, y, options);
    const eot = await pgd(defended.adaptive, x, y, options);
    const [clean, afterSingle, afterEot] = [accuracyOf(judge.adaptive, x), accuracyOf(judge.adaptive, single.xAdv), accuracyOf(judge.adaptive, eot.xAdv)];
    tf.dispose([x, single.xAdv, eot.xAdv]);
    defended.dispose();
    judge.dispose();
    expect(clean).toBeGreaterThan(0.7);
    expect(afterSingle).toBeGreaterThan(afterEot + 0.15);
    expect(afterEot).toBeLessThan(0.5 * clean);
  });

  it('feature-squeezing detector: flags most PGD examples at a 5% false-positive rate on clean digits', async () => {
    const model = await loadModel(MODEL);
    const x = tf.tensor(data.x, [N, 28, 28, 1]);
    const attack = await pgd(model, x, data.y, { eps: 0.3, steps: 20, seed: 0 });
    const [clean, adversarial] = await noLeak(async () => [await squeezingScores(model, x), await squeezingScores(model, attack.xAdv)]);
    const broken = Float32Array.from(Array.from(adversarial).filter((_, i) => attack.isAdversarial[i]));
    tf.dispose([x, attack.xAdv]);
    model.dispose();
    expect(clean.every((s) => s >= 0 && s <= 2)).toBe(true); // an L1 distance between distributions
    expect(broken.length).toBeGreaterThan(0.9 * N);
    const [point] = detectionCurve(clean, broken, [0.05]);
    expect(point?.threshold).toBe(thresholdAt(clean, 0.05));
    expect(point?.falsePositiveRate).toBeLessThanOrEqual(0.05);
    expect(point?.detectionRate).toBeGreaterThan(0.9);
  });
});
