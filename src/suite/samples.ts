/**
 * The examples the HTML report shows: the first clean-correct points an attack broke, with the model's
 * prediction and confidence on the clean and the adversarial input.
 */
import { tf } from '../tf.js';
import type { AttackReport } from '../attacks/run.js';
import type { Dataset } from '../data/index.js';
import type { Model } from '../models/types.js';
import type { ExampleOutcomes, VisualSample } from './types.js';

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
