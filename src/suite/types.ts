/**
 * The typed result of `robust test`: everything a report writer needs, nothing backend-specific.
 * The JSON output is this object as is (`schema/robust.result.schema.json` describes it).
 */
import type { Proportion } from '../metrics/rates.js';
import type { NormStats } from '../metrics/norms.js';
import type { CurvePoint, MinimalPerturbationSummary } from '../metrics/curve.js';
import type { NormName } from '../attacks/core/norms.js';
import type { AttackKind } from '../attacks/core/types.js';
import type { GitInfo, HostInfo, ModelFileHash } from '../provenance/manifest.js';
import type { ResultSignature } from '../provenance/sign.js';

/** How a run picked its examples from the data source (see `SubsetOptions`). */
export interface DataSubset {
  n: number | null;
  offset: number;
  sample: 'first' | 'random';
  seed: string;
}

export const RESULT_SCHEMA = 'robust-result/v1';

/** Where a result came from: enough to reproduce it and to tie it to the exact model and data. */
export interface RunManifest {
  robust: string;
  seed: string;
  backend: string;
  /** Versions of the packages that computed the numbers (robust, tfjs-core, the backend package, node; onnxruntime-node when the native engine ran the model). */
  packages: Record<string, string>;
  /**
   * `path` is relative to the config's folder (the working directory without a config); `files` holds each
   * model file's own SHA-256.
   */
  model: { path: string; sha256: string | null; pinned: string | null; files: ModelFileHash[] };
  /** `subset` is how the examples were picked from the source, so `robust verify --data` can rehash them. */
  data: { source: string; n: number; sha256: string; subset: DataSubset };
  /** `path` as given on the command line, relative to the working directory. */
  config: { path: string | null; sha256: string };
  startedAt: string;
  /** When the run finished (ISO 8601). */
  endedAt: string;
  seconds: number;
  /** Operating system, platform and CPUs of the machine that ran it. */
  host: HostInfo;
  /** wasm threads asked for (null: the backend's default). */
  threads: number | null;
  /** The command's arguments after `robust` (null when called as a library). */
  commandLine: string[] | null;
  /** The git commit of the working directory, when it is a git working tree. */
  git: GitInfo | null;
  /** Set when this result is one shard of a larger run (`--shard i/n`). Merged results have none. */
  shard: { index: number; count: number } | null;
  /**
   * Input-transform defences the model was wrapped in (each spec as JSON), and whether attacks used their
   * adaptive gradients (BPDA/EOT); `adaptive` is null without defences.
   */
  defenses: { names: string[]; adaptive: boolean | null };
}

/** The outcome at one eps of one attack. `key` is e.g. "pgd@linf:0.3" (or "cw@l2:min" without eps). */
export interface EpsOutcome {
  key: string;
  eps: number | null;
  robustAccuracy: Proportion;
  attackSuccessRate: Proportion;
  /** Over the clean-correct examples the attack broke. */
  perturbation: NormStats;
  /**
   * Empirical robustness as IBM ART defines it: the mean of ‖x_adv − x‖₂ / ‖x‖₂ over the examples the
   * attack broke (0 when it broke none).
   */
  empiricalRobustness: number;
}

/** What a minimum-norm attack (cw, deepfool) says beyond fixed budgets: how far every point is from being broken. */
export interface MinimumNormOutcome {
  id: string;
  norm: NormName;
  /** Distribution of the minimal perturbations found (over the clean-correct points the attack broke). */
  summary: MinimalPerturbationSummary;
  /** Robust accuracy against eps (a point counts as robust while its minimal perturbation exceeds eps). */
  curve: CurvePoint[];
  /** The curve's upper end: the largest eps of this norm in the suite, else the largest perturbation found. */
  epsMax: number;
  /** Area under the curve over [0, epsMax], divided by epsMax (1 = every point robust over the range). */
  area: number;
}

/** One attack spec of the suite, run over the whole dataset. `id` is e.g. "pgd@linf". */
export interface AttackOutcome {
  id: string;
  name: string;
  norm: NormName;
  kind: AttackKind;
  params: Record<string, unknown>;
  results: EpsOutcome[];
  gradientEvaluations: number;
  queries: number;
  seconds: number;
}

/** Per-point worst case over every attack of one norm at one eps: robust only if no attack broke it. */
export interface WorstCaseOutcome {
  key: string; // "worst@linf:0.3"
  norm: NormName;
  eps: number;
  robustAccuracy: Proportion;
  /** Attack ids that were evaluated at this eps. */
  attacks: string[];
}

/** The robustness score (docs/metrics.md) of one norm, from the worst-case curve. */
export interface ScoreOutcome {
  norm: NormName;
  epsMax: number;
  score: number;
}

export type CheckStatus = 'ok' | 'warning' | 'failed';

/** A self-check of the evaluation (gradient masking and validity). */
export interface CheckOutcome {
  name: string;
  status: CheckStatus;
  message: string;
}

/** One threshold of the config against the measured value. */
export interface ThresholdOutcome {
  /**
   * "cleanAccuracy", "score", "score@l2", a robust-accuracy key such as "pgd@linf:0.1" or "worst@linf:0.3", or a
   * certified-accuracy key such as "certified@l2:0.5".
   */
  key: string;
  threshold: number;
  actual: number | null;
  passed: boolean;
  message: string;
}

/**
 * `fail`: a threshold or pin failed. `unreliable`: every threshold was met, but an evaluation check failed, so
 * the numbers may overstate robustness and a pass cannot be claimed (exit 3 unless unreliable runs are allowed).
 */
export type VerdictStatus = 'pass' | 'fail' | 'unreliable';

export interface Verdict {
  status: VerdictStatus;
  /** True when a check failed: the numbers may overstate robustness. */
  unreliable: boolean;
  /** One line per failed threshold or pin. */
  failures: string[];
}

/** Per-example outcomes, in dataset order; kept for shards (so merging is exact) or on request. */
export interface ExampleOutcomes {
  /** Position of each example in the full data source. */
  indices: number[];
  labels: number[];
  cleanCorrect: number[];
  /** Per EpsOutcome key: 1 where the example is clean-correct and not broken. */
  robust: Record<string, number[]>;
  /** Per EpsOutcome key: the L0, L2 and Linf size of the perturbation found (0 where none). */
  norms: Record<string, { l0: number[]; l2: number[]; linf: number[] }>;
  /** ‖x‖₂ of each clean input (for empirical robustness). */
  inputL2: number[];
  /**
   * Per minimum-norm attack id: each example's minimal perturbation in the attack's norm; 0 where the model
   * is already wrong, null where the attack found none.
   */
  minNorm: Record<string, (number | null)[]>;
  /**
   * Self-check probes, per example: -1 where the example was not probed, else 0/1. The probed examples are
   * fixed by their position in the full selection, so shards probe exactly what one run would.
   */
  probes: ProbeOutcomes;
  /**
   * Randomised-smoothing certificates, per example, when the suite has a `certify` section (else null): the
   * smoothed prediction (-1 = abstain), the certified L2 radius, the lower bound on p_A and the count of n.
   */
  certificates: { prediction: number[]; radius: number[]; pALower: number[]; count: number[] } | null;
  /** Each example's slice when the data has a group column, else null. */
  groups: string[] | null;
}

/** Per-example results of the evaluation's self-check probes (see src/suite/probes.ts). */
export interface ProbeOutcomes {
  /** 1 where PGD at eps = the full input range broke the (clean-correct) example. */
  fullRangeBroken: number[];
  /** 1 where the input gradient of the loss is finite everywhere. */
  gradientFinite: number[];
  /** 1 where the input gradient is not all zeros. */
  gradientNonZero: number[];
  /** 1 where two identical calls gave the same logits up to float rounding (see DRIFT_TOLERANCE). */
  deterministic: number[];
  /** 1 where the outputs look like probabilities (all in [0, 1], summing to 1). */
  probabilityLike: number[];
  /**
   * Largest change of a logit between two identical calls, relative to max(1, the row's largest logit);
   * -1 where not probed; null where unknown (a shard written before robust recorded it, whose logits differed).
   */
  logitDrift: (number | null)[];
}

/** A few examples for the HTML report's image grid. Pixel values are in the model's input space, row-major. */
export interface VisualSample {
  index: number;
  label: number;
  key: string;
  clean: { pred: number; confidence: number; pixels: number[] };
  adversarial: { pred: number; confidence: number; pixels: number[] };
}

/**
 * Randomised smoothing (Cohen et al. 2019) of the suite's model: its settings and certified accuracy against L2
 * radius. Certification is of the smoothed classifier, not of the base model the attacks ran against.
 */
export interface CertificationOutcome {
  sigma: number;
  n0: number;
  samples: number;
  alpha: number;
  batchSize: number;
  /** Certified accuracy at each radius, ascending; `key` is e.g. "certified@l2:0.5". */
  curve: { key: string; radius: number; certifiedAccuracy: Proportion }[];
  /** The smoothed classifier's accuracy (certified with the right class at radius 0). */
  accuracy: Proportion;
  /** Examples where the smoothed classifier abstained. */
  abstainRate: Proportion;
  seconds: number;
}

/** Clean and robust accuracy of one class or slice. */
export interface GroupOutcome {
  /** The class id (as text) or the slice's name. */
  group: string;
  n: number;
  cleanAccuracy: Proportion;
  /** Per attack and worst-case key, e.g. "worst@linf:0.3". */
  robustAccuracy: Record<string, Proportion>;
}

/** Robustness by class or by slice, and the weakest group at one key. */
export interface GroupBreakdown {
  /** The key groups are compared at (see `headlineKey`: the first robust-accuracy threshold's, else the largest eps still above 0); null: clean accuracy. */
  key: string | null;
  groups: GroupOutcome[];
  /** The group with the lowest accuracy at `key`, and the one with the highest. */
  weakest: string | null;
  best: string | null;
  /** best − weakest at `key`. */
  gap: number | null;
}

export interface SuiteResult {
  schema: typeof RESULT_SCHEMA;
  manifest: RunManifest;
  n: number;
  cleanAccuracy: Proportion;
  attacks: AttackOutcome[];
  worstCase: WorstCaseOutcome[];
  minimumNorm: MinimumNormOutcome[];
  scores: ScoreOutcome[];
  checks: CheckOutcome[];
  thresholds: ThresholdOutcome[];
  verdict: Verdict;
  /** Input shape, bounds and number of classes, for rendering samples. */
  input: { shape: number[]; min: number; max: number; numClasses: number };
  samples: VisualSample[];
  examples: ExampleOutcomes | null;
  /** Randomised-smoothing certification when the suite has a `certify` section, else null. */
  certification: CertificationOutcome | null;
  /** Robustness per true class. */
  perClass: GroupBreakdown;
  /** Robustness per slice when the data has a group column, else null. */
  perSlice: GroupBreakdown | null;
  /** Ed25519 signature over the rest of the result (`robust test --sign`), else null. */
  signature: ResultSignature | null;
}
