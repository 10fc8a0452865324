/**
 * Pooling gradients.
 *
 * - `MaxPoolGrad` on wasm: the shipped kernel (tfjs-backend-wasm 4.22) sends the gradient to the wrong
 *   cell in some windows (603 of 36,864 entries differ from cpu on a [1,24,24,64] input) and breaks ties
 *   differently from TensorFlow. This one follows TensorFlow and the cpu backend (`maxPoolPositions`):
 *   the gradient of a window goes to its FIRST maximum in row-major order, found from the input.
 * - `AvgPoolGrad` on cpu and wasm: both shipped kernels divide by the full window size, but the forward
 *   pass of both divides by the number of in-bounds pixels, so with 'same' (or explicit) padding the
 *   border gradients were wrong by up to the ratio of the two. This one divides by the count the
 *   forward pass used, as TensorFlow's AvgPoolGrad does.
 * - `MaxPoolWithArgmax` on wasm: the shipped kernel starts each maximum at FLT_MIN (the smallest
 *   POSITIVE float), so all-negative windows output 1.2e-38 with index 0, and ties pick another cell
 *   than TensorFlow. This one returns the first maximum and its flat NHWC index, as cpu does.
 */
import { tf } from '../../tf.js';
import { type FixedBackend, type KernelArgs, type Values, input, jsOutput, shape4, typedOutput } from './util.js';

type PoolInfo = ReturnType<typeof tf.backend_util.computePool2DInfo>;

interface PoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** First in-bounds row (or column) of a pooling window that starts at `corner`, on the dilation grid. */
function firstInside(corner: number, dilation: number): number {
  let i = corner;
  while (i < 0) i += dilation;
  return i;
}

/**
 * Scatter `dy` onto the first maximum of each pooling window of `x` (NHWC), adding into `dx`.
 * The strict `>` makes the earliest maximum in row-major order win a tie; a window with no value above
 * -Infinity (or only NaN) receives no gradient, as on cpu.
 */
function maxPoolGradLoop(x: Values, dy: Values, dx: Float32Array, info: PoolInfo): void {
  if (x instanceof Float32Array && dy instanceof Float32Array && isPlain2x2(info)) {
    maxPoolGrad2x2(x, dy, dx, info);
    return;
  }
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { effectiveFilterHeight, effectiveFilterWidth } = info;
  const best = new Float64Array(channels);
  const bestAt = new Int32Array(channels);
  for (let b = 0; b < batchSize; ++b) {
    for (let oy = 0; oy < outHeight; ++oy) {
      const rowCorner = oy * strideHeight - info.padInfo.top;
      const rowMin = firstInside(rowCorner, dilationHeight);
      const rowMax = Math.min(inHeight, rowCorner + effectiveFilterHeight);
      for (let ox = 0; ox < outWidth; ++ox) {
        const colCorner = ox * strideWidth - info.padInfo.left;
        const colMin = firstInside(colCorner, dilationWidth);
        const colMax = Math.min(inWidth, colCorner + effectiveFilterWidth);
        best.fill(-Infinity);
        bestAt.fill(-1);
        for (let r = rowMin; r < rowMax; r += dilationHeight) {
          for (let c = colMin; c < colMax; c += dilationWidth) {
            const base = ((b * inHeight + r) * inWidth + c) * channels;
            for (let ch = 0; ch < channels; ++ch) {
              const v = x[base + ch] as number;
              if (v > (best[ch] as number)) {
                best[ch] = v;
                bestAt[ch] = base + ch;
              }
            }
          }
        }
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let ch = 0; ch < channels; ++ch) {
          const at = bestAt[ch] as number;
          if (at >= 0) dx[at] = (dx[at] as number) + (dy[dyBase + ch] as number);
        }
      }
    }
  }
}

/** A 2×2 window with stride 2, no padding and no dilation: the pooling of nearly every CNN. */
function isPlain2x2(info: PoolInfo): boolean {
  return (
    info.filterHeight === 2 && info.filterWidth === 2 && info.strideHeight === 2 && info.strideWidth === 2 &&
    info.dilationHeight === 1 && info.dilationWidth === 1 && info.padInfo.top === 0 && info.padInfo.left === 0 &&
    2 * info.outHeight <= info.inHeight && 2 * info.outWidth <= info.inWidth
  );
}

/**
 * `maxPoolGradLoop` for plain 2×2 windows, on float32 views: the same first-maximum rule (cells in
 * row-major order, strict `>` from -Infinity, NaN never wins), without the general loop's bookkeeping.
 * About 4× faster on the reference CNN's [128, 24, 24, 64] pool; equality with the general loop is tested.
 */
function maxPoolGrad2x2(x: Float32Array, dy: Float32Array, dx: Float32Array, info: PoolInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const rowStride = inWidth * channels;
  for (let b = 0; b < batchSize; ++b) {
    for (let oy = 0; oy < outHeight; ++oy) {
      for (let ox = 0; ox < outWidth; ++ox) {
        const p00 = ((b * inHeight + 2 * oy) * inWidth + 2 * ox) * channels;
        const p01 = p00 + channels;
        const p10 = p00 + rowStride;
        const p11 = p10 + channels;
        const o = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let ch = 0; ch < channels; ++ch) {
          let best = -Infinity;
          let at = -1;
          let v = x[p00 + ch] as number;
          if (v > best) { best = v; at = p00 + ch; }
          v = x[p01 + ch] as number;
          if (v > best) { best = v; at = p01 + ch; }
          v = x[p10 + ch] as number;
          if (v > best) { best = v; at = p10 + ch; }
          v = x[p11 + ch] as number;
          if (v > best) at = p11 + ch;
          if (at >= 0) dx[at] = (dx[at] as number) + (dy[o + ch] as number);
        }
      }
    }
  }
}

/**
 * Spread `dy` evenly over the in-bounds pixels of each pooling window (NHWC), adding into `dx`:
 * the exact adjoint of an average pool that divides by the in-bounds count.
 */
function avgPoolGradLoop(dy: Values, dx: Float32Array, info: PoolInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, effectiveFilterHeight, effectiveFilterWidth } = info;
  for (let b = 0; b < batchSize; ++b) {
    for (let oy = 0; oy < outHeight; ++oy) {
      const rowCorner = oy * strideHeight - info.padInfo.top;
      const rowMin = Math.max(0, rowCorner);
      const rowMax = Math.min(inHeight, rowCorner + effectiveFilterHeight);
      for (let ox = 0; ox < outWidth; ++ox) {
        const colCorner = ox * strideWidth - info.padInfo.left;
        const colMin = Math.max(0, colCorner);
        const colMax = Math.min(inWidth, colCorner + effectiveFilterWidth);
        const count = (rowMax - rowMin) * (colMax - colMin);
        if (count <= 0) continue;
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let r = rowMin; r < rowMax; ++r) {
          for (let c = colMin; c < colMax; ++c) {
            const base = ((b * inHeight + r) * inWidth + c) * channels;
            for (let ch = 0; ch < channels; ++ch) {
              dx[base + ch] = (dx[base + ch] as number) + (dy[dyBase + ch] as number) / count;
            }
          }
        }
      }
    }
  }
}

function poolInfo(x: tf.TensorInfo, attrs: PoolGradAttrs): PoolInfo {
  return tf.backend_util.computePool2DInfo(
    shape4(x, 'pooling input'),
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

/** `MaxPoolGrad` for `backendName`: inputs dy, input (x), output (unused: maxima are found from x). */
export function maxPoolGradConfig(backendName: FixedBackend): tf.KernelConfig {
  return {
    kernelName: tf.MaxPoolGrad,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
      const x = input(inputs, 'input');
      const dy = input(inputs, 'dy');
      const info = poolInfo(x, attrs as unknown as PoolGradAttrs);
      return jsOutput(backendName, backend, x.shape, [x, dy], (dx, [xv, dyv]) =>
        maxPoolGradLoop(xv as Values, dyv as Values, dx, info),
      );
    },
  };
}

/** `AvgPoolGrad` for `backendName`: inputs dy, input (x, for its shape). */
export function avgPoolGradConfig(backendName: FixedBackend): tf.KernelConfig {
  return {
    kernelName: tf.AvgPoolGrad,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
      const x = input(inputs, 'input');
      const dy = input(inputs, 'dy');
      const info = poolInfo(x, attrs as unknown as PoolGradAttrs);
      return jsOutput(backendName, backend, x.shape, [dy], (dx, [dyv]) => avgPoolGradLoop(dyv as Values, dx, info));
    },
  };
}

/**
 * `MaxPoolWithArgmax` for wasm: outputs the window maxima and, for each, the flat index of its first
 * maximum in x, ((b·H + y)·W + x)·C + c with includeBatchInIndex, (y·W + x)·C + c without.
 */
export const maxPoolWithArgmaxConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolWithArgmax,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const x = input(inputs, 'x');
    const a = attrs as unknown as PoolGradAttrs & { includeBatchInIndex: boolean };
    const info = poolInfo(x, a);
    const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
    const { strideHeight, strideWidth, effectiveFilterHeight, effectiveFilterWidth } = info;
    const indexes = typedOutput('wasm', backend, info.outShape, 'int32', [], () => undefined);
    const values = typedOutput('wasm', backend, info.outShape, 'float32', [x, indexes], (out, [xv, iv]) => {
      const xs = xv as Values;
      const at = iv as Int32Array;
      for (let b = 0; b < batchSize; ++b) {
        for (let oy = 0; oy < outHeight; ++oy) {
          const rowCorner = oy * strideHeight - info.padInfo.top;
          const rowMax = Math.min(inHeight, rowCorner + effectiveFilterHeight);
          for (let ox = 0; ox < outWidth; ++ox) {
            const colCorner = ox * strideWidth - info.padInfo.left;
            const colMax = Math.min(inWidth, colCorner + effectiveFilterWidth);
            for (let ch = 0; ch < channels; ++ch) {
              let best = -Infinity;
              let bestAt = -1;
              for (let r = Math.max(0, rowCorner); r < rowMax; ++r) {
                for (let c = Math.max(0, colCorner); c < colMax; ++c) {
                  const v = xs[((b * inHeight + r) * inWidth + c) * channels + ch] as number;
                  if (v > best) {
                    best = v;
                    bestAt = (r * inWidth + c) * channels + ch + (a.includeBatchInIndex ? b * inHeight * inWidth * channels : 0);
                  }
                }
              }
              const o = ((b * outHeight + oy) * outWidth + ox) * channels + ch;
              out[o] = best;
              at[o] = bestAt;
            }
          }
        }
      }
    });
    return [values, indexes];
  },
};
