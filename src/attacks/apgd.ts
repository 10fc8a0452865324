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
import { tf } from '../tf.js';
import { UsageError } from '../errors.js';
import { adversarialMask } from './core/criteria.js';
import { defaultsOf, type OptionSchema } from '../options/schema.js';
import { harness, type AttackMeta, type AttackRun, type Objective } from './core/harness.js';
import { attackOptions } from './core/options.js';
import { crossEntropy, dlr } from './core/losses.js';
import { flat, perExample } from './core/norms.js';
import { makeRng } from './core/random.js';
import type { AttackFn, AttackInfo, CommonAttackOptions } from './core/types.js';

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

/** What happened at one checkpoint of one run. */
export interface ApgdCheckpoint {
  /** The run: `r<restart>`, or `t<rank>/r<restart>` for APGD-T. */
  run: string;
  /** Iterations done when the checkpoint was taken. */
  iteration: number;
  /** exampleIds of the examples still in the working batch, in the order of the arrays below. */
  ids: number[];
  /** 1 where the step size was halved at this checkpoint. */
  halved: Uint8Array;
  /** Step sizes after the checkpoint. */
  stepSize: Float32Array;
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
 * The checkpoint iterations w_1, w_2, … for N steps, as the reference computes them: the first after
 * ⌊0.22N⌋ steps, then each interval ⌊0.03N⌋ shorter than the last, but at least ⌊0.06N⌋ (all ≥ 1).
 * @example apgdCheckpoints(100) // [22, 41, 57, 70, 80, 87, 93, 99]
 */
export function apgdCheckpoints(steps: number): number[] {
  const decrease = Math.max(Math.floor(0.03 * steps), 1);
  const shortest = Math.max(Math.floor(0.06 * steps), 1);
  const out: number[] = [];
  let interval = Math.max(Math.floor(0.22 * steps), 1);
  for (let at = interval; at <= steps; at += interval) {
    out.push(at);
    interval = Math.max(interval - decrease, shortest);
  }
  return out;
}

/** Resolved settings of one call. */
interface Settings {
  steps: number;
  rho: number;
  momentum: number;
  seed: string;
  ids: ArrayLike<number> | undefined;
  trace?: (event: ApgdCheckpoint) => void;
}

/** One run over the working batch: a restart, or one target rank of APGD-T. */
interface Round {
  label: string;
  loss: 'ce' | 'dlr';
  /** For APGD-T: aim the targeted DLR at the rank-th most likely class other than y. */
  targetRank?: number;
}

/** Per-example state of a run; every tensor has the working batch as its first axis. */
type State = {
  xAdv: tf.Tensor;
  xAdvOld: tf.Tensor;
  grad: tf.Tensor;
  xBest: tf.Tensor;
  gradBest: tf.Tensor;
  xBestAdv: tf.Tensor;
  lossBest: tf.Tensor;
  lossPrev: tf.Tensor;
  lossBestLastCheck: tf.Tensor;
  reducedLastCheck: tf.Tensor;
  increases: tf.Tensor;
  step: tf.Tensor;
  /** 1 once an iterate was adversarial (only ever set without early stop; with it such examples leave). */
  found: tf.Tensor;
  /** Classes the loss aims at: targets when targeted, the APGD-T target of this round, else y. */
  aim: tf.Tensor;
};
const KEYS = [
  'xAdv', 'xAdvOld', 'grad', 'xBest', 'gradBest', 'xBestAdv', 'lossBest', 'lossPrev',
  'lossBestLastCheck', 'reducedLastCheck', 'increases', 'step', 'found', 'aim',
] as const satisfies readonly (keyof State)[];

const pack = (s: State): tf.Tensor[] => KEYS.map((k) => s[k]);
const unpack = (t: tf.Tensor[]): State =>
  Object.fromEntries(KEYS.map((k, i) => [k, t[i] as tf.Tensor])) as unknown as State;

/** tf.where with one condition per example (TF.js broadcasts a condition from the right). */
function whereRows(cond: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.where(tf.broadcastTo(tf.cast(perExample(cond as tf.Tensor1D, a.rank), 'bool'), a.shape), a, b));
}

/** Unit-size step direction: sign for Linf, g/‖g‖₂ for L2 (the reference's normalisation). */
function direction(run: AttackRun, g: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    if (run.norm.name === 'linf') return tf.sign(g);
    const size = tf.sqrt(tf.sum(tf.square(flat(g)), 1)) as tf.Tensor1D;
    return tf.div(g, tf.add(perExample(size, g.rank), 1e-12));
  });
}

/** The reference's random start on the sphere of radius eps, one seeded stream per example. */
function randomStart(run: AttackRun, o: Settings, label: string): tf.Tensor {
  return tf.tidy(() => {
    const shape = [1, ...run.x.shape.slice(1)];
    const rows = Array.from(run.active, (i) => {
      const rng = makeRng(`${o.seed}/apgd/${label}/${o.ids ? (o.ids[i] ?? i) : i}`);
      return run.norm.name === 'linf' ? rng.uniform(shape, -1, 1) : rng.normal(shape);
    });
    let t = tf.concat(rows, 0);
    // Masked features take no noise, so the whole radius goes to the features that may change.
    if (run.mask) t = tf.mul(t, run.mask);
    const size = run.norm.name === 'linf' ? tf.max(tf.abs(flat(t)), 1) : tf.sqrt(tf.sum(tf.square(flat(t)), 1));
    const unit = tf.div(t, tf.add(perExample(size as tf.Tensor1D, t.rank), 1e-12));
    return run.project(tf.add(run.x, tf.mul(run.scaledEps(1), unit)));
  });
}

/** The rank-th most likely class other than y, by the clean logits of the working batch. */
function rankedTarget(run: AttackRun, rank: number): tf.Tensor1D {
  return tf.tidy(() => {
    const k = run.cleanLogits.shape[1];
    const others = tf.sub(run.cleanLogits, tf.mul(tf.oneHot(run.y, k, 1, 0, 'float32'), 1e9));
    const idx = tf.topk(others, rank).indices;
    return tf.reshape(tf.slice(idx, [0, rank - 1], [-1, 1]), [-1]) as tf.Tensor1D;
  });
}

/**
 * One APGD run (the reference's `attack_single_run`) over the working batch. Returns what to hand to
 * `endRestart` (the adversarial iterate where one was found, else the highest-loss point), or null when
 * early stop emptied the batch.
 */
async function singleRun(run: AttackRun, o: Settings, round: Round): Promise<tf.Tensor | null> {
  const n = run.size;
  const aim = round.targetRank ? rankedTarget(run, round.targetRank) : run.labels.clone();
  const targetedLoss = run.targeted || round.targetRank !== undefined;
  let s: State | null = null;
  const objective: Objective = (logits) => {
    const a = (s?.aim ?? aim) as tf.Tensor1D;
    if (round.loss === 'dlr') return targetedLoss ? dlr(logits, run.y, a) : dlr(logits, run.y);
    return targetedLoss ? tf.tidy(() => tf.neg(crossEntropy(logits, a))) : crossEntropy(logits, run.y);
  };
  // Success is the harness's criterion (argmax = target when targeted); APGD-T's aims only shape the loss.
  const fooled = (logits: tf.Tensor2D) => adversarialMask(logits, run.y, run.targeted ? run.labels : null);

  const x0 = randomStart(run, o, round.label);
  const first = run.gradient(x0, objective);
  s = {
    xAdv: x0, xAdvOld: x0.clone(), grad: first.grad, xBest: x0.clone(), gradBest: first.grad.clone(),
    xBestAdv: x0.clone(), lossBest: first.loss, lossPrev: first.loss.clone(), lossBestLastCheck: first.loss.clone(),
    reducedLastCheck: tf.ones([n]), increases: tf.zeros([n]), step: tf.tidy(() => tf.reshape(run.scaledEps(2), [n])),
    found: tf.tidy(() => tf.cast(fooled(first.logits), 'float32')), aim,
  };
  try {
    let live = await run.settle(first.logits, ...pack(s));
    s = live ? unpack(live) : null;

    const checkpoints = new Set(apgdCheckpoints(o.steps));
    let lastCheck = 0;
    for (let i = 0; i < o.steps && s; i++) {
      const cur: State = s;
      const a = i > 0 ? o.momentum : 1;
      const moved = tf.tidy(() => {
        const z = run.project(tf.add(cur.xAdv, tf.mul(perExample(cur.step as tf.Tensor1D, cur.xAdv.rank), direction(run, cur.grad))));
        return run.project(tf.add(tf.add(cur.xAdv, tf.mul(tf.sub(z, cur.xAdv), a)), tf.mul(tf.sub(cur.xAdv, cur.xAdvOld), 1 - a)));
      });
      const ev = run.gradient(moved, objective);
      const next: State = tf.tidy(() => {
        const improved = tf.greater(ev.loss, cur.lossBest);
        const adv = fooled(ev.logits);
        return {
          ...cur,
          xAdv: moved,
          xAdvOld: cur.xAdv.clone(),
          grad: ev.grad,
          xBest: whereRows(improved, moved, cur.xBest),
          gradBest: whereRows(improved, ev.grad, cur.gradBest),
          lossBest: tf.where(improved, ev.loss, cur.lossBest),
          lossPrev: ev.loss,
          increases: tf.add(cur.increases, tf.cast(tf.greater(ev.loss, cur.lossPrev), 'float32')),
          xBestAdv: whereRows(adv, moved, cur.xBestAdv),
          found: tf.maximum(cur.found, tf.cast(adv, 'float32')),
        };
      });
      tf.dispose(KEYS.filter((k) => next[k] !== cur[k]).map((k) => cur[k]));
      live = await run.settle(ev.logits, ...pack(next));
      s = live ? unpack(live) : null;
      if (!s || !checkpoints.has(i + 1)) continue;

      const st: State = s;
      const interval = i + 1 - lastCheck;
      lastCheck = i + 1;
      const halve = tf.tidy(() => {
        // The reference's check_oscillation: the loss rose in at most rho·k of the last k steps.
        const oscillating = tf.lessEqual(st.increases, o.rho * interval);
        const stalled = tf.logicalAnd(tf.equal(st.reducedLastCheck, 0), tf.greaterEqual(st.lossBestLastCheck, st.lossBest));
        return tf.cast(tf.logicalOr(oscillating, stalled), 'float32');
      });
      const after: State = tf.tidy(() => ({
        ...st,
        step: tf.where(tf.cast(halve, 'bool'), tf.div(st.step, 2), st.step),
        xAdv: whereRows(halve, st.xBest, st.xAdv),
        grad: whereRows(halve, st.gradBest, st.grad),
        lossBestLastCheck: st.lossBest.clone(),
        reducedLastCheck: halve.clone(),
        increases: tf.zerosLike(st.increases),
      }));
      if (o.trace) {
        const ids = Array.from(run.active, (j) => (o.ids ? (o.ids[j] ?? j) : j));
        o.trace({ run: round.label, iteration: i + 1, ids, halved: Uint8Array.from(await halve.data()), stepSize: (await after.step.data()) as Float32Array });
      }
      halve.dispose();
      tf.dispose(KEYS.filter((k) => after[k] !== st[k]).map((k) => st[k]));
      s = after;
    }
  } catch (err) {
    // A model that throws mid-run (out of memory, say) must not strand the run's tensors.
    if (s) tf.dispose(pack(s));
    throw err;
  }
  if (!s) return null;
  const fin: State = s;
  const out = whereRows(fin.found, fin.xBestAdv, fin.xBest);
  tf.dispose(pack(fin));
  return out;
}

/** Run the rounds; each later one attacks only the examples the earlier ones left robust. */
async function runRounds(run: AttackRun, o: Settings, rounds: Round[]): Promise<void> {
  for (let r = 0; r < rounds.length && run.size > 0; r++) {
    const out = await singleRun(run, o, rounds[r] as Round);
    if (out) await run.endRestart(out, r === rounds.length - 1);
  }
}

function settings(attack: string, options: ApgdTOptions & { steps: number; restarts: number; rho: number; momentum: number }, b: number): Settings {
  if (options.exampleIds && options.exampleIds.length !== b) {
    throw new UsageError(`${attack}: ${options.exampleIds.length} exampleIds for ${b} examples; pass one per example`);
  }
  return { steps: options.steps, rho: options.rho, momentum: options.momentum, seed: String(options.seed ?? 0), ids: options.exampleIds, trace: options.trace };
}

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
