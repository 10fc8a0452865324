/**
 * The native engine (src/models/native/): the attack-time graph written as ONNX and run by onnxruntime.
 * Oracle: the Layers model itself as TF.js runs it (no pass, no folding), on cpu and on wasm. Logits must
 * agree within 1e-5 relative and input gradients within 1e-4, on small versions of the reference
 * architectures (depthwise and strided convolutions, relu6, padding, max pooling, residual adds, global
 * pooling, a softmax head) and on the MNIST CNN and a tabular Dense model. Also: the engine is chosen by
 * default for a model.json, `engine: 'tfjs'` keeps TF.js, `engine: 'onnxruntime'` refuses what it cannot
 * run, a seeded attack gives the same bytes twice, and nothing leaks.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { buildMobileNetV2, buildResNet18, buildResNet20 } from '../src/models/architectures.js';
import { fileLoadHandler, fusedGradientOf, loadModel, type FusedGradient, type StandardObjective } from '../src/models/index.js';
import { standardObjective } from '../src/attacks/core/steps.js';
import { margin } from '../src/attacks/core/losses.js';
import { nativeEngineAvailable } from '../src/models/native/engine.js';
import { saveLayersModel } from '../src/models/save.js';
import { pgd } from '../src/attacks/pgd.js';
import { UsageError } from '../src/errors.js';
import { withDefenses } from '../src/defenses/index.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { tempDirs } from './helpers/tmp.js';
import { relErr } from './helpers/compare.js';
import { buildBinaryNet, buildConcatNet, buildGatedNet, buildPoolingNet } from './helpers/nets.js';

const dirs = tempDirs('robust-native-');
afterAll(() => dirs.cleanup());


function tabular(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [12], units: 16, activation: 'relu', kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }), biasInitializer: 'randomNormal' }));
  m.add(tfl.layers.batchNormalization({ movingMeanInitializer: 'randomNormal', movingVarianceInitializer: 'ones' }));
  m.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotNormal({ seed: 2 }) }));
  return m;
}

type Net = [string, () => tfl.LayersModel | Promise<tfl.LayersModel>, number[]];
const NETS: Net[] = [
  ['MobileNetV2 0.35 at 32x32', () => buildMobileNetV2({ seed: 3, size: 32, alpha: 0.35, classes: 10 }), [32, 32, 3]],
  ['ResNet-20 at 16x16', () => buildResNet20({ seed: 4, size: 16 }), [16, 16, 3]],
  ['the MNIST CNN', () => tfl.loadLayersModel(fileLoadHandler(join(process.cwd(), 'models/mnist-cnn/model.json'))), [28, 28, 1]],
  ['a tabular Dense model', tabular, [12]],
  ['a net with average pooling', () => buildPoolingNet(), [16, 16, 3]],
  ['a binary classifier with a tanh layer and a sigmoid head', () => buildBinaryNet(), [12, 12, 1]],
  ['two branches concatenated, one through LeakyReLU', () => buildConcatNet(), [16, 16, 3]],
  ['a gated block: a relu conv times a sigmoid conv, then tanh', () => buildGatedNet(), [12, 12, 3]],
];
// ResNet-18's 7×7 stem and max pool, on wasm only: the cpu gradient of the plain model alone takes a minute.
const WASM_ONLY: Net[] = [['ResNet-18 at 32x32', () => buildResNet18({ seed: 5, size: 32, classes: 10 }), [32, 32, 3]]];

describe.skipIf(!nativeEngineAvailable()).each(TEST_BACKENDS)('native engine on %s', (backend) => {
  beforeAll(async () => activate(backend));

  describe.each(backend === 'wasm' ? [...NETS, ...WASM_ONLY] : NETS)('%s', (_name, build, shape) => {
    let net: tfl.LayersModel;
    let path: string;
    beforeAll(async () => {
      net = await build();
      path = dirs.fresh();
      await saveLayersModel(net, path);
    });
    afterAll(() => net.dispose());

    it('matches the Layers model and its input gradient', async () => {
      const plain = await loadModel(net, { optimize: false });
      const native = await loadModel(join(path, 'model.json'), { engine: 'onnxruntime' });
      expect(native.engine).toBe('onnxruntime');
      expect(plain.numClasses).toBe(native.numClasses);
      await noLeak(async () => {
        const x = tf.randomUniform([3, ...shape], 0, 1, 'float32', 7);
        const r = tf.randomNormal([3, native.numClasses], 0, 1, 'float32', 8);
        const loss = (m: typeof plain) => (input: tf.Tensor) => tf.sum(tf.mul(r, m.predict(input)));
        const outs = [plain.predict(x), native.predict(x), tf.grad(loss(plain))(x), tf.grad(loss(native))(x)];
        const [a1, a2, g1, g2] = (await Promise.all(outs.map((t) => t.data()))) as Float32Array[];
        expect(relErr(a1 as Float32Array, a2 as Float32Array)).toBeLessThan(1e-5);
        expect(relErr(g1 as Float32Array, g2 as Float32Array)).toBeLessThan(1e-4);
        // Not trivially zero: a pass that cut the gradient would agree with a zero reference.
        expect((g1 as Float32Array).some((v) => v !== 0)).toBe(true);
        tf.dispose([x, r, ...outs]);
      });
      plain.dispose();
      native.dispose();
    });

    // The oracle is tf.grad through the native model's predict, whose gradient the test above checks
    // against the Layers model (on cpu the Layers model's own gradients would take half a minute here).
    it('fuses the standard objectives: logits and input gradient equal tf.grad through predict, with and without a normalisation', async () => {
      for (const normalization of [undefined, { mean: 0.4, std: 0.3 }]) {
        const opts = normalization !== undefined ? { normalization } : {};
        const viaGrad = await loadModel(join(path, 'model.json'), { engine: 'onnxruntime', ...opts });
        const native = await loadModel(join(path, 'model.json'), { engine: 'onnxruntime', ...opts });
        const fused = fusedGradientOf(native) as FusedGradient;
        if (native.sigmoidStripped) {
          // A binary classifier is presented as [0, z]: the engine's objectives (of z alone) do not apply.
          expect(fused).toBeUndefined();
          viaGrad.dispose();
          native.dispose();
          return;
        }
        expect(fused).toBeDefined();
        expect(fusedGradientOf({ ...native, predict: (v: tf.Tensor) => native.predict(v) })).toBeUndefined();
        const k = native.numClasses;
        await noLeak(async () => {
          const x = tf.randomUniform([3, ...shape], 0, 1, 'float32', 9);
          const labels = tf.tensor1d([0, 1, 2].map((v) => v % k), 'int32');
          const targets = tf.tensor1d([1, 2, 0].map((v) => (v + (k > 3 ? 1 : 0)) % k), 'int32');
          const cases: [StandardObjective, boolean][] = [
            ['ce', false],
            ['ce', true],
            ['margin', false],
            ['margin', true],
            ['dlr', false],
            ['dlr', true],
            ['difference', false],
            ['cw', false],
            ['cw', true],
          ];
          // Carlini-Wagner's c per example, and a κ between the two smallest margins: its gate (margin ≤ κ)
          // open on one row and shut on the others.
          const scale = tf.tensor1d([0.5, 2, 1]);
          const gateBetween = async (targeted: boolean): Promise<number> => {
            const z = viaGrad.predict(x);
            const m = margin(z, labels, targeted);
            const sorted = Array.from((await m.data()) as Float32Array).sort((a, b) => a - b);
            tf.dispose([z, m]);
            return ((sorted[0] as number) + (sorted[1] as number)) / 2;
          };
          for (const [kind, targeted] of cases) {
            const withTargets = (kind === 'dlr' && targeted) || kind === 'difference';
            const kappa = kind === 'cw' ? await gateBetween(targeted) : 0;
            const cw = kind === 'cw' ? { scale: () => scale, kappa } : undefined;
            const f = fused(x, { kind, labels, targeted, ...(withTargets ? { targets } : {}), ...(cw ? { scale, kappa } : {}) });
            if (kind === 'dlr' && k < 4) {
              expect(f).toBeUndefined();
              continue;
            }
            const objective = standardObjective(kind, () => labels, targeted, withTargets ? () => targets : undefined, cw);
            const { logits, grad } = f as { logits: tf.Tensor2D; grad: tf.Tensor };
            const outs = [logits, viaGrad.predict(x), grad, tf.grad((v: tf.Tensor) => tf.sum(objective(viaGrad.predict(v))))(x)];
            const [z1, z2, g1, g2] = (await Promise.all(outs.map((t) => t.data()))) as Float32Array[];
            expect(relErr(z1 as Float32Array, z2 as Float32Array)).toBeLessThan(1e-5);
            expect(relErr(g1 as Float32Array, g2 as Float32Array), `${kind}, targeted ${targeted}`).toBeLessThan(1e-4);
            expect((g2 as Float32Array).some((v) => v !== 0)).toBe(true);
            tf.dispose(outs);
          }
          tf.dispose([x, labels, targets, scale]);
        });
        viaGrad.dispose();
        native.dispose();
      }
    });
  });

  it('is the default for a model.json; engine tfjs keeps TF.js; a seeded attack repeats byte for byte', async () => {
    const net = buildResNet20({ seed: 9, size: 8 });
    const dir = dirs.fresh();
    await saveLayersModel(net, dir);
    net.dispose();
    const auto = await loadModel(join(dir, 'model.json'));
    const kept = await loadModel(join(dir, 'model.json'), { engine: 'tfjs' });
    expect(auto.engine).toBe('onnxruntime');
    expect(kept.engine).toBe('tfjs');
    // Memory planning sees onnxruntime's buffers, which TF.js's accounting cannot.
    expect(auto.engineBytesPerExample).toBeGreaterThan(0);
    expect(kept.engineBytesPerExample ?? 0).toBe(0);
    // A defended model plans with its base model's native memory, times the draws of an EOT gradient.
    const defended = withDefenses(auto, [{ name: 'noise', sigma: 0.05 }], { eotSamples: 3 });
    expect(defended.policy).toBe('eot');
    expect(defended.naive.engineBytesPerExample).toBe(auto.engineBytesPerExample);
    expect(defended.adaptive.engineBytesPerExample).toBe(3 * (auto.engineBytesPerExample ?? 0));
    const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 2);
    const y = Int32Array.from([0, 1, 2, 3]);
    await noLeak(async () => {
      const runs = [];
      for (let i = 0; i < 2; i++) {
        const r = await pgd(auto, x, y, { eps: 8 / 255, steps: 5, seed: 1, earlyStop: false });
        runs.push(await r.xAdv.data());
        r.xAdv.dispose();
      }
      expect(Buffer.from((runs[0] as Float32Array).buffer).equals(Buffer.from((runs[1] as Float32Array).buffer))).toBe(true);
    });
    x.dispose();
    auto.dispose();
    kept.dispose();
  });

  it('refuses engine onnxruntime for a layer it does not cover, and auto falls back to TF.js', async () => {
    const m = tfl.sequential();
    // A 'same' average pool that pads (7 is odd): the divisor changes at the border, so it stays a layer.
    m.add(tfl.layers.averagePooling2d({ inputShape: [7, 7, 2], poolSize: 2, padding: 'same' }));
    m.add(tfl.layers.flatten());
    m.add(tfl.layers.dense({ units: 3 }));
    const dir = dirs.fresh();
    await saveLayersModel(m, dir);
    m.dispose();
    await expect(loadModel(join(dir, 'model.json'), { engine: 'onnxruntime' })).rejects.toThrow(UsageError);
    const auto = await loadModel(join(dir, 'model.json'));
    expect(auto.engine).toBe('tfjs');
    auto.dispose();
  });
});
