/**
 * ONNX models: robust's TF.js translation against onnxruntime (an independent runtime) on every fixture
 * exported by PyTorch (test/fixtures/onnx/make_fixtures.py), input gradients against central differences
 * of onnxruntime's outputs, the refusals, external data rules, the black-box fallback and layouts. Then
 * the same oracles for the native engine (the program as robust's attack-time graph, src/models/onnx/
 * optGraph.ts, run with its hand-written reverse pass), which `auto` picks for the fixtures it covers.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { fusedGradientOf, loadModel } from '../src/models/index.js';
import { loadDataset, readNpy, toModelLayout, writeNpy } from '../src/data/index.js';
import { getAttack } from '../src/attacks/index.js';
import { InputError, UsageError } from '../src/errors.js';
import { onnxCore } from '../src/models/onnx/load.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';

const DIR = 'test/fixtures/onnx';
type Ort = typeof import('onnxruntime-node');
const ort: Ort | undefined = await import('onnxruntime-node').catch(() => undefined);
if (ort === undefined) console.warn('onnxruntime-node is not installed: the ONNX oracle tests are skipped (npm install onnxruntime-node)');

/** Every fixture robust translates, with what the oracle compares. */
const FIXTURES = [
  'mnist_cnn_op11.onnx',
  'mnist_cnn_op17.onnx',
  'depthwise_bn_relu6_op13.onnx',
  'depthwise_bn_relu6_op17.onnx',
  'residual_op17.onnx',
  'tabular_mlp_op11.onnx',
  'conv_bn_helper_op11.onnx',
  'external/model.onnx',
  'vision_blocks_op13.onnx',
  'cifar_blocks_op13.onnx',
  'mobile_blocks_op13.onnx',
];
/**
 * The fixtures the native engine covers: torchvision's ResNet and MobileNetV2 blocks, MobileNetV3's and
 * EfficientNet's (hard-swish, SiLU, squeeze-and-excite), PyTorch's flatten arithmetic, Pad, Transpose,
 * average pooling, LeakyReLU and Concat.
 */
const NATIVE = ['mnist_cnn_op11.onnx', 'mnist_cnn_op17.onnx', 'conv_bn_helper_op11.onnx', 'vision_blocks_op13.onnx', 'cifar_blocks_op13.onnx', 'mobile_blocks_op13.onnx'];

async function reference(path: string, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const session = await ort!.InferenceSession.create(path);
  const out = await session.run({ [session.inputNames[0]!]: new ort!.Tensor('float32', x, shape) });
  return out[session.outputNames[0]!]!.data as Float32Array;
}

function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return err / scale;
}

function seededInput(shape: number[], seed: number): Float32Array {
  return tf.tidy(() => tf.randomUniform(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);
}

describe.skipIf(ort === undefined).each(TEST_BACKENDS)('ONNX translation on %s', (backend) => {
  beforeAll(() => activate(backend));

  it.each(FIXTURES)('%s matches onnxruntime within 1e-4 relative', async (file) => {
    const path = join(DIR, file);
    const model = await loadModel(path, { logits: 'as-is', engine: 'tfjs' });
    const shape = [5, ...model.inputShape];
    const x = seededInput(shape, 11);
    const ours = await noLeak(() => tf.tidy(() => model.predict(tf.tensor(x, shape)).dataSync()));
    const theirs = await reference(path, x, shape);
    expect(ours.length).toBe(theirs.length);
    expect(relativeError(ours, theirs)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('strips a final Softmax: the default logits give the graph probabilities back through softmax', async () => {
    const path = join(DIR, 'residual_op17.onnx');
    const model = await loadModel(path);
    expect(model.softmaxStripped).toBe(true);
    const shape = [4, ...model.inputShape];
    const x = seededInput(shape, 5);
    const probs = tf.tidy(() => tf.softmax(model.predict(tf.tensor(x, shape))).dataSync());
    expect(relativeError(probs, await reference(path, x, shape))).toBeLessThan(1e-4);
    // The logits are not probabilities: a stripped model must not sum to one.
    const sums = tf.tidy(() => tf.sum(model.predict(tf.tensor(x, shape)), 1).dataSync());
    expect(Array.from(sums).some((s) => Math.abs(s - 1) > 1e-2)).toBe(true);
    model.dispose();
  });

  it('exposes the logit before a final Sigmoid (single-output models), equal to logit(p) of onnxruntime', async () => {
    const path = join(DIR, 'sigmoid_output_op13.onnx');
    const { core, info } = await onnxCore(path, 'auto');
    expect(info.lastOp).toBe('Sigmoid');
    const shape = [7, 6];
    const x = seededInput(shape, 2);
    const z = tf.tidy(() => core.sigmoid!.logits!(tf.tensor(x, shape)).dataSync());
    const p = await reference(path, x, shape);
    expect(relativeError(z, Array.from(p, (v) => Math.log(v / (1 - v))))).toBeLessThan(1e-4);
    core.dispose();
  });

  it('loads a single-sigmoid-output export as a binary classifier: logits [0, z] with z from onnxruntime, and PGD attacks it', async () => {
    const path = join(DIR, 'sigmoid_output_op13.onnx');
    const model = await loadModel(path);
    expect(model.numClasses).toBe(2);
    expect(model.sigmoidStripped).toBe(true);
    const shape = [16, 6];
    const x = seededInput(shape, 3);
    const logits = tf.tidy(() => model.predict(tf.tensor(x, shape)).dataSync());
    const p = await reference(path, x, shape);
    const z = Array.from(p, (v) => Math.log(v / (1 - v)));
    for (let i = 0; i < 16; i++) expect(logits[2 * i]).toBe(0);
    expect(relativeError(Float32Array.from({ length: 16 }, (_, i) => logits[2 * i + 1]!), z)).toBeLessThan(1e-4);
    // Labels the model gets right; a large enough Linf budget flips every one of them.
    const y = Int32Array.from(z, (v) => (v > 0 ? 1 : 0));
    const info = getAttack('pgd');
    const xt = tf.tensor(x, shape);
    const r = await info.run(model, xt, y, { ...info.defaults, eps: 5, bounds: { min: -10, max: 10 } } as Parameters<typeof info.run>[3]);
    expect(Array.from(r.isAdversarial).every((f) => f === 1)).toBe(true);
    tf.dispose([xt, r.xAdv]);
    model.dispose();
  });

  it.each(['depthwise_bn_relu6_op13.onnx', 'tabular_mlp_op11.onnx', 'residual_op17.onnx', 'vision_blocks_op13.onnx'])(
    '%s: input gradients agree with central differences of onnxruntime',
    async (file) => {
      const path = join(DIR, file);
      const model = await loadModel(path, { logits: 'as-is', engine: 'tfjs' });
      await matchesCentralDifferences(model, path);
      model.dispose();
    },
  );
});

/** d/dx of Σ_c w_c · output_c at a seeded input: robust's gradient against onnxruntime's central differences. */
async function matchesCentralDifferences(model: Awaited<ReturnType<typeof loadModel>>, path: string): Promise<void> {
  const shape = [1, ...model.inputShape];
  const x = seededInput(shape, 3);
  const k = model.numClasses;
  const weights = Float32Array.from({ length: k }, (_, c) => ((c * 7) % 5) - 2);
  const grad = tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(model.predict(v), tf.tensor2d(weights, [1, k]))))(tf.tensor(x, shape)).dataSync());
  const h = 1e-2;
  const order = Array.from(grad.keys()).sort((a, b) => Math.abs(grad[b]!) - Math.abs(grad[a]!)).slice(0, 8);
  const scale = Math.abs(grad[order[0]!]!);
  expect(scale).toBeGreaterThan(0);
  for (const i of order) {
    const plus = Float32Array.from(x);
    const minus = Float32Array.from(x);
    plus[i] = plus[i]! + h;
    minus[i] = minus[i]! - h;
    const [fp, fm] = [await reference(path, plus, shape), await reference(path, minus, shape)];
    const fd = weights.reduce((s, w, c) => s + (w * (fp[c]! - fm[c]!)) / (2 * h), 0);
    expect(Math.abs(fd - grad[i]!)).toBeLessThan(2e-2 * scale);
  }
}

describe.skipIf(ort === undefined).each(TEST_BACKENDS)('ONNX on the native engine on %s', (backend) => {
  beforeAll(() => activate(backend));

  it.each(NATIVE)('%s: logits equal onnxruntime on the file itself, input gradients equal the TF.js translation', async (file) => {
    const path = join(DIR, file);
    const native = await loadModel(path, { logits: 'as-is', engine: 'onnxruntime' });
    const translated = await loadModel(path, { logits: 'as-is', engine: 'tfjs' });
    expect(native.engine).toBe('onnxruntime');
    expect(native.layout).toBe('nchw');
    const shape = [5, ...native.inputShape];
    const x = seededInput(shape, 11);
    const r = Float32Array.from({ length: 5 * native.numClasses }, (_, i) => ((i * 5) % 7) - 3);
    const [ours, g1, g2] = await noLeak(() =>
      tf.tidy(() => {
        const xt = tf.tensor(x, shape);
        const loss = (m: typeof native) => (v: tf.Tensor) => tf.sum(tf.mul(m.predict(v), tf.tensor2d(r, [5, native.numClasses])));
        return [native.predict(xt).dataSync(), tf.grad(loss(native))(xt).dataSync(), tf.grad(loss(translated))(xt).dataSync()];
      }),
    );
    expect(relativeError(ours!, await reference(path, x, shape))).toBeLessThan(1e-5);
    expect(relativeError(g1!, g2!)).toBeLessThan(1e-4);
    expect(g2!.some((v) => v !== 0)).toBe(true);
    native.dispose();
    translated.dispose();
  });

  it.each(['vision_blocks_op13.onnx', 'mobile_blocks_op13.onnx'])('%s: the native input gradient agrees with central differences of onnxruntime', async (file) => {
    const path = join(DIR, file);
    const model = await loadModel(path, { logits: 'as-is', engine: 'onnxruntime' });
    await matchesCentralDifferences(model, path);
    model.dispose();
  });

  it('is what auto picks; a graph it does not cover stays on the translation, and engine onnxruntime refuses it', async () => {
    const covered = await loadModel(join(DIR, 'cifar_blocks_op13.onnx'));
    expect(covered.engine).toBe('onnxruntime');
    expect(fusedGradientOf(covered)).toBeDefined();
    covered.dispose();
    const path = join(DIR, 'depthwise_bn_relu6_op13.onnx'); // HardSigmoid: not in the native pass
    const fallback = await loadModel(path);
    expect(fallback.engine).toBe('tfjs');
    fallback.dispose();
    await expect(loadModel(path, { engine: 'onnxruntime' })).rejects.toThrow(/native engine does not cover/);
    await expect(loadModel(path, { engine: 'onnxruntime' })).rejects.toBeInstanceOf(UsageError);
    const unoptimized = await loadModel(join(DIR, 'cifar_blocks_op13.onnx'), { optimize: false });
    expect(unoptimized.engine).toBe('tfjs');
    unoptimized.dispose();
  });
});

describe('ONNX refusals and file safety', () => {
  beforeAll(() => activate('cpu'));
  const tmp = mkdtempSync(join(tmpdir(), 'robust-onnx-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('refuses custom-domain ops with exit 2 (InputError)', async () => {
    const err = await loadModel(join(DIR, 'custom_domain_op13.onnx')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain('com.example.FancyScale (node custom_node)');
  });

  it('lists every untranslatable op with its node name', async () => {
    // Strip the custom op so that only standard-but-untranslated ops remain.
    const model = onnxProto.onnx.ModelProto.decode(readFileSync(join(DIR, 'custom_domain_op13.onnx')));
    model.graph!.node = model.graph!.node!.slice(0, 2);
    model.graph!.node[1]!.output = ['output'];
    const path = join(tmp, 'untranslated.onnx');
    writeFileSync(path, onnxProto.onnx.ModelProto.encode(model).finish());
    // onnxruntime present: the model runs black-box; the op list is what a gradient attack reports.
    const loaded = await loadModel(path).catch((e: unknown) => e);
    const message = loaded instanceof Error ? loaded.message : (loaded as { accessNote?: string }).accessNote ?? '';
    expect(message).toContain('Erf (node erf_node)');
    expect(message).toContain('Round (node round_node)');
    if (!(loaded instanceof Error)) (loaded as { dispose(): void }).dispose();
  });

  it('refuses external data outside the model folder, and truncated external data', async () => {
    const model = onnxProto.onnx.ModelProto.decode(readFileSync(join(DIR, 'external/model.onnx')));
    const entry = model.graph!.initializer![0]!.externalData!.find((e) => e.key === 'location')!;
    entry.value = '../weights.bin';
    const dir = join(tmp, 'escape');
    rmSync(dir, { recursive: true, force: true });
    await import('node:fs').then((fs) => fs.mkdirSync(dir));
    copyFileSync(join(DIR, 'external/weights.bin'), join(tmp, 'weights.bin'));
    writeFileSync(join(dir, 'model.onnx'), onnxProto.onnx.ModelProto.encode(model).finish());
    await expect(loadModel(join(dir, 'model.onnx'))).rejects.toThrow(/outside the model folder/);

    const short = join(tmp, 'short');
    await import('node:fs').then((fs) => fs.mkdirSync(short, { recursive: true }));
    copyFileSync(join(DIR, 'external/model.onnx'), join(short, 'model.onnx'));
    writeFileSync(join(short, 'weights.bin'), readFileSync(join(DIR, 'external/weights.bin')).subarray(0, 1000));
    await expect(loadModel(join(short, 'model.onnx'))).rejects.toThrow(/re-copy the model files/);
  });

  it('refuses bytes that are not ONNX with a one-line InputError', async () => {
    const path = join(tmp, 'junk.onnx');
    writeFileSync(path, Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await expect(loadModel(path)).rejects.toBeInstanceOf(InputError);
  });

  it('hashes the .onnx file followed by its external data', async () => {
    const { createHash } = await import('node:crypto');
    const model = await loadModel(join(DIR, 'external/model.onnx'));
    const expected = createHash('sha256').update(readFileSync(join(DIR, 'external/model.onnx'))).update(readFileSync(join(DIR, 'external/weights.bin'))).digest('hex');
    expect(model.sha256).toBe(expected);
    model.dispose();
  });
});

describe.skipIf(ort === undefined)('ONNX black-box fallback through onnxruntime', () => {
  beforeAll(() => activate('cpu'));

  it('runs a graph with an untranslatable op (GELU as Erf) for scores only; gradient attacks are refused, Square runs', async () => {
    const path = join(DIR, 'gelu_mlp_op13.onnx');
    const model = await loadModel(path, { bounds: { min: 0, max: 1 } });
    expect(model.access).toBe('scores');
    expect(model.accessNote).toContain('Erf (node');
    const shape = [6, 8];
    const x = seededInput(shape, 9);
    const ours = tf.tidy(() => model.predict(tf.tensor(x, shape)).dataSync());
    expect(relativeError(ours, await reference(path, x, shape))).toBeLessThan(1e-6);
    const labels = Int32Array.from(tf.tidy(() => tf.argMax(model.predict(tf.tensor(x, shape)), 1).dataSync()));
    const xt = tf.tensor(x, shape);
    await expect(getAttack('pgd').run(model, xt, labels, { eps: 0.1 } as never)).rejects.toThrow(UsageError);
    await expect(getAttack('pgd').run(model, xt, labels, { eps: 0.1 } as never)).rejects.toThrow(/Erf \(node/);
    const r = await getAttack('square').run(model, xt, labels, { eps: 0.5, queries: 200, seed: 'bb' } as never);
    expect(r.xAdv.shape).toEqual(shape);
    r.xAdv.dispose();
    xt.dispose();
    model.dispose();
  });
});

describe('layouts', () => {
  beforeAll(() => activate('cpu'));

  it('transposes mnist digits (NHWC) to an NCHW model and keeps the values', async () => {
    const model = await loadModel(join(DIR, 'mnist_cnn_op11.onnx'));
    expect(model.layout).toBe('nchw');
    expect(model.inputShape).toEqual([1, 28, 28]);
    const ds = await loadDataset('mnist:test', { n: 3 });
    const moved = toModelLayout(ds, model);
    expect(moved.shape).toEqual([1, 28, 28]);
    // One channel: the bytes are the same, only the shape changes.
    expect(Array.from(moved.x)).toEqual(Array.from(ds.x));
    model.dispose();
  });

  it('moves channels first for a 3-channel image, element by element', () => {
    const x = Float32Array.from({ length: 2 * 2 * 3 * 3 }, (_, i) => i);
    const ds = { x, y: Int32Array.from([0, 1]), shape: [2, 3, 3], n: 2, source: 'test', sha256: '', layout: 'nhwc' as const };
    const moved = toModelLayout(ds, { layout: 'nchw' });
    const expected = tf.tidy(() => tf.transpose(tf.tensor4d(x, [2, 2, 3, 3]), [0, 3, 1, 2]).dataSync());
    expect(Array.from(moved.x)).toEqual(Array.from(expected));
    expect(moved.shape).toEqual([3, 2, 3]);
    // A .npy dataset (no layout) is the user's own layout: left alone.
    const npy = { ...ds, layout: undefined };
    expect(toModelLayout(npy, { layout: 'nchw' })).toBe(npy);
  });
});

describe('robust attack on ONNX files', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'robust-onnx-cli-'));
  beforeAll(() => activate('cpu'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('attacks a PyTorch export with mnist: digits (moved to NCHW) exactly as with the same digits as an NCHW .npy; adversarials stay valid', async () => {
    const model = join(DIR, 'mnist_cnn_op11.onnx');
    const ds = await loadDataset('mnist:test', { n: 12 });
    const nchw = toModelLayout(ds, { layout: 'nchw' });
    await writeNpy(join(tmp, 'x.npy'), nchw.x, [nchw.n, ...nchw.shape], 'float32');
    await writeNpy(join(tmp, 'y.npy'), nchw.y, [nchw.n], 'int32');
    const common = ['--backend', 'cpu', 'attack', '--model', model, '--attack', 'pgd', '--eps', '0.05', '--steps', '5', '--seed', '3'];
    const fromMnist = await runCli(...common, '--data', 'mnist:test', '--n', '12', '--save-adv', join(tmp, 'adv.npy'));
    const fromNpy = await runCli(...common, '--x', join(tmp, 'x.npy'), '--y', join(tmp, 'y.npy'));
    expect(fromMnist.code, fromMnist.stderr).toBe(0);
    expect(fromNpy.code, fromNpy.stderr).toBe(0);
    const table = (out: string): string => out.split('\n').filter((l) => /^\s*0\.05\s/.test(l)).join('\n');
    expect(table(fromMnist.stdout)).not.toBe('');
    expect(table(fromMnist.stdout)).toBe(table(fromNpy.stdout));
    const adv = await readNpy(join(tmp, 'adv.npy'));
    expect(adv.shape).toEqual([12, 1, 28, 28]);
    for (let i = 0; i < adv.data.length; i++) {
      const v = Number(adv.data[i]);
      expect(v >= 0 && v <= 1 && Math.abs(v - nchw.x[i]!) <= 0.05 + 1e-6).toBe(true);
    }
  });

  it.skipIf(ort === undefined)('exits 2 with the untranslated ops when a gradient attack meets a black-box model, and runs square', async () => {
    const x = seededInput([6, 8], 4);
    await writeNpy(join(tmp, 'xt.npy'), x, [6, 8], 'float32');
    await writeNpy(join(tmp, 'yt.npy'), Int32Array.from([0, 1, 2, 0, 1, 2]), [6], 'int32');
    const args = ['--backend', 'cpu', 'attack', '--model', join(DIR, 'gelu_mlp_op13.onnx'), '--x', join(tmp, 'xt.npy'), '--y', join(tmp, 'yt.npy'), '--eps', '0.1'];
    const pgd = await runCli(...args, '--attack', 'pgd');
    expect(pgd.code).toBe(2);
    expect(pgd.stderr).toMatch(/Erf \(node .*\)/);
    const square = await runCli(...args, '--attack', 'square', '--queries', '50');
    expect(square.code, square.stderr).toBe(0);
    expect(square.stderr).toContain('black-box through onnxruntime');
  });
});
