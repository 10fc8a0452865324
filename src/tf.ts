/**
 * The one place robust imports TensorFlow.js core from.
 *
 * `@tensorflow/tfjs-core` on its own registers no gradients, so every attack would fail with
 * "gradient function not found". Loading the gradient set here, as a side effect of the import
 * every module shares, means a researcher who imports a single attack still gets gradients.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
// Chained ops (t.reshape(...)): loaded by the core index at run time; imported here so their types apply.
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
import * as tf from '@tensorflow/tfjs-core';

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor4D, Rank } from '@tensorflow/tfjs-core';
