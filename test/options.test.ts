import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../src/tf.js';
import { UsageError } from '../src/errors.js';
import { ATTACKS, getAttack } from '../src/attacks/registry.js';
import { runAttack } from '../src/attacks/run.js';
import { pgd } from '../src/attacks/pgd.js';
import { DEFENSES } from '../src/defenses/registry.js';
import { defaultsOf, flagOf, isValid, type OptionSpec } from '../src/options/schema.js';
import { parseConfig } from '../src/suite/config.js';
import { configSchema } from '../src/suite/schema.js';
import { saveLayersModel } from '../src/models/index.js';
import { writeNpy } from '../src/data/index.js';
import type { Dataset } from '../src/data/types.js';
import { activate } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';
import { binaryLinear } from './attacks.fixtures.js';

// Every option of every attack and defence is declared once, in its registry entry; the CLI's flags, the
// suite schema, the runtime checks and the docs derive from it. These tests iterate the registries, so a
// new option is covered the day it is declared.

const W = [1, -2, 0.5, 1.5];
const B = -0.6;
let dir: string;
let modelPath: string;
let xPath: string;
let yPath: string;
const N = 8;
const X = Float32Array.from({ length: N * 4 }, (_, i) => ((i * 7919) % 97) / 97);
const Y = Int32Array.from({ length: N }, (_, i) => (W.reduce((a, w, j) => a + w * X[i * 4 + j]!, B) > 0 ? 1 : 0));
const dataset: Dataset = { x: X, y: Y, shape: [4], n: N, source: 'test', sha256: '' };

beforeAll(async () => {
  await activate('cpu');
  dir = mkdtempSync(join(tmpdir(), 'robust-options-'));
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2, useBias: true })] });
  model.layers[0]!.setWeights([tf.tensor2d([0, W[0]!, 0, W[1]!, 0, W[2]!, 0, W[3]!], [4, 2]), tf.tensor1d([0, B])]);
  await saveLayersModel(model, join(dir, 'lin'), { bounds: { min: 0, max: 1 } });
  model.dispose();
  modelPath = join(dir, 'lin', 'model.json');
  xPath = join(dir, 'x.npy');
  yPath = join(dir, 'y.npy');
  await writeNpy(xPath, X, [N, 4]);
  await writeNpy(yPath, Y, [N]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entries = ATTACKS.flatMap((a) => Object.entries(a.options).map(([key, spec]) => ({ attack: a.name, key, spec })));

/** A value of the right type that is out of range or not allowed, for each kind of option. */
function badValue(spec: OptionSpec): unknown {
  switch (spec.type) {
    case 'integer':
      return spec.min !== undefined ? spec.min - 1 : 1.5;
    case 'number':
      return spec.min !== undefined ? spec.min - 1 : Number.NaN;
    case 'enum':
      return 'no-such-choice';
    case 'enum-array':
      return ['no-such-choice'];
    default:
      return 7;
  }
}

describe('option schemas of the registries', () => {
  it('every declared default is a valid value, and the entry runs with exactly those defaults', () => {
    for (const a of ATTACKS) {
      for (const [key, spec] of Object.entries(a.options)) {
        if (spec.default !== undefined) expect(isValid(spec, spec.default), `${a.name}.${key}`).toBe(true);
        expect(spec.doc.length, `${a.name}.${key} has a doc`).toBeGreaterThan(5);
      }
      expect(a.defaults).toEqual({ norm: a.norms[0], ...defaultsOf(a.options) });
    }
    for (const d of DEFENSES) expect(d.defaults).toEqual(defaultsOf(d.options));
  });

  it('an option name shared by several attacks has one type, so its one CLI flag parses one way', () => {
    const types = new Map<string, string>();
    for (const { attack, key, spec } of entries) {
      const seen = types.get(key);
      if (seen) expect(spec.type, `${attack}.${key}`).toBe(seen);
      types.set(key, spec.type);
    }
  });

  it('the suite schema holds each attack\'s options and norms, keyed on its name', () => {
    const items = (configSchema() as { properties: { attacks: { items: { oneOf: { properties: Record<string, { const?: string; enum?: string[]; properties?: object }> }[] } } } }).properties.attacks.items;
    expect(items.oneOf.map((b) => b.properties.name!.const)).toEqual(ATTACKS.map((a) => a.name));
    for (const branch of items.oneOf) {
      const info = getAttack(branch.properties.name!.const!);
      expect(Object.keys(branch.properties.options!.properties!)).toEqual(Object.keys(info.options));
      expect(branch.properties.norm!.enum).toEqual(info.norms);
    }
    expect(JSON.parse(readFileSync('schema/robust.config.schema.json', 'utf8'))).toEqual(configSchema());
  });
});

describe('the library refuses a misspelt or bad option before any work', () => {
  let model: ReturnType<typeof binaryLinear>;
  beforeAll(() => {
    model = binaryLinear(W, B, { min: 0, max: 1 });
  });
  afterAll(() => model.dispose());

  it('runAttack with { step: 5 } is a UsageError with a did-you-mean, not a PGD-40 run', async () => {
    const before = tf.memory().numTensors;
    const run = runAttack(model, dataset, { name: 'pgd', eps: [0.1], options: { step: 5 } });
    await expect(run).rejects.toThrow(UsageError);
    await expect(runAttack(model, dataset, { name: 'pgd', eps: [0.1], options: { step: 5 } })).rejects.toThrow(/spec\.options\.step: pgd has no option "step"; did you mean "steps"\?/);
    // Direct calls of the attack function check the same schema, before any tensor is made.
    const x = tf.tensor2d(X, [N, 4]);
    expect(() => pgd(model, x, Y, { eps: 0.1, step: 5 } as never)).toThrow(/^pgd has no option "step"; did you mean "steps"\?$/);
    expect(() => pgd(model, x, Y, { eps: 0.1, steps: 0 })).toThrow(/^pgd: options\.steps: expected a whole number >= 1, got 0$/);
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each(entries.map((e) => [`${e.attack}.${e.key}`, e] as const))('%s: an ill-typed or out-of-range value fails', async (_label, { attack, key, spec }) => {
    const eps = getAttack(attack).kind === 'fixed-eps' ? [0.1] : null;
    const wrongType = spec.type === 'boolean' ? 'yes' : spec.type === 'string' ? 3 : true;
    for (const value of [badValue(spec), wrongType]) {
      await expect(runAttack(model, dataset, { name: attack, eps, options: { [key]: value } })).rejects.toThrow(new RegExp(`spec\\.options\\.${key}: expected `));
    }
  });

  it('apgd-ce takes only its own loss', async () => {
    await expect(runAttack(model, dataset, { name: 'apgd-ce', eps: [0.1], options: { loss: 'dlr' } })).rejects.toThrow(/spec\.options\.loss: expected one of ce, got "dlr"/);
  });

  it('a scalar eps from plain JavaScript gets a message about the library, not the CLI', async () => {
    const spec = { name: 'pgd', eps: 0.3 } as unknown as { name: string; eps: number[] };
    const err = (await runAttack(model, dataset, spec).then(() => null, (e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/runAttack: spec\.eps must be a list of budgets >= 0 such as \[0\.3\]/);
    expect(err.message).not.toMatch(/--/);
    await expect(runAttack(model, dataset, { name: 'pgd', eps: null })).rejects.toThrow(/pgd needs budgets: pass spec\.eps/);
  });
});

describe('robust attack: one flag per option of every attack', () => {
  it('--help lists a flag for every option of every attack', async () => {
    const r = await runCli('attack', '--help');
    expect(r.code).toBe(0);
    for (const { key, spec } of entries) {
      // `--x ` with a space or `<`: `--version` must not pass for `--aa-version` being listed, nor the reverse.
      expect(r.stdout).toMatch(new RegExp(`(^|\\s)${flagOf(key, spec)}[ ,]`, 'm'));
      if (spec.type === 'boolean') expect(r.stdout).toContain(`--no-${flagOf(key, spec).slice(2)}`);
    }
  });

  const args = (...rest: string[]) => ['attack', '--model', modelPath, '--x', xPath, '--y', yPath, ...rest];

  it('a misspelt flag, a flag of another attack, and a bad value are exit 2 with one line', async () => {
    const typo = await runCli(...args('--attack', 'pgd', '--eps', '0.1', '--step', '5'));
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown option '--step'/);
    expect(typo.stderr).toMatch(/Did you mean --steps\?/);
    const other = await runCli(...args('--attack', 'pgd', '--eps', '0.1', '--target-classes', '3'));
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/--target-classes does not apply to pgd; its options are --steps, --step-size/);
    const range = await runCli(...args('--attack', 'square', '--eps', '0.1', '--p-init', '1.5'));
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/--p-init: expected a number in \(0, 1\] for square, got 1\.5/);
    const type = await runCli(...args('--attack', 'pgd', '--eps', '0.1', '--steps', 'many'));
    expect(type.code).toBe(2);
    expect(type.stderr).toMatch(/--steps: expected a number, got "many"/);
  });

  it('flags that had none before reach the attack: --target-classes, --rho, --momentum, --no-abort-early, --attacks', async () => {
    const json = join(dir, 'apgd-t.json');
    const t = await runCli('--quiet', '--json', json, ...args('--attack', 'apgd-t', '--eps', '0.2', '--steps', '4', '--target-classes', '1', '--rho', '0.5', '--momentum', '0.25'));
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(readFileSync(json, 'utf8')).params).toMatchObject({ steps: 4, targetClasses: 1, rho: 0.5, momentum: 0.25 });
    const cw = join(dir, 'cw.json');
    expect((await runCli('--quiet', '--json', cw, ...args('--attack', 'cw', '--steps', '3', '--binary-steps', '1', '--no-abort-early'))).code).toBe(0);
    const cwJson = JSON.parse(readFileSync(cw, 'utf8'));
    expect(cwJson.params).toMatchObject({ abortEarly: false, steps: 3, binarySteps: 1 });
    // Without early abort each example runs every step of its one round: 3 gradients per clean-correct example.
    expect(cwJson.timing.gradientEvaluations).toBe(3 * Math.round(cwJson.cleanAccuracy * N));
    const aa = join(dir, 'aa.json');
    expect((await runCli('--quiet', '--json', aa, ...args('--attack', 'autoattack', '--eps', '0.2', '--attacks', 'apgd-ce,square', '--steps', '2', '--queries', '5'))).code).toBe(0);
    expect(JSON.parse(readFileSync(aa, 'utf8')).params).toMatchObject({ attacks: ['apgd-ce', 'square'], steps: 2, queries: 5 });
  });
});

describe('a suite file refuses a misspelt or bad option', () => {
  const parse = (attack: object) => parseConfig(JSON.stringify({ model: { path: 'm/model.json' }, data: { source: 'mnist:test' }, attacks: [attack] }), 'c.json', '/tmp');
  it('with the path, a did-you-mean and the expected type', () => {
    expect(() => parse({ name: 'pgd', eps: 0.1, options: { step: 5 } })).toThrow(/^c\.json: attacks\[0\]\.options\.step: pgd has no option "step"; did you mean "steps"\?$/);
    expect(() => parse({ name: 'pgd', eps: 0.1, options: { steps: 1.5 } })).toThrow(/^c\.json: attacks\[0\]\.options\.steps: expected a whole number >= 1, got 1\.5$/);
    expect(() => parse({ name: 'apgd-t', eps: 0.1, options: { targetClasses: 0 } })).toThrow(/attacks\[0\]\.options\.targetClasses: expected a whole number >= 1, got 0/);
    expect(() => parse({ name: 'fgsm', eps: 0.1, options: { steps: 3 } })).toThrow(/attacks\[0\]\.options\.steps: fgsm has no option "steps"; it takes no options/);
    expect(() => parse({ name: 'pgdd', eps: 0.1 })).toThrow(/attacks\[0\]\.name: expected one of fgsm, .*got "pgdd"; did you mean "pgd"\?/);
    expect(parse({ name: 'cw', options: { abortEarly: false, kappa: 0.5 } }).attacks[0]!.options).toEqual({ abortEarly: false, kappa: 0.5 });
  });
});
