/**
 * Reference architectures for benchmarks and equality tests, built from TF.js layers in the form the
 * TF.js converter writes for Keras models (ZeroPadding2D before strided convolutions,
 * BatchNormalization after bias-free convolutions, ReLU with max 6, Add for residuals, a softmax head):
 * MobileNetV2 (Sandler et al. 2018), ResNet-18 (He et al. 2016) and the CIFAR ResNet-20 of the same
 * paper. Weights are seeded and random: speed does not depend on them, and random BatchNormalization
 * statistics make folding them a real test.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { UsageError } from '../errors.js';

/** Options shared by the builders. */
export interface ArchitectureOptions {
  /** Integer seed in [0, 2^31). Default 0. */
  seed?: number;
  /** Input height and width. Defaults: 224 (MobileNetV2, ResNet-18), 32 (ResNet-20). */
  size?: number;
  /** Number of classes. Defaults: 1000 (ImageNet networks), 10 (ResNet-20). */
  classes?: number;
  /** MobileNetV2 only: the width multiplier alpha. Default 1. */
  alpha?: number;
}

type Sym = tfl.SymbolicTensor;

/** Seeded layer factories: every layer gets its own seed, so two builds with one seed save identical files. */
class Builder {
  private next = 0;
  constructor(private readonly seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 31) throw new UsageError(`seed must be an integer in [0, 2^31), got ${seed}`);
  }
  private init(): number {
    this.next += 1;
    return (this.seed * 4099 + this.next) % 2 ** 31;
  }
  conv(x: Sym, name: string, filters: number, kernelSize: number, strides = 1, padding: 'same' | 'valid' = 'same'): Sym {
    const kernelInitializer = tfl.initializers.heNormal({ seed: this.init() });
    return tfl.layers.conv2d({ name, filters, kernelSize, strides, padding, useBias: false, kernelInitializer }).apply(x) as Sym;
  }
  depthwise(x: Sym, name: string, strides: number, padding: 'same' | 'valid'): Sym {
    const depthwiseInitializer = tfl.initializers.heNormal({ seed: this.init() });
    return tfl.layers.depthwiseConv2d({ name, kernelSize: 3, strides, padding, useBias: false, depthwiseInitializer }).apply(x) as Sym;
  }
  /** BatchNormalization with random, plausible statistics (Keras' epsilon 1e-3). */
  bn(x: Sym, name: string): Sym {
    const u = (minval: number, maxval: number) => tfl.initializers.randomUniform({ minval, maxval, seed: this.init() });
    return tfl.layers
      .batchNormalization({
        name,
        epsilon: 1e-3,
        momentum: 0.999,
        gammaInitializer: u(0.5, 1.5),
        betaInitializer: u(-0.2, 0.2),
        movingMeanInitializer: u(-0.2, 0.2),
        movingVarianceInitializer: u(0.5, 1.5),
      })
      .apply(x) as Sym;
  }
  head(x: Sym, classes: number): Sym {
    const pooled = tfl.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as Sym;
    const kernelInitializer = tfl.initializers.glorotUniform({ seed: this.init() });
    return tfl.layers.dense({ name: 'predictions', units: classes, activation: 'softmax', kernelInitializer }).apply(pooled) as Sym;
  }
}

const relu = (x: Sym, name: string, maxValue?: number): Sym => tfl.layers.reLU({ name, maxValue }).apply(x) as Sym;
const pad = (x: Sym, name: string, p: [[number, number], [number, number]]): Sym => tfl.layers.zeroPadding2d({ name, padding: p }).apply(x) as Sym;

function options(o: ArchitectureOptions, size: number, classes: number): Required<ArchitectureOptions> {
  return { seed: o.seed ?? 0, size: o.size ?? size, classes: o.classes ?? classes, alpha: o.alpha ?? 1 };
}

/** Keras' `_make_divisible`: channel counts rounded to a multiple of 8, never below 90% of the asked width. */
function divisible(v: number): number {
  const rounded = Math.max(8, Math.floor(v + 4) - (Math.floor(v + 4) % 8));
  return rounded < 0.9 * v ? rounded + 8 : rounded;
}

/**
 * MobileNetV2 as `keras.applications.MobileNetV2` builds it: 3,538,984 parameters at alpha 1 and 1000
 * classes. Keras pads strided depthwise convolutions by (0, 1) with ZeroPadding2D and uses 'valid'.
 * @example const net = buildMobileNetV2({ seed: 1 }); // [224, 224, 3] → 1000 softmax scores
 */
export function buildMobileNetV2(opts: ArchitectureOptions = {}): tfl.LayersModel {
  const o = options(opts, 224, 1000);
  const b = new Builder(o.seed);
  const input = tfl.input({ shape: [o.size, o.size, 3], name: 'input_1' });
  let x = pad(input, 'Conv1_pad', [[0, 1], [0, 1]]);
  x = relu(b.bn(b.conv(x, 'Conv1', divisible(32 * o.alpha), 3, 2, 'valid'), 'bn_Conv1'), 'Conv1_relu', 6);
  let channels = divisible(32 * o.alpha);
  const settings: [number, number, number, number][] = [
    [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
  ];
  let block = 0;
  for (const [t, c, n, s] of settings) {
    const out = divisible(c * o.alpha);
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      const p = block === 0 ? 'expanded_conv_' : `block_${block}_`;
      let h = x;
      if (t !== 1) h = relu(b.bn(b.conv(h, `${p}expand`, channels * t, 1), `${p}expand_BN`), `${p}expand_relu`, 6);
      if (stride === 2) h = pad(h, `${p}pad`, [[0, 1], [0, 1]]);
      h = relu(b.bn(b.depthwise(h, `${p}depthwise`, stride, stride === 2 ? 'valid' : 'same'), `${p}depthwise_BN`), `${p}depthwise_relu`, 6);
      h = b.bn(b.conv(h, `${p}project`, out, 1), `${p}project_BN`);
      x = stride === 1 && channels === out ? (tfl.layers.add({ name: `${p}add` }).apply([x, h]) as Sym) : h;
      channels = out;
      block += 1;
    }
  }
  const last = o.alpha > 1 ? divisible(1280 * o.alpha) : 1280;
  x = relu(b.bn(b.conv(x, 'Conv_1', last, 1), 'Conv_1_bn'), 'out_relu', 6);
  return tfl.model({ inputs: input, outputs: b.head(x, o.classes), name: 'mobilenetv2' });
}

/** A basic residual block: two 3×3 conv-BN, a 1×1 conv-BN shortcut where the shape changes, Add, ReLU. */
function basicBlock(b: Builder, x: Sym, name: string, filters: number, stride: number, inChannels: number): Sym {
  let h = stride === 2 ? pad(x, `${name}_pad`, [[1, 1], [1, 1]]) : x;
  h = relu(b.bn(b.conv(h, `${name}_1_conv`, filters, 3, stride, stride === 2 ? 'valid' : 'same'), `${name}_1_bn`), `${name}_1_relu`);
  h = b.bn(b.conv(h, `${name}_2_conv`, filters, 3), `${name}_2_bn`);
  const shortcut = stride !== 1 || inChannels !== filters ? b.bn(b.conv(x, `${name}_0_conv`, filters, 1, stride), `${name}_0_bn`) : x;
  return relu(tfl.layers.add({ name: `${name}_add` }).apply([shortcut, h]) as Sym, `${name}_out`);
}

/**
 * ResNet-18 (He et al. 2016, the basic-block ImageNet network torchvision's `resnet18` is), written the
 * Keras way: ZeroPadding2D(3) + 7×7/2 conv, ZeroPadding2D(1) + 3×3/2 max pool, four stages of two
 * blocks. 11,689,512 parameters at 1000 classes.
 * @example const net = buildResNet18({ seed: 1 });
 */
export function buildResNet18(opts: ArchitectureOptions = {}): tfl.LayersModel {
  const o = options(opts, 224, 1000);
  const b = new Builder(o.seed);
  const input = tfl.input({ shape: [o.size, o.size, 3], name: 'input_1' });
  let x = pad(input, 'conv1_pad', [[3, 3], [3, 3]]);
  x = relu(b.bn(b.conv(x, 'conv1_conv', 64, 7, 2, 'valid'), 'conv1_bn'), 'conv1_relu');
  x = pad(x, 'pool1_pad', [[1, 1], [1, 1]]);
  x = tfl.layers.maxPooling2d({ name: 'pool1_pool', poolSize: 3, strides: 2 }).apply(x) as Sym;
  let channels = 64;
  [64, 128, 256, 512].forEach((filters, stage) => {
    for (let i = 0; i < 2; i++) {
      x = basicBlock(b, x, `conv${stage + 2}_block${i + 1}`, filters, stage > 0 && i === 0 ? 2 : 1, channels);
      channels = filters;
    }
  });
  return tfl.model({ inputs: input, outputs: b.head(x, o.classes), name: 'resnet18' });
}

/**
 * The CIFAR ResNet-20 of He et al. 2016 (section 4.2): a 3×3 conv of 16 channels, three stages of
 * three basic blocks (16, 32, 64 channels), 1×1 conv shortcuts where the shape changes (their option
 * B), global average pooling, Dense. 272,474 parameters at 10 classes.
 * @example const net = buildResNet20({ seed: 1 }); // [32, 32, 3] → 10 softmax scores
 */
export function buildResNet20(opts: ArchitectureOptions = {}): tfl.LayersModel {
  const o = options(opts, 32, 10);
  const b = new Builder(o.seed);
  const input = tfl.input({ shape: [o.size, o.size, 3], name: 'input_1' });
  let x = relu(b.bn(b.conv(input, 'conv1_conv', 16, 3), 'conv1_bn'), 'conv1_relu');
  let channels = 16;
  [16, 32, 64].forEach((filters, stage) => {
    for (let i = 0; i < 3; i++) {
      x = basicBlock(b, x, `conv${stage + 2}_block${i + 1}`, filters, stage > 0 && i === 0 ? 2 : 1, channels);
      channels = filters;
    }
  });
  return tfl.model({ inputs: input, outputs: b.head(x, o.classes), name: 'resnet20' });
}

/** The builders by name, for `robust bench --arch` and the benchmark script. */
export const ARCHITECTURES = {
  mobilenetv2: buildMobileNetV2,
  resnet18: buildResNet18,
  resnet20: buildResNet20,
} as const;

/** A name of {@link ARCHITECTURES}. */
export type ArchitectureName = keyof typeof ARCHITECTURES;
