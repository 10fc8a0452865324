import seedrandom from 'seedrandom';
import { tf } from '../src/tf.js';
import type { Bounds, Model } from '../src/models/types.js';

/**
 * Small models whose answers are known, for the attack tests. Weights are fixed numbers from a seeded
 * stream, so every backend builds the same model.
 */

/** Deterministic standard-normal numbers. */
export function normals(count: number, seed: string): number[] {
  const prng = seedrandom(seed);
  return Array.from({ length: count }, () => {
    const u = 1 - prng();
    const v = prng();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  });
}

/** Deterministic uniform numbers in [lo, hi). */
export function uniforms(count: number, seed: string, lo = 0, hi = 1): number[] {
  const prng = seedrandom(seed);
  return Array.from({ length: count }, () => lo + (hi - lo) * prng());
}

/** logits = x·W + b, W [d, k] row-major. Exact gradients; every decision boundary a hyperplane. */
export function linearModel(W: number[], b: number[], d: number, bounds: Bounds = { min: -100, max: 100 }): Model {
  const k = b.length;
  const Wt = tf.tensor2d(W, [d, k]);
  const bt = tf.tensor1d(b);
  return {
    name: `linear-${d}x${k}`,
    inputShape: [d],
    numClasses: k,
    bounds,
    access: 'gradients',
    predict: (x) => tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [-1, d]), Wt), bt) as tf.Tensor2D),
    dispose: () => tf.dispose([Wt, bt]),
  };
}

/** Two classes with logits [0, w·x + c]: class 1 iff w·x + c > 0. */
export function binaryLinear(w: number[], c: number, bounds?: Bounds): Model {
  const W = w.flatMap((wi) => [0, wi]);
  return linearModel(W, [0, c], w.length, bounds);
}

/**
 * A 2-layer ReLU MLP with fixed random weights on inputs of shape `shape`. It centres its inputs on
 * `center` so that the classes split a box around it between them.
 */
export function mlpModel(shape: number[], hidden: number, k: number, seed: string, bounds: Bounds = { min: 0, max: 1 }, center = 0.5): Model {
  const d = shape.reduce((a, b) => a * b, 1);
  const W1 = tf.tensor2d(normals(d * hidden, `${seed}/W1`).map((v) => (v * 2) / Math.sqrt(d)), [d, hidden]);
  const b1 = tf.tensor1d(normals(hidden, `${seed}/b1`).map((v) => v * 0.1));
  const W2 = tf.tensor2d(normals(hidden * k, `${seed}/W2`).map((v) => (v * 2) / Math.sqrt(hidden)), [hidden, k]);
  const b2 = tf.tensor1d(normals(k, `${seed}/b2`).map((v) => v * 0.1));
  const centre = tf.scalar(center);
  return {
    name: `mlp-${d}-${hidden}-${k}`,
    inputShape: shape,
    numClasses: k,
    bounds,
    access: 'gradients',
    predict: (x) =>
      tf.tidy(() => {
        const h = tf.relu(tf.add(tf.matMul(tf.sub(tf.reshape(x, [-1, d]), centre), W1), b1));
        return tf.add(tf.matMul(h, W2), b2) as tf.Tensor2D;
      }),
    dispose: () => tf.dispose([W1, b1, W2, b2, centre]),
  };
}

/**
 * Inputs uniform in [lo, hi] and the model's own predictions as labels: clean accuracy is exactly 1,
 * so any drop is the attack's doing.
 */
export async function labelledByModel(model: Model, n: number, seed: string, lo: number, hi: number): Promise<{ x: tf.Tensor; y: Int32Array }> {
  const d = model.inputShape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(uniforms(n * d, seed, lo, hi), [n, ...model.inputShape]);
  const pred = tf.tidy(() => tf.argMax(model.predict(x), 1));
  const y = Int32Array.from(await pred.data());
  pred.dispose();
  return { x, y };
}

/** Fraction of examples the model classifies as labelled. */
export async function accuracy(model: Model, x: tf.Tensor, y: Int32Array): Promise<number> {
  const t = tf.tidy(() => tf.equal(tf.argMax(model.predict(x), 1), tf.tensor1d(y, 'int32')));
  const ok = await t.data();
  t.dispose();
  return Array.from(ok).reduce((a, v) => a + v, 0) / y.length;
}

/**
 * Exact smallest L2 change of x, inside the box [lo, hi], that brings w·x + c to 0 (binary linear model).
 * KKT: δ_j = clip(−λ·sign(s)·w_j, lo − x_j, hi − x_j) with the scalar λ ≥ 0 that zeroes w·(x + δ) + c,
 * found by bisection in double precision. Infinity when even the whole box cannot reach the boundary.
 */
export function boxedL2Distance(w: number[], c: number, x: number[], lo: number, hi: number): number {
  const s = w.reduce((a, v, j) => a + v * (x[j] as number), c);
  const sg = Math.sign(s);
  const delta = (lam: number) => w.map((v, j) => Math.min(hi - (x[j] as number), Math.max(lo - (x[j] as number), -lam * sg * v)));
  const reached = (lam: number) => sg * delta(lam).reduce((a, d, j) => a + d * (w[j] as number), s) <= 0;
  let top = 1;
  while (!reached(top)) {
    top *= 2;
    if (top > 1e12) return Infinity;
  }
  let bottom = 0;
  for (let i = 0; i < 200; i++) {
    const mid = (bottom + top) / 2;
    if (reached(mid)) top = mid;
    else bottom = mid;
  }
  return Math.sqrt(delta(top).reduce((a, d) => a + d * d, 0));
}

/**
 * Inputs whose every feature sits at a bound (0 or 1), like the background and stroke pixels of MNIST,
 * for a binary linear model: the exact box-constrained L2 distance of each, and its label. An attack that
 * cannot move a feature off a bound (a saturated tanh box) fails every one of them.
 */
export function atBoundsProblem(d: number, n: number, seed: string) {
  const w = normals(d, `${seed}/w`);
  const c = 0.1;
  const pts: number[][] = [];
  const dist: number[] = [];
  for (let i = 0; pts.length < n; i++) {
    const p = uniforms(d, `${seed}/x${i}`).map((u) => (u < 0.5 ? 0 : 1));
    const s = w.reduce((a, v, j) => a + v * (p[j] as number), c);
    const exact = boxedL2Distance(w, c, p, 0, 1);
    if (Math.abs(s) < 0.3 || !Number.isFinite(exact)) continue;
    pts.push(p);
    dist.push(exact);
  }
  const y = Int32Array.from(pts, (p) => (w.reduce((a, v, j) => a + v * (p[j] as number), c) > 0 ? 1 : 0));
  return { w, c, pts, y, dist };
}
