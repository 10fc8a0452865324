/**
 * The attack-time model pass (src/models/optimize.ts): on small versions of the reference architectures
 * (MobileNetV2 blocks at 32×32 with width 0.35, ResNet-20 at 16×16, ResNet-18 at 32x32) the optimised
 * forward pass must equal the Layers model's within 1e-5 relative and its input gradient within 1e-4,
 * on cpu and wasm; the folding must actually happen; and nothing may leak.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { buildMobileNetV2, buildResNet18, buildResNet20 } from '../src/models/architectures.js';
import { optimizeLayersModel } from '../src/models/optimize.js';
import { loadModel } from '../src/models/index.js';
import { join } from 'node:path';
import { saveLayersModel } from '../src/models/save.js';
import { ACTIVATION_GRAD } from '../src/backends/kernels/activationGrad.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { tempDirs } from './helpers/tmp.js';
import { relErr } from './helpers/compare.js';
import { buildConcatNet, buildGatedNet, buildPoolingNet } from './helpers/nets.js';

const dirs = tempDirs('robust-optimize-');
afterAll(() => dirs.cleanup());


type Net = [string, () => tfl.LayersModel, number];
const NETS: Net[] = [
  ['MobileNetV2 0.35 at 32x32', () => buildMobileNetV2({ seed: 3, size: 32, alpha: 0.35, classes: 10 }), 32],
  ['ResNet-20 at 16x16', () => buildResNet20({ seed: 4, size: 16 }), 16],
  ['a net with average pooling at 16x16', () => buildPoolingNet(), 16],
  ['two branches concatenated at 16x16, one through LeakyReLU', () => buildConcatNet(), 16],
  ['a gated block at 12x12: a relu conv times a sigmoid conv, then tanh', () => buildGatedNet(), 12],
];
// ResNet-18's 7×7 stem and max pool, on wasm only: its cpu gradient alone takes over a minute.
const WASM_ONLY: Net[] = [['ResNet-18 at 32x32', () => buildResNet18({ seed: 5, size: 32, classes: 10 }), 32]];

describe.each(TEST_BACKENDS)('optimize on %s', (backend) => {
  beforeAll(async () => activate(backend));

  describe.each(backend === 'wasm' ? [...NETS, ...WASM_ONLY] : NETS)('%s', (_name, build, size) => {
    let net: tfl.LayersModel;
    beforeAll(() => {
      net = build();
    });
    afterAll(() => net.dispose());

    it('folds every BatchNormalization and ReLU, and matches the model and its input gradient', async () => {
      const fast = optimizeLayersModel(net);
      expect(fast).toBeDefined();
      if (fast === undefined) return;
      try {
        const kinds = fast.nodes.map((n) => n.op.kind);
        expect(kinds).not.toContain('affine');
        // Every layer is one of the pass's own ops (max pooling included); none runs as its original layer.
        expect(fast.nodes.filter((n) => n.op.kind === 'layer')).toEqual([]);
        expect(fast.nodes.filter((n) => n.op.kind === 'conv' && n.op.activation !== 'linear').length).toBeGreaterThan(0);
        // Fewer ops than layers less the BatchNormalizations: activations were fused too (the graph's input
        // node and the softmax node split off a softmax head are not layers).
        const bn = net.layers.filter((l) => l.getClassName() === 'BatchNormalization').length;
        const ops = fast.nodes.filter((n) => n.op.kind !== 'input' && !(n.op.kind === 'activation' && n.op.activation === 'softmax'));
        // (A net without BatchNormalization may split more than it fuses: a sigmoid conv is two ops.)
        if (bn > 0) expect(ops.length).toBeLessThan(net.layers.length - bn);
      } finally {
        fast.dispose();
      }
      // Through loadModel, as attacks see it: logits (the softmax stripped) and their input gradient.
      const plain = await loadModel(net, { optimize: false });
      const optimized = await loadModel(net, { optimize: true });
      expect(optimized.optimized).toBe(true);
      await noLeak(async () => {
        const x = tf.randomUniform([2, size, size, 3], 0, 1, 'float32', 7);
        const r = tf.randomNormal([2, 10], 0, 1, 'float32', 8);
        const loss = (f: (x: tf.Tensor) => tf.Tensor) => (input: tf.Tensor) => tf.sum(tf.mul(r, f(input)));
        const outs = [plain.predict(x), optimized.predict(x), tf.grad(loss((i) => plain.predict(i)))(x), tf.grad(loss((i) => optimized.predict(i)))(x)];
        const [a1, a2, b1, b2] = (await Promise.all(outs.map((t) => t.data()))) as Float32Array[];
        expect(relErr(a1 as Float32Array, a2 as Float32Array)).toBeLessThan(1e-5);
        expect(relErr(b1 as Float32Array, b2 as Float32Array)).toBeLessThan(1e-4);
        // The gradient is not trivially zero (a pass that cut it would agree with a zero reference).
        expect(Math.max(...Array.from(b1 as Float32Array, Math.abs))).toBeGreaterThan(0);
        tf.dispose([x, r, ...outs]);
      });
      plain.dispose();
      optimized.dispose();
    });
  });

  it('RobustActivationGrad equals the relu and relu6 gradients of TF.js, ties at 0 included', async () => {
    await noLeak(async () => {
      // Not x = 6 exactly: read off y, 6 and above look alike; TF.js passes dy at x = 6, this kernel does not.
      const x = tf.tensor1d([-1, 0, 0.5, 3, 5.999, 6.5, 100, -0.25]);
      const dy = tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8]);
      for (const [act, upper] of [[tf.relu, Infinity], [tf.relu6, 6]] as const) {
        const want = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(act(t), dy)))(x);
        const y = act(x);
        const got = tf.engine().runKernel(ACTIVATION_GRAD, { dy, y }, { upper }) as tf.Tensor;
        expect(Array.from(await got.data())).toEqual(Array.from(await want.data()));
        tf.dispose([want, y, got]);
      }
      tf.dispose([x, dy]);
    });
  });

  it('is the default for a model.json on disk, and optimize: false keeps model.apply', async () => {
    const net = buildResNet20({ seed: 9, size: 8 });
    const dir = dirs.fresh();
    try {
      await saveLayersModel(net, dir);
      const fast = await loadModel(join(dir, 'model.json'));
      const plain = await loadModel(net, { optimize: false });
      expect(fast.optimized).toBe(true);
      expect(plain.optimized).toBe(false);
      const x = tf.randomUniform([3, 8, 8, 3], 0, 1, 'float32', 1);
      const [p1, p2] = [fast.predict(x), plain.predict(x)];
      const [a, b] = await Promise.all([p1.data(), p2.data()]);
      tf.dispose([p1, p2]);
      expect(relErr(a, b)).toBeLessThan(1e-5);
      // Stripped softmax: logits, not probabilities.
      expect(fast.softmaxStripped).toBe(true);
      expect(Math.abs(Array.from(a.slice(0, 10)).reduce((s, v) => s + v, 0) - 1)).toBeGreaterThan(1e-3);
      x.dispose();
      fast.dispose();
      plain.dispose();
    } finally {
      net.dispose();
    }
  });
});
