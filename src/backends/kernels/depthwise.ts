/**
 * Depthwise convolution gradients for the wasm backend, which registers neither in tfjs-backend-wasm
 * 4.22 (so a MobileNet-style model had no gradient there at all).
 *
 * Plain loops over the wasm heap: a depthwise conv does no channel mixing, so these cost about as
 * much as the forward pass. Unlike the cpu backend's kernels they also honour dilations, which the
 * TF.js gradient of `depthwiseConv2d` does not produce today but `depthwiseConv2dNativeBackprop*` ops
 * accept. NHWC only; the filter is [kh, kw, inChannels, channelMultiplier].
 */
import { tf } from '../../tf.js';
import { type KernelArgs, type Values, input, jsOutput, shape4 } from './util.js';

type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

interface DepthwiseBackpropAttrs {
  strides: [number, number] | number;
  dilations?: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Visit every (output position, filter tap) pair whose input pixel is inside the image, passing the
 * flat offsets of the dy row, the x row and the filter row. Both gradients are this walk with a
 * different inner product.
 */
function forEachTap(info: ConvInfo, visit: (dyBase: number, xBase: number, fBase: number) => void): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth, filterHeight, filterWidth } = info;
  for (let b = 0; b < batchSize; ++b) {
    for (let i = 0; i < outHeight; ++i) {
      for (let j = 0; j < outWidth; ++j) {
        const dyBase = ((b * outHeight + i) * outWidth + j) * outChannels;
        for (let r = 0; r < filterHeight; ++r) {
          const h = i * strideHeight + r * dilationHeight - info.padInfo.top;
          if (h < 0 || h >= inHeight) continue;
          for (let c = 0; c < filterWidth; ++c) {
            const w = j * strideWidth + c * dilationWidth - info.padInfo.left;
            if (w < 0 || w >= inWidth) continue;
            visit(dyBase, ((b * inHeight + h) * inWidth + w) * inChannels, (r * filterWidth + c) * outChannels);
          }
        }
      }
    }
  }
}

/** dx[b, h, w, ch] += Σ_m dy[b, i, j, ch·M + m] · W[r, c, ch, m] over the windows that cover (h, w). */
function depthwiseBackpropInputLoop(dy: Values, filter: Values, dx: Float32Array, info: ConvInfo): void {
  const channels = info.inChannels;
  const mult = info.outChannels / channels;
  forEachTap(info, (dyBase, xBase, fBase) => {
    for (let ch = 0; ch < channels; ++ch) {
      let sum = 0;
      for (let m = 0; m < mult; ++m) {
        const k = ch * mult + m;
        sum += (dy[dyBase + k] as number) * (filter[fBase + k] as number);
      }
      dx[xBase + ch] = (dx[xBase + ch] as number) + sum;
    }
  });
}

/** dW[r, c, ch, m] += x[b, h, w, ch] · dy[b, i, j, ch·M + m] over every window. */
function depthwiseBackpropFilterLoop(x: Values, dy: Values, dw: Float32Array, info: ConvInfo): void {
  const channels = info.inChannels;
  const mult = info.outChannels / channels;
  forEachTap(info, (dyBase, xBase, fBase) => {
    for (let ch = 0; ch < channels; ++ch) {
      const xv = x[xBase + ch] as number;
      for (let m = 0; m < mult; ++m) {
        const k = ch * mult + m;
        dw[fBase + k] = (dw[fBase + k] as number) + xv * (dy[dyBase + k] as number);
      }
    }
  });
}

function depthwiseInfo(
  inShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  a: DepthwiseBackpropAttrs,
): ConvInfo {
  return tf.backend_util.computeConv2DInfo(inShape, filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, true);
}

/** `DepthwiseConv2dNativeBackpropInput` for wasm. */
export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const a = attrs as unknown as DepthwiseBackpropAttrs & { inputShape: [number, number, number, number] };
    const dy = input(inputs, 'dy');
    const filter = input(inputs, 'filter');
    const info = depthwiseInfo(a.inputShape, shape4(filter, 'depthwise filter'), a);
    return jsOutput('wasm', backend, a.inputShape, [dy, filter], (dx, [dyv, fv]) =>
      depthwiseBackpropInputLoop(dyv as Values, fv as Values, dx, info),
    );
  },
};

/** `DepthwiseConv2dNativeBackpropFilter` for wasm. */
export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const a = attrs as unknown as DepthwiseBackpropAttrs & { filterShape: [number, number, number, number] };
    const x = input(inputs, 'x');
    const dy = input(inputs, 'dy');
    const info = depthwiseInfo(shape4(x, 'depthwise input'), a.filterShape, a);
    return jsOutput('wasm', backend, a.filterShape, [x, dy], (dw, [xv, dyv]) =>
      depthwiseBackpropFilterLoop(xv as Values, dyv as Values, dw, info),
    );
  },
};
