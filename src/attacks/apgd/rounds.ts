/**
 * One APGD run over the working batch (the reference's `attack_single_run`) and the sequence of runs an
 * attack makes: restarts, and for APGD-T one per target rank. The schedule is `schedule.ts`.
 */
import { tf } from '../../tf.js';
import { UsageError } from '../../errors.js';
import { adversarialMask } from '../core/criteria.js';
import { standardObjective, type AttackRun, type Objective } from '../core/harness.js';
import { flat, perExample } from '../core/norms.js';
import { makeRng } from '../../tensor/random.js';
import { selectRows } from '../../tensor/rows.js';
import { apgdCheckpoints, atCheckpoint, KEYS, pack, unpack, type ApgdCheckpoint, type State } from './schedule.js';

/** Resolved settings of one call. */
export interface Settings {
  steps: number;
  rho: number;
  momentum: number;
  seed: string;
  ids: ArrayLike<number> | undefined;
  trace?: (event: ApgdCheckpoint) => void;
}

/** One run over the working batch: a restart, or one target rank of APGD-T. */
export interface Round {
  label: string;
  loss: 'ce' | 'dlr';
  /** For APGD-T: aim the targeted DLR at the rank-th most likely class other than y. */
  targetRank?: number;
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
  const current = (): tf.Tensor1D => (s?.aim ?? aim) as tf.Tensor1D;
  const objective: Objective =
    round.loss === 'dlr'
      ? standardObjective('dlr', () => run.y, targetedLoss, current)
      : standardObjective('ce', () => (targetedLoss ? current() : run.y), targetedLoss);
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
          xBest: selectRows(improved, moved, cur.xBest),
          gradBest: selectRows(improved, ev.grad, cur.gradBest),
          lossBest: tf.where(improved, ev.loss, cur.lossBest),
          lossPrev: ev.loss,
          increases: tf.add(cur.increases, tf.cast(tf.greater(ev.loss, cur.lossPrev), 'float32')),
          xBestAdv: selectRows(adv, moved, cur.xBestAdv),
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
      const { after, halve } = atCheckpoint(st, interval, o.rho);
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
  const out = selectRows(fin.found, fin.xBestAdv, fin.xBest);
  tf.dispose(pack(fin));
  return out;
}

/** Run the rounds; each later one attacks only the examples the earlier ones left robust. */
export async function runRounds(run: AttackRun, o: Settings, rounds: Round[]): Promise<void> {
  for (let r = 0; r < rounds.length && run.size > 0; r++) {
    const out = await singleRun(run, o, rounds[r] as Round);
    if (out) await run.endRestart(out, r === rounds.length - 1);
  }
}

/** The resolved options `settings` reads (those of apgd and apgd-t alike). */
export interface SettingsInput {
  steps: number;
  rho: number;
  momentum: number;
  seed?: string | number;
  exampleIds?: ArrayLike<number>;
  trace?: (event: ApgdCheckpoint) => void;
}

/** The settings of one call; one exampleId per example when given. */
export function settings(attack: string, options: SettingsInput, b: number): Settings {
  if (options.exampleIds && options.exampleIds.length !== b) {
    throw new UsageError(`${attack}: ${options.exampleIds.length} exampleIds for ${b} examples; pass one per example`);
  }
  return { steps: options.steps, rho: options.rho, momentum: options.momentum, seed: String(options.seed ?? 0), ids: options.exampleIds, trace: options.trace };
}
