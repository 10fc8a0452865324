import { tf } from '../tf.js';
import type { Rng } from '../attacks/core/random.js';
import { requireImage } from './gradients.js';
import { defaultsOf, resolveOptions, type OptionSchema } from '../options/schema.js';
import type { Defense, DefenseContext, DefenseInfo } from './types.js';
import { extremes } from '../tensor/range.js';

/** Options of {@link resizePad}. */
export type ResizePadOptions = {
  /** Canvas side over input side. Default 331/299 ≈ 1.107, Xie et al.'s ImageNet setting. */
  ratio: number;
};

const OPTIONS = { ratio: { type: 'number', min: 1, exclusiveMin: true, default: 331 / 299, doc: 'canvas side over input side (331/299 by default)' } } as const satisfies OptionSchema;
const DEFAULTS: ResizePadOptions = defaultsOf(OPTIONS);
/** Resolution of the uniform fractions that place the image on the canvas. */
const STEPS = 1 << 20;


/**
 * Random resizing and padding (Xie, Wang, Zhang, Ren & Yuille 2018, "Mitigating Adversarial Effects
 * Through Randomization", ICLR). For each image, a fresh draw:
 * 1. resize [h, w] to [h + k, w + k'] (bilinear), k uniform in [0, E_h), k' = round(k · E_w / E_h), where
 *    the canvas is [h + E_h, w + E_w], E = max(1, round(side · (ratio − 1)));
 * 2. pad it at a uniformly random offset to the canvas, filling with the lower bound;
 * 3. resize the canvas back to [h, w] (bilinear), since robust's models take a fixed input size where
 *    Xie et al.'s Inception took the canvas itself.
 *
 * Gradient policy: EOT (Athalye, Carlini & Wagner 2018 broke this defence with it): each draw is
 * differentiable, and attacks differentiate the mean logits over N draws.
 *
 * @example
 *   const defended = compose(model, [resizePad({ ratio: 1.15 })], { eotSamples: 10 });
 */
export function resizePad(options: Partial<ResizePadOptions> = {}): Defense {
  const { ratio } = resolveOptions(OPTIONS, DEFAULTS, options, { owner: 'resize-pad' });
  return {
    kind: 'resize-pad',
    name: `resize-pad(×${Number(ratio.toFixed(3))})`,
    policy: 'eot',
    check(context: DefenseContext): void {
      requireImage('resize-pad', context, 2);
    },
    apply(x: tf.Tensor, context: DefenseContext, rng: Rng): tf.Tensor {
      const [b, h, w] = x.shape as [number, number, number, number];
      const extraH = Math.max(1, Math.round(h * (ratio - 1)));
      const extraW = Math.max(1, Math.round(w * (ratio - 1)));
      const ks = rng.ints(b, extraH);
      const tops = rng.ints(b, STEPS);
      const lefts = rng.ints(b, STEPS);
      const [fill] = extremes(context.bounds.min);
      return tf.tidy(() => {
        const rows: tf.Tensor[] = new Array<tf.Tensor>(b);
        for (const k of new Set(ks)) {
          const members = Array.from(ks.keys()).filter((r) => ks[r] === k);
          const kw = Math.round((k * extraW) / extraH);
          const resized = tf.image.resizeBilinear(tf.gather(x as tf.Tensor4D, members) as tf.Tensor4D, [h + k, w + kw]);
          members.forEach((r, j) => {
            const top = Math.floor((((tops[r] as number) / STEPS) * (extraH - k + 1)));
            const left = Math.floor((((lefts[r] as number) / STEPS) * (extraW - kw + 1)));
            const row = tf.slice(resized, [j, 0, 0, 0], [1, -1, -1, -1]);
            rows[r] = tf.pad(row, [[0, 0], [top, extraH - k - top], [left, extraW - kw - left], [0, 0]], fill);
          });
        }
        return tf.image.resizeBilinear(tf.concat(rows, 0) as tf.Tensor4D, [h, w]);
      });
    },
  };
}

/** Registry entry of {@link resizePad}. */
export const resizePadInfo: DefenseInfo<ResizePadOptions> = {
  name: 'resize-pad',
  title: 'Random resize and pad',
  paper: 'Xie, Wang, Zhang, Ren & Yuille 2018, Mitigating Adversarial Effects Through Randomization (ICLR)',
  policy: 'eot',
  options: OPTIONS,
  defaults: { ...DEFAULTS },
  create: resizePad,
};
