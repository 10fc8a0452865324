/**
 * Self-check probes of a model, run on a fixed subset of the examples (by position in the full selection, so
 * a shard probes exactly what one whole run would). Each yields per-example 0/1 flags (-1: not probed), from
 * which src/suite/checks.ts derives the gradient-masking and validity checks.
 */
import { tf } from '../tf.js';
import { getAttack } from '../attacks/registry.js';
import type { Dataset } from '../data/types.js';
import type { Model } from '../models/types.js';
import type { ProbeOutcomes } from './types.js';
import { boundsRange } from '../tensor/range.js';

/** At most this many examples are probed per run (spread evenly over the selection). */
export const PROBE_TARGET = 100;
/** PGD steps of the full-range probe. */
export const FULL_RANGE_STEPS = 10;
/**
 * Two identical calls count as the same when no logit moves by more than this, relative to the row's largest
 * logit (at least 1). GPU backends may sum in a different order from call to call (tfjs-webgpu's split-K
 * matmul accumulates with atomics), which moves logits by a few float32 ulps; a randomised model moves them
 * by orders of magnitude more.
 */
export const DRIFT_TOLERANCE = 1e-4;

/** Largest |a - b| over one row of logits, relative to max(1, largest finite |a|); Infinity where only one is NaN. */
export function logitDrift(a: ArrayLike<number>, b: ArrayLike<number>, offset: number, k: number): number {
  let scale = 1;
  let diff = 0;
  for (let c = offset; c < offset + k; c++) {
    const [u, v] = [a[c]!, b[c]!];
    if (Number.isFinite(u)) scale = Math.max(scale, Math.abs(u));
    if (Object.is(u, v)) continue;
    const d = Math.abs(u - v);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
  }
  return diff / scale;
}

/** Whether the example at `position` of a selection of `total` examples is probed. */
export function isProbed(position: number, total: number): boolean {
  return position % Math.max(1, Math.ceil(total / PROBE_TARGET)) === 0;
}


/** The widest per-feature span of the model's bounds: an eps this large lets an attacker reach any input. */
export function fullRange(model: Model): number {
  const { min, max } = boundsRange(model.bounds);
  return max - min;
}

/**
 * Run the probes on the examples of `ds` whose positions (in the full selection of `total`) are probed.
 * `positions[i]` is the position of `ds` example i; `cleanCorrect` gates the full-range probe.
 */
export async function runProbes(
  model: Model,
  ds: Dataset,
  positions: ArrayLike<number>,
  total: number,
  cleanCorrect: Uint8Array,
  seed: string,
): Promise<ProbeOutcomes> {
  const n = ds.n;
  const out: ProbeOutcomes = {
    fullRangeBroken: new Array<number>(n).fill(-1),
    gradientFinite: new Array<number>(n).fill(-1),
    gradientNonZero: new Array<number>(n).fill(-1),
    deterministic: new Array<number>(n).fill(-1),
    probabilityLike: new Array<number>(n).fill(-1),
    logitDrift: new Array<number>(n).fill(-1),
  };
  const picked: number[] = [];
  for (let i = 0; i < n; i++) if (isProbed(positions[i] ?? i, total)) picked.push(i);
  if (picked.length === 0) return out;
  const size = ds.shape.reduce((a, b) => a * b, 1);
  const xs = new Float32Array(picked.length * size);
  picked.forEach((i, j) => xs.set(ds.x.subarray(i * size, (i + 1) * size), j * size));
  const labels = Int32Array.from(picked, (i) => ds.y[i] ?? 0);
  const x = tf.tensor(xs, [picked.length, ...ds.shape]);
  try {
    // Logits twice, compared up to float rounding; and whether they look like probabilities.
    const [a, b] = [model.predict(x), model.predict(x)];
    const [av, bv] = [(await a.data()) as Float32Array, (await b.data()) as Float32Array];
    tf.dispose([a, b]);
    const k = model.numClasses;
    picked.forEach((i, j) => {
      let inUnit = true;
      let sum = 0;
      for (let c = 0; c < k; c++) {
        const v = av[j * k + c]!;
        if (!(v >= 0 && v <= 1)) inUnit = false;
        sum += v;
      }
      const drift = logitDrift(av, bv, j * k, k);
      out.logitDrift[i] = Number.isFinite(drift) ? drift : Number.MAX_VALUE; // JSON has no Infinity
      out.deterministic[i] = drift <= DRIFT_TOLERANCE ? 1 : 0;
      out.probabilityLike[i] = inUnit && Math.abs(sum - 1) < 1e-3 ? 1 : 0;
    });

    // The input gradient of the cross-entropy: finite, and not all zero.
    if (model.access === 'gradients') {
      const g = tf.tidy(() => {
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), k);
        return tf.grad((v: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, model.predict(v)))(x);
      });
      const gv = (await g.data()) as Float32Array;
      g.dispose();
      picked.forEach((i, j) => {
        let finite = 1;
        let nonZero = 0;
        for (let f = j * size; f < (j + 1) * size; f++) {
          const v = gv[f]!;
          if (!Number.isFinite(v)) finite = 0;
          else if (v !== 0) nonZero = 1;
        }
        out.gradientFinite[i] = finite;
        out.gradientNonZero[i] = nonZero;
      });

      // PGD from the input (no random start, so a zero gradient cannot hide behind noise) at the full range.
      const correct = picked.filter((i) => cleanCorrect[i]);
      if (correct.length > 0) {
        const xc = tf.tensor(
          Float32Array.from(correct.flatMap((i) => Array.from(ds.x.subarray(i * size, (i + 1) * size)))),
          [correct.length, ...ds.shape],
        );
        const r = await getAttack('pgd').run(model, xc, Int32Array.from(correct, (i) => ds.y[i] ?? 0), {
          eps: fullRange(model),
          steps: FULL_RANGE_STEPS,
          randomStart: false,
          seed: `${seed}/full-range`,
        } as Parameters<ReturnType<typeof getAttack>['run']>[3]);
        r.xAdv.dispose();
        xc.dispose();
        correct.forEach((i, j) => (out.fullRangeBroken[i] = r.isAdversarial[j] ?? 0));
      }
    }
  } finally {
    x.dispose();
  }
  return out;
}
