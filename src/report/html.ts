/**
 * The HTML report: one self-contained file (inline CSS, inline SVG charts, PNG samples as data URLs, no script,
 * no external reference) that can be attached to a CI run and opened anywhere, offline.
 */
import { breakdowns, groupChart, groupRows, groupSummary } from './groups.js';
import type { AttackOutcome, SuiteResult, VisualSample } from '../suite/types.js';
import { accuracyChart, escapeHtml, type ChartPoint, type ChartSeries } from './chart.js';
import {
  formatActual,
  formatCount,
  formatEps,
  formatInterval,
  formatNumber,
  formatPercent,
  formatThreshold,
  medianPerturbation,
  resultRows,
  scoreThreshold,
  shortHash,
  unreliableReason,
  defenceSummary,
  verdictSummary,
  minimumNormRows,
  MINIMUM_NORM_HEADER,
  certificationSettings,
  certifiedRows,
  shardLabel,
} from './format.js';
import { differencePng, imageLayout, imagePng, pngDataUrl, type ImageLayout } from './images.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
const WORST_COLOR = '#222';

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d2126;background:#f5f6f8;margin:0}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid #dde1e6;padding-bottom:4px}
.verdict{border-radius:8px;padding:14px 18px;color:#fff;margin:12px 0}
.verdict.pass{background:#1a7f37}.verdict.fail{background:#c62828}
.verdict .big{font-size:20px;font-weight:700}
.verdict ul{margin:8px 0 0;padding-left:20px}
.unreliable{background:#fff4d6;border:1px solid #e0a800;color:#5c4400;border-radius:8px;padding:10px 14px;margin:8px 0}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:13px;color:#444}
.meta dt{font-weight:600}.meta dd{margin:0;word-break:break-all}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{padding:5px 10px;border-bottom:1px solid #e5e8ec;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.weakest td{color:#b21e1e}
tr.worst td{font-weight:700;background:#fafbfc}
tr.sep td{border-bottom:2px solid #c8ccd2;padding:0}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.ok,.pass-pill{background:#dcf5e3;color:#135c29}.warning{background:#fff1c2;color:#6b5000}.failed,.fail-pill{background:#fbdada;color:#8e1b1b}
.facts{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
.fact{background:#fff;border:1px solid #e0e4e8;border-radius:8px;padding:8px 14px}
.fact .v{font-size:20px;font-weight:700}.fact .l{font-size:12px;color:#555}
.charts{display:flex;flex-wrap:wrap;gap:14px}
table+.charts{margin-top:14px}
figure{margin:0;background:#fff;border:1px solid #e0e4e8;border-radius:8px;padding:8px}
figcaption{font-weight:600;font-size:13px;margin:0 0 2px 6px}
svg.chart text{font-family:system-ui,sans-serif;fill:#333}
svg.chart .tick{font-size:11px}svg.chart .axis{font-size:12px}svg.chart .legend{font-size:12px}
.samples{display:grid;grid-template-columns:repeat(auto-fill,minmax(370px,1fr));gap:14px}
.sample{background:#fff;border:1px solid #e0e4e8;border-radius:8px;padding:10px}
.sample .head{font-size:12.5px;color:#444;margin-bottom:6px}
.sample .imgs{display:flex;gap:10px}
.sample figure{border:none;padding:0;text-align:center;font-size:12px}
.sample img{width:108px;height:108px;object-fit:contain;image-rendering:pixelated;border:1px solid #ccd;background:#000;display:block;margin-bottom:3px}
.flip{color:#c62828;font-weight:600}
.note{color:#555;font-style:italic}
`;

function pill(text: string, cls: string): string {
  return `<span class="pill ${cls}">${escapeHtml(text)}</span>`;
}

function thresholdCell(passed: boolean | undefined): string {
  if (passed === undefined) return '';
  return passed ? pill('pass', 'pass-pill') : pill('FAIL', 'fail-pill');
}

function header(result: SuiteResult): string {
  const { status, failures } = result.verdict;
  const items = failures.map((f) => `<li>${escapeHtml(f)}</li>`).join('');
  const out = [
    `<div class="verdict ${status}"><div class="big">${status === 'pass' ? '✔ PASS' : '✘ FAIL'}: ${escapeHtml(verdictSummary(result))}</div>${items ? `<ul>${items}</ul>` : ''}</div>`,
  ];
  const unreliable = unreliableReason(result);
  if (unreliable !== null) out.push(`<div class="unreliable"><strong>⚠ UNRELIABLE:</strong> ${escapeHtml(unreliable)}.</div>`);
  return out.join('\n');
}

function manifest(result: SuiteResult): string {
  const m = result.manifest;
  const rows: Array<[string, string]> = [
    ['model', `${escapeHtml(m.model.path)} <span class="mono">sha256 ${escapeHtml(shortHash(m.model.sha256))}</span>${m.model.pinned ? ' (pinned)' : ''}`],
    ['data', `${escapeHtml(m.data.source)}, n=${m.data.n} <span class="mono">sha256 ${escapeHtml(shortHash(m.data.sha256))}</span>`],
    ['run', `backend ${escapeHtml(m.backend)}, seed ${escapeHtml(m.seed)}, robust ${escapeHtml(m.robust)}, started ${escapeHtml(m.startedAt)}, ${formatNumber(m.seconds, 1)} s`],
    ['defences', escapeHtml(defenceSummary(result))],
    ['config', `${escapeHtml(m.config.path ?? '(none)')} <span class="mono">sha256 ${escapeHtml(shortHash(m.config.sha256))}</span>`],
  ];
  if (m.shard) rows.push(['shard', shardLabel(m.shard)]);
  return `<dl class="meta">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

function facts(result: SuiteResult): string {
  const clean = result.thresholds.find((t) => t.key === 'cleanAccuracy');
  const out = [
    `<div class="fact"><div class="v">${formatNumber(result.cleanAccuracy.value)} ${thresholdCell(clean?.passed)}</div><div class="l">clean accuracy ${escapeHtml(formatInterval(result.cleanAccuracy.ci))}, ${formatCount(result.cleanAccuracy)}${clean ? `, ${escapeHtml(formatThreshold(clean))}` : ''}</div></div>`,
  ];
  for (const s of result.scores) {
    const t = scoreThreshold(result, s.norm);
    out.push(
      `<div class="fact"><div class="v">${formatNumber(s.score, 1)}<span class="l"> / 100</span> ${thresholdCell(t?.passed)}</div><div class="l">robustness score, ${escapeHtml(s.norm)}, eps 0 to ${escapeHtml(formatEps(s.epsMax))}${t ? `, ${escapeHtml(formatThreshold(t))}` : ''}</div></div>`,
    );
  }
  return `<div class="facts">${out.join('')}</div>`;
}

function resultsTable(result: SuiteResult): string {
  const rows = resultRows(result);
  if (rows.length === 0) return '<p class="note">No attacks were run.</p>';
  const body: string[] = [];
  let inWorst = false;
  for (const row of rows) {
    if (row.worst && !inWorst) {
      inWorst = true;
      body.push('<tr class="sep"><td colspan="9"></td></tr>');
    }
    body.push(
      `<tr${row.worst ? ' class="worst"' : ''}><td>${escapeHtml(row.worst ? `worst case (${row.norm})` : row.group)}</td><td class="num">${escapeHtml(formatEps(row.eps))}</td>` +
        `<td class="num">${formatNumber(row.robustAccuracy.value)}</td><td class="num">${formatInterval(row.robustAccuracy.ci)}</td>` +
        `<td class="num">${formatCount(row.robustAccuracy)}</td><td class="num">${row.attackSuccessRate ? formatPercent(row.attackSuccessRate.value) : ''}</td>` +
        `<td class="num">${row.worst ? '' : formatNumber(medianPerturbation(row), 4)}</td>` +
        `<td>${row.threshold ? escapeHtml(formatThreshold(row.threshold)) : ''}</td><td>${thresholdCell(row.threshold?.passed)}</td></tr>`,
    );
  }
  return (
    '<table><thead><tr><th>attack</th><th>eps</th><th>robust accuracy</th><th>95% CI</th><th>robust</th><th>attack success</th>' +
    '<th>median δ</th><th>threshold</th><th>verdict</th></tr></thead>' +
    `<tbody>${body.join('')}</tbody></table>`
  );
}

function points(result: SuiteResult, outcomes: ReadonlyArray<{ eps: number | null; robustAccuracy: { value: number; ci: readonly number[] } }>): ChartPoint[] {
  // At eps 0 no attack can change the input, so every curve starts at clean accuracy.
  const out: ChartPoint[] = [{ eps: 0, value: result.cleanAccuracy.value, ci: result.cleanAccuracy.ci }];
  for (const o of outcomes) {
    if (typeof o.eps === 'number' && o.eps > 0) out.push({ eps: o.eps, value: o.robustAccuracy.value, ci: o.robustAccuracy.ci });
  }
  return out;
}

function charts(result: SuiteResult): string {
  const figures: string[] = [];
  const skipped: string[] = [];
  result.attacks.forEach((attack: AttackOutcome, i) => {
    const own = points(result, attack.results);
    if (own.length < 2) {
      skipped.push(attack.id);
      return;
    }
    const series: ChartSeries[] = [{ label: attack.id, color: PALETTE[i % PALETTE.length] ?? '#1f77b4', points: own, band: true }];
    const worst = result.worstCase.filter((w) => w.norm === attack.norm);
    if (worst.length > 0) series.push({ label: `worst case (${attack.norm})`, color: WORST_COLOR, points: points(result, worst), dashed: true });
    const svg = accuracyChart(series, `eps (${attack.norm})`, `robust accuracy of ${attack.id} against eps, with the worst case over attacks`);
    figures.push(`<figure><figcaption>${escapeHtml(attack.id)}</figcaption>${svg}</figure>`);
  });
  const note = skipped.length > 0 ? `<p class="note">No eps curve for ${escapeHtml(skipped.join(', '))} (minimum-norm results without eps): see the table.</p>` : '';
  if (figures.length === 0) return note || '<p class="note">No attacks were run.</p>';
  return `<p class="note">Robust accuracy against eps for each attack (shaded: 95% CI), with the per-example worst case over all attacks of the same norm (dashed). Every curve starts at clean accuracy.</p><div class="charts">${figures.join('')}</div>${note}`;
}

function minimumNormSection(result: SuiteResult): string {
  if (result.minimumNorm.length === 0) return '';
  const head = MINIMUM_NORM_HEADER.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const rows = minimumNormRows(result).map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('');
  const figures = result.minimumNorm.map((m, i) => {
    const pts: ChartPoint[] = [{ eps: 0, value: result.cleanAccuracy.value, ci: result.cleanAccuracy.ci }, ...m.curve.map((c) => ({ eps: c.eps, value: c.accuracy.value, ci: c.accuracy.ci }))];
    const svg = accuracyChart([{ label: m.id, color: PALETTE[i % PALETTE.length] ?? '#1f77b4', points: pts, band: true }], `eps (${m.norm})`, `robustness curve of ${m.id}`);
    return `<figure><figcaption>${escapeHtml(m.id)} robustness curve</figcaption>${svg}</figure>`;
  });
  return `<h2>Minimum-norm attacks</h2><p class="note">A point is robust at eps while the smallest perturbation the attack found for it exceeds eps.</p><table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table><div class="charts">${figures.join('')}</div>`;
}

function certificationSection(result: SuiteResult): string {
  const c = result.certification;
  if (!c) return '';
  const rows = certifiedRows(result).map(
    (row) =>
      `<tr><td class="num">${escapeHtml(formatEps(row.radius))}</td><td class="num">${formatNumber(row.certifiedAccuracy.value)}</td>` +
      `<td class="num">${formatInterval(row.certifiedAccuracy.ci)}</td><td class="num">${formatCount(row.certifiedAccuracy)}</td>` +
      `<td>${row.threshold ? escapeHtml(formatThreshold(row.threshold)) : ''}</td><td>${thresholdCell(row.threshold?.passed)}</td></tr>`,
  );
  const points: ChartPoint[] = c.curve.map((p) => ({ eps: p.radius, value: p.certifiedAccuracy.value, ci: p.certifiedAccuracy.ci }));
  const svg = accuracyChart([{ label: `σ ${c.sigma}`, color: PALETTE[0] ?? '#1f77b4', points, band: true }], 'radius (L2)', 'certified accuracy against L2 radius', {
    yLabel: 'certified accuracy',
    xName: 'radius',
  });
  return (
    '<h2>Certified robustness</h2>' +
    `<p class="note">Randomised smoothing (Cohen et al. 2019), ${escapeHtml(certificationSettings(c))}: a point counts at a radius when the smoothed classifier is certified with the right class at least that far (each certificate holds with probability 1 − α). ` +
    `The smoothed classifier's accuracy is ${formatNumber(c.accuracy.value)} ${formatInterval(c.accuracy.ci)}; it abstained on ${formatPercent(c.abstainRate.value)}.</p>` +
    '<table><thead><tr><th>L2 radius</th><th>certified accuracy</th><th>95% CI</th><th>certified</th><th>threshold</th><th>verdict</th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table><div class="charts"><figure><figcaption>certified accuracy against radius</figcaption>${svg}</figure></div>`
  );
}

function groupsSection(result: SuiteResult): string {
  return breakdowns(result)
    .map(({ kind, breakdown }) => {
      const at = breakdown.key === null ? 'clean accuracy' : `robust accuracy at ${breakdown.key}`;
      const rows = groupRows(breakdown).map(
        (r) =>
          `<tr${r.weakest ? ' class="weakest"' : ''}><td>${escapeHtml(r.group)}</td><td class="num">${r.n}</td><td class="num">${formatNumber(r.clean.value)}</td>` +
          `<td class="num">${formatNumber(r.robust.value)}</td><td class="num">${formatInterval(r.robust.ci)}</td><td>${r.weakest ? 'weakest' : r.best ? 'best' : ''}</td></tr>`,
      );
      return (
        `<h2>Robustness by ${kind}</h2><p class="note">${escapeHtml(groupSummary(kind, breakdown))}</p>` +
        `<div class="charts"><figure><figcaption>${escapeHtml(at)} per ${kind}, with 95% Wilson intervals</figcaption>${groupChart(kind, breakdown)}</figure></div>` +
        `<table><thead><tr><th>${kind}</th><th>n</th><th>clean</th><th>${escapeHtml(at)}</th><th>95% CI</th><th></th></tr></thead><tbody>${rows.join('')}</tbody></table>`
      );
    })
    .join('\n');
}

function checksTable(result: SuiteResult): string {
  if (result.checks.length === 0) return '<p class="note">No checks were run.</p>';
  const rows = result.checks.map((c) => `<tr><td>${pill(c.status, c.status)}</td><td>${escapeHtml(c.name)}</td><td>${escapeHtml(c.message)}</td></tr>`);
  return `<table><thead><tr><th>status</th><th>check</th><th>detail</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function thresholdsTable(result: SuiteResult): string {
  if (result.thresholds.length === 0) return '<p class="note">No thresholds set.</p>';
  const rows = result.thresholds.map(
    (t) =>
      `<tr><td>${thresholdCell(t.passed)}</td><td><code>${escapeHtml(t.key)}</code></td><td class="num">${formatActual(t)}</td><td>${escapeHtml(formatThreshold(t))}</td><td>${escapeHtml(t.message)}</td></tr>`,
  );
  return `<table><thead><tr><th></th><th>threshold</th><th>actual</th><th>required</th><th>message</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function prediction(label: number, p: { pred: number; confidence: number }): string {
  const text = `pred ${p.pred} · ${formatPercent(p.confidence)}`;
  return p.pred === label ? escapeHtml(text) : `<span class="flip">${escapeHtml(text)}</span>`;
}

function sampleCard(sample: VisualSample, layout: ImageLayout, min: number, max: number): string {
  const head = `<div class="head">example #${sample.index} · label <strong>${sample.label}</strong> · <code>${escapeHtml(sample.key)}</code></div>`;
  let clean: string;
  let adv: string;
  let diff: string;
  try {
    clean = pngDataUrl(imagePng(sample.clean.pixels, layout, min, max));
    adv = pngDataUrl(imagePng(sample.adversarial.pixels, layout, min, max));
    const d = differencePng(sample.clean.pixels, sample.adversarial.pixels, layout);
    diff = pngDataUrl(d.png);
    const range = max - min;
    const gain = d.maxAbs > 0 && range > 0 ? ` (×${formatNumber(range / d.maxAbs, 1)})` : '';
    const caption = d.maxAbs > 0 ? `|δ| max ${formatNumber(d.maxAbs)}${gain}` : 'no change';
    return (
      `<div class="sample">${head}<div class="imgs">` +
      `<figure><img src="${clean}" alt="clean example ${sample.index}">clean<br>${prediction(sample.label, sample.clean)}</figure>` +
      `<figure><img src="${adv}" alt="adversarial example ${sample.index}">adversarial<br>${prediction(sample.label, sample.adversarial)}</figure>` +
      `<figure><img src="${diff}" alt="amplified difference ${sample.index}">difference<br>${escapeHtml(caption)}</figure>` +
      '</div></div>'
    );
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return `<div class="sample">${head}<p class="note">Cannot draw this example: ${escapeHtml(why)}.</p></div>`;
  }
}

function samplesSection(result: SuiteResult): string {
  if (result.samples.length === 0) return '<p class="note">No examples were recorded for display.</p>';
  const shape = result.input.shape;
  const layout = imageLayout(shape);
  if (layout === null) {
    const kind = shape.length === 1 ? 'rank-1 (tabular)' : `of shape [${shape.join(', ')}]`;
    return `<p class="note">The inputs are ${escapeHtml(kind)}, not images: no image grid.</p>`;
  }
  let { min, max } = result.input;
  if (!(max > min)) [min, max] = [0, 1];
  const cards = result.samples.map((s) => sampleCard(s, layout, min, max));
  return (
    `<p class="note">Pixels map from the input bounds [${formatEps(min)}, ${formatEps(max)}] to black..white. The difference image is |adversarial − clean|, ` +
    'scaled so its largest value is white; its caption gives that largest value in input units and the gain over the plain mapping.</p>' +
    `<div class="samples">${cards.join('')}</div>`
  );
}

/**
 * Render a suite result as one self-contained HTML page: the verdict and failures, the run manifest, clean
 * accuracy and scores, the attack × eps table with worst case, one accuracy-against-eps SVG chart per attack
 * (with the worst case of its norm), the certified-accuracy table and chart when the suite certified,
 * thresholds, evaluation checks, and a grid of clean, adversarial and
 * amplified-difference images (PNG data URLs) for `result.samples`. All text is escaped; no URL is referenced.
 * @example await writeFileAtomic('robust.report.html', renderHtml(result));
 */
export function renderHtml(result: SuiteResult): string {
  const title = `robust test: ${result.verdict.status.toUpperCase()}${result.verdict.unreliable ? ' (unreliable)' : ''}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>robust test report</h1>
${header(result)}
${manifest(result)}
<h2>Results</h2>
${facts(result)}
${resultsTable(result)}
<h2>Robust accuracy against eps</h2>
${charts(result)}
${minimumNormSection(result)}
${certificationSection(result)}
${groupsSection(result)}
<h2>Thresholds</h2>
${thresholdsTable(result)}
<h2>Evaluation checks</h2>
${checksTable(result)}
<h2>Examples</h2>
${samplesSection(result)}
</main>
</body>
</html>
`;
}
