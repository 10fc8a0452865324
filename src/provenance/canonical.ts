/**
 * Canonical JSON, the bytes a signature covers. Two documents that parse to the same value have the same
 * canonical form, whatever their key order, indentation or number spelling:
 *
 * - objects: keys sorted by UTF-16 code units (JavaScript's default sort), `"key":value` pairs joined by `,`,
 *   no whitespace; keys whose value is `undefined` are left out, as JSON.stringify does;
 * - arrays: in order, joined by `,`;
 * - strings and numbers: as ECMAScript's JSON.stringify writes them (shortest round-trip numbers, `-0` as `0`);
 *   NaN and infinities as `null` (JSON has neither); typed arrays as arrays.
 *
 * For the values a result holds this is the JSON Canonicalization Scheme (RFC 8785), so any JCS library can
 * reproduce the bytes. Encoded as UTF-8.
 */

/**
 * The canonical JSON text of `value` (see the module docs).
 * @example canonicalJson({ b: 1, a: [true, null, 0.5] }) // '{"a":[true,null,0.5],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v: unknown) => canonicalJson(v)).join(',')}]`;
  if (ArrayBuffer.isView(value)) return canonicalJson(Array.from(value as unknown as ArrayLike<number>));
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: cannot encode a ${typeof value}`);
}
