/**
 * Image-resize gradients for cpu and wasm, as exact adjoints of the forward sampling both backends use
 * (the cpu kernels' coordinate rules, which wasm's forward kernels match to float rounding).
 *
 * What the shipped kernels (TF.js 4.22) get wrong, found against the adjoint oracle in the tests:
 * - both backends ignore `halfPixelCenters` in the gradient (errors of 30–170 %);
 * - cpu `ResizeNearestNeighborGrad` is wrong for batch > 1 (up to 200 %, sometimes NaN);
 * - cpu `ResizeBilinearGrad` throws a shape error for batch > 1 with a non-square input.
 * Resizing sits in input-transform defences and augmentations that attacks differentiate through.
 */
import { tf } from '../../tf.js';
import { type FixedBackend, type KernelArgs, type Values, input, jsOutput, shape4 } from './util.js';

interface ResizeAttrs {
  alignCorners: boolean;
  halfPixelCenters: boolean;
}

interface Geometry {
  batch: number;
  inH: number;
  inW: number;
  channels: number;
  outH: number;
  outW: number;
  rowRatio: number;
  colRatio: number;
}

function geometry(images: tf.TensorInfo, dy: tf.TensorInfo, a: ResizeAttrs): Geometry {
  const [batch, inH, inW, channels] = shape4(images, 'resized images');
  const [, outH, outW] = shape4(dy, 'resize gradient dy');
  // The forward kernels' "effective size" ratio: corners aligned map the end pixels onto each other.
  const ratio = (inSize: number, outSize: number): number =>
    a.alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
  return { batch, inH, inW, channels, outH, outW, rowRatio: ratio(inH, outH), colRatio: ratio(inW, outW) };
}

/** Add each dy pixel into the images gradient with the bilinear weights the forward pass used. */
function resizeBilinearGradLoop(dy: Values, dx: Float32Array, g: Geometry, a: ResizeAttrs): void {
  const { batch, inH, inW, channels, outH, outW } = g;
  const source = (ratio: number, i: number): number => (a.halfPixelCenters ? ratio * (i + 0.5) - 0.5 : ratio * i);
  for (let b = 0; b < batch; ++b) {
    for (let r = 0; r < outH; ++r) {
      const fr = source(g.rowRatio, r);
      const r0 = Math.max(0, Math.floor(fr));
      const r1 = Math.min(inH - 1, Math.ceil(fr));
      const wr = fr - r0;
      for (let c = 0; c < outW; ++c) {
        const fc = source(g.colRatio, c);
        const c0 = Math.max(0, Math.floor(fc));
        const c1 = Math.min(inW - 1, Math.ceil(fc));
        const wc = fc - c0;
        const from = ((b * outH + r) * outW + c) * channels;
        const add = (row: number, col: number, weight: number): void => {
          if (weight === 0) return;
          const at = ((b * inH + row) * inW + col) * channels;
          for (let d = 0; d < channels; ++d) dx[at + d] = (dx[at + d] as number) + weight * (dy[from + d] as number);
        };
        add(r0, c0, (1 - wr) * (1 - wc));
        add(r0, c1, (1 - wr) * wc);
        add(r1, c0, wr * (1 - wc));
        add(r1, c1, wr * wc);
      }
    }
  }
}

/** Add each dy pixel into the images gradient at the source pixel the forward pass copied. */
function resizeNearestGradLoop(dy: Values, dx: Float32Array, g: Geometry, a: ResizeAttrs): void {
  const { batch, inH, inW, channels, outH, outW } = g;
  const nearest = (ratio: number, i: number, size: number): number => {
    const f = a.halfPixelCenters ? ratio * (i + 0.5) : ratio * i;
    const n = Math.min(size - 1, a.alignCorners ? Math.round(f) : Math.floor(f));
    return a.halfPixelCenters ? Math.max(0, n) : n;
  };
  for (let b = 0; b < batch; ++b) {
    for (let r = 0; r < outH; ++r) {
      const sr = nearest(g.rowRatio, r, inH);
      for (let c = 0; c < outW; ++c) {
        const at = ((b * inH + sr) * inW + nearest(g.colRatio, c, inW)) * channels;
        const from = ((b * outH + r) * outW + c) * channels;
        for (let d = 0; d < channels; ++d) dx[at + d] = (dx[at + d] as number) + (dy[from + d] as number);
      }
    }
  }
}

/** A resize-gradient kernel for `backendName`: inputs images (for its shape) and dy, computed by `loop`. */
function resizeGradConfig(
  kernelName: string,
  backendName: FixedBackend,
  loop: (dy: Values, dx: Float32Array, g: ReturnType<typeof geometry>, a: ResizeAttrs) => void,
): tf.KernelConfig {
  return {
    kernelName,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
      const images = input(inputs, 'images');
      const dy = input(inputs, 'dy');
      const a = attrs as unknown as ResizeAttrs;
      const g = geometry(images, dy, a);
      return jsOutput(backendName, backend, images.shape, [dy], (dx, [dyv]) => loop(dyv as Values, dx, g, a));
    },
  };
}

/** `ResizeBilinearGrad` for `backendName`. */
export const resizeBilinearGradConfig = (backendName: FixedBackend): tf.KernelConfig =>
  resizeGradConfig(tf.ResizeBilinearGrad, backendName, resizeBilinearGradLoop);

/** `ResizeNearestNeighborGrad` for `backendName`. */
export const resizeNearestGradConfig = (backendName: FixedBackend): tf.KernelConfig =>
  resizeGradConfig(tf.ResizeNearestNeighborGrad, backendName, resizeNearestGradLoop);
