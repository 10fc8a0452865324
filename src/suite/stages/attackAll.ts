/**
 * Stage 4 of `runSuite`: run every planned attack over the same examples (the registry picks the attack,
 * `runAttack` batches it through the harness), and record per example whether it stayed robust at each eps.
 */
import { runAttack, type AttackReport, type EpsReport } from '../../attacks/run.js';
import type { NormName } from '../../attacks/core/norms.js';
import { brokenWithin } from '../../attacks/core/epsilons.js';
import type { PerturbationNorms } from '../../attacks/core/types.js';
import type { Dataset } from '../../data/index.js';
import type { Model } from '../../models/types.js';
import type { SuiteConfig } from '../config.js';
import { epsKey, parseEpsKey } from '../keys.js';
import type { ExampleOutcomes } from '../types.js';
import type { MemoryBudget } from './cleanPass.js';
import type { Threat } from './selectExamples.js';
import type { PlannedAttack, RunSuiteOptions } from './types.js';

/** What {@link attackAll} needs. */
export interface AttackAllInput {
  model: Model;
  ds: Dataset;
  /** Each example's position in the full selection: attacks key their random choices on it. */
  positions: readonly number[];
  /** The clean pass's verdicts: clean mistakes are never robust. */
  correct: Uint8Array;
  attacks: readonly PlannedAttack[];
  threat: Threat;
  seed: string;
  config: Pick<SuiteConfig, 'batchSize' | 'samples' | 'thresholds'>;
  memory: MemoryBudget | undefined;
  options: Pick<RunSuiteOptions, 'onProgress' | 'onBatchPlan'>;
}

/** An attack's result at one eps whose adversarial inputs the gallery may show. */
export interface SampleSource {
  key: string;
  report: AttackReport;
  eps: number | null;
}

/** What {@link attackAll} gives. */
export interface AttackAllOutput {
  /** The planned attacks with what they did: parameters used, gradient evaluations, queries, seconds. */
  attacks: PlannedAttack[];
  robust: ExampleOutcomes['robust'];
  norms: ExampleOutcomes['norms'];
  minNorm: ExampleOutcomes['minNorm'];
  /** Results that kept their adversarial inputs for the gallery (others are dropped to save memory). */
  forSamples: SampleSource[];
}

/** Run every attack of the suite, one after another, over the same examples. */
export async function attackAll({ model, ds, positions, correct, attacks, threat, seed, config, memory, options }: AttackAllInput): Promise<AttackAllOutput> {
  const out: AttackAllOutput = { attacks: [], robust: {}, norms: {}, minNorm: {}, forSamples: [] };
  // Robust = clean-correct and not broken, as the suite counts it (clean mistakes are never robust).
  const record = (key: string, broken: (i: number) => boolean, sizes: PerturbationNorms) => {
    out.robust[key] = Array.from(correct, (c, i) => (c && !broken(i) ? 1 : 0));
    const counted = (i: number) => Boolean(correct[i]) && broken(i);
    out.norms[key] = {
      l0: Array.from(sizes.l0, (v, i) => (counted(i) ? v : 0)),
      l2: Array.from(sizes.l2, (v, i) => (counted(i) ? v : 0)),
      linf: Array.from(sizes.linf, (v, i) => (counted(i) ? v : 0)),
    };
  };
  const batchSize = config.batchSize ?? 100;
  for (const planned of attacks) {
    const a0 = performance.now();
    // Minimum-norm attacks run once without a budget; every eps is then answered from the distances found.
    const minimum = planned.kind === 'minimum-norm';
    options.onProgress?.({ stage: 'attack', attack: planned.id, done: 0, total: ds.n });
    const report = await runAttack(
      model,
      ds,
      { name: planned.name, norm: planned.norm, eps: minimum || planned.eps[0] === null ? null : (planned.eps as number[]), options: { ...planned.options, ...threat, seed: `${seed}/${planned.id}`, exampleIds: Int32Array.from(positions) } },
      {
        batchSize,
        // The gallery needs the adversarial inputs, and so does an L1 minimum-norm attack (see foundSizes).
        keepAdversarial: (config.samples ?? 8) > 0 || (minimum && planned.norm === 'l1'),
        onProgress: (done, total, robust) => options.onProgress?.({ stage: 'attack', attack: planned.id, done, total, robust }),
        ...memory,
        onBatchPlan: (plan) => options.onBatchPlan?.(planned.id, plan),
      },
    );
    const { exampleIds: _ids, ...params } = report.params;
    out.attacks.push({ ...planned, params, gradientEvaluations: report.timing.gradientEvaluations, queries: report.timing.queries, seconds: (performance.now() - a0) / 1000 });
    if (minimum) {
      const found = report.results[0]!;
      const size = foundSizes(found, planned.norm, ds.x);
      out.minNorm[planned.id] = Array.from(correct, (c, i) => (!c ? 0 : found.isAdversarial[i] ? (size[i] as number) : null));
      for (const eps of planned.eps) {
        const broken = brokenWithin(found.isAdversarial, size, eps ?? Infinity);
        record(epsKey(planned.id, eps), (i) => Boolean(broken[i]), found.norms);
      }
      continue; // minimal perturbations can exceed every budget: no samples from them
    }
    for (const r of report.results) record(epsKey(planned.id, r.eps), (i) => !r.robust[i], r.norms);
    // Keep the adversarial inputs the gallery may show: at the largest eps and at every eps a threshold names.
    const largest = planned.eps[planned.eps.length - 1] ?? null;
    const galleryEps = new Set<number | null>([largest, ...thresholdEps(config.thresholds?.robustAccuracy, planned.norm)]);
    for (const r of report.results) {
      if (!galleryEps.has(r.eps)) delete r.xAdv;
      else out.forSamples.push({ key: epsKey(planned.id, r.eps), report, eps: r.eps });
    }
  }
  return out;
}

/**
 * Each example's found perturbation in the attack's norm: `runAttack`'s own sizes, or for L1, which it does not
 * measure, summed from the adversarial inputs (as `attackManyEps` measures L1 for a single attack's budgets).
 */
function foundSizes(found: EpsReport, norm: NormName, x: Float32Array): ArrayLike<number> {
  if (norm !== 'l1') return found.norms[norm];
  const adv = found.xAdv;
  if (adv === undefined) throw new Error('attackAll: an L1 minimum-norm attack ran without keeping its adversarial inputs');
  const n = found.isAdversarial.length;
  const size = n === 0 ? 0 : x.length / n;
  return Float32Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let f = i * size; f < (i + 1) * size; f++) s += Math.abs((adv[f] as number) - (x[f] as number));
    return s;
  });
}

/** The eps values of `norm` that robust-accuracy threshold keys (`<attack or worst>@<norm>:<eps>`) name. */
function thresholdEps(robustAccuracy: Record<string, number> | undefined, norm: string): number[] {
  return Object.keys(robustAccuracy ?? {}).flatMap((key) => {
    const parts = parseEpsKey(key);
    return parts !== null && parts.norm === norm ? [parts.eps] : [];
  });
}
