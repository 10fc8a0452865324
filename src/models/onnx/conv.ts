/**
 * Convolutions, pools and BatchNormalization: the ops that run NHWC inside robust (see `values.ts`).
 * Weights arrive OIHW and are laid out for TF.js once per model (`ctx.cached`).
 */
import { tf } from '../../tf.js';
import type { HostValue } from './proto.js';
import { floatAttr, intAttr, intsAttr, stringAttr, tensorOf, type OpContext, type OpDef, type Value } from './values.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** The attribute `_activation` is robust's own: `fold.ts` sets it when a Relu follows a Conv directly. */
export const FUSED_ACTIVATION = '_activation';

function spatial(ctx: OpContext, what: string): void {
  const kernel = intsAttr(ctx, 'kernel_shape');
  if (kernel !== undefined && kernel.length !== 2) throw ctx.fail(`robust translates 2-D ${what} only; this one has ${kernel.length} spatial axes`);
}

/** ONNX pads [top, left, bottom, right] (or auto_pad) as TF.js padding; `extra` adds to the bottom/right (ceil_mode). */
function padding(ctx: OpContext, extra: [number, number] = [0, 0]): Pad {
  const auto = stringAttr(ctx, 'auto_pad', 'NOTSET');
  if (auto === 'SAME_UPPER' && extra[0] + extra[1] === 0) return 'same';
  if (auto === 'VALID' && extra[0] + extra[1] === 0) return 'valid';
  if (auto !== 'NOTSET' && auto !== 'VALID') throw ctx.fail(`auto_pad ${auto} is not supported; re-export with explicit pads`);
  const [t, l, b, r] = intsAttr(ctx, 'pads') ?? [0, 0, 0, 0];
  return [[0, 0], [t ?? 0, (b ?? 0) + extra[0]], [l ?? 0, (r ?? 0) + extra[1]], [0, 0]];
}

function hostWeight(ctx: OpContext, w: Value | undefined): HostValue {
  if (w === undefined || w.kind !== 'host') throw ctx.fail('its weights are computed from the input; robust needs constant conv weights');
  if (w.shape.length !== 4) throw ctx.fail(`robust translates 2-D convolutions only; the weight has shape [${w.shape.join(', ')}]`);
  return w;
}

function conv(ctx: OpContext, [x, w, b]: (Value | undefined)[]): Value[] {
  if (x === undefined) throw ctx.fail('it has no input');
  const weight = hostWeight(ctx, w);
  const [out = 0, perGroup = 0] = weight.shape;
  const group = intAttr(ctx, 'group', 1);
  const strides = (intsAttr(ctx, 'strides') ?? [1, 1]) as [number, number];
  const dilations = (intsAttr(ctx, 'dilations') ?? [1, 1]) as [number, number];
  const pad = padding(ctx);
  const input = ctx.nhwc(x);
  const channels = input.shape[3];
  const bias = b === undefined ? undefined : ctx.tensor(b);
  const activation = ctx.attrs.get(FUSED_ACTIVATION) === 'relu' ? 'relu' : 'linear';
  if (perGroup * group !== channels) throw ctx.fail(`its weight expects ${perGroup * group} input channels, the input has ${channels}`);
  // TF.js has no gradient for dilated convs, so a dilated kernel is spread out with zeros instead (exact).
  const oihw = (): tf.Tensor4D => spread(weight, dilations);
  const rate: [number, number] = [1, 1];
  if (group === 1) {
    const filter = ctx.cached('hwio', () => tf.transpose(oihw(), [2, 3, 1, 0])) as tf.Tensor4D;
    return [tensorOf(tf.fused.conv2d({ x: input, filter, strides, pad, dilations: rate, bias, activation }), true)];
  }
  if (perGroup === 1) {
    // Depthwise: output channel o reads input channel floor(o / multiplier), which is TF.js's [h, w, in, multiplier] order.
    const multiplier = out / group;
    const filter = ctx.cached('hwcm', () => {
      const w = oihw();
      return tf.transpose(tf.reshape(w, [group, multiplier, w.shape[2], w.shape[3]]), [2, 3, 0, 1]);
    }) as tf.Tensor4D;
    // TF.js's depthwise kernel takes no explicit padding: pad first.
    const padded = typeof pad === 'string' ? input : tf.pad(input, pad);
    const mode = typeof pad === 'string' ? pad : 'valid';
    return [tensorOf(tf.fused.depthwiseConv2d({ x: padded, filter, strides, pad: mode, dilations: rate, bias, activation }), true)];
  }
  // Grouped: one ordinary conv per group, concatenated along channels.
  const groupOut = out / group;
  const parts = tf.split(input, group, 3).map((part, g) => {
    const filter = ctx.cached(`hwio${g}`, () => tf.transpose(tf.slice(oihw(), [g * groupOut, 0, 0, 0], [groupOut, -1, -1, -1]), [2, 3, 1, 0])) as tf.Tensor4D;
    return tf.conv2d(part as tf.Tensor4D, filter, strides, pad, 'NHWC', rate);
  });
  let y: tf.Tensor = tf.concat(parts, 3);
  if (bias !== undefined) y = tf.add(y, bias);
  if (activation === 'relu') y = tf.relu(y);
  return [tensorOf(y, true)];
}

/** OIHW weights as a tensor, with (d - 1) zeros between kernel taps for dilation d. */
function spread(weight: HostValue, [dh, dw]: [number, number]): tf.Tensor4D {
  const [o = 0, i = 0, kh = 0, kw = 0] = weight.shape;
  const [sh, sw] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  const out = new Float32Array(o * i * sh * sw);
  for (let a = 0; a < o * i; a++) {
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[a * sh * sw + y * dh * sw + x * dw] = weight.data[a * kh * kw + y * kw + x]!;
  }
  return tf.tensor4d(out, [o, i, sh, sw]);
}

/** Extra bottom/right padding so that a ceil_mode pool covers the last partial window. */
function ceilExtra(ctx: OpContext, x: tf.Tensor4D, kernel: number[], strides: number[]): [number, number] {
  if (intAttr(ctx, 'ceil_mode', 0) !== 1) return [0, 0];
  const pads = intsAttr(ctx, 'pads') ?? [0, 0, 0, 0];
  return [0, 1].map((i) => {
    const size = (x.shape[i + 1] ?? 0) + (pads[i] ?? 0) + (pads[i + 2] ?? 0);
    const k = kernel[i] ?? 1;
    const s = strides[i] ?? 1;
    let outputs = Math.ceil((size - k) / s) + 1;
    // As in PyTorch and onnxruntime, the last window must start inside the input or its leading pad.
    if ((outputs - 1) * s >= size - (pads[i + 2] ?? 0)) outputs -= 1;
    return Math.max(0, (outputs - 1) * s + k - size);
  }) as [number, number];
}

function pool(kind: 'max' | 'avg'): OpDef {
  return {
    check: (ctx) => ((intsAttr(ctx, 'dilations') ?? [1, 1]).some((d) => d !== 1) ? 'dilated pooling is not supported' : undefined),
    run: (ctx, [x]) => {
      if (x === undefined) throw ctx.fail('it has no input');
      spatial(ctx, 'pools');
      const kernel = intsAttr(ctx, 'kernel_shape') ?? [1, 1];
      const strides = intsAttr(ctx, 'strides') ?? [1, 1];
      const input = ctx.nhwc(x);
      const pad = padding(ctx, ceilExtra(ctx, input, kernel, strides));
      const size = kernel as [number, number];
      const step = strides as [number, number];
      if (typeof pad === 'string') {
        return [tensorOf(kind === 'max' ? tf.maxPool(input, size, step, pad) : tf.avgPool(input, size, step, pad), true)];
      }
      if (kind === 'max') return [tensorOf(tf.maxPool(tf.pad(input, pad, -3.4e38), size, step, 'valid'), true)];
      const sums = tf.mul(tf.avgPool(tf.pad(input, pad), size, step, 'valid'), size[0] * size[1]);
      // count_include_pad=0 (the default) divides by the number of real pixels under each window.
      const counts = intAttr(ctx, 'count_include_pad', 0) === 1
        ? tf.scalar(size[0] * size[1])
        : ctx.cached(`count${input.shape[1]}x${input.shape[2]}`, () => tf.mul(tf.avgPool(tf.pad(tf.ones([1, input.shape[1], input.shape[2], 1]), pad) as tf.Tensor4D, size, step, 'valid'), size[0] * size[1]));
      return [tensorOf(tf.div(sums, counts), true)];
    },
  };
}

function globalPool(kind: 'max' | 'avg'): OpDef {
  return {
    run: (ctx, [x]) => {
      if (x === undefined) throw ctx.fail('it has no input');
      const input = ctx.nhwc(x);
      return [tensorOf(kind === 'max' ? tf.max(input, [1, 2], true) : tf.mean(input, [1, 2], true), true)];
    },
  };
}

/** Inference-mode BatchNormalization: y = x * scale / sqrt(var + eps) + (bias - mean * scale / sqrt(var + eps)). */
function batchNorm(ctx: OpContext, [x, scale, bias, mean, variance]: (Value | undefined)[]): Value[] {
  if (x === undefined) throw ctx.fail('it has no input');
  const params = [scale, bias, mean, variance];
  if (!params.every((p): p is HostValue => p !== undefined && p.kind === 'host')) throw ctx.fail('its statistics are not constants');
  const [a, c] = batchNormAffine(params, floatAttr(ctx, 'epsilon', 1e-5));
  const held = x.kind === 'tensor' ? x : tensorOf(ctx.tensor(x));
  // Channels are axis 1 in ONNX; NHWC-held tensors have them last, where a 1-D vector broadcasts.
  const shape = held.nhwc || held.t.rank < 3 ? [a.length] : [a.length, ...new Array<number>(held.t.rank - 2).fill(1)];
  const scaleT = ctx.cached('scale', () => tf.tensor(a, shape));
  const shiftT = ctx.cached('shift', () => tf.tensor(c, shape));
  return [tensorOf(tf.add(tf.mul(held.t, scaleT), shiftT), held.nhwc)];
}

/** BatchNormalization's per-channel scale and shift from its four constants (also used to fold it into a conv). */
export function batchNormAffine([scale, bias, mean, variance]: HostValue[], epsilon: number): [Float32Array, Float32Array] {
  const n = scale?.data.length ?? 0;
  const a = new Float32Array(n);
  const c = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = scale!.data[i]! / Math.sqrt(variance!.data[i]! + epsilon);
    c[i] = bias!.data[i]! - mean!.data[i]! * a[i]!;
  }
  return [a, c];
}

/** Conv and pooling ops, by ONNX op type. */
export const CONV_OPS: Record<string, OpDef> = {
  Conv: { run: conv, check: (ctx) => (stringAttr(ctx, 'auto_pad', 'NOTSET') === 'SAME_LOWER' ? 'auto_pad SAME_LOWER is not supported' : undefined) },
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: globalPool('avg'),
  GlobalMaxPool: globalPool('max'),
  BatchNormalization: { run: batchNorm, check: (ctx) => (intAttr(ctx, 'training_mode', 0) === 1 ? 'training_mode BatchNormalization is not supported' : undefined) },
};
