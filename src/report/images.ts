/**
 * Sample images for the HTML report: input-space pixels to PNG (pngjs), for the clean input, the adversarial
 * input and their amplified difference.
 */
import { PNG } from 'pngjs';

/** How a flat, row-major sample maps onto an image. */
export interface ImageLayout {
  height: number;
  width: number;
  channels: 1 | 3;
  /** True for [C, H, W]; TF.js models are channels-last ([H, W, C]), so this is the exception. */
  channelsFirst: boolean;
}

/**
 * The image layout of an input shape (no batch axis), or null when it is not an image: [H, W] and [H, W, 1]
 * are grayscale, [H, W, 3] is RGB, and [1|3, H, W] is read channels-first when the last axis is neither 1 nor 3.
 * Rank-1 (tabular) inputs have no layout.
 * @example imageLayout([28, 28, 1]) // { height: 28, width: 28, channels: 1, channelsFirst: false }
 */
export function imageLayout(shape: readonly number[]): ImageLayout | null {
  if (shape.length === 2) {
    const [height, width] = shape as [number, number];
    return { height, width, channels: 1, channelsFirst: false };
  }
  if (shape.length !== 3) return null;
  const [a, b, c] = shape as [number, number, number];
  if (c === 1 || c === 3) return { height: a, width: b, channels: c, channelsFirst: false };
  if (a === 1 || a === 3) return { height: b, width: c, channels: a, channelsFirst: true };
  return null;
}

function sampleCount(layout: ImageLayout): number {
  return layout.height * layout.width * layout.channels;
}

/** Index into the flat sample of pixel (y, x), channel ch. */
function at(layout: ImageLayout, y: number, x: number, ch: number): number {
  return layout.channelsFirst
    ? (ch * layout.height + y) * layout.width + x
    : (y * layout.width + x) * layout.channels + ch;
}

/** Encode 0..255 intensities (`value(y, x, ch)`) as an opaque 8-bit RGBA PNG; grayscale repeats one channel. */
function encode(layout: ImageLayout, value: (y: number, x: number, ch: number) => number): Buffer {
  const png = new PNG({ width: layout.width, height: layout.height });
  for (let y = 0; y < layout.height; y++) {
    for (let x = 0; x < layout.width; x++) {
      const o = (y * layout.width + x) * 4;
      for (let ch = 0; ch < 3; ch++) {
        const v = value(y, x, layout.channels === 1 ? 0 : ch);
        png.data[o + ch] = Number.isFinite(v) ? Math.min(255, Math.max(0, Math.round(v))) : 0;
      }
      png.data[o + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

function checkLength(layout: ImageLayout, pixels: ArrayLike<number>): void {
  if (pixels.length !== sampleCount(layout)) {
    throw new RangeError(`image: ${pixels.length} values for a ${layout.height}×${layout.width}×${layout.channels} image`);
  }
}

/**
 * A sample as a PNG: values map linearly from [min, max] (the model's input bounds) to 0..255 and are clipped.
 * @example imagePng(sample.clean.pixels, imageLayout([28, 28, 1])!, 0, 1)
 */
export function imagePng(pixels: ArrayLike<number>, layout: ImageLayout, min: number, max: number): Buffer {
  checkLength(layout, pixels);
  const scale = max > min ? 255 / (max - min) : 0;
  return encode(layout, (y, x, ch) => ((pixels[at(layout, y, x, ch)] as number) - min) * scale);
}

/** The amplified difference of two samples and how much it was amplified. */
export interface DifferenceImage {
  png: Buffer;
  /** max |adversarial − clean| over pixels and channels, in input units. */
  maxAbs: number;
}

/**
 * |adversarial − clean| per pixel and channel, scaled so that the largest difference is white (255): a faint
 * perturbation is as visible as a strong one, and the caption reports `maxAbs` so the scale stays honest.
 * No difference at all gives a black image.
 */
export function differencePng(clean: ArrayLike<number>, adversarial: ArrayLike<number>, layout: ImageLayout): DifferenceImage {
  checkLength(layout, clean);
  checkLength(layout, adversarial);
  let maxAbs = 0;
  for (let i = 0; i < clean.length; i++) {
    const d = Math.abs((adversarial[i] as number) - (clean[i] as number));
    if (d > maxAbs) maxAbs = d;
  }
  const scale = maxAbs > 0 ? 255 / maxAbs : 0;
  const png = encode(layout, (y, x, ch) => {
    const i = at(layout, y, x, ch);
    return Math.abs((adversarial[i] as number) - (clean[i] as number)) * scale;
  });
  return { png, maxAbs };
}

/** A PNG as a `data:` URL for `<img src>`. */
export function pngDataUrl(png: Buffer): string {
  return `data:image/png;base64,${png.toString('base64')}`;
}
