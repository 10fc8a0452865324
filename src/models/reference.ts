/**
 * robust's reference MNIST classifier: the small CNN of the Keras MNIST example, used by the
 * examples, the benchmarks and `robust train-reference`.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { UsageError } from '../errors.js';

/** Shape of one MNIST example as the reference CNN takes it. */
export const REFERENCE_INPUT_SHAPE = [28, 28, 1];

/**
 * Build the reference CNN with freshly initialised, seeded weights:
 * Conv2D 32 3×3 relu → Conv2D 64 3×3 relu → MaxPool 2×2 → Flatten → Dense 128 relu → Dense 10
 * (linear: it returns logits), input [28, 28, 1], 1,199,882 parameters.
 *
 * Kernels use Glorot-uniform initialisation (Glorot & Bengio 2010), each layer with its own seed
 * derived from `seed`; biases start at zero. Layer names are fixed (`conv1`, `conv2`, `pool`,
 * `flatten`, `dense1`, `logits`), so two builds with the same seed save to byte-identical files.
 *
 * @param seed an integer in [0, 2^31).
 * @example
 * const model = buildReferenceCnn(42);
 * // The last layer is linear, so train with a loss that takes logits:
 * model.compile({ optimizer: 'adam', loss: (y, z) => tf.losses.softmaxCrossEntropy(y, z) });
 */
export function buildReferenceCnn(seed: number): tfl.LayersModel {
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 31) throw new UsageError(`seed must be an integer in [0, 2^31), got ${seed}`);
  // Distinct per-layer seeds; spaced by 8 so that seed s and s + 1 never share a layer's stream.
  const glorot = (layer: number) => tfl.initializers.glorotUniform({ seed: seed * 8 + layer });
  return tfl.sequential({
    name: 'mnist_cnn',
    layers: [
      tfl.layers.conv2d({ name: 'conv1', inputShape: REFERENCE_INPUT_SHAPE, filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: glorot(1) }),
      tfl.layers.conv2d({ name: 'conv2', filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: glorot(2) }),
      tfl.layers.maxPooling2d({ name: 'pool', poolSize: 2 }),
      tfl.layers.flatten({ name: 'flatten' }),
      tfl.layers.dense({ name: 'dense1', units: 128, activation: 'relu', kernelInitializer: glorot(3) }),
      tfl.layers.dense({ name: 'logits', units: 10, kernelInitializer: glorot(4) }),
    ],
  });
}
