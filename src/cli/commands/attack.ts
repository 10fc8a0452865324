import { Option, type Command } from 'commander';
import { OUTPUT_MODES, type OutputMode } from '../../models/binary.js';
import { ATTACKS, attackNames, checkAttackOptions, getAttack } from '../../attacks/registry.js';
import { runAttack, type AttackOptions, type AttackReport } from '../../attacks/run.js';
import type { Targeting } from '../../attacks/core/types.js';
import { NORM_NAMES, type NormName } from '../../attacks/core/norms.js';
import { encodeNpy, toModelLayout, validateDataset, type LoadedDataset } from '../../data/index.js';
import { loadModel, type LoadedModel } from '../../models/index.js';
import { UsageError } from '../../errors.js';
import { writeFileAtomic, writeFilesAtomic } from '../../util/atomic.js';
import { VERSION } from '../../version.js';
import type { BackendInfo } from '../../backends/index.js';
import type { Io } from '../io.js';
import { globalsOf } from '../globals.js';
import { addDataOptions, dataSourceOf, loadDataFromFlags, memoryBudgetOf, reportBatchPlan, startBackend, type DataFlags } from '../options.js';
import { flagOf, parseFlagText, type OptionSpec } from '../../options/schema.js';
import { parseInteger, parseNumberList } from '../parse.js';
import { makeProgress } from '../progress.js';
import { maxOf } from '../../tensor/range.js';
import { stdoutOf } from '../io.js';
import { checkCountLimits, preflightOutputs } from '../../suite/preflight.js';
import type { NamedPath } from '../../util/paths.js';

interface AttackFlags extends DataFlags {
  model?: string;
  modelOutput?: OutputMode;
  attack: string;
  norm?: NormName;
  eps?: number[];
  targeted?: boolean;
  target?: string;
  batchSize: number;
  saveAdv?: string;
  /** The attack's own options, one flag each (see `optionFlags`). */
  [option: string]: unknown;
}

/** One flag per option name over every attack: its declaration (the first attack's), its flag and the attacks that take it. */
interface OptionFlag {
  key: string;
  spec: OptionSpec;
  /** `--target-classes`, or the spec's own flag (`--aa-version`). */
  flag: string;
  /** Where commander puts the flag's value: the camel case of the flag (`aaVersion`). */
  attribute: string;
  attacks: string[];
}

/**
 * The flags of every attack option, generated from the registry's option schemas (`--target-classes` for
 * `targetClasses`), so every option of every attack can be set from the command line. A name shared by
 * several attacks is one flag; the chosen attack's schema checks its value (`checkAttackOptions`).
 */
export function optionFlags(): OptionFlag[] {
  const flags = new Map<string, OptionFlag>();
  for (const info of ATTACKS) {
    for (const [key, spec] of Object.entries(info.options)) {
      const flag = flags.get(key) ?? { key, spec, flag: flagOf(key, spec), attribute: new Option(flagOf(key, spec)).attributeName(), attacks: [] };
      flag.attacks.push(info.name);
      flags.set(key, flag);
    }
  }
  return [...flags.values()];
}

function addOptionFlags(cmd: Command): Command {
  for (const { key, spec, flag, attacks } of optionFlags()) {
    const help = `${spec.doc} (${attacks.join(', ')})`;
    if (spec.type === 'boolean') {
      cmd.option(flag, help);
      cmd.option(`--no-${flag.slice(2)}`, `set ${key} false`);
    } else {
      const metavar = { number: 'x', integer: 'n', enum: 'name', string: 'text', 'number-array': 'list', 'enum-array': 'list' }[spec.type];
      cmd.option(`${flag} <${metavar}>`, help, (text: string) => parseFlagText(spec, flag, text));
    }
  }
  return cmd;
}

function targetingOf(flags: AttackFlags, numClasses: number, n: number): Targeting {
  if (!flags.targeted) {
    if (flags.target !== undefined) throw new UsageError('--target needs --targeted');
    return { kind: 'untargeted' };
  }
  const t = flags.target ?? 'random';
  if (t === 'random' || t === 'least-likely') return { kind: t };
  const label = Number(t);
  if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
    throw new UsageError(`--target: expected random, least-likely or a class label in 0..${numClasses - 1}, got "${t}"`);
  }
  return { kind: 'labels', labels: new Int32Array(n).fill(label) };
}

function attackOptions(flags: AttackFlags, name: string, seed: string, targeting: Targeting): AttackOptions {
  const info = getAttack(name);
  const all = optionFlags();
  const given = Object.fromEntries(all.flatMap(({ key, attribute }) => (flags[attribute] === undefined ? [] : [[key, flags[attribute]]])));
  checkAttackOptions(info, given, { flags: true, otherFlags: Object.fromEntries(all.map((f) => [f.key, f.flag])) });
  checkCountLimits(given, (key) => all.find((f) => f.key === key)?.flag ?? `--${key}`);
  const options: AttackOptions = { ...given, seed, targeting };
  if (targeting.kind !== 'untargeted' && !info.targeted) throw new UsageError(`${name} has no targeted mode; drop --targeted or pick another attack`);
  return options;
}

/** The file for one eps of `--save-adv`: the path itself for one eps, else the eps inserted before `.npy`. */
export function advPath(path: string, eps: number | null, several: boolean): string {
  if (!several || eps === null) return path;
  const stem = path.endsWith('.npy') ? path.slice(0, -4) : path;
  return `${stem}.${eps}.npy`;
}

/** The JSON document of `robust attack` (see the attacks issue for the contract). */
export function attackJson(report: AttackReport, model: LoadedModel, ds: LoadedDataset, backend: BackendInfo, seed: string) {
  const steps = report.timing.gradientEvaluations;
  return {
    robust: VERSION,
    attack: report.attack,
    norm: report.norm,
    params: report.params,
    backend: backend.name,
    seed,
    model: { path: model.modelJsonPath ?? model.name, sha256: model.sha256 ?? null },
    data: { source: ds.source, n: ds.n, sha256: ds.sha256 },
    n: report.n,
    cleanAccuracy: report.cleanAccuracy,
    results: report.results.map((r) => ({
      eps: r.eps,
      robustAccuracy: r.robustAccuracy,
      attackSuccessRate: r.attackSuccessRate,
      perturbation: r.perturbation,
    })),
    timing: {
      seconds: report.timing.seconds,
      gradientEvaluations: steps,
      queries: report.timing.queries,
      imageGradientStepsPerSecond: report.timing.seconds > 0 ? steps / report.timing.seconds : null,
    },
  };
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const num = (v: number | null) => (v === null ? '-' : v.toFixed(4));

function table(report: AttackReport): string {
  // An L0 run's own size is a count of features; the others are read from the Linf and L2 columns.
  const sparse = report.norm === 'l0';
  const rows = [['eps', 'robust acc', 'success rate', 'linf mean', 'l2 mean', 'l2 median', ...(sparse ? ['l0 median'] : [])]];
  for (const r of report.results) {
    const p = r.perturbation;
    rows.push([r.eps === null ? 'min-norm' : String(r.eps), pct(r.robustAccuracy), pct(r.attackSuccessRate), num(p.linf.mean), num(p.l2.mean), num(p.l2.median), ...(sparse ? [p.l0.median === null ? '-' : String(p.l0.median)] : [])]);
  }
  const widths = rows[0]!.map((_, c) => maxOf(rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => cell.padStart(widths[c]!)).join('  ')).join('\n');
}

/** `robust attack`: one attack over a dataset; clean and robust accuracy, perturbation norms, gradient counts. */
export function registerAttackCommand(program: Command, io: Io): void {
  const cmd = program
    .command('attack')
    .description('run one attack over a dataset and report clean accuracy, robust accuracy and perturbation norms')
    .option('--model <model>', 'TF.js Layers or Graph model (model.json, or its folder), or an ONNX file (model.onnx)')
    .addOption(new Option('--model-output <mode>', "what the model's output holds (default auto: one unit is a binary classifier)").choices([...OUTPUT_MODES]))
    .addOption(new Option('--attack <name>', 'attack to run').choices(attackNames()).makeOptionMandatory())
    .addOption(new Option('--norm <norm>', 'threat model (default: the attack\'s own)').choices([...NORM_NAMES]))
    .option('--eps <eps>', 'budget(s), e.g. 0.3 or 0.1,0.2,0.3 (minimum-norm attacks may omit it)', parseNumberList('--eps'))
    .option('--targeted', 'aim at a target class instead of any wrong one')
    .option('--target <t>', 'random | least-likely | a class label (with --targeted)')
    .option('--batch-size <b>', 'examples per batch', parseInteger('--batch-size', 1), 100)
    .option('--save-adv <adv.npy>', 'write adversarial inputs as float32 .npy (one file per eps, eps before .npy)');
  addOptionFlags(cmd);
  addDataOptions(cmd).action(async (flags: AttackFlags, self: Command) => {
    const globals = globalsOf(self);
    if (!flags.model) throw new UsageError('robust attack needs --model <model.json|model.onnx>');
    const info = getAttack(flags.attack);
    if (flags.norm && !info.norms.includes(flags.norm)) throw new UsageError(`--norm ${flags.norm}: ${info.name} supports ${info.norms.join(', ')}`);
    if (!flags.eps && info.kind === 'fixed-eps') throw new UsageError(`${info.name} needs --eps (e.g. --eps 0.3 or --eps 0.1,0.2,0.3)`);
    // Every output is checked against the inputs and each other before the backend even starts.
    const source = dataSourceOf(flags, self);
    const epsList = flags.eps ?? [null];
    const outputs: NamedPath[] = [
      ...(flags.saveAdv ? epsList.map((e) => ({ label: '--save-adv', path: advPath(flags.saveAdv!, e, epsList.length > 1) })) : []),
      ...(globals.json ? [{ label: '--json', path: globals.json }] : []),
    ];
    await preflightOutputs(outputs, { modelPath: flags.model, data: source });
    const backend = await startBackend(globals, io);
    const model = await loadModel(flags.model, flags.modelOutput ? { output: flags.modelOutput } : {});
    try {
      if (model.accessNote !== undefined) io.err(`robust: ${model.accessNote}; it runs black-box through onnxruntime: score-based attacks (square) only`);
      const ds = toModelLayout(await loadDataFromFlags(flags, globals.seed, self), model);
      validateDataset(ds, { inputShape: model.inputShape, numClasses: model.numClasses, bounds: model.bounds });
      const targeting = targetingOf(flags, model.numClasses, ds.n);
      const options = attackOptions(flags, info.name, globals.seed, targeting);
      const bar = makeProgress(io, info.name, ds.n, globals.quiet);
      const report = await runAttack(
        model,
        ds,
        { name: info.name, ...(flags.norm ? { norm: flags.norm } : {}), eps: flags.eps ?? null, options },
        {
          batchSize: flags.batchSize,
          keepAdversarial: flags.saveAdv !== undefined,
          onProgress: (done, _t, robust) => bar.update(done, `robust ${pct(robust)}`),
          maxMemoryBytes: memoryBudgetOf(globals),
          onBatchPlan: (plan) => reportBatchPlan(io, globals, info.name, plan),
        },
      );
      bar.stop();
      const json = attackJson(report, model, ds, backend, globals.seed);
      // With --json -, the JSON owns standard output and the table goes to stderr.
      const say = globals.json === '-' ? io.err : io.out;
      // An attack with published versions (AutoAttack) says which one ran, as the suite's reports do.
      const version = typeof report.params['version'] === 'string' ? `, version ${report.params['version']}` : '';
      say(`${info.name} (${report.norm}${version}) on ${ds.source}, n=${ds.n}, backend ${backend.name}: clean accuracy ${pct(report.cleanAccuracy)}`);
      say(table(report));
      say(`${report.timing.gradientEvaluations} gradient evaluations, ${report.timing.queries} queries, ${report.timing.seconds.toFixed(1)} s`);
      if (flags.saveAdv) {
        const several = report.results.length > 1;
        await writeFilesAtomic(
          report.results.map((r) => ({ path: advPath(flags.saveAdv!, r.eps, several), bytes: encodeNpy(r.xAdv!, [ds.n, ...ds.shape], 'float32') })),
        );
      }
      if (globals.json) await writeFileAtomic(globals.json, `${JSON.stringify(json, null, 2)}\n`, stdoutOf(io));
    } finally {
      model.dispose();
    }
  });
}
