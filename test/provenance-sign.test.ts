import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { makeSuiteResult } from './fixtures/suite-result.js';
import { linearWeights, writeLinearData, writeLinearGraphModel } from './fixtures/suite-fixtures.js';
import { canonicalJson } from '../src/provenance/canonical.js';
import { checkSignature, readPrivateKey, readPublicKey, signResult } from '../src/provenance/sign.js';
import { verifyResult } from '../src/provenance/verify.js';
import { renderJson } from '../src/report/json.js';
import type { SuiteResult } from '../src/suite/types.js';

let dir: string;
let keyPath: string;
let pubPath: string;
let otherPub: string;

function writeKeys(name: string): { key: string; pub: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key = join(dir, `${name}.pem`);
  const pub = join(dir, `${name}.pub`);
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { key, pub };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'robust-sign-'));
  ({ key: keyPath, pub: pubPath } = writeKeys('signer'));
  otherPub = writeKeys('other').pub;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('canonical JSON', () => {
  it('sorts keys, drops whitespace and writes numbers as ECMAScript does (RFC 8785 for these values)', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2, { z: null, y: 'é"' }], c: true } })).toBe('{"a":{"c":true,"d":[1,2,{"y":"é\\"","z":null}]},"b":1}');
    expect(canonicalJson([1e21, 1e-7, 0.000001, -0, 123.456, Number.NaN, undefined])).toBe('[1e+21,1e-7,0.000001,0,123.456,null,null]');
    expect(canonicalJson({ a: undefined, b: Float32Array.of(0.5) })).toBe('{"b":[0.5]}');
    // Parsing a pretty-printed, reordered copy gives the same bytes.
    const r = makeSuiteResult({ examples: true });
    expect(canonicalJson(JSON.parse(renderJson(r)))).toBe(canonicalJson(JSON.parse(JSON.stringify(r))));
  });
});

/** Every path to a leaf (or an empty object or array) of a JSON value. */
function leafPaths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.length === 0 ? [at] : value.flatMap((v, i) => leafPaths(v, [...at, i]));
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value);
    return keys.length === 0 ? [at] : keys.flatMap((k) => leafPaths((value as Record<string, unknown>)[k], [...at, k]));
  }
  return [at];
}

function mutate(doc: unknown, path: (string | number)[], how: number): unknown {
  const copy = JSON.parse(JSON.stringify(doc)) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const p of path.slice(0, -1)) parent = parent[p] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  const v = parent[last];
  if (how === 0 && !Array.isArray(parent)) delete parent[last];
  else if (how === 1 && !Array.isArray(parent)) parent[`${String(last)}_extra`] = 0;
  else if (typeof v === 'number') parent[last] = v === 0 ? 1 : -v + 0.5;
  else if (typeof v === 'string') parent[last] = `${v}x`;
  else if (typeof v === 'boolean') parent[last] = !v;
  else if (v === null) parent[last] = 0;
  else parent[last] = Array.isArray(v) ? [0] : { x: 0 };
  return copy;
}

describe('signing a result', () => {
  it('a signed result verifies, after re-indenting too; changing, adding or deleting ANY field breaks it', async () => {
    const key = await readPrivateKey(keyPath);
    const signed = JSON.parse(renderJson(signResult(makeSuiteResult({ examples: true }), key))) as unknown;
    const trusted = await readPublicKey(pubPath);
    expect(checkSignature(signed, trusted).ok).toBe(true);
    expect(checkSignature(JSON.parse(JSON.stringify(signed)), trusted).ok).toBe(true);
    const paths = leafPaths(signed);
    expect(paths.length).toBeGreaterThan(1000);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: paths.length - 1 }), fc.integer({ min: 0, max: 2 }), (i, how) => {
        const changed = mutate(signed, paths[i]!, how);
        expect(checkSignature(changed).ok).toBe(false);
        expect(checkSignature(changed, trusted).ok).toBe(false);
      }),
      { numRuns: 300, seed: 15 },
    );
    // Every field of the signature itself, deterministically.
    for (const p of paths.filter((q) => q[0] === 'signature')) expect(checkSignature(mutate(signed, p, 2)).ok).toBe(false);
  });

  it('fails with another trusted key, and without a signature', async () => {
    const signed = signResult(makeSuiteResult(), await readPrivateKey(keyPath));
    const other = checkSignature(signed, await readPublicKey(otherPub));
    expect(other.ok).toBe(false);
    expect(other.message).toMatch(/not by the trusted key/);
    expect(checkSignature(makeSuiteResult()).message).toMatch(/not signed/);
  });

  it('reads keys as openssl genpkey writes them', async () => {
    const key = join(dir, 'openssl.pem');
    const pub = join(dir, 'openssl.pub');
    try {
      execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', key], { stdio: 'ignore' });
      execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-out', pub], { stdio: 'ignore' });
    } catch {
      return; // no openssl here: the Node-written PKCS#8/SPKI keys above are the same formats
    }
    const signed = signResult(makeSuiteResult(), await readPrivateKey(key));
    expect(checkSignature(signed, await readPublicKey(pub)).ok).toBe(true);
  });
});

describe('robust test --sign and robust verify', () => {
  let config: string;
  let model: string;
  let other: string;
  let data: { x: string; y: string };
  let out: string;

  beforeAll(async () => {
    const { W, b } = linearWeights('verify');
    model = writeLinearGraphModel(join(dir, 'model'), W, b);
    other = writeLinearGraphModel(join(dir, 'other'), W.map((v) => v * 1.01), b);
    data = await writeLinearData(join(dir, 'data'), 24, W, b, 'verify');
    config = join(dir, 'robust.config.json');
    writeFileSync(config, JSON.stringify({
      model: { path: model },
      data: { source: { x: data.x, y: data.y }, n: 20, offset: 2 },
      backend: 'cpu',
      attacks: [{ name: 'fgsm', eps: 0.05 }, { name: 'pgd', eps: [0.05, 0.1], options: { steps: 5 } }],
      samples: 0,
      perExample: true,
    }));
    out = join(dir, 'result.json');
    const run = await runCli('--quiet', '--json', out, 'test', '--config', config, '--sign', keyPath, '--cyclonedx', join(dir, 'bom.json'));
    expect(run.code, run.stderr).toBe(0);
  });

  it('--cyclonedx writes the ML-BOM of the signed result', () => {
    const bom = JSON.parse(readFileSync(join(dir, 'bom.json'), 'utf8')) as { metadata: { properties: { name: string; value: string }[] }; components: { hashes: { content: string }[] }[] };
    const result = JSON.parse(readFileSync(out, 'utf8')) as SuiteResult;
    expect(bom.metadata.properties).toContainEqual({ name: 'robust:signature-key', value: result.signature!.keyId });
    expect(bom.components[0]!.hashes[0]!.content).toBe(result.manifest.model.sha256);
  });

  it('verifies signature, model, data and a recheck of every example (exit 0)', async () => {
    const r = await runCli('verify', out, '--pub', pubPath, '--model', model, '--data', `npy:${data.x},${data.y}`, '--config', config, '--recheck', '20');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok {3}signature: valid Ed25519 signature by key [0-9a-f]{16}… \(the trusted key\)$/m);
    expect(r.stdout).toMatch(/^ok {3}model: /m);
    expect(r.stdout).toMatch(/^ok {3}data: 20 examples of /m);
    expect(r.stdout).toMatch(/^ok {3}recheck: re-ran 20 examples on cpu: every clean and robust outcome matches$/m);
  });

  it('exit 1 naming what fails: an edit, another key, another model, other data', async () => {
    const text = readFileSync(out, 'utf8');
    const edited = join(dir, 'edited.json');
    writeFileSync(edited, text.replace(/"value": ([0-9.]+)/, (_, v: string) => `"value": ${Number(v) === 1 ? 0.99 : 1}`));
    let r = await runCli('verify', edited);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL signature: the signature does not match the content/);
    expect(r.stderr).toMatch(/does not verify: signature$/);
    r = await runCli('verify', out, '--pub', otherPub);
    expect(r.code).toBe(1);
    r = await runCli('verify', out, '--model', other, '--data', `npy:${data.x},${data.y}`);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL model: .* not the model that was tested/);
    expect(r.stdout).toMatch(/ok {3}data/);
    // The library reads the recorded subset (n 20 from offset 2) and gets the same hash.
    const shifted = await verifyResult(JSON.parse(text), { data: { kind: 'npy', x: data.x, y: data.y } });
    expect(shifted.map((c) => c.ok)).toEqual([true, true]);
  });

  it('recheck fails on an honestly signed but dishonest outcome', async () => {
    const result = JSON.parse(readFileSync(out, 'utf8')) as SuiteResult;
    const key = 'pgd@linf:0.1';
    const flags = result.examples!.robust[key]!;
    const j = flags.findIndex((v) => v === 0);
    expect(j).toBeGreaterThanOrEqual(0);
    flags[j] = 1; // claim a broken example was robust, then sign it with the real key
    const forged = join(dir, 'forged.json');
    writeFileSync(forged, renderJson(signResult(result, await readPrivateKey(keyPath))));
    const r = await runCli('verify', forged, '--pub', pubPath, '--config', config, '--recheck', '20');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ok {3}signature/m);
    expect(r.stdout).toContain(`FAIL recheck: re-ran 20 examples on cpu: 1 outcome(s) differ, e.g. example ${result.examples!.indices[j]}: ${key} robust recorded, broken now`);
  });

  it('bad input exits 2 before any work: --sign with no JSON output, a key that is not Ed25519', async () => {
    const noJson = await runCli('--quiet', 'test', '--config', config, '--sign', keyPath);
    expect(noJson.code).toBe(2);
    expect(noJson.stderr).toMatch(/--sign signs the JSON result, and none is written/);
    const rsa = join(dir, 'rsa.pem');
    writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const bad = await runCli('--quiet', '--json', join(dir, 'r2.json'), 'test', '--config', config, '--sign', rsa);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is a rsa key; robust signs with Ed25519/);
    expect((await runCli('verify', join(dir, 'missing.json'))).code).toBe(2);
  });
});
