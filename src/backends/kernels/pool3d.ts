/**
 * `MaxPool3DGrad` for wasm. The shipped kernel (tfjs-backend-wasm 4.22) drops the gradient of windows
 * that overlap the padding when every in-bounds value is negative (maxPool3d 'same' on [1,3,2,2,1]
 * filled with −1…−12 gives the second window no gradient at all). This one scans the in-bounds cells
 * of each window of x and sends dy to its maximum; ties go to the LAST maximum in (depth, row, column)
 * order, the convention of both shipped kernels.
 */
import { tf } from '../../tf.js';
import { type KernelArgs, type Values, input, jsOutput } from './util.js';

interface Pool3DGradAttrs {
  filterSize: [number, number, number] | number;
  strides: [number, number, number] | number;
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** `MaxPool3DGrad` for wasm: inputs dy, input (x), output (unused: maxima are found from x). */
export const maxPool3dGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPool3DGrad,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const x = input(inputs, 'input');
    const dy = input(inputs, 'dy');
    const a = attrs as unknown as Pool3DGradAttrs;
    const info = tf.backend_util.computePool3DInfo(
      x.shape as [number, number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode,
    );
    const { batchSize, inDepth, inHeight, inWidth, inChannels: channels, outDepth, outHeight, outWidth } = info;
    const { strideDepth, strideHeight, strideWidth, effectiveFilterDepth, effectiveFilterHeight, effectiveFilterWidth } = info;
    const { front, top, left } = info.padInfo;
    return jsOutput('wasm', backend, x.shape, [x, dy], (dx, [xv, dyv]) => {
      const xs = xv as Values;
      const g = dyv as Values;
      for (let b = 0; b < batchSize; ++b) {
        for (let od = 0; od < outDepth; ++od) {
          const d0 = od * strideDepth - front;
          for (let oy = 0; oy < outHeight; ++oy) {
            const y0 = oy * strideHeight - top;
            for (let ox = 0; ox < outWidth; ++ox) {
              const x0 = ox * strideWidth - left;
              const dyBase = (((b * outDepth + od) * outHeight + oy) * outWidth + ox) * channels;
              for (let ch = 0; ch < channels; ++ch) {
                let best = -Infinity;
                let bestAt = -1;
                for (let d = Math.max(0, d0); d < Math.min(inDepth, d0 + effectiveFilterDepth); ++d) {
                  for (let y = Math.max(0, y0); y < Math.min(inHeight, y0 + effectiveFilterHeight); ++y) {
                    for (let xx = Math.max(0, x0); xx < Math.min(inWidth, x0 + effectiveFilterWidth); ++xx) {
                      const at = (((b * inDepth + d) * inHeight + y) * inWidth + xx) * channels + ch;
                      const v = xs[at] as number;
                      if (v >= best) {
                        best = v;
                        bestAt = at;
                      }
                    }
                  }
                }
                if (bestAt >= 0) dx[bestAt] = (dx[bestAt] as number) + (g[dyBase + ch] as number);
              }
            }
          }
        }
      }
    });
  },
};
