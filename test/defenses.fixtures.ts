import { tf } from '../src/tf.js';
import { makeRng } from '../src/tensor/random.js';
import type { Bounds, Model } from '../src/models/types.js';

/** A hand-built two-class model with logits [f(x), 0], counting its disposals. */
export function scalarModel(shape: number[], f: (x: tf.Tensor) => tf.Tensor1D, bounds: Bounds = { min: 0, max: 1 }): Model & { disposals: number } {
  const model = {
    name: 'scalar',
    inputShape: shape,
    numClasses: 2,
    bounds,
    access: 'gradients' as const,
    disposals: 0,
    predict(x: tf.Tensor): tf.Tensor2D {
      return tf.tidy(() => {
        const s = f(x);
        return tf.stack([s, tf.zerosLike(s)], 1) as tf.Tensor2D;
      });
    },
    dispose(): void {
      model.disposals++;
    },
  };
  return model;
}

/** Logits [w·x, 0]: the gradient of logit 0 is w wherever the input is. */
export function linearModel(w: Float32Array, shape: number[], bounds?: Bounds): Model & { disposals: number } {
  const axes = shape.map((_, i) => i + 1);
  return scalarModel(shape, (x) => tf.tidy(() => tf.sum(tf.mul(x, tf.tensor(w, [1, ...shape])), axes) as tf.Tensor1D), bounds);
}

/** Seeded uniform values in [lo, hi). */
export function uniform(n: number, seed: string, lo = 0, hi = 1): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.float());
}

/** d sum(w ⊙ f(x)) / dx at x (values of `shape`), as a typed array. */
export function vjp(f: (x: tf.Tensor) => tf.Tensor, x: Float32Array, shape: number[], w: Float32Array): Float32Array {
  return tf.tidy(() =>
    tf.grad((v: tf.Tensor) => {
      const y = f(v);
      return tf.sum(tf.mul(y, tf.tensor(w, y.shape)));
    })(tf.tensor(x, shape)).dataSync() as Float32Array,
  );
}
