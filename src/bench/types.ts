/**
 * The typed result of `robust bench` (`runBenchmarks`): what was measured, on which machine, and the peers
 * measured in the same run. The JSON output is this object as is.
 */

export const BENCH_SCHEMA = 'robust-bench/v1';

/** The machine and software a benchmark ran on. Absolute times only compare within one of these. */
export interface MachineInfo {
  /** `os.cpus()[0].model`. */
  cpuModel: string;
  /** `os.cpus().length`. */
  cpus: number;
  totalMemoryBytes: number;
  platform: string;
  release: string;
  /**
   * `os.loadavg()` (1, 5 and 15 minutes) when the run started, when the peers started (null without peers)
   * and when it ended: how busy the machine was while each side ran.
   */
  loadAverage: { start: number[]; peers: number[] | null; end: number[] };
  node: string;
  /** Versions of robust and the TF.js packages installed. */
  packages: Record<string, string>;
}

/** A throughput measurement: image-gradient evaluations (examples × gradient calls) per second. */
export interface Throughput {
  seconds: number;
  gradientEvaluations: number;
  imageGradientStepsPerSecond: number;
}

/**
 * Forward plus input gradient of the cross-entropy, nothing else: the most any gradient attack can reach.
 * `seconds` and `gradientEvaluations` are those of the fastest of `rounds` rounds of `iterations` calls.
 */
export interface CeilingResult extends Throughput {
  batchSize: number;
  warmup: number;
  iterations: number;
  rounds: number;
}

/** A plain `tf.grad` PGD loop (grad, sign, step, project, clip), as a TF.js user writes it without robust. */
export interface PlainLoopResult extends Throughput {
  batchSize: number;
  steps: number;
  eps: number;
}

/** One run of robust's `pgd` over `n` digits via `runAttack`. */
export interface PgdResult extends Throughput {
  n: number;
  eps: number;
  steps: number;
  batchSize: number;
  earlyStop: boolean;
  robustAccuracy: number;
}

/** One run of robust's Carlini-Wagner L2 over `n` digits. */
export interface CwResult extends Throughput {
  n: number;
  steps: number;
  binarySteps: number;
  attackSuccessRate: number;
  medianL2: number | null;
}

/** Everything measured on one model. */
export interface ModelBench {
  /** The model's name (its path, or the label given). */
  model: string;
  sha256: string | null;
  ceiling: CeilingResult;
  plainLoop: PlainLoopResult;
  /** Early stop off, then on. */
  pgd: PgdResult[];
  cw: CwResult;
}

/** One attack of the end-to-end suite. */
export interface SuiteAttackBench {
  id: string;
  seconds: number;
  gradientEvaluations: number;
}

/** A robust-accuracy entry of the suite's table (e.g. `pgd@linf:0.3`, `worst@linf:0.1`). */
export interface AccuracyEntry {
  key: string;
  robustAccuracy: number;
}

/** `robust test` on a suite file, end to end (data and model loading, clean pass, attacks, probes, evaluation). */
export interface SuiteBench {
  config: string;
  n: number;
  /** Wall time of `loadConfig` + `runSuite`. */
  seconds: number;
  /** Summed over the suite's attacks. */
  gradientEvaluations: number;
  cleanAccuracy: number;
  attacks: SuiteAttackBench[];
  robustAccuracy: AccuracyEntry[];
}

/** Tensors and resident memory before and after many attack batches. */
export interface MemoryBench {
  attack: string;
  batches: number;
  batchSize: number;
  numTensorsBefore: number;
  numTensorsAfter: number;
  /** numTensorsAfter − numTensorsBefore; 0 when nothing leaks. */
  tensorGrowth: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  seconds: number;
}

/** One kernel timed as robust registers it and as the backend package shipped it (`src/bench/kernels.ts`). */
export interface KernelBench {
  kernel: string;
  label: string;
  shapes: Record<string, number[]>;
  /** Fastest mean time per call, ms; null when the backend has no such kernel. */
  robustMs: number | null;
  /** The same for the shipped kernel; null when the package has none or robust did not replace it. */
  shippedMs: number | null;
  /** replaced: robust's kernel stands in for the shipped one; added: the package had none; unchanged: the shipped one runs. */
  status: 'replaced' | 'added' | 'unchanged';
}

/** Everything measured on one backend. */
export interface BackendBench {
  /** The backend robust chose (e.g. `wasm`). */
  backend: string;
  /** wasm: the threads its kernels ran on (absent in results from before threads existed: 1). */
  threads?: number;
  /** Kernel by kernel, robust's against the shipped one (absent in older results). */
  kernels?: KernelBench[];
  models: ModelBench[];
  suite: SuiteBench | null;
  memory: MemoryBench | null;
}

/** One configuration of the PyTorch peer's ceiling (the fastest of its timed rounds, as robust's). */
export interface PeerCeiling extends Throughput {
  threads: number;
  batchSize: number;
  iterations: number;
}

/** One row of the peer's end-to-end table. */
export interface PeerEntry {
  key: string;
  attack: string;
  eps: number | null;
  robustAccuracy: number | null;
  seconds: number;
  gradientEvaluations: number;
}

/** What `benchmarks/peer/pgd_bench.py` prints (PyTorch, torchattacks-style). */
export interface PyTorchPeer {
  torch: string;
  python: string;
  /** Threads torch would use by default here, and the ones it ran with. */
  defaultThreads: number;
  threads: number;
  n: number;
  cleanAccuracy: number;
  /** Fraction of digits where torch and robust predict the same class; null when not checked. */
  agreement: number | null;
  ceiling: PeerCeiling[];
  pgd: Throughput & { n: number; eps: number; steps: number; batchSize: number; robustAccuracy: number };
  e2e: Throughput & {
    n: number;
    cleanAccuracy: number;
    results: PeerEntry[];
    worstCase: AccuracyEntry[];
  };
}

/** What `benchmarks/peer/tfjs_plain.mjs` prints: the plain loop on stock TF.js, without robust's kernels. */
export interface StockTfjsPeer extends PlainLoopResult {
  backend: string;
  tfjs: string;
}

/** The peers, run in the same process tree right after robust's own measurements. */
export interface PeerBench {
  pytorch: PyTorchPeer | null;
  stockTfjs: StockTfjsPeer | null;
}

/** The result of `runBenchmarks`. */
export interface BenchResult {
  schema: typeof BENCH_SCHEMA;
  /** ISO time the run started. */
  date: string;
  quick: boolean;
  seconds: number;
  machine: MachineInfo;
  backends: BackendBench[];
  peer: PeerBench | null;
  /** What was skipped and why (a missing model, no python3-torch, ...). */
  notes: string[];
}
