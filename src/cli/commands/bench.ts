import type { Command } from 'commander';
import { BACKEND_NAMES, MAX_WASM_THREADS, type BackendChoice } from '../../backends/index.js';
import { benchMarkdown, benchRatios, readBenchResult, runBenchmarks } from '../../bench/index.js';
import { UsageError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import type { Io } from '../io.js';
import { globalsOf, type GlobalOptions } from '../globals.js';
import { benchModel } from '../../bench/model.js';
import { loadModel } from '../../models/load.js';
import { checkOutputs } from '../../util/paths.js';
import { formatBytes } from '../../util/memory.js';
import { formatDuration } from '../../report/format.js';
import { parseInteger } from '../parse.js';
import { startBackend } from '../options.js';

interface BenchFlags {
  quick?: boolean;
  markdown?: string;
  backends?: string;
  peer: boolean;
  peerOnly?: boolean;
  python?: string;
  render?: string;
  compare?: string;
  threadsList?: string;
  model?: string;
  batch?: number;
  steps?: number;
}

function backendList(text: string): BackendChoice[] {
  const choices: string[] = ['auto', ...BACKEND_NAMES];
  return text.split(',').map((name) => {
    const b = name.trim();
    if (!choices.includes(b)) throw new UsageError(`--backends: "${b}" is not a backend; choose from ${choices.join(', ')}`);
    return b as BackendChoice;
  });
}

function threadsOf(list: string | undefined, single: number | undefined): { wasmThreads?: number[] } {
  if (list === undefined) return single !== undefined ? { wasmThreads: [single] } : {};
  const counts = list.split(',').map((t) => Number(t.trim()));
  const bad = counts.find((c) => !Number.isInteger(c) || c < 1 || c > MAX_WASM_THREADS);
  if (bad !== undefined) throw new UsageError(`--threads-list: "${list}" must be whole numbers from 1 to ${MAX_WASM_THREADS}, e.g. 2,1`);
  return { wasmThreads: counts };
}

/** `robust bench --model`: one user model, measured (see src/bench/model.ts); a thin shell over `benchModel`. */
async function benchOneModel(path: string, flags: BenchFlags, globals: GlobalOptions, io: Io): Promise<void> {
  const outputs = [globals.json, flags.markdown].flatMap((p, i) => (p === undefined ? [] : [{ label: i === 0 ? '--json' : '--markdown', path: p }]));
  await checkOutputs(outputs, [{ label: '--model', path }]);
  if (flags.markdown !== undefined) throw new UsageError('--markdown is for the reference benchmark; with --model use --json');
  await startBackend(globals, io);
  const model = await loadModel(path);
  try {
    const r = await benchModel(model, { ...(flags.batch !== undefined ? { batch: flags.batch } : {}), ...(flags.steps !== undefined ? { steps: flags.steps } : {}), seed: globals.seed });
    const shape = `[${r.inputShape.join(', ')}]`;
    io.out(`${path}: inputs ${shape}, ${r.classes} classes, engine ${r.engine}${r.optimized ? ' (attack-time pass)' : ''}`);
    io.out(`forward + input gradient: ${r.ceiling.imageGradientStepsPerSecond.toFixed(2)} examples/s (batch ${r.ceiling.batchSize})`);
    io.out(`PGD, early stop off: ${r.pgd.imageGradientStepsPerSecond.toFixed(2)} image-gradient steps/s (${r.pgd.steps} steps, batch ${r.pgd.batchSize})`);
    io.out(`memory per example: ${formatBytes(r.perExampleBytes)}`);
    io.out(`PGD-40 on 1,000 examples: about ${formatDuration(r.pgd40Per1000Seconds)}`);
    if (globals.json) await writeFileAtomic(globals.json, `${JSON.stringify(r, null, 2)}\n`);
  } finally {
    model.dispose();
  }
}

/** `robust bench`: robust's attack speed and memory, and its peers (PyTorch, stock TF.js) in the same run. */
export function registerBenchCommand(program: Command, io: Io): void {
  program
    .command('bench')
    .description('benchmark attack speed and memory against PyTorch and plain TF.js on the same digits (minutes; --quick for a smoke run)')
    .option('--quick', 'small sizes: a smoke run, not numbers to quote')
    .option('--markdown <file>', 'also write the Markdown page (docs/benchmarks.md)')
    .option('--backends <list>', 'backends to measure, e.g. wasm,cpu (default: --backend)')
    .option('--no-peer', 'skip the peers (PyTorch via python3-torch, the plain loop on stock TF.js)')
    .option('--peer-only', 'run only the peers (on the digits and model robust would use)')
    .option('--python <path>', 'Python interpreter with torch and numpy (default: $ROBUST_PYTHON, python3, /usr/bin/python3)')
    .option('--render <result.json>', 'measure nothing: report a result written earlier by --json')
    .option('--threads-list <list>', 'wasm thread counts to measure one after the other, e.g. 2,1 (the first feeds the ratios; default: --threads)')
    .option('--compare <files>', 'earlier results (comma-separated JSON files) for a run-to-run table of the ratios')
    .option('--model <model.json>', 'measure this model instead, as a suite would run it: forward + input gradient, PGD steps with early stop off, memory per example, and the cost of PGD-40 on 1,000 examples')
    .option('--batch <n>', 'with --model: examples per batch (default 8)', parseInteger('--batch', 1))
    .option('--steps <n>', 'with --model: PGD steps (default 10)', parseInteger('--steps', 1))
    .action(async (flags: BenchFlags, self: Command) => {
      const globals = globalsOf(self);
      if (flags.model !== undefined) {
        await benchOneModel(flags.model, flags, globals, io);
        return;
      }
      if (flags.batch !== undefined || flags.steps !== undefined) throw new UsageError('--batch and --steps go with --model');
      if (flags.peerOnly && !flags.peer) throw new UsageError('--peer-only and --no-peer leave nothing to run; drop one');
      const earlier = await Promise.all((flags.compare ?? '').split(',').filter(Boolean).map((f) => readBenchResult(f.trim())));
      const result = flags.render ? await readBenchResult(flags.render) : await runBenchmarks({
        quick: Boolean(flags.quick),
        backends: backendList(flags.backends ?? globals.backend),
        ...threadsOf(flags.threadsList, globals.threads),
        peer: flags.peer ? (flags.python ? { pythons: [flags.python] } : true) : false,
        measureRobust: !flags.peerOnly,
        onProgress: (message) => !globals.quiet && io.err(`bench: ${message}`),
      });
      for (const r of benchRatios(result)) {
        io.out(`${r.measure}: robust ${r.robust}, peer ${r.peer}${r.ratio === null ? '' : `, ratio ${r.ratio.toFixed(2)}`}${r.met === null ? '' : r.met ? ' (target met)' : ` (target ${r.target} not met)`}`);
      }
      for (const note of result.notes) io.out(`note: ${note}`);
      if (globals.json) await writeFileAtomic(globals.json, `${JSON.stringify(result, null, 2)}\n`);
      if (flags.markdown) await writeFileAtomic(flags.markdown, benchMarkdown(result, { earlier }));
    });
}
