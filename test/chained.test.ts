import { describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { TEST_BACKENDS, activate } from './helpers/backends.js';

describe.each(TEST_BACKENDS)('chained tensor methods on %s', (backend) => {
  it('exist at run time, so TF.js gradients that call them work (Prod: d/dx_i Π x = Π x / x_i)', async () => {
    await activate(backend);
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const asMethods = x as unknown as { reshape(s: number[]): tf.Tensor; flatten(): tf.Tensor; concat(t: tf.Tensor, axis: number): tf.Tensor };
    expect(asMethods.reshape([4]).shape).toEqual([4]);
    expect(asMethods.flatten().shape).toEqual([4]);
    expect(asMethods.concat(x, 0).shape).toEqual([4, 2]);
    const g = tf.grad((v: tf.Tensor) => tf.prod(v))(x);
    expect(Array.from(await g.data())).toEqual([24, 12, 8, 6]);
    tf.dispose([x, g]);
  });
});
