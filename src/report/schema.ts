/**
 * The published JSON Schema of a `robust test` result (`schema/robust.result.schema.json`, draft-07) and a
 * validator for it. The JSON writer also takes its key order from the schema, so the two cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { InputError } from '../errors.js';
import type { SuiteResult } from '../suite/types.js';

/** The subset of JSON Schema the result schema uses, as far as the writers walk it. */
export interface SchemaNode {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  definitions?: Record<string, SchemaNode>;
  [keyword: string]: unknown;
}

/**
 * Where the schema file lives. Both `src/report/` and the built `dist/report/` sit two folders below the package
 * root, so the same relative URL works from either.
 */
export const RESULT_SCHEMA_FILE = new URL('../../schema/robust.result.schema.json', import.meta.url);

let cachedSchema: SchemaNode | null = null;
let cachedValidate: ValidateFunction | null = null;

/** The result schema, parsed once. */
export function resultSchema(): SchemaNode {
  if (cachedSchema === null) {
    const parsed: unknown = JSON.parse(readFileSync(RESULT_SCHEMA_FILE, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new InputError(`${RESULT_SCHEMA_FILE.pathname} is not a JSON Schema object; reinstall robust`);
    }
    cachedSchema = parsed as SchemaNode;
  }
  return cachedSchema;
}

function validator(): ValidateFunction {
  cachedValidate ??= new Ajv({ allErrors: true, strict: true }).compile(resultSchema());
  return cachedValidate;
}

function describe(error: ErrorObject): string {
  const where = error.instancePath === '' ? '(top level)' : error.instancePath;
  const extra = error.keyword === 'additionalProperties' ? ` (${String(error.params['additionalProperty'])})` : '';
  return `${where}: ${error.message ?? error.keyword}${extra}`;
}

/**
 * Check a parsed JSON value against the result schema.
 * @returns an empty list when it is valid, otherwise one line per violation ("/attacks/0/kind: must be equal to
 *   one of the allowed values").
 */
export function resultSchemaErrors(value: unknown): string[] {
  const validate = validator();
  return validate(value) ? [] : (validate.errors ?? []).map(describe);
}

/**
 * Narrow a parsed JSON value (e.g. a shard file for `robust merge`) to a {@link SuiteResult}, or throw an
 * InputError naming the file and the first violation. NaN fields arrive as null, so renderers must accept both.
 * @example const result = assertSuiteResult(JSON.parse(text), 'shard-1.json');
 */
export function assertSuiteResult(value: unknown, source: string): SuiteResult {
  const errors = resultSchemaErrors(value);
  if (errors.length > 0) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    throw new InputError(`${source} is not a robust test result: ${errors[0]}${more}; pass a JSON report written by robust test`);
  }
  return value as SuiteResult;
}
