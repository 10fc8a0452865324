import * as tfl from '@tensorflow/tfjs-layers';

/**
 * A small net with average pooling at 16×16×3, 10 classes: conv + BatchNorm + relu, a 'valid' 2×2 average
 * pool, a conv, a 'same' 2×2 average pool whose windows tile the 8×8 map (no padding), flatten, softmax head.
 * Both pools are what the attack-time pass writes as depthwise convolutions.
 */
export function buildPoolingNet(seed = 6): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.glorotNormal({ seed: seed * 10 + k });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [16, 16, 3], filters: 6, kernelSize: 3, padding: 'same', kernelInitializer: init(1) }));
  m.add(tfl.layers.batchNormalization({ movingMeanInitializer: 'randomNormal', movingVarianceInitializer: 'ones' }));
  m.add(tfl.layers.reLU());
  m.add(tfl.layers.averagePooling2d({ poolSize: 2, padding: 'valid' }));
  m.add(tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2) }));
  m.add(tfl.layers.averagePooling2d({ poolSize: 2, padding: 'same' }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3) }));
  return m;
}

/**
 * A binary classifier at 12×12×1: conv + relu, max pool, flatten, a tanh Dense, one sigmoid output unit
 * (robust presents it as the two logits [0, z]). Covers the pass's separate sigmoid and tanh nodes and a
 * sigmoid head it strips.
 */
export function buildBinaryNet(seed = 7): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.glorotNormal({ seed: seed * 10 + k });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 16, activation: 'tanh', kernelInitializer: init(2) }));
  m.add(tfl.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: init(3) }));
  return m;
}

/**
 * Two branches joined at 16×16×3, 10 classes: a relu conv, and a conv + LeakyReLU(0.2) that reads the
 * first, concatenated along the channels (DenseNet's join), then a conv, global pooling and a softmax head.
 */
export function buildConcatNet(seed = 8): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.glorotNormal({ seed: seed * 10 + k });
  const input = tfl.input({ shape: [16, 16, 3] });
  const a = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }).apply(input) as tfl.SymbolicTensor;
  const b = tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', kernelInitializer: init(2) }).apply(a) as tfl.SymbolicTensor;
  const leaky = tfl.layers.leakyReLU({ alpha: 0.2 }).apply(b) as tfl.SymbolicTensor;
  const joined = tfl.layers.concatenate().apply([a, leaky]) as tfl.SymbolicTensor;
  const c = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(3) }).apply(joined) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(c) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(4) }).apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

/**
 * A gated block at 12×12×3, 10 classes: a relu conv times a sigmoid conv of the same input (Multiply), a tanh
 * conv, global pooling and a softmax head. Covers the pass's Multiply and its conv + sigmoid / tanh split.
 */
export function buildGatedNet(seed = 9): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.glorotNormal({ seed: seed * 10 + k });
  const input = tfl.input({ shape: [12, 12, 3] });
  const conv = (filters: number, activation: 'relu' | 'sigmoid' | 'tanh', k: number) =>
    tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation, kernelInitializer: init(k) });
  const gated = tfl.layers.multiply().apply([conv(6, 'relu', 1).apply(input), conv(6, 'sigmoid', 2).apply(input)] as tfl.SymbolicTensor[]) as tfl.SymbolicTensor;
  const t = conv(8, 'tanh', 3).apply(gated) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(t) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(4) }).apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}
