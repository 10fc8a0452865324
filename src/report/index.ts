/**
 * Report writers of `robust test`: console, JSON, JUnit XML, Markdown, HTML and a CycloneDX ML-BOM, all reading one SuiteResult.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InputError, UsageError } from '../errors.js';
import type { SuiteResult } from '../suite/types.js';
import { writeFilesAtomic } from '../util/atomic.js';
import { renderHtml } from './html.js';
import { renderCycloneDx } from './cyclonedx.js';
import { renderJson } from './json.js';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';

export { renderConsole, type ConsoleOptions } from './console.js';
export { renderHtml } from './html.js';
export { renderCycloneDx } from './cyclonedx.js';
export { renderJson } from './json.js';
export { renderJunit } from './junit.js';
export { renderMarkdown } from './markdown.js';
export { assertSuiteResult, resultSchema, resultSchemaErrors, RESULT_SCHEMA_FILE } from './schema.js';

/** Where to write each file report; formats left out are not written. Same keys as the config's `outputs`. */
export interface ReportOutputs {
  json?: string;
  junit?: string;
  markdown?: string;
  html?: string;
  /** CycloneDX 1.6 ML-BOM (JSON). */
  cyclonedx?: string;
}

const RENDERERS: Record<keyof ReportOutputs, (result: SuiteResult) => string> = {
  json: renderJson,
  junit: renderJunit,
  markdown: renderMarkdown,
  html: renderHtml,
  cyclonedx: renderCycloneDx,
};

/**
 * Render and write the requested reports, all or nothing: every report is rendered, then written to a temporary
 * file beside its target, and only when all are written are they renamed into place. If any write fails, no
 * target is touched (each keeps its previous content), no temporary file is left, and an InputError names the
 * path. Two formats aimed at the same file are a UsageError.
 * @returns the paths written, in the order json, junit, markdown, html, cyclonedx.
 * @example await writeReports(result, { json: 'out/robust.json', junit: 'out/junit.xml', html: 'out/report.html' });
 */
export async function writeReports(result: SuiteResult, outputs: ReportOutputs): Promise<string[]> {
  const files: Array<{ path: string; bytes: Uint8Array }> = [];
  const seen = new Map<string, string>();
  const encoder = new TextEncoder();
  for (const format of Object.keys(RENDERERS) as Array<keyof ReportOutputs>) {
    const path = outputs[format];
    if (path === undefined || path === '') continue;
    const absolute = resolve(path);
    const other = seen.get(absolute);
    if (other !== undefined) throw new UsageError(`outputs.${other} and outputs.${format} both write ${path}; give each report its own file`);
    seen.set(absolute, format);
    files.push({ path, bytes: encoder.encode(RENDERERS[format](result)) });
  }
  // writeFilesAtomic renames one file after another, so a target that cannot be replaced must be found before
  // the first rename, or the reports already renamed would not match the old ones left in place.
  for (const file of files) {
    const info = await stat(file.path).catch(() => null);
    if (info?.isDirectory()) throw new InputError(`cannot write ${file.path}: it is a directory; choose a file path for this report`);
  }
  await writeFilesAtomic(files);
  return files.map((f) => f.path);
}
