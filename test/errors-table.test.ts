/**
 * docs/errors.md's bad-input table, run against the CLI row by row: each case must exit with the documented code
 * and message, print nothing else (no progress line: no attack started), and leave every file as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, lstatSync, writeFileSync, cpSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../src/tf.js';
import { activate } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';
import { tempDirs } from './helpers/tmp.js';
import { saveLayersModel } from '../src/models/index.js';
import { writeNpy } from '../src/data/index.js';

interface Row {
  name: string;
  args: string[];
  exit: number;
  message: string;
}

/** The rows of the table under "Bad input, case by case", with `$NAME` placeholders left in. */
function tableRows(): Row[] {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Bad input, case by case'));
  const rows = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| case') && !l.startsWith('|---'));
  return rows.map((line) => {
    const cells = line.slice(2, -2).split(' | ');
    const code = (cell: string) => cell.replace(/^`|`$/g, '');
    // `""` in a command is an empty argument, as a shell would pass it.
    const args = code(cells[1]!).split(' ').map((a) => (a === '""' ? '' : a));
    return { name: cells[0]!.replace(/`/g, ''), args, exit: Number(cells[2]), message: code(cells[3]!) };
  });
}

const dirs = tempDirs('robust-errors-');
let dir: string;
let vars: Record<string, string>;

const fill = (text: string) => text.replace(/\$(MODEL|WEIGHTS|DIR|X|Y)\b/g, (_, k: string) => vars[k]!);

/** Every file under `root` with its type and content hash: the "nothing was lost or added" oracle. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const info = lstatSync(p);
      if (info.isDirectory()) walk(p);
      else out[relative(root, p)] = info.isSymbolicLink() ? 'link' : createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(root);
  return out;
}

beforeAll(async () => {
  await activate('cpu');
  dir = dirs.fresh();
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2, useBias: true })] });
  model.layers[0]!.setWeights([tf.tensor2d([0, 1, 0, -2, 0, 0.5, 0, 1.5], [4, 2]), tf.tensor1d([0, -0.6])]);
  await saveLayersModel(model, join(dir, 'lin'), { bounds: { min: 0, max: 1 } });
  model.dispose();
  const n = 64;
  const x = Float32Array.from({ length: n * 4 }, (_, i) => ((i * 37) % 101) / 101);
  const y = Int32Array.from({ length: n }, (_, i) => i % 2);
  await writeNpy(join(dir, 'x.npy'), x, [n, 4]);
  await writeNpy(join(dir, 'y.npy'), y, [n]);
  vars = { DIR: dir, MODEL: join(dir, 'lin', 'model.json'), WEIGHTS: join(dir, 'lin', 'weights.bin'), X: join(dir, 'x.npy'), Y: join(dir, 'y.npy') };

  // Broken copies of the model: a NaN kernel value (flat index 1), an Inf bias, an impossible weight shape.
  const weights = readFileSync(vars.WEIGHTS);
  const broken = (name: string, patch: (w: Buffer, json: { weightsManifest: Array<{ weights: Array<{ shape: number[] }> }> }) => void) => {
    cpSync(join(dir, 'lin'), join(dir, name), { recursive: true });
    const w = Buffer.from(weights);
    const json = JSON.parse(readFileSync(vars.MODEL!, 'utf8'));
    patch(w, json);
    writeFileSync(join(dir, name, 'weights.bin'), w);
    writeFileSync(join(dir, name, 'model.json'), JSON.stringify(json));
  };
  broken('nan', (w) => w.writeFloatLE(Number.NaN, 4));
  broken('inf', (w) => w.writeFloatLE(Number.POSITIVE_INFINITY, 8 * 4));
  broken('huge', (_w, json) => (json.weightsManifest[0]!.weights[0]!.shape = [1e9, 1e9]));

  const suite = (name: string, extra: Record<string, unknown> = {}, attack: Record<string, unknown> = { name: 'fgsm', eps: 0.1 }) =>
    writeFileSync(
      join(dir, name),
      JSON.stringify({ model: { path: vars.MODEL }, data: { source: `npy:${vars.X},${vars.Y}` }, backend: 'cpu', attacks: [attack], ...extra }),
    );
  suite('ok.json');
  suite('self.json', { outputs: { json: 'self.json' } });
  suite('steps-negative.json', {}, { name: 'pgd', eps: 0.1, options: { steps: -3 } });
  suite('steps-many.json', {}, { name: 'pgd', eps: 0.1, options: { steps: 'many' } });
  suite('steps-huge.json', {}, { name: 'pgd', eps: 0.1, options: { steps: 1e12 } });
  suite('random-start.json', {}, { name: 'pgd', eps: 0.1, options: { randomStart: 'yes' } });
  suite('eps-negative.json', {}, { name: 'pgd', eps: [-0.1] });
  const depth = 200_000;
  writeFileSync(join(dir, 'deep.json'), `{"model": ${'['.repeat(depth)}${']'.repeat(depth)}}`);
  mkdirSync(join(dir, 'empty'));
});
afterAll(() => dirs.cleanup());

describe('docs/errors.md: every bad input exits before any work, with its one-line message, and loses nothing', () => {
  const rows = tableRows();
  it('the table has the cases the issue lists', () => {
    expect(rows.length).toBeGreaterThanOrEqual(20);
    expect(rows.every((r) => r.exit === 2)).toBe(true);
  });

  it.each(rows.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const before = snapshot(dir);
    const r = await runCli('--backend', 'cpu', ...row.args.map(fill));
    expect(r.code).toBe(row.exit);
    expect(r.stderr).toContain(fill(row.message));
    // One line and nothing on stdout: no progress, so no attack (nor the backend's clean pass) ever started.
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(snapshot(dir)).toEqual(before);
  });
});
