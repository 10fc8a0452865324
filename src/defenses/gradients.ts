/**
 * The gradient plumbing every defence shares: a stop-gradient, BPDA as a custom gradient, per-row keys
 * of a batch (for EOT draws that depend on the input, not on the call), and option checks.
 */
import { tf } from '../tf.js';
import { UsageError } from '../errors.js';
import type { DefenseContext } from './types.js';

type Transform = (x: tf.Tensor) => tf.Tensor;

/** Wraps the single tensor argument of `tf.customGrad`, whose signature also admits a save function. */
function custom(forward: (input: tf.Tensor) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor) => tf.Tensor }): Transform {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => forward(args[0] as tf.Tensor));
  return (x) => op(x);
}

/**
 * `f(x)` with a zero gradient. The forward pass of a custom gradient runs with the tape off, so `f` may
 * use ops without gradients (TopK) or leave the graph (`dataSync`, JPEG in JS) and automatic
 * differentiation still runs: it sees one op whose gradient is zero, which is what differentiating a
 * piecewise-constant function gives.
 */
export function blockGradient(f: Transform): Transform {
  return custom((input) => ({ value: f(input), gradFunc: () => tf.zerosLike(input) }));
}

/**
 * BPDA (Athalye, Carlini & Wagner 2018, §4.1): forward `f(x)` exactly, backward the gradient of
 * `approximation` (default the identity, so dL/dx := dL/df(x)). `f` must keep the shape of its input.
 * With an approximation g the value is g(x) + [f(x) − g(x)] with the bracket's gradient blocked: f(x)
 * up to float rounding, with the gradient of g.
 */
export function bpda(f: Transform, approximation?: Transform): Transform {
  if (!approximation) return custom((input) => ({ value: f(input), gradFunc: (dy) => tf.clone(dy) }));
  const residual = blockGradient((v) => tf.sub(f(v), approximation(v)));
  return (x) => tf.tidy(() => tf.add(approximation(x), residual(x)));
}

/**
 * One 32-bit key per row of `x`: FNV-1a over the float32 bits of the row. EOT draws are keyed by it, so
 * the same input gets the same draws in any batch and any call (the adaptive view stays a deterministic,
 * batch-independent function), while each new iterate of an attack gets fresh draws.
 */
export function rowKeys(x: tf.Tensor): Uint32Array {
  const b = x.shape[0] ?? 0;
  const data = x.dtype === 'float32' ? (x.dataSync() as Float32Array) : Float32Array.from(x.dataSync());
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const per = b === 0 ? 0 : bits.length / b;
  const keys = new Uint32Array(b);
  for (let r = 0; r < b; r++) {
    let h = 0x811c9dc5;
    for (let i = r * per; i < (r + 1) * per; i++) {
      const v = bits[i] as number;
      for (let s = 0; s < 32; s += 8) h = Math.imul(h ^ ((v >>> s) & 0xff), 0x01000193);
    }
    keys[r] = h >>> 0;
  }
  return keys;
}

/**
 * Pad the height and width of [b, h, w, c] by mirroring with the edge pixel repeated (SciPy's
 * `mode='reflect'`, TF's 'symmetric'). Built from slices, reversals and a concat because the gradient
 * TF.js 4.22 registers for `mirrorPad` keeps only the centre and drops what flowed into the mirrored
 * border, which would make every border gradient wrong.
 */
export function reflectPad(x: tf.Tensor4D, before: number, after: number): tf.Tensor4D {
  return tf.tidy(() => {
    let t: tf.Tensor4D = x;
    for (const axis of [1, 2]) {
      const n = t.shape[axis] as number;
      const parts: tf.Tensor4D[] = [];
      const begin = (start: number): number[] => [0, 0, 0, 0].map((_, i) => (i === axis ? start : 0));
      const size = (len: number): number[] => [-1, -1, -1, -1].map((v, i) => (i === axis ? len : v));
      if (before > 0) parts.push(tf.reverse(tf.slice(t, begin(0), size(before)), axis));
      parts.push(t);
      if (after > 0) parts.push(tf.reverse(tf.slice(t, begin(n - after), size(after)), axis));
      t = tf.concat(parts, axis);
    }
    return t;
  });
}

/** Throws unless the model's input is an image [h, w, c] with at least `minSide` pixels a side (and one of `channels`, if given). */
export function requireImage(defense: string, context: DefenseContext, minSide = 1, channels?: number[]): [number, number, number] {
  const s = context.inputShape;
  const [h, w, c] = s as [number, number, number];
  if (s.length !== 3 || h < minSide || w < minSide || (channels && !channels.includes(c))) {
    const want = channels ? `[height, width, ${channels.join(' or ')}]` : '[height, width, channels]';
    throw new UsageError(`${defense} needs image inputs ${want}${minSide > 1 ? ` of at least ${minSide}×${minSide}` : ''}, but the model takes [${s.join(', ')}]; drop this defence for this model`);
  }
  return [h, w, c];
}

/** Per-feature bounds of one example as arrays (scalar bounds expanded). */
export function boundArrays(context: DefenseContext): { lo: Float32Array; hi: Float32Array } {
  const size = context.inputShape.reduce((a, b) => a * b, 1);
  const expand = (v: number | number[]) => (typeof v === 'number' ? new Float32Array(size).fill(v) : Float32Array.from(v));
  return { lo: expand(context.bounds.min), hi: expand(context.bounds.max) };
}
