#!/usr/bin/env node
/**
 * The baseline of issue 6: PGD as a TF.js user writes it without robust, on stock TF.js 4.22 (the
 * backend's own kernels, none of robust's fixes). `tf.grad` of the mean cross-entropy, then sign, step,
 * project onto the eps-ball and clip to [0, 1], `--steps` times at one batch; prints one JSON object.
 *
 *   node benchmarks/peer/tfjs_plain.mjs --model models/mnist-cnn --x x.npy --y y.npy [--backend wasm|cpu]
 *     [--batch 128] [--steps 40] [--eps 0.3]
 *
 * `robust bench` runs it in a fresh process, so robust's kernel registrations never reach it.
 * Note: stock tfjs-backend-wasm 4.22 routes MaxPoolGrad wrongly, so the adversarial examples this loop
 * finds are not trustworthy; only its speed is measured here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tfl from '@tensorflow/tfjs-layers'; // its Node bundle registers every gradient
import * as tf from '@tensorflow/tfjs-core';

const { values } = parseArgs({
  options: {
    model: { type: 'string' }, x: { type: 'string' }, y: { type: 'string' }, backend: { type: 'string', default: 'wasm' },
    batch: { type: 'string', default: '128' }, steps: { type: 'string', default: '40' }, eps: { type: 'string', default: '0.3' },
  },
});
if (!values.model || !values.x || !values.y) {
  console.error('tfjs_plain.mjs: needs --model <dir> --x <x.npy> --y <y.npy>');
  process.exit(2);
}

/** A little-endian float32 or int32 .npy, as `robust data` writes it. */
function readNpy(path) {
  const buf = readFileSync(path);
  const headerLength = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + headerLength);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = buf.subarray(10 + headerLength);
  const copy = new Uint8Array(body).buffer;
  return { shape, data: header.includes('<i4') ? new Int32Array(copy) : new Float32Array(copy) };
}

try {
  await import(`@tensorflow/tfjs-backend-${values.backend}`);
} catch {
  console.error(`tfjs_plain.mjs: no stock TF.js backend package for "${values.backend}"`);
  process.exit(3);
}
await tf.setBackend(values.backend);
await tf.ready();
const cpu = tf.findBackend('cpu');
if (cpu && 'firstUse' in cpu) cpu.firstUse = false;

const modelJson = JSON.parse(readFileSync(join(values.model, 'model.json'), 'utf8'));
const weightSpecs = modelJson.weightsManifest.flatMap((g) => g.weights);
const weightData = new Uint8Array(Buffer.concat(modelJson.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(values.model, p)))))).buffer;
const model = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs, weightData }));

const batch = Number(values.batch);
const steps = Number(values.steps);
const eps = Number(values.eps);
const alpha = eps / 4;
const xs = readNpy(values.x);
const ys = readNpy(values.y);
const b = Math.min(batch, xs.shape[0]);
const size = xs.shape.slice(1).reduce((a, v) => a * v, 1);
const x = tf.tensor(xs.data.subarray(0, b * size), [b, ...xs.shape.slice(1)]);
const onehot = tf.oneHot(tf.tensor1d(ys.data.subarray(0, b), 'int32'), 10);
const gradOf = tf.grad((input) => tf.losses.softmaxCrossEntropy(onehot, model.apply(input)));
const sync = async (t) => {
  const one = tf.tidy(() => tf.slice(tf.reshape(t, [-1]), [0], [1]));
  await one.data();
  one.dispose();
};

let xAdv = tf.tidy(() => tf.clipByValue(tf.add(x, tf.randomUniform(x.shape, -eps, eps, 'float32', 0)), 0, 1));
const warm = gradOf(xAdv);
await sync(warm);
warm.dispose();
const t0 = performance.now();
for (let t = 0; t < steps; t++) {
  const previous = xAdv;
  xAdv = tf.tidy(() => {
    const g = gradOf(previous);
    const stepped = tf.add(previous, tf.mul(tf.sign(g), alpha));
    return tf.clipByValue(tf.minimum(tf.maximum(stepped, tf.sub(x, eps)), tf.add(x, eps)), 0, 1);
  });
  previous.dispose();
  await sync(xAdv);
}
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({
  backend: tf.getBackend(),
  tfjs: tf.version_core,
  batchSize: b,
  steps,
  eps,
  seconds,
  gradientEvaluations: b * steps,
  imageGradientStepsPerSecond: (b * steps) / seconds,
}));
