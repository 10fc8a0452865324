/**
 * `robust merge a.json b.json …`: combine the shards of one suite (`robust test --shard i/n`) into the result
 * one run over all examples would give. Shards carry their per-example outcomes; the merge concatenates them
 * in shard order and evaluates them again with the same code as a run.
 */
import { InputError } from '../errors.js';
import { evaluate, type AttackMeta } from './evaluate.js';
import { RESULT_SCHEMA, type ExampleOutcomes, type ProbeOutcomes, type SuiteResult } from './types.js';
import type { SuiteConfig } from './config.js';
import { CERTIFIED_PREFIX } from './certify.js';
import { maxOf } from '../tensor/range.js';

/** The thresholds a result was judged against, rebuilt from its outcomes. */
export function thresholdsOf(r: SuiteResult): SuiteConfig['thresholds'] {
  const t: NonNullable<SuiteConfig['thresholds']> = {};
  for (const o of r.thresholds) {
    if (o.key === 'cleanAccuracy') t.cleanAccuracy = o.threshold;
    else if (o.key === 'score') t.score = o.threshold;
    else if (o.key.startsWith('score@')) t.score = { ...(typeof t.score === 'object' ? t.score : {}), [o.key.slice(6)]: o.threshold };
    else if (o.key.startsWith('class:')) t.minClassRobustAccuracy = { ...(typeof t.minClassRobustAccuracy === 'object' ? t.minClassRobustAccuracy : {}), [o.key.slice(6)]: o.threshold };
    else if (o.key.startsWith('slice:')) t.minSliceRobustAccuracy = { ...(typeof t.minSliceRobustAccuracy === 'object' ? t.minSliceRobustAccuracy : {}), [o.key.slice(6)]: o.threshold };
    else if (o.key.startsWith(CERTIFIED_PREFIX)) t.certifiedAccuracy = { ...t.certifiedAccuracy, [o.key.slice(CERTIFIED_PREFIX.length)]: o.threshold };
    else t.robustAccuracy = { ...t.robustAccuracy, [o.key]: o.threshold };
  }
  return t;
}

function concatRecord<T extends Record<string, unknown[]>>(parts: T[]): T {
  const out: Record<string, unknown[]> = {};
  for (const key of Object.keys(parts[0] ?? {})) out[key] = parts.flatMap((p) => p[key] ?? []);
  return out as T;
}

/**
 * Concatenate the shards' probes. A shard written before robust recorded logit drift compared logits exactly:
 * its identical ones drifted by 0, and by how much the others drifted is unknown (null).
 */
function mergeProbes(parts: ProbeOutcomes[]): ProbeOutcomes {
  const drift = (p: ProbeOutcomes): ProbeOutcomes['logitDrift'] =>
    (p.logitDrift as ProbeOutcomes['logitDrift'] | undefined) ?? p.deterministic.map((d) => (d === 0 ? null : d === 1 ? 0 : -1));
  return concatRecord(parts.map((p) => ({ ...p, logitDrift: drift(p) })));
}

/**
 * Merge shard results. Every shard must come from the same suite (config hash, model and data hashes, seed)
 * and together they must cover shards 1..n exactly once.
 * Thresholds are read back from the shards' threshold outcomes; the verdict is recomputed, not combined.
 */
export function mergeResults(shards: SuiteResult[]): SuiteResult {
  if (shards.length === 0) throw new InputError('robust merge needs at least one shard result');
  for (const [i, s] of shards.entries()) {
    if (s.schema !== RESULT_SCHEMA) throw new InputError(`shard ${i + 1} is not a robust result (schema ${String(s.schema)}); pass the JSON files robust test wrote`);
    if (!s.examples || !s.manifest.shard) throw new InputError(`shard ${i + 1} has no per-example outcomes; write shards with robust test --shard i/n`);
  }
  const first = shards[0]!;
  const same = (what: string, f: (s: SuiteResult) => unknown) => {
    for (const s of shards) {
      if (JSON.stringify(f(s)) !== JSON.stringify(f(first))) throw new InputError(`shards disagree on ${what}; merge only shards of one run of one suite`);
    }
  };
  same('the config', (s) => s.manifest.config.sha256);
  same('the model', (s) => s.manifest.model.sha256);
  same('the data', (s) => s.manifest.data.sha256);
  same('the seed', (s) => s.manifest.seed);
  same('the shard count', (s) => s.manifest.shard!.count);
  same('the thresholds', (s) => s.thresholds.map((t) => [t.key, t.threshold]));
  same('the attacks', (s) => s.attacks.map((a) => [a.id, a.results.map((r) => r.eps)]));
  same('the certification', (s) => (s.certification ? [s.certification.sigma, s.certification.n0, s.certification.samples, s.certification.alpha, s.certification.curve.map((p) => p.radius)] : null));
  const count = first.manifest.shard!.count;
  const ordered = [...shards].sort((a, b) => a.manifest.shard!.index - b.manifest.shard!.index);
  const have = ordered.map((s) => s.manifest.shard!.index);
  const expected = Array.from({ length: count }, (_, i) => i + 1);
  if (JSON.stringify(have) !== JSON.stringify(expected)) {
    throw new InputError(`shards ${have.join(', ')} of ${count} given; pass each of shards 1..${count} exactly once`);
  }
  const ex = ordered.map((s) => s.examples!);
  const examples: ExampleOutcomes = {
    indices: ex.flatMap((e) => e.indices),
    labels: ex.flatMap((e) => e.labels),
    cleanCorrect: ex.flatMap((e) => e.cleanCorrect),
    robust: concatRecord(ex.map((e) => e.robust)),
    norms: Object.fromEntries(Object.keys(ex[0]!.norms).map((k) => [k, concatRecord(ex.map((e) => e.norms[k]!))])),
    inputL2: ex.flatMap((e) => e.inputL2),
    minNorm: Object.fromEntries(Object.keys(ex[0]!.minNorm).map((k) => [k, ex.flatMap((e) => e.minNorm[k]!)])),
    probes: mergeProbes(ex.map((e) => e.probes)),
    certificates: null,
    // Shards written before robust kept slices have none; a merge has slices only when every shard has them.
    groups: ex.every((e) => Array.isArray(e.groups)) ? ex.flatMap((e) => e.groups!) : null,
  };
  const certification = first.certification;
  if (certification) {
    if (ex.some((e) => !e.certificates)) throw new InputError('a shard with certification has no per-example certificates; write shards with robust test --shard i/n');
    examples.certificates = concatRecord(ex.map((e) => e.certificates!));
  }
  const attacks: AttackMeta[] = first.attacks.map((a, i) => ({
    id: a.id,
    name: a.name,
    norm: a.norm,
    kind: a.kind,
    params: a.params,
    eps: a.results.map((r) => r.eps),
    gradientEvaluations: ordered.reduce((t, s) => t + s.attacks[i]!.gradientEvaluations, 0),
    queries: ordered.reduce((t, s) => t + s.attacks[i]!.queries, 0),
    seconds: ordered.reduce((t, s) => t + s.attacks[i]!.seconds, 0),
  }));
  return evaluate({
    manifest: {
      ...first.manifest,
      startedAt: ordered.map((s) => s.manifest.startedAt).sort()[0]!,
      endedAt: ordered.map((s) => s.manifest.endedAt).sort().at(-1)!,
      // Each shard ran its own command; none of them is the command that made the merged result.
      commandLine: null,
      seconds: ordered.reduce((t, s) => t + s.manifest.seconds, 0),
      shard: null,
    },
    thresholds: thresholdsOf(first),
    numClasses: first.input.numClasses,
    attacks,
    examples,
    input: first.input,
    samples: ordered.flatMap((s) => s.samples).slice(0, maxOf(ordered.map((s) => s.samples.length))),
    keepExamples: true,
    ...(certification
      ? {
          certification: {
            sigma: certification.sigma,
            n0: certification.n0,
            samples: certification.samples,
            alpha: certification.alpha,
            batchSize: certification.batchSize,
            radii: certification.curve.map((p) => p.radius),
            seconds: ordered.reduce((t, s) => t + (s.certification?.seconds ?? 0), 0),
          },
        }
      : {}),
  });
}
