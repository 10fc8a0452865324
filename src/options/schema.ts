/**
 * Typed option schemas: every attack and defence declares its options once (type, range, default, one-line
 * doc) and everything else derives from that declaration: the defaults the code runs with, the runtime
 * check of the library API, the CLI's flags (kebab-case of the name, or the spec's own `flag`), the suite file's JSON Schema and the
 * docs. So an option cannot be settable in one place and unknown in another, and a misspelt one is an
 * error everywhere, with a "did you mean".
 *
 * A leaf: it imports nothing of robust but the error types, so attacks, defences, the suite and the CLI
 * may all import it without cycles.
 */
import { UsageError } from '../errors.js';

interface Doc {
  /** One line for `--help`, the schema's description and the docs. */
  doc: string;
  /**
   * The CLI flag's name (without dashes) where the kebab-case of the option's name would clash with a flag
   * of robust's own: AutoAttack's `version` is `--aa-version`, since `--version` prints robust's version.
   */
  flag?: string;
}
interface Range {
  min?: number;
  max?: number;
  /** The bounds themselves are excluded (e.g. a step size > 0). */
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
}
/** A default computed from other options (e.g. PGD's stepSize = eps/4), with that rule in words. */
interface Computed {
  computedDefault?: string;
}

/** One option: its type, range, default and doc. */
export type OptionSpec =
  | (Doc & Range & Computed & { type: 'number'; default?: number })
  | (Doc & Range & Computed & { type: 'integer'; default?: number })
  | (Doc & { type: 'boolean'; default?: boolean })
  | (Doc & { type: 'enum'; values: readonly string[]; default?: string })
  | (Doc & { type: 'string'; default?: string })
  | (Doc & Range & { type: 'number-array'; default?: readonly number[] })
  | (Doc & { type: 'enum-array'; values: readonly string[]; default?: readonly string[] });

/** Options by name, in the order docs and `--help` list them. */
export type OptionSchema = Readonly<Record<string, OptionSpec>>;

/** The TypeScript type of a value of `S`. */
export type OptionValue<S extends OptionSpec> = S extends { type: 'number' | 'integer' }
  ? number
  : S extends { type: 'boolean' }
    ? boolean
    : S extends { type: 'enum'; values: readonly (infer V)[] }
      ? V
      : S extends { type: 'number-array' }
        ? number[]
        : S extends { type: 'enum-array'; values: readonly (infer V)[] }
          ? V[]
          : string;

/** The options of a schema that have a default, with their types. */
export type OptionDefaults<S extends OptionSchema> = {
  -readonly [K in keyof S as S[K] extends { default: unknown } ? K : never]: OptionValue<S[K]>;
};

/** Every default of `schema`, in declaration order; options without one (computed or absent) are left out. */
export function defaultsOf<S extends OptionSchema>(schema: S): OptionDefaults<S> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    if (spec.default === undefined) continue;
    out[key] = Array.isArray(spec.default) ? [...(spec.default as unknown[])] : spec.default;
  }
  return out as OptionDefaults<S>;
}

/** `targetClasses` → `target-classes`, the kebab-case of an option's name. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The CLI flag of an option: `--target-classes` for `targetClasses`, or `--${spec.flag}` where the spec names its own. */
export function flagOf(key: string, spec: OptionSpec | undefined): string {
  return `--${spec?.flag ?? kebab(key)}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = row[j] as number;
      row[j] = next;
    }
  }
  return row[b.length] as number;
}

/** The closest of `choices` to `word`, if it is close enough to be a likely typo (case-insensitive). */
export function suggest(word: string, choices: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of choices) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

function rangeText(r: Range, whole: boolean): string {
  const what = whole ? 'a whole number' : 'a number';
  const { min, max } = r;
  if (min !== undefined && max !== undefined) return `${what} in ${r.exclusiveMin ? '(' : '['}${min}, ${max}${r.exclusiveMax ? ')' : ']'}`;
  if (min !== undefined) return `${what} ${r.exclusiveMin ? '>' : '>='} ${min}`;
  if (max !== undefined) return `${what} ${r.exclusiveMax ? '<' : '<='} ${max}`;
  return what;
}

/** What a value of `spec` must be, as error messages and the schema's `x-expected` say it. */
export function expectedText(spec: OptionSpec): string {
  switch (spec.type) {
    case 'number':
    case 'integer':
      return rangeText(spec, spec.type === 'integer');
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${spec.values.join(', ')}`;
    case 'string':
      return 'a string';
    case 'number-array':
      return `a non-empty list of ${rangeText(spec, false).replace(/^a number/, 'numbers')}`;
    case 'enum-array':
      return `a list of at least one of ${spec.values.join(', ')}`;
  }
}

function inRange(v: unknown, r: Range, whole: boolean): boolean {
  if (typeof v !== 'number' || !Number.isFinite(v) || (whole && !Number.isInteger(v))) return false;
  if (r.min !== undefined && (r.exclusiveMin ? v <= r.min : v < r.min)) return false;
  return !(r.max !== undefined && (r.exclusiveMax ? v >= r.max : v > r.max));
}

/** Whether `value` is a valid value of `spec`. */
export function isValid(spec: OptionSpec, value: unknown): boolean {
  switch (spec.type) {
    case 'number':
    case 'integer':
      return inRange(value, spec, spec.type === 'integer');
    case 'boolean':
      return typeof value === 'boolean';
    case 'enum':
      return typeof value === 'string' && spec.values.includes(value);
    case 'string':
      return typeof value === 'string';
    case 'number-array':
      return Array.isArray(value) && value.length > 0 && value.every((v) => inRange(v, spec, false));
    case 'enum-array':
      return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && spec.values.includes(v));
  }
}

function shown(v: unknown): string {
  const s = typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** How `checkOptions` names what it checks. */
export interface CheckContext {
  /** Whose options these are, e.g. 'pgd' or 'median'. */
  owner: string;
  /** Prefix of an option's path in messages, e.g. 'attacks[1].options' → `attacks[1].options.steps: …`. Default 'options'. */
  where?: string;
  /** Name options as the CLI's flags (`--step-size`) rather than by path. */
  flags?: boolean;
  /** With `flags`: the flags of keys this schema lacks but another declares with a flag of its own (`version` → `--aa-version`). */
  otherFlags?: Readonly<Record<string, string>>;
  /** Keys accepted here without a check, because another layer owns them (e.g. an attack's seed or targeting). */
  passThrough?: readonly string[];
}

/**
 * Refuse unknown, ill-typed and out-of-range options before any work. `undefined` values count as absent.
 * @throws UsageError, one line naming the option, e.g.
 *   `spec.options.step: pgd has no option "step"; did you mean "steps"?` or `--steps: expected a whole number >= 1 for pgd, got 0`.
 */
export function checkOptions(schema: OptionSchema, values: object, ctx: CheckContext): void {
  const name = (key: string) => (ctx.flags ? (schema[key] ? flagOf(key, schema[key]) : (ctx.otherFlags?.[key] ?? flagOf(key, undefined))) : key);
  const label = (key: string) => (ctx.flags ? name(key) : ctx.where ? `${ctx.where}.${key}` : `${ctx.owner}: options.${key}`);
  const known = Object.keys(schema);
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || ctx.passThrough?.includes(key)) continue;
    const spec = schema[key];
    if (!spec) {
      const hint = suggest(key, known);
      const choices = known.length > 0 ? `its options are ${known.map(name).join(', ')}` : 'it takes no options';
      const unknown = `${ctx.owner} has no option "${key}"`;
      const what = ctx.flags ? `${label(key)} does not apply to ${ctx.owner}` : ctx.where ? `${label(key)}: ${unknown}` : unknown;
      throw new UsageError(`${what}; ${hint ? `did you mean "${name(hint)}"?` : choices}`);
    }
    if (!isValid(spec, value)) throw new UsageError(`${label(key)}: expected ${expectedText(spec)}${ctx.flags ? ` for ${ctx.owner}` : ''}, got ${shown(value)}`);
  }
}

/** `defaults` overlaid with `values`: a key with a default is always set, to the default or the value given. */
export type Resolved<D, V> = {
  [K in keyof D | keyof V]: K extends keyof D ? (K extends keyof V ? D[K] | Exclude<V[K], undefined> : D[K]) : K extends keyof V ? V[K] : never;
};

/** `defaults` overlaid with `values`, after `checkOptions`. The one way attacks and defences read their options. */
export function resolveOptions<D extends object, V extends object>(schema: OptionSchema, defaults: D, values: V, ctx: CheckContext): Resolved<D, V> {
  checkOptions(schema, values, ctx);
  // An option given as undefined takes its default, as an absent one does.
  const given = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as V;
  return { ...defaults, ...given } as Resolved<D, V>;
}

type Json = Record<string, unknown>;

/** The JSON Schema of one option: type, range, default and doc, with `x-expected` for error messages. */
export function optionJsonSchema(spec: OptionSpec): Json {
  const range = (r: Range): Json => ({
    ...(r.min !== undefined ? { [r.exclusiveMin ? 'exclusiveMinimum' : 'minimum']: r.min } : {}),
    ...(r.max !== undefined ? { [r.exclusiveMax ? 'exclusiveMaximum' : 'maximum']: r.max } : {}),
  });
  const base: Json = (() => {
    switch (spec.type) {
      case 'number':
      case 'integer':
        return { type: spec.type, ...range(spec) };
      case 'boolean':
      case 'string':
        return { type: spec.type };
      case 'enum':
        return { enum: [...spec.values] };
      case 'number-array':
        return { type: 'array', minItems: 1, items: { type: 'number', ...range(spec) } };
      case 'enum-array':
        return { type: 'array', minItems: 1, items: { enum: [...spec.values] } };
    }
  })();
  const computed = 'computedDefault' in spec && spec.computedDefault ? ` (default ${spec.computedDefault})` : '';
  return {
    ...base,
    ...(spec.default !== undefined ? { default: spec.default } : {}),
    description: `${spec.doc}${computed}`,
    'x-expected': expectedText(spec),
  };
}

/** The JSON Schema properties of a whole option schema. */
export function schemaProperties(schema: OptionSchema): Json {
  return Object.fromEntries(Object.entries(schema).map(([key, spec]) => [key, optionJsonSchema(spec)]));
}

/** `steps 40` or `stepSize eps/4`: an option's default as the docs list it; null when it has none. */
export function defaultText(key: string, spec: OptionSpec): string | null {
  if (spec.default !== undefined) return `${key} ${JSON.stringify(spec.default)}`;
  if ('computedDefault' in spec && spec.computedDefault) return `${key} ${spec.computedDefault}`;
  return null;
}

/**
 * A CLI flag's text as a value of `spec`'s type, left for `checkOptions` to range-check (the same flag may
 * serve several attacks with different ranges). Lists are comma-separated.
 */
export function parseFlagText(spec: OptionSpec, flag: string, text: string): unknown {
  const number = (t: string): number => {
    const v = Number(t);
    if (t.trim() === '' || !Number.isFinite(v)) throw new UsageError(`${flag}: expected a number, got "${text}"`);
    return v;
  };
  switch (spec.type) {
    case 'number':
    case 'integer':
      return number(text);
    case 'number-array':
      return text.split(',').map((t) => number(t.trim()));
    case 'enum-array':
      return text.split(',').map((t) => t.trim());
    default:
      return text;
  }
}
