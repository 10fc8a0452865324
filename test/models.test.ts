import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { buildReferenceCnn, loadModel, readModelFiles, saveLayersModel } from '../src/models/index.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';

const root = mkdtempSync(join(tmpdir(), 'robust-models-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = (label: string): string => join(root, `${label}-${dirCount++}`);

/** The oracle for the documented hash: SHA-256 of `cat model.json shard...` in manifest order. */
function sha256OfFiles(dir: string): string {
  const json = readFileSync(join(dir, 'model.json'));
  const manifest = (JSON.parse(json.toString('utf8')) as { weightsManifest: { paths: string[] }[] }).weightsManifest;
  const hash = createHash('sha256').update(json);
  for (const group of manifest) for (const p of group.paths) hash.update(readFileSync(join(dir, p)));
  return hash.digest('hex');
}

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** A small dense classifier with seeded weights: 4 inputs → 5 relu → 3 (activation configurable). */
function smallDense(seed: number, activation: 'linear' | 'softmax' = 'linear'): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [4], units: 5, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }), biasInitializer: tfl.initializers.randomUniform({ seed: seed + 1 }) }),
      tfl.layers.dense({ units: 3, activation, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }), biasInitializer: tfl.initializers.randomUniform({ seed: seed + 3 }) }),
    ],
  });
}

/** Plain-JS forward pass of smallDense's pre-activation output, from its weights. */
function smallDenseLogits(model: tfl.LayersModel, x: number[]): number[] {
  const [k1, b1, k2, b2] = model.getWeights().map(values) as [number[], number[], number[], number[]];
  const h = [0, 1, 2, 3, 4].map((j) => Math.max(0, (b1[j] ?? 0) + x.reduce((s, xi, i) => s + xi * (k1[i * 5 + j] ?? 0), 0)));
  return [0, 1, 2].map((j) => (b2[j] ?? 0) + h.reduce((s, hi, i) => s + hi * (k2[i * 3 + j] ?? 0), 0));
}

interface GraphSpec {
  W: number[]; // [3, 2] row-major
  b: number[]; // [2]
  softmax?: boolean;
  withFormat?: boolean;
  quantizeW?: { q: number[]; scale: number; min: number };
  metadata?: object;
}

/** A hand-written graph model: logits = x·W + b for x [batch, 3] (MatMul, BiasAdd), optionally softmax → Identity. */
function writeGraphModel(dir: string, spec: GraphSpec): void {
  const shapeOf = (...dims: number[]): object => ({ dim: dims.map((d) => ({ size: String(d) })) });
  const constNode = (name: string, dims: number[]): object => ({
    name,
    op: 'Const',
    attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: shapeOf(...dims) } } },
  });
  const T = { T: { type: 'DT_FLOAT' } };
  const node: object[] = [
    { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: shapeOf(-1, 3) } } },
    constNode('W', [3, 2]),
    constNode('b', [2]),
    { name: 'mm', op: 'MatMul', input: ['x', 'W'], attr: { ...T, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'logits', op: 'BiasAdd', input: ['mm', 'b'], attr: T },
  ];
  if (spec.softmax === true) {
    node.push({ name: 'probs', op: 'Softmax', input: ['logits'], attr: T }, { name: 'out', op: 'Identity', input: ['probs'], attr: T });
  }
  const q = spec.quantizeW;
  const wSpec = q === undefined ? { name: 'W', shape: [3, 2], dtype: 'float32' } : { name: 'W', shape: [3, 2], dtype: 'float32', quantization: { dtype: 'uint8', scale: q.scale, min: q.min } };
  const wBytes = q === undefined ? Buffer.from(new Float32Array(spec.W).buffer) : Buffer.from(Uint8Array.from(q.q));
  const json: Record<string, unknown> = {
    modelTopology: { node, versions: { producer: 1 } },
    weightsManifest: [{ paths: ['graph.bin'], weights: [wSpec, { name: 'b', shape: [2], dtype: 'float32' }] }],
  };
  if (spec.withFormat !== false) json.format = 'graph-model';
  if (spec.metadata !== undefined) json.userDefinedMetadata = spec.metadata;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  writeFileSync(join(dir, 'graph.bin'), Buffer.concat([wBytes, Buffer.from(new Float32Array(spec.b).buffer)]));
}

function affine(x: number[][], W: number[], b: number[]): number[][] {
  return x.map((row) => [0, 1].map((j) => (b[j] ?? 0) + row.reduce((s, xi, i) => s + xi * (W[i * 2 + j] ?? 0), 0)));
}

function softmaxRows(z: number[][]): number[][] {
  return z.map((row) => {
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
}

function expectClose(actual: number[], expected: number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(Math.abs(a - (expected[i] ?? NaN))).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected[i] ?? 0))));
}

describe('reference CNN', () => {
  beforeAll(() => activate('cpu'));

  it('is the documented architecture and returns logits', () => {
    const model = buildReferenceCnn(1);
    expect(model.layers.map((l) => l.getClassName())).toEqual(['Conv2D', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dense']);
    expect(model.inputs[0]?.shape).toEqual([null, 28, 28, 1]);
    expect(model.outputs[0]?.shape).toEqual([null, 10]);
    expect(model.countParams()).toBe(1_199_882);
    expect(model.layers.map((l) => l.getConfig().activation)).toEqual(['relu', 'relu', undefined, undefined, 'relu', 'linear']);
    model.dispose();
  });

  it('gives identical weights for the same seed and different ones for another seed', () => {
    const [a, b, c] = [buildReferenceCnn(5), buildReferenceCnn(5), buildReferenceCnn(6)];
    // Hashes of the raw float32 bytes: exact equality without comparing 1.2M numbers one by one.
    const digests = (m: tfl.LayersModel): string[] =>
      m.getWeights().map((w) => createHash('sha256').update(Buffer.from((w.dataSync() as Float32Array).buffer)).digest('hex'));
    const [da, db, dc] = [digests(a), digests(b), digests(c)];
    expect(db).toEqual(da);
    // Every kernel differs between seeds; biases are zero in both.
    for (const i of [0, 2, 4, 6]) expect(dc[i]).not.toBe(da[i]);
    for (const i of [1, 3, 5, 7]) expect(dc[i]).toBe(da[i]);
    // Glorot-uniform: |w| ≤ sqrt(6 / (fanIn + fanOut)); conv1 has fanIn 9, fanOut 9·32.
    const limit = Math.sqrt(6 / (9 + 9 * 32));
    expect(Math.max(...values(a.getWeights()[0] as tf.Tensor).map(Math.abs))).toBeLessThanOrEqual(limit);
    for (const m of [a, b, c]) m.dispose();
  });

  it('saves two same-seed builds to byte-identical files', async () => {
    const [a, b] = [buildReferenceCnn(9), buildReferenceCnn(9)];
    const [da, db] = [freshDir('ref-a'), freshDir('ref-b')];
    const sa = await saveLayersModel(a, da);
    const sb = await saveLayersModel(b, db);
    expect(sa.sha256).toBe(sb.sha256);
    expect(sa.sha256).toBe(sha256OfFiles(da));
    a.dispose();
    b.dispose();
  });
});

describe.each(TEST_BACKENDS)('models on %s', (backend) => {
  beforeAll(() => activate(backend));

  it('round-trips the reference CNN through disk with identical logits and the documented hash', async () => {
    expect(tf.getBackend()).toBe(backend);
    const original = buildReferenceCnn(3);
    const dir = freshDir('roundtrip');
    const saved = await saveLayersModel(original, dir);
    expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    // TF.js on both sides: bit-identical logits test the weights' round trip, not onnxruntime's rounding
    // (the native engine's agreement is test/models-native.test.ts's business).
    const loaded = await loadModel(dir, { engine: 'tfjs' });
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 11);
    const want = original.apply(x, { training: false }) as tf.Tensor;
    const got = loaded.predict(x);
    expect(got.shape).toEqual([3, 10]);
    expect(values(got)).toEqual(values(want));
    expect(loaded).toMatchObject({ inputShape: [28, 28, 1], numClasses: 10, bounds: { min: 0, max: 1 }, access: 'gradients', format: 'layers-model' });
    expect(loaded.softmaxStripped).toBe(false);
    expect(loaded.outputsProbabilities).toBe(false);
    expect(loaded.name).toBe(dir);
    const oracle = sha256OfFiles(dir);
    expect(loaded.sha256).toBe(oracle);
    expect(saved.sha256).toBe(oracle);
    // A path to model.json itself names the same model.
    expect((await readModelFiles(join(dir, 'model.json'))).sha256).toBe(oracle);
    tf.dispose([x, want, got]);
    original.dispose();
    loaded.dispose();
  });

  it('changes the hash when one weight byte changes', async () => {
    const model = smallDense(21);
    const dir = freshDir('hash');
    await saveLayersModel(model, dir);
    const before = (await readModelFiles(dir)).sha256;
    const bin = readFileSync(join(dir, 'weights.bin'));
    bin[7] = (bin[7] ?? 0) ^ 1;
    writeFileSync(join(dir, 'weights.bin'), bin);
    const after = await loadModel(dir);
    expect(after.sha256).not.toBe(before);
    expect(after.sha256).toBe(sha256OfFiles(dir));
    model.dispose();
    after.dispose();
  });

  it('loads sharded weights with the hash over shards in manifest order', async () => {
    const model = smallDense(31);
    const dir = freshDir('shards');
    const saved = await saveLayersModel(model, dir, { maxShardBytes: 40 });
    // 4·5 + 5 + 5·3 + 3 = 43 floats = 172 bytes → 5 shards of ≤ 40 bytes.
    expect(saved.weightPaths.map((p) => p.slice(dir.length + 1))).toEqual([1, 2, 3, 4, 5].map((i) => `group1-shard${i}of5.bin`));
    const loaded = await loadModel(dir, { engine: 'tfjs' });
    expect(loaded.sha256).toBe(sha256OfFiles(dir));
    const x = tf.tensor2d([[0.1, -0.4, 0.3, 0.9]]);
    const got = loaded.predict(x);
    expect(values(got)).toEqual(values(model.apply(x) as tf.Tensor));
    tf.dispose([x, got]);
    model.dispose();
    loaded.dispose();
  });

  it('replaces a saved model in place and leaves no temporary files', async () => {
    const [a, b] = [smallDense(41), smallDense(51)];
    const dir = freshDir('overwrite');
    await saveLayersModel(a, dir);
    const second = await saveLayersModel(b, dir);
    expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    const loaded = await loadModel(dir);
    expect(loaded.sha256).toBe(second.sha256);
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    expectClose(values(loaded.predict(x)), smallDenseLogits(b, [1, 2, 3, 4]), 1e-5);
    tf.dispose(x);
    for (const m of [a, b, loaded]) m.dispose();
  });

  it('loads a hand-written graph model and matches x·W + b and its gradient', async () => {
    const W = [1, -2, 0.5, 3, -1, 4];
    const b = [0.25, -0.5];
    const dir = freshDir('graph');
    writeGraphModel(dir, { W, b });
    const model = await loadModel(dir);
    expect(model).toMatchObject({ format: 'graph-model', inputShape: [3], numClasses: 2, outputsProbabilities: false, softmaxStripped: false });
    expect(model.sha256).toBe(sha256OfFiles(dir));
    const xs = [[1, 2, 3], [-1, 0.5, 2]];
    const x = tf.tensor2d(xs);
    expectClose(values(model.predict(x)), affine(xs, W, b).flat(), 1e-6);
    // d(sum of class-0 logits)/dx = W[:, 0] for every example.
    const grad = tf.grad((xx: tf.Tensor) => tf.sum(tf.slice(model.predict(xx), [0, 0], [-1, 1])))(x);
    expectClose(values(grad), [1, 0.5, -1, 1, 0.5, -1], 1e-6);
    tf.dispose([x, grad]);
    model.dispose();
  });

  it('detects a graph model without a format field and strips a final softmax behind Identity', async () => {
    const W = [0.5, -1, 2, 1, -3, 0.25];
    const b = [1, -1];
    const dir = freshDir('graph-softmax');
    writeGraphModel(dir, { W, b, softmax: true, withFormat: false });
    const xs = [[0.2, -0.7, 1.5]];
    const x = tf.tensor2d(xs);
    const auto = await loadModel(dir);
    expect(auto).toMatchObject({ format: 'graph-model', softmaxStripped: true, outputsProbabilities: false });
    expectClose(values(auto.predict(x)), affine(xs, W, b).flat(), 1e-6);
    const asIs = await loadModel(dir, { logits: 'as-is' });
    expect(asIs).toMatchObject({ softmaxStripped: false, outputsProbabilities: true });
    expectClose(values(asIs.predict(x)), softmaxRows(affine(xs, W, b)).flat(), 1e-6);
    tf.dispose(x);
    auto.dispose();
    asIs.dispose();
  });

  it('decodes uint8-quantized graph weights (q · scale + min)', async () => {
    const quantizeW = { q: [0, 10, 20, 30, 40, 255], scale: 0.5, min: -1 };
    const W = quantizeW.q.map((v) => v * 0.5 - 1);
    const b = [0, 1];
    const dir = freshDir('graph-quant');
    writeGraphModel(dir, { W, b, quantizeW });
    const model = await loadModel(dir);
    const xs = [[1, -1, 0.5]];
    const x = tf.tensor2d(xs);
    expectClose(values(model.predict(x)), affine(xs, W, b).flat(), 1e-6);
    tf.dispose(x);
    model.dispose();
  });

  it('applies normalisation inside predict, per channel, per feature or scalar', async () => {
    const inner = tfl.sequential({
      layers: [tfl.layers.flatten({ inputShape: [2, 2, 3] }), tfl.layers.dense({ units: 4, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) })],
    });
    const xs = Array.from({ length: 2 * 12 }, (_, i) => ((i * 7) % 11) / 10);
    const x = tf.tensor4d(xs, [2, 2, 2, 3]);
    const cases = [
      { mean: [0.1, 0.2, 0.3], std: [0.5, 2, 4], at: (i: number) => i % 3 },
      { mean: Array.from({ length: 12 }, (_, i) => i / 12), std: Array.from({ length: 12 }, (_, i) => 1 + i / 6), at: (i: number) => i % 12 },
      { mean: 0.5, std: 0.25, at: () => 0 },
    ];
    for (const c of cases) {
      const model = await loadModel(inner, { normalization: { mean: c.mean, std: c.std } });
      const pick = (v: number | number[], i: number): number => (typeof v === 'number' ? v : (v[c.at(i)] ?? NaN));
      const normalized = tf.tensor4d(xs.map((v, i) => (v - pick(c.mean, i)) / pick(c.std, i)), [2, 2, 2, 3]);
      const want = inner.apply(normalized) as tf.Tensor;
      expectClose(values(model.predict(x)), values(want), 1e-5);
      expect(model.normalization).toEqual({ mean: c.mean, std: c.std });
      tf.dispose([normalized, want]);
    }
    tf.dispose(x);
    inner.dispose();
  });

  it('takes the gradient through normalisation: d logit / dx = W / std for a linear model', async () => {
    const inner = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) })] });
    const std = [0.5, 2, 4];
    const model = await loadModel(inner, { normalization: { mean: [1, 2, 3], std } });
    const kernel = values(inner.getWeights()[0] as tf.Tensor);
    const x = tf.tensor2d([[0.3, 0.6, 0.9]]);
    const grad = tf.grad((xx: tf.Tensor) => tf.sum(tf.slice(model.predict(xx), [0, 1], [-1, 1])))(x);
    expectClose(values(grad), [0, 1, 2].map((i) => (kernel[i * 2 + 1] ?? NaN) / (std[i] ?? NaN)), 1e-6);
    tf.dispose([x, grad]);
    inner.dispose();
  });

  it('takes bounds and normalisation from model.json metadata, options winning', async () => {
    const model = smallDense(61);
    const dir = freshDir('metadata');
    const normalization = { mean: [0.1, 0.2, 0.3, 0.4], std: 2 };
    await saveLayersModel(model, dir, { bounds: { min: -1, max: 2 }, normalization });
    const fromFile = await loadModel(dir);
    expect(fromFile.bounds).toEqual({ min: -1, max: 2 });
    expect(fromFile.normalization).toEqual(normalization);
    const xs = [0.5, -0.5, 1.5, 0];
    const x = tf.tensor2d([xs]);
    expectClose(values(fromFile.predict(x)), smallDenseLogits(model, xs.map((v, i) => (v - (normalization.mean[i] ?? 0)) / 2)), 1e-5);
    const overridden = await loadModel(dir, { bounds: { min: 0, max: 255 }, normalization: { mean: 0, std: 1 } });
    expect(overridden.bounds).toEqual({ min: 0, max: 255 });
    expectClose(values(overridden.predict(x)), smallDenseLogits(model, xs), 1e-5);
    const plainDir = freshDir('metadata-none');
    await saveLayersModel(model, plainDir);
    const plain = await loadModel(plainDir);
    expect(plain.bounds).toEqual({ min: 0, max: 1 });
    expect(plain.normalization).toBeUndefined();
    tf.dispose(x);
    for (const m of [model, fromFile, overridden, plain]) m.dispose();
  });

  it('reads robust metadata from a graph model and from an in-memory Layers model', async () => {
    const dir = freshDir('graph-meta');
    writeGraphModel(dir, { W: [1, 0, 0, 1, 1, 1], b: [0, 0], metadata: { robust: { bounds: { min: -3, max: 3 } } } });
    const graph = await loadModel(dir);
    expect(graph.bounds).toEqual({ min: -3, max: 3 });
    graph.dispose();
    const inner = smallDense(71);
    inner.setUserDefinedMetadata({ robust: { bounds: { min: [0, 0, 0, 0], max: [1, 2, 3, 4] } } });
    const wrapped = await loadModel(inner);
    expect(wrapped.bounds).toEqual({ min: [0, 0, 0, 0], max: [1, 2, 3, 4] });
    inner.dispose();
  });

  it('wraps an in-memory Layers model without taking ownership', async () => {
    const inner = smallDense(81);
    const model = await loadModel(inner, { name: 'mine' });
    expect(model).toMatchObject({ name: 'mine', inputShape: [4], numClasses: 3, format: 'layers-model', access: 'gradients' });
    expect(model.sha256).toBeUndefined();
    expect(model.layersModel).toBe(inner);
    const xs = [0.3, 0.1, -0.2, 0.8];
    const x = tf.tensor2d([xs]);
    expect(values(model.predict(x))).toEqual(values(inner.apply(x) as tf.Tensor));
    expectClose(values(model.predict(x)), smallDenseLogits(inner, xs), 1e-5);
    model.dispose();
    // The caller's model still works after the wrapper is disposed.
    expectClose(values(inner.apply(x) as tf.Tensor), smallDenseLogits(inner, xs), 1e-5);
    tf.dispose(x);
    inner.dispose();
  });

  it('strips a final softmax exactly (Dense, and Activation layer), keeps it with logits: as-is', async () => {
    const dense = smallDense(91, 'softmax');
    const xs = [[0.3, -0.1, 0.7, 0.2], [1, 0, -1, 0.5]];
    const x = tf.tensor2d(xs);
    const auto = await loadModel(dense);
    expect(auto).toMatchObject({ softmaxStripped: true, outputsProbabilities: false });
    const logits = auto.predict(x);
    expectClose(values(logits), xs.flatMap((row) => smallDenseLogits(dense, row)), 1e-5);
    // Softmax of the stripped logits gives back the model's own output.
    expectClose(values(tf.softmax(logits)), values(dense.apply(x) as tf.Tensor), 1e-6);
    const asIs = await loadModel(dense, { logits: 'as-is' });
    expect(asIs).toMatchObject({ softmaxStripped: false, outputsProbabilities: true });
    expect(values(asIs.predict(x))).toEqual(values(dense.apply(x) as tf.Tensor));

    const withActivation = tfl.sequential({
      layers: [tfl.layers.dense({ inputShape: [4], units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }), tfl.layers.activation({ activation: 'softmax' })],
    });
    const stripped = await loadModel(withActivation, { logits: 'strip-softmax' });
    const first = withActivation.layers[0];
    if (first === undefined) throw new Error('no layer');
    expectClose(values(stripped.predict(x)), values(first.apply(x) as tf.Tensor), 1e-6);

    // A softmax model saved to disk is stripped the same way after loading.
    const dir = freshDir('softmax-disk');
    await saveLayersModel(dense, dir);
    const fromDisk = await loadModel(dir);
    expect(fromDisk.softmaxStripped).toBe(true);
    expectClose(values(fromDisk.predict(x)), values(logits), 1e-6);
    tf.dispose(x);
    for (const m of [dense, withActivation, fromDisk]) m.dispose();
  });

  it('gets gradients through a stripped softmax that match the logits of the weights', async () => {
    // One Dense softmax layer straight on the input: logits = xW + b, so d logit_j / dx = W[:, j].
    const single = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 8 }) })] });
    const model = await loadModel(single);
    expect(model.softmaxStripped).toBe(true);
    const kernel = values(single.getWeights()[0] as tf.Tensor);
    const x = tf.tensor2d([[5, -5, 5]]);
    const grad = tf.grad((xx: tf.Tensor) => tf.sum(tf.slice(model.predict(xx), [0, 0], [-1, 1])))(x);
    expectClose(values(grad), [kernel[0] ?? NaN, kernel[2] ?? NaN, kernel[4] ?? NaN], 1e-6);
    tf.dispose([x, grad]);
    single.dispose();
  });

  it('wraps a function with the given shape and class count', async () => {
    const W = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const linear = (x: tf.Tensor): tf.Tensor => tf.matMul(x as tf.Tensor2D, W);
    const model = await loadModel(linear, { inputShape: [3], numClasses: 2, bounds: { min: -1, max: 1 } });
    expect(model).toMatchObject({ format: 'function', name: 'linear', inputShape: [3], numClasses: 2, access: 'gradients', bounds: { min: -1, max: 1 } });
    const x = tf.tensor2d([[1, 0, -1]]);
    expect(values(model.predict(x))).toEqual([1 - 5, 2 - 6]);
    const grad = tf.grad((xx: tf.Tensor) => tf.sum(tf.slice(model.predict(xx), [0, 1], [-1, 1])))(x);
    expect(values(grad)).toEqual([2, 4, 6]);
    const scoresOnly = await loadModel(linear, { inputShape: [3], numClasses: 2, access: 'scores' });
    expect(scoresOnly.access).toBe('scores');
    tf.dispose([W, x, grad]);
  });

  it('leaks no tensors from predict or its gradient, for every kind of model', async () => {
    const layers = buildReferenceCnn(12);
    const dir = freshDir('leak-graph');
    writeGraphModel(dir, { W: [1, 2, 3, 4, 5, 6], b: [1, 1], softmax: true });
    const graph = await loadModel(dir);
    const W = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const fn = await loadModel((x: tf.Tensor) => tf.matMul(x as tf.Tensor2D, W), { inputShape: [3], numClasses: 2, normalization: { mean: 1, std: 2 } });
    const cnn = await loadModel(layers, { normalization: { mean: 0.13, std: 0.31 } });
    const softmaxModel = smallDense(3, 'softmax');
    const stripped = await loadModel(softmaxModel);
    const cases: [typeof cnn, number[]][] = [[cnn, [2, 28, 28, 1]], [graph, [2, 3]], [fn, [2, 3]], [stripped, [2, 4]]];
    for (const [model, shape] of cases) {
      const x = tf.randomUniform(shape, 0, 1, 'float32', 5);
      await noLeak(() => tf.tidy(() => void model.predict(x)));
      await noLeak(() => tf.dispose(model.predict(x)));
      await noLeak(() => tf.dispose(tf.grad((xx: tf.Tensor) => tf.sum(model.predict(xx)))(x)));
      tf.dispose(x);
    }
    tf.dispose(W);
    for (const m of [layers, graph, softmaxModel]) m.dispose();
  });

  it('frees the weights of a model loaded from disk on dispose', async () => {
    const dir = freshDir('dispose');
    const source = smallDense(101);
    await saveLayersModel(source, dir);
    source.dispose();
    const before = tf.memory().numTensors;
    const plain = await loadModel(dir, { optimize: false });
    expect(tf.memory().numTensors).toBe(before + 4);
    plain.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // The attack-time pass keeps its own folded weights beside the model's; dispose frees both.
    const model = await loadModel(dir);
    expect(model.optimized).toBe(true);
    expect(tf.memory().numTensors).toBeGreaterThan(before + 4);
    model.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
