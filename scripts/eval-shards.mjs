// Runs a suite too long for one sitting as n shards (`robust test --shard i/n`, one process each), keeping every
// finished shard's result in --dir, and merges them (`robust merge`) once all n are there. Kill it at any time and
// run it again: shards whose result file exists are skipped (robust writes results atomically, so a file that
// exists is complete). `--only 1,2` runs just those shards, e.g. to spread them over machines or sittings.
//
//   node scripts/eval-shards.mjs --config <suite> --shards <n> --dir <folder> [--only i,j,…] [-- <global options>]
//
// Global options (after `--`) go before `test`, e.g. `-- --backend wasm --threads 2`. Needs `npm run build`.
// Exit status: the merge's (0 pass, 1 fail, 2 bad input, 3 unreliable) once all shards exist; 0 while some are
// still missing; a shard's own status when it fails (a shard exits 0 whatever its numbers: only errors, such as a
// pin mismatch, fail it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: { config: { type: 'string' }, shards: { type: 'string' }, dir: { type: 'string' }, only: { type: 'string' } },
  allowPositionals: true,
});
const usage = 'usage: node scripts/eval-shards.mjs --config <suite> --shards <n> --dir <folder> [--only i,j] [-- <global robust options>]';
const count = Number(values.shards);
if (!values.config || !values.dir || !Number.isInteger(count) || count < 1) {
  console.error(usage);
  process.exit(2);
}
const only = values.only ? values.only.split(',').map(Number) : null;
if (only && only.some((i) => !Number.isInteger(i) || i < 1 || i > count)) {
  console.error(`--only takes shard numbers 1..${count}, comma-separated; ${usage}`);
  process.exit(2);
}
const robust = new URL('../bin/robust.js', import.meta.url).pathname;
const shardFile = (i) => join(values.dir, `shard-${i}-of-${count}.json`);
mkdirSync(values.dir, { recursive: true });

for (let i = 1; i <= count; i++) {
  if (only && !only.includes(i)) continue;
  if (existsSync(shardFile(i))) {
    console.error(`shard ${i}/${count}: ${shardFile(i)} exists, skipped`);
    continue;
  }
  const started = Date.now();
  const run = spawnSync(process.execPath, [robust, ...positionals, '--json', shardFile(i), 'test', '--config', values.config, '--shard', `${i}/${count}`], { stdio: 'inherit' });
  // Thresholds are judged at the merge, so a shard exits 0 unless something is wrong (a pin mismatch exits 1).
  if (run.status !== 0) {
    console.error(`shard ${i}/${count} stopped (exit ${run.status ?? run.signal}); its result was not written`);
    process.exit(run.status ?? 1);
  }
  console.error(`shard ${i}/${count}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

const files = Array.from({ length: count }, (_, k) => shardFile(k + 1));
const missing = files.flatMap((f, k) => (existsSync(f) ? [] : [k + 1]));
if (missing.length > 0) {
  console.error(`shards still to run: ${missing.join(', ')} of ${count}; run this again to continue`);
  process.exit(0);
}
const merge = spawnSync(process.execPath, [robust, '--json', join(values.dir, 'result.json'), 'merge', ...files, '--markdown', join(values.dir, 'summary.md')], { stdio: 'inherit' });
process.exit(merge.status ?? 1);
