import { tf } from '../tf.js';
import { perExample } from './batch.js';

/**
 * Row-wise selection and write-back on batches [b, ...]: the one way robust merges per-example results
 * (the harness's result buffer, the eps sweep's reuse of earlier results, APGD's best-so-far), so an
 * example's row is never copied through the host.
 */

/** Row i of `a` where `pick[i]` is non-zero, of `b` elsewhere. `pick` is [b] (numbers or a tensor). Consumes nothing. */
export function selectRows(pick: tf.Tensor | ArrayLike<number>, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const p = pick instanceof tf.Tensor ? pick : tf.tensor1d(Array.from(pick), 'int32');
    const cond = tf.broadcastTo(tf.cast(perExample(p as tf.Tensor1D, a.rank), 'bool'), a.shape);
    return tf.where(cond, a, b);
  });
}

/**
 * `base` with row `into[j]` replaced by row j of `rows`, for each j of `which` (default: every row of
 * `rows`); the other rows of `base` unchanged. A gather and a select. Consumes nothing.
 * @example scatterRows(result, sub.xAdv, todo) // sub-batch rows back to their places in the batch
 */
export function scatterRows(base: tf.Tensor, rows: tf.Tensor, into: ArrayLike<number>, which?: ArrayLike<number>): tf.Tensor {
  const n = base.shape[0] ?? 0;
  const from = new Int32Array(n);
  const pick = new Uint8Array(n);
  const count = which ? which.length : (rows.shape[0] ?? 0);
  for (let k = 0; k < count; k++) {
    const j = which ? (which[k] as number) : k;
    const i = into[j] as number;
    from[i] = j;
    pick[i] = 1;
  }
  return tf.tidy(() => selectRows(pick, tf.gather(rows, tf.tensor1d(from, 'int32')), base));
}
