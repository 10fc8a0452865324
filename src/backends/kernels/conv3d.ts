/**
 * 3-D convolution gradients for wasm. The shipped `Conv3DBackpropInputV2` and `Conv3DBackpropFilterV2`
 * (tfjs-backend-wasm 4.22) return wrong values (zeros over whole regions with strides, wrong sums
 * elsewhere), so a conv3d layer neither trains nor yields input gradients, and conv3dTranspose is wrong
 * in the forward pass. These are the reference loops over the heap: exact, NDHWC, any stride and
 * padding (TF.js refuses dilations in conv3d gradients).
 */
import { tf } from '../../tf.js';
import { type KernelArgs, type Values, input, jsOutput } from './util.js';

type Conv3DInfo = ReturnType<typeof tf.backend_util.computeConv3DInfo>;
type Shape5 = [number, number, number, number, number];

interface Conv3DBackpropAttrs {
  strides: [number, number, number] | number;
  pad: 'valid' | 'same';
}

/**
 * Visit every (input position, filter tap, output position) triple of a 3-D convolution:
 * `visit(xBase, wBase, dyBase)` gets the flat offsets of x[b, d, h, w, 0], W[fd, fh, fw, 0, 0] and
 * dy[b, od, oh, ow, 0].
 */
function forEachTap(info: Conv3DInfo, visit: (xBase: number, wBase: number, dyBase: number) => void): void {
  const { batchSize, inDepth, inHeight, inWidth, inChannels, outDepth, outHeight, outWidth, outChannels } = info;
  const { strideDepth, strideHeight, strideWidth, filterDepth, filterHeight, filterWidth } = info;
  const { front, top, left } = info.padInfo;
  for (let b = 0; b < batchSize; ++b) {
    for (let od = 0; od < outDepth; ++od) {
      for (let oh = 0; oh < outHeight; ++oh) {
        for (let ow = 0; ow < outWidth; ++ow) {
          const dyBase = (((b * outDepth + od) * outHeight + oh) * outWidth + ow) * outChannels;
          for (let fd = 0; fd < filterDepth; ++fd) {
            const d = od * strideDepth + fd - front;
            if (d < 0 || d >= inDepth) continue;
            for (let fh = 0; fh < filterHeight; ++fh) {
              const h = oh * strideHeight + fh - top;
              if (h < 0 || h >= inHeight) continue;
              for (let fw = 0; fw < filterWidth; ++fw) {
                const w = ow * strideWidth + fw - left;
                if (w < 0 || w >= inWidth) continue;
                const xBase = (((b * inDepth + d) * inHeight + h) * inWidth + w) * inChannels;
                const wBase = ((fd * filterHeight + fh) * filterWidth + fw) * inChannels * outChannels;
                visit(xBase, wBase, dyBase);
              }
            }
          }
        }
      }
    }
  }
}

function shape5(t: { shape: number[] }, what: string): Shape5 {
  if (t.shape.length !== 5) throw new Error(`${what} must be rank 5, got shape [${t.shape.join(', ')}]`);
  return t.shape as Shape5;
}

/** `Conv3DBackpropInputV2` for wasm: dx[b,d,h,w,i] = Σ dy[b,od,oh,ow,o] · W[fd,fh,fw,i,o]. */
export const conv3dBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv3DBackpropInputV2,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const dy = input(inputs, 'dy');
    const filter = input(inputs, 'filter');
    const a = attrs as unknown as Conv3DBackpropAttrs & { inputShape: Shape5 };
    const info = tf.backend_util.computeConv3DInfo(a.inputShape, shape5(filter, 'Conv3DBackpropInputV2 filter'), a.strides, 1, a.pad);
    const { inChannels, outChannels } = info;
    return jsOutput('wasm', backend, a.inputShape, [dy, filter], (dx, [dyv, wv]) => {
      const g = dyv as Values;
      const f = wv as Values;
      forEachTap(info, (xBase, wBase, dyBase) => {
        for (let i = 0; i < inChannels; ++i) {
          let sum = 0;
          const row = wBase + i * outChannels;
          for (let o = 0; o < outChannels; ++o) sum += (g[dyBase + o] as number) * (f[row + o] as number);
          dx[xBase + i] = (dx[xBase + i] as number) + sum;
        }
      });
    });
  },
};

/** `Conv3DBackpropFilterV2` for wasm: dW[fd,fh,fw,i,o] = Σ x[b,d,h,w,i] · dy[b,od,oh,ow,o]. */
export const conv3dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv3DBackpropFilterV2,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const x = input(inputs, 'x');
    const dy = input(inputs, 'dy');
    const a = attrs as unknown as Conv3DBackpropAttrs & { filterShape: Shape5 };
    const info = tf.backend_util.computeConv3DInfo(shape5(x, 'Conv3DBackpropFilterV2 x'), a.filterShape, a.strides, 1, a.pad);
    const { inChannels, outChannels } = info;
    return jsOutput('wasm', backend, a.filterShape, [x, dy], (dw, [xv, dyv]) => {
      const xs = xv as Values;
      const g = dyv as Values;
      forEachTap(info, (xBase, wBase, dyBase) => {
        for (let i = 0; i < inChannels; ++i) {
          const xi = xs[xBase + i] as number;
          const row = wBase + i * outChannels;
          for (let o = 0; o < outChannels; ++o) dw[row + o] = (dw[row + o] as number) + xi * (g[dyBase + o] as number);
        }
      });
    });
  },
};
