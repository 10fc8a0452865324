import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { toModelLayout, validateDataset, type LoadedDataset } from '../../data/index.js';
import { loadModel, type LoadedModel } from '../../models/index.js';
import type { Certificate } from '../../defenses/smoothing.js';
import { CERTIFY_DEFAULTS, certificationSummary, certifyBatchPlan, certifyDataset, radiusGrid, type CertificationSummary, type CertifySettings } from '../../suite/certify.js';
import { accuracyChart, textBar } from '../../report/chart.js';
import { certificationSettings, formatCount, formatEps, formatInterval, formatNumber, formatPercent } from '../../report/format.js';
import { UsageError } from '../../errors.js';
import { writeFileAtomic, writeFilesAtomic } from '../../util/atomic.js';
import { VERSION } from '../../version.js';
import type { BackendInfo } from '../../backends/index.js';
import { stdoutOf, type Io } from '../io.js';
import { preflightOutputs } from '../../suite/preflight.js';
import type { NamedPath } from '../../util/paths.js';
import { globalsOf } from '../globals.js';
import { addDataOptions, dataSourceOf, loadDataFromFlags, memoryBudgetOf, reportBatchPlan, startBackend, type DataFlags } from '../options.js';
import { parseInteger, parseNumber } from '../parse.js';
import { makeProgress } from '../progress.js';
import { maxOf } from '../../tensor/range.js';

interface CertifyFlags extends DataFlags {
  model?: string;
  sigma: number;
  n0: number;
  samples: number;
  alpha: number;
  batchSize: number;
  radii: number[];
  out?: string;
}

/** "0,0.25,0.5" → [0, 0.25, 0.5], each >= 0. */
function parseRadii(raw: string): number[] {
  const one = parseNumber('--radii', { min: 0 });
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.some((p) => p === '')) throw new UsageError(`--radii: expected comma-separated numbers >= 0 (e.g. 0,0.25,0.5), got "${raw}"`);
  return parts.map(one);
}

/** The JSON document of `robust certify` (`certify.json`, and `--json`). */
export function certifyJson(
  settings: CertifySettings & { radii: number[] },
  summary: CertificationSummary,
  certs: readonly Certificate[],
  model: LoadedModel,
  ds: LoadedDataset,
  backend: BackendInfo,
  seed: string,
  seconds: number,
) {
  return {
    robust: VERSION,
    command: 'certify',
    settings,
    backend: backend.name,
    seed,
    model: { path: model.modelJsonPath ?? model.name, sha256: model.sha256 ?? null },
    data: { source: ds.source, n: ds.n, sha256: ds.sha256 },
    n: certs.length,
    accuracy: summary.accuracy,
    abstainRate: summary.abstainRate,
    curve: summary.curve.map((p) => ({ radius: p.radius, certifiedAccuracy: p.certifiedAccuracy })),
    certificates: certs.map((c, i) => ({ index: ds.indices[i] ?? i, label: ds.y[i] ?? -1, ...c })),
    timing: { seconds },
  };
}

function table(summary: CertificationSummary): string {
  const rows = [['L2 radius', 'certified acc', '95% CI', 'certified']];
  for (const p of summary.curve) {
    rows.push([formatEps(p.radius), formatNumber(p.certifiedAccuracy.value), formatInterval(p.certifiedAccuracy.ci), formatCount(p.certifiedAccuracy)]);
  }
  const widths = rows[0]!.map((_, c) => maxOf(rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => (c === 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

/** The curve as horizontal bars from 0 to 1, one per radius. */
function chart(summary: CertificationSummary): string {
  const labels = summary.curve.map((p) => `r=${formatEps(p.radius)}`);
  const w = maxOf(labels.map((l) => l.length));
  const lines = ['certified accuracy against L2 radius'];
  summary.curve.forEach((p, i) => lines.push(`  ${labels[i]!.padEnd(w)} │${textBar(p.certifiedAccuracy.value, 40)}│ ${formatNumber(p.certifiedAccuracy.value)}`));
  lines.push(`  ${' '.repeat(w)} 0${' '.repeat(39)}1`);
  return lines.join('\n');
}

/** `robust certify`: randomised-smoothing certificates over a dataset; certified accuracy against L2 radius. */
export function registerCertifyCommand(program: Command, io: Io): void {
  const cmd = program
    .command('certify')
    .description('certify a model by randomised smoothing (Cohen et al. 2019) and report certified accuracy against L2 radius')
    .option('--model <model>', 'TF.js Layers or Graph model (model.json, or its folder), or an ONNX file (model.onnx)')
    .addOption(new Option('--sigma <sigma>', 'noise standard deviation in input units').argParser(parseNumber('--sigma', { min: 0, exclusiveMin: true })).makeOptionMandatory())
    .option('--n0 <n0>', 'noise draws that select the class', parseInteger('--n0', 1), CERTIFY_DEFAULTS.n0)
    .option('--samples <n>', "noise draws that estimate the class's probability (Cohen et al.'s n; they use 100000)", parseInteger('--samples', 1), CERTIFY_DEFAULTS.samples)
    .option('--alpha <alpha>', 'failure probability of each certificate, in (0, 0.5)', parseNumber('--alpha', { min: 0, exclusiveMin: true }), CERTIFY_DEFAULTS.alpha)
    .option('--batch-size <b>', 'noisy copies per forward pass', parseInteger('--batch-size', 1), CERTIFY_DEFAULTS.batchSize)
    .option('--radii <list>', 'L2 radii at which to report certified accuracy, e.g. 0,0.25,0.5', parseRadii, [...CERTIFY_DEFAULTS.radii])
    .option('--out <dir>', 'write certify.json and certify.svg (a chart) to this folder');
  addDataOptions(cmd).action(async (flags: CertifyFlags, self: Command) => {
    const globals = globalsOf(self);
    if (!flags.model) throw new UsageError('robust certify needs --model <model.json>');
    if (!(flags.alpha < 0.5)) throw new UsageError(`--alpha: expected a number in (0, 0.5), got ${flags.alpha}`);
    const settings: CertifySettings = { sigma: flags.sigma, n0: flags.n0, samples: flags.samples, alpha: flags.alpha, batchSize: flags.batchSize };
    const radii = radiusGrid(flags.radii);
    const outputs: NamedPath[] = [
      ...(flags.out ? ['certify.json', 'certify.svg'].map((f) => ({ label: `--out (${f})`, path: join(flags.out!, f) })) : []),
      ...(globals.json ? [{ label: '--json', path: globals.json }] : []),
    ];
    await preflightOutputs(outputs, { modelPath: flags.model, data: dataSourceOf(flags, self) });
    const backend = await startBackend(globals, io);
    const model = await loadModel(flags.model);
    try {
      const ds = toModelLayout(await loadDataFromFlags(flags, globals.seed, self), model);
      validateDataset(ds, { inputShape: model.inputShape, numClasses: model.numClasses, bounds: model.bounds });
      const plan = certifyBatchPlan(model, settings, memoryBudgetOf(globals));
      reportBatchPlan(io, globals, 'certify', plan);
      const t0 = performance.now();
      const bar = makeProgress(io, 'certify', ds.n, globals.quiet);
      // The same noise as a suite's certify section with this seed, so the two agree example by example (and
      // whatever batch the memory budget allows: see certifyBatchPlan); the report keeps the batch size asked for.
      const certs = await certifyDataset(model, ds, { ...settings, batchSize: plan.batchSize }, {
        seed: `${globals.seed}/certify`,
        onProgress: (done, _t, so) => bar.update(done, `certified ${formatPercent(so.filter((c, i) => c.prediction >= 0 && c.prediction === ds.y[i]).length / done)}`),
      });
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      const summary = certificationSummary(certs, ds.y, radii);
      io.out(`certify on ${ds.source}, n=${ds.n}, backend ${backend.name}: randomised smoothing, ${certificationSettings(settings)}`);
      io.out(`smoothed accuracy ${formatNumber(summary.accuracy.value)} ${formatInterval(summary.accuracy.ci)}, abstained ${formatPercent(summary.abstainRate.value)} (${formatCount(summary.abstainRate)})`);
      io.out(table(summary));
      io.out(chart(summary));
      io.out(`${ds.n * (settings.n0 + settings.samples)} forward passes, ${seconds.toFixed(1)} s`);
      const text = `${JSON.stringify(certifyJson({ ...settings, radii }, summary, certs, model, ds, backend, globals.seed, seconds), null, 2)}\n`;
      if (flags.out) {
        const points = summary.curve.map((p) => ({ eps: p.radius, value: p.certifiedAccuracy.value, ci: p.certifiedAccuracy.ci }));
        const svg = accuracyChart([{ label: `σ ${settings.sigma}`, color: '#1f77b4', points, band: true }], 'radius (L2)', 'certified accuracy against L2 radius', {
          yLabel: 'certified accuracy',
          xName: 'radius',
          standalone: true,
        });
        const enc = new TextEncoder();
        await writeFilesAtomic([
          { path: join(flags.out, 'certify.json'), bytes: enc.encode(text) },
          { path: join(flags.out, 'certify.svg'), bytes: enc.encode(`${svg}\n`) },
        ]);
        io.out(`wrote ${join(flags.out, 'certify.json')} and ${join(flags.out, 'certify.svg')}`);
      }
      if (globals.json) await writeFileAtomic(globals.json, text, stdoutOf(io));
    } finally {
      model.dispose();
    }
  });
}
