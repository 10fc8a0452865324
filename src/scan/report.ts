/**
 * Writers of a scan: a console table, JSON, and SARIF 2.1.0 (the format GitHub code scanning reads). Each
 * reads the same ScanReport and computes nothing but presentation.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VERSION } from '../version.js';
import { RULES } from './rules.js';
import { SEVERITIES, type Finding, type FindingLocation, type ScanReport, type Severity } from './types.js';

/** `file!/member@offset [layer]`: one location as text. */
export function formatLocation(loc: FindingLocation): string {
  return `${loc.file}${loc.member !== undefined ? `!/${loc.member}` : ''}${loc.offset !== undefined ? `@${loc.offset}` : ''}${loc.layer !== undefined ? ` [${loc.layer}]` : ''}`;
}

/** Count of findings per severity. */
export function countBySeverity(findings: readonly Finding[]): Record<Severity, number> {
  const counts: Record<Severity, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/** The console table: one row per finding, then a summary line. */
export function renderScanConsole(report: ScanReport): string {
  const counts = countBySeverity(report.findings);
  const summary = `${report.files.length} file(s) scanned, ${report.findings.length} finding(s): ${[...SEVERITIES].reverse().map((s) => `${counts[s]} ${s}`).join(', ')}`;
  if (report.findings.length === 0) return `no findings\n${summary}`;
  const rows = report.findings.map((f) => [f.severity, f.rule, formatLocation(f.location), f.message]);
  const widths = [8, 6, Math.min(60, rows.reduce((w, r) => Math.max(w, r[2]!.length), 8))];
  const line = (r: string[]): string => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ');
  return [line(['severity', 'rule', 'location', 'explanation']), ...rows.map(line), summary].join('\n');
}

/** The JSON report: the tool, every file with its format and hash, the findings and a summary. */
export function renderScanJson(report: ScanReport): string {
  return `${JSON.stringify({ tool: { name: 'robust scan', version: VERSION }, summary: countBySeverity(report.findings), files: report.files, findings: report.findings }, null, 2)}\n`;
}

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { critical: 'error', high: 'error', medium: 'warning', low: 'note' };
// GitHub code scanning ranks security results by this property (CVSS-like, 0-10).
const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '2.0' };

function artifactUri(file: string, baseDir: string): { uri: string; uriBaseId?: string } {
  const rel = relative(baseDir, file);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return { uri: pathToFileURL(file).href };
  return { uri: rel.split(sep).map(encodeURIComponent).join('/'), uriBaseId: '%SRCROOT%' };
}

/**
 * SARIF 2.1.0 for GitHub code scanning: the rule table as the driver's rules, one result per finding with
 * its file (relative to `baseDir`, default the working folder), byte offset, zip member and layer.
 */
export function renderScanSarif(report: ScanReport, baseDir: string = process.cwd()): string {
  const ruleIndex = new Map(RULES.map((r, i) => [r.id, i]));
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'robust scan',
            version: VERSION,
            informationUri: 'https://github.com/robust-ml/robust/blob/main/docs/scan.md',
            rules: RULES.map((r) => ({
              id: r.id,
              name: r.name,
              shortDescription: { text: r.name },
              fullDescription: { text: r.description },
              help: { text: `${r.description} Applies to: ${r.formats}.` },
              defaultConfiguration: { level: LEVEL[r.severity] },
              properties: { tags: ['security', 'supply-chain'], 'security-severity': SECURITY_SEVERITY[r.severity], severity: r.severity },
            })),
          },
        },
        originalUriBaseIds: { '%SRCROOT%': { uri: pathToFileURL(baseDir.endsWith(sep) ? baseDir : `${baseDir}${sep}`).href } },
        artifacts: report.files.map((f) => ({ location: artifactUri(f.path, baseDir), length: f.bytes, ...(f.sha256 ? { hashes: { 'sha-256': f.sha256 } } : {}) })),
        results: report.findings.map((f) => {
          const inner = [f.location.member, f.location.layer].filter((s): s is string => s !== undefined);
          return {
            ruleId: f.rule,
            ruleIndex: ruleIndex.get(f.rule)!,
            level: LEVEL[f.severity],
            message: { text: `${f.message}${inner.length ? ` (in ${inner.join(', ')})` : ''}` },
            locations: [
              {
                physicalLocation: {
                  artifactLocation: artifactUri(f.location.file, baseDir),
                  ...(f.location.offset !== undefined && f.location.member === undefined ? { region: { byteOffset: f.location.offset } } : {}),
                },
                ...(inner.length ? { logicalLocations: [{ fullyQualifiedName: inner.join('/'), kind: f.location.layer !== undefined ? 'object' : 'module' }] } : {}),
              },
            ],
            partialFingerprints: { 'robustScanFinding/v1': createHash('sha256').update(`${f.rule}|${formatLocation({ ...f.location, file: relative(baseDir, f.location.file) })}`).digest('hex') },
            properties: { severity: f.severity, ...(f.location.member !== undefined ? { member: f.location.member } : {}), ...(f.location.offset !== undefined ? { offset: f.location.offset } : {}), ...(f.location.layer !== undefined ? { layer: f.location.layer } : {}) },
          };
        }),
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}
