/**
 * Loading and validating a suite file (`robust.config.json` or `.yaml`). Errors name the path in the file
 * and the fix, e.g. `attacks[1].eps: expected a number or list of numbers > 0, got "0.3x"`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import YAML from 'yaml';
import { UsageError, InputError } from '../errors.js';
import { getAttack } from '../attacks/registry.js';
import type { NormName } from '../attacks/core/norms.js';
import type { BackendChoice } from '../backends/index.js';
import type { Bounds, Normalization } from '../models/types.js';
import { parseDataSpec, type DataSource } from '../data/index.js';
import { makeDefense } from '../defenses/registry.js';
import type { DefenseSpec } from '../defenses/types.js';
import { suggest } from '../options/schema.js';
import { configSchema } from './schema.js';

export interface AttackEntry {
  name: string;
  norm?: NormName;
  eps?: number | number[];
  options?: Record<string, unknown>;
}

export interface SuiteConfig {
  model: { path: string; sha256?: string; bounds?: Bounds; normalization?: Normalization };
  data: { source: DataSource; n?: number; offset?: number; sample?: 'first' | 'random'; seed?: string | number };
  backend?: BackendChoice;
  seed?: string | number;
  batchSize?: number;
  attacks: AttackEntry[];
  /** Input-transform defences put in front of the model, in order, e.g. [{name: 'median', size: 3}]. */
  defenses?: DefenseSpec[];
  /** Attack the defended model through each defence's gradient policy (BPDA, EOT). Default true; false gives the naive number. */
  adaptive?: boolean;
  /**
   * Randomised-smoothing certification of the suite's examples (off when absent). Defaults: n0 100,
   * samples 1000, alpha 0.001, batchSize 1000, radii 0 to 1.5 in steps of 0.25.
   */
  certify?: { sigma: number; n0?: number; samples?: number; alpha?: number; batchSize?: number; radii?: number[] };
  thresholds?: {
    cleanAccuracy?: number;
    robustAccuracy?: Record<string, number>;
    score?: number | Partial<Record<NormName, number>>;
    /** L2 radius (as a string key, e.g. "0.5") → least certified accuracy allowed there. Needs `certify`. */
    certifiedAccuracy?: Record<string, number>;
    /**
     * Least robust accuracy allowed for the weakest true class: a number (at the key `perClass.key`, the worst
     * case it reports, see `perClass.key`) or an object from attack/worst-case keys to numbers.
     */
    minClassRobustAccuracy?: number | Record<string, number>;
    /** The same for the weakest slice of the data's group column (needs one). */
    minSliceRobustAccuracy?: number | Record<string, number>;
  };
  outputs?: { json?: string; junit?: string; markdown?: string; html?: string; cyclonedx?: string };
  perExample?: boolean;
  samples?: number;
}

/** A validated config plus where it came from. Paths inside are resolved against the config's folder. */
export interface LoadedConfig {
  config: SuiteConfig;
  path: string | null;
  sha256: string;
}

/** "/attacks/1/eps" → "attacks[1].eps" */
function pathOf(instancePath: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `${out ? '.' : ''}${p}` : `["${p}"]`;
  return out || '(top level)';
}

function shown(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** One line for the most useful of ajv's errors. */
function describe(errors: ErrorObject[]): string {
  // An entry of attacks or defenses whose name matches none: say so, with the names (see schema.ts's byName).
  const badName = errors.find((e) => e.keyword === 'discriminator');
  if (badName) {
    const names = ((badName.parentSchema as Record<string, unknown> | undefined)?.['x-names'] ?? []) as string[];
    const name = (badName.data as { name?: unknown } | null)?.name;
    const hint = typeof name === 'string' ? suggest(name, names) : null;
    return `${pathOf(`${badName.instancePath}/name`)}: expected one of ${names.join(', ')}, got ${shown(name)}${hint ? `; did you mean "${hint}"?` : ''}`;
  }
  // Prefer the deepest location; among those, a node that says what it expects.
  const sorted = [...errors].sort((a, b) => b.instancePath.split('/').length - a.instancePath.split('/').length);
  const extra = sorted.find((e) => e.keyword === 'additionalProperties');
  if (extra) {
    const key = String((extra.params as { additionalProperty: string }).additionalProperty);
    const parent = extra.parentSchema as { properties?: object; 'x-owner'?: string } | undefined;
    const allowed = Object.keys(parent?.properties ?? {}).filter((k) => k !== 'name' || !parent?.['x-owner']);
    const hint = suggest(key, allowed);
    const where = pathOf(extra.instancePath);
    const loc = where === '(top level)' ? key : `${where}.${key}`;
    // Options of an attack or defence: name whose they are, as the library and the CLI do.
    const what = parent?.['x-owner'] ? `${parent['x-owner']} has no option "${key}"` : 'unknown key';
    const choices = allowed.length > 0 ? `${parent?.['x-owner'] ? 'its options are' : 'allowed keys are'} ${allowed.join(', ')}` : 'it takes no options';
    return `${loc}: ${what}; ${hint ? `did you mean "${hint}"?` : choices}`;
  }
  const missing = sorted.find((e) => e.keyword === 'required');
  const deepest = sorted[0]!;
  if (missing && missing.instancePath.length >= deepest.instancePath.length) {
    const prop = String((missing.params as { missingProperty: string }).missingProperty);
    const where = pathOf(missing.instancePath);
    return `${where === '(top level)' ? prop : `${where}.${prop}`}: required but missing`;
  }
  const withExpected = sorted.find((e) => e.instancePath === deepest.instancePath && (e.parentSchema as Record<string, unknown> | undefined)?.['x-expected']);
  const e = withExpected ?? deepest;
  const expected = (e.parentSchema as Record<string, unknown> | undefined)?.['x-expected'];
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
    const hint = typeof e.data === 'string' ? suggest(e.data, allowed) : null;
    return `${pathOf(e.instancePath)}: expected ${expected ?? `one of ${allowed.join(', ')}`}, got ${shown(e.data)}${hint ? `; did you mean "${hint}"?` : ''}`;
  }
  return `${pathOf(e.instancePath)}: expected ${typeof expected === 'string' ? expected : (e.message ?? 'a valid value')}, got ${shown(e.data)}`;
}

let validator: ReturnType<Ajv['compile']> | null = null;

function validateShape(doc: unknown, where: string): asserts doc is SuiteConfig {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, discriminator: true });
    validator = ajv.compile(configSchema());
  }
  if (!validator(doc)) throw new UsageError(`${where}: ${describe(validator.errors ?? [])}`);
}

/** Checks the schema cannot express (the schema already holds each attack's norms and options). */
function validateSemantics(cfg: SuiteConfig, where: string): void {
  cfg.attacks.forEach((a, i) => {
    const info = getAttack(a.name);
    if (a.eps === undefined && info.kind === 'fixed-eps') {
      throw new UsageError(`${where}: attacks[${i}].eps: ${a.name} needs a budget; add e.g. "eps": [0.1, 0.3]`);
    }
  });
  const certified = Object.keys(cfg.thresholds?.certifiedAccuracy ?? {});
  if (certified.length > 0 && !cfg.certify) {
    throw new UsageError(`${where}: thresholds.certifiedAccuracy: needs a certify section, e.g. "certify": {"sigma": 0.25}`);
  }
  for (const key of certified) {
    if (!(key.trim() !== '' && Number.isFinite(Number(key)) && Number(key) >= 0)) {
      throw new UsageError(`${where}: thresholds.certifiedAccuracy["${key}"]: expected an L2 radius (a number >= 0) as the key, e.g. "0.5"`);
    }
  }
  // Building a defence checks its options; it holds no tensors, so nothing needs releasing.
  cfg.defenses?.forEach((d, i) => makeDefense(d, `${where}: defenses[${i}]`));
}

/** Parse and validate a config document (already read). `baseDir` resolves relative paths. */
export function parseConfig(text: string, where: string, baseDir: string): SuiteConfig {
  let doc: unknown;
  try {
    doc = /\.ya?ml$/i.test(where) ? YAML.parse(text) : JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new InputError(`${where} is not valid ${/\.ya?ml$/i.test(where) ? 'YAML' : 'JSON'}: ${msg}`);
  }
  validateShape(doc, where);
  validateSemantics(doc, where);
  const raw = doc as SuiteConfig & { data: { source: unknown } };
  const source = parseDataSpec(raw.data.source, { baseDir, field: 'data.source' });
  const outputs = raw.outputs
    ? Object.fromEntries(Object.entries(raw.outputs).map(([k, v]) => [k, resolve(baseDir, v as string)]))
    : undefined;
  return {
    ...raw,
    model: { ...raw.model, path: resolve(baseDir, raw.model.path) },
    data: { ...raw.data, source },
    ...(outputs ? { outputs } : {}),
  };
}

/** Read, parse and validate a config file. */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new InputError(`config not found: ${path}; pass --config <file> or run \`robust init\` to write one`);
  }
  const config = parseConfig(text, path, dirname(resolve(path)));
  return { config, path, sha256: createHash('sha256').update(text).digest('hex') };
}
