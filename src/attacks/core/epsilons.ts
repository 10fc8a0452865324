import { tf } from '../../tf.js';
import { UsageError } from '../../errors.js';
import type { Model } from '../../models/types.js';
import { resolveTargetLabels } from './harness.js';
import { NORMS } from './norms.js';
import type { AttackInfo, AttackResult, CommonAttackOptions, PerturbationNorms, Targeting } from './types.js';
import { scatterRows, selectRows } from '../../tensor/rows.js';

/** Common options plus any attack-specific ones (steps, c, ...), as a registry-driven caller passes them. */
export type AnyAttackOptions = CommonAttackOptions & { [option: string]: unknown };

/** The outcome at one eps. `eps` is null for a minimum-norm attack run without a budget. */
export interface EpsResult extends AttackResult {
  eps: number | null;
}

/** What `attackManyEps` returns. The caller disposes every `results[i].xAdv`. */
export interface ManyEpsResult {
  /** One entry per requested eps, in the order given; a single `eps: null` entry when none was given to a minimum-norm attack. */
  results: EpsResult[];
  /** 1 where the clean prediction is the true label. */
  cleanCorrect: Uint8Array;
  /** The targets every eps aimed at (resolved once from the seed), or null when untargeted. */
  targets: Int32Array | null;
  /** Totals over the shared clean pass and every attack run (per-eps results hold only their own run's work). */
  gradientEvaluations: number;
  queries: number;
}

function select(rows: Uint8Array, a: PerturbationNorms, b: PerturbationNorms | null): PerturbationNorms {
  const pickArr = (x: Float32Array, y: Float32Array | null) => x.map((v, i) => (rows[i] ? v : y ? (y[i] as number) : 0));
  return { linf: pickArr(a.linf, b?.linf ?? null), l2: pickArr(a.l2, b?.l2 ?? null), l0: pickArr(a.l0, b?.l0 ?? null) };
}

/** Spread a subset's per-example values back to positions `idx` of an n-array whose other entries come from `base`. */
function spread<T extends Float32Array | Uint8Array>(base: T, idx: Int32Array, sub: T): T {
  const out = base.slice() as T;
  idx.forEach((i, j) => (out[i] = sub[j] as number));
  return out;
}

/**
 * Which examples a minimum-norm attack broke within `eps`: those where it found an adversarial example whose
 * perturbation, measured in the attack's norm (`size`), is at most eps. The one rule by which both a single
 * attack's eps list and a suite's budgets are answered from one unbudgeted run.
 */
export function brokenWithin(isAdversarial: Uint8Array, size: ArrayLike<number>, eps: number): Uint8Array {
  return Uint8Array.from(isAdversarial, (a, i) => (a && (size[i] as number) <= eps ? 1 : 0));
}

/**
 * Run one attack at several epsilons without repeating work (the "not wasting work"):
 *  - one clean forward pass serves every eps, and targets are resolved once, so every eps aims at the same ones;
 *  - fixed-eps attacks run from the smallest eps up; with early stop (default) an example already
 *    broken at a smaller eps keeps that adversarial example, which lies inside every larger ball, and
 *    is not attacked again (so robust accuracy is monotone in eps by construction); points the model
 *    gets wrong clean are never attacked;
 *  - minimum-norm attacks (cw, deepfool) run once: an example is broken at eps iff the perturbation
 *    found is at most eps in the attack's norm, and its xAdv at that eps is the found one, else x.
 * @example
 *   const many = await attackManyEps(getAttack('pgd'), model, x, y, [0.1, 0.2, 0.3], { steps: 40 });
 *   many.results.forEach((r) => r.xAdv.dispose());
 */
export async function attackManyEps(
  info: AttackInfo,
  model: Model,
  x: tf.Tensor,
  y: Int32Array,
  epsList: readonly number[] | null,
  options: AnyAttackOptions = {},
): Promise<ManyEpsResult> {
  const n = x.shape[0] ?? 0;
  if (info.kind === 'fixed-eps' && (!epsList || epsList.length === 0)) {
    throw new UsageError(`${info.name} needs at least one eps (e.g. --eps 0.3 or --eps 0.1,0.2,0.3)`);
  }
  const ownsClean = options.cleanLogits === undefined;
  const clean = options.cleanLogits ?? tf.tidy(() => model.predict(x));
  let gradientEvaluations = 0;
  let queries = ownsClean ? n : 0;
  const results: EpsResult[] = [];
  try {
    const correctT = tf.tidy(() => tf.equal(tf.argMax(clean, 1), tf.tensor1d(y, 'int32')));
    const cleanCorrect = Uint8Array.from(await correctT.data());
    correctT.dispose();
    const targets = await resolveTargetLabels(clean, y, options.targeting, options.seed ?? 0, options.exampleIds);
    const ids = options.exampleIds ?? Int32Array.from({ length: n }, (_, i) => i);
    const targetingFor = (idx: Int32Array | null): Targeting =>
      targets ? { kind: 'labels', labels: idx ? idx.map((i) => targets[i] as number) : targets } : { kind: 'untargeted' };

    if (info.kind === 'minimum-norm') {
      const norm = options.norm ?? info.norms[0] ?? 'l2';
      const found = await info.run(model, x, y, { ...options, cleanLogits: clean, targeting: targetingFor(null) });
      gradientEvaluations += found.gradientEvaluations;
      queries += found.queries;
      if (!epsList || epsList.length === 0) {
        results.push({ eps: null, ...found });
        return { results, cleanCorrect, targets, gradientEvaluations, queries };
      }
      // Results carry Linf, L2 and L0 sizes; an L1 run measures its own.
      let size: Float32Array;
      if (norm === 'l1') {
        const t = tf.tidy(() => NORMS.l1.distance(tf.sub(found.xAdv, x)));
        size = (await t.data()) as Float32Array;
        t.dispose();
      } else {
        size = found.perturbation[norm];
      }
      try {
        for (const eps of epsList) {
          const ok = brokenWithin(found.isAdversarial, size, eps);
          results.push({
            eps,
            xAdv: selectRows(ok, found.xAdv, x),
            isAdversarial: ok,
            perturbation: select(ok, found.perturbation, null),
            gradientEvaluations: 0,
            queries: 0,
          });
        }
      } finally {
        found.xAdv.dispose();
      }
      return { results, cleanCorrect, targets, gradientEvaluations, queries };
    }

    const epsValues = epsList ?? [];
    const order = epsValues.map((_, k) => k).sort((a, b) => (epsValues[a] as number) - (epsValues[b] as number));
    const reuse = options.earlyStop ?? true;
    const byIndex: EpsResult[] = new Array<EpsResult>(epsValues.length);
    let previous: EpsResult | null = null;
    for (const k of order) {
      const eps = epsValues[k] as number;
      const prev: EpsResult | null = reuse ? previous : null;
      const todo = Int32Array.from({ length: n }, (_, i) => i).filter((i) => !prev?.isAdversarial[i]);
      let r: EpsResult;
      if (todo.length === n || !prev) {
        const out = await info.run(model, x, y, { ...options, eps, cleanLogits: clean, targeting: targetingFor(null) });
        r = { eps, ...out };
      } else if (todo.length === 0) {
        r = { ...prev, eps, xAdv: tf.clone(prev.xAdv), gradientEvaluations: 0, queries: 0 };
      } else {
        const idx = tf.tensor1d(todo, 'int32');
        const xs = tf.gather(x, idx);
        const cs = tf.gather(clean, idx);
        idx.dispose();
        const ys = todo.map((i) => y[i] as number);
        try {
          const sub = await info.run(model, xs, ys, { ...options, eps, cleanLogits: cs, targeting: targetingFor(todo), exampleIds: Array.from(todo, (i) => ids[i] as number) });
          const xAdv = scatterRows(prev.xAdv, sub.xAdv, todo);
          sub.xAdv.dispose();
          r = {
            eps,
            xAdv,
            isAdversarial: spread(prev.isAdversarial, todo, sub.isAdversarial),
            perturbation: {
              linf: spread(prev.perturbation.linf, todo, sub.perturbation.linf),
              l2: spread(prev.perturbation.l2, todo, sub.perturbation.l2),
              l0: spread(prev.perturbation.l0, todo, sub.perturbation.l0),
            },
            gradientEvaluations: sub.gradientEvaluations,
            queries: sub.queries,
          };
        } finally {
          tf.dispose([xs, cs]);
        }
      }
      gradientEvaluations += r.gradientEvaluations;
      queries += r.queries;
      byIndex[k] = r;
      results.push(r);
      previous = r;
    }
    return { results: byIndex, cleanCorrect, targets, gradientEvaluations, queries };
  } catch (err) {
    for (const r of results) r.xAdv.dispose();
    throw err;
  } finally {
    if (ownsClean) clean.dispose();
  }
}
