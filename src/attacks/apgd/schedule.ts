/**
 * APGD's step-size schedule (Croce & Hein 2020, the reference `autopgd_base.py`): where the checkpoints
 * fall, the per-example state a run carries between them, and the decision taken at each one (halve the
 * step and go back to the best point). The attack itself is `../apgd.ts`; its loop is `rounds.ts`.
 */
import { tf } from '../../tf.js';
import { selectRows } from '../../tensor/rows.js';

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

/** Per-example state of a run; every tensor has the working batch as its first axis. */
export type State = {
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
export const KEYS = [
  'xAdv', 'xAdvOld', 'grad', 'xBest', 'gradBest', 'xBestAdv', 'lossBest', 'lossPrev',
  'lossBestLastCheck', 'reducedLastCheck', 'increases', 'step', 'found', 'aim',
] as const satisfies readonly (keyof State)[];

export const pack = (s: State): tf.Tensor[] => KEYS.map((k) => s[k]);
export const unpack = (t: tf.Tensor[]): State =>
  Object.fromEntries(KEYS.map((k, i) => [k, t[i] as tf.Tensor])) as unknown as State;

/**
 * The checkpoint rule on state `st` after `interval` steps since the last checkpoint: halve the step of the
 * examples whose loss rose in at most rho·interval steps, or whose step was not halved last time while
 * their best loss did not improve, and restart those from their best point and its gradient. Returns the
 * new state (tensors of `st` it replaced are still the caller's to dispose) and the 0/1 `halve` per example
 * (the caller disposes it).
 */
export function atCheckpoint(st: State, interval: number, rho: number): { after: State; halve: tf.Tensor } {
  const halve = tf.tidy(() => {
    // The reference's check_oscillation: the loss rose in at most rho·k of the last k steps.
    const oscillating = tf.lessEqual(st.increases, rho * interval);
    const stalled = tf.logicalAnd(tf.equal(st.reducedLastCheck, 0), tf.greaterEqual(st.lossBestLastCheck, st.lossBest));
    return tf.cast(tf.logicalOr(oscillating, stalled), 'float32');
  });
  const after: State = tf.tidy(() => ({
    ...st,
    step: tf.where(tf.cast(halve, 'bool'), tf.div(st.step, 2), st.step),
    xAdv: selectRows(halve, st.xBest, st.xAdv),
    grad: selectRows(halve, st.gradBest, st.grad),
    lossBestLastCheck: st.lossBest.clone(),
    reducedLastCheck: halve.clone(),
    increases: tf.zerosLike(st.increases),
  }));
  return { after, halve };
}
