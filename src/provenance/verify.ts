/**
 * `robust verify`: is this result the one that was signed, about this model and this data, and do its
 * per-example outcomes hold when re-run? Each question is a named check that holds or not; nothing is thrown for
 * a check that fails, so a caller sees every failure at once.
 */
import type { KeyObject } from 'node:crypto';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import seedrandom from 'seedrandom';
import { loadDataset, type DataSpec } from '../data/index.js';
import { readModelFiles } from '../models/io.js';
import type { LoadedConfig } from '../suite/config.js';
import { runSuite, shardRange, type RunSuiteOptions } from '../suite/run.js';
import type { SuiteResult } from '../suite/types.js';
import type { BackendChoice } from '../backends/index.js';
import { checkSignature } from './sign.js';
import { resultSchemaErrors } from '../report/schema.js';

/** One verified property. */
export interface VerifyCheck {
  name: 'signature' | 'result' | 'model' | 'data' | 'config' | 'recheck';
  ok: boolean;
  message: string;
}

/** What to verify besides the signature. */
export interface VerifyOptions {
  /** The trusted signer's public key; without it the key in the signature is used. */
  publicKey?: KeyObject;
  /** Model path to hash and compare with `manifest.model.sha256`. */
  model?: string;
  /** Data source to load with the manifest's subset, hash and compare with `manifest.data.sha256`. */
  data?: DataSpec;
  /** Re-run this many examples (a seeded sample of those the result kept) with this config and compare. */
  recheck?: { n: number; config: LoadedConfig; threads?: number; backend?: BackendChoice };
}

function short(hash: string | null | undefined): string {
  return hash ? `${hash.slice(0, 12)}…` : 'none';
}

/** The model hash as robust computes it: TF.js model.json plus shards, else the bytes of the one file. */
async function modelHash(path: string): Promise<string> {
  try {
    return (await readModelFiles(path)).sha256;
  } catch {
    return createHash('sha256').update(await readFile(path)).digest('hex');
  }
}

async function checkModel(result: SuiteResult, path: string): Promise<VerifyCheck> {
  const actual = await modelHash(path);
  const recorded = result.manifest.model.sha256;
  if (actual === recorded) return { name: 'model', ok: true, message: `${path} has the recorded SHA-256 ${short(recorded)}` };
  return { name: 'model', ok: false, message: `${path} has SHA-256 ${short(actual)} but the result records ${short(recorded)}: not the model that was tested` };
}

async function checkData(result: SuiteResult, spec: DataSpec): Promise<VerifyCheck> {
  const subset = result.manifest.data.subset;
  const ds = await loadDataset(spec, { ...(subset.n !== null ? { n: subset.n } : {}), offset: subset.offset, sample: subset.sample, seed: subset.seed });
  const recorded = result.manifest.data.sha256;
  if (ds.sha256 === recorded) return { name: 'data', ok: true, message: `${ds.n} examples of ${ds.source} have the recorded SHA-256 ${short(recorded)}` };
  return { name: 'data', ok: false, message: `${ds.n} examples of ${ds.source} have SHA-256 ${short(ds.sha256)} but the result records ${short(recorded)}: not the data that was tested` };
}

/** `n` of `count` positions, a seeded sample without replacement, ascending. */
function sample(count: number, n: number, seed: string): number[] {
  const rng = seedrandom(seed);
  const all = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, Math.min(n, count)).sort((a, b) => a - b);
}

async function recheck(result: SuiteResult, opts: NonNullable<VerifyOptions['recheck']>): Promise<VerifyCheck[]> {
  const ex = result.examples;
  if (!ex) return [{ name: 'recheck', ok: false, message: 'the result has no per-example outcomes to compare; write it with perExample: true (or --shard)' }];
  if (opts.config.sha256 !== result.manifest.config.sha256) {
    return [{ name: 'config', ok: false, message: `${opts.config.path ?? 'the config'} has SHA-256 ${short(opts.config.sha256)} but the result records ${short(result.manifest.config.sha256)}: pass the config that was run` }];
  }
  // Positions in the selection: a shard's examples start where its block of the selection starts.
  const [from] = shardRange(result.manifest.data.n, result.manifest.shard ?? undefined);
  const rows = sample(ex.cleanCorrect.length, opts.n, `${result.manifest.seed}/recheck`);
  const m = result.manifest;
  const options: RunSuiteOptions = {
    examples: rows.map((j) => from + j),
    seed: m.seed,
    backend: (opts.backend ?? m.backend) as BackendChoice,
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(m.defenses.adaptive !== null ? { adaptive: m.defenses.adaptive } : {}),
  };
  const again = await runSuite(opts.config, options);
  const mismatches: string[] = [];
  rows.forEach((j, k) => {
    const where = `example ${ex.indices[j]}`;
    if ((again.examples!.cleanCorrect[k] ?? -1) !== ex.cleanCorrect[j]) mismatches.push(`${where}: clean ${ex.cleanCorrect[j] ? 'correct' : 'wrong'} recorded, ${again.examples!.cleanCorrect[k] ? 'correct' : 'wrong'} now`);
    for (const key of Object.keys(ex.robust)) {
      const was = ex.robust[key]![j];
      const now = again.examples!.robust[key]?.[k];
      if (was !== now) mismatches.push(`${where}: ${key} ${was ? 'robust' : 'broken'} recorded, ${now === undefined ? 'not evaluated' : now ? 'robust' : 'broken'} now`);
    }
  });
  const checks: VerifyCheck[] = [];
  if (again.manifest.model.sha256 !== m.model.sha256) checks.push({ name: 'model', ok: false, message: `the config's model has SHA-256 ${short(again.manifest.model.sha256)}, not the recorded ${short(m.model.sha256)}` });
  checks.push(
    mismatches.length === 0
      ? { name: 'recheck', ok: true, message: `re-ran ${rows.length} examples on ${again.manifest.backend}: every clean and robust outcome matches` }
      : { name: 'recheck', ok: false, message: `re-ran ${rows.length} examples on ${again.manifest.backend}: ${mismatches.length} outcome(s) differ, e.g. ${mismatches.slice(0, 3).join('; ')}` },
  );
  return checks;
}

/**
 * Verify a parsed result: its signature (always), then the model and data hashes and a recheck when asked.
 * @returns one check per property, in the order signature, model, data, config/recheck.
 * @example
 *   const checks = await verifyResult(JSON.parse(text), { publicKey: await readPublicKey('key.pub'), model: 'models/mnist-cnn' });
 *   if (checks.some((c) => !c.ok)) process.exitCode = 1;
 */
export async function verifyResult(doc: unknown, opts: VerifyOptions = {}): Promise<VerifyCheck[]> {
  const checks: VerifyCheck[] = [{ name: 'signature', ...checkSignature(doc, opts.publicKey) }];
  const wanted = opts.model !== undefined || opts.data !== undefined || opts.recheck !== undefined;
  const errors = resultSchemaErrors(doc);
  if (wanted && errors.length > 0) return [...checks, { name: 'result', ok: false, message: `not a valid robust result (${errors[0]}), so nothing else can be checked` }];
  const result = doc as SuiteResult;
  if (opts.model !== undefined) checks.push(await checkModel(result, opts.model));
  if (opts.data !== undefined) checks.push(await checkData(result, opts.data));
  if (opts.recheck !== undefined) checks.push(...(await recheck(result, opts.recheck)));
  return checks;
}
