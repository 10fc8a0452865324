/**
 * Stage 6 of `runSuite`: probe the model for gradient masking and other signs that its numbers cannot be
 * trusted (`suite/probes.ts`); the evaluation's checks read the outcomes.
 */
import type { Dataset } from '../../data/index.js';
import type { Model } from '../../models/types.js';
import { runProbes } from '../probes.js';
import type { ProbeOutcomes } from '../types.js';
import type { RunSuiteOptions } from './types.js';

/** What {@link probe} needs. */
export interface ProbeInput {
  model: Model;
  ds: Dataset;
  positions: readonly number[];
  /** Size of the full selection: the probed examples are spread evenly over it, so shards probe the same ones. */
  total: number;
  correct: Uint8Array;
  seed: string;
  options: Pick<RunSuiteOptions, 'onProgress'>;
}

/** What {@link probe} gives: per-example probe outcomes (-1 where an example was not probed). */
export type ProbeOutput = ProbeOutcomes;

/** Run the probes. */
export async function probe({ model, ds, positions, total, correct, seed, options }: ProbeInput): Promise<ProbeOutput> {
  options.onProgress?.({ stage: 'probes', done: 0, total: 1 });
  const probes = await runProbes(model, ds, positions, total, correct, seed);
  options.onProgress?.({ stage: 'probes', done: 1, total: 1 });
  return probes;
}
