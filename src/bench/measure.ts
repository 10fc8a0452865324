/**
 * The individual measurements of `robust bench`, each on the active backend. They time work, they do not
 * judge it; every one disposes what it made, so they can run back to back in one process.
 */
import { tf } from '../tf.js';
import { getAttack } from '../attacks/registry.js';
import { runAttack } from '../attacks/run.js';
import type { Dataset } from '../data/types.js';
import type { Model } from '../models/types.js';
import type { CeilingResult, CwResult, MemoryBench, PgdResult, PlainLoopResult, Throughput } from './types.js';
import { boundsRange } from '../tensor/range.js';

/** The first `n` examples of `ds` as a tensor batch and labels. The caller disposes the tensor. */
export function batchOf(ds: Dataset, n: number): { x: tf.Tensor; y: Int32Array } {
  const size = ds.shape.reduce((a, b) => a * b, 1);
  const b = Math.min(n, ds.n);
  return { x: tf.tensor(ds.x.subarray(0, b * size), [b, ...ds.shape]), y: ds.y.subarray(0, b) };
}

/** Only the first `n` examples of `ds` (sharing its arrays). */
export function headOf(ds: Dataset, n: number): Dataset {
  const size = ds.shape.reduce((a, b) => a * b, 1);
  const b = Math.min(n, ds.n);
  return { ...ds, x: ds.x.subarray(0, b * size), y: ds.y.subarray(0, b), n: b };
}

/**
 * Wait until `t` is computed. Reading one element forces every kernel it depends on to run (on async
 * backends too) without timing a transfer of the whole tensor.
 */
async function settle(t: tf.Tensor): Promise<void> {
  const one = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), [0], [1]));
  await one.data();
  one.dispose();
}

function throughput(seconds: number, gradientEvaluations: number): Throughput {
  return { seconds, gradientEvaluations, imageGradientStepsPerSecond: seconds > 0 ? gradientEvaluations / seconds : 0 };
}

/** Scalar bounds of `model`, as a plain loop hard-codes them (per-feature bounds collapse to their extremes). */
function scalarBounds(model: Model): [number, number] {
  const { min, max } = boundsRange(model.bounds);
  return [min, max];
}

/**
 * Forward pass plus the input gradient of the cross-entropy at one batch: `warmup` untimed calls, then
 * `rounds` rounds of `iterations` timed calls, each synchronised before the next starts. The fastest round
 * counts: a ceiling is what the machine allows, and other load on a shared machine only ever slows a round.
 */
export async function measureCeiling(model: Model, ds: Dataset, batchSize: number, warmup: number, iterations: number, rounds = 3): Promise<CeilingResult> {
  const { x, y } = batchOf(ds, batchSize);
  const onehot = tf.oneHot(tf.tensor1d(y, 'int32'), model.numClasses);
  const gradOf = tf.grad((input: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, model.predict(input)));
  try {
    const step = async (): Promise<void> => {
      const g = gradOf(x);
      await settle(g);
      g.dispose();
    };
    for (let i = 0; i < warmup; i++) await step();
    let seconds = Infinity;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) await step();
      seconds = Math.min(seconds, (performance.now() - t0) / 1000);
    }
    return { batchSize: y.length, warmup, iterations, rounds, ...throughput(seconds, iterations * y.length) };
  } finally {
    tf.dispose([x, onehot]);
  }
}

/**
 * PGD the way a TF.js user writes it without robust: `tf.grad` of the mean cross-entropy, then sign, step,
 * project onto the eps-ball and clip to the bounds, `steps` times, from a uniform random start. One
 * untimed gradient call first, so kernel set-up is not timed.
 */
export async function measurePlainLoop(model: Model, ds: Dataset, batchSize: number, steps: number, eps: number): Promise<PlainLoopResult> {
  const { x, y } = batchOf(ds, batchSize);
  const [lo, hi] = scalarBounds(model);
  const alpha = eps / 4;
  const onehot = tf.oneHot(tf.tensor1d(y, 'int32'), model.numClasses);
  const gradOf = tf.grad((input: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, model.predict(input)));
  let xAdv = tf.tidy(() => tf.clipByValue(tf.add(x, tf.randomUniform(x.shape, -eps, eps, 'float32', 0)), lo, hi));
  try {
    const warm = gradOf(xAdv);
    await settle(warm);
    warm.dispose();
    const t0 = performance.now();
    for (let t = 0; t < steps; t++) {
      const previous = xAdv;
      xAdv = tf.tidy(() => {
        const g = gradOf(previous);
        const stepped = tf.add(previous, tf.mul(tf.sign(g), alpha));
        const projected = tf.minimum(tf.maximum(stepped, tf.sub(x, eps)), tf.add(x, eps));
        return tf.clipByValue(projected, lo, hi);
      });
      previous.dispose();
      await settle(xAdv);
    }
    const seconds = (performance.now() - t0) / 1000;
    return { batchSize: y.length, steps, eps, ...throughput(seconds, steps * y.length) };
  } finally {
    tf.dispose([x, onehot, xAdv]);
  }
}

/** robust's `pgd` over every example of `ds` through `runAttack`, with early stop on or off. */
export async function measurePgd(model: Model, ds: Dataset, options: { eps: number; steps: number; batchSize: number; earlyStop: boolean }): Promise<PgdResult> {
  const report = await runAttack(
    model,
    ds,
    { name: 'pgd', norm: 'linf', eps: [options.eps], options: { steps: options.steps, earlyStop: options.earlyStop, seed: 0 } },
    { batchSize: options.batchSize },
  );
  return {
    n: ds.n,
    eps: options.eps,
    steps: options.steps,
    batchSize: options.batchSize,
    earlyStop: options.earlyStop,
    robustAccuracy: report.results[0]?.robustAccuracy ?? 0,
    ...throughput(report.timing.seconds, report.timing.gradientEvaluations),
  };
}

/** robust's Carlini-Wagner L2 over every example of `ds`, in one batch. */
export async function measureCw(model: Model, ds: Dataset, options: { steps: number; binarySteps: number }): Promise<CwResult> {
  const report = await runAttack(
    model,
    ds,
    { name: 'cw', norm: 'l2', eps: null, options: { steps: options.steps, binarySteps: options.binarySteps, seed: 0 } },
    { batchSize: Math.max(1, ds.n) },
  );
  const found = report.results[0];
  return {
    n: ds.n,
    steps: options.steps,
    binarySteps: options.binarySteps,
    attackSuccessRate: found?.attackSuccessRate ?? 0,
    medianL2: found?.perturbation.l2.median ?? null,
    ...throughput(report.timing.seconds, report.timing.gradientEvaluations),
  };
}

/**
 * Tensors and RSS before and after `batches` calls of an attack on a small batch, through the
 * tensor-level API a training loop uses (attack, read the flags, dispose `xAdv`). One call runs before
 * the first reading, so kernels and lazily built constants are already in place.
 */
export async function measureMemory(model: Model, ds: Dataset, options: { attack: 'fgsm' | 'pgd'; batches: number; batchSize: number }): Promise<MemoryBench> {
  const info = getAttack(options.attack);
  const { x, y } = batchOf(ds, options.batchSize);
  const attackOptions = options.attack === 'pgd' ? { eps: 0.1, steps: 2, seed: 0 } : { eps: 0.1, seed: 0 };
  const once = async (): Promise<void> => {
    const r = await info.run(model, x, y, attackOptions);
    r.xAdv.dispose();
  };
  try {
    await once();
    const numTensorsBefore = tf.memory().numTensors;
    const rssBeforeBytes = process.memoryUsage().rss;
    const t0 = performance.now();
    for (let i = 0; i < options.batches; i++) await once();
    const seconds = (performance.now() - t0) / 1000;
    const numTensorsAfter = tf.memory().numTensors;
    return {
      attack: options.attack,
      batches: options.batches,
      batchSize: y.length,
      numTensorsBefore,
      numTensorsAfter,
      tensorGrowth: numTensorsAfter - numTensorsBefore,
      rssBeforeBytes,
      rssAfterBytes: process.memoryUsage().rss,
      seconds,
    };
  } finally {
    x.dispose();
  }
}
