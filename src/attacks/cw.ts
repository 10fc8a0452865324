import { tf } from '../tf.js';
import { applyMask, clip } from '../tensor/bounds.js';
import { defaultsOf, type OptionSchema } from '../options/schema.js';
import { harness, standardObjective, type AttackMeta, type AttackRun } from './core/harness.js';
import { attackOptions } from './core/options.js';
import { margin } from './core/losses.js';
import { l2 } from './core/norms.js';
import type { AttackFn, AttackInfo, CommonAttackOptions } from './core/types.js';

/** Options of `cw`. */
export interface CwOptions extends CommonAttackOptions {
  /** Rounds of binary search over the constant c. Default 9 (paper, Foolbox). */
  binarySteps?: number;
  /** Initial constant c. Default 1e-3 (paper, Foolbox). */
  c?: number;
  /** Adam steps per round. Default 100 (the paper and Foolbox use 10000, torchattacks 50). */
  steps?: number;
  /** Adam learning rate, as a fraction of each feature's range hi − lo. Default 0.01 (paper, Foolbox). */
  lr?: number;
  /** Confidence κ: success needs the margin to exceed κ. Default 0. */
  kappa?: number;
  /** Stop an example's round when its loss has not fallen by 0.01% over a tenth of the steps. Default true. */
  abortEarly?: boolean;
}

type Resolved = Required<Pick<CwOptions, 'binarySteps' | 'c' | 'steps' | 'lr' | 'kappa' | 'abortEarly'>>;
const OPTIONS = {
  binarySteps: { type: 'integer', min: 1, default: 9, doc: 'rounds of binary search over the constant c' },
  c: { type: 'number', min: 0, exclusiveMin: true, default: 1e-3, doc: 'initial constant c' },
  steps: { type: 'integer', min: 1, default: 100, doc: 'Adam steps per round (the paper uses 10000)' },
  lr: { type: 'number', min: 0, exclusiveMin: true, default: 0.01, doc: "Adam learning rate, a fraction of each feature's range" },
  kappa: { type: 'number', min: 0, default: 0, doc: 'confidence κ: success needs the margin to exceed it' },
  abortEarly: { type: 'boolean', default: true, doc: "stop an example's round once its loss stalls" },
} as const satisfies OptionSchema;

const META: AttackMeta = { name: 'cw', kind: 'minimum-norm', norms: ['l2'], needs: 'gradients', targeted: true };
const DEFAULTS = { norm: 'l2' as const, ...defaultsOf(OPTIONS) };
const BETA1 = 0.9;
const BETA2 = 0.999;

/** Gather rows `keep` of every tensor, disposing the originals. */
function gatherAll<T extends tf.Tensor[]>(keep: number[], ...ts: T): T {
  const idx = tf.tensor1d(keep, 'int32');
  const out = ts.map((t) => {
    const g = tf.gather(t, idx);
    t.dispose();
    return g;
  }) as T;
  idx.dispose();
  return out;
}

/**
 * One round: minimise ‖x' − x‖² + c·max(−margin(x'), −κ) over the box by projected Adam, for every
 * working example at its own c. Successful iterates smaller than any before are kept as results.
 * An example leaves the round when abort-early finds its loss stalled. Returns 1 where some iterate succeeded.
 */
async function minimise(run: AttackRun, o: Resolved, c: Float64Array): Promise<Uint8Array> {
  const found = new Uint8Array(run.size);
  const { lo, hi } = run.bounds;
  const span = tf.tidy(() => tf.sub(hi, lo));
  let live = Array.from(run.active.keys());
  let x0 = tf.clone(run.x);
  let labels = tf.clone(run.labels);
  let cT = tf.tensor1d(Float32Array.from(c));
  let xAdv = tf.clone(x0);
  let m = tf.zerosLike(x0);
  let v = tf.zerosLike(x0);
  const previous = new Float64Array(run.size).fill(Infinity);
  const checkEvery = Math.ceil(o.steps / 10);
  // c · max(−margin, −κ), reading the working labels and c as they are when it runs.
  const objective = standardObjective('cw', () => labels, run.targeted, undefined, { scale: () => cT, kappa: o.kappa });
  for (let t = 0; t < o.steps && live.length > 0; t++) {
    const k = live.length;
    const { grad, logits, loss } = run.gradient(xAdv, objective);
    const stats = tf.tidy(() => {
      const dist = l2.distance(tf.sub(xAdv, x0));
      const success = tf.cast(tf.greater(margin(logits, labels, run.targeted), o.kappa), 'float32');
      return tf.concat([dist, success, tf.add(tf.square(dist), loss)]);
    });
    const s = (await stats.data()) as Float32Array;
    tf.dispose([stats, logits, loss]);
    const stay: number[] = [];
    live.forEach((j, r) => {
      if (s[k + r] === 1) found[j] = 1;
      const total = s[2 * k + r] as number;
      if (o.abortEarly && t % checkEvery === 0) {
        if (!(total <= 0.9999 * (previous[j] as number))) return;
        previous[j] = total;
      }
      stay.push(r);
    });
    run.keepSmallest(xAdv, s.subarray(k, 2 * k), s.subarray(0, k), live);
    // Adam on x' itself, projected back onto the box after every step. Carlini & Wagner's tanh change of
    // variables moves a feature by (hi − lo)/2 · (1 − tanh²w) per unit of w, about 1e-6 at a bound, so the
    // features that sit at a bound (81% of MNIST's pixels) could not move at all in a few hundred steps.
    const [m1, v1, x1] = tf.tidy(() => {
      const g = tf.add(grad, tf.mul(tf.sub(xAdv, x0), 2));
      const mt = tf.add(tf.mul(m, BETA1), tf.mul(g, 1 - BETA1));
      const vt = tf.add(tf.mul(v, BETA2), tf.mul(tf.square(g), 1 - BETA2));
      const mHat = tf.div(mt, 1 - BETA1 ** (t + 1));
      const vHat = tf.div(vt, 1 - BETA2 ** (t + 1));
      const stepped = tf.sub(xAdv, tf.mul(tf.mul(span, o.lr), tf.div(mHat, tf.add(tf.sqrt(vHat), 1e-12))));
      return [mt, vt, applyMask(x0, clip(stepped, run.bounds), run.mask)];
    });
    tf.dispose([grad, m, v, xAdv]);
    [m, v, xAdv] = [m1, v1, x1];
    if (stay.length < k) {
      [m, v, xAdv, x0, labels, cT] = gatherAll(stay, m, v, xAdv, x0, labels, cT);
      live = stay.map((r) => live[r] as number);
    }
  }
  tf.dispose([m, v, xAdv, x0, labels, cT, span]);
  return found;
}

/**
 * Carlini & Wagner L2 (Carlini & Wagner 2017, "Towards Evaluating the Robustness of Neural Networks",
 * IEEE S&P):
 *
 *   minimise_x'  ‖x' − x‖₂² + c · max(Z_y − max_{j≠y} Z_j, −κ)        (targeted: max(max_{j≠t} Z_j − Z_t, −κ))
 *   subject to   lo ≤ x' ≤ hi  (the model's bounds, per feature if given, not a hard-coded [0, 1])
 *
 * with Adam, for `binarySteps` rounds of a per-example binary search over c: c shrinks towards the
 * largest failing value after a success and grows (×10 until first success) after a failure. It
 * returns the smallest successful perturbation found per example, and x itself where none was found.
 * The box is kept by projection (the paper's "projected gradient descent" box, with Adam) rather than
 * its tanh change of variables, which freezes every feature that starts at a bound. Adam's first step
 * moves every feature by about lr·(hi − lo), so lr must be small next to the distances sought (it is
 * for images in [0, 1]: 0.01 per pixel, a hundredth of a typical MNIST distance per pixel).
 * Defaults: binarySteps 9, c 1e-3, steps 100 (reference 10000), lr 0.01, kappa 0, abortEarly true.
 * Minimum-norm: eps is not used (`attackManyEps` answers every eps from one run). Needs gradients.
 *
 * @example
 *   const r = await cw(model, x, y, { steps: 200 });
 *   console.log(r.perturbation.l2);
 *   r.xAdv.dispose();
 */
export const cw: AttackFn<CwOptions> = (model, x, y, options = {}) => {
  const o = attackOptions('cw', OPTIONS, DEFAULTS, options);
  return harness(model, x, y, o, META, async (run) => {
    // Every example stays for the whole binary search, so the working batch never shrinks here.
    const b = run.size;
    const lower = new Float64Array(b);
    const upper = new Float64Array(b).fill(1e10);
    const c = new Float64Array(b).fill(o.c);
    for (let round = 0; round < o.binarySteps; round++) {
      const found = await minimise(run, o, c);
      for (let j = 0; j < b; j++) {
        if (found[j]) {
          upper[j] = Math.min(upper[j] as number, c[j] as number);
          c[j] = ((lower[j] as number) + (upper[j] as number)) / 2;
        } else {
          lower[j] = Math.max(lower[j] as number, c[j] as number);
          c[j] = (upper[j] as number) < 1e9 ? ((lower[j] as number) + (upper[j] as number)) / 2 : (c[j] as number) * 10;
        }
      }
    }
  });
};

/** Registry entry of `cw`. */
export const cwInfo: AttackInfo<CwOptions> = {
  ...META,
  title: 'Carlini-Wagner L2',
  paper: 'Carlini & Wagner 2017, Towards Evaluating the Robustness of Neural Networks (IEEE S&P)',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  run: cw,
};
