/**
 * `robust bench --model`: what a suite will cost on a user's own model, measured the way the
 * reference architectures are (benchmarks/arch_bench.mjs): the ceiling (forward pass plus input
 * gradient), robust's PGD with early stop off, memory per example, and what PGD-40 on 1,000 examples
 * would take at that rate. Inputs are seeded uniform noise within the model's bounds: speed does not
 * depend on the values.
 */
import type { Dataset } from '../data/types.js';
import type { LoadedModel } from '../models/load.js';
import type { ModelEngine } from '../models/types.js';
import { makeRng } from '../tensor/random.js';
import { estimateMemory } from '../util/memory.js';
import { measureCeiling, measurePgd } from './measure.js';
import type { CeilingResult, PgdResult } from './types.js';

/** Options of {@link benchModel}. */
export interface ModelBenchOptions {
  /** Examples per batch. Default 8. */
  batch?: number;
  /** PGD steps (early stop off). Default 10. */
  steps?: number;
  /** Seed of the noise inputs (as `--seed` takes it). Default 0. */
  seed?: string | number;
}

/** What {@link benchModel} measured. */
export interface ModelBench {
  model: string;
  inputShape: number[];
  classes: number;
  engine: ModelEngine;
  optimized: boolean;
  ceiling: CeilingResult;
  pgd: PgdResult;
  /** Memory one more example costs in an attack's gradient (TF.js tensors plus the engine's own buffers). */
  perExampleBytes: number;
  /** Seconds PGD-40 on 1,000 examples would take at the measured PGD rate. */
  pgd40Per1000Seconds: number;
}

function noiseDataset(model: LoadedModel, n: number, seed: string | number): Dataset {
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  const rng = makeRng(seed);
  const { min, max } = model.bounds;
  const x = new Float32Array(n * size);
  for (let i = 0; i < x.length; i++) {
    const f = i % size;
    const lo = typeof min === 'number' ? min : (min[f] as number);
    const hi = typeof max === 'number' ? max : (max[f] as number);
    x[i] = lo + (hi - lo) * rng.float();
  }
  const y = Int32Array.from({ length: n }, (_, i) => (i * 7) % model.numClasses);
  return { x, y, shape: model.inputShape, n, source: `noise:${seed}`, sha256: '' };
}

/**
 * Measure `model` as a suite would run it (see the module comment).
 * @example
 *   const r = await benchModel(await loadModel('model.json'), { batch: 8, steps: 10 });
 *   console.log(r.pgd.imageGradientStepsPerSecond, r.engine);
 */
export async function benchModel(model: LoadedModel, options: ModelBenchOptions = {}): Promise<ModelBench> {
  const batch = options.batch ?? 8;
  const steps = options.steps ?? 10;
  const ds = noiseDataset(model, batch, options.seed ?? 0);
  const ceiling = await measureCeiling(model, ds, batch, 1, 3);
  const pgd = await measurePgd(model, ds, { eps: 8 / 255, steps, batchSize: batch, earlyStop: false });
  const memory = estimateMemory(model);
  return {
    model: model.name,
    inputShape: model.inputShape,
    classes: model.numClasses,
    engine: model.engine,
    optimized: model.optimized,
    ceiling,
    pgd,
    perExampleBytes: memory.perExampleBytes,
    pgd40Per1000Seconds: (40 * 1000) / pgd.imageGradientStepsPerSecond,
  };
}
