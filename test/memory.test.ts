import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../src/tf.js';
import { InputError, UsageError } from '../src/errors.js';
import { HEADROOM, estimateMemory, formatBytes, parseSize, planBatch, planBatchSize, type BatchPlan } from '../src/util/memory.js';
import { runAttack, type AttackReport, type AttackSpec } from '../src/attacks/run.js';
import { makeDataset, type Dataset } from '../src/data/index.js';
import { loadConfig } from '../src/suite/config.js';
import { runSuite } from '../src/suite/run.js';
import type { Model } from '../src/models/types.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';
import { normals, uniforms } from './attacks.fixtures.js';
import { linearWeights, writeLinearData, writeLinearGraphModel } from './fixtures/suite-fixtures.js';

/**
 * x [b, s, s, c] → conv 3×3 'same' with f filters → − 0.1 → ReLU → flatten → dense k. Fixed weights from a
 * seeded stream. Its forward activations per example are known in closed form: the input s²c, the
 * convolution's, the shift's and the ReLU's s²f each, and the logits k floats (the flatten is a view).
 */
function convModel(s: number, c: number, f: number, k: number): Model & { activationBytes: number } {
  const kernel = tf.tensor4d(normals(9 * c * f, 'kernel').map((v) => v * 0.5), [3, 3, c, f]);
  const d = s * s * f;
  const W = tf.tensor2d(normals(d * k, `dense${s}`).map((v) => (v * 2) / Math.sqrt(d)), [d, k]);
  return {
    name: `conv-${s}`,
    inputShape: [s, s, c],
    numClasses: k,
    bounds: { min: 0, max: 1 },
    access: 'gradients',
    activationBytes: 4 * (s * s * c + 3 * s * s * f + k),
    predict: (x) => tf.tidy(() => tf.matMul(tf.reshape(tf.relu(tf.sub(tf.conv2d(x as tf.Tensor4D, kernel, 1, 'same'), 0.1)), [-1, d]), W) as tf.Tensor2D),
    dispose: () => tf.dispose([kernel, W]),
  };
}

/** n uniform inputs in [0, 1], labelled by the model itself so that every example is attacked. */
function dataFor(model: Model, n: number, seed: string): Dataset {
  const x = Float32Array.from(uniforms(n * model.inputShape.reduce((a, b) => a * b, 1), seed));
  const y = tf.tidy(() => tf.argMax(model.predict(tf.tensor(x, [n, ...model.inputShape])), 1));
  const labels = Int32Array.from(y.dataSync());
  y.dispose();
  return makeDataset({ x, y: labels, shape: model.inputShape, source: `synthetic:${seed}` });
}

/** Everything a report says per example, for exact comparison. */
function outcome(r: AttackReport) {
  return {
    cleanCorrect: Array.from(r.cleanCorrect),
    results: r.results.map((e) => ({
      eps: e.eps,
      robust: Array.from(e.robust),
      isAdversarial: Array.from(e.isAdversarial),
      linf: Array.from(e.norms.linf),
      l2: Array.from(e.norms.l2),
      xAdv: Array.from(e.xAdv ?? []),
    })),
    gradientEvaluations: r.timing.gradientEvaluations,
    queries: r.timing.queries,
  };
}

describe('parseSize', () => {
  const good: [string, number][] = [
    ['512M', 512 * 2 ** 20],
    ['2G', 2 ** 31],
    ['1.5GiB', 1.5 * 2 ** 30],
    ['800MB', 800e6],
    ['3 gb', 3e9],
    ['1k', 1024],
    ['0.5K', 512],
    ['1024', 1024],
    ['64b', 64],
    [' 2T ', 2 * 2 ** 40],
  ];
  it.each(good)('%s is %d bytes', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  const bad = ['', 'abc', '-1G', '0', '0.1', '2X', '1..5G', 'G', '1e9', '2 G B', '99999999999T'];
  it.each(bad)('"%s" is a one-line UsageError naming the flag and the text', (text) => {
    let err: unknown;
    try {
      parseSize(text, '--max-memory');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toContain('--max-memory');
    expect(message).toContain(`"${text}"`);
  });

  it('formats sizes back', () => {
    expect(formatBytes(1.5 * 2 ** 30)).toBe('1.5 GiB');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(300 * 2 ** 20)).toBe('300 MiB');
  });
});

describe('planBatchSize', () => {
  beforeAll(async () => activate('cpu'));
  it('takes the largest batch that fits, never more than asked', () => {
    expect(planBatchSize({ requested: 100, perExampleBytes: 10, fixedBytes: 5, maxBytes: 105 })).toBe(10);
    expect(planBatchSize({ requested: 100, perExampleBytes: 10, fixedBytes: 5, maxBytes: 114 })).toBe(10);
    expect(planBatchSize({ requested: 100, perExampleBytes: 10, fixedBytes: 5, maxBytes: 115 })).toBe(11);
    expect(planBatchSize({ requested: 100, perExampleBytes: 10, fixedBytes: 5, maxBytes: 1e9 })).toBe(100);
    expect(planBatchSize({ requested: 7, perExampleBytes: 10, fixedBytes: 5, maxBytes: Infinity })).toBe(7);
    expect(planBatchSize({ requested: 100, perExampleBytes: 10, fixedBytes: 5, maxBytes: 15 })).toBe(1);
  });

  it('refuses, in one line that says what to do, when not even one example fits', () => {
    const run = () => planBatchSize({ requested: 100, perExampleBytes: 10 * 2 ** 20, fixedBytes: 2 ** 20, maxBytes: 8 * 2 ** 20, what: 'pgd on inputs of shape [224, 224, 3]' });
    expect(run).toThrow(InputError);
    expect(run).toThrow(/^pgd on inputs of shape \[224, 224, 3\] needs about 11 MiB of tensor memory for a batch of one, but the memory budget leaves 8 MiB; raise --max-memory/);
    expect(() => planBatchSize({ requested: 0, perExampleBytes: 1, fixedBytes: 0, maxBytes: 10 })).toThrow(UsageError);
  });

  it('planBatch adds headroom, extra copies and state, and subtracts what is in use', () => {
    const inUse = tf.memory().numBytes;
    const estimate = { perExampleBytes: 1000, fixedBytes: 400, gradients: true };
    // Per example: 1.25 · (1000 · 2 copies + 100 · 4 inputs) = 3000; fixed 1.25 · 400 = 500.
    const plan = planBatch(estimate, { requested: 50, maxBytes: inUse + 500 + 7 * 3000 + 2999, copies: 2, stateCopies: 4, inputBytes: 100 });
    expect(HEADROOM).toBe(1.25);
    expect(plan).toEqual({ requested: 50, batchSize: 7, perExampleBytes: 3000, fixedBytes: 500, maxBytes: inUse + 500 + 7 * 3000 + 2999, inUseBytes: inUse });
    expect(planBatch(estimate, { requested: 50, maxBytes: inUse + 500 + 7 * 3000, stateCopies: 4, inputBytes: 100, multipleOf: 2 }).batchSize).toBe(12);
    expect(() => planBatch(estimate, { requested: 50, maxBytes: inUse + 3499, copies: 2, stateCopies: 4, inputBytes: 100 })).toThrow(InputError);
  });
});

describe.each(TEST_BACKENDS)('estimateMemory on %s', (backend) => {
  beforeAll(async () => activate(backend));

  it('measures per-example bytes within a stated factor of the analytic activations, linear in input size', async () => {
    const per: number[] = [];
    for (const s of [8, 16, 24]) {
      const model = convModel(s, 3, 4, 10);
      try {
        const forward = await noLeak(() => estimateMemory(model, { gradients: false }));
        const grad = await noLeak(() => estimateMemory(model));
        expect(grad.gradients).toBe(true);
        // Forward: every activation is alive at the end, the flatten view counted once more by TF.js
        // (it counts tensors, not buffers), so between 1 and 1.5 times the analytic sum.
        expect(forward.perExampleBytes).toBeGreaterThanOrEqual(model.activationBytes);
        expect(forward.perExampleBytes).toBeLessThanOrEqual(1.5 * model.activationBytes);
        // Forward and input gradient: the tape holds every activation while their gradients are made: 2 to 5 times.
        expect(grad.perExampleBytes).toBeGreaterThanOrEqual(2 * model.activationBytes);
        expect(grad.perExampleBytes).toBeLessThanOrEqual(5 * model.activationBytes);
        per.push(grad.perExampleBytes);
      } finally {
        model.dispose();
      }
    }
    // Activations grow with the pixel count s²: a line through s = 8 and 16 predicts s = 24.
    const slope = (per[1]! - per[0]!) / (16 ** 2 - 8 ** 2);
    expect(per[2]!).toBeCloseTo(per[1]! + slope * (24 ** 2 - 16 ** 2), -1);
  });

  it('is linear in the batch: fixed + 4 · per-example is the measured peak of four examples', async () => {
    const model = convModel(12, 3, 4, 10);
    try {
      const e = estimateMemory(model);
      const start = tf.memory().numBytes;
      const x = tf.fill([4, 12, 12, 3], 0.5);
      const profile = await tf.profile(() => {
        const labels = tf.tensor1d([0, 0, 0, 0], 'int32');
        tf.dispose(tf.grad((v: tf.Tensor) => tf.sum(tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 10), model.predict(v))))(x));
        labels.dispose();
      });
      x.dispose();
      // The probe's loss differs from this one by a few [b, k] tensors; the activations dominate.
      expect(Math.abs(profile.peakBytes - start - (e.fixedBytes + 4 * e.perExampleBytes))).toBeLessThan(0.05 * 4 * e.perExampleBytes);
    } finally {
      model.dispose();
    }
  });
});

describe.each(TEST_BACKENDS)('memory-bounded runAttack on %s', (backend) => {
  let model: ReturnType<typeof convModel>;
  let ds: Dataset;
  beforeAll(async () => {
    await activate(backend);
    model = convModel(10, 3, 6, 10);
    ds = dataFor(model, 14, 'mem');
  });
  afterAll(() => model.dispose());

  const specs: AttackSpec[] = [
    { name: 'pgd', eps: [0.02, 0.05], options: { steps: 4 } },
    { name: 'deepfool', eps: null, options: { steps: 3 } },
    { name: 'cw', eps: null, options: { steps: 4, binarySteps: 2 } },
  ];
  it.each(specs.map((s) => [s.name, s] as const))('%s: a tight budget shrinks the batch, bounds the peak and changes no result', async (_name, spec) => {
    if (backend === 'wasm' && spec.name !== 'pgd') return; // the batch logic is backend-free; one attack covers wasm
    const plans: BatchPlan[] = [];
    const free = await noLeak(() => runAttack(model, ds, spec, { batchSize: 100, keepAdversarial: true, maxMemoryBytes: Infinity, onBatchPlan: (p) => plans.push(p) }));
    expect(plans).toHaveLength(1);
    const unbounded = plans[0]!;
    expect(unbounded.batchSize).toBe(14);
    // A budget for three examples: the batch shrinks to 3, and the run never holds more tensor memory than that.
    const budget = unbounded.inUseBytes + unbounded.fixedBytes + 3.5 * unbounded.perExampleBytes;
    const start = tf.memory().numBytes;
    let tight: AttackReport | undefined;
    const profile = await tf.profile(async () => {
      tight = await noLeak(() => runAttack(model, ds, spec, { batchSize: 100, keepAdversarial: true, maxMemoryBytes: budget, onBatchPlan: (p) => plans.push(p) }));
    });
    expect(plans).toHaveLength(2);
    expect(plans[1]!.batchSize).toBe(3);
    expect(profile.peakBytes).toBeLessThanOrEqual(budget);
    // Not vacuous: all 14 at once need more than the budget.
    const startAll = tf.memory().numBytes;
    const all = await tf.profile(async () => {
      await runAttack(model, ds, spec, { batchSize: 100 });
    });
    expect(all.peakBytes - startAll + start).toBeGreaterThan(budget);
    expect(outcome(tight!)).toEqual(outcome(free));
  });

  it('a budget too small for one example is an InputError before any work, and leaks nothing', async () => {
    const tiny = tf.memory().numBytes + 1000;
    await noLeak(async () => {
      await expect(runAttack(model, ds, specs[0]!, { maxMemoryBytes: tiny })).rejects.toThrow(InputError);
    });
  });
});

describe('the CLI', () => {
  let dir: string;
  let modelPath: string;
  let data: { x: string; y: string };
  const { W, b } = linearWeights('memory');
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'robust-memory-'));
    modelPath = writeLinearGraphModel(join(dir, 'model'), W, b);
    data = await writeLinearData(join(dir, 'data'), 40, W, b, 'memory');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const attack = (...extra: string[]) =>
    runCli('--backend', 'cpu', ...extra, 'attack', '--model', modelPath, '--x', data.x, '--y', data.y, '--attack', 'pgd', '--eps', '0.05', '--steps', '5');

  it('rejects a malformed --max-memory with exit 2 and one line', async () => {
    const r = await attack('--max-memory', '12Q');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^robust: --max-memory: expected a size such as 512M, 2G or 1\.5GiB.*got "12Q"$/);
  });

  it('exits 2 with one line when one example does not fit', async () => {
    const r = await attack('--max-memory', '1K');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^robust: pgd on inputs of shape \[16\] needs about .* of tensor memory for a batch of one, but the memory budget leaves .*; raise --max-memory/);
  });

  it('says once when it shrinks the batch, prints the plan under --verbose, and reports the same numbers', async () => {
    const plain = await attack('--quiet');
    expect(plain.code).toBe(0);
    const verbose = await attack('--quiet', '--verbose');
    const chosen = /^pgd: batch size 40: about (\d+(?:\.\d+)?) KiB per example/m.exec(verbose.stderr);
    expect(chosen).not.toBeNull();
    const perExample = Number(chosen![1]) * 1024;
    // Room for about 10 examples on top of the weights and the probe's fixed cost.
    const tight = await attack('--quiet', '--max-memory', `${Math.round((10.5 * perExample) / 1024)}K`);
    expect(tight.code).toBe(0);
    const notes = tight.stderr.split('\n').filter((l) => l.startsWith('robust: note: pgd: batch size'));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/batch size (9|10) \(asked 40\)/);
    const table = (s: string) => s.split('\n').filter((l) => !/ s$/.test(l)).join('\n'); // timings differ
    expect(table(tight.stdout)).toBe(table(plain.stdout));
  });

  it('robust test: a tight budget shrinks every stage and leaves the result unchanged', async () => {
    const cfg = {
      model: { path: modelPath },
      data: { source: { x: data.x, y: data.y } },
      backend: 'cpu',
      seed: 3,
      batchSize: 40,
      attacks: [{ name: 'pgd', eps: [0.02, 0.05], options: { steps: 5 } }, { name: 'deepfool' }],
      certify: { sigma: 0.25, n0: 10, samples: 400, batchSize: 400 },
      samples: 0,
      perExample: true,
    };
    const path = join(dir, 'suite.json');
    writeFileSync(path, JSON.stringify(cfg));
    const free: Record<string, BatchPlan> = {};
    const one = await runSuite(await loadConfig(path), { maxMemoryBytes: Infinity, onBatchPlan: (stage, plan) => (free[stage] = plan) });
    expect(Object.keys(free).sort()).toEqual(['certify', 'clean', 'deepfool@l2', 'pgd@linf']);
    const fit = (p: BatchPlan) => p.inUseBytes + p.fixedBytes + 4.5 * p.perExampleBytes;
    // The budget the costliest stage needs for four examples: every stage must shrink below what it asked.
    const budget = Math.floor(Math.max(...Object.values(free).map(fit)));
    const tight: Record<string, BatchPlan> = {};
    const two = await runSuite(await loadConfig(path), { maxMemoryBytes: budget, onBatchPlan: (stage, plan) => (tight[stage] = plan) });
    for (const stage of Object.keys(free)) expect(tight[stage]!.batchSize).toBeLessThan(free[stage]!.requested);
    const strip = (r: typeof one) => ({ ...r, manifest: { ...r.manifest, seconds: 0, startedAt: '', endedAt: '' }, attacks: r.attacks.map((a) => ({ ...a, seconds: 0 })), certification: r.certification ? { ...r.certification, seconds: 0 } : undefined });
    expect(strip(two)).toEqual(strip(one));
  });
});
