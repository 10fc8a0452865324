#!/usr/bin/env node
// Compare two `robust test --json` results with timing aside: the refactor check of issue 18 ("a fixed-seed
// robust test gives a byte-identical JSON result, timing fields aside, before and after").
//   node scripts/compare-results.mjs before.json after.json   → exit 0 when identical, else 1 with a diff
// Left out: every `seconds`, `startedAt` and `endedAt`; the git commit (it moves with every commit); and the
// command line (it names the output files). Everything else must match byte for byte, key order included.
import { readFileSync } from 'node:fs';

const TIMING = new Set(['seconds', 'startedAt', 'endedAt']);

/** `value` without the fields that differ between two identical runs, in its original key order. */
export function withoutTiming(value, path = '') {
  if (Array.isArray(value)) return value.map((v) => withoutTiming(v, path));
  if (value === null || typeof value !== 'object') return value;
  const out = {};
  for (const [key, v] of Object.entries(value)) {
    if (TIMING.has(key)) continue;
    if (path === '.manifest' && key === 'commandLine') continue;
    if (path === '.manifest.git' && key === 'commit') continue;
    out[key] = withoutTiming(v, `${path}.${key}`);
  }
  return out;
}

const [a, b] = process.argv.slice(2);
if (a === undefined || b === undefined) {
  process.stderr.write('usage: node scripts/compare-results.mjs before.json after.json\n');
  process.exit(2);
}
const lines = (file) => JSON.stringify(withoutTiming(JSON.parse(readFileSync(file, 'utf8'))), null, 1).split('\n');
const [left, right] = [lines(a), lines(b)];
const first = left.findIndex((line, i) => line !== right[i]);
if (first === -1 && left.length === right.length) {
  process.stdout.write(`identical, timing aside (${left.length} lines)\n`);
  process.exit(0);
}
const at = first === -1 ? Math.min(left.length, right.length) : first;
process.stdout.write(`differ at line ${at + 1}:\n- ${left[at] ?? '(end)'}\n+ ${right[at] ?? '(end)'}\n`);
process.exit(1);
