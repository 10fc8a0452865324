/**
 * Kernel registrations that fix or speed up a backend's kernels.
 * Called by `useBackend` after the backend package is loaded and before it is used.
 *
 * What each backend gets, and why (details in each module):
 * - wasm: `MaxPoolGrad` (the shipped one misroutes gradients and breaks ties unlike TensorFlow),
 *   `AvgPoolGrad` (wrong divisor at padded borders), `Conv2DBackpropInput` (about 11× slower than the
 *   forward conv; now a forward XNNPACK conv), `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropInput`,
 *   `DepthwiseConv2dNativeBackpropFilter` and `UnsortedSegmentSum` (missing, so conv nets could not
 *   train and `gather` had no gradient), `_FusedMatMul` (wrong bias with transposed or batched operands),
 *   `ResizeBilinearGrad` and `ResizeNearestNeighborGrad` (`halfPixelCenters` ignored); `BatchMatMul` and
 *   `_FusedMatMul` with a transposed operand (a scalar loop 15–40× slower than XNNPACK; now laid out first);
 *   `Identity` (copied its input; now shares it under a reference count); `RobustActivationGrad` (new:
 *   the relu / relu6 gradient in one pass, for the attack-time model pass).
 *   From the systematic sweep (test/kernels-sweep.test.ts): element-wise `Sign`, `Log1p`, `Selu`, `Sin`,
 *   `Cos` (wrong for tiny or large inputs), `Relu6` and `ClipByValue` (NaN clipped to a bound; int32
 *   misread), `Cast` to bool, `OneHot` (dtype ignored); `StridedSlice`, `Select`, `Reverse` (int32 / bool),
 *   `GatherV2` (batchDims), `Cumsum` / `Cumprod` (negative axis corrupts the heap); `Conv3DBackpropInputV2`,
 *   `Conv3DBackpropFilterV2`, `Dilation2D` and its gradients, `MaxPool3DGrad`, `MaxPoolWithArgmax`
 *   (wrong values); `FusedConv2D` / `FusedDepthwiseConv2D` (garbage with stray prelu weights);
 *   `RotateWithOffset` (fill truncated to int) and `Transform` ('reflect' wrong).
 *   For speed (PGD's projection and early stop): `Minimum`, `Maximum` and the comparisons (a generic
 *   per-element broadcast, 20–30× slower than a planned one), `Tile` and `GatherV2` (block copies).
 * - cpu: `RobustActivationGrad` (as on wasm), `AvgPoolGrad` (the same padded-border divisor bug as wasm), `ResizeBilinearGrad` and
 *   `ResizeNearestNeighborGrad` (`halfPixelCenters` ignored; wrong or throwing for batch > 1),
 *   `Transform` (every image after the first left as fill), `Cumsum` / `Cumprod` (negative axis gave
 *   an empty result).
 * Every other kernel was checked against cpu in test/kernels-sweep.test.ts (and the gradients an attack
 * or training loop reaches in test/kernels.test.ts); the differences left are listed there as harmless.
 */
import { tf } from '../../tf.js';
import { activationGradConfig } from './activationGrad.js';
import { conv2dBackpropFilterConfig, conv2dBackpropInputConfig } from './conv2d.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise.js';
import { batchMatMulConfig, fusedMatMulConfig } from './matmul.js';
import { identityConfig } from './identity.js';
import { avgPoolGradConfig, maxPoolGradConfig, maxPoolWithArgmaxConfig } from './pool.js';
import { resizeBilinearGradConfig, resizeNearestGradConfig } from './resize.js';
import { unsortedSegmentSumConfig } from './segment.js';
import { conv3dBackpropFilterConfig, conv3dBackpropInputConfig } from './conv3d.js';
import { dilation2dBackpropFilterConfig, dilation2dBackpropInputConfig, dilation2dConfig } from './dilation.js';
import { fusedConvConfig } from './fused.js';
import { rotateWithOffsetConfig, transformConfig } from './image.js';
import { cumulativeAxisConfig, gatherV2Config, reverseConfig, selectConfig, stridedSliceConfig, tileConfig } from './layout.js';
import { BROADCAST_KERNELS, broadcastBinaryConfig } from './broadcast.js';
import { maxPool3dGradConfig } from './pool3d.js';
import {
  castConfig,
  clipByValueConfig,
  cosConfig,
  log1pConfig,
  oneHotConfig,
  relu6Config,
  seluConfig,
  signConfig,
  sinConfig,
} from './unary.js';
import { installKernel } from './util.js';

const registered = new Map<string, string[]>();
const shipped = new Map<string, Map<string, tf.KernelConfig>>();

/**
 * Fixes that wrap the backend's own kernel (calling it where it is right): `make` gets the shipped
 * config, taken before it is replaced. A kernel the backend does not have is left alone.
 */
function wrapped(backendName: string, wraps: [string, (original: tf.KernelConfig) => tf.KernelConfig][]): tf.KernelConfig[] {
  return wraps.flatMap(([name, make]) => {
    const original = tf.getKernel(name, backendName);
    return original === undefined ? [] : [make(original)];
  });
}

function fixesFor(tfBackendName: string): tf.KernelConfig[] {
  switch (tfBackendName) {
    case 'wasm':
      return [
        maxPoolGradConfig('wasm'),
        avgPoolGradConfig('wasm'),
        activationGradConfig('wasm'),
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
        sinConfig,
        cosConfig,
        seluConfig,
        relu6Config,
        clipByValueConfig,
        conv3dBackpropInputConfig,
        conv3dBackpropFilterConfig,
        dilation2dConfig,
        dilation2dBackpropInputConfig,
        dilation2dBackpropFilterConfig,
        maxPool3dGradConfig,
        maxPoolWithArgmaxConfig,
        rotateWithOffsetConfig,
        transformConfig('wasm'),
        ...wrapped('wasm', [
          [tf._FusedMatMul, fusedMatMulConfig],
          [tf.BatchMatMul, batchMatMulConfig],
          [tf.Identity, identityConfig],
          [tf.Cast, castConfig],
          [tf.StridedSlice, stridedSliceConfig],
          [tf.Select, selectConfig],
          [tf.Reverse, reverseConfig],
          [tf.GatherV2, gatherV2Config],
          [tf.Tile, tileConfig],
          ...BROADCAST_KERNELS.map((name): [string, (original: tf.KernelConfig) => tf.KernelConfig] => [name, broadcastBinaryConfig]),
          [tf.Cumsum, cumulativeAxisConfig],
          [tf.Cumprod, cumulativeAxisConfig],
          [tf.FusedConv2D, fusedConvConfig],
          [tf.FusedDepthwiseConv2D, fusedConvConfig],
        ]),
      ];
    case 'cpu':
      return [
        avgPoolGradConfig('cpu'),
        activationGradConfig('cpu'),
        resizeBilinearGradConfig('cpu'),
        resizeNearestGradConfig('cpu'),
        transformConfig('cpu'),
        ...wrapped('cpu', [
          [tf.Cumsum, cumulativeAxisConfig],
          [tf.Cumprod, cumulativeAxisConfig],
        ]),
      ];
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
  const originals = new Map<string, tf.KernelConfig>();
  for (const config of fixes) {
    const original = tf.getKernel(config.kernelName, tfBackendName);
    if (original !== undefined) originals.set(config.kernelName, original);
    installKernel(config);
  }
  shipped.set(tfBackendName, originals);
  registered.set(tfBackendName, fixes.map((k) => k.kernelName));
}

/**
 * The kernel the backend package itself registered under `kernelName`, before robust replaced it; undefined
 * when robust replaced nothing there or the package has no such kernel (one robust added). For the kernel
 * benchmark's before/after table (`robust bench`), never for computing results.
 */
export function shippedKernel(tfBackendName: string, kernelName: string): tf.KernelConfig | undefined {
  return shipped.get(tfBackendName)?.get(kernelName);
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
