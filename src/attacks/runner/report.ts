/**
 * What `runAttack` returns: per-eps outcomes over a dataset (robust accuracy, success rate, perturbation
 * sizes of the successful examples) and the per-example arrays behind them.
 */
import type { NormName } from '../core/norms.js';
import type { AttackKind, PerturbationNorms } from '../core/types.js';
import { summarize as summarizeSample } from '../../metrics/norms.js';

/** Mean, median and max of a perturbation size over the successful adversarial examples; null when there are none. */
export interface PerturbationSummary {
  mean: number | null;
  median: number | null;
  max: number | null;
}

/** The outcome at one eps. Per-example arrays are in dataset order. */
export interface EpsReport {
  eps: number | null;
  /** Fraction of all examples that are clean-correct and not broken. */
  robustAccuracy: number;
  /** Fraction of the clean-correct examples the attack broke (0 when none is clean-correct). */
  attackSuccessRate: number;
  /** Over the clean-correct examples the attack broke. */
  perturbation: { linf: PerturbationSummary; l2: PerturbationSummary };
  /** 1 where the example is clean-correct and not broken. */
  robust: Uint8Array;
  /** 1 where xAdv fools the model (clean mistakes included). */
  isAdversarial: Uint8Array;
  norms: PerturbationNorms;
  /** Adversarial inputs, float32 in the dataset's layout and order, when `keepAdversarial` was set. */
  xAdv?: Float32Array;
}

/** What `runAttack` returns: everything `robust attack --json` prints, plus per-example outcomes. */
export interface AttackReport {
  attack: string;
  kind: AttackKind;
  norm: NormName;
  /** The attack's defaults overlaid with the options used. */
  params: Record<string, unknown>;
  n: number;
  cleanCorrect: Uint8Array;
  cleanAccuracy: number;
  /** Targets per example when targeted. */
  targets: Int32Array | null;
  results: EpsReport[];
  timing: { seconds: number; gradientEvaluations: number; queries: number };
}

/** Mean, median and max of `values` (the metrics' summary, with null instead of NaN for an empty sample). */
export function summarizePerturbation(values: number[]): PerturbationSummary {
  if (values.length === 0) return { mean: null, median: null, max: null };
  const { mean, median, max } = summarizeSample(values);
  return { mean, median, max };
}

/** The per-example outcomes of one budget, as `epsReport` reads them. */
export interface EpsOutcome {
  eps: number | null;
  isAdversarial: Uint8Array;
  norms: PerturbationNorms;
  xAdv?: Float32Array;
}

/** The report at one budget: robust accuracy over all examples, success and sizes over the clean-correct ones it broke. */
export function epsReport(cleanCorrect: Uint8Array, outcome: EpsOutcome): EpsReport {
  const n = cleanCorrect.length;
  const correct = cleanCorrect.reduce((a, v) => a + v, 0);
  const adv = outcome.isAdversarial;
  const sizes = outcome.norms;
  const robust = Uint8Array.from(cleanCorrect, (c, i) => (c && !adv[i] ? 1 : 0));
  const broken: number[] = [];
  cleanCorrect.forEach((c, i) => c && adv[i] && broken.push(i));
  const report: EpsReport = {
    eps: outcome.eps,
    robustAccuracy: n ? robust.reduce((a, v) => a + v, 0) / n : 0,
    attackSuccessRate: correct ? broken.length / correct : 0,
    perturbation: {
      linf: summarizePerturbation(broken.map((i) => sizes.linf[i] as number)),
      l2: summarizePerturbation(broken.map((i) => sizes.l2[i] as number)),
    },
    robust,
    isAdversarial: adv,
    norms: sizes,
  };
  if (outcome.xAdv) report.xAdv = outcome.xAdv;
  return report;
}
