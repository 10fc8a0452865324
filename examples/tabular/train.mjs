// Trains examples/tabular/model/: a small fraud classifier with ONE sigmoid output (a binary
// classifier, as deployed fraud models are), on examples/tabular/train.csv. Deterministic: fixed
// initialiser seeds, no shuffling, the cpu backend. Needs the built library (npm run build):
//   node examples/tabular/train.mjs
// The model stores its per-feature bounds and normalisation (mean/std of the training data) in
// model.json, so `robust` needs no extra flags to load it.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadCsv, saveLayersModel, tf, useBackend } from '../../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
await useBackend('cpu');
const train = await loadCsv(join(here, 'train.csv'));
const test = await loadCsv(join(here, 'test.csv'));
const d = train.shape[0];

const BOUNDS = { min: [0, 0, 0, 0, 0, 0, 0, 0], max: [5000, 2000, 23, 40, 3650, 1, 1, 1] };
const mean = Array.from({ length: d }, (_, f) => train.x.filter((_, i) => i % d === f).reduce((a, b) => a + b, 0) / train.n);
const std = mean.map((m, f) => Math.sqrt(train.x.filter((_, i) => i % d === f).reduce((a, v) => a + (v - m) ** 2, 0) / train.n) || 1);
const normalise = (ds) => tf.div(tf.sub(tf.tensor2d(ds.x, [ds.n, d]), tf.tensor1d(mean)), tf.tensor1d(std));

const model = tfl.sequential({
  name: 'tabular-fraud',
  layers: [
    tfl.layers.dense({ units: 16, activation: 'relu', inputShape: [d], kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
    tfl.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
  ],
});
model.compile({ optimizer: tf.train.adam(0.01), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
const xs = normalise(train);
const ys = tf.tensor2d(train.y, [train.n, 1], 'float32');
await model.fit(xs, ys, { epochs: 40, batchSize: 64, shuffle: false, verbose: 0 });

const p = model.predict(normalise(test));
const predicted = await p.data();
const right = test.y.reduce((s, y, i) => s + ((predicted[i] > 0.5 ? 1 : 0) === y ? 1 : 0), 0);
console.log(`test accuracy ${(right / test.n).toFixed(4)} on ${test.n} examples`);

// Fold the normalisation into robust's metadata: the saved model takes raw features.
const saved = await saveLayersModel(model, join(here, 'model'), { bounds: BOUNDS, normalization: { mean, std } });
console.log(`saved ${join(here, 'model')} sha256 ${saved.sha256}`);
