/**
 * The JSON report: the SuiteResult itself, with a stable key order so that two runs diff line by line.
 */
import type { SuiteResult } from '../suite/types.js';
import { resultSchema, type SchemaNode } from './schema.js';

function resolve(node: SchemaNode | undefined, root: SchemaNode): SchemaNode | undefined {
  let current = node;
  for (let hops = 0; current?.$ref !== undefined && hops < 16; hops++) {
    const name = /^#\/definitions\/(.+)$/.exec(current.$ref)?.[1];
    current = name === undefined ? undefined : root.definitions?.[name];
  }
  return current;
}

/** The branch of a node that describes objects (the schema writes nullable objects as anyOf [object, null]). */
function objectBranch(node: SchemaNode | undefined, root: SchemaNode): SchemaNode | undefined {
  const resolved = resolve(node, root);
  if (resolved?.anyOf === undefined) return resolved;
  for (const branch of resolved.anyOf) {
    const b = resolve(branch, root);
    if (b?.properties !== undefined || b?.additionalProperties !== undefined || b?.items !== undefined) return b;
  }
  return resolved;
}

/**
 * A copy of `value` whose object keys follow the schema: declared properties in the schema's order, then any
 * other keys (records such as `packages` or `params`) sorted, so the output depends on the data alone and never
 * on the order in which the run happened to fill it in.
 */
function ordered(value: unknown, node: SchemaNode | undefined, root: SchemaNode): unknown {
  if (Array.isArray(value)) {
    const items = objectBranch(node, root)?.items;
    return value.map((v: unknown) => ordered(v, items, root));
  }
  if (typeof value !== 'object' || value === null) return value;
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  const schema = objectBranch(node, root);
  const record = value as Record<string, unknown>;
  const properties = schema?.properties ?? {};
  const declared = Object.keys(properties).filter((k) => Object.hasOwn(record, k));
  const rest = Object.keys(record)
    .filter((k) => !Object.hasOwn(properties, k))
    .sort();
  const extra = typeof schema?.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  // No prototype, so that a key such as "__proto__" in user-supplied params is written as data.
  const out = Object.create(null) as Record<string, unknown>;
  for (const k of declared) out[k] = ordered(record[k], properties[k], root);
  for (const k of rest) out[k] = ordered(record[k], extra, root);
  return out;
}

/**
 * Render a suite result as JSON: keys in the order of `schema/robust.result.schema.json`, 2-space indent,
 * trailing newline. NaN and infinities become null (JSON has neither); readers treat null as "undefined rate".
 * Typed arrays are written as plain arrays.
 * @example await writeFileAtomic('robust.result.json', renderJson(result));
 */
export function renderJson(result: SuiteResult): string {
  const root = resultSchema();
  return `${JSON.stringify(ordered(result, root, root), null, 2)}\n`;
}
