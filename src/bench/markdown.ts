/**
 * `docs/benchmarks.md` from a {@link BenchResult}: the machine, robust's numbers, the peers' numbers from
 * the same run, the ratios and the issue's targets, each marked met or not.
 */
import type { BackendBench, BenchResult, CeilingResult, ModelBench, PyTorchPeer, Throughput } from './types.js';

/** The issue's plain tfjs-wasm loop before robust's kernels (img-steps/s, reference CNN, batch 128, 2 cores). */
export const ISSUE_PLAIN_WASM_BASELINE = 82;

/** The targets of the speed issue, as ratios. */
export const TARGETS = {
  /** PGD-40 throughput at least this fraction of PyTorch's on the same machine. */
  pgdVsPyTorch: 0.5,
  /** PGD-40 throughput at least this multiple of the plain tfjs-wasm loop. */
  pgdVsPlainLoop: 8,
  /** End-to-end suite time at most this fraction of the peer script's. */
  suiteVsPeer: 0.5,
} as const;

/** One judged ratio: what is compared, the two values, the ratio, the target and whether it holds. */
export interface RatioRow {
  measure: string;
  robust: string;
  peer: string;
  ratio: number | null;
  target: string;
  met: boolean | null;
}

const f0 = (v: number): string => Math.round(v).toLocaleString('en-US');
const f1 = (v: number): string => v.toFixed(1);
const pct = (v: number | null): string => (v === null ? '–' : `${(100 * v).toFixed(1)}%`);
const ratioText = (v: number | null): string => (v === null ? '–' : `${v.toFixed(2)}×`);
const ips = (t: Throughput): string => f0(t.imageGradientStepsPerSecond);
const gib = (bytes: number): string => (bytes / 2 ** 30).toFixed(1);
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
const metText = (m: boolean | null): string => (m === null ? 'not measured' : m ? '**met**' : '**not met**');

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Seconds per peer attack (rows of one attack share its time). */
function peerAttackTotals(peer: PyTorchPeer): Map<string, { seconds: number; gradientEvaluations: number }> {
  const out = new Map<string, { seconds: number; gradientEvaluations: number }>();
  for (const r of peer.e2e.results) out.set(r.attack, { seconds: r.seconds, gradientEvaluations: r.gradientEvaluations });
  return out;
}

/** A backend's name, with its thread count where it has one (wasm). */
export function backendLabel(b: Pick<BackendBench, 'backend' | 'threads'>): string {
  return b.threads !== undefined ? `${b.backend} (${b.threads} thread${b.threads === 1 ? '' : 's'})` : b.backend;
}

/** The ratios robust / peer for the first backend and model, judged against the targets. */
export function benchRatios(result: BenchResult): RatioRow[] {
  const backend = result.backends[0];
  const model = backend?.models[0];
  const pgdOff = model?.pgd.find((p) => !p.earlyStop) ?? null;
  const torch = result.peer?.pytorch ?? null;
  const stock = result.peer?.stockTfjs ?? null;
  const rows: RatioRow[] = [];
  const ratio = (a: number | undefined, b: number | undefined): number | null => (a !== undefined && b !== undefined && b > 0 ? a / b : null);

  const torchPgd = torch?.pgd.imageGradientStepsPerSecond;
  const pgdVsTorch = ratio(pgdOff?.imageGradientStepsPerSecond, torchPgd);
  rows.push({
    measure: `PGD-${pgdOff?.steps ?? 40} throughput (img-steps/s, early stop off)`,
    robust: pgdOff ? ips(pgdOff) : '–',
    peer: torch ? `PyTorch ${ips(torch.pgd)} (${torch.threads} thread${torch.threads > 1 ? 's' : ''})` : '–',
    ratio: pgdVsTorch,
    target: `≥ ${TARGETS.pgdVsPyTorch}× PyTorch`,
    met: pgdVsTorch === null ? null : pgdVsTorch >= TARGETS.pgdVsPyTorch,
  });
  const pgdVsStock = ratio(pgdOff?.imageGradientStepsPerSecond, stock?.imageGradientStepsPerSecond);
  rows.push({
    measure: `PGD-${pgdOff?.steps ?? 40} throughput vs the plain tf.grad loop on stock TF.js ${stock?.backend ?? ''}`.trim(),
    robust: pgdOff ? ips(pgdOff) : '–',
    peer: stock ? `stock TF.js ${ips(stock)}` : '–',
    ratio: pgdVsStock,
    target: `≥ ${TARGETS.pgdVsPlainLoop}×`,
    met: pgdVsStock === null ? null : pgdVsStock >= TARGETS.pgdVsPlainLoop,
  });
  const pgdVsIssue = ratio(pgdOff?.imageGradientStepsPerSecond, ISSUE_PLAIN_WASM_BASELINE);
  rows.push({
    measure: 'PGD throughput vs the issue\'s quoted plain wasm loop (82 img-steps/s)',
    robust: pgdOff ? ips(pgdOff) : '–',
    peer: String(ISSUE_PLAIN_WASM_BASELINE),
    ratio: pgdVsIssue,
    target: `≥ ${TARGETS.pgdVsPlainLoop}×`,
    met: pgdVsIssue === null ? null : pgdVsIssue >= TARGETS.pgdVsPlainLoop,
  });
  const best = torch ? torch.ceiling.reduce((a, c) => (c.imageGradientStepsPerSecond > a.imageGradientStepsPerSecond ? c : a)) : null;
  rows.push({
    measure: 'Ceiling: forward + input gradient (img-steps/s, batch 128)',
    robust: model ? ips(model.ceiling) : '–',
    peer: torch ? torch.ceiling.map((c) => `${ips(c)} (${c.threads} thr.)`).join(', ') : '–',
    ratio: ratio(model?.ceiling.imageGradientStepsPerSecond, best?.imageGradientStepsPerSecond),
    target: 'parity (beyond this issue)',
    met: null,
  });
  const suite = backend?.suite ?? null;
  const suiteRatio = ratio(suite?.seconds, torch?.e2e.seconds);
  rows.push({
    measure: `End-to-end suite (${suite?.n ?? torch?.e2e.n ?? '?'} digits), seconds`,
    robust: suite ? f1(suite.seconds) : '–',
    peer: torch ? `PyTorch ${f1(torch.e2e.seconds)}` : '–',
    ratio: suiteRatio,
    target: `≤ ${TARGETS.suiteVsPeer}× the peer`,
    met: suiteRatio === null ? null : suiteRatio <= TARGETS.suiteVsPeer,
  });
  if (suite && torch) {
    const totals = peerAttackTotals(torch);
    const linf = suite.attacks.filter((a) => a.id.startsWith('fgsm@linf') || a.id.startsWith('pgd@linf'));
    const peerLinf = ['fgsm', 'pgd'].map((n) => totals.get(n)).filter((t): t is { seconds: number; gradientEvaluations: number } => t !== undefined);
    if (linf.length > 0 && peerLinf.length > 0) {
      const r = ratio(linf.reduce((a, x) => a + x.seconds, 0), peerLinf.reduce((a, x) => a + x.seconds, 0));
      rows.push({
        measure: 'FGSM + PGD of the suite only, seconds',
        robust: f1(linf.reduce((a, x) => a + x.seconds, 0)),
        peer: `PyTorch ${f1(peerLinf.reduce((a, x) => a + x.seconds, 0))}`,
        ratio: r,
        target: '(context)',
        met: null,
      });
    }
    rows.push({
      measure: 'End-to-end gradient evaluations',
      robust: f0(suite.gradientEvaluations),
      peer: `PyTorch ${f0(torch.e2e.gradientEvaluations)}`,
      ratio: ratio(suite.gradientEvaluations, torch.e2e.gradientEvaluations),
      target: '(fewer is better)',
      met: null,
    });
  }
  const memory = backend?.memory ?? null;
  rows.push({
    measure: `Tensor growth over ${memory?.batches ?? '?'} attack batches`,
    robust: memory ? String(memory.tensorGrowth) : '–',
    peer: '–',
    ratio: null,
    target: '0',
    met: memory ? memory.tensorGrowth === 0 : null,
  });
  return rows;
}

function loadText(load: BenchResult['machine']['loadAverage']): string {
  const fmt = (v: number[]): string => v.map((x) => x.toFixed(2)).join(' / ');
  return [`${fmt(load.start)} at start`, ...(load.peers ? [`${fmt(load.peers)} when the peers started`] : []), `${fmt(load.end)} at end`].join(', ');
}

/** The targets in words, and where the time goes. */
export function verdictLines(result: BenchResult): string[] {
  const rows = benchRatios(result);
  const find = (prefix: string): RatioRow | undefined => rows.find((r) => r.measure.startsWith(prefix));
  const lines: string[] = [];
  const judged = (r: RatioRow | undefined, what: string, extra = ''): void => {
    if (!r || r.met === null) return;
    lines.push(`${what}: ${r.met ? '**met**' : '**not met**'} (${ratioText(r.ratio)})${extra}.`);
  };
  judged(find('PGD-40 throughput (img'), `PGD-40 throughput ≥ ${TARGETS.pgdVsPyTorch}× PyTorch on the same machine`);
  const issue = find('PGD throughput vs the issue');
  judged(find('PGD-40 throughput vs'), `PGD-40 throughput ≥ ${TARGETS.pgdVsPlainLoop}× the plain tfjs loop on stock kernels, measured in this run`, issue?.ratio != null ? `; ${ratioText(issue.ratio)} the issue's quoted 82 img-steps/s` : '');
  const e2e = find('End-to-end suite');
  const linf = find('FGSM + PGD');
  const torch = result.peer?.pytorch ?? null;
  const deepfool = torch?.e2e.results.find((r) => r.attack === 'deepfool');
  let e2eExtra = '';
  if (deepfool && torch && linf?.ratio != null) {
    const only = e2e?.met && linf.ratio > TARGETS.suiteVsPeer;
    e2eExtra = `${only ? ', but only through DeepFool' : ''}: the peer's torchattacks DeepFool (a Jacobian per image and step, the part of the peer most sensitive to other load) took ${f1(deepfool.seconds)} s of its ${f1(torch.e2e.seconds)} s; on FGSM + PGD alone robust takes ${ratioText(linf.ratio)} the peer's time`;
  }
  judged(e2e, `End-to-end suite ≤ ${TARGETS.suiteVsPeer}× the peer's time`, e2eExtra);
  const suite = result.backends[0]?.suite;
  const ours = suite?.robustAccuracy.find((r) => r.key === deepfool?.key);
  if (deepfool?.robustAccuracy != null && ours && Math.abs(deepfool.robustAccuracy - ours.robustAccuracy) > 0.05) {
    lines.push(
      `The two tables agree on FGSM and PGD but not on DeepFool: after at most 50 steps the peer's leaves ${pct(deepfool.robustAccuracy)} of the digits unbroken, robust's ${pct(ours.robustAccuracy)}. The peer's DeepFool time is what a torchattacks user spends, for a weaker attack.`,
    );
  }
  const growth = find('Tensor growth');
  if (growth && growth.met !== null) lines.push(`Zero tensor growth over many attack batches: ${growth.met ? '**met**' : '**not met**'} (growth ${growth.robust}).`);
  const model = result.backends[0]?.models[0];
  const pgdOff = model?.pgd.find((p) => !p.earlyStop);
  const best = torch?.ceiling.reduce((a, c) => (c.imageGradientStepsPerSecond > a.imageGradientStepsPerSecond ? c : a));
  if (model && pgdOff && best) {
    lines.push(
      `Where the gap is: robust's PGD runs at ${pct(pgdOff.imageGradientStepsPerSecond / model.ceiling.imageGradientStepsPerSecond)} of its backend's ceiling (the plain loop on the same kernels at ${pct(model.plainLoop.imageGradientStepsPerSecond / model.ceiling.imageGradientStepsPerSecond)}), and that ceiling is ${ratioText(model.ceiling.imageGradientStepsPerSecond / best.imageGradientStepsPerSecond)} PyTorch's best: the forward and backward kernels, not the attack loop, hold robust back.`,
    );
  }
  return lines;
}

function modelRows(m: ModelBench, suite: BackendBench['suite']): string[][] {
  const rows: string[][] = [
    [`ceiling: forward + input gradient, batch ${m.ceiling.batchSize} (fastest of ${m.ceiling.rounds} rounds of ${m.ceiling.iterations} calls)`, f1(m.ceiling.seconds), f0(m.ceiling.gradientEvaluations), ips(m.ceiling), ''],
    [`plain tf.grad PGD loop on robust's backend, batch ${m.plainLoop.batchSize}, ${m.plainLoop.steps} steps`, f1(m.plainLoop.seconds), f0(m.plainLoop.gradientEvaluations), ips(m.plainLoop), ''],
  ];
  for (const p of m.pgd) {
    rows.push([`robust pgd, PGD-${p.steps} eps ${p.eps}, ${p.n} digits, early stop ${p.earlyStop ? 'on' : 'off'}`, f1(p.seconds), f0(p.gradientEvaluations), ips(p), `robust accuracy ${pct(p.robustAccuracy)}`]);
  }
  rows.push([`robust cw, CW-${m.cw.steps} × ${m.cw.binarySteps} binary steps, ${m.cw.n} digits`, f1(m.cw.seconds), f0(m.cw.gradientEvaluations), ips(m.cw), `success ${pct(m.cw.attackSuccessRate)}, median L2 ${m.cw.medianL2 === null ? '–' : m.cw.medianL2.toFixed(3)}`]);
  if (suite) {
    rows.push([`robust test ${suite.config.replace(/^.*?(examples\/)/, '$1')}, ${suite.n} digits, end to end`, f1(suite.seconds), f0(suite.gradientEvaluations), '', suite.attacks.map((a) => `${a.id} ${f1(a.seconds)} s / ${f0(a.gradientEvaluations)}`).join('; ')]);
  }
  return rows;
}

/** Options of {@link benchMarkdown}. */
export interface BenchMarkdownOptions {
  /** The command the page says produced it. Default `npm run bench`. */
  command?: string;
  /** Earlier results, for a table of the key ratios run by run: how much they drift on this machine. */
  earlier?: BenchResult[];
}

function driftTable(runs: BenchResult[]): string {
  const cell = (rows: RatioRow[], prefix: string): string => {
    const r = rows.find((x) => x.measure.startsWith(prefix));
    return r?.ratio == null ? '–' : ratioText(r.ratio);
  };
  return table(
    ['run', 'load average at start → end', 'PGD-40 vs PyTorch', 'PGD-40 vs stock TF.js loop', 'ceiling vs PyTorch', 'end to end vs peer', 'FGSM + PGD vs peer', 'peer DeepFool, s'],
    runs.map((run) => {
      const rows = benchRatios(run);
      const deepfool = run.peer?.pytorch?.e2e.results.find((r) => r.attack === 'deepfool');
      return [
        run.date.slice(0, 16).replace('T', ' '),
        `${run.machine.loadAverage.start[0]?.toFixed(2) ?? '?'} → ${run.machine.loadAverage.end[0]?.toFixed(2) ?? '?'}`,
        cell(rows, 'PGD-40 throughput (img'),
        cell(rows, 'PGD-40 throughput vs'),
        `${cell(rows, 'Ceiling')}${(run.backends[0]?.models[0]?.ceiling as Partial<CeilingResult> | undefined)?.rounds === undefined ? ' (one round)' : ''}`,
        cell(rows, 'End-to-end suite'),
        cell(rows, 'FGSM + PGD'),
        deepfool ? f1(deepfool.seconds) : '–',
      ];
    }),
  );
}

/**
 * Render a benchmark result as Markdown (the page `docs/benchmarks.md` is).
 * @example
 *   await writeFile('docs/benchmarks.md', benchMarkdown(await runBenchmarks()));
 */
export function benchMarkdown(result: BenchResult, options: BenchMarkdownOptions = {}): string {
  const command = options.command ?? 'npm run bench';
  const m = result.machine;
  const torch = result.peer?.pytorch ?? null;
  const stock = result.peer?.stockTfjs ?? null;
  const out: string[] = [];
  out.push('# Benchmarks');
  out.push('');
  out.push(`Written by \`robust bench\` (\`${command}\`) on ${result.date.slice(0, 10)} (${result.date}); ${result.quick ? '**quick mode: sizes too small for conclusions**; ' : ''}the run took ${f0(result.seconds)} s.`);
  out.push('Absolute times on shared machines drift; the ratios compare robust with its peers measured in the same run on the same digits.');
  out.push('');
  out.push('## Machine');
  out.push('');
  out.push(
    table(
      ['', ''],
      [
        ['CPU', `${m.cpuModel}, ${m.cpus} cores`],
        ['memory', `${gib(m.totalMemoryBytes)} GiB`],
        ['OS', `${m.platform} ${m.release}`],
        ['load average (1/5/15 min)', loadText(m.loadAverage)],
        ['Node', m.node],
        ['packages', Object.entries(m.packages).map(([k, v]) => `${k} ${v}`).join(', ')],
        ['backend(s)', result.backends.map(backendLabel).join(', ')],
        ['PyTorch peer', torch ? `torch ${torch.torch} (Debian python3-torch), Python ${torch.python}, ran with ${torch.threads} thread(s) (its faster ceiling; default here ${torch.defaultThreads})` : 'not run'],
      ],
    ),
  );
  out.push('');
  out.push('## Ratios and targets');
  out.push('');
  out.push(
    table(
      ['measure', 'robust', 'peer', 'robust / peer', 'target', ''],
      benchRatios(result).map((r) => [r.measure, r.robust, r.peer, ratioText(r.ratio), r.target, r.target.startsWith('(') || r.target.startsWith('parity') ? '' : metText(r.met)]),
    ),
  );
  out.push('');
  const verdict = verdictLines(result);
  if (verdict.length > 0) {
    out.push('## Verdict');
    out.push('');
    out.push(verdict.map((l) => `- ${l}`).join('\n'));
    out.push('');
  }
  for (const b of result.backends) {
    if (b.models.length === 0 && !b.suite && !b.memory) continue;
    out.push(`## robust on ${backendLabel(b)}`);
    out.push('');
    if (b.kernels && b.kernels.length > 0) {
      out.push('### Kernels, robust against the shipped ones (reference-CNN shapes, batch 128)');
      out.push('');
      const ms = (v: number | null): string => (v === null ? '–' : v.toFixed(1));
      out.push(
        table(
          ['kernel', 'robust ms', 'shipped ms', 'speed-up'],
          b.kernels.map((k) => [k.label, ms(k.robustMs), k.status === 'added' ? 'none (robust adds it)' : k.status === 'unchanged' ? '(the same kernel)' : ms(k.shippedMs), k.robustMs && k.shippedMs ? `${(k.shippedMs / k.robustMs).toFixed(1)}×` : '']),
        ),
      );
      out.push('');
    }
    for (const [i, model] of b.models.entries()) {
      out.push(`### ${model.model}${model.sha256 ? ` (SHA-256 ${model.sha256.slice(0, 12)}…)` : ''}`);
      out.push('');
      out.push(table(['measurement', 'seconds', 'gradient evaluations', 'img-steps/s', ''], modelRows(model, i === 0 ? b.suite : null)));
      out.push('');
    }
    if (b.memory) {
      const mem = b.memory;
      out.push(
        `Memory: ${mem.batches} ${mem.attack} batches of ${mem.batchSize} digits (${f1(mem.seconds)} s): tensors ${mem.numTensorsBefore} → ${mem.numTensorsAfter} (growth ${mem.tensorGrowth}), RSS ${mib(mem.rssBeforeBytes)} → ${mib(mem.rssAfterBytes)} MiB.`,
      );
      out.push('');
    }
  }
  if (torch || stock) {
    out.push('## Peers (same run, same digits)');
    out.push('');
    const rows: string[][] = [];
    if (stock) rows.push([`plain tf.grad PGD loop, stock TF.js ${stock.tfjs} ${stock.backend} (no robust kernels), batch ${stock.batchSize}, ${stock.steps} steps`, f1(stock.seconds), f0(stock.gradientEvaluations), ips(stock), '']);
    if (torch) {
      for (const c of torch.ceiling) rows.push([`PyTorch ceiling, batch ${c.batchSize}, ${c.threads} thread(s) (fastest round of ${c.iterations} calls)`, f1(c.seconds), f0(c.gradientEvaluations), ips(c), '']);
      rows.push([`PyTorch PGD-${torch.pgd.steps} eps ${torch.pgd.eps} (torchattacks loop), ${torch.pgd.n} digits`, f1(torch.pgd.seconds), f0(torch.pgd.gradientEvaluations), ips(torch.pgd), `robust accuracy ${pct(torch.pgd.robustAccuracy)}`]);
      const totals = [...peerAttackTotals(torch).entries()].map(([a, t]) => `${a} ${f1(t.seconds)} s / ${f0(t.gradientEvaluations)}`).join('; ');
      rows.push([`PyTorch end-to-end (every attack on every point), ${torch.e2e.n} digits`, f1(torch.e2e.seconds), f0(torch.e2e.gradientEvaluations), '', totals]);
    }
    out.push(table(['measurement', 'seconds', 'gradient evaluations', 'img-steps/s', ''], rows));
    out.push('');
    if (torch) {
      out.push(
        `PyTorch loads the same weights (TF.js HWIO kernels → OIHW, dense kernels transposed, NHWC flatten order kept): clean accuracy ${pct(torch.cleanAccuracy)} on ${torch.n} digits, predictions agree with robust's on ${pct(torch.agreement)} of them.`,
      );
      out.push('');
    }
  }
  const suite = result.backends[0]?.suite ?? null;
  if (suite && torch) {
    out.push('## End to end: the same robust-accuracy table');
    out.push('');
    const peerByKey = new Map([...torch.e2e.results.map((r) => [r.key, r.robustAccuracy] as const), ...torch.e2e.worstCase.map((w) => [w.key, w.robustAccuracy] as const)]);
    const rows = suite.robustAccuracy
      .filter((r) => peerByKey.has(r.key))
      .map((r) => [r.key, pct(r.robustAccuracy), pct(peerByKey.get(r.key) ?? null)]);
    out.push(table(['key', 'robust', 'PyTorch'], [['clean accuracy', pct(suite.cleanAccuracy), pct(torch.e2e.cleanAccuracy)], ...rows]));
    out.push('');
    out.push('robust stops early per example and runs a larger eps only on points a smaller one did not break; the peer attacks every point at every eps. Worst case: a point is robust only if no Linf attack broke it.');
    out.push('');
  }
  if (options.earlier && options.earlier.length > 0) {
    out.push('## Run to run');
    out.push('');
    out.push('The same ratios from earlier full runs on this machine (the last row is the run above). Other work shares the two cores, and the peer\'s per-image DeepFool suffers most from it.');
    out.push('');
    out.push(driftTable([...options.earlier, result]));
    out.push('');
  }
  out.push('## Reading the numbers');
  out.push('');
  out.push(
    [
      '- An image-gradient evaluation is one example\'s input gradient; img-steps/s divides them by wall seconds, the clean pass and the final check included.',
      '- The ceiling is a forward pass plus the input gradient of the cross-entropy and nothing else: no attack can step faster than it on that backend.',
      '- "Plain loop" is what a TF.js user writes without robust (`tf.grad`, sign, step, project, clip). On robust\'s backend it runs on robust\'s kernel fixes; the stock TF.js peer runs the same loop in a fresh process on the kernels TF.js ships (the issue\'s baseline).',
      '- PyTorch runs torchattacks\' loops (every point, every eps, every step); DeepFool there takes a full Jacobian per image and step (10 gradients), robust\'s the k − 1 it needs, batched.',
      '- robust\'s end-to-end time is the whole `robust test`: loading, clean pass, attacks, gradient-masking probes and evaluation.',
    ].join('\n'),
  );
  out.push('');
  if (result.notes.length > 0) {
    out.push('## Notes');
    out.push('');
    for (const n of result.notes) out.push(`- ${n}`);
    out.push('');
  }
  out.push('## How to reproduce');
  out.push('');
  out.push('```');
  out.push('apt-get install -y python3-torch python3-numpy libopenblas0   # the PyTorch peer (Debian; libopenblas0 is libtorch\'s recommended BLAS)');
  out.push('npm run build');
  out.push('npm run bench          # robust bench --json benchmarks/results/latest.json --markdown docs/benchmarks.md');
  out.push('node bin/robust.js bench --render benchmarks/results/latest.json --compare earlier.json --markdown docs/benchmarks.md   # re-render, no measuring');
  out.push('npm run bench:peer     # the peers alone');
  out.push('node bin/robust.js bench --quick --no-peer   # a smoke run');
  out.push('```');
  out.push('');
  return out.join('\n');
}
