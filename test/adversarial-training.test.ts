/**
 * Adversarial training (src/training/{trainingStep,pgdTraining,trades,fastTraining,adversarial}.ts,
 * `robust train`). Oracles: on a two-class linear model the inner maximisations have closed forms and so does
 * the weight update; on a non-linear one the PGD training examples are the pgd attack's own output; TRADES with
 * β = 0 is a natural step; seeds reproduce weights; a resumed run (in-process, and a CLI process killed with
 * SIGKILL) ends bit-identical to an uninterrupted one; and on a Tsipras et al. task adversarial training buys
 * robust accuracy that natural training does not have.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../src/tf.js';
import { InputError, UsageError } from '../src/errors.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';
import { tempDirs } from './helpers/tmp.js';
import { makeRng, rowRng } from '../src/tensor/random.js';
import type { Dataset } from '../src/data/types.js';
import { writeDataset } from '../src/data/index.js';
import { saveLayersModel } from '../src/models/save.js';
import { naturalTrainingStep, type Classifier } from '../src/training/trainingStep.js';
import { pgdTrainingExamples, pgdTrainingStep } from '../src/training/pgdTraining.js';
import { fastTrainingExamples, fastTrainingStep } from '../src/training/fastTraining.js';
import { tradesExamples, tradesStep } from '../src/training/trades.js';
import { trainAdversarially, type AdversarialTrainingOptions } from '../src/training/adversarial.js';
import { trainClassifier } from '../src/training/train.js';
import { learningRateAt, parseSchedule } from '../src/training/schedule.js';
import { CHECKPOINT_FILE, readCheckpoint } from '../src/training/checkpoint.js';
import { pgd } from '../src/attacks/pgd.js';
import { labelledByModel, mlpModel } from './attacks.fixtures.js';

const dirs = tempDirs('robust-at-');
afterAll(() => dirs.cleanup());

// ---------- a two-class linear model: every inner maximisation has a closed form ----------

const D = 6;
const W0 = [0.9, -0.4, 0.7, -1.1, 0.3, -0.6, -0.5, 0.8, -0.2, 0.6, -0.9, 0.4]; // [D, 2] row-major
const B0 = [0.1, -0.1];

interface Linear extends Classifier {
  dispose(): void;
}

function linear(bounds = { min: 0, max: 1 }): Linear {
  const w = tf.variable(tf.tensor2d(W0, [D, 2]));
  const b = tf.variable(tf.tensor1d(B0));
  return {
    logits: (x) => tf.tidy(() => tf.add(tf.matMul(x as tf.Tensor2D, w), b)),
    variables: [w, b],
    bounds,
    dispose: () => tf.dispose([w, b]),
  };
}

/** sign(w_y − w_other) per feature: CE of a two-class linear model falls fastest along it. */
const favour = (label: number): number[] => Array.from({ length: D }, (_, i) => Math.sign(W0[i * 2 + label]! - W0[i * 2 + 1 - label]!));
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

// Points near both bounds, so clipping matters.
const X = [
  [0.05, 0.95, 0.5, 0.2, 0.8, 0.0],
  [1.0, 0.1, 0.3, 0.9, 0.45, 0.6],
  [0.5, 0.5, 0.02, 0.98, 0.7, 0.25],
  [0.33, 0.66, 0.9, 0.1, 0.0, 1.0],
];
const Y = Int32Array.from([0, 1, 1, 0]);
const IDS = [17, 3, 42, 8];

async function rows(t: tf.Tensor): Promise<number[][]> {
  return (await t.array()) as number[][];
}

/** Read back a batch a function returns, dispose it, and check nothing else was left behind. */
async function batchFrom(make: () => tf.Tensor): Promise<number[][]> {
  return noLeak(async () => {
    const t = make();
    const values = await rows(t);
    t.dispose();
    return values;
  });
}

/** Softmax cross-entropy and KL, in float64, from logits computed in JS. */
function logitsOf(x: number[], w = W0, b = B0): number[] {
  return [0, 1].map((k) => b[k]! + x.reduce((s, v, i) => s + v * w[i * 2 + k]!, 0));
}
function logSoftmax(z: number[]): number[] {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
}
function kl(a: number[], b: number[]): number {
  const la = logSoftmax(a);
  const lb = logSoftmax(b);
  return la.reduce((s, v, k) => s + Math.exp(v) * (v - lb[k]!), 0);
}

describe.each(TEST_BACKENDS)('%s: inner maximisations and updates against closed forms', (backend) => {
  beforeAll(() => activate(backend));

  it('PGD training examples are the analytic worst case clip(x − eps·sign(w_y − w_other)) of a linear model', async () => {
    const model = linear();
    const opt = tf.train.sgd(0.1);
    const x = tf.tensor2d(X);
    const got = await batchFrom(() => pgdTrainingExamples(model, opt, x, Y, { eps: 0.3, steps: 10, seed: 's', ids: IDS }));
    X.forEach((row, r) => {
      const s = favour(Y[r]!);
      row.forEach((v, i) => expect(got[r]![i]).toBeCloseTo(clamp(v - 0.3 * s[i]!, 0, 1), 6));
    });
    tf.dispose(x);
    opt.dispose();
    model.dispose();
  });

  it("the random start is row-wise rowRng(seed, ids), so an example's start follows its id, not its position", async () => {
    const model = linear();
    const opt = tf.train.sgd(0.1);
    const order = [2, 0, 3, 1];
    const x = tf.tensor2d(X);
    const xp = tf.tensor2d(order.map((r) => X[r]!));
    const start = pgdTrainingExamples(model, opt, x, Y, { eps: 0.3, steps: 0, seed: 's', ids: IDS });
    const permuted = pgdTrainingExamples(model, opt, xp, Int32Array.from(order, (r) => Y[r]!), { eps: 0.3, steps: 0, seed: 's', ids: order.map((r) => IDS[r]!) });
    const u = await rows(rowRng('s', IDS).uniform([4, D], -0.3, 0.3));
    const got = await rows(start);
    X.forEach((row, r) => row.forEach((v, i) => expect(got[r]![i]).toBeCloseTo(clamp(v + u[r]![i]!, 0, 1), 6)));
    expect(await rows(permuted)).toEqual(order.map((r) => got[r]));
    tf.dispose([x, xp, start, permuted]);
    opt.dispose();
    model.dispose();
  });

  it('fast training examples are one FGSM step of 1.25·eps from the seeded uniform start, projected', async () => {
    const model = linear();
    const opt = tf.train.sgd(0.1);
    const x = tf.tensor2d(X);
    const eps = 0.2;
    const got = await batchFrom(() => fastTrainingExamples(model, opt, x, Y, { eps, seed: 7, ids: IDS }));
    const noise = tf.tidy(() => rowRng(7, IDS).uniform([4, D], -eps, eps));
    const u = await rows(noise);
    noise.dispose();
    X.forEach((row, r) => {
      const s = favour(Y[r]!);
      row.forEach((v, i) => {
        const start = clamp(v + u[r]![i]!, 0, 1);
        const expected = clamp(v + clamp(start - 1.25 * eps * s[i]! - v, -eps, eps), 0, 1);
        expect(got[r]![i]).toBeCloseTo(expected, 6);
      });
    });
    tf.dispose(x);
    opt.dispose();
    model.dispose();
  });

  it('TRADES examples move every feature to the same corner x ± eps·sign(w_1 − w_0), and raise the KL', async () => {
    const model = linear({ min: -10, max: 10 });
    const opt = tf.train.sgd(0.1);
    const x = tf.tensor2d(X);
    const eps = 0.25;
    const got = await batchFrom(() => tradesExamples(model, opt, x, { eps, steps: 10, seed: 1, ids: IDS }));
    const d = favour(1);
    X.forEach((row, r) => {
      const sigma = Math.sign(got[r]![0]! - row[0]!) * d[0]!;
      row.forEach((v, i) => expect(got[r]![i]).toBeCloseTo(v + sigma * eps * d[i]!, 6));
      // The start is 0.001·N(0, 1) from x, where the KL is about 1e-7; the ascent carried it far out.
      expect(kl(logitsOf(row), logitsOf(got[r]!))).toBeGreaterThan(1e-3);
    });
    tf.dispose(x);
    opt.dispose();
    model.dispose();
  });

  it('a PGD training step is a gradient step on the analytic worst case (SGD, mean cross-entropy)', async () => {
    const model = linear();
    const opt = tf.train.sgd(0.5);
    const x = tf.tensor2d(X);
    const result = await noLeak(() => pgdTrainingStep(model, opt, x, Y, { eps: 0.3, steps: 10, seed: 's', ids: IDS }));
    const worst = X.map((row, r) => row.map((v, i) => clamp(v - 0.3 * favour(Y[r]!)[i]!, 0, 1)));
    const gradW = new Array<number>(D * 2).fill(0);
    const gradB = [0, 0];
    let loss = 0;
    let correct = 0;
    worst.forEach((row, r) => {
      const ls = logSoftmax(logitsOf(row));
      loss -= ls[Y[r]!]! / X.length;
      if ((ls[1]! > ls[0]! ? 1 : 0) === Y[r]) correct++;
      [0, 1].forEach((k) => {
        const g = (Math.exp(ls[k]!) - (k === Y[r] ? 1 : 0)) / X.length;
        gradB[k]! += g;
        row.forEach((v, i) => (gradW[i * 2 + k]! += v * g));
      });
    });
    expect(result.loss).toBeCloseTo(loss, 5);
    expect(result.accuracy).toBe(correct / X.length);
    const w = Array.from(await model.variables[0]!.data());
    const b = Array.from(await model.variables[1]!.data());
    w.forEach((v, j) => expect(v).toBeCloseTo(W0[j]! - 0.5 * gradW[j]!, 5));
    b.forEach((v, k) => expect(v).toBeCloseTo(B0[k]! - 0.5 * gradB[k]!, 5));
    tf.dispose(x);
    opt.dispose();
    model.dispose();
  });

  it('the TRADES loss is CE(f(x), y) + β·mean KL(f(x) ‖ f(x′)), and with β = 0 a TRADES step is a natural step, bit for bit', async () => {
    const x = tf.tensor2d(X);
    const model = linear({ min: -10, max: 10 });
    const opt = tf.train.sgd(0.1);
    const xAdv = tradesExamples(model, opt, x, { eps: 0.25, steps: 5, seed: 9, ids: IDS });
    const adv = await rows(xAdv);
    xAdv.dispose();
    const beta = 3;
    const expected = X.reduce((s, row, r) => s + (-logSoftmax(logitsOf(row))[Y[r]!]! + beta * kl(logitsOf(row), logitsOf(adv[r]!))) / X.length, 0);
    const { loss } = await noLeak(() => tradesStep(model, opt, x, Y, { eps: 0.25, steps: 5, beta, seed: 9, ids: IDS }));
    expect(loss).toBeCloseTo(expected, 5);
    opt.dispose();
    model.dispose();

    const trades = linear();
    const natural = linear();
    const [optT, optN] = [tf.train.adam(0.05), tf.train.adam(0.05)];
    for (let i = 0; i < 3; i++) {
      const a = await tradesStep(trades, optT, x, Y, { eps: 0.3, beta: 0, seed: i });
      const b = await naturalTrainingStep(natural, optN, x, Y);
      expect(a.loss).toBe(b.loss);
    }
    for (let v = 0; v < 2; v++) expect(Array.from(await trades.variables[v]!.data())).toEqual(Array.from(await natural.variables[v]!.data()));
    expect(Array.from(await trades.variables[0]!.data())).not.toEqual(W0.map(Math.fround));
    tf.dispose(x);
    [optT, optN].forEach((o) => o.dispose());
    [trades, natural].forEach((m) => m.dispose());
  });

  it('fast and natural steps leave no tensor behind and change the weights', async () => {
    const model = linear();
    const opt = tf.train.sgd(0.5);
    const x = tf.tensor2d(X);
    const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(Y, 'int32'), 2));
    await noLeak(() => fastTrainingStep(model, opt, x, oneHot, { eps: 0.2 }));
    const afterFast = Array.from(await model.variables[0]!.data());
    expect(afterFast).not.toEqual(W0.map(Math.fround));
    await noLeak(() => naturalTrainingStep(model, opt, x, oneHot));
    expect(Array.from(await model.variables[0]!.data())).not.toEqual(afterFast);
    tf.dispose([x, oneHot]);
    opt.dispose();
    model.dispose();
  });

  // One PGD (issue 18): the trainers' ascent is the pgd attack's own step and projection, run without the
  // harness. On a non-linear model (so the trajectory, not just a corner, decides the result) the training
  // examples from x equal, bit for bit, what the attack returns with randomStart false and earlyStop false.
  it("PGD training examples from x are the pgd attack's own output (randomStart false, earlyStop false)", async () => {
    const model = mlpModel([D], 16, 3, 'one-pgd');
    const { x, y } = await labelledByModel(model, 12, 'one-pgd/x', 0, 1);
    const classifier: Classifier = { logits: (v) => model.predict(v), variables: [], bounds: model.bounds };
    const opt = tf.train.sgd(0.1);
    const o = { eps: 0.2, steps: 7, stepSize: 0.03 };
    const trained = await batchFrom(() => pgdTrainingExamples(classifier, opt, x, y, { ...o, randomStart: false }));
    const attack = async (stepSize: number): Promise<number[][]> => {
      const r = await pgd(model, x, y, { ...o, stepSize, randomStart: false, earlyStop: false });
      const out = await rows(r.xAdv);
      r.xAdv.dispose();
      return out;
    };
    const attacked = await attack(o.stepSize);
    const clean = await rows(x);
    expect(trained).toEqual(attacked);
    // Not vacuous: another step size takes another path, and the examples moved.
    const other = await attack(0.011);
    expect(other.some((row, r) => row.some((v, i) => Math.abs(v - trained[r]![i]!) > 1e-3))).toBe(true);
    expect(trained.some((row, r) => row.some((v, i) => Math.abs(v - clean[r]![i]!) > 0.1))).toBe(true);
    tf.dispose(x);
    opt.dispose();
    model.dispose();
  });

  it('the PGD and TRADES ascents raise their losses and stay in the eps-ball and the bounds, leaking nothing', async () => {
    const model = mlpModel([D], 16, 3, 'ascent');
    const { x, y } = await labelledByModel(model, 12, 'ascent/x', 0, 1);
    const classifier: Classifier = { logits: (v) => model.predict(v), variables: [], bounds: model.bounds };
    const opt = tf.train.sgd(0.1);
    const eps = 0.15;
    const clean = await rows(x);
    const logitsRow = (row: number[]): number[] => {
      const t = tf.tidy(() => model.predict(tf.tensor2d([row])));
      const v = Array.from(t.dataSync());
      t.dispose();
      return v;
    };
    const cleanLogits = clean.map(logitsRow);
    const ce = (rowsOf: number[][]): number[] => rowsOf.map((row, r) => -logSoftmax(logitsRow(row))[y[r]!]!);
    const klOf = (rowsOf: number[][]): number[] => rowsOf.map((row, r) => kl(cleanLogits[r]!, logitsRow(row)));
    const inBall = (rowsOf: number[][]): void =>
      rowsOf.forEach((row, r) =>
        row.forEach((v, i) => {
          expect(Math.abs(v - clean[r]![i]!)).toBeLessThanOrEqual(eps + 1e-6);
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }),
      );
    const pgdRows = await batchFrom(() => pgdTrainingExamples(classifier, opt, x, y, { eps, steps: 10, seed: 'a' }));
    inBall(pgdRows);
    const before = ce(clean);
    const after = ce(pgdRows);
    expect(after.reduce((a, v) => a + v, 0)).toBeGreaterThan(before.reduce((a, v) => a + v, 0) + 0.5);
    after.forEach((v, r) => expect(v).toBeGreaterThanOrEqual(before[r]! - 1e-6));
    const tradesRows = await batchFrom(() => tradesExamples(classifier, opt, x, { eps, steps: 10, seed: 'a' }));
    inBall(tradesRows);
    expect(klOf(tradesRows).reduce((a, v) => a + v, 0)).toBeGreaterThan(0.05);
    tf.dispose(x);
    opt.dispose();
    model.dispose();
  });
});

// ---------- trainAdversarially ----------

/** A 3-class problem on 6×6×1 images: the class is which third of the image is bright (as in training.test.ts). */
function toyImages(n: number, seed: string): Dataset {
  const rng = makeRng(seed);
  const x = new Float32Array(n * 36);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(3);
    y[i] = c;
    for (let r = 0; r < 6; r++) for (let col = 0; col < 6; col++) x[i * 36 + r * 6 + col] = (Math.floor(col / 2) === c ? 0.8 : 0.1) + 0.1 * rng.float();
  }
  return { x, y, shape: [6, 6, 1], n, source: 'toy', sha256: '' };
}

function tinyCnn(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ name: 'conv', inputShape: [6, 6, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }),
      tfl.layers.flatten({ name: 'flat' }),
      tfl.layers.dense({ name: 'logits', units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

async function weightsOf(m: tfl.LayersModel): Promise<number[]> {
  const out: number[] = [];
  for (const w of m.getWeights()) out.push(...(await w.data()));
  return out;
}

const TOY = toyImages(120, 'toy');
const HOLD = toyImages(40, 'hold');

describe.each(TEST_BACKENDS)('%s: trainAdversarially', (backend) => {
  beforeAll(() => activate(backend));

  it('the same seed gives bit-identical weights for every method, another seed other weights, and nothing leaks', async () => {
    for (const method of ['pgd', 'trades', 'fast'] as const) {
      const run = async (seed: number): Promise<number[]> => {
        const m = tinyCnn(1);
        await noLeak(() =>
          trainAdversarially(m, TOY, { method, eps: 0.1, steps: 3, epochs: 2, batchSize: 30, learningRate: 0.01, seed, augment: { maxShift: 1 }, holdout: HOLD, evalSteps: 3 }),
        );
        const w = await weightsOf(m);
        m.dispose();
        return w;
      };
      const a = await run(5);
      expect(await run(5), method).toEqual(a);
      expect(await run(6), method).not.toEqual(a);
    }
  });

  it('epsRamp trains the first batch at the ramped eps: one batch of a 2-epoch ramp equals training at eps/2', async () => {
    const one = TOY.n;
    const train = async (o: { eps: number; epsRamp?: number; stepSize: number }): Promise<number[]> => {
      const m = tinyCnn(3);
      await trainAdversarially(m, TOY, { method: 'pgd', steps: 2, epochs: 1, batchSize: one, learningRate: 0.01, seed: 2, ...o });
      const w = await weightsOf(m);
      m.dispose();
      return w;
    };
    // One batch per epoch: the first (and only) batch of a 2-epoch ramp sees half the eps and half the step.
    const ramped = await train({ eps: 0.2, epsRamp: 2, stepSize: 0.08 });
    const half = await train({ eps: 0.1, stepSize: 0.04 });
    const full = await train({ eps: 0.2, stepSize: 0.08 });
    expect(ramped).toEqual(half);
    expect(ramped).not.toEqual(full);
    await expect(trainAdversarially(tinyCnn(3), TOY, { method: 'pgd', eps: 0.2, epsRamp: -1, epochs: 1, batchSize: 30 })).rejects.toThrow(/epsRamp must be a number of epochs/);
  });

  it("natural training with resetOptimizer 'epoch' reproduces the per-epoch trainClassifier loop that made models/mnist-cnn", async () => {
    const legacy = tinyCnn(2);
    for (let epoch = 0; epoch < 3; epoch++) {
      await trainClassifier(legacy, TOY, { epochs: 1, batchSize: 32, learningRate: 0.01, seed: `4/epoch${epoch}`, augment: { maxShift: 1 } });
    }
    const now = tinyCnn(2);
    await trainAdversarially(now, TOY, { method: 'natural', epochs: 3, batchSize: 32, learningRate: 0.01, seed: 4, augment: { maxShift: 1 }, resetOptimizer: 'epoch' });
    expect(await weightsOf(now)).toEqual(await weightsOf(legacy));
    // The default carries Adam's moments across epochs, which changes the weights.
    const carried = tinyCnn(2);
    await trainAdversarially(carried, TOY, { method: 'natural', epochs: 3, batchSize: 32, learningRate: 0.01, seed: 4, augment: { maxShift: 1 } });
    expect(await weightsOf(carried)).not.toEqual(await weightsOf(legacy));
    [legacy, now, carried].forEach((m) => m.dispose());
  });
});

describe('checkpoints and resume (in-process)', () => {
  beforeAll(() => activate('cpu'));
  const base: AdversarialTrainingOptions = {
    method: 'pgd',
    eps: 0.1,
    steps: 3,
    epochs: 3,
    batchSize: 30,
    learningRate: 0.02,
    schedule: { kind: 'cyclic' },
    seed: 11,
    holdout: HOLD,
    evalSteps: 3,
  };

  it('a run stopped after epoch 1 and resumed ends bit-identical to an uninterrupted one, Adam state included', async () => {
    const whole = tinyCnn(3);
    const full = await trainAdversarially(whole, TOY, { ...base, checkpoint: { dir: dirs.fresh() } });
    const dir = dirs.fresh();
    const crashed = tinyCnn(3);
    const crash = new Error('simulated crash');
    await expect(
      trainAdversarially(crashed, TOY, {
        ...base,
        checkpoint: { dir },
        onEpoch: (r) => {
          if (r.epoch === 1) throw crash;
        },
      }),
    ).rejects.toBe(crash);
    crashed.dispose();
    expect((await readCheckpoint(dir))?.epoch).toBe(1);
    const resumed = tinyCnn(3);
    const starts: number[] = [];
    const again = await trainAdversarially(resumed, TOY, { ...base, checkpoint: { dir, resume: true }, onStart: (s) => starts.push(s.startEpoch) });
    expect(starts).toEqual([1]);
    expect(again.resumedFrom).toBe(1);
    expect(await weightsOf(resumed)).toEqual(await weightsOf(whole));
    const strip = (h: typeof full.history) => h.map(({ seconds: _s, ...rest }) => rest);
    expect(strip(again.history)).toEqual(strip(full.history));
    expect(full.history.at(-1)!.adversarialAccuracy).not.toBeNull();
    [whole, resumed].forEach((m) => m.dispose());
  });

  it('refuses to resume with other settings or another architecture, and reports a damaged checkpoint', async () => {
    const dir = dirs.fresh();
    const m = tinyCnn(3);
    await trainAdversarially(m, TOY, { ...base, epochs: 1, checkpoint: { dir } });
    m.dispose();
    const fresh = tinyCnn(3);
    await expect(trainAdversarially(fresh, TOY, { ...base, epochs: 1, eps: 0.2, checkpoint: { dir, resume: true } })).rejects.toThrow(UsageError);
    await expect(trainAdversarially(fresh, TOY, { ...base, epochs: 1, eps: 0.2, checkpoint: { dir, resume: true } })).rejects.toThrow(/eps: 0\.1 in the checkpoint, 0\.2 now/);
    await expect(trainAdversarially(tinyCnn(4), TOY, { ...base, epochs: 1, checkpoint: { dir, resume: true } })).rejects.toThrow(/initialWeights/);
    const json = JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')) as { state: string };
    writeFileSync(join(dir, json.state), 'not the saved bytes');
    await expect(trainAdversarially(fresh, TOY, { ...base, epochs: 1, checkpoint: { dir, resume: true } })).rejects.toThrow(InputError);
    await expect(trainAdversarially(fresh, TOY, { ...base, method: 'pgd', eps: undefined })).rejects.toThrow(/needs eps/);
    fresh.dispose();
  });
});

describe('learning-rate schedules', () => {
  const at = (epoch: number, batch: number) => ({ epoch, batch, batches: 10, epochs: 10 });
  it('constant, step, cosine and cyclic (one-cycle) give their textbook values', () => {
    expect(learningRateAt({ kind: 'constant' }, 0.1, at(7, 3))).toBe(0.1);
    // Default milestones at ⌊10/2⌋ = 5 and ⌊30/4⌋ = 7.
    expect([0, 4, 5, 6, 7, 9].map((e) => learningRateAt({ kind: 'step' }, 1, at(e, 0)))).toEqual([1, 1, 0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1]);
    expect(learningRateAt({ kind: 'step', milestones: [2], factor: 0.5 }, 1, at(3, 0))).toBe(0.5);
    expect(learningRateAt({ kind: 'cosine' }, 1, at(0, 0))).toBe(1);
    expect(learningRateAt({ kind: 'cosine' }, 1, at(5, 0))).toBeCloseTo(0.5, 12);
    expect(learningRateAt({ kind: 'cyclic' }, 1, at(3, 9))).toBeCloseTo(1, 12); // t = 4 = 2/5 of 10 epochs: the peak
    expect(learningRateAt({ kind: 'cyclic' }, 1, at(1, 9))).toBeCloseTo(0.5, 12);
    expect(learningRateAt({ kind: 'cyclic' }, 1, at(6, 9))).toBeCloseTo(0.5, 12);
    expect(learningRateAt({ kind: 'cyclic' }, 1, at(9, 9))).toBe(0);
    expect(parseSchedule('step:5,8')).toEqual({ kind: 'step', milestones: [5, 8] });
    expect(() => parseSchedule('linear')).toThrow(UsageError);
    expect(() => parseSchedule('step:x')).toThrow(UsageError);
  });
});

// ---------- the point of it all: a task where natural training is not robust ----------

/**
 * Tsipras, Santurkar, Engstrom, Turner & Madry 2019 ("Robustness May Be at Odds with Accuracy"): y = ±1; one
 * robust feature equal to y with probability 0.95 (margin 1), and 40 non-robust features N(η·y, 1) with η = 0.3,
 * each weak but together almost perfectly predictive. An Linf adversary with eps = 0.5 > η flips every weak
 * feature, so a classifier that relies on them fails, while one that uses the robust feature keeps ~95%.
 */
function tsipras(n: number, seed: string): Dataset {
  const rng = makeRng(seed);
  const d = 41;
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = rng.int(2);
    const s = y[i] === 1 ? 1 : -1;
    x[i * d] = rng.float() < 0.95 ? s : -s;
    for (let j = 1; j < d; j++) {
      const u = 1 - rng.float();
      x[i * d + j] = 0.3 * s + Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.float());
    }
  }
  return { x, y, shape: [d], n, source: 'tsipras', sha256: '' };
}

describe('adversarial training buys robustness on a Tsipras et al. task', () => {
  beforeAll(() => activate('cpu'));
  it('PGD, TRADES and fast training reach far higher PGD accuracy at eps 0.5 than natural training', async () => {
    const train = tsipras(1000, 'train');
    const holdout = tsipras(500, 'holdout');
    const robust: Record<string, number> = {};
    const lines: string[] = [];
    for (const method of ['natural', 'pgd', 'trades', 'fast'] as const) {
      const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [41], units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) })] });
      const { history } = await trainAdversarially(m, train, {
        method,
        eps: 0.5,
        steps: 5,
        epochs: 4,
        batchSize: 50,
        learningRate: 0.05,
        bounds: { min: -10, max: 10 },
        holdout,
        evalSteps: 20,
      });
      const last = history.at(-1)!;
      robust[method] = last.adversarialAccuracy!;
      lines.push(`${method.padEnd(8)} clean ${(100 * last.cleanAccuracy!).toFixed(1)}%  PGD-20 at eps 0.5 ${(100 * last.adversarialAccuracy!).toFixed(1)}%`);
      m.dispose();
    }
    console.log(`held-out accuracy after 4 epochs (500 examples):\n${lines.join('\n')}`);
    expect(robust.natural).toBeLessThan(0.3);
    for (const method of ['pgd', 'trades', 'fast']) expect(robust[method]! - robust.natural!, method).toBeGreaterThan(0.5);
  });
});

// ---------- the CLI ----------

async function cliFixture(): Promise<{ dir: string; args: string[] }> {
  const dir = dirs.fresh();
  const m = tinyCnn(5);
  await saveLayersModel(m, join(dir, 'tiny'), { bounds: { min: 0, max: 1 } });
  m.dispose();
  await writeDataset(toyImages(600, 'cli-train'), { xPath: join(dir, 'x.npy'), yPath: join(dir, 'y.npy') });
  await writeDataset(toyImages(60, 'cli-eval'), { xPath: join(dir, 'xe.npy'), yPath: join(dir, 'ye.npy') });
  const args = [
    'train', '--model', join(dir, 'tiny', 'model.json'), '--x', join(dir, 'x.npy'), '--y', join(dir, 'y.npy'),
    '--eval', `npy:${join(dir, 'xe.npy')},${join(dir, 'ye.npy')}`, '--holdout', '30', '--eval-steps', '3',
    '--method', 'pgd', '--eps', '0.1', '--steps', '3', '--batch-size', '10', '--lr', '0.01', '--lr-schedule', 'cosine',
  ];
  return { dir, args };
}

describe('robust train', () => {
  let fixture: { dir: string; args: string[] };
  beforeAll(async () => {
    await activate('cpu');
    fixture = await cliFixture();
  });

  it('refuses bad flags with one line and exit code 2', async () => {
    for (const [extra, pattern] of [
      [['--method', 'madry'], /--method: expected natural, pgd, trades, fast; got "madry"/],
      [['--lr-schedule', 'linear'], /--lr-schedule/],
      [['--method', 'fast', '--steps', '3'], /--steps does not apply to --method fast/],
      [['--holdout', '1000'], /--holdout 1000/],
    ] as const) {
      const r = await runCli('--backend', 'cpu', ...fixture.args, '--epochs', '1', '--out', join(fixture.dir, 'bad'), ...extra);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('trains, writes model.json and training.json with the per-epoch history, and refuses a resume with other settings', async () => {
    const out = join(fixture.dir, 'run');
    const r = await runCli('--backend', 'cpu', '--seed', '2', ...fixture.args, '--epochs', '2', '--out', out, '--keep-checkpoint');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/epoch 2\/2: .*held-out clean \d+\.\d% adv \d+\.\d%/);
    const report = JSON.parse(readFileSync(join(out, 'training.json'), 'utf8')) as { method: string; history: Array<{ adversarialAccuracy: number }>; backend: string };
    expect(report.method).toBe('pgd');
    expect(report.backend).toBe('cpu');
    expect(report.history).toHaveLength(2);
    expect(existsSync(join(out, 'model.json')) && existsSync(join(out, 'checkpoint', CHECKPOINT_FILE))).toBe(true);
    const other = await runCli('--backend', 'cpu', '--seed', '2', ...fixture.args, '--epochs', '2', '--out', out, '--resume', '--force', '--eps', '0.2');
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/cannot resume from .*checkpoint.*eps: 0\.1 in the checkpoint, 0\.2 now/);
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
  });
});

const ROOT = resolve(import.meta.dirname, '..');
const DIST = existsSync(join(ROOT, 'dist', 'cli', 'main.js')) && existsSync(join(ROOT, 'dist', 'training', 'adversarial.js'));

interface Child {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Run `node bin/robust.js ...`; `killWhen` is polled every 10 ms and, once true, the process gets SIGKILL. */
function robust(args: string[], killWhen?: () => boolean): Promise<Child> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'robust.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = killWhen ? setInterval(() => killWhen() && child.kill('SIGKILL'), 10) : undefined;
    child.on('error', fail);
    child.on('close', (code, signal) => {
      if (timer) clearInterval(timer);
      done({ code, signal, stderr });
    });
  });
}

describe.skipIf(!DIST)('robust train, killed with SIGKILL and resumed (child processes; needs `npm run build`)', () => {
  it('loses at most one epoch and ends bit-identical to an uninterrupted run', async () => {
    const { dir, args } = await cliFixture();
    const epochs = 5;
    const common = ['--backend', 'cpu', '--seed', '3', ...args, '--epochs', String(epochs)];
    const killedOut = join(dir, 'killed');
    const checkpoint = join(killedOut, 'checkpoint', CHECKPOINT_FILE);
    const [whole, killed] = await Promise.all([robust([...common, '--out', join(dir, 'whole')]), robust([...common, '--out', killedOut], () => existsSync(checkpoint))]);
    expect(whole.code, whole.stderr).toBe(0);
    expect(killed.signal).toBe('SIGKILL');
    const saved = JSON.parse(readFileSync(checkpoint, 'utf8')) as { epoch: number };
    expect(saved.epoch, 'the kill should land before the last epoch; make the fixture bigger').toBeLessThan(epochs);
    const started = Math.max(...[...killed.stderr.matchAll(/epoch (\d+)\/\d+/g)].map((m) => Number(m[1])));
    expect(started - saved.epoch).toBeLessThanOrEqual(1);

    const resumed = await robust([...common, '--out', killedOut, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`after epoch ${saved.epoch}/${epochs}`);
    const report = JSON.parse(readFileSync(join(killedOut, 'training.json'), 'utf8')) as { resumedFrom: number; history: unknown[] };
    expect(report.resumedFrom).toBe(saved.epoch);
    expect(report.history).toHaveLength(epochs);
    expect(readFileSync(join(killedOut, 'weights.bin')).equals(readFileSync(join(dir, 'whole', 'weights.bin')))).toBe(true);
    expect(existsSync(checkpoint)).toBe(false); // removed once the model is saved
  }, 60_000);
});
