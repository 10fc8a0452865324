/**
 * Geometric image kernels that defences and augmentations (random rotations, EOT transforms) reach:
 * - `RotateWithOffset` on wasm: the shipped kernel passes the fill value as an int32, so any fill of a
 *   [0, 1] image (0.5, say) becomes 0.
 * - `Transform` on wasm: fillMode 'reflect' samples the wrong pixels.
 * - `Transform` on cpu: returns after the first image, so every later image of the batch is all fill.
 * Both kernels follow TensorFlow's image_ops.h as the cpu backend transcribes it (fill modes, rounding
 * to the nearest pixel with Math.round, bilinear weights).
 */
import { tf } from '../../tf.js';
import { type FixedBackend, type KernelArgs, type Values, input, typedOutput } from './util.js';

type ImageDType = 'float32' | 'int32';

/** `RotateWithOffset` for wasm, as on the cpu backend: nearest pixel, fill outside the image. */
export const rotateWithOffsetConfig: tf.KernelConfig = {
  kernelName: tf.RotateWithOffset,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const image = input(inputs, 'image');
    const { radians, fillValue, center } = attrs as unknown as { radians: number; fillValue: number | number[]; center: number | [number, number] };
    const [batch, height, width, channels] = image.shape as [number, number, number, number];
    const [centerX, centerY] = tf.backend_util.getImageCenter(center, height, width);
    const sin = Math.sin(radians);
    const cos = Math.cos(radians);
    // An RGB fill leaves an alpha channel opaque, as the cpu backend does.
    const fill = (ch: number): number => (typeof fillValue === 'number' ? fillValue : ch === 3 ? 255 : (fillValue[ch] as number));
    return typedOutput('wasm', backend, image.shape, image.dtype as ImageDType, [image], (out, [iv]) => {
      const img = iv as Values;
      for (let b = 0; b < batch; ++b) {
        for (let y = 0; y < height; ++y) {
          for (let x = 0; x < width; ++x) {
            const sx = Math.round((x - centerX) * cos - (y - centerY) * sin + centerX);
            const sy = Math.round((x - centerX) * sin + (y - centerY) * cos + centerY);
            const inside = sx >= 0 && sx < width && sy >= 0 && sy < height;
            const o = ((b * height + y) * width + x) * channels;
            const src = ((b * height + sy) * width + sx) * channels;
            for (let ch = 0; ch < channels; ++ch) out[o + ch] = inside ? (img[src + ch] as number) : fill(ch);
          }
        }
      }
    });
  },
};

/** TensorFlow's map_coordinate: where an output coordinate samples the input under `mode`. */
function mapCoord(coord: number, len: number, mode: string): number {
  let c = coord;
  if (mode === 'reflect') {
    // [abcd] → [dcba|abcd|dcba]
    if (c < 0) {
      if (len <= 1) c = 0;
      else {
        const sz2 = 2 * len;
        if (c < sz2) c = sz2 * Math.trunc(-c / sz2) + c;
        c = c < -len ? c + sz2 : -c - 1;
      }
    } else if (c > len - 1) {
      if (len <= 1) c = 0;
      else {
        const sz2 = 2 * len;
        c -= sz2 * Math.trunc(c / sz2);
        if (c >= len) c = sz2 - c - 1;
      }
    }
    return Math.min(Math.max(c, 0), len - 1);
  }
  if (mode === 'wrap') {
    // [abcd] → [abcd|abcd|abcd]
    if (c < 0) c = len <= 1 ? 0 : c + len * (Math.trunc(-c / (len - 1)) + 1);
    else if (c > len - 1) c = len <= 1 ? 0 : c - len * Math.trunc(c / (len - 1));
    return Math.min(Math.max(c, 0), len - 1);
  }
  if (mode === 'nearest') return Math.min(Math.max(c, 0), len - 1);
  return c; // 'constant': out-of-image reads take the fill value
}

interface TransformAttrs {
  interpolation: 'nearest' | 'bilinear';
  fillMode: string;
  fillValue: number;
  outputShape?: [number, number];
}

/** `Transform` (tf.image.transform) for `backendName`: one projective transform per image, or one for all. */
export function transformConfig(backendName: FixedBackend): tf.KernelConfig {
  return {
    kernelName: tf.Transform,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
      const image = input(inputs, 'image');
      const transforms = input(inputs, 'transforms');
      const a = attrs as unknown as TransformAttrs;
      const [batch, height, width, channels] = image.shape as [number, number, number, number];
      const [outH, outW] = a.outputShape ?? [height, width];
      const shared = transforms.shape[0] === 1;
      return typedOutput(backendName, backend, [batch, outH, outW, channels], image.dtype as ImageDType, [image, transforms], (out, [iv, tv]) => {
        const img = iv as Values;
        const t = tv as Values;
        const read = (b: number, y: number, x: number, ch: number): number =>
          y >= 0 && y < height && x >= 0 && x < width ? (img[((b * height + y) * width + x) * channels + ch] as number) : a.fillValue;
        for (let b = 0; b < batch; ++b) {
          const k = shared ? 0 : b * 8;
          const [a0, a1, a2, b0, b1, b2, c0, c1] = Array.from({ length: 8 }, (_, i) => t[k + i] as number) as [number, number, number, number, number, number, number, number];
          for (let oy = 0; oy < outH; ++oy) {
            for (let ox = 0; ox < outW; ++ox) {
              const o = ((b * outH + oy) * outW + ox) * channels;
              const projection = c0 * ox + c1 * oy + 1;
              if (projection === 0) {
                // Points at infinity are outside the image.
                for (let ch = 0; ch < channels; ++ch) out[o + ch] = a.fillValue;
                continue;
              }
              const x = mapCoord((a0 * ox + a1 * oy + a2) / projection, width, a.fillMode);
              const y = mapCoord((b0 * ox + b1 * oy + b2) / projection, height, a.fillMode);
              for (let ch = 0; ch < channels; ++ch) {
                if (a.interpolation === 'nearest') {
                  out[o + ch] = read(b, Math.round(y), Math.round(x), ch);
                } else {
                  const y0 = Math.floor(y);
                  const x0 = Math.floor(x);
                  const top = (x0 + 1 - x) * read(b, y0, x0, ch) + (x - x0) * read(b, y0, x0 + 1, ch);
                  const bottom = (x0 + 1 - x) * read(b, y0 + 1, x0, ch) + (x - x0) * read(b, y0 + 1, x0 + 1, ch);
                  out[o + ch] = (y0 + 1 - y) * top + (y - y0) * bottom;
                }
              }
            }
          }
        }
      });
    },
  };
}
