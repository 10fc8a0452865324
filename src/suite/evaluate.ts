/**
 * From per-example outcomes to every number of a suite: per-attack and worst-case robust accuracy with
 * confidence intervals, perturbation statistics, scores, checks, thresholds and the verdict. One run and a
 * merge of shards both end here, so a merged result equals the result of one run over the same examples.
 */
import { proportion, worstCase } from '../metrics/rates.js';
import { perturbationStats } from '../metrics/norms.js';
import { robustnessScore } from '../metrics/score.js';
import { curveArea, minimalPerturbationSummary, robustnessCurve } from '../metrics/curve.js';
import type { NormName } from '../attacks/core/norms.js';
import type { SuiteConfig } from './config.js';
import { evaluationChecks } from './checks.js';
import { certificationSummary, certifiedKey } from './certify.js';
import { epsKey, worstKey } from './keys.js';
import { groupBreakdowns } from './groups.js';
import {
  RESULT_SCHEMA,
  type AttackOutcome,
  type CertificationOutcome,
  type MinimumNormOutcome,
  type ExampleOutcomes,
  type GroupBreakdown,
  type RunManifest,
  type ScoreOutcome,
  type SuiteResult,
  type ThresholdOutcome,
  type VisualSample,
  type WorstCaseOutcome,
} from './types.js';
import { maxOf } from '../tensor/range.js';

/** What an attack run contributes besides its per-example outcomes. */
export type AttackMeta = Omit<AttackOutcome, 'results'> & { eps: (number | null)[] };

/** What a certification run contributes besides its per-example certificates: settings, radii and time. */
export type CertificationMeta = Omit<CertificationOutcome, 'curve' | 'accuracy' | 'abstainRate'> & { radii: number[] };

export interface EvaluationInput {
  manifest: RunManifest;
  thresholds: SuiteConfig['thresholds'];
  numClasses: number;
  attacks: AttackMeta[];
  examples: ExampleOutcomes;
  input: SuiteResult['input'];
  samples: VisualSample[];
  /** Keep per-example outcomes in the result. */
  keepExamples: boolean;
  /** Set when the suite certified its examples (`examples.certificates` then holds the certificates). */
  certification?: CertificationMeta;
}

const u8 = (a: number[]) => Uint8Array.from(a);

function attackOutcomes(attacks: AttackMeta[], ex: ExampleOutcomes, correct: Uint8Array): AttackOutcome[] {
  return attacks.map(({ eps, ...meta }) => ({
    ...meta,
    results: eps.map((e) => {
      const key = epsKey(meta.id, e);
      const robust = u8(ex.robust[key] ?? []);
      const broken = Uint8Array.from(correct, (c, i) => (c && !robust[i] ? 1 : 0));
      const k = robust.reduce((a, v) => a + v, 0);
      const norms = ex.norms[key] ?? { l0: [], l2: [], linf: [] };
      let ratio = 0;
      let count = 0;
      broken.forEach((v, i) => {
        if (!v) return;
        count++;
        ratio += (norms.l2[i] ?? 0) / (ex.inputL2[i] ?? Number.NaN);
      });
      return {
        key,
        eps: e,
        robustAccuracy: proportion(k, robust.length),
        attackSuccessRate: proportion(broken.reduce((a, v) => a + v, 0), correct.reduce((a, v) => a + v, 0)),
        perturbation: perturbationStats(norms, broken),
        empiricalRobustness: count ? ratio / count : 0,
      };
    }),
  }));
}

function worstCases(attacks: AttackMeta[], ex: ExampleOutcomes): WorstCaseOutcome[] {
  const out: WorstCaseOutcome[] = [];
  const norms = [...new Set(attacks.map((a) => a.norm))];
  for (const norm of norms) {
    const grid = [...new Set(attacks.filter((a) => a.norm === norm).flatMap((a) => a.eps.filter((e): e is number => e !== null)))].sort((a, b) => a - b);
    for (const eps of grid) {
      const at = attacks.filter((a) => a.norm === norm && a.eps.includes(eps));
      const flags = worstCase(at.map((a) => u8(ex.robust[epsKey(a.id, eps)] ?? [])));
      out.push({ key: worstKey(norm, eps), norm, eps, robustAccuracy: proportion(flags.reduce((a, v) => a + v, 0), flags.length), attacks: at.map((a) => a.id) });
    }
  }
  return out;
}

/** Points on a robustness curve: 20 even steps over (0, epsMax]. */
const CURVE_POINTS = 20;

function minimumNorms(attacks: AttackMeta[], ex: ExampleOutcomes): MinimumNormOutcome[] {
  return attacks.flatMap((a) => {
    const raw = ex.minNorm[a.id];
    if (a.kind !== 'minimum-norm' || !raw) return [];
    const d = raw.map((v) => (v === null ? Infinity : v));
    const grid = a.eps.filter((e): e is number => e !== null);
    const found = d.filter((v) => v > 0 && Number.isFinite(v));
    const epsMax = grid.length ? maxOf(grid) : found.length ? maxOf(found) : 1;
    const eps = Array.from({ length: CURVE_POINTS }, (_, i) => (epsMax * (i + 1)) / CURVE_POINTS);
    return [{ id: a.id, norm: a.norm, summary: minimalPerturbationSummary(d), curve: robustnessCurve(d, eps), epsMax, area: curveArea(d, epsMax) / epsMax }];
  });
}

function scores(worst: WorstCaseOutcome[], clean: number): ScoreOutcome[] {
  const norms = [...new Set(worst.map((w) => w.norm))];
  return norms.flatMap((norm) => {
    const pts = worst.filter((w) => w.norm === norm);
    if (pts.length === 0 || !Number.isFinite(clean)) return [];
    const eps = pts.map((p) => p.eps);
    return [{ norm, epsMax: eps[eps.length - 1]!, score: robustnessScore({ cleanAccuracy: clean, eps, accuracy: pts.map((p) => p.robustAccuracy.value) }) }];
  });
}

const fmt = (v: number) => String(Number(v.toFixed(4)));

function thresholdOutcomes(
  t: SuiteConfig['thresholds'],
  clean: number,
  attacks: AttackOutcome[],
  worst: WorstCaseOutcome[],
  sc: ScoreOutcome[],
  certification: CertificationOutcome | null,
  groups: { class: GroupBreakdown; slice: GroupBreakdown | null },
): ThresholdOutcome[] {
  if (!t) return [];
  const out: ThresholdOutcome[] = [];
  const judge = (key: string, metric: string, actual: number | null, threshold: number) => {
    const passed = actual !== null && Number.isFinite(actual) && actual >= threshold;
    out.push({
      key,
      threshold,
      actual,
      passed,
      message: passed
        ? `${metric}${key === metric ? '' : ` for ${key}`} is ${fmt(actual!)}, at or above the threshold ${threshold}`
        : `${metric}${key === metric ? '' : ` for ${key}`} is ${actual === null || !Number.isFinite(actual) ? 'undefined' : fmt(actual)}, below the threshold ${threshold}`,
    });
  };
  if (t.cleanAccuracy !== undefined) judge('cleanAccuracy', 'cleanAccuracy', clean, t.cleanAccuracy);
  const known = new Map<string, number>();
  for (const a of attacks) for (const r of a.results) known.set(r.key, r.robustAccuracy.value);
  for (const w of worst) known.set(w.key, w.robustAccuracy.value);
  for (const [key, threshold] of Object.entries(t.robustAccuracy ?? {})) judge(key, 'robustAccuracy', known.get(key) ?? null, threshold);
  if (t.score !== undefined) {
    const wanted: [NormName | null, number][] = typeof t.score === 'number' ? [[null, t.score]] : (Object.entries(t.score) as [NormName, number][]);
    for (const [norm, threshold] of wanted) {
      const s = norm === null ? sc[0] : sc.find((x) => x.norm === norm);
      judge(norm === null ? 'score' : `score@${norm}`, 'score', s ? s.score : null, threshold);
    }
  }
  for (const [radius, threshold] of Object.entries(t.certifiedAccuracy ?? {})) {
    const key = certifiedKey(Number(radius));
    judge(key, 'certifiedAccuracy', certification?.curve.find((p) => p.key === key)?.certifiedAccuracy.value ?? null, threshold);
  }
  for (const kind of ['class', 'slice'] as const) {
    const spec = kind === 'class' ? t.minClassRobustAccuracy : t.minSliceRobustAccuracy;
    if (spec === undefined) continue;
    const b = groups[kind];
    const wanted: [string | null, number][] = typeof spec === 'number' ? [[b?.key ?? null, spec]] : Object.entries(spec).map(([k, v]) => [k === 'clean' ? null : k, v]);
    for (const [key, threshold] of wanted) out.push(groupThreshold(kind, b, key, threshold));
  }
  return out;
}

/**
 * The weakest group's robust accuracy at `key` against `threshold`. The outcome's key is "class:<key>" or
 * "slice:<key>", and its message names the group and its 95% interval.
 */
function groupThreshold(kind: 'class' | 'slice', b: GroupBreakdown | null, key: string | null, threshold: number): ThresholdOutcome {
  const id = `${kind}:${key ?? 'clean'}`;
  const at = b?.groups.map((g) => ({ g, p: key === null ? g.cleanAccuracy : g.robustAccuracy[key] })).filter((x) => x.p !== undefined && Number.isFinite(x.p.value)) ?? [];
  if (at.length === 0) {
    const why = b === null ? 'the data has no group column' : `no ${kind} has a robust accuracy for ${key ?? 'this suite'}`;
    return { key: id, threshold, actual: null, passed: false, message: `robust accuracy of the weakest ${kind} is undefined (${why}), below the threshold ${threshold}` };
  }
  const weakest = at.reduce((w, x) => (x.p!.value < w.p!.value ? x : w));
  const p = weakest.p!;
  const passed = p.value >= threshold;
  const what = `robust accuracy of the weakest ${kind}, ${weakest.g.group}, for ${key ?? 'clean inputs'} is ${fmt(p.value)} (95% CI ${fmt(p.ci[0])}-${fmt(p.ci[1])}, ${p.k}/${p.n})`;
  return { key: id, threshold, actual: p.value, passed, message: `${what}, ${passed ? 'at or above' : 'below'} the threshold ${threshold}` };
}

/** Every key a threshold may name in a suite with these attacks. */
export function thresholdKeys(attacks: AttackMeta[]): string[] {
  const keys = attacks.flatMap((a) => a.eps.map((e) => epsKey(a.id, e)));
  const worst = new Set<string>();
  for (const a of attacks) for (const e of a.eps) if (e !== null) worst.add(worstKey(a.norm, e));
  return [...keys, ...worst];
}

function certificationOutcome(meta: CertificationMeta | undefined, ex: ExampleOutcomes): CertificationOutcome | null {
  const c = ex.certificates;
  if (!meta || !c) return null;
  const certs = c.prediction.map((prediction, i) => ({ prediction, radius: c.radius[i] ?? 0, pALower: c.pALower[i] ?? 0, count: c.count[i] ?? 0 }));
  const { radii, ...settings } = meta;
  return { ...settings, ...certificationSummary(certs, ex.labels, radii) };
}

export function evaluate(input: EvaluationInput): SuiteResult {
  const ex = input.examples;
  const correct = u8(ex.cleanCorrect);
  const clean = proportion(correct.reduce((a, v) => a + v, 0), correct.length);
  const attacks = attackOutcomes(input.attacks, ex, correct);
  const worst = worstCases(input.attacks, ex);
  const sc = scores(worst, clean.value);
  const checks = evaluationChecks(attacks, worst, ex.probes, input.numClasses);
  const certification = certificationOutcome(input.certification, ex);
  const groups = groupBreakdowns(ex, attacks, worst, Object.keys(input.thresholds?.robustAccuracy ?? {}));
  const thresholds = thresholdOutcomes(input.thresholds, clean.value, attacks, worst, sc, certification, groups);
  const failures = thresholds.filter((t) => !t.passed).map((t) => t.message);
  return {
    schema: RESULT_SCHEMA,
    manifest: input.manifest,
    n: correct.length,
    cleanAccuracy: clean,
    attacks,
    worstCase: worst,
    minimumNorm: minimumNorms(input.attacks, ex),
    scores: sc,
    checks,
    thresholds,
    verdict: { status: failures.length ? 'fail' : 'pass', unreliable: checks.some((c) => c.status === 'failed'), failures },
    input: input.input,
    samples: input.samples,
    examples: input.keepExamples ? ex : null,
    certification,
    perClass: groups.class,
    perSlice: groups.slice,
    signature: null,
  };
}
