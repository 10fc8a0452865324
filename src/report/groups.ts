/**
 * Robustness by class and by slice, as every report shows it: one row per group with its accuracy at the
 * breakdown's key and the 95% Wilson interval, the weakest and best marked, a one-line summary, and (for HTML) a
 * bar chart with interval whiskers.
 */
import type { Proportion } from '../metrics/rates.js';
import type { GroupBreakdown, SuiteResult } from '../suite/types.js';
import { escapeHtml } from './chart.js';
import { formatCount, formatInterval, formatNumber, type MaybeNumber } from './format.js';

/** One group as a report row. */
export interface GroupRow {
  group: string;
  n: number;
  clean: Proportion;
  /** Accuracy at the breakdown's key (clean accuracy when the key is null). */
  robust: Proportion;
  weakest: boolean;
  best: boolean;
}

/** The breakdowns a result has, each with the word for its groups. */
export function breakdowns(result: SuiteResult): { kind: 'class' | 'slice'; breakdown: GroupBreakdown }[] {
  const out: { kind: 'class' | 'slice'; breakdown: GroupBreakdown }[] = [];
  // Results from before robust measured groups have neither field.
  if ((result.perClass as GroupBreakdown | undefined)?.groups.length) out.push({ kind: 'class', breakdown: result.perClass });
  if (result.perSlice?.groups.length) out.push({ kind: 'slice', breakdown: result.perSlice });
  return out;
}

/** The rows of a breakdown, in its order. */
export function groupRows(b: GroupBreakdown): GroupRow[] {
  return b.groups.map((g) => ({
    group: g.group,
    n: g.n,
    clean: g.cleanAccuracy,
    robust: (b.key === null ? g.cleanAccuracy : g.robustAccuracy[b.key]) ?? g.cleanAccuracy,
    weakest: g.group === b.weakest,
    best: g.group === b.best,
  }));
}

function described(p: Proportion): string {
  return `${formatNumber(p.value)} ${formatInterval(p.ci)} (${formatCount(p)})`;
}

/**
 * "weakest class 3: 0.612 [0.5, 0.71] (30/49); best class 1: 0.95 … ; gap 0.338 at worst@linf:0.3".
 * Empty when there is no weakest group.
 */
export function groupSummary(kind: 'class' | 'slice', b: GroupBreakdown): string {
  const rows = groupRows(b);
  const weakest = rows.find((r) => r.weakest);
  const best = rows.find((r) => r.best);
  if (!weakest || !best) return '';
  const at = b.key === null ? 'clean accuracy' : b.key;
  return `weakest ${kind} ${weakest.group}: ${described(weakest.robust)}; best ${kind} ${best.group}: ${described(best.robust)}; gap ${formatNumber(b.gap as MaybeNumber)} at ${at}`;
}

const BAR_WIDTH = 260;
const ROW = 18;
const LEFT = 90;

/**
 * A horizontal bar per group (accuracy at the breakdown's key on a 0..1 axis) with its 95% interval as a
 * whisker; the weakest bar is red. Inline SVG, no script.
 */
export function groupChart(kind: 'class' | 'slice', b: GroupBreakdown): string {
  const rows = groupRows(b);
  const height = rows.length * ROW + 28;
  const x = (v: number) => LEFT + Math.max(0, Math.min(1, v)) * BAR_WIDTH;
  const bars = rows.map((r, i) => {
    const y = 6 + i * ROW;
    const v = Number.isFinite(r.robust.value) ? r.robust.value : 0;
    const [lo, hi] = r.robust.ci;
    const whisker = Number.isFinite(lo) && Number.isFinite(hi) ? `<line x1="${x(lo!).toFixed(1)}" x2="${x(hi!).toFixed(1)}" y1="${y + 7}" y2="${y + 7}" stroke="#333" stroke-width="1.5"/>` : '';
    const title = `${kind} ${r.group}: ${described(r.robust)}`;
    return (
      `<g><title>${escapeHtml(title)}</title>` +
      `<text x="${LEFT - 6}" y="${y + 11}" text-anchor="end" font-size="11">${escapeHtml(r.group.length > 14 ? `${r.group.slice(0, 13)}…` : r.group)}</text>` +
      `<rect x="${LEFT}" y="${y + 2}" width="${(x(v) - LEFT).toFixed(1)}" height="${ROW - 6}" fill="${r.weakest ? '#d62728' : '#1f77b4'}"/>${whisker}</g>`
    );
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((t) => `<line x1="${x(t)}" x2="${x(t)}" y1="4" y2="${height - 20}" stroke="#ddd"/><text x="${x(t)}" y="${height - 6}" text-anchor="middle" font-size="10">${t}</text>`)
    .join('');
  const label = `${b.key === null ? 'clean accuracy' : `robust accuracy at ${b.key}`} per ${kind}`;
  return `<svg role="img" aria-label="${escapeHtml(label)}" viewBox="0 0 ${LEFT + BAR_WIDTH + 20} ${height}" width="${LEFT + BAR_WIDTH + 20}" height="${height}">${ticks}${bars.join('')}</svg>`;
}
