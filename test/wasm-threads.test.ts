import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tf } from '../src/tf.js';
import { useBackend, wasmThreadsFrom } from '../src/backends/index.js';
import { threadsSupported } from '../src/backends/wasmThreads.js';
import { runAttack } from '../src/attacks/run.js';
import { loadDataset } from '../src/data/index.js';
import { loadModel } from '../src/models/load.js';
import { UsageError } from '../src/errors.js';

/**
 * The threaded wasm build in Node (src/backends/wasmThreads.ts): it starts, it runs on the threads asked for,
 * and it gives bit-identical results to tfjs's single-threaded build, kernel fixes included.
 */
const MODEL = 'models/mnist-cnn/model.json';
const canThread = threadsSupported();
const CLI = 'dist/cli/main.js';

/** What one backend computes: a conv net's input gradient and a seeded PGD run on the reference CNN. */
async function workload(): Promise<{ grad: Float32Array; adv: Float32Array; robust: number; grads: number }> {
  const x = tf.randomUniform([8, 12, 12, 3], 0, 1, 'float32', 7);
  const w1 = tf.randomNormal([3, 3, 3, 8], 0, 0.5, 'float32', 8);
  const w2 = tf.randomNormal([3, 3, 8, 5], 0, 0.5, 'float32', 9);
  const loss = (v: tf.Tensor): tf.Scalar => {
    const h = tf.relu(tf.conv2d(v as tf.Tensor4D, w1 as tf.Tensor4D, 1, 'same'));
    const p = tf.maxPool(h, 2, 2, 'valid');
    return tf.sum(tf.square(tf.conv2d(p, w2 as tf.Tensor4D, 2, 'valid')));
  };
  const g = tf.grad(loss)(x);
  const grad = (await g.data()) as Float32Array;
  tf.dispose([x, w1, w2, g]);
  // TF.js's engine: this is about the wasm build's threads (onnxruntime's are test/models-native.test.ts's).
  const model = await loadModel(MODEL, { engine: 'tfjs' });
  const data = await loadDataset('mnist:test', { n: 24 });
  const report = await runAttack(model, data, { name: 'pgd', eps: [0.1], options: { steps: 10, seed: 3 } }, { keepAdversarial: true, batchSize: 24 });
  model.dispose();
  const adv = report.results[0]?.xAdv;
  if (!adv) throw new Error('runAttack kept no adversarial examples');
  return { grad, adv, robust: report.results[0]?.robustAccuracy ?? Number.NaN, grads: report.timing.gradientEvaluations };
}

describe('wasm threads', () => {
  it('rejects a thread count outside 1..4 with a one-line usage error', () => {
    expect(() => wasmThreadsFrom({ threads: 0 })).toThrow(UsageError);
    expect(() => wasmThreadsFrom({ threads: 9 })).toThrow(/--threads: expected a whole number of threads from 1 to 4, got "9"/);
    expect(wasmThreadsFrom({ threads: 3 })).toBe(3);
  });

  it.skipIf(!canThread || !existsSync(MODEL))(
    `two threads give bit-identical gradients and PGD results to one (skipped without SharedArrayBuffer or ${MODEL})`,
    async () => {
      const listeners = process.listeners('uncaughtException').length;
      const two = await useBackend('wasm', { threads: 2 });
      expect(two.threads).toBe(2);
      // The Emscripten module's process-wide error handlers are removed again.
      expect(process.listeners('uncaughtException').length).toBe(listeners);
      const threaded = await workload();

      const one = await useBackend('wasm', { threads: 1 });
      expect(one.threads).toBe(1);
      const single = await workload();

      expect(threaded.robust).toBe(single.robust);
      expect(threaded.grads).toBe(single.grads);
      expect(Buffer.from(threaded.grad.buffer).equals(Buffer.from(single.grad.buffer))).toBe(true);
      expect(Buffer.from(threaded.adv.buffer).equals(Buffer.from(single.adv.buffer))).toBe(true);
      // The workload did something: a non-zero gradient and perturbed images.
      expect(single.grad.some((v) => v !== 0)).toBe(true);
      expect(single.robust).toBeLessThan(1);

      // And back to two threads in the same process.
      const again = await useBackend('wasm', { threads: 2 });
      expect(again.threads).toBe(2);
      const before = tf.memory().numTensors;
      const y = tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])));
      expect((await y.data())[0]).toBe(64);
      tf.dispose(y);
      expect(tf.memory().numTensors).toBe(before);
    },
  );

  it.skipIf(!canThread || !existsSync(CLI) || !existsSync(MODEL))(
    `a CLI run on two threads exits when its work is done (skipped without the build in dist/, run npm run build, or without ${MODEL})`,
    () => {
      // The pool's worker threads live for ever; unless they are unref'd the process never ends.
      const run = spawnSync(
        process.execPath,
        ['bin/robust.js', '--backend', 'wasm', '--threads', '2', '--verbose', 'attack', '--model', MODEL, '--data', 'mnist:test', '--n', '8', '--attack', 'fgsm', '--eps', '0.1'],
        { encoding: 'utf8', timeout: 90_000, env: { ...process.env, CI: 'true' } },
      );
      expect(run.error).toBeUndefined();
      expect(run.status).toBe(0);
      expect(run.stderr).toMatch(/backend: wasm on 2 threads/);
    },
  );
});
