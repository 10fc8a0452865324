#!/usr/bin/env node
/**
 * robust on a real architecture (or any model.json): the ceiling (forward + input gradient of the
 * cross-entropy), PGD with early stop off, and peak memory per example, printed as one JSON object.
 * The PyTorch peer (benchmarks/peer/arch_bench.py) measures the same three the same way; run both
 * alternately with benchmarks/arch_compare.mjs.
 *
 *   node benchmarks/arch_bench.mjs --arch mobilenetv2|resnet18|resnet20|mnist-cnn [--model model.json]
 *     [--batch 8] [--steps 10] [--threads 2] [--no-optimize] [--engine auto|onnxruntime|tfjs] [--profile] [--backend wasm]
 *
 * Memory per example is measured as on the peer: the growth of the process's peak RSS (maxRSS) from a
 * batch of 1 to a batch of --batch, divided by (batch − 1). robust's own estimate (peak tensor bytes
 * sampled after every kernel) is printed beside it. Needs `npm run build` first (it runs dist/).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    arch: { type: 'string', default: 'mobilenetv2' },
    model: { type: 'string' },
    batch: { type: 'string', default: '8' },
    steps: { type: 'string', default: '10' },
    threads: { type: 'string', default: '2' },
    backend: { type: 'string', default: 'wasm' },
    'no-optimize': { type: 'boolean', default: false },
    engine: { type: 'string', default: 'auto' },
    profile: { type: 'boolean', default: false },
    seed: { type: 'string', default: '0' },
  },
});

const { tf } = await import(join(root, 'dist/tf.js'));
const { useBackend } = await import(join(root, 'dist/backends/index.js'));
const { loadModel, saveLayersModel } = await import(join(root, 'dist/models/index.js'));
const { ARCHITECTURES } = await import(join(root, 'dist/models/architectures.js'));
const { getAttack } = await import(join(root, 'dist/attacks/registry.js'));
const { estimateMemory } = await import(join(root, 'dist/util/memory.js'));

await useBackend(values.backend, { threads: Number(values.threads) });
const optimize = !values['no-optimize'];
let modelPath = values.model;
let tmp;
if (modelPath === undefined) {
  if (values.arch === 'mnist-cnn') modelPath = join(root, 'models/mnist-cnn/model.json');
  else {
    const build = ARCHITECTURES[values.arch];
    if (build === undefined) throw new Error(`unknown --arch ${values.arch}`);
    tmp = mkdtempSync(join(tmpdir(), 'robust-arch-'));
    const net = build({ seed: Number(values.seed) });
    await saveLayersModel(net, tmp);
    net.dispose();
    modelPath = join(tmp, 'model.json');
  }
}
const model = await loadModel(modelPath, { optimize, engine: values.engine });
const batch = Number(values.batch);
const steps = Number(values.steps);
const shape = model.inputShape;
const maxRss = () => process.resourceUsage().maxRSS * 1024;

function inputs(n) {
  const x = tf.randomUniform([n, ...shape], 0, 1, 'float32', 1);
  const y = Int32Array.from({ length: n }, (_, i) => (i * 7) % model.numClasses);
  return { x, y };
}
async function settle(t) {
  await t.data();
}
function gradStep(x, y) {
  const onehot = tf.oneHot(tf.tensor1d(y, 'int32'), model.numClasses);
  const g = tf.grad((input) => tf.losses.softmaxCrossEntropy(onehot, model.predict(input)))(x);
  onehot.dispose();
  return g;
}

// Memory: peak RSS after one gradient at batch 1, then at the full batch.
const one = inputs(1);
let g = gradStep(one.x, one.y);
await settle(g);
g.dispose();
one.x.dispose();
const rss1 = maxRss();
const full = inputs(batch);
g = gradStep(full.x, full.y);
await settle(g);
g.dispose();
const rssB = maxRss();
const estimate = estimateMemory(model);

// Ceiling: the fastest of 3 rounds of 3 calls.
let ceilingSeconds = Infinity;
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  for (let i = 0; i < 3; i++) {
    const gi = gradStep(full.x, full.y);
    await settle(gi);
    gi.dispose();
  }
  ceilingSeconds = Math.min(ceilingSeconds, (performance.now() - t0) / 1000);
}

// PGD, early stop off, eps 8/255, through robust's attack (the loop a suite runs).
const t0 = performance.now();
const res = await getAttack('pgd').run(model, full.x, full.y, { eps: 8 / 255, steps, earlyStop: false, seed: 0 });
await settle(res.xAdv);
const pgdSeconds = (performance.now() - t0) / 1000;
res.xAdv.dispose();

let profile;
if (values.profile) {
  const info = await tf.profile(() => {
    const gp = gradStep(full.x, full.y);
    gp.dataSync();
    gp.dispose();
  });
  const byKernel = new Map();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += ms;
    e.calls += 1;
    byKernel.set(k.name, e);
  }
  const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
  profile = {
    totalMs: total,
    peakBytes: info.peakBytes,
    kernels: [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).map(([name, e]) => ({ name, ms: e.ms, calls: e.calls, share: e.ms / total })),
  };
}
full.x.dispose();
model.dispose();
if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });

console.log(
  JSON.stringify({
    side: 'robust',
    arch: values.arch,
    optimized: model.optimized,
    engine: model.engine,
    backend: values.backend,
    threads: Number(values.threads),
    batch,
    ceiling: { seconds: ceilingSeconds, imgStepsPerSecond: (3 * batch) / ceilingSeconds },
    pgd: { steps, seconds: pgdSeconds, imgStepsPerSecond: (steps * batch) / pgdSeconds, gradientEvaluations: res.gradientEvaluations ?? steps * batch },
    memory: { rssPerExampleBytes: (rssB - rss1) / (batch - 1), peakRssBytes: rssB, tensorBytesPerExample: estimate.perExampleBytes },
    profile,
  }),
);
