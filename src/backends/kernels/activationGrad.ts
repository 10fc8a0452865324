/**
 * `RobustActivationGrad`: the gradient of relu and relu6 read off their output y, in one pass:
 * dx = dy where 0 < y < upper, else 0 (upper is 6 for relu6, Infinity for relu). TF.js has no such
 * kernel: its relu6 gradient is five element-wise kernels (Greater, Less, LogicalAnd, ZerosLike,
 * Select), which were 47% of a MobileNetV2 input gradient on wasm. The attack-time pass
 * (src/models/optimize.ts) calls it where it is registered and falls back to those ops elsewhere.
 * At y = 0 the gradient is 0, as in TF.js; at x = 6 exactly TF.js's relu6 passes dy and this kernel
 * (which sees only y, and y = 6 for every x >= 6) does not: a measure-zero tie.
 */
import { tf } from '../../tf.js';
import { type FixedBackend, type KernelArgs, input, jsOutput } from './util.js';

/** The kernel's name, for `tf.engine().runKernel`. */
export const ACTIVATION_GRAD = 'RobustActivationGrad';

/** The kernel for `kind` (wasm: a loop over the heap; cpu: over the backend's arrays). */
export function activationGradConfig(kind: FixedBackend): tf.KernelConfig {
  return {
    kernelName: ACTIVATION_GRAD,
    backendName: kind,
    kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
      const dy = input(inputs, 'dy');
      const y = input(inputs, 'y');
      const upper = Number((attrs as { upper?: number }).upper ?? Infinity);
      return jsOutput(kind, backend, dy.shape, [dy, y], (dx, [d, v]) => {
        const dv = d as Float32Array;
        const yv = v as Float32Array;
        for (let i = 0; i < dx.length; i++) {
          const yi = yv[i] as number;
          dx[i] = yi > 0 && yi < upper ? (dv[i] as number) : 0;
        }
      });
    },
  };
}
