/**
 * The feature-squeezing detector (Xu, Evans & Qi 2018, "Feature Squeezing: Detecting Adversarial Examples
 * in Deep Neural Networks", NDSS): an input is flagged when the model's prediction moves a lot once the
 * input is squeezed. Score = max over squeezers s of ‖softmax(f(x)) − softmax(f(s(x)))‖₁; the threshold is
 * the score that a chosen fraction of clean inputs exceed (the false-positive rate).
 */
import { tf } from '../tf.js';
import { UsageError } from '../errors.js';
import { makeRng } from '../tensor/random.js';
import { boundTensors } from '../tensor/bounds.js';
import type { Model } from '../models/types.js';
import { bitDepth } from './bitDepth.js';
import { median } from './median.js';
import type { Defense, DefenseContext } from './types.js';

/** Options of {@link squeezingScores}. */
export interface SqueezingOptions {
  /** The squeezers. Default: bit depth 1 and a 2×2 median filter, Xu et al.'s MNIST detector. */
  squeezers?: Defense[];
  /** Examples per forward pass. Default 100. */
  batchSize?: number;
}

/** One operating point of the detector. */
export interface DetectionPoint {
  /** The false-positive rate asked for. */
  targetFalsePositiveRate: number;
  /** Scores above it are flagged. */
  threshold: number;
  /** Fraction of clean inputs flagged (at most the target). */
  falsePositiveRate: number;
  /** Fraction of adversarial inputs flagged. */
  detectionRate: number;
}

/** Xu et al.'s squeezers for MNIST: 1-bit depth and a 2×2 median filter. */
export function defaultSqueezers(): Defense[] {
  return [bitDepth({ bits: 1 }), median({ size: 2 })];
}

/**
 * The detector's score for every row of `x` [n, ...model.inputShape] (the caller keeps `x`). Squeezers
 * must be deterministic; they are applied as deployed.
 * @example
 *   const clean = await squeezingScores(model, xClean);
 *   const adv = await squeezingScores(model, xAdv);
 *   console.table(detectionCurve(clean, adv));
 */
export async function squeezingScores(model: Model, x: tf.Tensor, options: SqueezingOptions = {}): Promise<Float32Array> {
  const squeezers = options.squeezers ?? defaultSqueezers();
  const batchSize = options.batchSize ?? 100;
  if (squeezers.length === 0) throw new UsageError('squeezingScores needs at least one squeezer');
  const random = squeezers.find((s) => s.policy === 'eot');
  if (random) throw new UsageError(`squeezer ${random.name} is random; feature squeezing compares deterministic squeezes`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`squeezingScores: batchSize must be a whole number >= 1, got ${batchSize}`);
  const bounds = boundTensors(model.bounds, model.inputShape);
  const context: DefenseContext = { inputShape: model.inputShape, bounds: model.bounds, lo: bounds.lo, hi: bounds.hi };
  const rng = makeRng(0);
  const n = x.shape[0] ?? 0;
  const scores = new Float32Array(n);
  try {
    for (const s of squeezers) s.check(context);
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const batch = tf.tidy(() => {
        const xb = tf.slice(x, start, size);
        const p = tf.softmax(model.predict(xb));
        const distances = squeezers.map((s) => tf.sum(tf.abs(tf.sub(p, tf.softmax(model.predict(s.apply(xb, context, rng))))), 1));
        return tf.max(tf.stack(distances, 1), 1);
      });
      scores.set((await batch.data()) as Float32Array, start);
      batch.dispose();
    }
  } finally {
    tf.dispose([bounds.lo, bounds.hi]);
  }
  return scores;
}

/**
 * The smallest threshold t such that at most `falsePositiveRate` of `cleanScores` are > t: the
 * ⌈(1 − rate)·n⌉-th smallest clean score (Xu et al. pick it on clean training data).
 * @example thresholdAt(Float32Array.of(0.1, 0.2, 0.3, 0.4), 0.25) // 0.3: only 0.4 is above it
 */
export function thresholdAt(cleanScores: Float32Array, falsePositiveRate: number): number {
  if (!(falsePositiveRate >= 0 && falsePositiveRate <= 1)) throw new UsageError(`falsePositiveRate must be in [0, 1], got ${falsePositiveRate}`);
  if (cleanScores.length === 0) throw new UsageError('thresholdAt needs at least one clean score');
  const sorted = Float32Array.from(cleanScores).sort();
  const k = Math.ceil((1 - falsePositiveRate) * sorted.length - 1e-9);
  return k <= 0 ? -Infinity : (sorted[k - 1] as number);
}

/** Fraction of `scores` above `threshold`. */
function flaggedRate(scores: Float32Array, threshold: number): number {
  return scores.length === 0 ? 0 : scores.reduce((a, s) => a + (s > threshold ? 1 : 0), 0) / scores.length;
}

/**
 * Detection rate against false-positive rate, one point per target rate (a ROC table). Pass the scores
 * of the adversarial examples that fooled the model, as Xu et al. do, or of all of them.
 * @example detectionCurve(clean, adv, [0.01, 0.05]).map((p) => [p.falsePositiveRate, p.detectionRate])
 */
export function detectionCurve(cleanScores: Float32Array, adversarialScores: Float32Array, falsePositiveRates: number[] = [0.01, 0.05, 0.1]): DetectionPoint[] {
  return falsePositiveRates.map((target) => {
    const threshold = thresholdAt(cleanScores, target);
    return {
      targetFalsePositiveRate: target,
      threshold,
      falsePositiveRate: flaggedRate(cleanScores, threshold),
      detectionRate: flaggedRate(adversarialScores, threshold),
    };
  });
}
