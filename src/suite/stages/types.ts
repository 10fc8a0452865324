/**
 * What every stage of `runSuite` shares: the caller's options and progress callbacks, and an attack of the
 * suite as planned from the config. Each stage file declares its own input and output beside its function.
 */
import type { BackendChoice, BackendInfo } from '../../backends/index.js';
import type { BatchPlan } from '../../util/memory.js';
import type { SuiteAttack } from '../evaluate.js';
import type { Shard } from '../shard.js';

/** One progress event of a suite run. */
export interface SuiteProgress {
  stage: 'clean' | 'attack' | 'certify' | 'probes';
  /** Attack id during the 'attack' stage. */
  attack?: string;
  done: number;
  total: number;
  /** Robust accuracy so far at the attack's largest eps. */
  robust?: number;
  /** During 'certify': certified accuracy so far at radius 0 (the smoothed classifier's accuracy). */
  certified?: number;
}

/** How a caller (the CLI, `robust verify`, a test) runs a suite, beyond what the config says. */
export interface RunSuiteOptions {
  /** Overrides the config's backend. */
  backend?: BackendChoice;
  /** wasm threads (see `useBackend`). */
  threads?: number;
  /** Overrides the config's seed. */
  seed?: string;
  shard?: Shard;
  onProgress?: (p: SuiteProgress) => void;
  /** Called once the backend is chosen. */
  onBackend?: (info: BackendInfo) => void;
  /**
   * Called after the clean pass with an estimate of the attacks' time: their gradient evaluations at most
   * (`attackWork`) at about three clean forward passes each, timed on this model and backend.
   */
  onEstimate?: (estimate: { gradientEvaluations: number; seconds: number }) => void;
  /** Called when the model gives less than gradients because of its format (an ONNX model run black-box), with the reason. */
  onAccessNote?: (note: string) => void;
  /** Overrides the config's `adaptive` (e.g. `--adaptive false`). */
  adaptive?: boolean;
  /**
   * Tensor-memory budget in bytes, or 'auto' for the backend's default (see `runAttack`): the clean pass, every
   * attack and certification shrink their batches to fit. Results do not depend on it. Default: no budget.
   */
  maxMemoryBytes?: number | 'auto';
  /** Called once per stage ('clean', an attack id, 'certify') with its batch plan when `maxMemoryBytes` is set. */
  onBatchPlan?: (stage: string, plan: BatchPlan) => void;
  /** The command's arguments, recorded in the manifest (the CLI passes `process.argv.slice(2)`). */
  commandLine?: string[];
  /**
   * Run only these positions of the selection (0-based, ascending), keeping per-example outcomes; every random
   * choice is keyed by position, so each example's outcome is the one a full run gives (`robust verify --recheck`).
   */
  examples?: number[];
}

/** An attack entry of the suite with its unique id and sorted eps list; its options go to `runAttack` as given. */
export type PlannedAttack = SuiteAttack & { options: Record<string, unknown> };
