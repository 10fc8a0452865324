import { tf } from '../tf.js';
import { InputError, UsageError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import type { Model } from '../models/types.js';
import type { FeatureConstraints } from './core/constraints.js';
import { attackManyEps } from './core/epsilons.js';
import { checkOptions } from '../options/schema.js';
import type { NormName } from './core/norms.js';
import type { AttackInfo, AttackKind, CommonAttackOptions, PerturbationNorms } from './core/types.js';
import { checkAttackOptions, getAttack } from './registry.js';
import { summarize as summarizeSample } from '../metrics/norms.js';
import { estimateMemory, planBatch, type BatchPlan, type MemoryEstimate } from '../util/memory.js';
import { maxOf } from '../tensor/range.js';

/** Attack options as the CLI and configs carry them: the common ones plus any attack-specific ones (steps, c, ...). */
export type AttackOptions = Omit<CommonAttackOptions, 'eps' | 'norm' | 'cleanLogits'> & { [option: string]: unknown };

/** The unit the CLI, suite config and registry share: which attack, in which norm, at which budgets. */
export interface AttackSpec {
  /** A registry name, e.g. 'pgd'. */
  name: string;
  /** Default: the attack's own default norm. */
  norm?: NormName;
  /** Budgets to evaluate; null for a minimum-norm attack run without a budget (one `eps: null` result). */
  eps: number[] | null;
  options?: AttackOptions;
}

/** Options of `runAttack`. */
export interface RunAttackOptions {
  /** Examples per batch. Default 100. */
  batchSize?: number;
  /** Called after every batch with the examples done, the total, and the robust accuracy so far at the largest eps. */
  onProgress?: (done: number, total: number, robustSoFar: number) => void;
  /** Also return the adversarial inputs per eps (for `--save-adv`). Default false. */
  keepAdversarial?: boolean;
  /**
   * Tensor-memory budget in bytes, weights and other tensors already allocated included; 'auto' for the
   * backend's default (`defaultMemoryBudget`: 2 GiB on wasm, else half the free memory). When set, the model is
   * probed once (`estimateMemory`) and the batch shrinks to the largest that fits, or an InputError says that
   * not even one example does. Results do not depend on the batch size. Default: no budget, no probe.
   */
  maxMemoryBytes?: number | 'auto';
  /** A measurement of this model to plan with instead of probing it again (a suite shares one across attacks). */
  memoryEstimate?: MemoryEstimate;
  /** Called once, before the first batch, with the batch plan when `maxMemoryBytes` is set. */
  onBatchPlan?: (plan: BatchPlan) => void;
}

/**
 * Input-sized tensors per example an attack keeps besides its model pass (clean and working copies, iterates,
 * momentum, best-so-far, results). Measured with `tf.profile` on a small conv net: PGD and FGSM keep about 3,
 * APGD and AutoAttack 11 to 13, Carlini-Wagner (Adam moments, tanh-space variables) 26; 32 covers them all.
 */
const ATTACK_STATE_COPIES = 32;

/** Model passes an attack runs at once per example: DeepFool differentiates candidates − 1 copies of its batch. */
function modelCopies(info: AttackInfo, spec: AttackSpec, numClasses: number): number {
  if (info.name !== 'deepfool') return 1;
  const candidates = Number(spec.options?.candidates ?? (info.defaults as { candidates?: number }).candidates ?? numClasses);
  return Math.max(1, Math.min(candidates, numClasses) - 1);
}

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
  /** Over the clean-correct examples the attack broke; `l0` counts features changed. */
  perturbation: { linf: PerturbationSummary; l2: PerturbationSummary; l0: PerturbationSummary };
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

/** The checkable parts of `RunAttackOptions`. */
const RUN_OPTIONS = { batchSize: { type: 'integer', min: 1, default: 100, doc: 'examples per batch' } } as const;

/**
 * Refuse a spec the attack cannot run, before any work, in the library's words (the CLI and the suite
 * check their own spellings first): a norm it lacks, budgets that are not a list, a fixed-eps attack
 * without budgets, options it does not declare.
 */
function checkSpec(info: AttackInfo, spec: AttackSpec): void {
  const norm = spec.norm ?? info.norms[0] ?? 'linf';
  if (!info.norms.includes(norm)) throw new UsageError(`${info.name} supports norm ${info.norms.join('|')}, not ${norm}`);
  const eps: unknown = spec.eps;
  if (eps !== null && eps !== undefined && !(Array.isArray(eps) && eps.every((e) => typeof e === 'number' && Number.isFinite(e) && e >= 0))) {
    throw new UsageError(`runAttack: spec.eps must be a list of budgets >= 0 such as [${typeof eps === 'number' ? eps : 0.3}], or null; got ${JSON.stringify(eps)}`);
  }
  if (info.kind === 'fixed-eps' && !(Array.isArray(eps) && eps.length > 0)) {
    throw new UsageError(`${info.name} needs budgets: pass spec.eps, e.g. { name: '${info.name}', eps: [0.3] }`);
  }
  checkAttackOptions(info, spec.options ?? {}, { where: 'spec.options' });
}

/** Options as a report shows them: typed arrays (mask, target labels) summarised, not dumped. */
function reportedParams(defaults: object, options: AttackOptions | undefined, norm: NormName): Record<string, unknown> {
  const params: Record<string, unknown> = { ...defaults, norm };
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value === undefined) continue;
    if (key === 'targeting') params.targeting = (value as { kind: string }).kind;
    else if (key === 'mask' && value instanceof Float32Array) params.mask = `${value.filter((m) => m > 0).length} of ${value.length} features free`;
    else if (key === 'constraints') {
      const c = value as FeatureConstraints;
      params.constraints = `${c.grid?.filter((g) => g > 0).length ?? 0} gridded (integer) features, ${c.oneHot?.length ?? 0} one-hot groups`;
    }
    else params[key] = value;
  }
  return params;
}

/**
 * Run one attack spec over a whole dataset in batches, sharing the clean pass across epsilons and
 * reporting per-eps robust accuracy, success rate and perturbation sizes, with exact work counts.
 * Random choices are keyed by example (`options.exampleIds`, default the position in `dataset`), so a run is
 * reproducible whatever the batch size, and a shard gives what the same examples give in one run.
 * @example
 *   const report = await runAttack(model, await loadDataset('mnist:test', { n: 100 }),
 *     { name: 'pgd', eps: [0.1, 0.3], options: { steps: 40 } },
 *     { onProgress: (done, total, robust) => console.log(done, total, robust) });
 *   console.log(report.cleanAccuracy, report.results.map((r) => r.robustAccuracy));
 */
export async function runAttack(model: Model, dataset: Dataset, spec: AttackSpec, options: RunAttackOptions = {}): Promise<AttackReport> {
  const started = performance.now();
  const info = getAttack(spec.name);
  checkSpec(info, spec);
  checkOptions(RUN_OPTIONS, { batchSize: options.batchSize }, { owner: 'runAttack', passThrough: [] });
  const requestedBatch = options.batchSize ?? 100;
  const features = dataset.shape.reduce((a, b) => a * b, 1);
  if (dataset.shape.length !== model.inputShape.length || dataset.shape.some((d, i) => d !== model.inputShape[i])) {
    throw new InputError(`dataset ${dataset.source} has examples of shape [${dataset.shape.join(', ')}] but the model expects [${model.inputShape.join(', ')}]`);
  }
  const badLabel = dataset.y.findIndex((label) => label < 0 || label >= model.numClasses || !Number.isInteger(label));
  if (badLabel >= 0) {
    throw new InputError(`label ${dataset.y[badLabel]} at index ${badLabel} of ${dataset.source} is outside 0..${model.numClasses - 1}`);
  }
  const norm = spec.norm ?? info.norms[0] ?? 'linf';
  const epsList = spec.eps && spec.eps.length > 0 ? spec.eps : null;
  const targeting = spec.options?.targeting;

  const n = dataset.n;
  const slots = epsList ? epsList.length : 1;
  const isAdversarial = Array.from({ length: slots }, () => new Uint8Array(n));
  const norms = Array.from({ length: slots }, () => ({ linf: new Float32Array(n), l2: new Float32Array(n), l0: new Float32Array(n) }));
  const xAdv = options.keepAdversarial ? Array.from({ length: slots }, () => new Float32Array(n * features)) : null;
  const cleanCorrect = new Uint8Array(n);
  const targets = targeting && targeting.kind !== 'untargeted' ? new Int32Array(n) : null;
  const largest = epsList ? epsList.indexOf(maxOf(epsList)) : 0;
  // Random choices are keyed by example, not by batch: the same example gets the same start and target
  // whatever the batch size, offset or shard.
  const given = spec.options?.exampleIds;
  if (given && given.length !== n) throw new InputError(`runAttack: ${given.length} exampleIds for ${n} examples`);
  const exampleIds = Int32Array.from(given ?? { length: n }, (v, i) => (given ? Number(v) : i));
  let batchSize = requestedBatch;
  if (options.maxMemoryBytes !== undefined && n > 0) {
    const estimate = options.memoryEstimate ?? estimateMemory(model, { gradients: info.needs === 'gradients' && model.access === 'gradients' });
    const plan = planBatch(estimate, {
      requested: Math.min(requestedBatch, n),
      maxBytes: options.maxMemoryBytes,
      copies: modelCopies(info, spec, model.numClasses),
      stateCopies: ATTACK_STATE_COPIES + slots,
      inputBytes: 4 * features,
      what: `${info.name} on inputs of shape [${dataset.shape.join(', ')}]`,
    });
    options.onBatchPlan?.(plan);
    batchSize = plan.batchSize;
  }
  let gradientEvaluations = 0;
  let queries = 0;
  let robustSoFar = 0;

  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const b = end - start;
    const x = tf.tensor(dataset.x.subarray(start * features, end * features), [b, ...dataset.shape]);
    const batchTargeting = targeting?.kind === 'labels' ? { kind: 'labels' as const, labels: targeting.labels.subarray(start, end) } : targeting;
    try {
      const many = await attackManyEps(info, model, x, dataset.y.subarray(start, end), epsList, {
        ...spec.options,
        norm,
        targeting: batchTargeting,
        seed: spec.options?.seed ?? 0,
        exampleIds: exampleIds.subarray(start, end),
      });
      try {
        cleanCorrect.set(many.cleanCorrect, start);
        if (targets && many.targets) targets.set(many.targets, start);
        gradientEvaluations += many.gradientEvaluations;
        queries += many.queries;
        for (let k = 0; k < slots; k++) {
          const r = many.results[k];
          if (!r) continue;
          isAdversarial[k]?.set(r.isAdversarial, start);
          norms[k]?.linf.set(r.perturbation.linf, start);
          norms[k]?.l2.set(r.perturbation.l2, start);
          norms[k]?.l0.set(r.perturbation.l0, start);
          if (xAdv) xAdv[k]?.set((await r.xAdv.data()) as Float32Array, start * features);
        }
        const adv = isAdversarial[largest] as Uint8Array;
        for (let i = start; i < end; i++) if (cleanCorrect[i] && !adv[i]) robustSoFar++;
      } finally {
        for (const r of many.results) r.xAdv.dispose();
      }
    } finally {
      x.dispose();
    }
    options.onProgress?.(end, n, robustSoFar / end);
  }

  const correct = cleanCorrect.reduce((a, v) => a + v, 0);
  const results: EpsReport[] = Array.from({ length: slots }, (_, k) => {
    const adv = isAdversarial[k] as Uint8Array;
    const sizes = norms[k] as PerturbationNorms;
    const robust = Uint8Array.from(cleanCorrect, (c, i) => (c && !adv[i] ? 1 : 0));
    const broken: number[] = [];
    cleanCorrect.forEach((c, i) => c && adv[i] && broken.push(i));
    const report: EpsReport = {
      eps: epsList ? (epsList[k] as number) : null,
      robustAccuracy: n ? robust.reduce((a, v) => a + v, 0) / n : 0,
      attackSuccessRate: correct ? broken.length / correct : 0,
      perturbation: {
        linf: summarizePerturbation(broken.map((i) => sizes.linf[i] as number)),
        l2: summarizePerturbation(broken.map((i) => sizes.l2[i] as number)),
        l0: summarizePerturbation(broken.map((i) => sizes.l0[i] as number)),
      },
      robust,
      isAdversarial: adv,
      norms: sizes,
    };
    if (xAdv) report.xAdv = xAdv[k] as Float32Array;
    return report;
  });
  return {
    attack: info.name,
    kind: info.kind,
    norm,
    params: reportedParams(info.defaults, spec.options, norm),
    n,
    cleanCorrect,
    cleanAccuracy: n ? correct / n : 0,
    targets,
    results,
    timing: { seconds: (performance.now() - started) / 1000, gradientEvaluations, queries },
  };
}
