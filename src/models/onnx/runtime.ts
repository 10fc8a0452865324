/**
 * The black-box fallback: an ONNX model with ops robust cannot translate still answers score queries,
 * through onnxruntime-node (an optional dependency, imported only here and only when needed).
 *
 * `Model.predict` is synchronous, while onnxruntime's `run` is not, so the session lives in a worker
 * thread and `predict` blocks on `Atomics.wait` until the worker has written the scores into shared
 * memory. The model then has access `scores`: Square and other score-based attacks work, gradient
 * attacks are refused with the list of ops that stopped the translation.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { InputError, errorMessage } from '../../errors.js';
import { tf } from '../../tf.js';
import type { Core } from '../core.js';
import type { OnnxFiles } from './files.js';
import { graphSignature } from './program.js';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);
ort.InferenceSession.create(workerData.path).then((session) => {
  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  parentPort.on('message', async ({ input, shape, output, flag }) => {
    const status = new Int32Array(flag);
    try {
      const result = await session.run({ [inputName]: new ort.Tensor('float32', new Float32Array(input).slice(), shape) });
      const scores = result[outputName];
      const dst = new Float32Array(output);
      if (scores.data.length !== dst.length) throw new Error('onnxruntime returned ' + scores.data.length + ' scores, expected ' + dst.length);
      dst.set(scores.data);
      Atomics.store(status, 0, 1);
    } catch (err) {
      const text = new TextEncoder().encode(String(err && err.message || err)).slice(0, 1000);
      new Uint8Array(flag, 8).set(text);
      Atomics.store(status, 1, text.length);
      Atomics.store(status, 0, 2);
    }
    Atomics.notify(status, 0);
  });
  parentPort.postMessage({ ready: true });
}, (err) => parentPort.postMessage({ error: String(err && err.message || err) }));
`;

/** Where onnxruntime-node is, or undefined when it is not installed. */
function onnxruntimePath(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('onnxruntime-node');
  } catch {
    return undefined;
  }
}

/** Whether onnxruntime-node is installed (the black-box fallback and the tests' oracle need it). */
export function hasOnnxRuntime(): boolean {
  return onnxruntimePath() !== undefined;
}

/** Run one batch through the worker, blocking until it answers. */
function runSync(worker: Worker, x: Float32Array, shape: number[], outSize: number): Float32Array {
  const input = new SharedArrayBuffer(x.byteLength);
  new Float32Array(input).set(x);
  const output = new SharedArrayBuffer(4 * outSize);
  const flag = new SharedArrayBuffer(8 + 1000);
  const status = new Int32Array(flag);
  worker.postMessage({ input, shape, output, flag });
  if (Atomics.wait(status, 0, 0, 600_000) === 'timed-out') throw new InputError('onnxruntime did not answer within 10 minutes');
  if (Atomics.load(status, 0) === 2) {
    const text = new TextDecoder().decode(new Uint8Array(flag, 8, Atomics.load(status, 1)));
    throw new InputError(`onnxruntime failed on the model: ${text}`);
  }
  return new Float32Array(output);
}

/**
 * A score-only {@link Core} running the model in onnxruntime. The number of scores per example is
 * learnt from one zero input at load time.
 * @throws InputError listing the untranslatable ops when onnxruntime-node is not installed.
 */
export async function blackBoxCore(files: OnnxFiles, untranslated: string[], metadata: unknown, lastOp: string): Promise<Core> {
  const listed = `robust cannot translate ${untranslated.length} op${untranslated.length === 1 ? '' : 's'} of ${files.path}: ${untranslated.join('; ')}`;
  const ort = onnxruntimePath();
  if (ort === undefined) {
    throw new InputError(`${listed}. Install onnxruntime-node to run score-based attacks (square) on it black-box, or re-export the model with supported ops`);
  }
  const { inputShape } = graphSignature(files.model, files.initializers, files.path);
  const worker = new Worker(WORKER, { eval: true, workerData: { ort, path: files.path } });
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new InputError(`onnxruntime cannot load ${files.path}: ${m.error ?? ''}`))));
      worker.once('error', (err) => reject(new InputError(`onnxruntime worker failed: ${errorMessage(err)}`)));
    });
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  worker.unref();
  const perExample = new Map<string, number>();
  const forward = (x: tf.Tensor): tf.Tensor => {
    const shape = x.shape;
    const key = shape.slice(1).join('x');
    const n = shape[0] ?? 0;
    let classes = perExample.get(key);
    if (classes === undefined) {
      // Learn the output width once per input shape by asking for the one-example answer's size.
      classes = probeWidth(worker, shape.slice(1));
      perExample.set(key, classes);
    }
    const scores = runSync(worker, x.dataSync() as Float32Array, shape, n * classes);
    return tf.tensor2d(scores, [n, classes]);
  };
  return {
    format: 'onnx',
    forward,
    declaredInputShape: inputShape,
    // A final softmax cannot be skipped inside onnxruntime: the scores stay probabilities, and say so.
    outputsProbabilities: lastOp === 'Softmax',
    softmaxStripped: false,
    // A final Sigmoid is known but cannot be skipped inside onnxruntime: binary handling takes log-odds of p.
    ...(lastOp === 'Sigmoid' ? { sigmoid: {} } : {}),
    metadata,
    layout: inputShape.length === 3 ? 'nchw' : undefined,
    access: 'scores',
    accessNote: listed,
    dispose: () => void worker.terminate(),
  };
}

/** The number of scores for one example: try sizes until onnxruntime's answer fits (it reports the size it produced). */
function probeWidth(worker: Worker, shape: number[]): number {
  const x = new Float32Array(shape.reduce((a, b) => a * b, 1));
  try {
    runSync(worker, x, [1, ...shape], 0);
  } catch (err) {
    const match = /returned (\d+) scores/.exec(errorMessage(err));
    if (match) return Number(match[1]);
    throw err;
  }
  return 0;
}
