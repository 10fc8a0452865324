import { tf } from '../tf.js';
import { InputError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import type { Model } from '../models/types.js';
import { attackManyEps } from './core/epsilons.js';
import { checkOptions } from '../options/schema.js';
import type { PerturbationNorms } from './core/types.js';
import { getAttack } from './registry.js';
import { estimateMemory, planBatch, type BatchPlan, type MemoryEstimate } from '../util/memory.js';
import { maxOf } from '../tensor/range.js';
import { ATTACK_STATE_COPIES, checkSpec, modelCopies, reportedParams, type AttackSpec } from './runner/spec.js';
import { epsReport, type AttackReport, type EpsReport } from './runner/report.js';

export { type AttackOptions, type AttackSpec } from './runner/spec.js';
export { summarizePerturbation, type AttackReport, type EpsReport, type PerturbationSummary } from './runner/report.js';

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

/** The checkable parts of `RunAttackOptions`. */
const RUN_OPTIONS = { batchSize: { type: 'integer', min: 1, default: 100, doc: 'examples per batch' } } as const;

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
  const results: EpsReport[] = Array.from({ length: slots }, (_, k) =>
    epsReport(cleanCorrect, {
      eps: epsList ? (epsList[k] as number) : null,
      isAdversarial: isAdversarial[k] as Uint8Array,
      norms: norms[k] as PerturbationNorms,
      ...(xAdv ? { xAdv: xAdv[k] as Float32Array } : {}),
    }),
  );
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
