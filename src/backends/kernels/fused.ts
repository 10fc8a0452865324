/**
 * `FusedConv2D` and `FusedDepthwiseConv2D` on wasm: given `preluActivationWeights` with any activation
 * other than 'prelu', the shipped kernels (tfjs-backend-wasm 4.22) return garbage (1e-41 and zeros)
 * instead of ignoring the weights as cpu does. The fix drops the unused input and calls the shipped
 * kernel, which the sweep found exact otherwise.
 */
import { tf } from '../../tf.js';
import { patchKernel } from './util.js';

/** Wrap a shipped fused convolution so that prelu weights only reach it with the prelu activation. */
export function fusedConvConfig(original: tf.KernelConfig): tf.KernelConfig {
  return patchKernel(original, ({ inputs, backend, attrs }) => {
    const stray = inputs['preluActivationWeights'];
    if (stray === undefined || stray === null || (attrs as { activation?: string } | undefined)?.activation === 'prelu') return undefined;
    const rest: tf.NamedTensorInfoMap = {};
    for (const [name, t] of Object.entries(inputs)) if (name !== 'preluActivationWeights' && t !== undefined) rest[name] = t;
    return original.kernelFunc({ inputs: rest, backend: backend as tf.KernelBackend, attrs: attrs ?? {} });
  });
}
