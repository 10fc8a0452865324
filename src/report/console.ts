/**
 * The console report of `robust test`: plain text that reads well in a terminal and in a CI log.
 */
import { breakdowns, groupSummary } from './groups.js';
import type { CheckStatus, SuiteResult } from '../suite/types.js';
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
import { textBar } from './chart.js';

/** Options of {@link renderConsole}. */
export interface ConsoleOptions {
  /** ANSI colours for verdicts and check statuses. Default false (plain text, safe for logs and files). */
  color?: boolean;
}

type Style = 'green' | 'yellow' | 'red' | 'bold' | 'dim';

const ANSI: Record<Style, string> = { green: '32', yellow: '33', red: '31', bold: '1', dim: '2' };

/** A table cell: the text decides the width, the style is applied after padding so colour codes never count. */
interface Cell {
  text: string;
  style?: Style;
  right?: boolean;
}

function paint(text: string, style: Style | undefined, color: boolean): string {
  return color && style !== undefined && text !== '' ? `\u001b[${ANSI[style]}m${text}\u001b[0m` : text;
}

function table(rows: Cell[][], color: boolean, indent = ''): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c.text].length)));
  return rows.map((row) => {
    const cells = row.map((c, i) => {
      const pad = ' '.repeat((widths[i] ?? 0) - [...c.text].length);
      return c.right ? pad + paint(c.text, c.style, color) : paint(c.text, c.style, color) + pad;
    });
    return (indent + cells.join('  ')).trimEnd();
  });
}

function verdictCell(passed: boolean | undefined): Cell {
  if (passed === undefined) return { text: '' };
  return passed ? { text: 'pass', style: 'green' } : { text: 'FAIL', style: 'red' };
}

const STATUS_STYLE: Record<CheckStatus, Style> = { ok: 'green', warning: 'yellow', failed: 'red' };

/**
 * Render a suite result as a plain-text report: the run manifest, clean accuracy, an attack × eps table (robust
 * accuracy, its 95% CI, k/n, attack success rate, median perturbation, threshold and verdict) with the worst-case
 * rows, the certified-accuracy curve when the suite certified (with text bars), the scores, every threshold, the
 * evaluation checks, and the verdict with every failure line verbatim.
 * NaN and null values show as "–".
 * @example process.stdout.write(renderConsole(result, { color: process.stdout.isTTY }));
 */
export function renderConsole(result: SuiteResult, options: ConsoleOptions = {}): string {
  const color = options.color ?? false;
  const m = result.manifest;
  const out: string[] = [];
  const status = result.verdict.status === 'pass' ? paint('PASS', 'green', color) : paint('FAIL', 'red', color);
  out.push(`${paint('robust test', 'bold', color)}  ${status}${result.verdict.unreliable ? `  ${paint('UNRELIABLE', 'yellow', color)}` : ''}`);
  out.push(
    ...table(
      [
        [{ text: 'model' }, { text: m.model.path }, { text: `sha256 ${shortHash(m.model.sha256)}${m.model.pinned ? ' (pinned)' : ''}` }],
        [{ text: 'data' }, { text: m.data.source }, { text: `sha256 ${shortHash(m.data.sha256)}  n=${m.data.n}` }],
        [{ text: 'run' }, { text: `backend ${m.backend}, seed ${m.seed}` }, { text: `robust ${m.robust}, ${m.startedAt}, ${m.seconds.toFixed(1)} s` }],
        [{ text: 'defences' }, { text: defenceSummary(result) }, { text: '' }],
        ...(m.shard ? [[{ text: 'shard' }, { text: shardLabel(m.shard) }, { text: '' }]] : []),
      ],
      color,
    ).map((line) => paint(line, 'dim', color)),
  );
  out.push('');

  const thresholdOf = new Map(result.thresholds.map((t) => [t.key, t]));
  const clean = thresholdOf.get('cleanAccuracy');
  out.push(
    ...table(
      [
        [
          { text: 'clean accuracy' },
          { text: formatNumber(result.cleanAccuracy.value) },
          { text: formatInterval(result.cleanAccuracy.ci) },
          { text: formatCount(result.cleanAccuracy) },
          { text: clean ? formatThreshold(clean) : '' },
          verdictCell(clean?.passed),
        ],
      ],
      color,
    ),
  );
  out.push('');

  const header: Cell[] = ['attack', 'eps', 'robust acc', '95% CI', 'robust', 'success', 'median δ', 'threshold', 'verdict'].map(
    (text) => ({ text, style: 'bold' }),
  );
  const body: Cell[][] = [header];
  let inWorst = false;
  for (const row of resultRows(result)) {
    if (row.worst && !inWorst) {
      inWorst = true;
      body.push([{ text: '' }]);
    }
    body.push([
      { text: row.group, style: row.worst ? 'bold' : undefined },
      { text: formatEps(row.eps), right: true },
      { text: formatNumber(row.robustAccuracy.value), right: true },
      { text: formatInterval(row.robustAccuracy.ci) },
      { text: formatCount(row.robustAccuracy), right: true },
      { text: row.attackSuccessRate ? formatPercent(row.attackSuccessRate.value) : '', right: true },
      { text: row.worst ? '' : formatNumber(medianPerturbation(row), 4), right: true },
      { text: row.threshold ? formatThreshold(row.threshold) : '' },
      verdictCell(row.threshold?.passed),
    ]);
  }
  if (body.length === 1) out.push('no attacks were run');
  else out.push(...table(body, color));
  out.push('');
  if (result.minimumNorm.length > 0) {
    out.push(...table([MINIMUM_NORM_HEADER.map((text) => ({ text, style: 'bold' as const })), ...minimumNormRows(result).map((r) => r.map((text) => ({ text })))], color), '');
  }

  const certification = result.certification;
  if (certification) {
    out.push(
      `${paint('certified robustness', 'bold', color)} (randomised smoothing, ${certificationSettings(certification)}): smoothed accuracy ${formatNumber(certification.accuracy.value)}, abstained ${formatPercent(certification.abstainRate.value)}`,
    );
    const rows: Cell[][] = [['L2 radius', 'certified acc', '95% CI', 'certified', '', 'threshold', 'verdict'].map((text) => ({ text, style: 'bold' as const }))];
    for (const row of certifiedRows(result)) {
      rows.push([
        { text: formatEps(row.radius), right: true },
        { text: formatNumber(row.certifiedAccuracy.value), right: true },
        { text: formatInterval(row.certifiedAccuracy.ci) },
        { text: formatCount(row.certifiedAccuracy), right: true },
        { text: `|${textBar(row.certifiedAccuracy.value)}|` },
        { text: row.threshold ? formatThreshold(row.threshold) : '' },
        verdictCell(row.threshold?.passed),
      ]);
    }
    out.push(...table(rows, color), '');
  }

  for (const s of result.scores) {
    const t = scoreThreshold(result, s.norm);
    out.push(
      ...table(
        [
          [
            { text: `score ${s.norm}` },
            { text: `${formatNumber(s.score, 1)} / 100` },
            { text: `(eps 0 to ${formatEps(s.epsMax)})` },
            { text: t ? formatThreshold(t) : '' },
            verdictCell(t?.passed),
          ],
        ],
        color,
      ),
    );
  }
  if (result.scores.length > 0) out.push('');
  const groups = breakdowns(result).filter((g) => g.breakdown.groups.length > 1);
  for (const { kind, breakdown } of groups) out.push(`by ${kind}: ${groupSummary(kind, breakdown)}`);
  if (groups.length > 0) out.push('');

  if (result.thresholds.length > 0) {
    out.push(paint('thresholds', 'bold', color));
    out.push(
      ...table(
        result.thresholds.map((t) => [verdictCell(t.passed), { text: t.key }, { text: formatActual(t), right: true }, { text: formatThreshold(t) }]),
        color,
        '  ',
      ),
    );
    out.push('');
  }

  if (result.checks.length > 0) {
    out.push(paint('evaluation checks', 'bold', color));
    out.push(
      ...table(
        result.checks.map((c) => [{ text: c.status, style: STATUS_STYLE[c.status] }, { text: c.name }, { text: c.message }]),
        color,
        '  ',
      ),
    );
    out.push('');
  }

  const verdict = result.verdict.status === 'pass' ? paint('PASS', 'green', color) : paint('FAIL', 'red', color);
  out.push(`${verdict}: ${verdictSummary(result)}`);
  for (const line of result.verdict.failures) out.push(`  ${line}`);
  const unreliable = unreliableReason(result);
  if (unreliable !== null) out.push(`${paint('UNRELIABLE', 'yellow', color)}: ${unreliable}`);
  return out.join('\n') + '\n';
}
