/**
 * Formatting shared by the report writers, so that every format shows the same numbers the same way.
 *
 * A result may come straight from a run (NaN where a rate is undefined) or back from JSON (where NaN and
 * infinities became null), so every number here is read as `number | null` and both NaN and null render as "–".
 */
import type { Proportion } from '../metrics/rates.js';
import type { NormStats } from '../metrics/norms.js';
import type { NormName } from '../attacks/core/norms.js';
import type { CertificationOutcome, CheckOutcome, SuiteResult, ThresholdOutcome } from '../suite/types.js';

/** What a missing value (NaN, null, undefined) renders as. */
export const MISSING = '–';

/** A number as it may arrive: NaN or ±Infinity in memory, null after a JSON round trip. */
export type MaybeNumber = number | null | undefined;

/** The number, or null for NaN, null and undefined (infinities are kept). */
export function numberOrNull(value: MaybeNumber): number | null {
  return typeof value === 'number' && !Number.isNaN(value) ? value : null;
}

/** Fixed-point with `digits` decimals; "–" for NaN/null, "∞" for Infinity. @example formatNumber(0.5) // "0.500" */
export function formatNumber(value: MaybeNumber, digits = 3): string {
  const x = numberOrNull(value);
  if (x === null) return MISSING;
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  return x.toFixed(digits);
}

/** A rate as a percentage. @example formatPercent(0.0563) // "5.6%" */
export function formatPercent(value: MaybeNumber, digits = 1): string {
  const x = numberOrNull(value);
  return x === null || !Number.isFinite(x) ? MISSING : `${(100 * x).toFixed(digits)}%`;
}

/** A confidence interval "[lo, hi]", or "–" when either end is missing. */
export function formatInterval(ci: readonly MaybeNumber[] | null | undefined, digits = 3): string {
  const lo = numberOrNull(ci?.[0]);
  const hi = numberOrNull(ci?.[1]);
  if (lo === null || hi === null) return MISSING;
  return `[${formatNumber(lo, digits)}, ${formatNumber(hi, digits)}]`;
}

/** "k/n" of a proportion. */
export function formatCount(p: Proportion): string {
  return `${p.k}/${p.n}`;
}

/**
 * An eps as people write it: short values as they are, long fractions such as 8/255 to three significant
 * digits. A minimum-norm outcome has no eps and shows "min", as in its key.
 * @example formatEps(0.3) // "0.3"; formatEps(8 / 255) // "0.0314"
 */
export function formatEps(eps: MaybeNumber): string {
  const x = numberOrNull(eps);
  if (x === null) return 'min';
  const plain = String(x);
  return plain.length <= 6 ? plain : String(Number(x.toPrecision(3)));
}

/** A run's length for people: 95 → "1.6 min", 7200 → "2.0 h". */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(0)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The first `length` hex digits of a hash, or "–" when there is none. */
export function shortHash(hash: string | null | undefined, length = 12): string {
  return hash ? hash.slice(0, length) : MISSING;
}

/** Which shard a result covers, "i<sep>n" (shard indices are 1-based, as on the command line). */
export function shardLabel(shard: NonNullable<SuiteResult['manifest']['shard']>, sep = ' of '): string {
  return `${shard.index}${sep}${shard.count}`;
}

/** One row of the attack × eps table: an attack's outcome at one eps, or the worst case over attacks. */
export interface ResultRow {
  /** The attack's label (`attackLabel`: "pgd@linf", "autoattack@linf (standard)"), or "worst@linf" for the worst case. */
  group: string;
  /** The outcome key thresholds refer to ("pgd@linf:0.3"). */
  key: string;
  norm: NormName;
  eps: number | null;
  worst: boolean;
  robustAccuracy: Proportion;
  /** Null for worst-case rows. */
  attackSuccessRate: Proportion | null;
  /** Null for worst-case rows. */
  perturbation: NormStats | null;
  /** The threshold set on this key, if any. */
  threshold: ThresholdOutcome | null;
}

/** Thresholds by key (the last one wins if a key repeats). */
export function thresholdsByKey(result: SuiteResult): Map<string, ThresholdOutcome> {
  return new Map(result.thresholds.map((t) => [t.key, t]));
}

/** How reports name an attack: its id, with the version of an attack that has versions (AutoAttack's). */
export function attackLabel(attack: { id: string; params: Record<string, unknown> }): string {
  const version = attack.params['version'];
  return typeof version === 'string' ? `${attack.id} (${version})` : attack.id;
}

/** Every attack's rows in order, then the worst-case rows. */
export function resultRows(result: SuiteResult): ResultRow[] {
  const thresholds = thresholdsByKey(result);
  const rows: ResultRow[] = [];
  for (const attack of result.attacks) {
    for (const r of attack.results) {
      rows.push({
        group: attackLabel(attack),
        key: r.key,
        norm: attack.norm,
        eps: r.eps,
        worst: false,
        robustAccuracy: r.robustAccuracy,
        attackSuccessRate: r.attackSuccessRate,
        perturbation: r.perturbation,
        threshold: thresholds.get(r.key) ?? null,
      });
    }
  }
  for (const w of result.worstCase) {
    rows.push({
      group: `worst@${w.norm}`,
      key: w.key,
      norm: w.norm,
      eps: w.eps,
      worst: true,
      robustAccuracy: w.robustAccuracy,
      attackSuccessRate: null,
      perturbation: null,
      threshold: thresholds.get(w.key) ?? null,
    });
  }
  return rows;
}

/** The median perturbation in the attack's own norm (NormStats has no L1, so L1 attacks show none). */
export function medianPerturbation(row: ResultRow): number | null {
  if (row.perturbation === null || row.norm === 'l1') return null;
  return numberOrNull(row.perturbation[row.norm].median);
}

/** The threshold on a norm's score: "score@<norm>", or a bare "score" when the run has a single score. */
export function scoreThreshold(result: SuiteResult, norm: NormName): ThresholdOutcome | null {
  const thresholds = thresholdsByKey(result);
  return thresholds.get(`score@${norm}`) ?? (result.scores.length === 1 ? (thresholds.get('score') ?? null) : null);
}

/** The checks that failed: any of them makes the evaluation unreliable. */
export function failedChecks(result: SuiteResult): CheckOutcome[] {
  return result.checks.filter((c) => c.status === 'failed');
}

/** "ok 5, warning 1, failed 0" style counts. */
export function checkCounts(result: SuiteResult): Record<CheckOutcome['status'], number> {
  const counts = { ok: 0, warning: 0, failed: 0 };
  for (const c of result.checks) counts[c.status]++;
  return counts;
}

/**
 * What was tested, in words: "none" (the bare model), or the defences in order and whether attacks went
 * through their adaptive gradients, e.g. `median(size 3), attacked adaptively (BPDA/EOT)`.
 */
export function defenceSummary(result: SuiteResult): string {
  const { names, adaptive } = result.manifest.defenses;
  if (names.length === 0) return 'none (the model as loaded)';
  const list = names.map(describeDefence).join(' → ');
  return `${list}, ${adaptive === false ? 'attacked naively (--adaptive false): robustness may be overstated' : 'attacked adaptively (BPDA/EOT gradients)'}`;
}

/** `{"name":"median","size":3}` → `median(size 3)`; anything unparsable is shown as recorded. */
function describeDefence(spec: string): string {
  try {
    const { name, ...rest } = JSON.parse(spec) as { name?: unknown } & Record<string, unknown>;
    const args = Object.entries(rest).map(([k, v]) => `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    return `${String(name)}${args.length ? `(${args.join(', ')})` : ''}`;
  } catch {
    return spec;
  }
}

/** The verdict in words: "all 4 thresholds met", "1 of 4 thresholds failed", "no thresholds set". */
export function verdictSummary(result: SuiteResult): string {
  const total = result.thresholds.length;
  const failed = result.thresholds.filter((t) => !t.passed).length;
  const noun = total === 1 ? 'threshold' : 'thresholds';
  if (result.verdict.status !== 'fail') return total === 0 ? 'no thresholds set' : `all ${total} ${noun} met`;
  if (failed === 0) return 'the run failed';
  return `${failed} of ${total} ${noun} failed`;
}

/** Why the evaluation is unreliable, as one sentence, or null when it is not. */
export function unreliableReason(result: SuiteResult): string | null {
  if (!result.verdict.unreliable) return null;
  const names = failedChecks(result).map((c) => c.name);
  const which = names.length === 0 ? 'an evaluation check failed' : `${names.length === 1 ? 'check' : 'checks'} ${names.join(', ')} failed`;
  return `${which}; the numbers may overstate robustness (gradient masking or an invalid evaluation)`;
}

/** A threshold as a condition: "≥ 0.85". */
export function formatThreshold(t: ThresholdOutcome): string {
  return `≥ ${t.threshold}`;
}

/** A measured value for a threshold: scores with one decimal, rates with three. */
export function formatActual(t: ThresholdOutcome): string {
  return formatNumber(t.actual, t.key === 'score' || t.key.startsWith('score@') ? 1 : 3);
}

/** One row per minimum-norm attack: how many points it broke and how far they were (shared by every writer). */
export function minimumNormRows(result: SuiteResult): string[][] {
  return result.minimumNorm.map((m) => [
    m.id,
    `${m.summary.found}/${m.summary.attacked}`,
    formatNumber(m.summary.median, 4),
    formatNumber(m.summary.p90, 4),
    formatNumber(m.summary.medianIncludingFailures, 4),
    `${formatNumber(m.area)} (eps ≤ ${formatEps(m.epsMax)})`,
  ]);
}

/** Column titles of {@link minimumNormRows}. */
export const MINIMUM_NORM_HEADER = ['attack', 'broken', 'median δ', 'p90 δ', 'median δ (failures as ∞)', 'curve area'];

/** One row of the certified-accuracy table: a radius, the certified accuracy there, and its threshold if any. */
export interface CertifiedRow {
  key: string;
  radius: number;
  certifiedAccuracy: Proportion;
  threshold: ThresholdOutcome | null;
}

/** The certification curve as table rows (none when the suite did not certify). */
export function certifiedRows(result: SuiteResult): CertifiedRow[] {
  const thresholds = thresholdsByKey(result);
  return (result.certification?.curve ?? []).map((p) => ({ ...p, threshold: thresholds.get(p.key) ?? null }));
}

/** The settings of a certification run in one line: "σ 0.25, n0 100, n 1000, α 0.001". */
export function certificationSettings(c: Pick<CertificationOutcome, 'sigma' | 'n0' | 'samples' | 'alpha'>): string {
  return `σ ${c.sigma}, n0 ${c.n0}, n ${c.samples}, α ${c.alpha}`;
}
