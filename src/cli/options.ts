import { Option, type Command } from 'commander';
import { dataSourceFromFlags, loadDataset, type LoadedDataset } from '../data/index.js';
import { useBackend, type BackendChoice, type BackendInfo } from '../backends/index.js';
import { describePlan, type BatchPlan } from '../util/memory.js';
import type { Io } from './io.js';
import { parseInteger } from './parse.js';
import type { GlobalOptions } from './main.js';

/** Flags that pick a dataset and a subset of it, shared by every command that reads data. */
export interface DataFlags {
  data?: string;
  x?: string;
  y?: string;
  n?: number;
  offset?: number;
  sample?: 'first' | 'random';
}

export function addDataOptions(cmd: Command, defaultSource?: string): Command {
  return cmd
    .option('--data <source>', 'mnist:train | mnist:test | npy:<x.npy>,<y.npy> | images:<dir> | csv:<file.csv>', defaultSource)
    .option('--x <x.npy>', 'features as a NumPy .npy file (NHWC for images)')
    .option('--y <y.npy>', 'integer labels as a NumPy .npy file')
    .option('--n <count>', 'use this many examples', parseInteger('--n', 1))
    .option('--offset <k>', 'skip the first k examples', parseInteger('--offset', 0))
    .addOption(
      new Option('--sample <how>', 'first (in source order) or random (seeded sample without replacement)').choices(['first', 'random']).default('first'),
    );
}

export async function loadDataFromFlags(flags: DataFlags, seed: string): Promise<LoadedDataset> {
  const source = dataSourceFromFlags({
    ...(flags.data !== undefined && flags.x === undefined && flags.y === undefined ? { data: flags.data } : {}),
    ...(flags.x !== undefined ? { x: flags.x } : {}),
    ...(flags.y !== undefined ? { y: flags.y } : {}),
  });
  return loadDataset(source, {
    ...(flags.n !== undefined ? { n: flags.n } : {}),
    ...(flags.offset !== undefined ? { offset: flags.offset } : {}),
    sample: flags.sample === 'random' ? 'random' : 'first',
    seed,
  });
}

/** Start the backend the global flags ask for, and say which one under --verbose. */
export async function startBackend(globals: GlobalOptions, io: Io): Promise<BackendInfo> {
  const info = await useBackend(globals.backend as BackendChoice, globals.threads !== undefined ? { threads: globals.threads } : {});
  if (info.threadsNote) io.err(`robust: note: ${info.threadsNote}`);
  reportBackend(io, globals, info);
  return info;
}

/** Under --verbose: which backend was chosen, why the others were skipped, and what native probes printed. */
export function reportBackend(io: Io, globals: GlobalOptions, info: BackendInfo): void {
  if (!globals.verbose) return;
  if (info.probeLog) io.err(`backend probe output:\n${info.probeLog}`);
  const skipped = info.skipped.map((s) => `${s.name} (${s.reason})`).join(', ');
  const threads = info.threads !== undefined ? ` on ${info.threads} thread${info.threads === 1 ? '' : 's'}` : '';
  io.err(`backend: ${info.name}${threads}${skipped ? `; skipped ${skipped}` : ''}`);
}

/** The tensor-memory budget the global flags ask for: `--max-memory`, else the backend's default. */
export function memoryBudgetOf(globals: GlobalOptions): number | 'auto' {
  return globals.maxMemory ?? 'auto';
}

/** Say when a stage's batch had to shrink to fit the memory budget; under --verbose, say what every stage chose. */
export function reportBatchPlan(io: Io, globals: GlobalOptions, stage: string, plan: BatchPlan): void {
  const line = `${stage}: ${describePlan(plan)}`;
  if (plan.batchSize < plan.requested) {
    io.err(`robust: note: ${line}; smaller batches to fit ${globals.maxMemory !== undefined ? '--max-memory' : 'the default memory budget (--max-memory sets it)'}, same results`);
  } else if (globals.verbose) {
    io.err(line);
  }
}
