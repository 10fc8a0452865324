import { describe, expect, it } from 'vitest';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../src/tf.js';
import { activate, noLeak } from './helpers/backends.js';
import { batchOf, permutation, trainClassifier } from '../src/training/train.js';
import { makeRng } from '../src/tensor/random.js';
import type { Dataset } from '../src/data/types.js';

/** A 3-class problem on 6×6×1 "images": the class is which third of the image is bright. */
function toyImages(n: number, seed: string): Dataset {
  const rng = makeRng(seed);
  const x = new Float32Array(n * 36);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(3);
    y[i] = c;
    for (let r = 0; r < 6; r++) for (let col = 0; col < 6; col++) x[i * 36 + r * 6 + col] = (Math.floor(col / 2) === c ? 0.8 : 0.1) + 0.1 * rng.float();
  }
  return { x, y, shape: [6, 6, 1], n, source: 'toy', sha256: '' };
}

function tinyCnn(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [6, 6, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

async function weightsOf(m: tfl.LayersModel): Promise<number[]> {
  const out: number[] = [];
  for (const w of m.getWeights()) out.push(...(await w.data()));
  return out;
}

describe('training', () => {
  it.each(['cpu', 'wasm'] as const)('%s: the same seed gives bit-identical weights, and the model learns', async (backend) => {
    await activate(backend);
    const ds = toyImages(96, 'toy');
    const run = async () => {
      const m = tinyCnn(3);
      const losses = await trainClassifier(m, ds, { epochs: 10, batchSize: 16, learningRate: 0.03, seed: 7, augment: { maxShift: 1 } });
      const w = await weightsOf(m);
      m.dispose();
      return { losses, w };
    };
    const a = await run();
    const b = await noLeak(run);
    expect(b.w).toEqual(a.w);
    expect(a.losses.at(-1)!).toBeLessThan(a.losses[0]! * 0.5);
  });

  it('shift augmentation moves each image by whole pixels, zero-filled, and keeps labels', () => {
    const ds: Dataset = { x: Float32Array.from({ length: 2 * 9 }, (_, i) => (i % 9) + 1), y: Int32Array.from([4, 2]), shape: [3, 3, 1], n: 2, source: 't', sha256: '' };
    const rng = makeRng('shift');
    const { x, y } = batchOf(ds, [1, 0], 5, { maxShift: 1, rng });
    const got = Array.from(x.dataSync());
    // Replay the same draws to get each image's (dy, dx), then shift by hand.
    const replay = makeRng('shift');
    const expected: number[] = [];
    for (let k = 0; k < 2; k++) {
      const dy = replay.int(3) - 1;
      const dx = replay.int(3) - 1;
      for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) {
        const sr = r - dy;
        const sc = c - dx;
        expected.push(sr >= 0 && sr < 3 && sc >= 0 && sc < 3 ? sr * 3 + sc + 1 : 0);
      }
    }
    expect(got).toEqual(expected);
    expect(Array.from(tf.argMax(y, 1).dataSync())).toEqual([2, 4]);
    tf.dispose([x, y]);
  });

  it('permutation is a seeded Fisher-Yates shuffle', () => {
    const p = permutation(50, makeRng(1));
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(permutation(50, makeRng(1)))).toEqual(Array.from(p));
    expect(Array.from(permutation(50, makeRng(2)))).not.toEqual(Array.from(p));
  });
});
