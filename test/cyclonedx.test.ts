import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import { makeSuiteResult } from './fixtures/suite-result.js';
import { renderCycloneDx } from '../src/report/cyclonedx.js';
import type { SuiteResult } from '../src/suite/types.js';

/**
 * The official CycloneDX 1.6 JSON schema, as @cyclonedx/cyclonedx-library ships it, with the SPDX and JSF schemas
 * it references. The library's own validator needs ajv-formats, which robust does not install, so ajv checks
 * the schema directly; the formats it would check (date-time, iri-reference) are checked by hand below.
 */
function bomValidator() {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');
  const load = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  // bom-1.6 refers to its neighbours by their file names, relative to its own $id.
  for (const name of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json', 'cryptography-defs.SNAPSHOT.schema.json']) {
    ajv.addSchema({ ...load(name), $id: `http://cyclonedx.org/schema/${name}` });
  }
  return ajv.compile(load('bom-1.6.SNAPSHOT.schema.json'));
}

type Metric = { type: string; value: string; slice: string; confidenceInterval?: { lowerBound: string; upperBound: string } };

describe('CycloneDX 1.6 ML-BOM', () => {
  const validate = bomValidator();

  it.each([
    ['a passing result', makeSuiteResult({ pass: true })],
    ['an unreliable, failing result with per-example outcomes', makeSuiteResult({ unreliable: true, examples: true })],
  ])('%s validates against the official schema', (_, result: SuiteResult) => {
    const bom = JSON.parse(renderCycloneDx(result)) as Record<string, unknown>;
    const ok = validate(bom);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(Number.isNaN(Date.parse((bom.metadata as { timestamp: string }).timestamp))).toBe(false);
  });

  it('a schema violation is caught (the validator is not vacuous)', () => {
    const bom = JSON.parse(renderCycloneDx(makeSuiteResult())) as { components: { type: string }[] };
    bom.components[0]!.type = 'neural-net';
    expect(validate(bom)).toBe(false);
  });

  it('carries the model with its hashes and model card, the data with its hash, and robust as the tool', () => {
    const r = makeSuiteResult({ unreliable: true });
    r.signature = { algorithm: 'Ed25519', canonicalization: 'robust-canonical-json/v1', publicKey: 'pem', keyId: 'f'.repeat(64), value: 'sig' };
    const bom = JSON.parse(renderCycloneDx(r)) as {
      specVersion: string;
      metadata: { tools: { components: { name: string; version: string }[] }; properties: { name: string; value: string }[] };
      components: { type: string; name: string; hashes: { alg: string; content: string }[]; components?: { hashes: { content: string }[] }[]; modelCard?: { quantitativeAnalysis: { performanceMetrics: Metric[] }; considerations: { technicalLimitations: string[]; fairnessAssessments: { groupAtRisk: string; harms: string }[] } } }[];
    };
    expect(bom.specVersion).toBe('1.6');
    expect(bom.metadata.tools.components[0]).toMatchObject({ name: 'robust', version: r.manifest.robust });
    expect(bom.metadata.properties).toContainEqual({ name: 'robust:signature-key', value: 'f'.repeat(64) });
    const [model, data] = bom.components;
    expect(model!.type).toBe('machine-learning-model');
    expect(model!.hashes).toEqual([{ alg: 'SHA-256', content: r.manifest.model.sha256 }]);
    expect(model!.components!.map((f) => f.hashes[0]!.content)).toEqual(r.manifest.model.files.map((f) => f.sha256));
    expect(data!.type).toBe('data');
    expect(data!.hashes).toEqual([{ alg: 'SHA-256', content: r.manifest.data.sha256 }]);

    const metrics = model!.modelCard!.quantitativeAnalysis.performanceMetrics;
    const find = (slice: string) => metrics.find((m) => m.slice === slice);
    expect(find('clean')).toMatchObject({ type: 'accuracy', value: String(r.cleanAccuracy.value) });
    // Every attack at every eps and every worst case, with its 95% interval.
    for (const a of r.attacks) {
      for (const res of a.results) {
        const m = find(`${a.name} ${a.norm} eps=${res.eps}`);
        expect(m, `${a.name} ${res.eps}`).toMatchObject({ type: 'robust accuracy', value: String(Number(res.robustAccuracy.value.toPrecision(6))) });
        expect(Number(m!.confidenceInterval!.lowerBound)).toBeCloseTo(res.robustAccuracy.ci[0], 5);
        expect(Number(m!.confidenceInterval!.upperBound)).toBeCloseTo(res.robustAccuracy.ci[1], 5);
      }
    }
    for (const w of r.worstCase) expect(find(`worst case ${w.norm} eps=${w.eps}`)?.value).toBe(String(Number(w.robustAccuracy.value.toPrecision(6))));
    // Per-class numbers, and one fairness assessment per class below the best.
    const key = r.perClass.key!;
    for (const g of r.perClass.groups) expect(find(`class ${g.group}, worst case linf eps=${key.split(':')[1]}`)).toBeDefined();
    const fair = model!.modelCard!.considerations.fairnessAssessments;
    expect(fair.filter((f) => f.groupAtRisk.startsWith('class ')).length).toBe(r.perClass.groups.length - 1);
    expect(fair.find((f) => f.groupAtRisk === `class ${r.perClass.weakest}`)!.harms).toMatch(/the weakest class$/);
    expect(fair.some((f) => f.groupAtRisk.startsWith('slice '))).toBe(true);
    // The failed self-check is named.
    const failed = r.checks.find((c) => c.status === 'failed')!;
    expect(model!.modelCard!.considerations.technicalLimitations).toContain(`evaluation check ${failed.name} FAILED: ${failed.message}`);
  });
});
