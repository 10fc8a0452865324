/**
 * The one place robust imports TensorFlow.js core from.
 *
 * `@tensorflow/tfjs-core` on its own registers no gradients, so every attack would fail with
 * "gradient function not found". Loading the gradient set here, as a side effect of the import
 * every module shares, means a researcher who imports a single attack still gets gradients.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import * as tf from '@tensorflow/tfjs-core';

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor4D, Rank } from '@tensorflow/tfjs-core';
