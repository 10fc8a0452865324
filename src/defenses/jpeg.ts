import jpegJs from 'jpeg-js';
import { tf } from '../tf.js';
import { blockGradient, boundArrays, requireImage } from './gradients.js';
import { defaultsOf, resolveOptions, type OptionSchema } from '../options/schema.js';
import type { Defense, DefenseContext, DefenseInfo } from './types.js';

/** Options of {@link jpeg}. */
export type JpegOptions = {
  /** JPEG quality, 1 to 100. Default 75 (Guo et al. 2018). */
  quality: number;
};

const OPTIONS = { quality: { type: 'integer', min: 1, max: 100, default: 75, doc: 'JPEG quality' } } as const satisfies OptionSchema;
const DEFAULTS: JpegOptions = defaultsOf(OPTIONS);

/**
 * Encode and decode one image [h, w, c] (c = 1 or 3) whose features are already bytes; in place.
 * A grey image is encoded as R = G = B and read back as the luma Y = 0.299 R + 0.587 G + 0.114 B, which
 * is the channel the encoder actually compressed.
 */
function roundTrip(bytes: Uint8Array, h: number, w: number, c: number, quality: number): void {
  const rgba = new Uint8Array(h * w * 4);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) rgba[p * 4 + k] = bytes[p * c + (c === 1 ? 0 : k)] as number;
    rgba[p * 4 + 3] = 255;
  }
  const encoded = jpegJs.encode({ data: rgba, width: w, height: h }, quality);
  const decoded = jpegJs.decode(encoded.data, { useTArray: true, formatAsRGBA: true }).data;
  for (let p = 0; p < h * w; p++) {
    const [r, g, b] = [decoded[p * 4] as number, decoded[p * 4 + 1] as number, decoded[p * 4 + 2] as number];
    if (c === 1) bytes[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    else for (let k = 0; k < 3; k++) bytes[p * 3 + k] = decoded[p * 4 + k] as number;
  }
}

/**
 * JPEG compression at a fixed quality (Dziugaite, Ghahramani & Roy 2016, "A Study of the Effect of JPG
 * Compression on Adversarial Images"; Das et al. 2017; Guo, Rana, Cissé & van der Maaten 2018,
 * "Countering Adversarial Images using Input Transformations", ICLR). Each image is mapped from the
 * model's bounds to bytes 0..255, encoded and decoded with jpeg-js, and mapped back. Images must be
 * [h, w, 1] or [h, w, 3].
 *
 * Gradient policy: BPDA with the identity, as Athalye, Carlini & Wagner 2018 broke Guo et al.'s JPEG
 * defence. The transform runs in JavaScript, outside the graph, so the naive gradient is zero.
 *
 * @example
 *   const defended = compose(model, [jpeg({ quality: 50 })]);
 */
export function jpeg(options: Partial<JpegOptions> = {}): Defense {
  const { quality } = resolveOptions(OPTIONS, DEFAULTS, options, { owner: 'jpeg' });
  return {
    kind: 'jpeg',
    name: `jpeg(${quality})`,
    policy: 'bpda',
    check(context: DefenseContext): void {
      requireImage('jpeg', context, 1, [1, 3]);
    },
    apply(x: tf.Tensor, context: DefenseContext): tf.Tensor {
      const compress = (input: tf.Tensor): tf.Tensor => {
        const [h, w, c] = input.shape.slice(1) as [number, number, number];
        const { lo, hi } = boundArrays(context);
        const size = h * w * c;
        const values = Float32Array.from(input.dataSync());
        const bytes = new Uint8Array(size);
        for (let start = 0; start < values.length; start += size) {
          for (let f = 0; f < size; f++) {
            const span = (hi[f] as number) - (lo[f] as number);
            const unit = span > 0 ? ((values[start + f] as number) - (lo[f] as number)) / span : 0;
            bytes[f] = Math.round(255 * Math.min(1, Math.max(0, unit)));
          }
          roundTrip(bytes, h, w, c, quality);
          for (let f = 0; f < size; f++) values[start + f] = (lo[f] as number) + ((bytes[f] as number) / 255) * ((hi[f] as number) - (lo[f] as number));
        }
        return tf.tensor(values, input.shape);
      };
      return blockGradient(compress)(x);
    },
  };
}

/** Registry entry of {@link jpeg}. */
export const jpegInfo: DefenseInfo<JpegOptions> = {
  name: 'jpeg',
  title: 'JPEG compression',
  paper: 'Guo, Rana, Cissé & van der Maaten 2018, Countering Adversarial Images using Input Transformations (ICLR)',
  policy: 'bpda',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  create: jpeg,
};
