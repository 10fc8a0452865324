import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { cw } from '../src/attacks/cw.js';
import { deepfool } from '../src/attacks/deepfool.js';
import { pgd } from '../src/attacks/pgd.js';
import { asBinaryClassifier, logitOfProbability } from '../src/models/binary.js';
import { loadModel, type LoadedModel } from '../src/models/load.js';
import { saveLayersModel } from '../src/models/save.js';
import { UsageError } from '../src/errors.js';
import type { AttackResult } from '../src/attacks/core/types.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { tempDirs } from './helpers/tmp.js';
import { normals } from './attacks.fixtures.js';

/**
 * Single-output classifiers. The oracle is logistic regression p = sigmoid(w·x + b): its logit is
 * z = w·x + b, class 1 wins where z > 0, and the smallest L2 perturbation that flips it is |z| / ‖w‖₂.
 */

const D = 6;
const N = 16;
const w = normals(D, 'binary/w');
const b = 0.2;
const dot = (a: number[], c: number[]): number => a.reduce((s, v, i) => s + v * (c[i] as number), 0);
const normW = Math.sqrt(dot(w, w));
const BOUNDS = { min: -6, max: 6 };

/** Points at least 0.25/‖w‖ from the boundary, labelled by the model's own decision. */
const pts: number[][] = [];
for (let i = 0; pts.length < N; i++) {
  const p = normals(D, `binary/x${i}`).map((v) => v * 0.6);
  if (Math.abs(dot(w, p) + b) > 0.25) pts.push(p);
}
const z = pts.map((p) => dot(w, p) + b);
const labels = Int32Array.from(z, (v) => (v > 0 ? 1 : 0));
const dist = z.map((v) => Math.abs(v) / normW);

function logistic(activation: 'sigmoid' | 'linear'): tfl.LayersModel {
  const m = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [D], activation })] });
  m.setWeights([tf.tensor2d(w, [D, 1]), tf.tensor1d([b])]);
  return m;
}

/** A hand-written graph model: x·W + b (MatMul, BiasAdd), then Sigmoid and Identity when `sigmoid`. */
function writeGraph(dir: string, sigmoid: boolean): void {
  const shapeOf = (...dims: number[]): object => ({ dim: dims.map((d) => ({ size: String(d) })) });
  const T = { T: { type: 'DT_FLOAT' } };
  const constNode = (name: string, dims: number[]): object => ({
    name,
    op: 'Const',
    attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: shapeOf(...dims) } } },
  });
  const node: object[] = [
    { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: shapeOf(-1, D) } } },
    constNode('W', [D, 1]),
    constNode('b', [1]),
    { name: 'mm', op: 'MatMul', input: ['x', 'W'], attr: { ...T, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'z', op: 'BiasAdd', input: ['mm', 'b'], attr: T },
  ];
  if (sigmoid) node.push({ name: 'p', op: 'Sigmoid', input: ['z'], attr: T }, { name: 'out', op: 'Identity', input: ['p'], attr: T });
  const json = {
    format: 'graph-model',
    modelTopology: { node, versions: { producer: 1 } },
    weightsManifest: [{ paths: ['g.bin'], weights: [{ name: 'W', shape: [D, 1], dtype: 'float32' }, { name: 'b', shape: [1], dtype: 'float32' }] }],
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  writeFileSync(join(dir, 'g.bin'), Buffer.from(new Float32Array([...w, b]).buffer));
}

async function logitsOf(model: LoadedModel, x: number[][]): Promise<number[][]> {
  const t = tf.tensor2d(x);
  const out = model.predict(t);
  const v = (await out.array()) as number[][];
  tf.dispose([t, out]);
  return v;
}

const dirs = tempDirs('robust-binary-');
afterAll(() => dirs.cleanup());

describe('asBinaryClassifier', () => {
  beforeAll(() => activate('cpu'));

  it('turns a logit into [0, z] and a probability into [0, logit(p)], from [batch] or [batch, 1]', async () => {
    const zs = [-3, -0.5, 0, 2, 7];
    const raw = tf.tensor1d(zs);
    await noLeak(async () => {
      const fromLogit = asBinaryClassifier(() => tf.reshape(raw, [5, 1]), { output: 'logit' })(raw);
      const fromProb = asBinaryClassifier(() => tf.sigmoid(raw), { output: 'sigmoid' })(raw);
      expect(fromLogit.shape).toEqual([5, 2]);
      expect(await fromLogit.array()).toEqual(zs.map((v) => [0, v]));
      ((await fromProb.array()) as number[][]).forEach(([zero, got], i) => {
        expect(zero).toBe(0);
        expect(got).toBeCloseTo(zs[i] as number, 4);
      });
      tf.dispose([fromLogit, fromProb]);
    });
    raw.dispose();
  });

  it('keeps a saturated probability finite (|z| ≤ 16.6) and refuses more than one score', async () => {
    const p = tf.tensor1d([0, 1]);
    const out = tf.tidy(() => logitOfProbability(p));
    const [lo, hi] = (await out.data()) as Float32Array;
    expect(lo).toBeLessThan(-15);
    expect(hi).toBeGreaterThan(15);
    expect(Number.isFinite(lo) && Number.isFinite(hi)).toBe(true);
    const two = tf.zeros([3, 2]);
    expect(() => asBinaryClassifier(() => two, { output: 'logit' })(two)).toThrow(UsageError);
    tf.dispose([p, out, two]);
  });
});

describe.each(TEST_BACKENDS)('single-output models on %s', (backend) => {
  beforeAll(() => activate(backend));

  it('a Layers Dense(1, sigmoid) model loads as 2 classes with the sigmoid stripped: logits [0, w·x + b] exactly, even where p saturates', async () => {
    const layers = logistic('sigmoid');
    const model = await loadModel(layers, { bounds: BOUNDS });
    expect(model).toMatchObject({ numClasses: 2, output: 'sigmoid', sigmoidStripped: true, outputsProbabilities: false });
    // 40·w/‖w‖² has z = 40 + b: p rounds to 1 in float32, the stripped logit does not.
    const far = w.map((v) => (40 * v) / (normW * normW));
    const got = await logitsOf(model, [...pts, far]);
    got.forEach(([zero, zi], i) => {
      expect(zero).toBe(0);
      expect(zi).toBeCloseTo(i < N ? (z[i] as number) : 40 + b, 3);
    });
    // The same model read as-is converts p, which saturates: the reason to strip.
    const asIs = await loadModel(layers, { bounds: BOUNDS, logits: 'as-is' });
    expect(asIs).toMatchObject({ output: 'sigmoid', sigmoidStripped: false });
    const [, saturated] = (await logitsOf(asIs, [far]))[0] as number[];
    expect(saturated).toBeLessThan(17);
    model.dispose();
    asIs.dispose();
    layers.dispose();
  });

  it('a linear single unit is a logit; output: sigmoid overrides the guess; bad overrides are refused', async () => {
    const layers = logistic('linear');
    const model = await loadModel(layers, { bounds: BOUNDS });
    expect(model).toMatchObject({ numClasses: 2, output: 'logit', sigmoidStripped: false });
    expect(((await logitsOf(model, pts.slice(0, 1)))[0] as number[])[1]).toBeCloseTo(z[0] as number, 4);
    // A function returning sigmoid(z) has no structure to read: the override says it is a probability.
    const fn = (x: tf.Tensor): tf.Tensor => tf.sigmoid(layers.apply(x) as tf.Tensor);
    const declared = await loadModel(fn, { inputShape: [D], numClasses: 2, output: 'sigmoid', bounds: BOUNDS });
    expect(declared.output).toBe('sigmoid');
    ((await logitsOf(declared, pts)) as number[][]).forEach(([, zi], i) => expect(zi).toBeCloseTo(z[i] as number, 3));
    await expect(loadModel(layers, { output: 'softmax' })).rejects.toThrow(/two or more outputs/);
    await expect(loadModel(fn, { inputShape: [D], numClasses: 1 })).rejects.toThrow(/binary classifier, 2 classes/);
    const multi = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [D] })] });
    await expect(loadModel(multi, { output: 'logit' })).rejects.toThrow(/one output unit/);
    for (const m of [model, declared, layers, multi]) m.dispose();
  });

  it('a Layers binary model saved to disk and a graph model with a final Sigmoid load and strip it', async () => {
    const layersDir = dirs.fresh();
    const layers = logistic('sigmoid');
    await saveLayersModel(layers, layersDir);
    layers.dispose();
    const graphDir = dirs.fresh();
    writeGraph(graphDir, true);
    const rawDir = dirs.fresh();
    writeGraph(rawDir, false);
    for (const [dir, format, output, stripped] of [
      [layersDir, 'layers-model', 'sigmoid', true],
      [graphDir, 'graph-model', 'sigmoid', true],
      [rawDir, 'graph-model', 'logit', false],
    ] as const) {
      const model = await loadModel(dir, { bounds: BOUNDS });
      expect(model).toMatchObject({ format, numClasses: 2, output, sigmoidStripped: stripped });
      ((await logitsOf(model, pts)) as number[][]).forEach(([zero, zi], i) => {
        expect(zero).toBe(0);
        expect(zi).toBeCloseTo(z[i] as number, 4);
      });
      // Loading and predicting leave nothing behind.
      await noLeak(async () => logitsOf(model, pts));
      model.dispose();
    }
  });

  describe('attacks on the logistic model find |w·x + b| / ‖w‖₂', () => {
    let models: LoadedModel[];
    let x: tf.Tensor;
    beforeAll(async () => {
      const graphDir = dirs.fresh();
      writeGraph(graphDir, true);
      const layers = logistic('sigmoid');
      const layersDir = dirs.fresh();
      await saveLayersModel(layers, layersDir);
      layers.dispose();
      models = [await loadModel(layersDir, { bounds: BOUNDS }), await loadModel(graphDir, { bounds: BOUNDS })];
      x = tf.tensor2d(pts);
    });
    afterAll(() => {
      x.dispose();
      for (const m of models) m.dispose();
    });

    /** Every example is fooled, each by between d and `slack`·d in L2. */
    async function expectMinimal(run: () => Promise<AttackResult>, slack: number): Promise<void> {
      const r = await noLeak(async () => {
        const out = await run();
        out.xAdv.dispose();
        return out;
      });
      expect(r.isAdversarial.every((a) => a === 1)).toBe(true);
      r.perturbation.l2.forEach((found, i) => {
        const d = dist[i] as number;
        expect(found).toBeGreaterThanOrEqual(d * (1 - 1e-4));
        expect(found).toBeLessThanOrEqual(d * slack);
      });
    }

    it.each([0, 1])('model %i: deepfool (l2) lands within [d, 1.02·d]', async (k) => {
      await expectMinimal(() => deepfool(models[k] as LoadedModel, x, labels, { norm: 'l2' }), 1.02 * (1 + 1e-3));
    });

    it.each([0, 1])('model %i: pgd (l2) breaks none at 0.98·d and all at 1.02·d', async (k) => {
      const model = models[k] as LoadedModel;
      const at = async (scale: number): Promise<number> =>
        noLeak(async () => {
          const out = await pgd(model, x, labels, { norm: 'l2', eps: Float32Array.from(dist, (d) => d * scale), seed: 3 });
          out.xAdv.dispose();
          return out.isAdversarial.reduce((s, v) => s + v, 0);
        });
      expect(await at(0.98)).toBe(0);
      expect(await at(1.02)).toBe(N);
    });

    it('cw (l2) finds the boundary within 2%', async () => {
      await expectMinimal(() => cw(models[0] as LoadedModel, x, labels, { steps: 300, lr: 0.001 }), 1.02);
    });
  });
});
