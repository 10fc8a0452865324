/**
 * @packageDocumentation
 * AutoAttack, standard version (Croce & Hein 2020, ICML, "Reliable evaluation of adversarial robustness
 * with an ensemble of diverse parameter-free attacks"): a fixed ensemble, each attack run only on the
 * points every earlier one left robust, so the result is the per-point worst case.
 *
 *   robust = points the model classifies correctly
 *   for attack in [APGD-CE, APGD-T, Square]:
 *     run attack on the robust points; the ones it breaks leave the robust set
 *
 * Standard defaults: APGD-CE 100 steps, 1 restart; APGD-T 100 steps, 9 target classes, 1 restart each;
 * Square 5000 queries, pInit 0.8; one seed for all. FAB-T is not included (robust has no FAB).
 * `attacks` runs a custom subset or order, and `steps`, `targetClasses`, `queries` shrink the budget.
 * Untargeted only; norms linf and l2. Needs gradients (Square alone needs only scores). Points that no
 * attack breaks keep xAdv = x, as in the reference.
 *
 * The result says which attack broke each point (`brokenBy`) and what each attack spent (`components`).
 * Every component draws its randomness from per-example streams keyed by the point's position in the
 * caller's batch, so a point's outcome under each component is the one that component gets running
 * alone on the whole batch with the same seed: AutoAttack is never weaker than any of its parts.
 *
 * @example
 *   const r = await autoattack(model, x, y, { eps: 8 / 255 });
 *   console.log(r.brokenBy); // e.g. ['apgd-ce', null, 'clean', 'apgd-t', ...]
 *   r.xAdv.dispose();
 */
import { tf } from '../tf.js';
import { InputError, UsageError } from '../errors.js';
import { apgd, apgdT } from './apgd.js';
import { attackOptions } from './core/options.js';
import { defaultsOf, type OptionSchema } from '../options/schema.js';
import { perExample, perturbationNorms } from './core/norms.js';
import type { Model } from '../models/types.js';
import type { AttackInfo, AttackResult, CommonAttackOptions } from './core/types.js';
import { square } from './square.js';

/** The attacks AutoAttack can run. */
export type AutoAttackComponent = 'apgd-ce' | 'apgd-t' | 'square';

/** Options of `autoattack`. */
export interface AutoAttackOptions extends CommonAttackOptions {
  /** Attacks to run, in order. Default ['apgd-ce', 'apgd-t', 'square'] (the standard version without FAB-T). */
  attacks?: AutoAttackComponent[];
  /** APGD iterations (APGD-CE and each APGD-T target). Default 100. */
  steps?: number;
  /** APGD restarts. Default 1. */
  restarts?: number;
  /** APGD-T target classes. Default 9. */
  targetClasses?: number;
  /** Square's query budget per example. Default 5000. */
  queries?: number;
  /** Keys of the per-example random streams (see `ApgdOptions.exampleIds`). Default 0..b−1. */
  exampleIds?: ArrayLike<number>;
}

/** What one component did. */
export interface ComponentReport {
  name: AutoAttackComponent;
  /** Points it ran on (those still robust). */
  attacked: number;
  /** Points it broke. */
  broken: number;
  gradientEvaluations: number;
  queries: number;
}

/** AutoAttack's result: the worst case per point, and who found it. */
export interface AutoAttackResult extends AttackResult {
  /** Per point: the attack that broke it, 'clean' when the model was already wrong, or null when it held. */
  brokenBy: (AutoAttackComponent | 'clean' | null)[];
  /** One entry per attack run, in order. */
  components: ComponentReport[];
}

const OPTIONS = {
  attacks: { type: 'enum-array', values: ['apgd-ce', 'apgd-t', 'square'] as AutoAttackComponent[], default: ['apgd-ce', 'apgd-t', 'square'] as AutoAttackComponent[], doc: 'attacks to run, in order' },
  steps: { type: 'integer', min: 1, default: 100, doc: 'APGD iterations (APGD-CE and each APGD-T target)' },
  restarts: { type: 'integer', min: 1, default: 1, doc: 'APGD restarts' },
  targetClasses: { type: 'integer', min: 1, default: 9, doc: 'APGD-T target classes' },
  queries: { type: 'integer', min: 2, default: 5000, doc: "Square's query budget per example" },
} as const satisfies OptionSchema;
const DEFAULTS = { norm: 'linf' as const, ...defaultsOf(OPTIONS) };

/** Rows `rows` of `sub` (one per index in `idx`) written over `base`; consumes nothing. */
function scatterRows(base: tf.Tensor, sub: tf.Tensor, idx: number[], rows: number[]): tf.Tensor {
  return tf.tidy(() => {
    const n = base.shape[0] ?? 0;
    const from = new Int32Array(n);
    const sel = new Uint8Array(n);
    for (const j of rows) {
      from[idx[j] ?? 0] = j;
      sel[idx[j] ?? 0] = 1;
    }
    const cond = tf.broadcastTo(perExample(tf.tensor1d(sel, 'bool'), base.rank), base.shape);
    return tf.where(cond, tf.gather(sub, tf.tensor1d(from, 'int32')), base);
  });
}

/**
 * AutoAttack (Croce & Hein 2020), standard version without FAB-T. See the module comment.
 * @example
 *   const r = await autoattack(model, x, y, { eps: 0.3, steps: 20, targetClasses: 3, queries: 500 });
 */
export async function autoattack(
  model: Model,
  x: tf.Tensor,
  y: Int32Array,
  options: AutoAttackOptions = {},
): Promise<AutoAttackResult> {
  const o = attackOptions('autoattack', OPTIONS, DEFAULTS, options);
  const n = y.length;
  if ((o.targeting?.kind ?? 'untargeted') !== 'untargeted') {
    throw new UsageError('autoattack is untargeted (APGD-T picks its own targets): drop --targeted');
  }
  if (o.eps === undefined) throw new UsageError('autoattack needs an eps (e.g. --eps 0.3)');
  if (typeof o.eps !== 'number' && o.eps.length !== n) throw new InputError(`autoattack: ${o.eps.length} eps values for ${n} inputs`);
  if (o.norm !== 'linf' && o.norm !== 'l2') throw new UsageError(`autoattack supports --norm linf|l2, not ${o.norm}`);
  if (x.shape[0] !== n) throw new InputError(`autoattack: ${x.shape[0]} inputs but ${n} labels`);
  const shape = x.shape.slice(1);
  if (shape.length !== model.inputShape.length || shape.some((v, i) => v !== model.inputShape[i])) {
    throw new InputError(`autoattack: inputs have shape [${shape.join(', ')}] but the model expects [${model.inputShape.join(', ')}]`);
  }
  const ids = o.exampleIds ? Array.from(o.exampleIds) : [...Array(n).keys()];
  if (ids.length !== n) throw new UsageError(`autoattack: ${ids.length} exampleIds for ${n} examples; pass one per example`);

  const ownsClean = o.cleanLogits === undefined;
  const clean = o.cleanLogits ?? tf.tidy(() => model.predict(x));
  let queries = ownsClean ? n : 0;
  let gradientEvaluations = 0;
  let xAdv = x.clone();
  try {
    const wrongT = tf.tidy(() => tf.notEqual(tf.argMax(clean, 1), tf.tensor1d(y, 'int32')));
    const wrong = await wrongT.data();
    wrongT.dispose();
    const brokenBy: AutoAttackResult['brokenBy'] = Array.from(wrong, (v) => (v ? 'clean' : null));
    const components: ComponentReport[] = [];
    for (const name of o.attacks) {
      const idx = brokenBy.flatMap((b, i) => (b === null ? [i] : []));
      if (idx.length === 0) break;
      const idxT = tf.tensor1d(idx, 'int32');
      const xs = tf.gather(x, idxT);
      const cs = tf.gather(clean, idxT);
      idxT.dispose();
      const common: CommonAttackOptions & { exampleIds: number[] } = {
        norm: o.norm,
        eps: typeof o.eps === 'number' ? o.eps : Float32Array.from(idx, (i) => (o.eps as Float32Array)[i] ?? 0),
        seed: o.seed,
        mask: o.mask,
        bounds: o.bounds,
        earlyStop: o.earlyStop,
        cleanLogits: cs,
        exampleIds: idx.map((i) => ids[i] ?? i),
      };
      const ys = Int32Array.from(idx, (i) => y[i] ?? 0);
      let r: AttackResult;
      try {
        if (name === 'apgd-ce') r = await apgd(model, xs, ys, { ...common, loss: 'ce', steps: o.steps, restarts: o.restarts });
        else if (name === 'apgd-t') r = await apgdT(model, xs, ys, { ...common, steps: o.steps, restarts: o.restarts, targetClasses: o.targetClasses });
        else if (name === 'square') r = await square(model, xs, ys, { ...common, queries: o.queries });
        else throw new UsageError(`autoattack: unknown attack "${String(name)}"; choose from apgd-ce, apgd-t, square`);
      } finally {
        tf.dispose([xs, cs]);
      }
      const hits = [...r.isAdversarial.keys()].filter((j) => r.isAdversarial[j]);
      const next = scatterRows(xAdv, r.xAdv, idx, hits);
      tf.dispose([xAdv, r.xAdv]);
      xAdv = next;
      for (const j of hits) brokenBy[idx[j] ?? 0] = name;
      gradientEvaluations += r.gradientEvaluations;
      queries += r.queries;
      components.push({ name, attacked: idx.length, broken: hits.length, gradientEvaluations: r.gradientEvaluations, queries: r.queries });
    }
    return {
      xAdv,
      isAdversarial: Uint8Array.from(brokenBy, (b) => (b === null ? 0 : 1)),
      perturbation: await perturbationNorms(x, xAdv),
      gradientEvaluations,
      queries,
      brokenBy,
      components,
    };
  } catch (err) {
    xAdv.dispose();
    throw err;
  } finally {
    if (ownsClean) clean.dispose();
  }
}

/** Registry entry of `autoattack`. */
export const autoattackInfo: AttackInfo<AutoAttackOptions> = {
  name: 'autoattack',
  title: 'AutoAttack, standard ensemble (APGD-CE, APGD-T, Square)',
  paper: 'Croce & Hein 2020, Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks (ICML)',
  kind: 'fixed-eps',
  norms: ['linf', 'l2'],
  needs: 'gradients',
  targeted: false,
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  run: autoattack,
};
