/**
 * Stage 3 of `runSuite`: plan memory once for the whole run, predict every example clean, and estimate the
 * attacks' time from how long that took.
 */
import type { Dataset } from '../../data/index.js';
import type { Model } from '../../models/types.js';
import { predictLabels, correctFlags } from '../../metrics/accuracy.js';
import { estimateMemory, planBatch, type MemoryEstimate } from '../../util/memory.js';
import { attackWork } from '../preflight.js';
import type { PlannedAttack, RunSuiteOptions } from './types.js';

/** What {@link cleanPass} needs. */
export interface CleanPassInput {
  model: Model;
  ds: Dataset;
  attacks: readonly PlannedAttack[];
  /** The suite's batch size (the config's `batchSize`). */
  batchSize: number;
  options: Pick<RunSuiteOptions, 'maxMemoryBytes' | 'onBatchPlan' | 'onProgress' | 'onEstimate'>;
}

/** The memory budget every attack shares, when the caller set one. */
export interface MemoryBudget {
  maxMemoryBytes: number | 'auto';
  memoryEstimate: MemoryEstimate;
}

/** What {@link cleanPass} gives. */
export interface CleanPassOutput {
  /** 1 where the model predicts the example's label. */
  correct: Uint8Array;
  /** Handed to every attack so it plans its batches from one probe; undefined without a budget. */
  memory: MemoryBudget | undefined;
}

/** Run the clean pass (forward only), in batches that fit the memory budget when one is set. */
export async function cleanPass({ model, ds, attacks, batchSize, options }: CleanPassInput): Promise<CleanPassOutput> {
  let cleanBatch = batchSize;
  let memory: MemoryBudget | undefined;
  if (options.maxMemoryBytes !== undefined) {
    // One probe serves every attack; with gradients it also bounds the clean pass, which runs forward only.
    const estimate = estimateMemory(model);
    const plan = planBatch(estimate, {
      requested: Math.min(batchSize, ds.n),
      maxBytes: options.maxMemoryBytes,
      inputBytes: 4 * ds.shape.reduce((a, b) => a * b, 1),
      what: `the clean pass on inputs of shape [${ds.shape.join(', ')}]`,
    });
    options.onBatchPlan?.('clean', plan);
    cleanBatch = plan.batchSize;
    memory = { maxMemoryBytes: options.maxMemoryBytes, memoryEstimate: estimate };
  }

  options.onProgress?.({ stage: 'clean', done: 0, total: ds.n });
  const cleanStart = performance.now();
  const correct = correctFlags(await predictLabels(model, ds, cleanBatch), ds.y);
  const perForward = (performance.now() - cleanStart) / 1000 / ds.n;
  options.onProgress?.({ stage: 'clean', done: ds.n, total: ds.n });
  const gradientEvaluations = ds.n * attacks.reduce((sum, a) => sum + attackWork(a.name, a.options, a.eps.length), 0);
  options.onEstimate?.({ gradientEvaluations, seconds: 3 * perForward * gradientEvaluations });
  return { correct, memory };
}
