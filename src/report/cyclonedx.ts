/**
 * The CycloneDX 1.6 ML-BOM of a result (`robust test --cyclonedx bom.json`): the model as a
 * `machine-learning-model` component with its hashes and a model card, the evaluation data as a `data`
 * component with its hash, and robust as the tool. The model card carries every number of the evaluation:
 * clean accuracy, robust accuracy per attack and eps and in the worst case (each a `slice` such as
 * "pgd linf eps=0.3" with its 95% interval), scores, certified accuracy, per-class and per-slice robust accuracy;
 * its considerations hold the self-checks and the gaps between classes and slices as fairness assessments.
 *
 * `@cyclonedx/cyclonedx-library` has no model-card model, so the document is built here as plain JSON; a test
 * validates it against the official 1.6 JSON schema that library ships.
 */
import { createHash } from 'node:crypto';
import type { Proportion } from '../metrics/rates.js';
import type { GroupBreakdown, SuiteResult } from '../suite/types.js';
import { groupRows } from './groups.js';
import { formatEps, resultRows } from './format.js';

type Json = Record<string, unknown>;

/** A number as the model card writes it (strings in CycloneDX): up to 6 significant digits, "NaN" when undefined. */
function num(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? 'NaN' : String(Number(value.toPrecision(6)));
}

function metric(type: string, slice: string, p: Proportion): Json {
  const [lo, hi] = p.ci;
  return { type, value: num(p.value), slice, confidenceInterval: { lowerBound: num(lo), upperBound: num(hi) } };
}

/** "pgd@linf:0.3" → "pgd linf eps=0.3"; "worst@linf:0.3" → "worst case linf eps=0.3". */
function sliceName(name: string, norm: string, eps: number | null): string {
  return `${name === 'worst' ? 'worst case' : name} ${norm} eps=${eps === null ? 'min' : formatEps(eps)}`;
}

/** A slice name for a result key, e.g. "worst@linf:0.3" → "worst case linf eps=0.3". */
function keySlice(key: string): string {
  const m = /^([^@]+)@([a-z0-9]+)(?:#\d+)?:(.+)$/.exec(key);
  return m ? sliceName(m[1]!, m[2]!, m[3] === 'min' ? null : Number(m[3])) : key;
}

/** A UUID (RFC 4122 layout, version 5 bits) derived from the result, so one result always gives one serial number. */
function serialNumber(result: SuiteResult): string {
  const h = createHash('sha256').update(JSON.stringify([result.manifest, result.cleanAccuracy, result.verdict])).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function performanceMetrics(result: SuiteResult): Json[] {
  const out: Json[] = [metric('accuracy', 'clean', result.cleanAccuracy)];
  for (const row of resultRows(result)) {
    if (row.eps === null) continue; // minimum-norm attacks without a budget: reported by their perturbation size below
    out.push(metric('robust accuracy', sliceName(row.worst ? 'worst' : row.group.split('@')[0]!, row.norm, row.eps), row.robustAccuracy));
  }
  for (const m of result.minimumNorm) {
    out.push({ type: 'median minimal perturbation', value: num(m.summary.median), slice: `${m.id.split('@')[0]} ${m.norm}` });
  }
  for (const s of result.scores) out.push({ type: 'robustness score (0-100)', value: num(s.score), slice: `${s.norm} eps<=${formatEps(s.epsMax)}` });
  for (const p of result.certification?.curve ?? []) out.push(metric('certified accuracy', `randomised smoothing l2 radius=${formatEps(p.radius)}`, p.certifiedAccuracy));
  for (const [kind, b] of [['class', result.perClass], ['slice', result.perSlice]] as const) {
    if (!b?.key) continue;
    for (const row of groupRows(b)) out.push(metric('robust accuracy', `${kind} ${row.group}, ${keySlice(b.key)}`, row.robust));
  }
  return out;
}

/** One fairness assessment per group below the best, at the breakdown's key. */
function fairness(kind: 'class' | 'slice', b: GroupBreakdown | null, result: SuiteResult): Json[] {
  if (!b || b.groups.length < 2) return [];
  const rows = groupRows(b);
  const best = rows.find((r) => r.best);
  if (!best) return [];
  const at = b.key === null ? 'clean accuracy' : `robust accuracy at ${keySlice(b.key)}`;
  const gate = result.thresholds.find((t) => t.key.startsWith(`${kind}:`));
  return rows
    .filter((r) => !r.best && Number.isFinite(r.robust.value))
    .map((r) => ({
      groupAtRisk: `${kind} ${r.group}`,
      benefits: `clean accuracy ${num(r.clean.value)} on ${r.n} examples`,
      harms: `${at} ${num(r.robust.value)} (95% CI ${num(r.robust.ci[0])}-${num(r.robust.ci[1])}), ${num(best.robust.value - r.robust.value)} below the best ${kind} (${best.group}, ${num(best.robust.value)})${r.weakest ? '; the weakest ' + kind : ''}`,
      mitigationStrategy: gate
        ? `gated in CI: ${gate.message}`
        : `none configured; set thresholds.min${kind === 'class' ? 'Class' : 'Slice'}RobustAccuracy in the robust suite to gate on the weakest ${kind}`,
    }));
}

function considerations(result: SuiteResult): Json {
  const flagged = result.checks.filter((c) => c.status !== 'ok');
  const limitations = [
    'Robust accuracy is measured by attacks, so it is an upper bound on the true robust accuracy; certified accuracy (when reported) is of the smoothed classifier.',
    ...flagged.map((c) => `evaluation check ${c.name} ${c.status === 'failed' ? 'FAILED' : 'warned'}: ${c.message}`),
  ];
  if (result.verdict.unreliable) limitations.push('The evaluation is UNRELIABLE: a self-check failed, so the robustness numbers may overstate the model.');
  const worst = result.worstCase.at(-1);
  return {
    technicalLimitations: limitations,
    ...(worst ? { performanceTradeoffs: [`clean accuracy ${num(result.cleanAccuracy.value)}; robust accuracy ${num(worst.robustAccuracy.value)} in the worst case at ${worst.norm} eps=${formatEps(worst.eps)}`] } : {}),
    fairnessAssessments: [...fairness('class', result.perClass, result), ...fairness('slice', result.perSlice, result)],
  };
}

/**
 * Render a result as a CycloneDX 1.6 JSON ML-BOM (see the module docs).
 * @example await writeFileAtomic('bom.json', renderCycloneDx(result));
 */
export function renderCycloneDx(result: SuiteResult): string {
  const m = result.manifest;
  const modelName = m.model.path.replace(/\/model\.json$/, '').split('/').filter((p) => p !== '..' && p !== '.').join('/') || m.model.path;
  const files = m.model.files.map((f, i) => ({
    type: 'file',
    'bom-ref': `model-file-${i + 1}`,
    name: f.path,
    hashes: [{ alg: 'SHA-256', content: f.sha256 }],
    properties: [{ name: 'robust:bytes', value: String(f.bytes) }],
  }));
  const model: Json = {
    type: 'machine-learning-model',
    'bom-ref': 'model',
    name: modelName,
    description: `The model robust evaluated, loaded from ${m.model.path}. Its SHA-256 covers model.json followed by its weight shards in manifest order (docs/report-schema.md).`,
    ...(m.model.sha256 ? { hashes: [{ alg: 'SHA-256', content: m.model.sha256 }] } : {}),
    modelCard: {
      'bom-ref': 'model-card',
      modelParameters: {
        approach: { type: 'supervised' },
        task: 'classification',
        datasets: [{ ref: 'data' }],
        inputs: [{ format: `tensor [${result.input.shape.join(', ')}] with values in [${result.input.min}, ${result.input.max}]` }],
        outputs: [{ format: `logits over ${result.input.numClasses} classes` }],
      },
      quantitativeAnalysis: { performanceMetrics: performanceMetrics(result) },
      considerations: considerations(result),
      properties: [
        { name: 'robust:verdict', value: `${result.verdict.status}${result.verdict.unreliable ? ' (unreliable)' : ''}` },
        ...result.checks.map((c) => ({ name: `robust:check:${c.name}`, value: `${c.status}: ${c.message}` })),
        ...result.thresholds.map((t) => ({ name: `robust:threshold:${t.key}`, value: `${t.passed ? 'pass' : 'fail'}: ${t.message}` })),
        ...(m.defenses.names.length ? [{ name: 'robust:defenses', value: `${m.defenses.names.join(', ')}; adaptive ${String(m.defenses.adaptive)}` }] : []),
      ],
    },
    ...(files.length ? { components: files } : {}),
  };
  const subset = m.data.subset;
  const data: Json = {
    type: 'data',
    'bom-ref': 'data',
    name: m.data.source,
    hashes: [{ alg: 'SHA-256', content: m.data.sha256 }],
    data: [
      {
        type: 'dataset',
        name: m.data.source,
        description: `${result.n} labelled examples evaluated (of ${m.data.n} selected); the SHA-256 covers their shape, float32 features and int32 labels (docs/report-schema.md).`,
        contents: {
          properties: [
            { name: 'robust:n', value: String(m.data.n) },
            { name: 'robust:subset', value: `n ${subset.n ?? 'all'}, offset ${subset.offset}, sample ${subset.sample}, seed ${subset.seed}` },
          ],
        },
      },
    ],
  };
  const bom = {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: serialNumber(result),
    version: 1,
    metadata: {
      timestamp: m.endedAt,
      lifecycles: [{ phase: 'post-build' }],
      tools: { components: [{ type: 'application', name: 'robust', version: m.robust, description: 'adversarial-robustness testing for TensorFlow.js models' }] },
      properties: [
        { name: 'robust:seed', value: m.seed },
        { name: 'robust:backend', value: m.backend },
        ...(m.git ? [{ name: 'robust:git-commit', value: m.git.commit }] : []),
        ...(result.signature ? [{ name: 'robust:signature-key', value: result.signature.keyId }] : []),
      ],
    },
    components: [model, data],
  };
  return `${JSON.stringify(bom, null, 2)}\n`;
}
