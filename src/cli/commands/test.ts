import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { loadConfig } from '../../suite/config.js';
import { parseShard, runSuite, type SuiteProgress } from '../../suite/run.js';
import { mergeResults } from '../../suite/merge.js';
import { initConfig, initDataSource, startingEps, takesMnist, type InitMeasurement } from '../../suite/init.js';
import { runAttack } from '../../attacks/run.js';
import { createInterface } from 'node:readline/promises';
import { loadDataset, parseDataSource, takeSubset, validateDataset } from '../../data/index.js';
import { accuracy, predictLabels } from '../../metrics/accuracy.js';
import { discoverConfig } from '../../suite/discover.js';
import type { SuiteResult } from '../../suite/types.js';
import { renderConsole, writeReports } from '../../report/index.js';
import { formatDuration, shardLabel } from '../../report/format.js';
import { loadModel } from '../../models/index.js';
import { InputError, RobustError, UsageError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { checkOutputs, type NamedPath } from '../../util/paths.js';
import { preflightOutputs } from '../../suite/preflight.js';
import type { KeyObject } from 'node:crypto';
import { readPrivateKey, signResult } from '../../provenance/sign.js';
import type { BackendChoice } from '../../backends/index.js';
import { stdoutOf, type Io } from '../io.js';
import { globalsOf } from '../globals.js';
import { memoryBudgetOf, reportBackend, reportBatchPlan, startBackend } from '../options.js';
import { parseBool, parseInteger } from '../parse.js';
import { makeProgress, type Progress } from '../progress.js';
import { scanBeforeSuite } from './scan.js';

/**
 * Exit code of a finished suite: 3 when a check failed (the evaluation is unreliable) unless unreliable runs are
 * allowed, else 1 when a threshold failed, else 0. Unreliable fails by default: a gradient-masked model would
 * otherwise pass a CI gate on numbers that overstate its robustness.
 */
export function exitCodeOf(result: SuiteResult, allowUnreliable: boolean): number {
  if (result.verdict.unreliable && !allowUnreliable) return 3;
  return result.verdict.status === 'fail' ? 1 : 0;
}

/** A suite's outcome as the CLI reports it: console table, report files, exit code (thrown as a typed error). */
async function finish(result: SuiteResult, outputs: Parameters<typeof writeReports>[1], json: string | undefined, allowUnreliable: boolean, io: Io, extra: ReportExtras = {}): Promise<void> {
  const all = { ...outputs, ...(json ? { json } : {}), ...(extra.cyclonedx ? { cyclonedx: extra.cyclonedx } : {}) };
  // With a report on standard output, the console table goes to stderr so the report stays parseable.
  (Object.values(all).includes('-') ? io.err : io.out)(renderConsole(result, { color: io.colour }));
  // Signed last, over the final result, so the JSON written is exactly what the signature covers.
  const final = extra.signingKey ? signResult(result, extra.signingKey) : result;
  await writeReports(final, all, stdoutOf(io));
  if (result.manifest.shard) {
    // A shard's numbers are a slice: thresholds and checks are judged once, by robust merge. Only errors (a pin
    // mismatch, bad input) fail a shard, so a CI step can run it without swallowing exit codes.
    io.err(`robust: shard ${shardLabel(result.manifest.shard)}: thresholds and checks are judged by robust merge of all shards`);
    return;
  }
  const code = exitCodeOf(result, allowUnreliable);
  if (code === 3) {
    throw new RobustError('unreliable', 'UNRELIABLE: an evaluation check failed (see above), so the numbers may overstate robustness; fix the evaluation, or pass --allow-unreliable (or set allowUnreliable: true) to exit 0 anyway');
  }
  if (result.verdict.unreliable) io.err('robust: warning: the evaluation is UNRELIABLE (an evaluation check failed); exiting 0 because unreliable runs are allowed');
  if (code === 1) throw new RobustError('check', `${result.verdict.failures.length} threshold(s) failed`);
}

/** Runs estimated longer than this get a note with the estimate. */
const LONG_RUN_SECONDS = 60;


/** The arguments after `robust` as the user typed them (commander keeps the full argv on the root command). */
function commandLineOf(cmd: Command): string[] {
  let root = cmd;
  while (root.parent) root = root.parent;
  const raw = (root as unknown as { rawArgs?: unknown }).rawArgs;
  return Array.isArray(raw) ? raw.slice(2).map(String) : [];
}

/** Outputs beyond the config's: a signature over the JSON result and a CycloneDX ML-BOM. */
interface ReportExtras {
  signingKey?: KeyObject;
  cyclonedx?: string;
}

/** Read the --sign key and check there is a JSON result to sign, before any work. */
async function reportExtras(flags: { sign?: string; cyclonedx?: string }, hasJson: boolean): Promise<ReportExtras> {
  if (flags.sign !== undefined && !hasJson) throw new UsageError('--sign signs the JSON result, and none is written; add --json <file> or outputs.json to the config');
  return {
    ...(flags.sign !== undefined ? { signingKey: await readPrivateKey(flags.sign) } : {}),
    ...(flags.cyclonedx !== undefined ? { cyclonedx: flags.cyclonedx } : {}),
  };
}

/** The report-file flags `robust test` and `robust merge` share. */
interface ReportFlags {
  junit?: string;
  markdown?: string;
  html?: string;
}

function reportOutputsOf(flags: ReportFlags): ReportFlags {
  return { ...(flags.junit ? { junit: flags.junit } : {}), ...(flags.markdown ? { markdown: flags.markdown } : {}), ...(flags.html ? { html: flags.html } : {}) };
}

/** The report files of a run, each named as the user wrote it: a flag, or the config's `outputs.<format>`. */
function reportTargets(outputs: ReportFlags & { json?: string; cyclonedx?: string }, flags: ReportFlags & { cyclonedx?: string }, json: string | undefined): NamedPath[] {
  const named: NamedPath[] = [];
  const all = { ...outputs, ...(flags.cyclonedx !== undefined ? { cyclonedx: flags.cyclonedx } : {}) };
  for (const format of ['json', 'junit', 'markdown', 'html', 'cyclonedx'] as const) {
    const path = all[format];
    if (path === undefined || (format === 'json' && json !== undefined)) continue;
    const label = format !== 'json' && flags[format] !== undefined ? `--${format}` : `outputs.${format}`;
    named.push({ label, path });
  }
  if (json !== undefined) named.push({ label: '--json', path: json });
  return named;
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
    .option('--config <file>', 'suite file (.json or .yaml); default: robust.config.{json,yaml,yml} here or in a parent folder up to the repository root')
    .option('--shard <i/n>', 'run only the i-th of n deterministic slices of the examples (for CI matrix jobs)')
    .option('--allow-unreliable', 'exit 0 (with a warning) instead of 3 when an evaluation check fails; also the config key allowUnreliable')
    .addOption(new Option('--fail-on-unreliable', 'the default since 0.2; kept so older CI scripts still run').hideHelp())
    .option('--adaptive <bool>', 'with defences: attack through BPDA/EOT gradients (true, default) or naively (false)', parseBool('--adaptive'))
    .option('--junit <file>', 'also write JUnit XML (overrides outputs.junit of the suite)')
    .option('--markdown <file>', 'also write a Markdown summary (overrides outputs.markdown)')
    .option('--html <file>', 'also write the HTML report (overrides outputs.html)')
    .option('--sign <key.pem>', 'sign the JSON result with this Ed25519 private key (openssl genpkey -algorithm ed25519); check it with robust verify')
    .option('--cyclonedx <file>', 'also write a CycloneDX 1.6 ML-BOM (the model card with every robustness number)')
    .option('--no-scan', 'skip the static scan of the model file that runs first (a critical finding stops the suite)')
    .action(async (flags: { config?: string; shard?: string; allowUnreliable?: boolean; adaptive?: boolean; sign?: string; cyclonedx?: string; scan: boolean } & ReportFlags, self: Command) => {
      const globals = globalsOf(self);
      const shard = flags.shard !== undefined ? parseShard(flags.shard) : undefined;
      const loaded = await loadConfig(flags.config ?? discoverConfig());
      if (flags.scan) await scanBeforeSuite(loaded.config.model.path, io);
      const extras = await reportExtras(flags, Boolean(globals.json ?? loaded.config.outputs?.json));
      const outputs = { ...(loaded.config.outputs ?? {}), ...reportOutputsOf(flags) };
      await preflightOutputs(reportTargets(outputs, flags, globals.json), { configPath: loaded.path, modelPath: loaded.config.model.path, data: loaded.config.data.source });
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
        onBackend: (info) => reportBackend(io, globals, info),
        onEstimate: ({ gradientEvaluations, seconds }) => {
          // Only long runs get the note: a CI log of a quick suite stays as it was.
          if (seconds >= LONG_RUN_SECONDS && !globals.quiet) {
            io.err(`robust: note: about ${gradientEvaluations.toExponential(1)} gradient evaluations at most; estimated ${formatDuration(seconds)} at the speed of the clean pass (early stopping makes it shorter)`);
          }
        },
        onAccessNote: (note) => io.err(`robust: ${note}; it runs black-box through onnxruntime: score-based attacks (square) only, and the gradient checks will say not probed`),
        onProgress: progressSink(io, globals.quiet),
        commandLine: commandLineOf(self),
      });
      await finish(result, outputs, globals.json, Boolean(flags.allowUnreliable ?? loaded.config.allowUnreliable), io, extras);
    });

  program
    .command('merge')
    .description('combine the JSON results of robust test --shard 1/n … n/n into the result of one run')
    .argument('<results...>', 'shard result files (JSON)')
    .option('--junit <file>', 'also write JUnit XML')
    .option('--markdown <file>', 'also write a Markdown summary')
    .option('--html <file>', 'also write the HTML report')
    .option('--allow-unreliable', 'exit 0 (with a warning) instead of 3 when an evaluation check failed')
    .addOption(new Option('--fail-on-unreliable', 'the default since 0.2').hideHelp())
    .option('--sign <key.pem>', 'sign the merged JSON result (needs --json) with this Ed25519 private key')
    .option('--cyclonedx <file>', 'also write a CycloneDX 1.6 ML-BOM')
    .action(async (files: string[], flags: { allowUnreliable?: boolean; sign?: string; cyclonedx?: string } & ReportFlags, self: Command) => {
      const globals = globalsOf(self);
      const extras = await reportExtras(flags, Boolean(globals.json));
      const outputs = reportOutputsOf(flags);
      await checkOutputs(reportTargets(outputs, flags, globals.json), files.map((f, i) => ({ label: `shard result ${i + 1}`, path: f })));
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
      await finish(merged, outputs, globals.json, Boolean(flags.allowUnreliable), io, extras);
    });

  program
    .command('init')
    .description('write a commented starting suite (robust.config.yaml) for a model, with thresholds measured on its data')
    .requiredOption('--model <model.json>', 'the model to test')
    .option('--data <source>', 'data source for the suite (default mnist:test for a 28×28×1, 10-class model; otherwise asked on a terminal, required elsewhere)')
    .option('--n <count>', 'examples to evaluate', parseInteger('--n', 1), 500)
    .option('--out <file>', 'where to write the suite', 'robust.config.yaml')
    .option('--force', 'overwrite an existing file')
    .action(async (flags: { model: string; data?: string; n: number; out: string; force?: boolean }, self: Command) => {
      const globals = globalsOf(self);
      if (existsSync(flags.out) && !flags.force) throw new UsageError(`${flags.out} exists; pass --force to overwrite it or --out <file> to write elsewhere`);
      // --force may replace an old suite, never the model or the data the new one is about.
      const out = [{ label: '--out', path: flags.out }];
      const inputsOf = (data: string | undefined) => ({ modelPath: flags.model, ...(data !== undefined ? { data: parseDataSource(initDataSource(data)) } : {}) });
      await preflightOutputs(out, inputsOf(flags.data));
      await startBackend(globals, io);
      const model = await loadModel(flags.model);
      try {
        const data = flags.data ?? (takesMnist(model) ? 'mnist:test' : await askForData(model, io));
        if (flags.data === undefined) await preflightOutputs(out, inputsOf(data));
        const measured = await measureStart(model, data, Math.min(flags.n, INIT_PROBE_EXAMPLES), globals.seed);
        // A suite cannot ask for more examples than the data has.
        const n = Math.min(flags.n, measured.total);
        await writeFileAtomic(flags.out, initConfig(model, { configPath: flags.out, modelPath: flags.model, data, n, measured }));
        io.out(`wrote ${flags.out} (clean accuracy ${measured.cleanAccuracy.toFixed(3)} on ${measured.n} examples of ${data}); run it with: robust test --config ${flags.out}`);
      } finally {
        model.dispose();
      }
    });
}

/** How many examples `robust init` predicts to set its starting thresholds: enough for two decimals, quick. */
const INIT_PROBE_EXAMPLES = 200;

/**
 * Clean accuracy of `model` on the first `n` examples of `data` (after checking the data fits the model), and
 * robust accuracy under a short PGD at the suite's smallest eps, so `init` writes thresholds that fit.
 */
async function measureStart(model: Awaited<ReturnType<typeof loadModel>>, data: string, n: number, seed: string): Promise<InitMeasurement & { total: number }> {
  const all = await loadDataset(initDataSource(data), { seed });
  const ds = all.n > n ? { ...takeSubset(all, { n }), total: all.n } : all;
  validateDataset(ds, { inputShape: model.inputShape, numClasses: model.numClasses, bounds: model.bounds });
  const cleanAccuracy = accuracy(await predictLabels(model, ds), ds.y);
  if (model.access !== 'gradients') return { cleanAccuracy, n: ds.n, total: all.n };
  const eps = startingEps(model)[0]!;
  const report = await runAttack(model, ds, { name: 'pgd', norm: 'linf', eps: [eps], options: { steps: 20, seed } }, { maxMemoryBytes: 'auto' });
  return { cleanAccuracy, robustAccuracy: report.results[0]!.robustAccuracy, n: ds.n, total: all.n };
}

/** For a model that does not take MNIST digits: ask on a terminal, else refuse with what to pass. */
async function askForData(model: { inputShape: number[]; numClasses: number }, io: Io): Promise<string> {
  const what = `the model takes inputs of shape [${model.inputShape.join(', ')}] with ${model.numClasses} classes, not MNIST digits`;
  if (!io.interactive || !process.stdin.isTTY) {
    throw new UsageError(`${what}: pass --data <source> (npy:<x.npy>,<y.npy> | images:<dir> | csv:<file.csv>) with examples it was trained for`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${what}.\nData to test it on (npy:<x.npy>,<y.npy> | images:<dir> | csv:<file.csv>): `)).trim();
    if (answer === '') throw new UsageError(`no data given; pass --data <source>`);
    return answer;
  } finally {
    rl.close();
  }
}
