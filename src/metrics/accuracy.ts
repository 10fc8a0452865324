import { tf } from '../tf.js';
import type { Dataset } from '../data/types.js';
import type { Model } from '../models/types.js';

/** Predicted class of every example, in batches (no gradients, no leaked tensors). */
export async function predictLabels(model: Model, ds: Dataset, batchSize = 256): Promise<Int32Array> {
  const size = ds.shape.reduce((a, b) => a * b, 1);
  const out = new Int32Array(ds.n);
  for (let start = 0; start < ds.n; start += batchSize) {
    const count = Math.min(batchSize, ds.n - start);
    const pred = tf.tidy(() =>
      tf.argMax(model.predict(tf.tensor(ds.x.subarray(start * size, (start + count) * size), [count, ...ds.shape])), 1),
    );
    out.set(await pred.data(), start);
    pred.dispose();
  }
  return out;
}

/** Fraction of predictions equal to the labels, in [0, 1]. */
export function accuracy(pred: Int32Array, labels: Int32Array): number {
  if (pred.length !== labels.length) throw new RangeError(`accuracy: ${pred.length} predictions for ${labels.length} labels`);
  if (pred.length === 0) return Number.NaN;
  let hit = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) hit++;
  return hit / pred.length;
}

/** Per-example correctness: 1 where the prediction equals the label. */
export function correctFlags(pred: Int32Array, labels: Int32Array): Uint8Array {
  if (pred.length !== labels.length) throw new RangeError(`correctFlags: ${pred.length} predictions for ${labels.length} labels`);
  const out = new Uint8Array(pred.length);
  for (let i = 0; i < pred.length; i++) out[i] = pred[i] === labels[i] ? 1 : 0;
  return out;
}
