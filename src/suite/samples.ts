/**
 * The examples the HTML report shows: the first clean-correct points an attack broke, with the model's
 * prediction and confidence on the clean and the adversarial input.
 */
import { tf } from '../tf.js';
import type { AttackReport } from '../attacks/run.js';
import type { Dataset } from '../data/index.js';
import type { Model } from '../models/types.js';
import type { ExampleOutcomes, VisualSample } from './types.js';
import { epsKey, parseEpsKey } from './keys.js';

/** Which adversarial examples the gallery shows: one attack's (or every attack's, for a worst case) at one budget. */
export interface GalleryChoice {
  /** Keys of `ExampleOutcomes.robust` whose adversarial inputs may be shown, e.g. ["pgd@linf:0.3"]. */
  keys: string[];
  /** Why these: the failing threshold's key, or "worst case" at the first norm's largest eps. */
  reason: string;
}

/**
 * The gallery shows what the verdict is about: the examples broken at the first robust-accuracy threshold that
 * fails (its attack, or every attack of its norm for a `worst@` key, at its eps), else those of the worst case
 * at the first norm's largest eps.
 */
export function chooseGallery(attacks: { id: string; norm: string; eps: (number | null)[] }[], robust: Record<string, number[]>, thresholds: Record<string, number> = {}): GalleryChoice | null {
  const keysFor = (key: string): string[] => {
    const parts = parseEpsKey(key);
    if (parts === null) return [];
    const { who, norm, eps } = parts;
    return attacks.filter((a) => a.norm === norm && (who === 'worst' || a.id === `${who}@${norm}`)).map((a) => epsKey(a.id, eps)).filter((k) => robust[k] !== undefined);
  };
  for (const [key, least] of Object.entries(thresholds)) {
    const keys = keysFor(key);
    if (keys.length === 0) continue;
    const rows = robust[keys[0]!]!;
    let held = 0;
    for (let i = 0; i < rows.length; i++) if (keys.every((k) => robust[k]![i] === 1)) held++;
    if (rows.length > 0 && held / rows.length < least) return { keys, reason: `${key}, the failing threshold` };
  }
  const first = attacks[0];
  if (!first) return null;
  const largest = first.eps[first.eps.length - 1] ?? null;
  if (largest === null) return null;
  const keys = keysFor(`worst@${first.norm}:${largest}`);
  return keys.length > 0 ? { keys, reason: `worst case at ${first.norm} eps ${largest}` } : null;
}

export async function pickSamples(model: Model, ds: Dataset, examples: ExampleOutcomes, reports: { key: string; report: AttackReport; eps: number | null }[], count: number): Promise<VisualSample[]> {
  const size = ds.shape.reduce((a, b) => a * b, 1);
  const picks: { i: number; key: string; adv: Float32Array }[] = [];
  for (let i = 0; i < ds.n && picks.length < count; i++) {
    if (!examples.cleanCorrect[i]) continue;
    for (const { key, report, eps } of reports) {
      const r = report.results.find((x) => x.eps === eps);
      if (r?.xAdv && !r.robust[i]) {
        picks.push({ i, key, adv: r.xAdv.subarray(i * size, (i + 1) * size) });
        break;
      }
    }
  }
  if (picks.length === 0) return [];
  const batch = (rows: Float32Array[]) => tf.tensor(Float32Array.from(rows.flatMap((r) => Array.from(r))), [rows.length, ...ds.shape]);
  const probs = async (rows: Float32Array[]) => {
    const p = tf.tidy(() => tf.softmax(model.predict(batch(rows))));
    const v = (await p.data()) as Float32Array;
    p.dispose();
    return v;
  };
  const cleanRows = picks.map((p) => ds.x.subarray(p.i * size, (p.i + 1) * size));
  const [pc, pa] = [await probs(cleanRows), await probs(picks.map((p) => p.adv))];
  const k = model.numClasses;
  const top = (v: Float32Array, j: number) => {
    let best = 0;
    for (let c = 1; c < k; c++) if (v[j * k + c]! > v[j * k + best]!) best = c;
    return { pred: best, confidence: v[j * k + best]! };
  };
  return picks.map((p, j) => ({
    index: examples.indices[p.i]!,
    label: ds.y[p.i]!,
    key: p.key,
    clean: { ...top(pc, j), pixels: Array.from(cleanRows[j]!) },
    adversarial: { ...top(pa, j), pixels: Array.from(p.adv) },
  }));
}
