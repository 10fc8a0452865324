import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../tf.js';
import type { Dataset } from '../data/types.js';
import { makeRng } from '../tensor/random.js';

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  /** Adam learning rate. Default 1e-3. */
  learningRate?: number;
  seed?: string | number;
  /** Called after each batch with (epoch, batchesDone, batchesPerEpoch, running mean loss). */
  onBatch?: (epoch: number, done: number, total: number, loss: number) => void;
  /**
   * Data augmentation for image inputs [h, w, c]: shift each training image by a seeded random whole number
   * of pixels in [-maxShift, maxShift] on both axes, filling with the lower bound 0. Default: none.
   */
  augment?: { maxShift: number };
  /** Called after each epoch with the epoch's mean loss. */
  onEpoch?: (epoch: number, loss: number) => void;
}

/** Copy image `src` [h, w, c] into `dst` shifted by (dy, dx) pixels, zero-filled where it moved away. */
function shiftInto(dst: Float32Array, src: Float32Array, [h, w, c]: number[], dy: number, dx: number): void {
  dst.fill(0);
  for (let r = Math.max(0, dy); r < Math.min(h!, h! + dy); r++) {
    const from = ((r - dy) * w! + Math.max(0, -dx)) * c!;
    const to = (r * w! + Math.max(0, dx)) * c!;
    dst.set(src.subarray(from, from + (w! - Math.abs(dx)) * c!), to);
  }
}

/**
 * Gather examples `idx` of a dataset into one batch tensor and a one-hot label tensor, optionally shifting
 * each image by a random offset drawn from `shift.rng`.
 */
export function batchOf(
  ds: Dataset,
  idx: ArrayLike<number>,
  numClasses: number,
  shift?: { maxShift: number; rng: ReturnType<typeof makeRng> },
): { x: tf.Tensor; y: tf.Tensor2D } {
  const size = ds.shape.reduce((a, b) => a * b, 1);
  const xb = new Float32Array(idx.length * size);
  const yb = new Int32Array(idx.length);
  if (shift && shift.maxShift > 0 && ds.shape.length !== 3) throw new RangeError('shift augmentation needs image inputs [h, w, c]');
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i] ?? 0;
    const image = ds.x.subarray(j * size, (j + 1) * size);
    if (shift && shift.maxShift > 0) {
      const span = 2 * shift.maxShift + 1;
      const dy = shift.rng.int(span) - shift.maxShift;
      const dx = shift.rng.int(span) - shift.maxShift;
      shiftInto(xb.subarray(i * size, (i + 1) * size), image, ds.shape, dy, dx);
    } else {
      xb.set(image, i * size);
    }
    yb[i] = ds.y[j] ?? 0;
  }
  return tf.tidy(() => ({ x: tf.tensor(xb, [idx.length, ...ds.shape]), y: tf.oneHot(tf.tensor1d(yb, 'int32'), numClasses) as tf.Tensor2D }));
}

/** A seeded Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, rng: ReturnType<typeof makeRng>): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i] ?? 0;
    p[i] = p[j] ?? 0;
    p[j] = t;
  }
  return p;
}

/**
 * Natural (non-adversarial) training of a Layers classifier that outputs logits, with Adam and softmax
 * cross-entropy, over seeded shuffles. The same seed on the same backend gives the same weights.
 * @returns the mean loss of each epoch.
 */
export async function trainClassifier(model: tfl.LayersModel, ds: Dataset, options: TrainOptions): Promise<number[]> {
  const numClasses = (model.outputs[0]?.shape[1] as number | undefined) ?? 10;
  const optimizer = tf.train.adam(options.learningRate ?? 1e-3);
  const rng = makeRng(options.seed ?? 0);
  const history: number[] = [];
  const batches = Math.ceil(ds.n / options.batchSize);
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = permutation(ds.n, rng);
    let total = 0;
    for (let b = 0; b < batches; b++) {
      const idx = order.subarray(b * options.batchSize, Math.min(ds.n, (b + 1) * options.batchSize));
      const { x, y } = batchOf(ds, idx, numClasses, options.augment ? { maxShift: options.augment.maxShift, rng } : undefined);
      const loss = optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        true,
      );
      total += (await loss!.data())[0] ?? 0;
      tf.dispose([x, y, loss!]);
      options.onBatch?.(epoch, b + 1, batches, total / (b + 1));
    }
    history.push(total / batches);
    options.onEpoch?.(epoch, total / batches);
  }
  optimizer.dispose();
  return history;
}
