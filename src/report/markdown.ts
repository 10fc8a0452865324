/**
 * The Markdown summary, for pull-request comments and `$GITHUB_STEP_SUMMARY` (GitHub-flavoured Markdown).
 */
import { breakdowns, groupRows, groupSummary } from './groups.js';
import type { CheckStatus, SuiteResult } from '../suite/types.js';
import {
  formatActual,
  formatCount,
  formatEps,
  formatInterval,
  formatNumber,
  formatPercent,
  formatThreshold,
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

/**
 * Escape text for Markdown inline content (table cells included): characters with Markdown or HTML meaning get
 * a backslash, and line breaks become spaces so a cell stays one row.
 */
export function markdownText(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/([\\`*_[\]<>|#~!&])/g, '\\$1');
}

function code(text: string): string {
  const clean = text.replace(/[\r\n]+/g, ' ');
  const longest = Math.max(0, ...Array.from(clean.matchAll(/`+/g), (m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = clean.startsWith('`') || clean.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${clean}${pad}${fence}`;
}

function mark(passed: boolean | undefined): string {
  if (passed === undefined) return '';
  return passed ? '✅' : '❌';
}

const STATUS_MARK: Record<CheckStatus, string> = { ok: '✅ ok', warning: '⚠️ warning', failed: '❌ failed' };

/** The badge-like first line: ✅ pass, ❌ fail, or ⚠️ unreliable (a failed run that is also unreliable shows both). */
export function markdownHeadline(result: SuiteResult): string {
  const { status, unreliable } = result.verdict;
  if (status === 'fail') return `### ❌ robust test: FAIL${unreliable ? ' · ⚠️ UNRELIABLE' : ''}`;
  return unreliable ? '### ⚠️ robust test: UNRELIABLE (thresholds met)' : '### ✅ robust test: PASS';
}

/**
 * Render a suite result as a Markdown summary: the verdict line, every failure line, the attack × eps table
 * (robust accuracy with its 95% CI, worst case in bold), clean accuracy and score, the certified-accuracy table
 * when the suite certified, thresholds, checks, and the
 * model and data hashes (short). NaN and null values show as "–".
 * @example await appendFile(process.env.GITHUB_STEP_SUMMARY!, renderMarkdown(result));
 */
export function renderMarkdown(result: SuiteResult): string {
  const m = result.manifest;
  const out: string[] = [markdownHeadline(result), ''];
  out.push(`**${markdownText(verdictSummary(result))}**`);
  if (result.verdict.failures.length > 0) {
    out.push('');
    for (const line of result.verdict.failures) out.push(`- ${markdownText(line)}`);
  }
  const unreliable = unreliableReason(result);
  if (unreliable !== null) out.push('', `> ⚠️ **Unreliable evaluation:** ${markdownText(unreliable)}.`);
  out.push('');

  const clean = result.thresholds.find((t) => t.key === 'cleanAccuracy');
  const facts = [
    `Clean accuracy **${formatNumber(result.cleanAccuracy.value)}** ${formatInterval(result.cleanAccuracy.ci)} (${formatCount(result.cleanAccuracy)})${clean ? ` ${mark(clean.passed)} ${formatThreshold(clean)}` : ''}`,
  ];
  for (const s of result.scores) {
    const t = scoreThreshold(result, s.norm);
    facts.push(`score ${s.norm} **${formatNumber(s.score, 1)}**/100 (eps ≤ ${formatEps(s.epsMax)})${t ? ` ${mark(t.passed)} ${formatThreshold(t)}` : ''}`);
  }
  out.push(facts.join(' · '), '');
  out.push(`Defences: ${markdownText(defenceSummary(result))}`, '');

  const rows = resultRows(result);
  if (rows.length > 0) {
    out.push('| Attack | eps | Robust accuracy | 95% CI | Robust | Success rate | Threshold |');
    out.push('| --- | ---: | ---: | --- | ---: | ---: | --- |');
    for (const row of rows) {
      const name = row.worst ? `**${markdownText(row.group)}**` : markdownText(row.group);
      const acc = row.worst ? `**${formatNumber(row.robustAccuracy.value)}**` : formatNumber(row.robustAccuracy.value);
      const threshold = row.threshold ? `${mark(row.threshold.passed)} ${formatThreshold(row.threshold)}` : '';
      const success = row.attackSuccessRate ? formatPercent(row.attackSuccessRate.value) : '';
      out.push(`| ${name} | ${formatEps(row.eps)} | ${acc} | ${formatInterval(row.robustAccuracy.ci)} | ${formatCount(row.robustAccuracy)} | ${success} | ${threshold} |`);
    }
    out.push('');
  }

  const certification = result.certification;
  if (certification) {
    out.push(
      `**Certified robustness** (randomised smoothing, ${markdownText(certificationSettings(certification))}): smoothed accuracy **${formatNumber(certification.accuracy.value)}** ${formatInterval(certification.accuracy.ci)}, abstained ${formatPercent(certification.abstainRate.value)}`,
      '',
    );
    out.push('| L2 radius | Certified accuracy | 95% CI | Certified | Threshold |', '| ---: | ---: | --- | ---: | --- |');
    for (const row of certifiedRows(result)) {
      const threshold = row.threshold ? `${mark(row.threshold.passed)} ${formatThreshold(row.threshold)}` : '';
      out.push(`| ${formatEps(row.radius)} | ${formatNumber(row.certifiedAccuracy.value)} | ${formatInterval(row.certifiedAccuracy.ci)} | ${formatCount(row.certifiedAccuracy)} | ${threshold} |`);
    }
    out.push('');
  }

  for (const { kind, breakdown } of breakdowns(result)) {
    const at = breakdown.key === null ? 'Clean accuracy' : `Robust accuracy at ${code(breakdown.key)}`;
    out.push(`**Robustness by ${kind}:** ${markdownText(groupSummary(kind, breakdown))}`, '');
    out.push(`| ${kind === 'class' ? 'Class' : 'Slice'} | n | Clean | ${at} | 95% CI | |`, '| --- | ---: | ---: | ---: | --- | --- |');
    for (const r of groupRows(breakdown)) {
      const flag = r.weakest ? '⬇️ weakest' : r.best ? 'best' : '';
      out.push(`| ${markdownText(r.group)} | ${r.n} | ${formatNumber(r.clean.value)} | ${formatNumber(r.robust.value)} | ${formatInterval(r.robust.ci)} | ${flag} |`);
    }
    out.push('');
  }

  if (result.thresholds.length > 0) {
    out.push('<details><summary>Thresholds</summary>', '');
    out.push('| | Threshold | Actual | Required |', '| --- | --- | ---: | --- |');
    for (const t of result.thresholds) out.push(`| ${mark(t.passed)} | ${code(t.key)} | ${formatActual(t)} | ${formatThreshold(t)} |`);
    out.push('', '</details>', '');
  }

  if (result.minimumNorm.length > 0) {
    out.push(`| ${MINIMUM_NORM_HEADER.join(' | ')} |`, `| ${MINIMUM_NORM_HEADER.map(() => '---').join(' | ')} |`);
    for (const row of minimumNormRows(result)) out.push(`| ${row.map(markdownText).join(' | ')} |`);
    out.push('');
  }

  if (result.checks.length > 0) {
    out.push('| Check | Status | Detail |', '| --- | --- | --- |');
    for (const c of result.checks) out.push(`| ${markdownText(c.name)} | ${STATUS_MARK[c.status]} | ${markdownText(c.message)} |`);
    out.push('');
  }

  const shard = m.shard ? ` · shard ${shardLabel(m.shard, '/')}` : '';
  out.push(
    `<sub>model ${code(m.model.path)} sha256 ${code(shortHash(m.model.sha256))} · data ${code(m.data.source)} n=${m.data.n} sha256 ${code(shortHash(m.data.sha256))} · backend ${markdownText(m.backend)} · seed ${markdownText(m.seed)} · robust ${markdownText(m.robust)} · ${formatNumber(m.seconds, 1)} s${shard}</sub>`,
  );
  return `${out.join('\n')}\n`;
}
