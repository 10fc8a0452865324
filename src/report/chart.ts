/**
 * Accuracy-against-eps line charts as inline SVG, for the HTML report (and, standalone, for `robust certify`'s
 * `certify.svg`). No script and no external references: inside HTML the SVG is markup (which needs no xmlns),
 * and hovering a point shows its `<title>`. Also text bars, the console's chart.
 */
import { formatEps, formatInterval, formatNumber, numberOrNull, type MaybeNumber } from './format.js';

/** One point of a series: robust accuracy at eps with its confidence interval. */
export interface ChartPoint {
  eps: number;
  value: MaybeNumber;
  ci?: readonly MaybeNumber[];
}

/** One line on a chart. */
export interface ChartSeries {
  label: string;
  color: string;
  points: ChartPoint[];
  dashed?: boolean;
  /** Shade the confidence band under the line. */
  band?: boolean;
}

/** Escape text for HTML and SVG content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const WIDTH = 380;
const HEIGHT = 250;
const MARGIN = { left: 50, right: 14, top: 30, bottom: 42 };

/** A step of 1, 2, 2.5 or 5 × 10^k giving about `target` intervals over [0, max]. */
export function niceStep(max: number, target = 5): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const raw = max / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

function n1(v: number): string {
  return v.toFixed(1);
}

/** "M x y L x y …", starting a new piece after every missing value so gaps stay gaps. */
function path(points: Array<[number, number] | null>): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p === null) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${n1(p[0])} ${n1(p[1])} `;
    pen = true;
  }
  return d.trim();
}

/** Options of {@link accuracyChart}. */
export interface ChartOptions {
  /** The y axis title. Default "robust accuracy". */
  yLabel?: string;
  /** What the x value is called in point tooltips. Default "eps". */
  xName?: string;
  /**
   * A file of its own rather than markup inside the HTML report: adds the SVG namespace and the fonts the
   * report's stylesheet would otherwise give. Default false.
   */
  standalone?: boolean;
}

/** The text styles of a chart, as the HTML report's stylesheet sets them; inlined for a standalone file. */
const STANDALONE_STYLE =
  '<style>text{font-family:system-ui,sans-serif;fill:#333}.tick{font-size:11px}.axis{font-size:12px}.legend{font-size:12px}</style>';

/**
 * An SVG line chart of an accuracy (0 to 1) against eps (or another x, such as a certified radius), with ticks,
 * grid, axis labels and a legend. Missing values (NaN or null) leave gaps. Returns one `<svg>` element.
 * @param xLabel e.g. "eps (linf)".
 * @example writeFileAtomic('curve.svg', accuracyChart(series, 'radius (L2)', 'certified accuracy', { yLabel: 'certified accuracy', xName: 'radius', standalone: true }))
 */
export function accuracyChart(series: readonly ChartSeries[], xLabel: string, ariaLabel: string, options: ChartOptions = {}): string {
  const yLabel = options.yLabel ?? 'robust accuracy';
  const xName = options.xName ?? 'eps';
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  let xMax = 0;
  for (const s of series) for (const p of s.points) if (Number.isFinite(p.eps)) xMax = Math.max(xMax, p.eps);
  const step = niceStep(xMax);
  // Round the axis up to a whole tick, so the last point never sits beyond the labelled range.
  const xTop = xMax > 0 ? Math.ceil(xMax / step - 1e-9) * step : 1;
  const sx = (eps: number): number => MARGIN.left + (eps / xTop) * plotW;
  const sy = (acc: number): number => MARGIN.top + (1 - acc) * plotH;

  const parts: string[] = [];
  const ns = options.standalone ? ' xmlns="http://www.w3.org/2000/svg"' : '';
  parts.push(
    `<svg${ns} class="chart" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(ariaLabel)}">`,
  );
  if (options.standalone) parts.push(STANDALONE_STYLE);
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="#fff" stroke="#c8ccd2"/>`);
  for (let i = 0; i <= 5; i++) {
    const acc = i / 5;
    const y = n1(sy(acc));
    parts.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#eceef1"/>`);
    parts.push(`<line x1="${MARGIN.left - 4}" y1="${y}" x2="${MARGIN.left}" y2="${y}" stroke="#555"/>`);
    parts.push(`<text x="${MARGIN.left - 7}" y="${y}" text-anchor="end" dominant-baseline="middle" class="tick">${acc.toFixed(1)}</text>`);
  }
  const ticks = Math.round(xTop / step);
  for (let i = 0; i <= ticks; i++) {
    const eps = i * step;
    const x = n1(sx(eps));
    parts.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#eceef1"/>`);
    parts.push(`<line x1="${x}" y1="${MARGIN.top + plotH}" x2="${x}" y2="${MARGIN.top + plotH + 4}" stroke="#555"/>`);
    parts.push(`<text x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle" class="tick">${escapeHtml(formatEps(Number(eps.toPrecision(6))))}</text>`);
  }
  parts.push(`<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="#555"/>`);
  parts.push(`<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="#555"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 6}" text-anchor="middle" class="axis">${escapeHtml(xLabel)}</text>`);
  parts.push(
    `<text x="13" y="${MARGIN.top + plotH / 2}" text-anchor="middle" class="axis" transform="rotate(-90 13 ${MARGIN.top + plotH / 2})">${escapeHtml(yLabel)}</text>`,
  );

  for (const s of series) {
    const sorted = [...s.points].filter((p) => Number.isFinite(p.eps)).sort((a, b) => a.eps - b.eps);
    if (s.band) {
      // One polygon per run of points with an interval, so a missing value leaves a gap in the band as in the line.
      let upper: string[] = [];
      let lower: string[] = [];
      const flush = (): void => {
        if (upper.length > 1) parts.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${s.color}" fill-opacity="0.13" stroke="none"/>`);
        upper = [];
        lower = [];
      };
      for (const p of sorted) {
        const lo = numberOrNull(p.ci?.[0]);
        const hi = numberOrNull(p.ci?.[1]);
        if (lo === null || hi === null) {
          flush();
          continue;
        }
        upper.push(`${n1(sx(p.eps))},${n1(sy(hi))}`);
        lower.unshift(`${n1(sx(p.eps))},${n1(sy(lo))}`);
      }
      flush();
    }
    const xy = sorted.map((p): [number, number] | null => {
      const v = numberOrNull(p.value);
      return v === null ? null : [sx(p.eps), sy(v)];
    });
    const d = path(xy);
    if (d !== '') {
      const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.dashed ? 2.5 : 2}"${dash}/>`);
    }
    sorted.forEach((p, i) => {
      const at = xy[i];
      if (at === undefined || at === null) return;
      const tip = `${s.label} at ${xName} ${formatEps(p.eps)}: ${formatNumber(p.value)}${p.ci ? ` ${formatInterval(p.ci)}` : ''}`;
      parts.push(`<circle cx="${n1(at[0])}" cy="${n1(at[1])}" r="3.5" fill="${s.color}"><title>${escapeHtml(tip)}</title></circle>`);
    });
  }

  let lx = MARGIN.left;
  for (const s of series) {
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<line x1="${lx}" y1="14" x2="${lx + 22}" y2="14" stroke="${s.color}" stroke-width="2.5"${dash}/>`);
    parts.push(`<text x="${lx + 27}" y="14" dominant-baseline="middle" class="legend">${escapeHtml(s.label)}</text>`);
    lx += 40 + 6.5 * s.label.length;
  }
  parts.push('</svg>');
  return parts.join('');
}

const PARTIAL_BLOCKS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/**
 * A bar of `width` characters for a value in [0, 1], in eighths of a character (Unicode block elements), so a
 * curve reads at a glance in a terminal or CI log; missing values give an empty bar.
 * @example textBar(0.5, 8) // "████    "
 */
export function textBar(value: MaybeNumber, width = 20): string {
  const v = numberOrNull(value);
  if (v === null || !Number.isFinite(v)) return ' '.repeat(width);
  const eighths = Math.round(Math.min(1, Math.max(0, v)) * width * 8);
  const full = Math.floor(eighths / 8);
  const part = eighths % 8;
  return `${'█'.repeat(full)}${part > 0 ? (PARTIAL_BLOCKS[part] ?? '') : ''}`.padEnd(width);
}
