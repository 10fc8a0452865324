/**
 * @packageDocumentation
 * AutoAttack (Croce & Hein 2020, ICML, "Reliable evaluation of adversarial robustness with an ensemble
 * of diverse parameter-free attacks"): a fixed ensemble, each attack run only on the points every
 * earlier one left robust, so the result is the per-point worst case. Versions, as the reference has them:
 *
 *   standard  APGD-CE, APGD-T (9 targets), FAB-T (9 targets), Square (5000 queries); 1 restart each
 *   plus      APGD-CE and APGD-DLR (5 restarts each), FAB (untargeted, 5 restarts), Square (5000
 *             queries), APGD-T and FAB-T (9 targets, 1 restart)
 *   rand      APGD-CE and APGD-DLR, 1 restart, each gradient the EOT average over 20 forward passes
 *             (for randomised defences; see `eotIterations`)
 *
 * Components are registry entries (`AttackInfo`), run through their own `run` and so through the harness,
 * each with the version's options; `attacks` picks another list of them, and `steps`, `restarts`,
 * `targetClasses`, `queries` override the budget of every component that has that option. A
 * minimum-norm component (FAB) breaks a point when it finds an adversarial example within eps.
 * Untargeted only; norms linf and l2. Points no attack breaks keep xAdv = x, as in the reference.
 *
 * Every component draws its randomness from per-example streams keyed by the point's position in the
 * caller's batch, so a point's outcome under each component is the one that component gets running
 * alone on the whole batch with the same seed: AutoAttack is never weaker than any of its parts.
 *
 * @example
 *   const r = await autoattack(model, x, y, { eps: 8 / 255, version: 'plus' });
 *   console.log(r.version, r.brokenBy); // 'plus', e.g. ['apgd-ce', null, 'clean', 'fab', ...]
 *   r.xAdv.dispose();
 */
import { tf } from '../tf.js';
import { InputError, UsageError } from '../errors.js';
import { defaultsOf, type OptionSchema } from '../options/schema.js';
import { attackOptions } from './core/options.js';
import { perturbationNorms } from './core/norms.js';
import type { Model } from '../models/types.js';
import { scatterRows } from '../tensor/rows.js';
import type { AttackInfo, AttackResult, CommonAttackOptions } from './core/types.js';
import { AUTOATTACK_VERSIONS, COMPONENTS, plan, versionEot, type AutoAttackVersion } from './autoattack/versions.js';

export { AUTOATTACK_VERSIONS, autoattackVersions, type AutoAttackComponent, type AutoAttackVersion } from './autoattack/versions.js';

/** Options of `autoattack`. */
export interface AutoAttackOptions extends CommonAttackOptions {
  /** Which published version to run. Default 'standard'. */
  version?: AutoAttackVersion;
  /** Registry names of the attacks to run instead of the version's, in order (each with the version's options for it, if any). */
  attacks?: string[];
  /** Iterations of every component that has steps (APGD, FAB). Default: each component's own (100). */
  steps?: number;
  /** Restarts of every component that has restarts. Default: the version's. */
  restarts?: number;
  /** Target classes of APGD-T and FAB-T. Default: the version's (9). */
  targetClasses?: number;
  /** Square's query budget per example. Default: the version's (5000). */
  queries?: number;
  /**
   * Forward passes averaged into every logit, and so every gradient (EOT), for a model that draws fresh
   * randomness on every call. Default 20 for 'rand', else 1. Each gradient evaluation and query counted then
   * stands for this many passes. (The reference averages loss gradients; this averages logits.)
   */
  eotIterations?: number;
}

/** What one component did. */
export interface ComponentReport {
  name: string;
  /** Points it ran on (those still robust). */
  attacked: number;
  /** Points it broke. */
  broken: number;
  gradientEvaluations: number;
  queries: number;
}

/** AutoAttack's result: the worst case per point, who found it, and which version ran. */
export interface AutoAttackResult extends AttackResult {
  version: AutoAttackVersion;
  /** Per point: the attack that broke it, 'clean' when the model was already wrong, or null when it held. */
  brokenBy: (string | null)[];
  /** One entry per attack run, in order. */
  components: ComponentReport[];
}

const OPTIONS = {
  version: { type: 'enum', values: AUTOATTACK_VERSIONS, default: 'standard', doc: 'published version: standard, plus or rand' },
  attacks: { type: 'enum-array', values: Object.keys(COMPONENTS), doc: "attacks to run instead of the version's, in order" },
  steps: { type: 'integer', min: 1, doc: "iterations of every component that has steps (default: each one's own, 100)" },
  restarts: { type: 'integer', min: 1, doc: "restarts of every component that has them (default: the version's)" },
  targetClasses: { type: 'integer', min: 1, doc: "target classes of APGD-T and FAB-T (default: the version's, 9)" },
  queries: { type: 'integer', min: 2, doc: "Square's query budget per example (default: the version's, 5000)" },
  eotIterations: { type: 'integer', min: 1, doc: 'forward passes averaged into every logit, EOT (default: 20 for rand, else 1)' },
} as const satisfies OptionSchema;
const DEFAULTS = { norm: 'linf' as const, ...defaultsOf(OPTIONS) };

/** `model` with every logit the mean of `n` forward passes (EOT for a model with random draws per call). */
function averaged(model: Model, n: number): Model {
  if (n === 1) return model;
  return { ...model, predict: (x) => tf.tidy(() => tf.div(tf.addN(Array.from({ length: n }, () => model.predict(x))), n) as tf.Tensor2D) };
}

/**
 * AutoAttack (Croce & Hein 2020), standard, plus or rand. See the module comment.
 * @example
 *   const r = await autoattack(model, x, y, { eps: 0.3, steps: 20, targetClasses: 3, queries: 500 });
 */
export async function autoattack(model: Model, x: tf.Tensor, y: Int32Array, options: AutoAttackOptions = {}): Promise<AutoAttackResult> {
  const o = attackOptions('autoattack', OPTIONS, DEFAULTS, options);
  const n = y.length;
  if ((o.targeting?.kind ?? 'untargeted') !== 'untargeted') {
    throw new UsageError('autoattack is untargeted (APGD-T and FAB-T pick their own targets): drop --targeted');
  }
  if (o.eps === undefined) throw new UsageError('autoattack needs an eps (e.g. --eps 0.3)');
  if (typeof o.eps !== 'number' && o.eps.length !== n) throw new InputError(`autoattack: ${o.eps.length} eps values for ${n} inputs`);
  if (o.norm !== 'linf' && o.norm !== 'l2') throw new UsageError(`autoattack supports --norm linf|l2, not ${o.norm}`);
  const steps = plan(o);
  const eot = o.eotIterations ?? versionEot(o.version);
  if (x.shape[0] !== n) throw new InputError(`autoattack: ${x.shape[0]} inputs but ${n} labels`);
  const shape = x.shape.slice(1);
  if (shape.length !== model.inputShape.length || shape.some((v, i) => v !== model.inputShape[i])) {
    throw new InputError(`autoattack: inputs have shape [${shape.join(', ')}] but the model expects [${model.inputShape.join(', ')}]`);
  }
  const ids = o.exampleIds ? Array.from(o.exampleIds) : [...Array(n).keys()];
  if (ids.length !== n) throw new UsageError(`autoattack: ${ids.length} exampleIds for ${n} examples; pass one per example`);
  const epsOf = (i: number) => (typeof o.eps === 'number' ? o.eps : ((o.eps as Float32Array)[i] ?? 0));
  const target = averaged(model, eot);

  const ownsClean = o.cleanLogits === undefined;
  const clean = o.cleanLogits ?? tf.tidy(() => model.predict(x));
  let queries = ownsClean ? n : 0;
  let gradientEvaluations = 0;
  let xAdv = x.clone();
  try {
    const wrongT = tf.tidy(() => tf.notEqual(tf.argMax(clean, 1), tf.tensor1d(y, 'int32')));
    const wrong = await wrongT.data();
    wrongT.dispose();
    const brokenBy: (string | null)[] = Array.from(wrong, (v) => (v ? 'clean' : null));
    const components: ComponentReport[] = [];
    for (const { info, options: own } of steps) {
      const idx = brokenBy.flatMap((b, i) => (b === null ? [i] : []));
      if (idx.length === 0) break;
      const idxT = tf.tensor1d(idx, 'int32');
      const xs = tf.gather(x, idxT);
      const cs = tf.gather(clean, idxT);
      idxT.dispose();
      const eps = Float32Array.from(idx, epsOf);
      const ys = Int32Array.from(idx, (i) => y[i] ?? 0);
      let r: AttackResult;
      try {
        r = await info.run(target, xs, ys, {
          ...own, norm: o.norm, eps, seed: o.seed, mask: o.mask, bounds: o.bounds, earlyStop: o.earlyStop,
          cleanLogits: cs, exampleIds: idx.map((i) => ids[i] ?? i),
        } as CommonAttackOptions);
      } finally {
        tf.dispose([xs, cs]);
      }
      // A minimum-norm component's find counts only within eps.
      const size = info.kind === 'minimum-norm' ? r.perturbation[o.norm] : null;
      const hits = [...r.isAdversarial.keys()].filter((j) => r.isAdversarial[j] && (!size || (size[j] as number) <= (eps[j] as number)));
      const next = scatterRows(xAdv, r.xAdv, idx, hits);
      tf.dispose([xAdv, r.xAdv]);
      xAdv = next;
      for (const j of hits) brokenBy[idx[j] ?? 0] = info.name;
      gradientEvaluations += r.gradientEvaluations;
      queries += r.queries;
      components.push({ name: info.name, attacked: idx.length, broken: hits.length, gradientEvaluations: r.gradientEvaluations, queries: r.queries });
    }
    return {
      xAdv,
      version: o.version,
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
  title: 'AutoAttack: standard (APGD-CE, APGD-T, FAB-T, Square), plus, or rand',
  paper: 'Croce & Hein 2020, Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks (ICML)',
  kind: 'fixed-eps',
  norms: ['linf', 'l2'],
  needs: 'gradients',
  targeted: false,
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  run: autoattack,
};
