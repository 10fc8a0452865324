#!/usr/bin/env node
/**
 * robust against PyTorch on the reference architectures, alternating the two sides run by run (each in
 * a fresh process, on the same cores), and the medians and ranges of the ratios. Other load on a shared
 * machine moves single figures by 2x; alternating spreads it over both sides.
 *
 *   node benchmarks/arch_compare.mjs [--runs 5] [--archs mobilenetv2,resnet18,resnet20,mnist-cnn]
 *     [--threads 2] [--engine auto|onnxruntime|tfjs] [--out benchmarks/results/arch.json] [--python /usr/bin/python3]
 *     [--onnx]
 *
 * With --onnx, robust does not build the network itself: the peer exports its own PyTorch model with
 * torch.onnx.export (dynamic batch, opset 13) and robust loads that file, so both sides run the very same
 * network, the way a user brings a PyTorch model to robust.
 *
 * Sizes per architecture (batch, PGD steps) are below; `npm run build` first.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    archs: { type: 'string', default: 'mobilenetv2,resnet18,resnet20,mnist-cnn' },
    threads: { type: 'string', default: '2' },
    out: { type: 'string', default: join(here, 'results', 'arch.json') },
    python: { type: 'string', default: '/usr/bin/python3' },
    engine: { type: 'string', default: 'auto' },
    onnx: { type: 'boolean', default: false },
  },
});
const exports = values.onnx ? mkdtempSync(join(os.tmpdir(), 'robust-arch-onnx-')) : undefined;
// 10 PGD steps on both sides (the peer's default): a suite's PGD runs 10 to 40, and 3 would weigh the
// attack's one clean and one final forward pass as much as a third of the steps.
// mobilenetv3 (large) and efficientnet-b0 exist on the peer side only: compare them with --onnx.
const SIZES = { mobilenetv2: [4, 10], resnet18: [4, 10], resnet20: [32, 10], 'mnist-cnn': [128, 10], mobilenetv3: [4, 10], 'efficientnet-b0': [4, 10] };
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const run = (cmd, args) => JSON.parse(execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 }).trim().split('\n').pop());

const results = {};
for (const arch of values.archs.split(',')) {
  const [batch, steps] = SIZES[arch];
  const common = ['--arch', arch, '--batch', String(batch), '--steps', String(steps), '--threads', values.threads];
  const runs = [];
  const source = [];
  if (exports !== undefined) {
    const file = join(exports, `${arch}.onnx`);
    run(values.python, [join(here, 'peer', 'arch_bench.py'), '--arch', arch, '--export-onnx', file]);
    source.push('--model', file);
  }
  for (let i = 0; i < Number(values.runs); i++) {
    const load = os.loadavg()[0];
    const r = run(process.execPath, [join(here, 'arch_bench.mjs'), ...common, ...source, '--engine', values.engine]);
    const p = run(values.python, [join(here, 'peer', 'arch_bench.py'), ...common]);
    runs.push({ load, robust: r, pytorch: p });
    const ratio = r.pgd.imgStepsPerSecond / p.pgd.imgStepsPerSecond;
    console.error(`${arch} run ${i + 1}: load ${load.toFixed(1)}, PGD robust ${r.pgd.imgStepsPerSecond.toFixed(2)} vs PyTorch ${p.pgd.imgStepsPerSecond.toFixed(2)} img-steps/s (${ratio.toFixed(2)}x), memory/example ${(r.memory.rssPerExampleBytes / 2 ** 20).toFixed(0)} vs ${(p.memory.rssPerExampleBytes / 2 ** 20).toFixed(0)} MiB`);
  }
  const ratios = (f) => runs.map((x) => f(x.robust) / f(x.pytorch));
  const summary = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
  results[arch] = {
    source: exports !== undefined ? "the peer's own network, exported to ONNX" : 'built by robust (src/models/architectures.ts)',
    batch,
    steps,
    runs,
    pgdRatio: summary(ratios((s) => s.pgd.imgStepsPerSecond)),
    ceilingRatio: summary(ratios((s) => s.ceiling.imgStepsPerSecond)),
    memoryRatio: summary(ratios((s) => s.memory.rssPerExampleBytes)),
    robustPgd: median(runs.map((x) => x.robust.pgd.imgStepsPerSecond)),
    pytorchPgd: median(runs.map((x) => x.pytorch.pgd.imgStepsPerSecond)),
    robustMemoryMiB: median(runs.map((x) => x.robust.memory.rssPerExampleBytes)) / 2 ** 20,
    pytorchMemoryMiB: median(runs.map((x) => x.pytorch.memory.rssPerExampleBytes)) / 2 ** 20,
  };
  // Written after every architecture, so an interrupted comparison keeps what it finished.
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, threads: Number(values.threads), results }, null, 2));
  console.error(`${arch}: PGD ratio median ${results[arch].pgdRatio.median.toFixed(3)} (${results[arch].pgdRatio.min.toFixed(3)}-${results[arch].pgdRatio.max.toFixed(3)})`);
}
if (exports !== undefined) rmSync(exports, { recursive: true, force: true });
