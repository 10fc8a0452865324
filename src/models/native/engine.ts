/**
 * The native engine: a model's attack-time graph run by onnxruntime's CPU kernels instead of TF.js's.
 *
 * On this project's 2-core machine onnxruntime's kernels (MLAS, AVX-512) ran a ResNet-18 forward pass
 * 4.4× and a MobileNetV2 one 2.8× faster than XNNPACK under WebAssembly, whose SIMD is 128 bits wide.
 * The model stays a TF.js function to everything above it: `forward` is a `tf.customGrad` whose
 * forward pass runs the ONNX forward graph and whose gradient runs the vector-Jacobian product graph
 * of `onnxGraph.ts` on the saved input and the incoming dy. Attacks, losses and projections still run
 * on the TF.js backend; only the model crosses over, one host copy each way.
 *
 * onnxruntime-node is an optional dependency, imported only here. Its public `run` is asynchronous
 * while a TF.js forward pass must return at once, so sessions are driven through the package's native
 * binding, whose `run` is synchronous (the public API wraps that same call in a promise).
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { tf } from '../../tf.js';
import type { OptNode } from '../optimize.js';
import { buildNativeGraphs, DLR_MIN_CLASSES, OBJECTIVE_WEIGHTS, type NativeGraphs } from './onnxGraph.js';

interface OrtTensor {
  data: Float32Array;
  dims: readonly number[];
}
interface BindingSession {
  loadModel(buffer: ArrayBufferLike, offset: number, length: number, options: Record<string, unknown>): Promise<void> | void;
  run(feeds: Record<string, unknown>, fetches: Record<string, null>, options: Record<string, unknown>): Record<string, OrtTensor>;
  readonly outputMetadata: { name: string }[];
  dispose(): void;
}
interface OrtModule {
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
  env: { logLevel?: string };
}
interface Runtime {
  ort: OrtModule;
  newSession: () => BindingSession;
}

let runtime: Runtime | null | undefined;

/** onnxruntime-node and its native binding, or null when it is not installed or will not load here. */
function loadRuntime(): Runtime | null {
  if (runtime !== undefined) return runtime;
  try {
    const require = createRequire(import.meta.url);
    const main = require.resolve('onnxruntime-node');
    const ort = require(main) as OrtModule;
    const bindingModule = require(join(dirname(main), 'binding.js')) as { binding: { InferenceSession: new () => BindingSession }; initOrt: () => void };
    // Only errors reach stderr: onnxruntime's warnings (e.g. about unused initialisers) are not the user's business.
    ort.env.logLevel = 'error';
    bindingModule.initOrt();
    runtime = { ort, newSession: () => new bindingModule.binding.InferenceSession() };
  } catch {
    runtime = null;
  }
  return runtime;
}

/** Whether the native engine can run here (onnxruntime-node installed and loadable). */
export function nativeEngineAvailable(): boolean {
  return loadRuntime() !== null;
}

/**
 * Per-example weights of the attacks' standard objectives (see `objectiveSeed` in `onnxGraph.ts`): the
 * input gradient of Σᵢ ceᵢ · CE(zᵢ, yᵢ) + marginᵢ · margin(zᵢ, yᵢ) + dlrᵢ · DLR(zᵢ, yᵢ) +
 * dlrTargetedᵢ · DLR(zᵢ, yᵢ, tᵢ). Weights [b, 1], absent ones zero; `onehot` [b, classes] holds the labels
 * y the objectives read (a targeted cross-entropy or margin reads its targets there and weighs −1), and
 * `target` the targets t of the targeted DLR.
 */
export interface ObjectiveWeights {
  onehot: tf.Tensor2D;
  /** A gradient with respect to the logits given outright, [b, classes], added to the objectives'. */
  dy?: tf.Tensor2D;
  target?: tf.Tensor2D;
  ce?: tf.Tensor2D;
  margin?: tf.Tensor2D;
  dlr?: tf.Tensor2D;
  dlrTargeted?: tf.Tensor2D;
  /** Carlini-Wagner: the weight −c·s on the margin's gradient, the sign s (−1 targeted), and κ. */
  cw?: tf.Tensor2D;
  cwSign?: tf.Tensor2D;
  kappa?: tf.Tensor2D;
}

/** A model graph running natively. */
export interface NativeEngine {
  /** Logits of a [b, ...inputShape] batch, differentiable with respect to the input. */
  forward: (x: tf.Tensor) => tf.Tensor;
  /**
   * The logits and the input gradient of a standard objective (see {@link ObjectiveWeights}) in one
   * native run: one forward and one reverse pass, where `forward` under `tf.grad` costs a forward
   * pass more. Not differentiable; the caller owns both tensors.
   */
  objectiveGradient: (x: tf.Tensor, weights: ObjectiveWeights) => { logits: tf.Tensor2D; grad: tf.Tensor };
  /** Whether the gradient graph has the DLR objectives (models with at least 4 classes). */
  dlr: boolean;
  /** Estimated native memory per example of a gradient (see {@link NativeGraphs.bytesPerExample}). */
  bytesPerExample: number;
  dispose: () => void;
}

/** Options of {@link nativeEngine}. */
export interface NativeEngineOptions {
  /** onnxruntime's intra-op threads; default the machine's cores. */
  threads?: number;
  /** The input's layout: NHWC as TF.js holds images (default), or NCHW (an ONNX model's own input). */
  layout?: 'nhwc' | 'nchw';
}

async function openSession(rt: Runtime, bytes: Uint8Array, threads: number): Promise<BindingSession> {
  const session = rt.newSession();
  // No spinning: onnxruntime's idle workers otherwise busy-wait after every run, and each session has its
  // own pool, so the forward session's workers spun against the gradient session's (and against the
  // TF.js backend between runs): a ResNet-20 forward plus gradient took 70 ms where the two runs take 41.
  const options = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    logSeverityLevel: 3,
    extra: { session: { 'intra_op.allow_spinning': '0' } },
  };
  await session.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, options);
  return session;
}

/**
 * The native engine for a folded attack-time graph (see `optimize.ts`) with per-example input shape
 * `inputShape`; undefined when onnxruntime is not installed or the graph has a node the ONNX writer
 * does not know, and the caller keeps the TF.js pass.
 */
export async function nativeEngine(nodes: readonly OptNode[], inputShape: number[], options: NativeEngineOptions = {}): Promise<NativeEngine | undefined> {
  const rt = loadRuntime();
  if (rt === null) return undefined;
  const graphs = buildNativeGraphs(nodes, inputShape, options.layout);
  if (graphs === undefined) return undefined;
  const threads = options.threads ?? availableParallelism();
  const fwd = await openSession(rt, graphs.forward, threads);
  const vjp = await openSession(rt, graphs.vjp, threads);
  const fwdOut = (fwd.outputMetadata[0] as { name: string }).name;
  const vjpLogits = (vjp.outputMetadata[0] as { name: string }).name;
  const vjpDx = (vjp.outputMetadata[1] as { name: string }).name;
  const feed = (t: tf.Tensor): unknown => {
    const data = t.dataSync();
    // The cpu backend may hand back another typed array for a float32 tensor cast from int32 (a one-hot).
    return new rt.ort.Tensor('float32', data instanceof Float32Array ? data : Float32Array.from(data), t.shape);
  };
  const zeros = (rows: number, width: number): unknown => new rt.ort.Tensor('float32', new Float32Array(rows * width), [rows, width]);
  const classes = graphs.classes;
  /** The gradient graph's inputs for x: the given dy, labels and objective weights, zeros for the rest. */
  const vjpFeeds = (x: tf.Tensor, weights: Partial<ObjectiveWeights>): Record<string, unknown> => {
    const rows = x.shape[0] ?? 0;
    const given = (t: tf.Tensor | undefined, width: number): unknown => (t !== undefined ? feed(t) : zeros(rows, width));
    const feeds: Record<string, unknown> = { x: feed(x), dy: given(weights.dy, classes), onehot: given(weights.onehot, classes), target: given(weights.target, classes) };
    for (const name of OBJECTIVE_WEIGHTS) feeds[name] = given(weights[name], 1);
    return feeds;
  };

  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([x]);
    const logits = fwd.run({ x: feed(x) }, { [fwdOut]: null }, {})[fwdOut] as OrtTensor;
    return {
      value: tf.tensor2d(logits.data, [x.shape[0] ?? 0, classes]),
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => {
        const xs = saved as tf.Tensor;
        const result = vjp.run(vjpFeeds(xs, { dy: dy as tf.Tensor2D }), { [vjpDx]: null }, {});
        return tf.tensor((result[vjpDx] as OrtTensor).data, xs.shape);
      },
    };
  });
  return {
    forward: (x) => run(x),
    dlr: classes >= DLR_MIN_CLASSES,
    objectiveGradient: (x, weights) => {
      const rows = x.shape[0] ?? 0;
      const result = vjp.run(vjpFeeds(x, weights), { [vjpLogits]: null, [vjpDx]: null }, {});
      return {
        logits: tf.tensor2d((result[vjpLogits] as OrtTensor).data, [rows, classes]),
        grad: tf.tensor((result[vjpDx] as OrtTensor).data, x.shape),
      };
    },
    bytesPerExample: graphs.bytesPerExample,
    dispose: () => {
      fwd.dispose();
      vjp.dispose();
    },
  };
}
