/**
 * The JUnit XML report, in the common Ant/Jenkins format (junit-10.xsd) that GitHub, GitLab, Jenkins and Azure
 * display: one test case per threshold and one per evaluation check.
 */
import type { SuiteResult } from '../suite/types.js';
import { formatActual, formatThreshold, shardLabel } from './format.js';

// XML 1.0 allows tab, newline, carriage return and these ranges; anything else (other control characters,
// lone surrogates, U+FFFE/U+FFFF) would make the whole file unreadable, so it becomes U+FFFD.
const INVALID_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Escape text content. */
export function xmlText(text: string): string {
  return text.replace(INVALID_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escape an attribute value (double-quoted); line breaks and tabs are kept as character references. */
export function xmlAttr(text: string): string {
  return xmlText(text)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

function attrs(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join('');
}

/** Ant's timestamp form: ISO 8601 to the second, no zone (the time is UTC). */
function antTimestamp(iso: string): string | null {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString().slice(0, 19);
}

interface Case {
  classname: string;
  name: string;
  failure?: { message: string; type: string; body: string };
  note?: string;
}

/**
 * Render a suite result as JUnit XML: `<testsuites>` holding one `<testsuite name="robust">` with
 * - one `<testcase classname="robust.thresholds">` per threshold, named by its key, with a `<failure>` carrying
 *   the failure line when the threshold is not met;
 * - one `<testcase classname="robust.checks">` per evaluation check: a failed check has a `<failure>`; a warning
 *   passes, with the message in `<system-out>` so it is visible without turning the build red;
 * - one `<testcase classname="robust.verdict">` per verdict failure line that no threshold explains (a pin
 *   failure, for instance), so nothing that failed the run is missing from CI.
 *
 * `<properties>` records the seed, backend, versions and the model, data and config hashes. Times are in seconds;
 * the suite's time is the run's wall time, test cases have none of their own (0).
 * @example await writeFileAtomic('robust.junit.xml', renderJunit(result));
 */
export function renderJunit(result: SuiteResult): string {
  const m = result.manifest;
  const cases: Case[] = [];
  const explained = new Set<string>();
  for (const t of result.thresholds) {
    const c: Case = { classname: 'robust.thresholds', name: t.key };
    if (!t.passed) {
      explained.add(t.message);
      c.failure = { message: t.message, type: 'threshold', body: `${t.message}\nactual ${formatActual(t)}, required ${formatThreshold(t)}` };
    }
    cases.push(c);
  }
  for (const check of result.checks) {
    const c: Case = { classname: 'robust.checks', name: check.name };
    if (check.status === 'failed') {
      c.failure = { message: check.message, type: 'check', body: `${check.message}\nThe evaluation may overstate robustness.` };
    } else if (check.status === 'warning') {
      c.note = `warning: ${check.message}`;
    } else if (check.message !== '') {
      c.note = check.message;
    }
    cases.push(c);
  }
  result.verdict.failures
    .filter((line) => !explained.has(line))
    .forEach((line, i) => cases.push({ classname: 'robust.verdict', name: `failure ${i + 1}`, failure: { message: line, type: 'verdict', body: line } }));

  const failures = cases.filter((c) => c.failure !== undefined).length;
  const time = Number.isFinite(m.seconds) ? m.seconds.toFixed(3) : '0';
  const properties: Array<[string, string]> = [
    ['seed', m.seed],
    ['backend', m.backend],
    ['robust.version', m.robust],
    ...Object.keys(m.packages)
      .sort()
      .map((name): [string, string] => [`package.${name}`, m.packages[name] ?? '']),
    ['model.path', m.model.path],
    ['model.sha256', m.model.sha256 ?? ''],
    ['model.pinned', m.model.pinned ?? ''],
    ['data.source', m.data.source],
    ['data.n', String(m.data.n)],
    ['data.sha256', m.data.sha256],
    ['config.path', m.config.path ?? ''],
    ['config.sha256', m.config.sha256],
    ['startedAt', m.startedAt],
    ['verdict', result.verdict.status],
    ['unreliable', String(result.verdict.unreliable)],
  ];
  if (m.shard) properties.push(['shard', shardLabel(m.shard, '/')]);

  const suiteAttrs: Record<string, string | number> = { name: 'robust', tests: cases.length, failures, errors: 0, skipped: 0, time };
  const stamp = antTimestamp(m.startedAt);
  if (stamp !== null) suiteAttrs['timestamp'] = stamp;

  const lines: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  lines.push(`<testsuites${attrs({ name: 'robust', tests: cases.length, failures, errors: 0, time })}>`);
  lines.push(`  <testsuite${attrs(suiteAttrs)}>`);
  lines.push('    <properties>');
  for (const [name, value] of properties) lines.push(`      <property${attrs({ name, value })}/>`);
  lines.push('    </properties>');
  for (const c of cases) {
    const open = `    <testcase${attrs({ classname: c.classname, name: c.name, time: '0' })}`;
    if (c.failure === undefined && c.note === undefined) {
      lines.push(`${open}/>`);
      continue;
    }
    lines.push(`${open}>`);
    if (c.failure !== undefined) {
      lines.push(`      <failure${attrs({ message: c.failure.message, type: c.failure.type })}>${xmlText(c.failure.body)}</failure>`);
    }
    if (c.note !== undefined) lines.push(`      <system-out>${xmlText(c.note)}</system-out>`);
    lines.push('    </testcase>');
  }
  const summary = [`robust test: ${result.verdict.status.toUpperCase()}${result.verdict.status === 'fail' && result.verdict.unreliable ? ' (UNRELIABLE)' : ''}`, ...result.verdict.failures];
  lines.push(`    <system-out>${xmlText(summary.join('\n'))}</system-out>`);
  lines.push('  </testsuite>');
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
