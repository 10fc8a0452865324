import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tf } from '../src/tf.js';
import { InputError, UsageError } from '../src/errors.js';
import { loadModel, readModelFiles, saveLayersModel } from '../src/models/index.js';
import { activate } from './helpers/backends.js';

// Lets a test make one chosen rename fail, to check that a failed save puts the folder back as it was.
const renameFault = vi.hoisted(() => ({
  sourceIncludes: undefined as string | undefined,
  /** Called after every successful rename, to inspect the folder between steps of a save. */
  after: undefined as (() => Promise<void>) | undefined,
}));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    rename: async (from: string, to: string): Promise<void> => {
      const marker = renameFault.sourceIncludes;
      if (marker !== undefined && String(from).includes(marker)) throw new Error(`injected failure renaming ${String(from)}`);
      await actual.rename(from, to);
      await renameFault.after?.();
    },
  };
});

const root = mkdtempSync(join(tmpdir(), 'robust-models-errors-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let count = 0;
const freshDir = (label: string): string => join(root, `${label}-${count++}`);

function tinyModel(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: [tfl.layers.dense({ inputShape: [4], units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed }), biasInitializer: 'ones' })],
  });
}

/** A saved 4 → 3 Dense model: 12 + 3 floats = 60 bytes of weights. */
async function savedModel(label: string, seed = 1): Promise<string> {
  const model = tinyModel(seed);
  const dir = freshDir(label);
  await saveLayersModel(model, dir);
  model.dispose();
  return dir;
}

function editJson(dir: string, edit: (json: Record<string, unknown>) => void): void {
  const path = join(dir, 'model.json');
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(path, JSON.stringify(json));
}

function setShardPath(dir: string, shard: string): void {
  editJson(dir, (json) => {
    (json.weightsManifest as { paths: string[] }[])[0]!.paths = [shard];
  });
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) out[name] = createHash('sha256').update(readFileSync(join(dir, name))).digest('hex');
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`non-Error thrown: ${String(err)}`);
  }
  throw new Error('expected a rejection');
}

/** Keras-style Sequential topology with the given layer classes after a Dense input layer. */
function topologyWith(classNames: string[]): object {
  return {
    class_name: 'Sequential',
    config: {
      name: 'custom',
      layers: [
        { class_name: 'Dense', config: { name: 'd', units: 3, batch_input_shape: [null, 4], activation: 'linear', use_bias: true } },
        ...classNames.map((c, i) => ({ class_name: c, config: { name: `x${i}`, function: 'lambda x: x' } })),
      ],
    },
  };
}

describe('model loading errors', () => {
  beforeAll(() => activate('cpu'));

  it('refuses a missing model, and a folder without model.json', async () => {
    const missing = await rejection(loadModel(join(root, 'nope')));
    expect(missing).toBeInstanceOf(InputError);
    expect(missing.message).toMatch(/^no model at .*nope: give a model\.json file or a folder that holds one$/);
    const empty = freshDir('empty');
    mkdirSync(empty);
    const noJson = await rejection(loadModel(empty));
    expect(noJson).toBeInstanceOf(InputError);
    expect(noJson.message).toMatch(/has no model\.json/);
  });

  it('refuses malformed JSON and JSON that is not a TF.js model', async () => {
    const dir = await savedModel('malformed');
    writeFileSync(join(dir, 'model.json'), '{"modelTopology": {');
    const bad = await rejection(loadModel(dir));
    expect(bad).toBeInstanceOf(InputError);
    expect(bad.message).toMatch(/model\.json is not valid JSON/);

    const noTopology = await savedModel('no-topology');
    editJson(noTopology, (json) => delete json.modelTopology);
    const e1 = await rejection(loadModel(noTopology));
    expect(e1).toBeInstanceOf(InputError);
    expect(e1.message).toMatch(/has no modelTopology/);

    const noManifest = await savedModel('no-manifest');
    editJson(noManifest, (json) => delete json.weightsManifest);
    const e2 = await rejection(loadModel(noManifest));
    expect(e2).toBeInstanceOf(InputError);
    expect(e2.message).toMatch(/has no weightsManifest array/);
  });

  it('names a missing shard', async () => {
    const dir = await savedModel('missing-shard');
    rmSync(join(dir, 'weights.bin'));
    const err = await rejection(loadModel(dir));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/^weight file weights\.bin listed in model\.json is missing from /);
  });

  it('reports a truncated shard with both byte counts', async () => {
    const dir = await savedModel('truncated');
    writeFileSync(join(dir, 'weights.bin'), readFileSync(join(dir, 'weights.bin')).subarray(0, 50));
    const err = await rejection(loadModel(dir));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/^weight data truncated: weights\.bin has 50 bytes, but the weight specs in model\.json need 60 bytes/);
  });

  it('reports extra bytes, and a manifest whose specs disagree with the shard', async () => {
    const extra = await savedModel('extra');
    writeFileSync(join(extra, 'weights.bin'), Buffer.concat([readFileSync(join(extra, 'weights.bin')), Buffer.alloc(8)]));
    const e1 = await rejection(loadModel(extra));
    expect(e1).toBeInstanceOf(InputError);
    expect(e1.message).toMatch(/longer than the manifest says: weights\.bin has 68 bytes, but .* need 60 bytes/);

    const wrongShape = await savedModel('wrong-shape');
    editJson(wrongShape, (json) => {
      (json.weightsManifest as { weights: { shape: number[] }[] }[])[0]!.weights[0]!.shape = [4, 4];
    });
    const e2 = await rejection(loadModel(wrongShape));
    expect(e2).toBeInstanceOf(InputError);
    expect(e2.message).toMatch(/truncated: weights\.bin has 60 bytes, but .* need 76 bytes/);

    // A uint8-quantized spec needs one byte per value, so the float32 bytes are now too many.
    const quantized = await savedModel('quantized-mismatch');
    editJson(quantized, (json) => {
      (json.weightsManifest as { weights: Record<string, unknown>[] }[])[0]!.weights[0]!.quantization = { dtype: 'uint8', scale: 1, min: 0 };
    });
    const e3 = await rejection(loadModel(quantized));
    expect(e3).toBeInstanceOf(InputError);
    expect(e3.message).toMatch(/weights\.bin has 60 bytes, but .* need 24 bytes/);
  });

  it('refuses shard paths that leave the model folder', async () => {
    const outside = join(root, 'outside.bin');
    const dir = await savedModel('escape');
    writeFileSync(outside, readFileSync(join(dir, 'weights.bin')));

    setShardPath(dir, '../outside.bin');
    const up = await rejection(loadModel(dir));
    expect(up).toBeInstanceOf(InputError);
    expect(up.message).toMatch(/lists weight file "\.\.\/outside\.bin", which is outside the model folder .*; refusing to read it/);

    setShardPath(dir, outside);
    const absolute = await rejection(loadModel(dir));
    expect(absolute).toBeInstanceOf(InputError);
    expect(absolute.message).toMatch(/an absolute path or URL; shards must be relative paths inside the model folder/);

    setShardPath(dir, 'file:///etc/passwd');
    expect((await rejection(loadModel(dir))).message).toMatch(/absolute path or URL/);

    symlinkSync(outside, join(dir, 'link.bin'));
    setShardPath(dir, 'link.bin');
    const link = await rejection(loadModel(dir));
    expect(link).toBeInstanceOf(InputError);
    expect(link.message).toMatch(/^weight file link\.bin listed in model\.json resolves to .*outside\.bin, outside the model folder; refusing to follow the link$/);

    // A symlink that stays inside the folder is fine.
    symlinkSync(join(dir, 'weights.bin'), join(dir, 'inside.bin'));
    setShardPath(dir, 'inside.bin');
    const ok = await loadModel(dir);
    expect(ok.numClasses).toBe(3);
    ok.dispose();
  });

  it('refuses Lambda and custom layers, naming the class', async () => {
    for (const className of ['Lambda', 'MyCustomLayer']) {
      const dir = await savedModel(`custom-${className}`);
      editJson(dir, (json) => {
        json.modelTopology = topologyWith([className]);
      });
      const err = await rejection(loadModel(dir));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toMatch(new RegExp(`uses layer class "${className}", which TF.js does not provide; .*robust cannot run arbitrary code`));
    }
    // Wrapped inside a TimeDistributed layer of a nested model, it is still found.
    const nested = await savedModel('custom-nested');
    editJson(nested, (json) => {
      json.modelTopology = {
        model_config: topologyWith([]),
      };
      const cfg = (json.modelTopology as { model_config: { config: { layers: object[] } } }).model_config.config;
      cfg.layers.push({ class_name: 'TimeDistributed', config: { name: 'td', layer: { class_name: 'Lambda', config: {} } } });
    });
    expect((await rejection(loadModel(nested))).message).toMatch(/layer class "Lambda"/);
  });

  it('reports an unknown format and metadata that is not robust-shaped', async () => {
    const dir = await savedModel('no-format');
    editJson(dir, (json) => {
      delete json.format;
      json.modelTopology = { something: 1 };
    });
    expect((await rejection(loadModel(dir))).message).toMatch(/cannot tell a Layers model from a graph model/);

    const meta = await savedModel('bad-meta');
    editJson(meta, (json) => {
      json.userDefinedMetadata = { robust: { bounds: { min: 'zero', max: 1 } } };
    });
    const e = await rejection(loadModel(meta));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/userDefinedMetadata\.robust\.bounds must be/);
  });
});

describe('wrapping errors', () => {
  beforeAll(() => activate('cpu'));

  it('needs inputShape and numClasses for a function model', async () => {
    const fn = (x: tf.Tensor): tf.Tensor => x;
    const noShape = await rejection(loadModel(fn, { numClasses: 2 }));
    expect(noShape).toBeInstanceOf(UsageError);
    expect(noShape.message).toMatch(/a function model needs inputShape and numClasses/);
    expect(await rejection(loadModel(fn, { inputShape: [2] }))).toBeInstanceOf(UsageError);
    // The class count is checked against what the function returns.
    const wrong = await rejection(loadModel(fn, { inputShape: [2], numClasses: 3 }));
    expect(wrong).toBeInstanceOf(UsageError);
    expect(wrong.message).toMatch(/numClasses is 3 but the model returns 2 scores per example/);
  });

  it('asks for inputShape when the model leaves an inner dimension open', async () => {
    const input = tfl.input({ shape: [null, 3] });
    const pooled = tfl.layers.globalAveragePooling1d().apply(input) as tfl.SymbolicTensor;
    const output = tfl.layers.dense({ units: 2 }).apply(pooled) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: output });
    const err = await rejection(loadModel(model));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/input shape is \[\?, 3\]; pass inputShape/);
    const given = await loadModel(model, { inputShape: [5, 3] });
    expect(given.inputShape).toEqual([5, 3]);
    expect((await rejection(loadModel(model, { inputShape: [5, 4] }))).message).toMatch(/does not match the model's input \[\?, 3\]/);
    model.dispose();
  });

  it('checks bounds, normalisation, logits mode and input shapes', async () => {
    const model = tinyModel(3);
    const cases: [object, RegExp][] = [
      [{ bounds: { min: 1, max: 0 } }, /bounds\.min \(1\) exceeds bounds\.max \(0\)/],
      [{ bounds: { min: [0, 0], max: 1 } }, /bounds\.min has 2 values; give one number or 4/],
      [{ bounds: { min: 0.5, max: 0.5 } }, /equals bounds\.max everywhere/],
      [{ normalization: { mean: 0, std: 0 } }, /normalization\.std must be positive/],
      [{ normalization: { mean: [1, 2], std: 1 } }, /normalization\.mean has 2 values/],
      [{ logits: 'strip-softmax' }, /has no softmax/],
    ];
    for (const [options, message] of cases) {
      const err = await rejection(loadModel(model, options));
      expect(err).toBeInstanceOf(UsageError);
      expect(err.message).toMatch(message);
    }
    const wrapped = await loadModel(model);
    const x = tf.zeros([2, 5]);
    expect(() => wrapped.predict(x)).toThrow(UsageError);
    expect(() => wrapped.predict(x)).toThrow(/takes inputs \[batch, 4\], got \[2, 5\]/);
    tf.dispose(x);
    model.dispose();
  });
});

describe('atomic save', () => {
  beforeAll(() => activate('cpu'));

  // Each marker fails a different step: staging the re-pointed old model.json, a shard rename, the final commit.
  it.each(['.model.json.robust-old-', '.weights.bin.robust-tmp-', '.model.json.robust-tmp-'])(
    'leaves the previous model byte-identical when the save fails at %s',
    async (marker) => {
      const dir = await savedModel('atomic', 1);
      const before = snapshot(dir);
      const shaBefore = (await readModelFiles(dir)).sha256;
      const other = tinyModel(2);
      renameFault.sourceIncludes = marker;
      try {
        const err = await rejection(saveLayersModel(other, dir));
        expect(err).toBeInstanceOf(InputError);
        expect(err.message).toMatch(/^could not save the model to .*: injected failure .*; the folder was left as it was$/);
      } finally {
        renameFault.sourceIncludes = undefined;
      }
      expect(snapshot(dir)).toEqual(before);
      expect((await readModelFiles(dir)).sha256).toBe(shaBefore);
      // And without the fault the same save goes through.
      const saved = await saveLayersModel(other, dir);
      expect(snapshot(dir)).not.toEqual(before);
      expect((await readModelFiles(dir)).sha256).toBe(saved.sha256);
      expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
      other.dispose();
    },
  );

  it('keeps model.json consistent with its weights after every rename of an overwriting save', async () => {
    const dir = await savedModel('consistent', 1);
    const weightsHash = async (): Promise<string> => {
      const files = await readModelFiles(dir);
      return createHash('sha256').update(Buffer.from(files.artifacts.weightData as ArrayBuffer)).digest('hex');
    };
    const oldWeights = await weightsHash();
    const seen: string[] = [];
    renameFault.after = async () => void seen.push(await weightsHash());
    const other = tinyModel(2);
    try {
      await saveLayersModel(other, dir);
    } finally {
      renameFault.after = undefined;
    }
    const newWeights = await weightsHash();
    expect(newWeights).not.toBe(oldWeights);
    // Re-point the old model.json at the backup, move the new shard in, commit: three renames, each
    // leaving a loadable model whose weights are wholly old or wholly new.
    expect(seen).toEqual([oldWeights, oldWeights, newWeights]);
    other.dispose();
  });

  it('removes new shards and keeps other files when a sharded save into a fresh folder fails', async () => {
    const dir = freshDir('atomic-fresh');
    mkdirSync(dir);
    writeFileSync(join(dir, 'README.md'), 'mine');
    const model = tinyModel(4);
    renameFault.sourceIncludes = '.group1-shard2of2.bin.robust-tmp-';
    try {
      expect(await rejection(saveLayersModel(model, dir, { maxShardBytes: 32 }))).toBeInstanceOf(InputError);
    } finally {
      renameFault.sourceIncludes = undefined;
    }
    expect(readdirSync(dir)).toEqual(['README.md']);
    model.dispose();
  });
});
