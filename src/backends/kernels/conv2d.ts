/**
 * Convolution gradients for the wasm backend, written as forward convolutions so XNNPACK does the work.
 *
 * - `Conv2DBackpropInput`: the shipped kernel is correct but about 11× slower than the forward conv.
 *   dx is the forward conv (stride 1) of dy, spread out by the stride with zeros and padded by
 *   (kernel − 1 − forward padding), with the filter flipped in space and its channel axes swapped.
 * - `Conv2DBackpropFilter`: not registered by tfjs-backend-wasm 4.22 at all, so no conv net could
 *   train there. dW[r, c, i, o] = Σ_b,y,x xpad[b, y·s + r, x·s + c, i] · dy[b, y, x, o] is a forward conv
 *   whose "batch" is x's channels, whose "channels" are the batch, and whose filter is dy itself,
 *   dilated by the forward stride.
 *
 * Both handle strides, 'valid' / 'same' / numeric / explicit padding and NHWC; the filter gradient of
 * TF.js convolutions never has dilations (the op refuses them). Where the forward-conv form would need
 * negative padding (explicit padding wider than the kernel), the input gradient falls back to a plain
 * loop over the heap, which is exact but slower. NCHW throws a one-line error.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf.js';
import {
  type KernelArgs,
  type Values,
  assertChannelsLast,
  disposeAll,
  input,
  jsOutput,
  runWasmKernel,
  shape4,
} from './util.js';

type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

interface ConvBackpropAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * dx += Σ dy · W scattered back through each window: the reference form of the input gradient,
 * used where the forward-conv form does not apply.
 */
function conv2dBackpropInputLoop(dy: Values, filter: Values, dx: Float32Array, info: ConvInfo): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  for (let b = 0; b < batchSize; ++b) {
    for (let i = 0; i < outHeight; ++i) {
      for (let j = 0; j < outWidth; ++j) {
        const dyBase = ((b * outHeight + i) * outWidth + j) * outChannels;
        for (let r = 0; r < filterHeight; ++r) {
          const h = i * strideHeight + r - info.padInfo.top;
          if (h < 0 || h >= inHeight) continue;
          for (let c = 0; c < filterWidth; ++c) {
            const w = j * strideWidth + c - info.padInfo.left;
            if (w < 0 || w >= inWidth) continue;
            const dxBase = ((b * inHeight + h) * inWidth + w) * inChannels;
            const fBase = (r * filterWidth + c) * inChannels * outChannels;
            for (let ci = 0; ci < inChannels; ++ci) {
              let sum = 0;
              const fRow = fBase + ci * outChannels;
              for (let o = 0; o < outChannels; ++o) sum += (dy[dyBase + o] as number) * (filter[fRow + o] as number);
              dx[dxBase + ci] = (dx[dxBase + ci] as number) + sum;
            }
          }
        }
      }
    }
  }
}

function backpropInput({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const wasm = backend as BackendWasm;
  const a = attrs as unknown as ConvBackpropAttrs & { inputShape: [number, number, number, number] };
  assertChannelsLast(tf.Conv2DBackpropInput, a.dataFormat);
  const dy = input(inputs, 'dy');
  const filter = input(inputs, 'filter');
  const [kh, kw, inC, outC] = shape4(filter, 'Conv2DBackpropInput filter');
  const info = tf.backend_util.computeConv2DInfo(a.inputShape, [kh, kw, inC, outC], a.strides, 1, a.pad, a.dimRoundingMode);
  const [batch, outH, outW] = shape4(dy, 'Conv2DBackpropInput dy');
  const { inHeight, inWidth, strideHeight: sh, strideWidth: sw } = info;
  // dy spread out by the stride, then padded so a stride-1 'valid' conv yields exactly H × W.
  const spreadH = (outH - 1) * sh + 1;
  const spreadW = (outW - 1) * sw + 1;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = inHeight + kh - 1 - top - spreadH;
  const right = inWidth + kw - 1 - left - spreadW;
  if (Math.min(top, left, bottom, right) < 0) {
    return jsOutput('wasm', wasm, a.inputShape, [dy, filter], (dx, [dyv, fv]) =>
      conv2dBackpropInputLoop(dyv as Values, fv as Values, dx, info),
    );
  }
  const flipped = wasm.makeOutput([kh, kw, outC, inC], 'float32');
  const spread = sh > 1 || sw > 1 ? wasm.makeOutput([batch, spreadH, spreadW, outC], 'float32') : undefined;
  try {
    // Views only after the last allocation: a heap growth detaches earlier ones.
    const f = wasm.typedArrayFromHeap(filter) as Float32Array;
    const fl = wasm.typedArrayFromHeap(flipped) as Float32Array;
    for (let r = 0; r < kh; ++r) {
      for (let c = 0; c < kw; ++c) {
        const src = ((kh - 1 - r) * kw + (kw - 1 - c)) * inC * outC;
        const dst = (r * kw + c) * outC * inC;
        for (let i = 0; i < inC; ++i) {
          for (let o = 0; o < outC; ++o) fl[dst + o * inC + i] = f[src + i * outC + o] as number;
        }
      }
    }
    if (spread !== undefined) {
      const sp = wasm.typedArrayFromHeap(spread) as Float32Array;
      const d = wasm.typedArrayFromHeap(dy) as Float32Array;
      sp.fill(0);
      for (let b = 0; b < batch; ++b) {
        for (let i = 0; i < outH; ++i) {
          for (let j = 0; j < outW; ++j) {
            const from = ((b * outH + i) * outW + j) * outC;
            sp.set(d.subarray(from, from + outC), ((b * spreadH + i * sh) * spreadW + j * sw) * outC);
          }
        }
      }
    }
    return runWasmKernel(
      tf.Conv2D,
      wasm,
      { x: spread ?? dy, filter: flipped },
      {
        strides: [1, 1],
        dilations: [1, 1],
        pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
        dataFormat: 'NHWC',
      },
    );
  } finally {
    disposeAll(wasm, [flipped, spread]);
  }
}

function backpropFilter({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const wasm = backend as BackendWasm;
  const a = attrs as unknown as ConvBackpropAttrs & { filterShape: [number, number, number, number] };
  assertChannelsLast(tf.Conv2DBackpropFilter, a.dataFormat);
  const x = input(inputs, 'x');
  const dy = input(inputs, 'dy');
  const [kh, kw, inC, outC] = a.filterShape;
  const info = tf.backend_util.computeConv2DInfo(shape4(x, 'Conv2DBackpropFilter x'), a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
  const [, outH, outW] = shape4(dy, 'Conv2DBackpropFilter dy');
  const { inHeight, inWidth, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Enough padding below / right for kh × kw outputs; a 'valid' conv that skipped the last rows
  // gives more, and the copy below keeps only the first kh × kw.
  const bottom = Math.max(0, kh + (outH - 1) * sh - inHeight - top);
  const right = Math.max(0, kw + (outW - 1) * sw - inWidth - left);
  const xT = runWasmKernel(tf.Transpose, wasm, { x }, { perm: [3, 1, 2, 0] });
  let dyT: tf.TensorInfo | undefined;
  let corr: tf.TensorInfo | undefined;
  try {
    dyT = runWasmKernel(tf.Transpose, wasm, { x: dy }, { perm: [1, 2, 0, 3] });
    corr = runWasmKernel(
      tf.Conv2D,
      wasm,
      { x: xT, filter: dyT },
      {
        strides: [1, 1],
        dilations: [sh, sw],
        pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
        dataFormat: 'NHWC',
      },
    );
    const [, corrH, corrW] = corr.shape as [number, number, number, number];
    return jsOutput('wasm', wasm, [kh, kw, inC, outC], [corr], (dw, [cv]) => {
      const y = cv as Float32Array;
      for (let r = 0; r < kh; ++r) {
        for (let c = 0; c < kw; ++c) {
          for (let i = 0; i < inC; ++i) {
            const from = ((i * corrH + r) * corrW + c) * outC;
            dw.set(y.subarray(from, from + outC), ((r * kw + c) * inC + i) * outC);
          }
        }
      }
    });
  } finally {
    disposeAll(wasm, [xT, dyT, corr]);
  }
}

/** `Conv2DBackpropInput` for wasm, as a forward XNNPACK conv. */
export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: backpropInput,
};

/** `Conv2DBackpropFilter` for wasm, as a forward XNNPACK conv. */
export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: backpropFilter,
};
