import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { PNG } from 'pngjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../src/errors.js';
import {
  assertSuiteResult,
  renderConsole,
  renderHtml,
  renderJson,
  renderJunit,
  renderMarkdown,
  resultSchemaErrors,
  writeReports,
} from '../src/report/index.js';
import { proportion } from '../src/metrics/rates.js';
import { summarize } from '../src/metrics/norms.js';
import type { SuiteResult } from '../src/suite/types.js';
import { FAILURE_LINE, N, SIDE, makeSuiteResult } from './fixtures/suite-result.js';
import { junitViolations, parseXml, type XmlElement } from './fixtures/xml.js';

const SCHEMA_PATH = new URL('../schema/robust.result.schema.json', import.meta.url);
const XSD_PATH = new URL('./fixtures/junit-10.xsd', import.meta.url).pathname;

/** The result as a reader of the JSON file sees it: NaN became null. */
function roundTrip(result: SuiteResult): SuiteResult {
  return JSON.parse(renderJson(result)) as SuiteResult;
}

/** A result with undefined quantities: an attack that met no correct example, and empty perturbation stats. */
function withNaN(): SuiteResult {
  const r = makeSuiteResult();
  const first = r.attacks[0]!.results[0]!;
  first.attackSuccessRate = proportion(0, 0);
  first.perturbation = { l0: summarize([]), l2: summarize([]), linf: summarize([]) };
  first.robustAccuracy = proportion(0, 0);
  r.scores[0]!.score = Number.NaN;
  return r;
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

function compileSchema(): (value: unknown) => boolean {
  const ajv = new Ajv({ allErrors: true, strict: true });
  return ajv.compile(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as object);
}

describe('renderJson and the result schema', () => {
  it('validates against schema/robust.result.schema.json with ajv, with and without per-example outcomes', () => {
    const validate = compileSchema();
    for (const r of [makeSuiteResult(), makeSuiteResult({ examples: true, unreliable: true }), withNaN()]) {
      const parsed: unknown = JSON.parse(renderJson(r));
      expect(validate(parsed)).toBe(true);
      expect(resultSchemaErrors(parsed)).toEqual([]);
    }
    const sharded = makeSuiteResult();
    sharded.manifest.shard = { index: 1, count: 4 };
    sharded.manifest.model.pinned = sharded.manifest.model.sha256;
    expect(validate(JSON.parse(renderJson(sharded)))).toBe(true);
  });

  it('names a shard by its 1-based index, as given on the command line, in every format', () => {
    const sharded = makeSuiteResult();
    sharded.manifest.shard = { index: 1, count: 4 };
    expect(renderConsole(sharded)).toMatch(/shard\s+1 of 4/);
    expect(renderHtml(sharded)).toContain('1 of 4');
    expect(renderMarkdown(sharded)).toContain('shard 1/4');
    expect(renderJunit(sharded)).toContain('value="1/4"');
    for (const text of [renderConsole(sharded), renderHtml(sharded), renderMarkdown(sharded), renderJunit(sharded)]) expect(text).not.toMatch(/2 of 4|2\/4/);
  });

  it('rejects broken copies, naming the path', () => {
    const good = (): Record<string, unknown> => JSON.parse(renderJson(makeSuiteResult())) as Record<string, unknown>;
    const cases: Array<[string, (v: Record<string, unknown>) => void, string]> = [
      ['missing field', (v) => delete v['verdict'], "must have required property 'verdict'"],
      ['wrong enum', (v) => ((v['checks'] as Array<Record<string, unknown>>)[0]!['status'] = 'maybe'), '/checks/0/status'],
      ['extra property', (v) => ((v['attacks'] as Array<Record<string, unknown>>)[0]!['extra'] = 1), '/attacks/0: must NOT have additional properties (extra)'],
      ['string for a number', (v) => (v['n'] = '200'), '/n: must be integer'],
      ['wrong schema tag', (v) => (v['schema'] = 'robust-result/v0'), '/schema'],
      ['short interval', (v) => ((v['cleanAccuracy'] as Record<string, unknown>)['ci'] = [0.9]), '/cleanAccuracy/ci'],
      ['bad hash', (v) => (((v['manifest'] as Record<string, unknown>)['data'] as Record<string, unknown>)['sha256'] = 'abc'), '/manifest/data/sha256'],
    ];
    const validate = compileSchema();
    for (const [, breakIt, expected] of cases) {
      const v = good();
      breakIt(v);
      expect(validate(v)).toBe(false);
      expect(resultSchemaErrors(v).join('\n')).toContain(expected);
    }
  });

  it('describes SuiteResult exactly: every object property is required and no other is allowed', () => {
    const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
    const loose: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Record<string, unknown>;
      if (n['properties'] !== undefined) {
        const props = Object.keys(n['properties'] as object).sort();
        const required = [...((n['required'] as string[] | undefined) ?? [])].sort();
        if (JSON.stringify(props) !== JSON.stringify(required)) loose.push(`${path}: required ${required} vs ${props}`);
        if (n['additionalProperties'] !== false) loose.push(`${path}: additionalProperties is not false`);
      }
      for (const [k, v] of Object.entries(n)) walk(v, `${path}/${k}`);
    };
    walk(schema, '#');
    expect(loose).toEqual([]);
  });

  it('writes NaN as null, keeps key order stable and follows the schema order', () => {
    const text = renderJson(withNaN());
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.split('\n')[1]).toBe('  "schema": "robust-result/v1",');
    const parsed = JSON.parse(text) as SuiteResult;
    const first = parsed.attacks[0]!.results[0]!;
    expect(first.attackSuccessRate.value).toBeNull();
    expect(first.attackSuccessRate.ci).toEqual([null, null]);
    expect(first.perturbation.l2.median).toBeNull();
    expect(parsed.scores[0]!.score).toBeNull();

    const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as { properties: object };
    expect(Object.keys(parsed)).toEqual(Object.keys(schema.properties));
    // Records have no declared order: their keys come out sorted.
    expect(Object.keys(parsed.manifest.packages)).toEqual([...Object.keys(parsed.manifest.packages)].sort());

    // The same data built in another key order renders byte for byte the same.
    const reversed = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(reversed);
      if (typeof v !== 'object' || v === null) return v;
      return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversed(x)]));
    };
    const r = makeSuiteResult({ examples: true });
    const shuffled = reversed(r) as SuiteResult;
    expect(Object.keys(shuffled)[0]).toBe('examples');
    expect(renderJson(shuffled)).toBe(renderJson(r));
  });

  it('assertSuiteResult narrows a valid value and throws an InputError naming the file otherwise', () => {
    const parsed: unknown = JSON.parse(renderJson(makeSuiteResult()));
    expect(assertSuiteResult(parsed, 'a.json').n).toBe(N);
    const broken = { ...(parsed as object), n: -1 };
    expect(() => assertSuiteResult(broken, 'shard-2.json')).toThrow(InputError);
    expect(() => assertSuiteResult(broken, 'shard-2.json')).toThrow(/^shard-2\.json is not a robust test result: \/n: must be >= 0/);
  });
});

function testcases(root: XmlElement): XmlElement[] {
  return root.children[0]!.children.filter((c) => c.name === 'testcase');
}

const xmllint = spawnSync('xmllint', ['--version']).status === 0;

function xsdValidate(xml: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'robust-junit-'));
  try {
    const file = join(dir, 'junit.xml');
    writeFileSync(file, xml);
    const run = spawnSync('xmllint', ['--noout', '--schema', XSD_PATH, file], { encoding: 'utf8' });
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('renderJunit', () => {
  it('has one test case per threshold and per check, and counts the failures', () => {
    for (const unreliable of [false, true]) {
      const r = makeSuiteResult({ unreliable });
      const root = parseXml(renderJunit(r));
      expect(junitViolations(root)).toEqual([]);
      const suite = root.children[0]!;
      const tests = r.thresholds.length + r.checks.length;
      const failures = r.thresholds.filter((t) => !t.passed).length + r.checks.filter((c) => c.status === 'failed').length;
      expect(failures).toBe(unreliable ? 2 : 1);
      for (const el of [root, suite]) {
        expect(el.attrs['tests']).toBe(String(tests));
        expect(el.attrs['failures']).toBe(String(failures));
        expect(el.attrs['errors']).toBe('0');
      }
      expect(suite.attrs['name']).toBe('robust');
      expect(suite.attrs['skipped']).toBe('0');
      expect(suite.attrs['time']).toBe('64.900');
      expect(suite.attrs['timestamp']).toBe('2025-06-01T12:00:00');
      const cases = testcases(root);
      expect(cases.map((c) => `${c.attrs['classname']} ${c.attrs['name']}`)).toEqual([
        ...r.thresholds.map((t) => `robust.thresholds ${t.key}`),
        ...r.checks.map((c) => `robust.checks ${c.name}`),
      ]);
      expect(cases.filter((c) => c.children.some((x) => x.name === 'failure'))).toHaveLength(failures);
      const failed = cases.find((c) => c.attrs['name'] === 'worst@linf:0.3')!;
      expect(failed.children[0]!.attrs['message']).toBe(FAILURE_LINE);
      expect(failed.children[0]!.text).toContain(FAILURE_LINE);
      // A warning passes, with its message as a note.
      const warning = cases.find((c) => c.attrs['name'] === 'finite gradients')!;
      expect(warning.children.map((c) => c.name)).toEqual(['system-out']);
      expect(warning.children[0]!.text).toBe('warning: gradients are zero on 12 of 200 inputs (6.0%)');
    }
  });

  it('records seed, backend and the full model and data hashes as properties', () => {
    const r = makeSuiteResult();
    const props = parseXml(renderJunit(r)).children[0]!.children[0]!;
    expect(props.name).toBe('properties');
    const map = Object.fromEntries(props.children.map((p) => [p.attrs['name'], p.attrs['value']]));
    expect(map['seed']).toBe('0');
    expect(map['backend']).toBe('wasm');
    expect(map['model.sha256']).toBe(r.manifest.model.sha256);
    expect(map['data.sha256']).toBe(r.manifest.data.sha256);
    expect(map['package.@tensorflow/tfjs-core']).toBe('4.22.0');
  });

  it('escapes markup, quotes, line breaks and characters XML forbids', () => {
    const r = makeSuiteResult();
    const key = `pgd@linf:0.1 <&"'> x`;
    const message = `robustAccuracy for ${key} is 0.10, below the threshold 0.85\nsecond line\u0007`;
    r.thresholds.push({ key, threshold: 0.85, actual: 0.1, passed: false, message });
    r.verdict.failures.push(message);
    r.checks[0]!.message = 'a </system-out> b & c ]]> d';
    r.checks[0]!.status = 'warning';
    const xml = renderJunit(r);
    const root = parseXml(xml);
    expect(junitViolations(root)).toEqual([]);
    const c = testcases(root).find((t) => t.attrs['name'] === key)!;
    expect(c).toBeDefined();
    // The attribute keeps the line break (as &#10;); the forbidden BEL character became U+FFFD.
    expect(c.children[0]!.attrs['message']).toBe(message.replace('\u0007', '\uFFFD'));
    expect(testcases(root)[r.thresholds.length]!.children[0]!.text).toBe('warning: a </system-out> b & c ]]> d');
    expect(root.children[0]!.attrs['failures']).toBe('2');
    // The failure line is explained by its threshold: no extra verdict test case.
    expect(testcases(root).some((t) => t.attrs['classname'] === 'robust.verdict')).toBe(false);
  });

  it('reports a failure line no threshold explains (a pin failure) as its own failing test case', () => {
    const r = makeSuiteResult();
    const pin = 'model sha256 0123 does not match the pinned sha256 abcd';
    r.verdict.failures.push(pin);
    const root = parseXml(renderJunit(r));
    const extra = testcases(root).filter((t) => t.attrs['classname'] === 'robust.verdict');
    expect(extra).toHaveLength(1);
    expect(extra[0]!.children[0]!.attrs['message']).toBe(pin);
    expect(root.attrs['tests']).toBe(String(r.thresholds.length + r.checks.length + 1));
    expect(root.attrs['failures']).toBe('2');
  });

  it('the strict reader rejects what is not well-formed', () => {
    expect(() => parseXml('<a><b></a></b>')).toThrow(SyntaxError);
    expect(() => parseXml('<a x="1" x="2"/>')).toThrow(/repeated/);
    expect(() => parseXml('<a>1 < 2</a>')).toThrow(SyntaxError);
    expect(() => parseXml('<a>fish & chips</a>')).toThrow(/entity/);
    expect(() => parseXml('<a x="<"/>')).toThrow(SyntaxError);
    expect(() => parseXml('<a>\u0001</a>')).toThrow(/not allowed/);
    expect(() => parseXml('<a/><b/>')).toThrow(/second root/);
    expect(junitViolations(parseXml('<testsuites><testsuite tests="1"><testcase/></testsuite></testsuites>'))).toEqual([
      'testsuites/testsuite[0]: missing attribute name',
      'testsuites/testsuite[0]/testcase[0]: missing attribute name',
    ]);
  });

  it.skipIf(!xmllint)('validates against junit-10.xsd with xmllint (and the XSD does reject a broken file)', () => {
    const r = makeSuiteResult({ unreliable: true });
    r.thresholds.push({ key: 'a<b&"c', threshold: 0.5, actual: null, passed: false, message: 'x <y> & "z"\nw' });
    r.verdict.failures.push('x <y> & "z"\nw', 'an unexplained failure');
    for (const xml of [renderJunit(r), renderJunit(makeSuiteResult({ pass: true }))]) {
      const { ok, output } = xsdValidate(xml);
      expect(output).toContain('validates');
      expect(ok).toBe(true);
    }
    const broken = renderJunit(r).replace('<testcase classname="robust.thresholds" name="cleanAccuracy"', '<testcase classname="robust.thresholds"');
    expect(xsdValidate(broken).ok).toBe(false);
    const misplaced = renderJunit(r).replace('    <properties>', '    <testcase name="early"/>\n    <properties>');
    expect(xsdValidate(misplaced).ok).toBe(false);
  });
});

describe('renderMarkdown', () => {
  it('starts with the verdict marker and contains every failure line', () => {
    const fail = renderMarkdown(makeSuiteResult());
    expect(fail.split('\n')[0]).toBe('### ❌ robust test: FAIL');
    expect(fail).toContain(`- ${FAILURE_LINE}`);
    expect(fail).not.toContain('UNRELIABLE');
    expect(renderMarkdown(makeSuiteResult({ pass: true })).split('\n')[0]).toBe('### ✅ robust test: PASS');
    expect(renderMarkdown(makeSuiteResult({ pass: true, unreliable: true })).split('\n')[0]).toBe('### ⚠️ robust test: UNRELIABLE (thresholds met)');
    const both = renderMarkdown(makeSuiteResult({ unreliable: true }));
    expect(both.split('\n')[0]).toBe('### ❌ robust test: FAIL · ⚠️ UNRELIABLE');
    expect(both).toContain('check full range failed');
  });

  it('has a table row per attack and eps with robust accuracy and CI, the worst case, checks and short hashes', () => {
    const r = makeSuiteResult();
    const md = renderMarkdown(r);
    const pgd03 = r.attacks[1]!.results[2]!.robustAccuracy;
    expect(md).toContain(`| pgd@linf | 0.3 | 0.290 | [${pgd03.ci[0].toFixed(3)}, ${pgd03.ci[1].toFixed(3)}] | 58/200 | 70.6% |  |`);
    expect(md).toContain('| **worst@linf** | 0.3 | **0.275** |');
    expect(md).toContain('❌ ≥ 0.5 |');
    expect(count(md, '| fgsm@linf |')).toBe(3);
    for (const c of r.checks) expect(md).toContain(`| ${c.name} |`);
    expect(md).toContain('⚠️ warning');
    expect(md).toContain(r.manifest.model.sha256!.slice(0, 12));
    expect(md).not.toContain(r.manifest.model.sha256!);
    expect(md).toContain('score linf **71.8**/100');
  });

  it('escapes Markdown in user text so a table cell cannot break the table', () => {
    const r = makeSuiteResult();
    r.checks[0]!.message = 'a | b <img> *c*\nd';
    const md = renderMarkdown(r);
    expect(md).toContain('a \\| b \\<img\\> \\*c\\* d');
  });
});

describe('renderHtml', () => {
  const r = makeSuiteResult();
  const html = renderHtml(r);

  it('is self-contained: no URL, no script, no external resource', () => {
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script|<link|@import|url\(/i);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain(FAILURE_LINE);
  });

  it('draws one SVG chart per attack, each with the worst case and a point per eps', () => {
    // One chart per attack, then one robustness curve per minimum-norm attack.
    // ... and one bar chart per breakdown (by class, by slice).
    expect(count(html, '<svg')).toBe(r.attacks.length + r.minimumNorm.length + 2);
    expect(html).toContain('cw@l2 robustness curve');
    const charts = html.split('<svg').slice(1, 1 + r.attacks.length);
    charts.forEach((svg, i) => {
      const a = r.attacks[i]!;
      expect(svg).toContain(`>${a.id}</text>`);
      expect(svg).toContain('>worst case (linf)</text>');
      // Clean accuracy at eps 0, then one point per eps, for the attack and for the worst case.
      expect(count(svg.split('</svg>')[0]!, '<circle')).toBe(2 * (1 + a.results.length));
      for (const res of a.results) expect(svg).toContain(`${a.id} at eps ${res.eps}: ${res.robustAccuracy.value.toFixed(3)}`);
      expect(svg).toContain('worst case (linf) at eps 0.3: 0.275');
      expect(svg).toContain('>robust accuracy</text>');
      expect(svg).toContain('>eps (linf)</text>');
    });
  });

  it('embeds three PNGs per sample; clean and difference pixels decode to the fixture values', () => {
    const urls = [...html.matchAll(/data:image\/png;base64,([A-Za-z0-9+/=]+)/g)].map((m) => m[1]!);
    expect(urls).toHaveLength(3 * r.samples.length);
    const decode = (b64: string): PNG => PNG.sync.read(Buffer.from(b64, 'base64'));
    const s = r.samples[1]!;
    const clean = decode(urls[3]!);
    const adv = decode(urls[4]!);
    const diff = decode(urls[5]!);
    expect([clean.width, clean.height]).toEqual([SIDE, SIDE]);
    let maxAbs = 0;
    for (let i = 0; i < s.clean.pixels.length; i++) maxAbs = Math.max(maxAbs, Math.abs(s.adversarial.pixels[i]! - s.clean.pixels[i]!));
    for (const [y, x] of [[5, 15], [14, 15], [0, 0], [23, 17]] as const) {
      const i = y * SIDE + x;
      const o = i * 4;
      const v = Math.round(255 * s.clean.pixels[i]!);
      expect([clean.data[o], clean.data[o + 1], clean.data[o + 2], clean.data[o + 3]]).toEqual([v, v, v, 255]);
      expect(adv.data[o]).toBe(Math.round(255 * s.adversarial.pixels[i]!));
      expect(diff.data[o]).toBe(Math.round((255 * Math.abs(s.adversarial.pixels[i]! - s.clean.pixels[i]!)) / maxAbs));
    }
    expect(Math.max(...diff.data.filter((_, i) => i % 4 === 0))).toBe(255);
    expect(html).toContain('label <strong>1</strong>');
    expect(html).toContain('pred 7 · 64.0%');
  });

  it('renders RGB inputs in colour and skips the grid for tabular inputs', () => {
    const rgb = makeSuiteResult();
    rgb.input = { shape: [2, 2, 3], min: -1, max: 1, numClasses: 3 };
    const pixels = [-1, 0, 1, 1, -1, -1, 0.5, 0.5, 0.5, 1, 1, 1];
    rgb.samples = [{ index: 0, label: 2, key: 'pgd@linf:0.1', clean: { pred: 2, confidence: 0.9, pixels }, adversarial: { pred: 1, confidence: 0.6, pixels: pixels.map((v) => -v) } }];
    const url = /data:image\/png;base64,([A-Za-z0-9+/=]+)/.exec(renderHtml(rgb))![1]!;
    const png = PNG.sync.read(Buffer.from(url, 'base64'));
    expect(Array.from(png.data.subarray(0, 8))).toEqual([0, 128, 255, 255, 255, 0, 0, 255]);

    const tabular = makeSuiteResult();
    tabular.input = { shape: [30], min: 0, max: 1, numClasses: 2 };
    const page = renderHtml(tabular);
    expect(page).not.toContain('data:image/png');
    expect(page).toContain('rank-1 (tabular)');
  });

  it('escapes every text it shows', () => {
    const x = makeSuiteResult();
    x.checks[0]!.message = '<script>alert(1)</script>';
    x.manifest.model.path = 'a"b<c>.json';
    const page = renderHtml(x);
    expect(page).not.toContain('<script>');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('a&quot;b&lt;c&gt;.json');
  });
});

describe('renderConsole', () => {
  it('has the table, the checks, the score, every failure line and the verdict', () => {
    const r = makeSuiteResult();
    const text = renderConsole(r);
    expect(text).toContain(`\n  ${FAILURE_LINE}\n`);
    expect(text).toContain('FAIL: 1 of 4 thresholds failed');
    expect(text).not.toContain('UNRELIABLE');
    expect(text).not.toContain('\u001b[');
    const pgd03 = r.attacks[1]!.results[2]!.robustAccuracy;
    expect(text).toMatch(new RegExp(`pgd@linf +0\\.3 +0\\.290 +\\[${pgd03.ci[0].toFixed(3)}, ${pgd03.ci[1].toFixed(3)}\\] +58/200 +70\\.6%`));
    expect(text).toMatch(/worst@linf +0\.3 +0\.275 .* ≥ 0\.5 +FAIL/);
    expect(text).toMatch(/worst@linf +0\.2 +0\.635 +\[[0-9., ]+\] +127\/200\n/);
    expect(text).toMatch(/pgd@linf +0\.1 +0\.900 .* ≥ 0\.85 +pass/);
    expect(text).toMatch(/warning +finite gradients +gradients are zero on 12 of 200 inputs/);
    expect(text).toMatch(/score linf +71\.8 \/ 100/);
    for (const c of r.checks) expect(text).toContain(c.name);
  });

  it('says UNRELIABLE with the failed check, and colours only on request', () => {
    const r = makeSuiteResult({ unreliable: true });
    const text = renderConsole(r);
    expect(text).toMatch(/\nUNRELIABLE: check full range failed; the numbers may overstate robustness/);
    expect(text).toMatch(/failed +full range/);
    const colored = renderConsole(r, { color: true });
    expect(colored).toContain('\u001b[31mFAIL\u001b[0m');
    expect(colored).toContain('\u001b[33mwarning\u001b[0m');
    // Stripped of colour, the coloured report is the plain one: colour codes never shift the columns.
    expect(colored.replace(/\u001b\[[0-9;]*m/g, '')).toBe(text);
  });
});

describe('NaN and null render as "–" in every text format', () => {
  for (const [name, make] of [
    ['NaN in memory', withNaN],
    ['null from JSON', () => roundTrip(withNaN())],
  ] as const) {
    it(name, () => {
      const r = make();
      const text = renderConsole(r);
      expect(text).toMatch(/fgsm@linf +0\.1 +– +– +0\/0 +– +–/);
      expect(text).toMatch(/score linf +– \/ 100/);
      const md = renderMarkdown(r);
      expect(md).toContain('| fgsm@linf | 0.1 | – | – | 0/0 | – |  |');
      const html = renderHtml(r);
      expect(html).toContain('<td class="num">–</td><td class="num">–</td><td class="num">0/0</td>');
      for (const out of [text, md, html, renderJunit(r)]) {
        expect(out).not.toMatch(/NaN|null|undefined/);
      }
      // The chart leaves a gap where the value is missing: no point, and the line and the CI band break there.
      expect(html).not.toContain('fgsm@linf at eps 0.1:');
      const fgsm = html.split('<svg')[1]!.split('</svg>')[0]!;
      expect(count(fgsm, '<polygon')).toBe(1);
      expect(count(/<path d="([^"]*)" fill="none" stroke="#1f77b4"/.exec(fgsm)![1]!, 'M')).toBe(2);
    });
  }
});

describe('writeReports', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'robust-reports-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every requested report with the renderers’ content and leaves no temporary file', async () => {
    const r = makeSuiteResult();
    const outputs = { json: join(dir, 'r.json'), junit: join(dir, 'out', 'junit.xml'), markdown: join(dir, 'r.md'), html: join(dir, 'r.html') };
    expect(await writeReports(r, outputs)).toEqual([outputs.json, outputs.junit, outputs.markdown, outputs.html]);
    expect(readFileSync(outputs.json, 'utf8')).toBe(renderJson(r));
    expect(readFileSync(outputs.junit, 'utf8')).toBe(renderJunit(r));
    expect(readFileSync(outputs.markdown, 'utf8')).toBe(renderMarkdown(r));
    expect(readFileSync(outputs.html, 'utf8')).toBe(renderHtml(r));
    expect(readdirSync(dir).sort()).toEqual(['out', 'r.html', 'r.json', 'r.md']);
    expect(readdirSync(join(dir, 'out'))).toEqual(['junit.xml']);
    expect(await writeReports(r, { markdown: outputs.markdown })).toEqual([outputs.markdown]);
  });

  it('writes nothing when one target is a directory: old files keep their content, no temporary file is left', async () => {
    const json = join(dir, 'r.json');
    writeFileSync(json, 'old');
    mkdirSync(join(dir, 'r.html'));
    const outputs = { json, junit: join(dir, 'junit.xml'), markdown: join(dir, 'r.md'), html: join(dir, 'r.html') };
    await expect(writeReports(makeSuiteResult(), outputs)).rejects.toThrow(InputError);
    await expect(writeReports(makeSuiteResult(), outputs)).rejects.toThrow(/r\.html: it is a directory/);
    expect(readFileSync(json, 'utf8')).toBe('old');
    expect(readdirSync(dir).sort()).toEqual(['r.html', 'r.json']);
    expect(readdirSync(join(dir, 'r.html'))).toEqual([]);
  });

  it('writes nothing when a folder cannot be created, and cleans up the temporary files already written', async () => {
    writeFileSync(join(dir, 'blocker'), 'a file where a folder should be');
    const outputs = { json: join(dir, 'r.json'), junit: join(dir, 'blocker', 'junit.xml') };
    await expect(writeReports(makeSuiteResult(), outputs)).rejects.toThrow(/cannot write .*blocker.junit\.xml/);
    expect(readdirSync(dir)).toEqual(['blocker']);
  });

  it('refuses two formats aimed at one file', async () => {
    const same = join(dir, 'report.txt');
    await expect(writeReports(makeSuiteResult(), { json: same, markdown: `${dir}/./report.txt` })).rejects.toThrow(UsageError);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('attack versions in reports', () => {
  it('name the AutoAttack version a suite ran in the console, Markdown and HTML tables, and keep it in the JSON params', () => {
    const r = makeSuiteResult();
    const first = r.attacks[0]!;
    first.params = { ...first.params, version: 'plus' };
    const label = `${first.id} (plus)`;
    for (const text of [renderConsole(r, { color: false }), renderMarkdown(r), renderHtml(r)]) expect(text).toContain(label);
    expect((roundTrip(r).attacks[0]!.params as { version?: string }).version).toBe('plus');
    // An attack without versions keeps its bare id.
    expect(renderMarkdown(r)).toContain(`| ${r.attacks[1]!.id} |`);
  });
});
