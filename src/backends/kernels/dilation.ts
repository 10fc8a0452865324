/**
 * Morphological dilation (`tf.dilation2d`) for wasm. The shipped `Dilation2D` and its two gradient
 * kernels (tfjs-backend-wasm 4.22) start each window's maximum at FLT_MIN, the smallest POSITIVE float,
 * instead of the lowest one: any window whose every x + filter is negative outputs 1.2e-38 and sends
 * its gradient to the wrong tap. These follow TensorFlow's dilation_ops.cc, as the cpu backend does:
 * out[b,y,x,c] = max over in-bounds taps (r,s) of x[b, y·sh + r·dh − top, x·sw + s·dw − left, c] + W[r,s,c],
 * and each gradient goes to the FIRST maximising tap in row-major order.
 */
import { tf } from '../../tf.js';
import { type KernelArgs, type Values, input, typedOutput } from './util.js';

type DilationInfo = ReturnType<typeof tf.backend_util.computeDilation2DInfo>;

interface DilationAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same';
  dilations: [number, number] | number;
}

function infoOf(x: tf.TensorInfo, filter: tf.TensorInfo, attrs: unknown): DilationInfo {
  const a = attrs as DilationAttrs;
  return tf.backend_util.computeDilation2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number],
    a.strides,
    a.pad,
    'NHWC',
    a.dilations,
  );
}

/**
 * For every output element, find its maximising tap: `visit(outIndex, xIndex, filterIndex, value)`.
 * A window with no in-bounds tap is reported with indices −1 and value −Infinity.
 */
function forEachMax(info: DilationInfo, x: Values, w: Values, visit: (out: number, xAt: number, wAt: number, value: number) => void): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth, filterHeight, filterWidth } = info;
  for (let b = 0; b < batchSize; ++b) {
    for (let oy = 0; oy < outHeight; ++oy) {
      const y0 = oy * strideHeight - info.padInfo.top;
      for (let ox = 0; ox < outWidth; ++ox) {
        const x0 = ox * strideWidth - info.padInfo.left;
        const outBase = ((b * outHeight + oy) * outWidth + ox) * channels;
        for (let c = 0; c < channels; ++c) {
          let best = -Infinity;
          let xAt = -1;
          let wAt = -1;
          for (let r = 0; r < filterHeight; ++r) {
            const y = y0 + r * dilationHeight;
            if (y < 0 || y >= inHeight) continue;
            for (let s = 0; s < filterWidth; ++s) {
              const xx = x0 + s * dilationWidth;
              if (xx < 0 || xx >= inWidth) continue;
              const xi = ((b * inHeight + y) * inWidth + xx) * channels + c;
              const wi = (r * filterWidth + s) * channels + c;
              const v = (x[xi] as number) + (w[wi] as number);
              if (v > best) {
                best = v;
                xAt = xi;
                wAt = wi;
              }
            }
          }
          visit(outBase + c, xAt, wAt, best);
        }
      }
    }
  }
}

/** `Dilation2D` for wasm. */
export const dilation2dConfig: tf.KernelConfig = {
  kernelName: tf.Dilation2D,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const x = input(inputs, 'x');
    const filter = input(inputs, 'filter');
    const info = infoOf(x, filter, attrs);
    return typedOutput('wasm', backend, info.outShape, x.dtype as 'float32' | 'int32', [x, filter], (out, [xv, wv]) =>
      forEachMax(info, xv as Values, wv as Values, (o, _x, _w, v) => (out[o] = v)),
    );
  },
};

/** `Dilation2DBackpropInput` for wasm: dy of each output goes to x at its maximising tap. */
export const dilation2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Dilation2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const x = input(inputs, 'x');
    const filter = input(inputs, 'filter');
    const dy = input(inputs, 'dy');
    const info = infoOf(x, filter, attrs);
    return typedOutput('wasm', backend, x.shape, 'float32', [x, filter, dy], (dx, [xv, wv, dyv]) =>
      forEachMax(info, xv as Values, wv as Values, (o, xAt) => {
        if (xAt >= 0) dx[xAt] = (dx[xAt] as number) + ((dyv as Values)[o] as number);
      }),
    );
  },
};

/** `Dilation2DBackpropFilter` for wasm: dy of each output goes to the filter at its maximising tap. */
export const dilation2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Dilation2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const x = input(inputs, 'x');
    const filter = input(inputs, 'filter');
    const dy = input(inputs, 'dy');
    const info = infoOf(x, filter, attrs);
    return typedOutput('wasm', backend, filter.shape, 'float32', [x, filter, dy], (dw, [xv, wv, dyv]) =>
      forEachMax(info, xv as Values, wv as Values, (o, _x, wAt) => {
        if (wAt >= 0) dw[wAt] = (dw[wAt] as number) + ((dyv as Values)[o] as number);
      }),
    );
  },
};
