import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig } from '../../suite/config.js';
import { parseShard, runSuite, type SuiteProgress } from '../../suite/run.js';
import { mergeResults } from '../../suite/merge.js';
import { initConfig } from '../../suite/init.js';
import type { SuiteResult } from '../../suite/types.js';
import { renderConsole, writeReports } from '../../report/index.js';
import { loadModel } from '../../models/index.js';
import { InputError, RobustError, UsageError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import type { BackendChoice } from '../../backends/index.js';
import type { Io } from '../io.js';
import { globalsOf } from '../main.js';
import { memoryBudgetOf, reportBatchPlan, startBackend } from '../options.js';
import { parseBool, parseInteger } from '../parse.js';
import { makeProgress, type Progress } from '../progress.js';
import { scanBeforeSuite } from './scan.js';

/** Exit code of a finished suite: 3 when unreliable and asked to fail on it, 1 when a threshold failed. */
export function exitCodeOf(result: SuiteResult, failOnUnreliable: boolean): number {
  if (result.verdict.unreliable && failOnUnreliable) return 3;
  return result.verdict.status === 'fail' ? 1 : 0;
}

/** A suite's outcome as the CLI reports it: console table, report files, exit code (thrown as a typed error). */
async function finish(result: SuiteResult, outputs: Parameters<typeof writeReports>[1], json: string | undefined, failOnUnreliable: boolean, io: Io): Promise<void> {
  io.out(renderConsole(result));
  await writeReports(result, { ...outputs, ...(json ? { json } : {}) });
  const code = exitCodeOf(result, failOnUnreliable);
  if (code === 3) throw new RobustError('unreliable', 'the evaluation is unreliable (a self-check failed, see above) and --fail-on-unreliable is set');
  if (code === 1) throw new RobustError('check', `${result.verdict.failures.length} threshold(s) failed`);
}

function progressSink(io: Io, quiet: boolean): (p: SuiteProgress) => void {
  let current: { label: string; bar: Progress } | null = null;
  return (p) => {
    const label = p.stage === 'attack' ? `${p.attack}` : p.stage;
    if (!current || current.label !== label) {
      current?.bar.stop();
      current = { label, bar: makeProgress(io, label, p.total, quiet || (p.stage !== 'attack' && p.stage !== 'certify')) };
    }
    const extra = p.robust !== undefined ? `robust ${(100 * p.robust).toFixed(1)}%` : p.certified !== undefined ? `certified ${(100 * p.certified).toFixed(1)}%` : '';
    current.bar.update(p.done, extra);
    if (p.done >= p.total) current.bar.stop();
  };
}

/** `robust test`, `robust merge` and `robust init`: robustness suites for model CI. */
export function registerTestCommands(program: Command, io: Io): void {
  program
    .command('test')
    .description('run a robustness suite and judge it against its thresholds (exit 0 pass, 1 fail, 2 bad input, 3 unreliable)')
    .option('--config <file>', 'suite file (.json or .yaml)', 'robust.config.json')
    .option('--shard <i/n>', 'run only the i-th of n deterministic slices of the examples (for CI matrix jobs)')
    .option('--fail-on-unreliable', 'exit 3 when a self-check says the evaluation may overstate robustness')
    .option('--adaptive <bool>', 'with defences: attack through BPDA/EOT gradients (true, default) or naively (false)', parseBool('--adaptive'))
    .option('--no-scan', 'skip the static scan of the model file that runs first (a critical finding stops the suite)')
    .action(async (flags: { config: string; shard?: string; failOnUnreliable?: boolean; adaptive?: boolean; scan: boolean }, self: Command) => {
      const globals = globalsOf(self);
      const shard = flags.shard !== undefined ? parseShard(flags.shard) : undefined;
      const loaded = await loadConfig(flags.config);
      if (flags.scan) await scanBeforeSuite(loaded.config.model.path, io);
      const backendFromCli = self.parent?.getOptionValueSource('backend') === 'cli';
      const seedFromCli = self.parent?.getOptionValueSource('seed') === 'cli';
      const result = await runSuite(loaded, {
        ...(backendFromCli ? { backend: globals.backend as BackendChoice } : {}),
        ...(globals.threads !== undefined ? { threads: globals.threads } : {}),
        ...(seedFromCli ? { seed: globals.seed } : {}),
        ...(shard ? { shard } : {}),
        ...(flags.adaptive !== undefined ? { adaptive: flags.adaptive } : {}),
        maxMemoryBytes: memoryBudgetOf(globals),
        onBatchPlan: (stage, plan) => reportBatchPlan(io, globals, stage, plan),
        onBackend: (info) => globals.verbose && io.err(`backend: ${info.name}${info.threads !== undefined ? ` on ${info.threads} thread(s)` : ''}${info.skipped.length ? `; skipped ${info.skipped.map((s) => `${s.name} (${s.reason})`).join(', ')}` : ''}`),
        onProgress: progressSink(io, globals.quiet),
      });
      await finish(result, loaded.config.outputs ?? {}, globals.json, Boolean(flags.failOnUnreliable), io);
    });

  program
    .command('merge')
    .description('combine the JSON results of robust test --shard 1/n … n/n into the result of one run')
    .argument('<results...>', 'shard result files (JSON)')
    .option('--junit <file>', 'also write JUnit XML')
    .option('--markdown <file>', 'also write a Markdown summary')
    .option('--html <file>', 'also write the HTML report')
    .option('--fail-on-unreliable', 'exit 3 when a self-check failed')
    .action(async (files: string[], flags: { junit?: string; markdown?: string; html?: string; failOnUnreliable?: boolean }, self: Command) => {
      const globals = globalsOf(self);
      const shards: SuiteResult[] = [];
      for (const f of files) {
        let text: string;
        try {
          text = await readFile(f, 'utf8');
        } catch {
          throw new InputError(`shard result not found: ${f}`);
        }
        try {
          shards.push(JSON.parse(text) as SuiteResult);
        } catch {
          throw new InputError(`${f} is not valid JSON; pass the result files robust test --shard wrote`);
        }
      }
      const merged = mergeResults(shards);
      const outputs = { ...(flags.junit ? { junit: flags.junit } : {}), ...(flags.markdown ? { markdown: flags.markdown } : {}), ...(flags.html ? { html: flags.html } : {}) };
      await finish(merged, outputs, globals.json, Boolean(flags.failOnUnreliable), io);
    });

  program
    .command('init')
    .description('write a commented starting suite (robust.config.yaml) for a model')
    .requiredOption('--model <model.json>', 'the model to test')
    .option('--data <source>', 'data source for the suite', 'mnist:test')
    .option('--n <count>', 'examples to evaluate', parseInteger('--n', 1), 500)
    .option('--out <file>', 'where to write the suite', 'robust.config.yaml')
    .option('--force', 'overwrite an existing file')
    .action(async (flags: { model: string; data: string; n: number; out: string; force?: boolean }, self: Command) => {
      const globals = globalsOf(self);
      if (existsSync(flags.out) && !flags.force) throw new UsageError(`${flags.out} exists; pass --force to overwrite it or --out <file> to write elsewhere`);
      await startBackend(globals, io);
      const model = await loadModel(flags.model);
      try {
        await writeFileAtomic(flags.out, initConfig(model, { configPath: flags.out, modelPath: flags.model, data: flags.data, n: flags.n }));
      } finally {
        model.dispose();
      }
      io.out(`wrote ${flags.out}; run it with: robust test --config ${flags.out}`);
    });
}
