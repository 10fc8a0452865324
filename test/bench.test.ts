/**
 * `robust bench`: the quick run on a tiny model and suite returns well-formed, internally consistent
 * counts; the memory measurement sees zero tensor growth over 1,000 attack batches and does see a leak;
 * ratios and targets are computed right; the PyTorch peer (when python3-torch is installed) loads the
 * reference CNN's weights so that its predictions agree with robust's. No timing is asserted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { loadDataset, type Dataset } from '../src/data/index.js';
import { loadModel } from '../src/models/index.js';
import { benchMarkdown, benchRatios, verdictLines, measureMemory, readBenchResult, parsePyTorchPeer, runBenchmarks, runPyTorchPeer, type BenchResult } from '../src/bench/index.js';
import { activate, TEST_BACKENDS } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';
import type { ModelBench } from '../src/bench/model.js';
import { CLASSES, FEATURES, linearWeights, writeLinearData, writeLinearGraphModel } from './fixtures/suite-fixtures.js';

let dir: string;
let modelPath: string;
let configPath: string;
let data: Dataset;
const { W, b } = linearWeights('bench');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'robust-bench-test-'));
  modelPath = writeLinearGraphModel(join(dir, 'model'), W, b);
  const files = await writeLinearData(join(dir, 'data'), 40, W, b, 'bench-data');
  data = await loadDataset({ kind: 'npy', x: files.x, y: files.y });
  configPath = join(dir, 'suite.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      model: { path: modelPath },
      data: { source: { x: files.x, y: files.y }, n: 30 },
      seed: 0,
      batchSize: 16,
      attacks: [
        { name: 'fgsm', eps: [0.05, 0.1] },
        { name: 'pgd', eps: [0.05, 0.1], options: { steps: 5 } },
      ],
      samples: 0,
    }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A function model of the same linear classifier; `leak` keeps one tensor alive per forward pass. */
async function linearFunctionModel(leak = false) {
  const Wt = tf.tensor2d(W, [FEATURES, CLASSES]);
  const bt = tf.tensor1d(b);
  const model = await loadModel(
    (x: tf.Tensor) => {
      if (leak) tf.keep(tf.zeros([1]));
      return tf.add(tf.matMul(x as tf.Tensor2D, Wt), bt);
    },
    { inputShape: [FEATURES], numClasses: CLASSES, name: leak ? 'leaky' : 'linear' },
  );
  return { model, dispose: () => tf.dispose([Wt, bt]) };
}

describe('runBenchmarks, quick, on a tiny model and suite (cpu)', () => {
  let result: BenchResult;
  const sizes = { batchSize: 16, ceilingIterations: 3, plainSteps: 4, pgdN: 20, pgdSteps: 6, cwN: 5, cwSteps: 8, cwBinarySteps: 2, memoryBatches: 30, memoryBatchSize: 2, suiteN: 20 };

  beforeAll(async () => {
    result = await runBenchmarks({
      quick: true,
      backends: ['cpu'],
      models: [modelPath, join(dir, 'no-such-model')],
      data,
      config: configPath,
      sizes,
      peer: false,
    });
  });

  it('reports the machine, date and backend', () => {
    expect(result.schema).toBe('robust-bench/v1');
    expect(Number.isNaN(Date.parse(result.date))).toBe(false);
    expect(result.machine.cpus).toBeGreaterThan(0);
    expect(result.machine.totalMemoryBytes).toBeGreaterThan(0);
    expect(result.machine.node).toBe(process.versions.node);
    expect(result.machine.packages['@tensorflow/tfjs-core']).toBe('4.22.0');
    expect(result.machine.loadAverage.end).toHaveLength(3);
    expect(result.backends.map((x) => x.backend)).toEqual(['cpu']);
    expect(result.peer).toBeNull();
  });

  it('skips a missing model with a note instead of failing', () => {
    expect(result.backends[0]!.models.map((m) => m.model)).toEqual([modelPath]);
    expect(result.notes.some((n) => n.includes('no-such-model') && n.includes('not found'))).toBe(true);
  });

  it('counts exactly the gradient work each measurement did', () => {
    const m = result.backends[0]!.models[0]!;
    expect(m.ceiling.gradientEvaluations).toBe(sizes.ceilingIterations * sizes.batchSize);
    expect(m.plainLoop.gradientEvaluations).toBe(sizes.plainSteps * sizes.batchSize);
    const [off, on] = m.pgd;
    // The data is labelled by the model, so every digit is clean-correct and, without early stop, every one
    // gets every step.
    expect(off!.earlyStop).toBe(false);
    expect(off!.gradientEvaluations).toBe(sizes.pgdSteps * sizes.pgdN);
    expect(on!.earlyStop).toBe(true);
    expect(on!.gradientEvaluations).toBeGreaterThan(0);
    expect(on!.gradientEvaluations).toBeLessThanOrEqual(off!.gradientEvaluations);
    expect(m.cw.n).toBe(sizes.cwN);
    expect(m.cw.gradientEvaluations).toBeGreaterThan(0);
    expect(m.cw.gradientEvaluations).toBeLessThanOrEqual(sizes.cwN * sizes.cwSteps * sizes.cwBinarySteps);
    for (const t of [m.ceiling, m.plainLoop, off!, on!, m.cw]) {
      expect(t.seconds).toBeGreaterThan(0);
      expect(t.imageGradientStepsPerSecond).toBeCloseTo(t.gradientEvaluations / t.seconds, 6);
    }
  });

  it('times the suite end to end, capped to the quick size, with its robust-accuracy table', () => {
    const suite = result.backends[0]!.suite!;
    expect(suite.n).toBe(sizes.suiteN);
    expect(suite.attacks.map((a) => a.id)).toEqual(['fgsm@linf', 'pgd@linf']);
    expect(suite.gradientEvaluations).toBe(suite.attacks.reduce((a, x) => a + x.gradientEvaluations, 0));
    // FGSM spends one gradient per clean-correct point at the smaller eps and at most one more at the larger.
    const fgsm = suite.attacks[0]!.gradientEvaluations;
    expect(fgsm).toBeGreaterThanOrEqual(sizes.suiteN);
    expect(fgsm).toBeLessThanOrEqual(2 * sizes.suiteN);
    expect(suite.cleanAccuracy).toBe(1);
    expect(suite.robustAccuracy.map((r) => r.key)).toEqual(expect.arrayContaining(['fgsm@linf:0.05', 'pgd@linf:0.1', 'worst@linf:0.1']));
  });

  it('measures memory with no tensor growth, and survives JSON', () => {
    const mem = result.backends[0]!.memory!;
    expect(mem.batches).toBe(sizes.memoryBatches);
    expect(mem.tensorGrowth).toBe(0);
    expect(mem.rssAfterBytes).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it('writes a Markdown page with the machine and every measurement', () => {
    const md = benchMarkdown(result);
    expect(md).toContain('## Machine');
    expect(md).toContain(result.machine.cpuModel);
    expect(md).toContain('robust pgd, PGD-6 eps 0.3, 20 digits, early stop off');
    expect(md).toContain('quick mode');
  });
});

describe.each(TEST_BACKENDS)('memory over many attack batches (%s)', (backend) => {
  beforeAll(async () => activate(backend));

  it('1,000 FGSM batches leave the number of tensors unchanged', async () => {
    const { model, dispose } = await linearFunctionModel();
    const mem = await measureMemory(model, data, { attack: 'fgsm', batches: 1000, batchSize: 2 });
    dispose();
    expect(mem.batches).toBe(1000);
    expect(mem.tensorGrowth).toBe(0);
    expect(mem.numTensorsAfter).toBe(mem.numTensorsBefore);
  });

  it('sees a leak when there is one (a model that keeps a tensor per forward pass)', async () => {
    const { model, dispose } = await linearFunctionModel(true);
    const mem = await measureMemory(model, data, { attack: 'pgd', batches: 20, batchSize: 2 });
    // PGD-2 calls the model at least three times per batch (clean pass, two gradients).
    expect(mem.tensorGrowth).toBeGreaterThanOrEqual(60);
    dispose();
  });
});

describe('the PyTorch peer without torch', () => {
  it('is skipped with a note, not an error, when no interpreter has torch', async () => {
    const notes: string[] = [];
    const { model, dispose } = await linearFunctionModel();
    const peer = await runPyTorchPeer(model, {
      scriptDir: 'benchmarks/peer', modelDir: 'models/mnist-cnn', data, suiteData: null, suite: null,
      pgd: { n: 1, steps: 1, eps: 0.3, batchSize: 1 }, ceilingIterations: 1, tfBackend: 'wasm',
      pythons: [join(dir, 'no-python')], onNote: (n) => notes.push(n),
    });
    dispose();
    expect(peer).toBeNull();
    expect(notes[0]).toMatch(/PyTorch peer skipped: .* imports torch and numpy; apt-get install/);
  });
});

describe('ratios and targets', () => {
  const throughput = (ips: number, evaluations = 1000) => ({ seconds: evaluations / ips, gradientEvaluations: evaluations, imageGradientStepsPerSecond: ips });
  const pgd = (earlyStop: boolean, ips: number) => ({ n: 256, eps: 0.3, steps: 40, batchSize: 128, earlyStop, robustAccuracy: 0, ...throughput(ips) });
  const fixture = (robustPgd: number, suiteSeconds: number, growth: number): BenchResult => ({
    schema: 'robust-bench/v1',
    date: '2026-01-01T00:00:00.000Z',
    quick: false,
    seconds: 1,
    machine: { cpuModel: 'cpu', cpus: 2, totalMemoryBytes: 1, platform: 'linux', release: '6', loadAverage: { start: [1, 1, 1], peers: [1, 1, 1], end: [1, 1, 1] }, node: '20', packages: {} },
    backends: [
      {
        backend: 'wasm',
        models: [
          {
            model: 'm',
            sha256: null,
            ceiling: { batchSize: 128, warmup: 1, iterations: 1, rounds: 3, ...throughput(300) },
            plainLoop: { batchSize: 128, steps: 40, eps: 0.3, ...throughput(200) },
            pgd: [pgd(false, robustPgd), pgd(true, robustPgd / 2)],
            cw: { n: 32, steps: 100, binarySteps: 9, attackSuccessRate: 1, medianL2: 1, ...throughput(100) },
          },
        ],
        suite: { config: 'c', n: 200, seconds: suiteSeconds, gradientEvaluations: 5000, cleanAccuracy: 1, attacks: [{ id: 'pgd@linf', seconds: suiteSeconds, gradientEvaluations: 5000 }], robustAccuracy: [] },
        memory: { attack: 'pgd', batches: 1000, batchSize: 2, numTensorsBefore: 10, numTensorsAfter: 10 + growth, tensorGrowth: growth, rssBeforeBytes: 1, rssAfterBytes: 1, seconds: 1 },
      },
    ],
    peer: {
      stockTfjs: { backend: 'wasm', tfjs: '4.22.0', batchSize: 128, steps: 40, eps: 0.3, ...throughput(80) },
      pytorch: {
        torch: '1.13', python: '3.11', defaultThreads: 1, threads: 2, n: 256, cleanAccuracy: 1, agreement: 1,
        ceiling: [{ threads: 1, batchSize: 128, iterations: 10, ...throughput(1000) }, { threads: 2, batchSize: 128, iterations: 10, ...throughput(1600) }],
        pgd: { n: 256, eps: 0.3, steps: 40, batchSize: 128, robustAccuracy: 0, ...throughput(1200) },
        e2e: { n: 200, cleanAccuracy: 1, results: [{ key: 'pgd@linf:0.3', attack: 'pgd', eps: 0.3, robustAccuracy: 0, seconds: 100, gradientEvaluations: 32000 }], worstCase: [], ...throughput(320, 32000) },
      },
    },
    notes: [],
  });

  it('divides robust by the peer and judges each target', () => {
    const rows = benchRatios(fixture(600, 40, 0));
    const byStart = (s: string) => rows.find((r) => r.measure.startsWith(s))!;
    expect(byStart('PGD-40 throughput (img').ratio).toBeCloseTo(0.5, 10); // 600 / 1200
    expect(byStart('PGD-40 throughput (img').met).toBe(true);
    expect(byStart('PGD-40 throughput vs').ratio).toBeCloseTo(7.5, 10); // 600 / 80
    expect(byStart('PGD-40 throughput vs').met).toBe(false);
    expect(byStart('Ceiling').ratio).toBeCloseTo(300 / 1600, 10); // against the faster thread count
    expect(byStart('End-to-end suite').ratio).toBeCloseTo(0.4, 10); // 40 s / 100 s
    expect(byStart('End-to-end suite').met).toBe(true);
    expect(byStart('End-to-end gradient').ratio).toBeCloseTo(5000 / 32000, 10);
    expect(byStart('Tensor growth').met).toBe(true);
  });

  it('marks targets missed when robust is too slow or leaks', () => {
    const rows = benchRatios(fixture(500, 60, 3));
    expect(rows.find((r) => r.measure.startsWith('PGD-40 throughput (img'))!.met).toBe(false);
    expect(rows.find((r) => r.measure.startsWith('End-to-end suite'))!.met).toBe(false);
    expect(rows.find((r) => r.measure.startsWith('Tensor growth'))!.met).toBe(false);
    expect(benchMarkdown(fixture(500, 60, 3))).toContain('**not met**');
  });

  it('says when the end-to-end target holds only through the peer\'s DeepFool', () => {
    const result = fixture(600, 40, 0);
    const torch = result.peer!.pytorch!;
    torch.e2e.seconds = 1000;
    torch.e2e.results = [
      { key: 'pgd@linf:0.3', attack: 'pgd', eps: 0.3, robustAccuracy: 0, seconds: 30, gradientEvaluations: 32000 },
      { key: 'deepfool@l2:min', attack: 'deepfool', eps: null, robustAccuracy: 0, seconds: 950, gradientEvaluations: 50000 },
    ];
    const lines = verdictLines(result);
    expect(lines.find((l) => l.startsWith('End-to-end'))).toMatch(/\*\*met\*\* \(0\.04×\), but only through DeepFool: .* took 950\.0 s of its 1000\.0 s; on FGSM \+ PGD alone robust takes 1\.33× the peer's time/);
    expect(verdictLines(fixture(600, 40, 0)).find((l) => l.startsWith('End-to-end'))).not.toMatch(/DeepFool/);
    expect(lines.find((l) => l.startsWith('Where the gap is'))).toMatch(/PGD runs at 200\.0% of its backend's ceiling .* 0\.19× PyTorch's best/);
  });

  it('tabulates earlier runs beside this one, and reads saved results back', async () => {
    const earlier = fixture(500, 60, 0);
    earlier.date = '2025-12-31T10:00:00.000Z';
    const md = benchMarkdown(fixture(600, 40, 0), { earlier: [earlier] });
    expect(md).toContain('## Run to run');
    expect(md).toMatch(/\| 2025-12-31 10:00 \| 1\.00 → 1\.00 \| 0\.42× \|/); // 500 / 1200
    const path = join(dir, 'result.json');
    writeFileSync(path, JSON.stringify(earlier));
    expect(await readBenchResult(path)).toEqual(earlier);
    writeFileSync(path, '{"schema": "robust-result/v1"}');
    await expect(readBenchResult(path)).rejects.toThrow(/is not a robust bench result/);
  });

  it('refuses malformed peer output with a one-line message', () => {
    expect(() => parsePyTorchPeer('not json')).toThrow(/peer output is not JSON/);
    expect(() => parsePyTorchPeer('{"torch": "1.13"}')).toThrow(/peer output: pgd is not an object/);
  });
});

const hasTorch = (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasTorch)('the PyTorch peer (python3-torch installed)', () => {
  beforeAll(async () => activate('wasm'));

  it('loads the reference CNN so that its predictions agree with robust\'s on the same digits', async () => {
    const model = await loadModel('models/mnist-cnn');
    const digits = await loadDataset('mnist:test', { n: 64 });
    const notes: string[] = [];
    try {
      const peer = await runPyTorchPeer(model, {
        scriptDir: 'benchmarks/peer',
        modelDir: 'models/mnist-cnn',
        data: digits,
        suiteData: null,
        suite: null,
        pgd: { n: 8, steps: 2, eps: 0.3, batchSize: 8 },
        ceilingIterations: 1,
        tfBackend: 'wasm',
        pythons: ['/usr/bin/python3'],
        onNote: (n) => notes.push(n),
      });
      expect(notes).toEqual([]);
      expect(peer!.agreement).toBeGreaterThanOrEqual(0.99);
      expect(peer!.n).toBe(64);
      expect(peer!.pgd.gradientEvaluations).toBe(16);
    } finally {
      model.dispose();
    }
  });
});

describe('robust bench --model', () => {
  it('measures a user model as a suite runs it: the engine, both rates, memory, the PGD-40 cost; JSON never over the model', async () => {
    const out = join(dir, 'model-bench.json');
    const r = await runCli('--backend', 'wasm', '--json', out, 'bench', '--model', 'models/mnist-cnn/model.json', '--batch', '4', '--steps', '2');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/PGD-40 on 1,000 examples: about/);
    const j = JSON.parse(readFileSync(out, 'utf8')) as ModelBench;
    expect(j.inputShape).toEqual([28, 28, 1]);
    expect(j.classes).toBe(10);
    expect(['onnxruntime', 'tfjs']).toContain(j.engine);
    expect(j.pgd.steps).toBe(2);
    expect(j.pgd.gradientEvaluations).toBe(8);
    expect(j.ceiling.imageGradientStepsPerSecond).toBeGreaterThan(0);
    expect(j.perExampleBytes).toBeGreaterThan(28 * 28 * 4);
    expect(j.pgd40Per1000Seconds).toBeCloseTo(40_000 / j.pgd.imageGradientStepsPerSecond, 6);
    const clash = await runCli('--json', 'models/mnist-cnn/model.json', 'bench', '--model', 'models/mnist-cnn/model.json');
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/would overwrite --model/);
  });
});
