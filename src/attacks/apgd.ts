/**
 * @packageDocumentation
 * Auto-PGD (Croce & Hein 2020, ICML, "Reliable evaluation of adversarial robustness with an ensemble of
 * diverse parameter-free attacks"), following the reference `autopgd_base.py` of AutoAttack.
 *
 * PGD with momentum whose step size needs no tuning. It starts at η = 2·eps and is halved at checkpoints
 * w_j = p_j·N (p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06); in whole steps as the
 * reference computes them, see `apgdCheckpoints`) when either
 *  1. the loss went up in at most rho = 0.75 of the steps since the last checkpoint, or
 *  2. the step size was not halved at the last checkpoint and the best loss has not improved since;
 * on halving, the iterate restarts from the best point found so far. (Increases are counted against the
 * previous iterate, the first step against the start, as in the paper; the reference's first interval
 * compares step 0 with a not-yet-written entry.) One step (α = 0.75, α = 1 at first):
 *
 *   z = Π(x⁽ᵏ⁾ + η · dir(∇f(x⁽ᵏ⁾)))
 *   x⁽ᵏ⁺¹⁾ = Π(x⁽ᵏ⁾ + α(z − x⁽ᵏ⁾) + (1 − α)(x⁽ᵏ⁾ − x⁽ᵏ⁻¹⁾))
 *
 * where Π projects onto the eps-ball and the bounds, and dir is sign for Linf, g/‖g‖₂ for L2.
 *
 * - `apgd` with loss `ce` is apgd-ce, with loss `dlr` apgd-dlr (needs ≥ 3 classes). Targeted (given
 *   labels, random or least-likely): the criterion is argmax = target and the loss its targeted form
 *   (−CE of the target, or targeted DLR, which needs ≥ 4 classes).
 * - `apgdT` is AutoAttack's APGD-T: targeted DLR towards the 1st, 2nd, … `targetClasses`-th most likely
 *   wrong class in turn, each run only on points still robust; a point is broken when its prediction
 *   changes at all.
 *
 * Defaults (the reference's): steps 100, restarts 1, rho 0.75, momentum 0.75, norm linf; apgd-t
 * targetClasses 9. The random start lies on the sphere of radius eps (Linf: uniform noise scaled so its
 * largest entry is eps; L2: Gaussian noise scaled to norm eps), drawn from one seeded stream per example,
 * so an example's run does not depend on which others share its batch. With early stop (default) an
 * example leaves the working batch as soon as an iterate is adversarial; the others follow exactly the
 * trajectory they would have followed otherwise.
 *
 * Inputs: x [b, ...model.inputShape] within the bounds, y [b] labels. Needs gradients.
 *
 * @example
 *   const r = await apgd(model, x, y, { eps: 8 / 255, loss: 'dlr' });
 *   const robust = r.isAdversarial.filter((a) => !a).length / r.isAdversarial.length;
 *   r.xAdv.dispose();
 */
import { UsageError } from '../errors.js';
import { defaultsOf, type OptionSchema } from '../options/schema.js';
import { harness, type AttackMeta } from './core/harness.js';
import { attackOptions } from './core/options.js';
import type { AttackFn, AttackInfo, CommonAttackOptions } from './core/types.js';
import type { ApgdCheckpoint } from './apgd/schedule.js';
import { runRounds, settings, type Round } from './apgd/rounds.js';

export { apgdCheckpoints, type ApgdCheckpoint } from './apgd/schedule.js';

/** Options of `apgd` (apgd-ce and apgd-dlr). */
export interface ApgdOptions extends CommonAttackOptions {
  /** Loss to ascend. Default 'ce'. */
  loss?: 'ce' | 'dlr';
  /** Iterations per run (N in the paper). Default 100. */
  steps?: number;
  /** Random restarts; each runs only on the examples still robust. Default 1. */
  restarts?: number;
  /** Halve the step when the loss rose in at most this fraction of the steps since the last checkpoint. Default 0.75. */
  rho?: number;
  /** Momentum α of the update. Default 0.75. */
  momentum?: number;
  /**
   * Keys of the per-example random streams, one per example; default 0..b−1. When attacking a subset
   * of a larger batch, pass the examples' positions in it and each gets the start it would get there.
   */
  exampleIds?: ArrayLike<number>;
  /** Called at every checkpoint, for diagnostics and tests. Costs a device sync per checkpoint. */
  trace?: (event: ApgdCheckpoint) => void;
}

/** Options of `apgdT` (AutoAttack's APGD-T), which chooses its own targets. */
export interface ApgdTOptions extends Omit<ApgdOptions, 'loss'> {
  /** How many target classes to try, most likely wrong class first. Default 9, at most classes − 1. */
  targetClasses?: number;
}

const BASE: Omit<AttackMeta, 'name' | 'targeted'> = { kind: 'fixed-eps', norms: ['linf', 'l2'], needs: 'gradients' };
const META_CE: AttackMeta = { ...BASE, name: 'apgd-ce', targeted: true };
const META_DLR: AttackMeta = { ...BASE, name: 'apgd-dlr', targeted: true };
const META_T: AttackMeta = { ...BASE, name: 'apgd-t', targeted: false };
const COMMON = {
  steps: { type: 'integer', min: 1, default: 100, doc: 'iterations per run (N in the paper)' },
  restarts: { type: 'integer', min: 1, default: 1, doc: 'random restarts, each on the examples still robust' },
  rho: { type: 'number', min: 0, default: 0.75, doc: 'halve the step when the loss rose in at most this fraction of steps' },
  momentum: { type: 'number', min: 0, default: 0.75, doc: 'momentum α of the update' },
} as const satisfies OptionSchema;
const lossOption = <L extends string>(values: readonly L[], doc: string) => ({ type: 'enum', values, default: values[0] as L, doc }) as const;
/** Options of the `apgd` function, which runs either loss. */
const OPTIONS = { ...COMMON, loss: lossOption(['ce', 'dlr'] as const, 'loss to ascend: cross-entropy or difference of logits ratio') } as const satisfies OptionSchema;
/** The registry's apgd-ce and apgd-dlr each fix the loss their name says. */
const OPTIONS_CE = { ...COMMON, loss: lossOption(['ce'] as const, 'loss to ascend: cross-entropy (apgd-dlr for DLR)') } as const satisfies OptionSchema;
const OPTIONS_DLR = { ...COMMON, loss: lossOption(['dlr'] as const, 'loss to ascend: difference of logits ratio (apgd-ce for cross-entropy)') } as const satisfies OptionSchema;
const OPTIONS_T = { ...COMMON, targetClasses: { type: 'integer', min: 1, default: 9, doc: 'target classes to try, most likely wrong class first' } } as const satisfies OptionSchema;
const DEFAULTS = { norm: 'linf' as const, ...defaultsOf(COMMON) };
/** Options callers inside robust may pass besides the declared ones. */
const INTERNAL = ['trace'];

/**
 * APGD with the CE loss (apgd-ce) or the DLR loss (apgd-dlr). See the module comment for the schedule.
 * Defaults: norm linf, steps 100, restarts 1, rho 0.75, momentum 0.75, loss ce.
 * @example
 *   const r = await apgd(model, x, y, { eps: 0.3, loss: 'ce', steps: 100 });
 */
export const apgd: AttackFn<ApgdOptions> = async (model, x, y, options = {}) => {
  const o = attackOptions(options.loss === 'dlr' ? 'apgd-dlr' : 'apgd-ce', OPTIONS, DEFAULTS, options, INTERNAL);
  const loss = o.loss ?? 'ce';
  const meta = loss === 'dlr' ? META_DLR : META_CE;
  const set = settings(meta.name, o, y.length);
  const targeted = (o.targeting?.kind ?? 'untargeted') !== 'untargeted';
  const needed = loss === 'dlr' ? (targeted ? 4 : 3) : 2;
  if (model.numClasses < needed) {
    throw new UsageError(`${meta.name}${targeted ? ' (targeted)' : ''} needs at least ${needed} classes, the model has ${model.numClasses}: use apgd-ce`);
  }
  const rounds: Round[] = Array.from({ length: o.restarts }, (_, r) => ({ label: `r${r}`, loss }));
  return harness(model, x, y, o, meta, (run) => runRounds(run, set, rounds));
};

/**
 * APGD-T (Croce & Hein 2020): targeted DLR towards each of the `targetClasses` most likely wrong classes
 * in turn (most likely first), `restarts` runs each, every run only on points still robust. Targeted
 * DLR needs 4 classes; with 2 or 3 the reference's targeted cross-entropy is used instead.
 * Defaults: norm linf, steps 100, restarts 1, targetClasses 9.
 * @example
 *   const r = await apgdT(model, x, y, { eps: 8 / 255 });
 */
export const apgdT: AttackFn<ApgdTOptions> = async (model, x, y, options = {}) => {
  const o = attackOptions('apgd-t', OPTIONS_T, { ...DEFAULTS, ...defaultsOf(OPTIONS_T) }, options, INTERNAL);
  const set = settings('apgd-t', o, y.length);
  const rounds: Round[] = [];
  for (let rank = 1; rank <= Math.min(o.targetClasses, model.numClasses - 1); rank++) {
    for (let r = 0; r < o.restarts; r++) {
      rounds.push({ label: `t${rank}/r${r}`, loss: model.numClasses >= 4 ? 'dlr' : 'ce', targetRank: rank });
    }
  }
  return harness(model, x, y, o, META_T, (run) => runRounds(run, set, rounds));
};

const PAPER = 'Croce & Hein 2020, Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free attacks (ICML)';

/** Registry entry of apgd-ce. */
export const apgdCeInfo: AttackInfo<ApgdOptions> = {
  ...META_CE,
  title: 'Auto-PGD, cross-entropy loss',
  paper: PAPER,
  options: OPTIONS_CE,
  defaults: { ...DEFAULTS, ...defaultsOf(OPTIONS_CE) },
  run: apgd,
};

/** Registry entry of apgd-dlr. */
export const apgdDlrInfo: AttackInfo<ApgdOptions> = {
  ...META_DLR,
  title: 'Auto-PGD, difference-of-logits-ratio loss',
  paper: PAPER,
  options: OPTIONS_DLR,
  defaults: { ...DEFAULTS, ...defaultsOf(OPTIONS_DLR) },
  run: (model, x, y, options = {}) => apgd(model, x, y, { ...options, loss: 'dlr' }),
};

/** Registry entry of apgd-t. */
export const apgdTInfo: AttackInfo<ApgdTOptions> = {
  ...META_T,
  title: 'Auto-PGD, targeted DLR over the most likely wrong classes (APGD-T)',
  paper: PAPER,
  options: OPTIONS_T,
  defaults: { ...DEFAULTS, ...defaultsOf(OPTIONS_T) },
  run: apgdT,
};
