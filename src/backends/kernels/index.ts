/**
 * Kernel registrations that fix or speed up a backend's gradients.
 * Called by `useBackend` after the backend package is loaded and before it is used.
 *
 * What each backend gets, and why (details in each module):
 * - wasm: `MaxPoolGrad` (the shipped one misroutes gradients and breaks ties unlike TensorFlow),
 *   `AvgPoolGrad` (wrong divisor at padded borders), `Conv2DBackpropInput` (about 11× slower than the
 *   forward conv; now a forward XNNPACK conv), `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropInput`,
 *   `DepthwiseConv2dNativeBackpropFilter` and `UnsortedSegmentSum` (missing, so conv nets could not
 *   train and `gather` had no gradient), `_FusedMatMul` (wrong bias with transposed or batched operands),
 *   `ResizeBilinearGrad` and `ResizeNearestNeighborGrad` (`halfPixelCenters` ignored).
 * - cpu: `AvgPoolGrad` (the same padded-border divisor bug as wasm), `ResizeBilinearGrad` and
 *   `ResizeNearestNeighborGrad` (`halfPixelCenters` ignored; wrong or throwing for batch > 1).
 * Every other gradient an attack or training loop reaches was checked against cpu in
 * test/kernels.test.ts and needs no fix.
 */
import { tf } from '../../tf.js';
import { conv2dBackpropFilterConfig, conv2dBackpropInputConfig } from './conv2d.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise.js';
import { fusedMatMulConfig } from './matmul.js';
import { avgPoolGradConfig, maxPoolGradConfig } from './pool.js';
import { resizeBilinearGradConfig, resizeNearestGradConfig } from './resize.js';
import { unsortedSegmentSumConfig } from './segment.js';
import { log1pConfig, oneHotConfig, signConfig } from './unary.js';
import { installKernel } from './util.js';

const registered = new Map<string, string[]>();

function fixesFor(tfBackendName: string): tf.KernelConfig[] {
  switch (tfBackendName) {
    case 'wasm': {
      const fixes = [
        maxPoolGradConfig('wasm'),
        avgPoolGradConfig('wasm'),
        conv2dBackpropInputConfig,
        conv2dBackpropFilterConfig,
        depthwiseBackpropInputConfig,
        depthwiseBackpropFilterConfig,
        unsortedSegmentSumConfig,
        signConfig,
        log1pConfig,
        oneHotConfig,
        resizeBilinearGradConfig('wasm'),
        resizeNearestGradConfig('wasm'),
      ];
      const fusedMatMul = tf.getKernel(tf._FusedMatMul, 'wasm');
      if (fusedMatMul !== undefined) fixes.push(fusedMatMulConfig(fusedMatMul));
      return fixes;
    }
    case 'cpu':
      return [avgPoolGradConfig('cpu'), resizeBilinearGradConfig('cpu'), resizeNearestGradConfig('cpu')];
    default:
      return [];
  }
}

/**
 * Register robust's kernel fixes for the TF.js backend called `tfBackendName` (as `tf.getBackend()`
 * names it). Idempotent; a backend without fixes is left alone. Must run after the backend's package
 * is imported (its kernels are registered then) and before `tf.setBackend`, so that the setup of a
 * wrapped kernel still runs when the backend initialises.
 * @example
 *   await import('@tensorflow/tfjs-backend-wasm');
 *   registerKernelFixes('wasm');
 *   await tf.setBackend('wasm');
 */
export function registerKernelFixes(tfBackendName: string): void {
  if (registered.has(tfBackendName)) return;
  // Before the backend package is imported there is nothing to fix yet, and its own registration
  // would later overwrite ours: leave the backend unmarked so a call after the import still works.
  if (tf.getKernelsForBackend(tfBackendName).length === 0) return;
  const fixes = fixesFor(tfBackendName);
  for (const config of fixes) installKernel(config);
  registered.set(tfBackendName, fixes.map((k) => k.kernelName));
}

/**
 * The kernel names robust has replaced or added on `tfBackendName`, for run manifests and tests.
 * Empty before `registerKernelFixes` ran for it, or for a backend that needs none.
 * @example
 *   kernelFixes('wasm'); // ['MaxPoolGrad', 'AvgPoolGrad', 'Conv2DBackpropInput', ...]
 */
export function kernelFixes(tfBackendName: string): readonly string[] {
  return registered.get(tfBackendName) ?? [];
}
