/**
 * The attacks' gradient step takes a model's fused objective gradient (models/fused.ts) for the two
 * standard objectives, and only through the model's own `predict`. Oracle: the same attack on the same
 * model without a fused gradient. The fused gradient registered here is tf.grad of the objective itself,
 * so every result must agree byte for byte; the calls it records show which path ran, and with what.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { apgd, apgdT } from '../src/attacks/apgd.js';
import { deepfool } from '../src/attacks/deepfool.js';
import { fab } from '../src/attacks/fab.js';
import { cw } from '../src/attacks/cw.js';
import { fgsm } from '../src/attacks/fgsm.js';
import { pgd } from '../src/attacks/pgd.js';
import { standardObjective } from '../src/attacks/core/steps.js';
import type { AttackResult } from '../src/attacks/core/types.js';
import { registerFusedGradient, type StandardObjective } from '../src/models/fused.js';
import type { Model } from '../src/models/types.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { labelledByModel, mlpModel } from './attacks.fixtures.js';

interface Call {
  objective: StandardObjective;
  targeted: boolean;
  labels: number[];
  targets?: number[];
}

/** `model` with a fused gradient computed by tf.grad through its predict, recording every call. */
function withFused(model: Model): { model: Model; calls: Call[] } {
  const calls: Call[] = [];
  const twin: Model = { ...model, predict: (x) => model.predict(x) };
  registerFusedGradient(twin.predict, (x, { kind, labels, targeted, targets, scale, kappa }) => {
    calls.push({ objective: kind, targeted, labels: Array.from(labels.dataSync()), ...(targets ? { targets: Array.from(targets.dataSync()) } : {}) });
    const logits = model.predict(x);
    const cwParams = scale !== undefined && kappa !== undefined ? { scale: () => scale, kappa } : undefined;
    const loss = standardObjective(kind, () => labels, targeted, targets ? () => targets : undefined, cwParams);
    const grad = tf.grad((v: tf.Tensor) => tf.sum(loss(model.predict(v))))(x);
    return { logits, grad };
  });
  return { model: twin, calls };
}

async function bytesOf(r: Promise<AttackResult>): Promise<{ x: Float32Array; adv: number[]; grads: number }> {
  const res = await r;
  const x = (await res.xAdv.data()) as Float32Array;
  res.xAdv.dispose();
  return { x, adv: Array.from(res.isAdversarial, Number), grads: res.gradientEvaluations ?? -1 };
}

describe.each(TEST_BACKENDS)('fused objective gradients on %s', (backend) => {
  let model: Model;
  let x: tf.Tensor;
  let y: Int32Array;
  beforeAll(async () => {
    await activate(backend);
    model = mlpModel([12], 16, 4, 'fused');
    ({ x, y } = await labelledByModel(model, 12, 'fused/data', 0, 1));
  });
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  it.each([
    ['pgd, cross-entropy', (m: Model) => pgd(m, x, y, { eps: 0.1, steps: 6, earlyStop: false }), 'ce', 6],
    ['pgd, margin', (m: Model) => pgd(m, x, y, { eps: 0.1, steps: 6, earlyStop: false, loss: 'margin' }), 'margin', 6],
    ['fgsm', (m: Model) => fgsm(m, x, y, { eps: 0.1 }), 'ce', 1],
    ['apgd-ce', (m: Model) => apgd(m, x, y, { eps: 0.1, steps: 8 }), 'ce', undefined],
    ['apgd-dlr', (m: Model) => apgd(m, x, y, { eps: 0.1, steps: 8, loss: 'dlr' }), 'dlr', undefined],
    ['deepfool', (m: Model) => deepfool(m, x, y, { steps: 6 }), 'difference', undefined],
    ['fab', (m: Model) => fab(m, x, y, { steps: 6 }), 'difference', undefined],
    ['cw', (m: Model) => cw(m, x, y, { steps: 8, binarySteps: 2 }), 'cw', undefined],
  ] as const)('%s: takes the fused gradient, with the same result as tf.grad', async (_label, attack, objective, calls) => {
    await noLeak(async () => {
      const fused = withFused(model);
      const [a, b] = [await bytesOf(attack(model)), await bytesOf(attack(fused.model))];
      expect(fused.calls.length).toBeGreaterThan(0);
      if (calls !== undefined) expect(fused.calls.length).toBe(calls);
      expect(fused.calls.every((c) => c.objective === objective && !c.targeted)).toBe(true);
      expect(b.adv).toEqual(a.adv);
      expect(b.grads).toBe(a.grads);
      expect(Buffer.from(b.x.buffer).equals(Buffer.from(a.x.buffer))).toBe(true);
    });
  });

  it("apgd-t: the targeted DLR's labels are the true ones and its targets the ranked classes", async () => {
    const fused = withFused(model);
    const opts = { eps: 0.1, steps: 4, targetClasses: 2 };
    const [a, b] = [await bytesOf(apgdT(model, x, y, opts)), await bytesOf(apgdT(fused.model, x, y, opts))];
    expect(fused.calls.length).toBeGreaterThan(0);
    expect(fused.calls.every((c) => c.objective === 'dlr' && c.targeted && c.targets !== undefined && c.targets.every((t, i) => t !== c.labels[i]))).toBe(true);
    expect(b.adv).toEqual(a.adv);
    expect(Buffer.from(b.x.buffer).equals(Buffer.from(a.x.buffer))).toBe(true);
  });

  it('passes the targets and the sign of a targeted attack', async () => {
    const targets = Int32Array.from(y, (v) => (v + 1) % 4);
    const fused = withFused(model);
    const opts = { eps: 0.1, steps: 3, earlyStop: false, targeting: { kind: 'labels' as const, labels: targets } };
    const [a, b] = [await bytesOf(pgd(model, x, y, opts)), await bytesOf(pgd(fused.model, x, y, opts))];
    expect(fused.calls.length).toBe(3);
    expect(fused.calls.every((c) => c.targeted && c.labels.every((t, i) => t === targets[i]))).toBe(true);
    expect(Buffer.from(b.x.buffer).equals(Buffer.from(a.x.buffer))).toBe(true);
  });

  it('is never reached through a wrapper that replaces predict', async () => {
    const fused = withFused(model);
    const wrapped: Model = { ...fused.model, predict: (v) => fused.model.predict(v) };
    await bytesOf(pgd(wrapped, x, y, { eps: 0.1, steps: 2, earlyStop: false }));
    expect(fused.calls).toHaveLength(0);
  });
});
