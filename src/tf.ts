/**
 * The one place robust imports TensorFlow.js core from.
 *
 * `@tensorflow/tfjs-core` on its own registers no gradients, so every attack would fail with
 * "gradient function not found". Its `dist/register_all_gradients.js` is bundler-only ESM that Node cannot
 * load, but the Node bundle of `@tensorflow/tfjs-layers` (a dependency anyway, for model loading) carries the
 * same full gradient set and registers it on import. Importing it here, as a side effect of the module every
 * other module shares, means a researcher who imports a single attack still gets gradients.
 */
import '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { installChainedOps } from './chained.js';

installChainedOps();

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor4D, Rank } from '@tensorflow/tfjs-core';
// Chained ops (t.reshape(...)) are installed at run time for TF.js's own gradients and for users (src/chained.ts);
// robust's sources call tf.reshape(t, ...) and friends, and the chained types are deliberately not imported, so
// the compiler refuses a chained call here.
