import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { UsageError } from '../src/errors.js';
import { bitDepth } from '../src/defenses/bitDepth.js';
import { chainPolicy, compose } from '../src/defenses/defended.js';
import { gaussianBlur } from '../src/defenses/gaussianBlur.js';
import { jpeg } from '../src/defenses/jpeg.js';
import { median } from '../src/defenses/median.js';
import { randomNoise } from '../src/defenses/noise.js';
import { DEFENSES, defenseNames, getDefense, makeDefense, withDefenses } from '../src/defenses/registry.js';
import type { Model } from '../src/models/types.js';
import { parseConfig } from '../src/suite/config.js';
import { TEST_BACKENDS, activate, noLeak } from './helpers/backends.js';
import { linearModel, scalarModel, uniform } from './defenses.fixtures.js';

const SHAPE = [8, 8, 1];
const SIZE = 64;

/** Logits of `model` on `values` [b, ...SHAPE], read back. */
function logits(model: Model, values: Float32Array): Float32Array {
  return tf.tidy(() => model.predict(tf.tensor(values, [values.length / SIZE, ...SHAPE])).dataSync() as Float32Array);
}

/** d logit0 / dx for one example. */
function gradient(model: Model, values: Float32Array): Float32Array {
  return tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.slice(model.predict(v), [0, 0], [-1, 1])))(tf.tensor(values, [1, ...SHAPE])).dataSync() as Float32Array);
}

describe.each(TEST_BACKENDS)('defended models, %s', (backend) => {
  beforeAll(() => activate(backend));
  const w = uniform(SIZE, 'weights', -1, 1);
  const x = uniform(3 * SIZE, 'inputs');
  const first = x.subarray(0, SIZE);

  it.each(DEFENSES.map((d) => [d.name, d] as const))('%s: registry entry, shape, bounds and an adaptive gradient that is finite and non-zero', async (_name, info) => {
    await noLeak(() => {
      const d = info.create();
      expect(d.kind).toBe(info.name);
      expect(d.policy).toBe(info.policy);
      expect(Object.keys(info.options).sort()).toEqual(Object.keys(info.defaults).sort());
      const base = linearModel(w, SHAPE);
      const defended = compose(base, [d]);
      expect(defended.policy).toBe(info.policy);
      expect(defended.inputShape).toEqual(SHAPE);
      expect(defended.numClasses).toBe(2);
      expect(defended.name).toBe(`scalar + ${d.name}`);
      for (const view of [defended, defended.adaptive, defended.naive]) expect(logits(view, x).length).toBe(6);
      const g = gradient(defended.adaptive, first);
      expect(g.every(Number.isFinite)).toBe(true);
      expect(g.some((v) => v !== 0)).toBe(true);
      defended.dispose();
      expect(base.disposals).toBe(1);
    });
  });

  it('BPDA views pass the gradient through unchanged; the naive view of a squeezer or JPEG has none', async () => {
    await noLeak(() => {
      for (const d of [bitDepth({ bits: 2 }), jpeg({ quality: 60 }), median({ size: 3 })]) {
        const defended = compose(linearModel(w, SHAPE), [d]);
        // Same forward pass in both views.
        expect(Array.from(logits(defended.adaptive, first))).toEqual(Array.from(logits(defended.naive, first)));
        gradient(defended.adaptive, first).forEach((g, i) => expect(g).toBeCloseTo(w[i] as number, 6));
        const naive = gradient(defended.naive, first);
        if (d.kind !== 'median') expect(naive.every((v) => v === 0)).toBe(true);
        else expect(naive.some((v, i) => Math.abs(v - (w[i] as number)) > 1e-3)).toBe(true); // the sparse subgradient, not w
        defended.dispose();
      }
    });
  });

  it('defences apply in the order given, and the chain policy is the strongest one needed', async () => {
    await noLeak(() => {
      const a = compose(linearModel(w, SHAPE), [bitDepth({ bits: 1 }), gaussianBlur()]);
      const b = compose(linearModel(w, SHAPE), [gaussianBlur(), bitDepth({ bits: 1 })]);
      const manual = tf.tidy(() => {
        const ctx = { inputShape: SHAPE, bounds: { min: 0, max: 1 }, lo: tf.scalar(0), hi: tf.scalar(1) };
        const t = gaussianBlur().apply(bitDepth({ bits: 1 }).apply(tf.tensor(first, [1, ...SHAPE]), ctx, undefined as never), ctx, undefined as never);
        return tf.sum(tf.mul(t, tf.tensor(w, [1, ...SHAPE]))).dataSync()[0] as number;
      });
      expect(logits(a, first)[0]).toBeCloseTo(manual, 4);
      expect(Math.abs((logits(a, first)[0] as number) - (logits(b, first)[0] as number))).toBeGreaterThan(1e-3);
      expect(a.policy).toBe('bpda');
      a.dispose();
      b.dispose();
    });
    expect(chainPolicy([])).toBe('exact');
    expect(chainPolicy([gaussianBlur()])).toBe('exact');
    expect(chainPolicy([gaussianBlur(), median()])).toBe('bpda');
    expect(chainPolicy([median(), randomNoise(), bitDepth()])).toBe('eot');
  });

  it('a random defence: the deployed model draws afresh per call from its seed; the EOT view is deterministic and batch-independent', async () => {
    await noLeak(() => {
      const make = (seed: string) => compose(linearModel(w, SHAPE), [randomNoise({ sigma: 0.2 })], { seed, eotSamples: 4 });
      const [one, same, other] = [make('s'), make('s'), make('t')];
      const call1 = logits(one, x);
      expect(Array.from(logits(same, x))).toEqual(Array.from(call1)); // seeded
      expect(Array.from(logits(one, x))).not.toEqual(Array.from(call1)); // fresh draws per call
      expect(Array.from(logits(other, x))).not.toEqual(Array.from(call1));
      const eot = logits(one.adaptive, x);
      expect(Array.from(logits(one.adaptive, x))).toEqual(Array.from(eot));
      const alone = logits(one.adaptive, x.subarray(SIZE, 2 * SIZE));
      expect(alone[0]).toBeCloseTo(eot[2] as number, 5);
      expect(Array.from(logits(other.adaptive, x))).not.toEqual(Array.from(eot));
      for (const m of [one, same, other]) m.dispose();
    });
  });

  it('EOT averages over its draws: the mean logit and its gradient approach their expectations', async () => {
    // f(x) = Σx², so E f(x + σz) = Σx² + dσ² and E ∇ = 2x, while one draw's gradient is 2(x + σz).
    const sigma = 0.3;
    const n = 256;
    await noLeak(() => {
      const quadratic = () => scalarModel(SHAPE, (v) => tf.sum(tf.square(v), [1, 2, 3]) as tf.Tensor1D);
      const defended = compose(quadratic(), [randomNoise({ sigma })], { eotSamples: n });
      const single = compose(quadratic(), [randomNoise({ sigma })], { eotSamples: 1 });
      const sumSq = first.reduce((a, v) => a + v * v, 0);
      const sd = Math.sqrt(first.reduce((a, v) => a + 4 * v * v * sigma ** 2 + 2 * sigma ** 4, 0) / n);
      expect(Math.abs((logits(defended.adaptive, first)[0] as number) - (sumSq + SIZE * sigma ** 2))).toBeLessThan(4 * sd);
      const errorOf = (m: Model) => Math.sqrt(gradient(m, first).reduce((a, g, i) => a + (g - 2 * (first[i] as number)) ** 2, 0));
      // ‖mean of n draws of 2σz‖ ≈ 2σ√(d/n) against 2σ√d for one draw.
      expect(errorOf(defended.adaptive)).toBeLessThan(2 * sigma * Math.sqrt(SIZE / n) * 1.5);
      expect(errorOf(single.adaptive)).toBeGreaterThan(2 * sigma * Math.sqrt(SIZE) * 0.5);
      defended.dispose();
      single.dispose();
    });
  });
});

describe('defence registry and errors', () => {
  it('names, lookup, specs and one-line errors with suggestions', () => {
    expect(defenseNames()).toEqual(['median', 'bit-depth', 'gaussian-blur', 'jpeg', 'tv', 'noise', 'resize-pad']);
    expect(() => getDefense('jpg')).toThrow(/unknown defence "jpg": did you mean "jpeg"\?/);
    expect(makeDefense({ name: 'median', size: 3 }).name).toBe('median(3)');
    expect(() => makeDefense({ name: 'median', szie: 3 }, 'defenses[0]')).toThrow(/^defenses\[0\]\.szie: median has no option "szie"; did you mean "size"\?$/);
    expect(() => makeDefense({ name: 'bit-depth', bits: '4' })).toThrow(/defence\.bits: expected a whole number in \[1, 8\], got "4"/);
    expect(() => makeDefense({ name: 'bit-depth', bits: 9 }, 'defenses[1]')).toThrow(/^defenses\[1\]\.bits: expected a whole number in \[1, 8\], got 9$/);
    expect(() => bitDepth({ bits: 9 })).toThrow(/^bit-depth: options\.bits: expected a whole number in \[1, 8\], got 9$/);
    expect(() => gaussianBlur({ size: 4 })).toThrow(UsageError);
  });

  it('a defence that does not fit the model is refused, and nothing leaks', async () => {
    await noLeak(() => {
      const vector = linearModel(new Float32Array(10).fill(1), [10]);
      expect(() => withDefenses(vector, [{ name: 'jpeg' }])).toThrow(/jpeg needs image inputs \[height, width, 1 or 3\], but the model takes \[10\]/);
      expect(() => compose(linearModel(new Float32Array(8).fill(1), [2, 2, 2]), [median({ size: 3 })])).toThrow(/at least 3×3/);
      const ok = withDefenses(vector, [{ name: 'bit-depth', bits: 3 }, { name: 'noise', sigma: 0.1 }], { eotSamples: 2 });
      expect(ok.policy).toBe('eot');
      expect(ok.adaptive.name).toBe('scalar + bit-depth(3) + noise(σ=0.1) [adaptive: eot×2]');
      expect(() => tf.tidy(() => ok.predict(tf.zeros([1, 9])))).toThrow(/takes inputs \[batch, 10\], got \[1, 9\]/);
      ok.adaptive.dispose();
      ok.dispose();
      expect(vector.disposals).toBe(1);
    });
  });

  it('a suite file names defences; its mistakes are one line with the fix', () => {
    const base = { model: { path: 'm/model.json' }, data: { source: 'mnist:test' }, attacks: [{ name: 'pgd', eps: 0.1 }] };
    const parse = (extra: object) => parseConfig(JSON.stringify({ ...base, ...extra }), 'c.json', '/tmp');
    const ok = parse({ defenses: [{ name: 'median', size: 3 }, { name: 'bit-depth', bits: 4 }], adaptive: false });
    expect(ok.defenses).toEqual([{ name: 'median', size: 3 }, { name: 'bit-depth', bits: 4 }]);
    expect(ok.adaptive).toBe(false);
    expect(() => parse({ defenses: [{ name: 'medain' }] })).toThrow(/^c\.json: defenses\[0\]\.name: expected one of median, .*got "medain"; did you mean "median"\?$/);
    expect(() => parse({ defenses: [{ name: 'median', szie: 3 }] })).toThrow(/^c\.json: defenses\[0\]\.szie: median has no option "szie"; did you mean "size"\?$/);
    expect(() => parse({ defenses: [{ name: 'median', size: '3' }] })).toThrow(/^c\.json: defenses\[0\]\.size: expected a whole number in \[1, 15\], got "3"$/);
    expect(() => parse({ defenses: [{ name: 'jpeg', quality: 0 }] })).toThrow(/^c\.json: defenses\[0\]\.quality: expected a whole number in \[1, 100\], got 0$/);
    expect(() => parse({ adaptive: 'no' })).toThrow(/^c\.json: adaptive: expected true or false, got "no"$/);
  });
});
