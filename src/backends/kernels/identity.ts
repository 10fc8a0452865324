/**
 * `Identity` on wasm without the copy. The shipped kernel (tfjs-backend-wasm 4.22) allocates a new buffer and
 * copies the input into it; tfjs-layers calls Identity on every layer output, so an input gradient of the
 * reference CNN copied about 30 MB per batch of 128 (10 ms of a 225 ms step). TF.js never writes into a
 * tensor's data, so the output can share the input's buffer under a reference count, as the cpu backend does.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf.js';
import { type KernelArgs, input } from './util.js';

/** Wrap the shipped kernel: strings still take its path, every numeric dtype shares the buffer. */
export function identityConfig(original: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = ({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo | tf.TensorInfo[] => {
    const x = input(inputs, 'x');
    if (x.dtype === 'string') return original.kernelFunc({ inputs, backend: backend as BackendWasm, attrs: attrs ?? {} });
    (backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  const config: tf.KernelConfig = { kernelName: tf.Identity, backendName: 'wasm', kernelFunc };
  if (original.setupFunc !== undefined) config.setupFunc = original.setupFunc;
  return config;
}
