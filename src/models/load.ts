/**
 * Turning whatever the user has (a model.json on disk, an in-memory Layers or graph model, or a plain
 * function) into the {@link Model} attacks consume: a differentiable map from input space to logits,
 * with normalisation folded inside `predict` and the bounds and hash attached.
 */
import { open } from 'node:fs/promises';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfc from '@tensorflow/tfjs-converter';
import { tf } from '../tf.js';
import { InputError, UsageError, errorMessage } from '../errors.js';
import { asBinaryClassifier, checkOutputMode, OUTPUT_MODES, type OutputMode } from './binary.js';
import type { Core, LogitsMode } from './core.js';
import { graphCore, graphTopology } from './graph.js';
import { readModelFiles } from './io.js';
import { looksLikeOnnx } from './onnx/files.js';
import { onnxCore, type OnnxInfo } from './onnx/load.js';
import { checkLayerClasses, layersCore } from './layers.js';
import {
  DEFAULT_BOUNDS,
  checkBounds,
  checkNormalization,
  inputFailure,
  normalize,
  readRobustMetadata,
  usageFailure,
  type ErrorFactory,
} from './metadata.js';
import type { Bounds, Model, ModelAccess, ModelEngine, Normalization } from './types.js';
import { type NativeEngine, nativeEngine, nativeEngineAvailable } from './native/engine.js';
import { disposeGraph } from './optimize.js';
import { fusedThroughNormalization, registerFusedGradient } from './fused.js';
import { embeddedCpuThreads } from '../backends/index.js';

/** A classifier as a function from a batch of inputs to a batch of logits. */
export type LogitsFunction = (x: tf.Tensor) => tf.Tensor;

/** What {@link loadModel} accepts. */
export type ModelSource = string | tfl.LayersModel | tfc.GraphModel | LogitsFunction;

export type { LogitsMode } from './core.js';
export type { OutputMode } from './binary.js';

/** Options for {@link loadModel}. */
export interface LoadModelOptions {
  /** Label for reports. Default: the path, the Layers model's name, `graph-model`, or the function's name. */
  name?: string;
  /** Input bounds. Precedence: this option, then `userDefinedMetadata.robust.bounds`, then {min: 0, max: 1}. */
  bounds?: Bounds;
  /** Applied inside `predict` as (x - mean) / std. Precedence: this option, then `userDefinedMetadata.robust.normalization`. */
  normalization?: Normalization;
  /** Shape of one example without the batch axis. Required for functions and for models with unknown inner dimensions. */
  inputShape?: number[];
  /** Number of classes. Required for functions; checked against the model's output otherwise. */
  numClasses?: number;
  /** See {@link LogitsMode}. Default `auto`. */
  logits?: LogitsMode;
  /**
   * What the model's output holds (see {@link OutputMode}): `auto` (default) guesses from its structure,
   * `sigmoid` or `logit` declare a single-output binary classifier, `softmax` or `logits` a multi-class one.
   */
  output?: OutputMode;
  /** What attacks may use. Default `gradients`; set `scores` or `decisions` to model a weaker threat. */
  access?: ModelAccess;
  /**
   * Run a Layers model through the attack-time pass (`optimizeLayersModel`: BatchNormalization folded,
   * bias and relu/relu6 fused, gradients for the input only), which copies the weights. Default: true
   * for a path (robust owns those weights), false for an in-memory model (its owner may still train it).
   * Set false to train `layersModel` through `predict`.
   */
  optimize?: boolean;
  /**
   * What runs the optimised model (see {@link ModelEngine}). `auto` (default; {@link setDefaultEngine}
   * changes it): onnxruntime's native CPU kernels when onnxruntime-node is installed, the model's
   * attack-time graph has only ops they cover and the TF.js backend is an embedded CPU one (wasm, cpu);
   * else TF.js. `onnxruntime` insists (a UsageError when it cannot); `tfjs` never leaves TF.js.
   */
  engine?: EngineChoice;
}

/** {@link LoadModelOptions.engine}. */
export type EngineChoice = ModelEngine | 'auto';

let defaultEngine: EngineChoice = 'auto';

/** The engine `loadModel` uses when its options name none (the CLI's `--engine`). */
export function setDefaultEngine(choice: EngineChoice): void {
  defaultEngine = choice;
}

/** The {@link Model} robust builds, with what it learnt while loading. */
export interface LoadedModel extends Model {
  /** Where the model came from. */
  readonly format: 'layers-model' | 'graph-model' | 'function' | 'onnx';
  /** True when `predict` returns probabilities, because the softmax was kept (see {@link LogitsMode}). */
  readonly outputsProbabilities: boolean;
  /** True when the model ends in a softmax and `predict` returns the logits before it. */
  readonly softmaxStripped: boolean;
  /**
   * How the model's output was read: `softmax` or `logits` for two or more outputs, `sigmoid` or `logit`
   * for a single-output binary classifier, which `predict` presents as the two logits [0, z].
   */
  readonly output: Exclude<OutputMode, 'auto'>;
  /** True for a binary classifier whose final sigmoid was stripped, so z comes straight from the model. */
  readonly sigmoidStripped: boolean;
  /** The normalisation `predict` applies, if any. */
  readonly normalization?: Normalization;
  /** The model.json read, for models loaded from disk. */
  readonly modelJsonPath?: string;
  /** The underlying Layers model (e.g. for training), when there is one. */
  readonly layersModel?: tfl.LayersModel;
  /** True when `predict` runs the attack-time pass (see {@link LoadModelOptions.optimize}). */
  readonly optimized: boolean;
  /** What runs `predict` (see {@link LoadModelOptions.engine}). */
  readonly engine: ModelEngine;
  /** For ONNX models: the opset, the op producing the raw output, and what could not be translated. */
  readonly onnx?: OnnxInfo;
}

interface Context {
  name: string;
  sha256?: string;
  modelJsonPath?: string;
  /** How errors about the model itself are raised: InputError for files, UsageError for objects passed in. */
  fail: ErrorFactory;
  metadataFail: ErrorFactory;
}

function resolveInputShape(declared: (number | null)[] | undefined, given: number[] | undefined, fail: ErrorFactory): number[] {
  if (given !== undefined) {
    if (!given.every((d) => Number.isInteger(d) && d > 0)) throw new UsageError(`inputShape must be positive integers, got [${given.join(', ')}]`);
    if (declared !== undefined) {
      const clash = declared.length !== given.length || declared.some((d, i) => d !== null && d !== given[i]);
      if (clash) throw fail(`inputShape [${given.join(', ')}] does not match the model's input [${declared.map((d) => d ?? '?').join(', ')}]`);
    }
    return [...given];
  }
  if (declared === undefined || declared.some((d) => d === null)) {
    const shown = declared === undefined ? 'unknown' : `[${declared.map((d) => d ?? '?').join(', ')}]`;
    throw new UsageError(`the model's input shape is ${shown}; pass inputShape (e.g. --input-shape 28,28,1) to say what one example looks like`);
  }
  return declared as number[];
}

const ACCESS_ORDER: ModelAccess[] = ['decisions', 'scores', 'gradients'];

/** The lesser of what the caller asks for and what the format can give. */
function accessOf(asked: ModelAccess | undefined, allowed: ModelAccess | undefined): ModelAccess {
  const a = ACCESS_ORDER.indexOf(asked ?? 'gradients');
  const b = ACCESS_ORDER.indexOf(allowed ?? 'gradients');
  return ACCESS_ORDER[Math.min(a, b)] ?? 'gradients';
}

/** The model's raw output width, from one pass on a zero input. */
function outputWidth(core: Core, inputShape: number[], ctx: Context): number {
  try {
    return tf.tidy(() => {
      const out = core.forward(tf.zeros([1, ...inputShape]));
      // A binary classifier may return one score per example as [batch].
      if (out.rank === 1) return 1;
      if (out.rank !== 2) throw new Error(`it returned shape [${out.shape.join(', ')}]; robust needs logits [batch, classes]`);
      return out.shape[1] ?? 0;
    });
  } catch (err) {
    if (err instanceof UsageError || err instanceof InputError) throw err;
    throw ctx.fail(`the model failed on a zero input of shape [1, ${inputShape.join(', ')}]: ${errorMessage(err)}`);
  }
}

/** What `predict` computes before normalisation is added, and how the output was read. */
interface Head {
  forward: (x: tf.Tensor) => tf.Tensor;
  output: Exclude<OutputMode, 'auto'>;
  sigmoidStripped: boolean;
  outputsProbabilities: boolean;
}

/**
 * Read the output as the options and the model's structure say: a single unit becomes the two logits
 * [0, z] (see binary.ts), with the sigmoid stripped when the loader found it and `logits` is not as-is.
 */
function head(core: Core, width: number, mode: OutputMode, logitsMode: LogitsMode): Head {
  if (width === 1) {
    const sigmoid = mode === 'sigmoid' || (mode === 'auto' && core.sigmoid !== undefined);
    const preSigmoid = core.sigmoid?.logits;
    if (sigmoid && preSigmoid !== undefined && logitsMode !== 'as-is') {
      return { forward: asBinaryClassifier(preSigmoid, { output: 'logit' }), output: 'sigmoid', sigmoidStripped: true, outputsProbabilities: false };
    }
    const output = sigmoid ? 'sigmoid' : 'logit';
    return { forward: asBinaryClassifier(core.forward, { output }), output, sigmoidStripped: false, outputsProbabilities: false };
  }
  if (mode === 'softmax' && !core.softmaxStripped) {
    // log p equals the logits up to a per-example constant: the same argmax, softmax and margins.
    return { forward: (x) => tf.log(tf.maximum(core.forward(x), 1e-30)), output: 'softmax', sigmoidStripped: false, outputsProbabilities: false };
  }
  const output = core.softmaxStripped || core.outputsProbabilities ? 'softmax' : 'logits';
  return { forward: core.forward, output, sigmoidStripped: false, outputsProbabilities: core.outputsProbabilities };
}

function assemble(core: Core, options: LoadModelOptions, ctx: Context, onnx?: OnnxInfo): LoadedModel {
  const inputShape = resolveInputShape(core.declaredInputShape, options.inputShape, ctx.fail);
  const width = outputWidth(core, inputShape, ctx);
  if (width < 1) throw ctx.fail(`the model returns ${width} scores per example; robust needs at least one`);
  const numClasses = width === 1 ? 2 : width;
  if (options.numClasses !== undefined && options.numClasses !== numClasses) {
    const binary = width === 1 ? ' (one output unit: a binary classifier, 2 classes)' : '';
    throw new UsageError(`numClasses is ${options.numClasses} but the model returns ${width} scores per example${binary}`);
  }
  const mode = options.output ?? 'auto';
  checkOutputMode(mode, width, ctx.name);
  const { forward, output, sigmoidStripped, outputsProbabilities } = head(core, width, mode, options.logits ?? 'auto');

  const metadata = readRobustMetadata(core.metadata, ctx.modelJsonPath ?? ctx.name);
  const bounds = options.bounds ?? metadata.bounds ?? DEFAULT_BOUNDS;
  checkBounds(bounds, inputShape, options.bounds !== undefined || metadata.bounds === undefined ? usageFailure : ctx.metadataFail);
  const normalization = options.normalization ?? metadata.normalization;
  if (normalization !== undefined) {
    checkNormalization(normalization, inputShape, options.normalization !== undefined ? usageFailure : ctx.metadataFail);
  }

  let disposed = false;
  const name = ctx.name;
  const checkShape = (x: tf.Tensor): void => {
    if (x.rank !== inputShape.length + 1 || x.shape.slice(1).some((d, i) => d !== inputShape[i])) {
      throw new UsageError(`model ${name} takes inputs [batch, ${inputShape.join(', ')}], got [${x.shape.join(', ')}]`);
    }
  };
  const predict = (x: tf.Tensor): tf.Tensor2D => {
    checkShape(x);
    return tf.tidy(() => {
      const input = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
      const out = forward(normalization === undefined ? input : normalize(input, normalization, inputShape));
      if (out.rank !== 2) throw new UsageError(`model ${name} returned shape [${out.shape.join(', ')}]; robust needs logits [batch, classes]`);
      return out as tf.Tensor2D;
    });
  };
  // The engine's fused gradient is of core.forward: only when predict is that, after the normalisation.
  if (core.fused !== undefined && forward === core.forward && width > 1) {
    const fused = fusedThroughNormalization(core.fused, numClasses, normalization, inputShape);
    registerFusedGradient(predict, (x, objective) => {
      checkShape(x);
      return fused(x, objective);
    });
  }
  return {
    name,
    inputShape,
    numClasses,
    bounds,
    sha256: ctx.sha256,
    access: accessOf(options.access, core.access),
    ...(core.accessNote !== undefined ? { accessNote: core.accessNote } : {}),
    ...(core.layout !== undefined ? { layout: core.layout } : {}),
    ...(onnx !== undefined ? { onnx } : {}),
    format: core.format,
    outputsProbabilities,
    softmaxStripped: core.softmaxStripped,
    output,
    sigmoidStripped,
    normalization,
    modelJsonPath: ctx.modelJsonPath,
    layersModel: core.layersModel,
    optimized: core.optimized ?? false,
    engine: core.engine ?? 'tfjs',
    ...(core.engineBytesPerExample !== undefined ? { engineBytesPerExample: core.engineBytesPerExample } : {}),
    predict,
    dispose(): void {
      if (disposed) return;
      disposed = true;
      core.dispose();
    },
  };
}

/** Whether a path names an ONNX file: by extension, or by content (a protobuf, not JSON). */
async function isOnnxPath(path: string): Promise<boolean> {
  if (path.toLowerCase().endsWith('.onnx')) return true;
  try {
    const handle = await open(path, 'r');
    try {
      const head = new Uint8Array(1);
      await handle.read(head, 0, 1, 0);
      return looksLikeOnnx(path, head);
    } finally {
      await handle.close();
    }
  } catch {
    return false; // a folder or a missing file: the TF.js reader explains
  }
}

async function loadOnnx(path: string, options: LoadModelOptions, mode: LogitsMode): Promise<LoadedModel> {
  const { core: translated, info } = await onnxCore(path, mode, options.optimize ?? true);
  const core = await withEngine(translated, options.engine ?? defaultEngine);
  const fail = inputFailure(path);
  const ctx: Context = { name: options.name ?? path, sha256: info.sha256, fail, metadataFail: fail };
  return guard(() => assemble(core, options, ctx, info), () => core.dispose());
}

async function loadFromPath(path: string, options: LoadModelOptions, mode: LogitsMode): Promise<LoadedModel> {
  if (await isOnnxPath(path)) return loadOnnx(path, options, mode);
  const files = await readModelFiles(path);
  const where = files.modelJsonPath;
  const handler: tf.io.IOHandler = { load: async () => files.artifacts };
  const fail = inputFailure(where);
  let core: Core;
  if (files.format === 'layers-model') {
    checkLayerClasses(files.artifacts.modelTopology, where);
    let model: tfl.LayersModel;
    try {
      model = await tfl.loadLayersModel(handler, { strict: true });
    } catch (err) {
      throw new InputError(`${where} could not be loaded as a Layers model: ${errorMessage(err)}`);
    }
    core = guard(() => layersCore(model, mode, true, fail, options.optimize ?? true), () => model.dispose());
    core = await withEngine(core, options.engine ?? defaultEngine);
  } else {
    let model: tfc.GraphModel;
    try {
      model = await tfc.loadGraphModel(handler);
    } catch (err) {
      throw new InputError(`${where} could not be loaded as a graph model: ${errorMessage(err)}`);
    }
    core = guard(() => graphCore(model, files.artifacts.modelTopology, mode, true, fail), () => model.dispose());
  }
  const ctx: Context = { name: options.name ?? path, sha256: files.sha256, modelJsonPath: where, fail, metadataFail: fail };
  return guard(() => assemble(core, options, ctx), () => core.dispose());
}

/**
 * `core` with its optimised graph moved onto onnxruntime's native kernels where `choice` and the
 * circumstances allow (see {@link LoadModelOptions.engine}); otherwise `core` itself.
 */
async function withEngine(core: Core, choice: EngineChoice): Promise<Core> {
  if (choice === 'tfjs') return core;
  const insist = choice === 'onnxruntime';
  const refuse = (why: string): Core => {
    if (!insist) return core;
    core.dispose();
    throw new UsageError(`engine onnxruntime: ${why}; use engine auto or tfjs`);
  };
  if (!nativeEngineAvailable()) return refuse('onnxruntime-node is not installed');
  const shape = core.declaredInputShape;
  if ((core.graph === undefined && core.buildGraph === undefined) || shape === undefined || shape.some((d) => d === null)) {
    return refuse('the model has no attack-time graph (a Layers model.json or an ONNX file loaded with optimize on, with a fixed input shape)');
  }
  const threads = await embeddedCpuThreads();
  if (!insist && threads === undefined) return core;
  const built = core.graph === undefined ? core.buildGraph?.() : undefined;
  const graph = core.graph ?? built;
  if (graph === undefined) return refuse('the model has ops the native engine does not cover');
  let native: NativeEngine | undefined;
  try {
    const layout = core.layout === 'nchw' ? 'nchw' : 'nhwc';
    native = await nativeEngine(graph, shape as number[], { layout, ...(threads !== undefined ? { threads } : {}) });
  } catch (err) {
    return refuse(`onnxruntime could not load the model's graph (${errorMessage(err)})`);
  } finally {
    // The engine copied the weights into its own graphs; a graph built for it alone is freed now.
    if (built !== undefined) disposeGraph(built);
  }
  if (native === undefined) return refuse('the model has layers the native engine does not cover');
  const run = native;
  // A graph that ends before a sigmoid head gives its logit: forward puts the sigmoid back, and the fused
  // objectives (of the graph's own output) do not apply.
  const before = core.graphBeforeSigmoid === true;
  return {
    ...core,
    optimized: true,
    forward: before ? (x: tf.Tensor) => tf.sigmoid(run.forward(x)) : run.forward,
    ...(before ? { sigmoid: { logits: run.forward } } : { fused: { gradient: run.objectiveGradient, dlr: run.dlr } }),
    engine: 'onnxruntime',
    engineBytesPerExample: run.bytesPerExample,
    dispose: () => {
      run.dispose();
      core.dispose();
    },
  };
}

/** Run `build`; if it throws, release what was loaded for it first. */
function guard<T>(build: () => T, release: () => void): T {
  try {
    return build();
  } catch (err) {
    release();
    throw err;
  }
}

/**
 * Load a classifier as a robust {@link Model}.
 *
 * - A path to an `.onnx` file (recognised by its extension or its protobuf content) is translated into
 *   TF.js ops (`onnx/`), so gradient attacks work on it; its input keeps the model's own layout (NCHW
 *   for PyTorch exports, see {@link Model.layout}). A graph with ops robust cannot translate runs
 *   black-box through onnxruntime-node when installed (access `scores`), and is refused otherwise.
 * - A path (a model.json, or a folder holding one) is read through robust's checked file loader
 *   ({@link readModelFiles}): shards must stay inside the folder and match the manifest, and the
 *   result carries the files' SHA-256. Layers and graph formats are both accepted; custom and Lambda
 *   layers are refused. The returned model owns the weights: `dispose()` frees them.
 * - An in-memory `tf.LayersModel` or `GraphModel` is wrapped; the caller keeps ownership, so
 *   `dispose()` leaves it alone.
 * - A function from inputs to logits needs `inputShape` and `numClasses`.
 *
 * `predict` applies the normalisation, then the model (`apply` with training off, or graph
 * `execute`), all inside `tf.tidy`, so it is differentiable and leaves only its result behind.
 * Loading runs the model once on a zero input to learn and check the number of classes.
 *
 * @throws InputError for missing or malformed files and unsupported layers or ops;
 *   UsageError for missing or inconsistent options.
 * @example
 * const model = await loadModel('models/mnist-cnn', { bounds: { min: 0, max: 1 } });
 * const logits = model.predict(x); // [batch, 10]
 */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const output = options.output ?? 'auto';
  if (!OUTPUT_MODES.includes(output)) throw new UsageError(`output must be one of ${OUTPUT_MODES.join(', ')}, got ${String(output)}`);
  if (output === 'logits' && options.logits === 'strip-softmax') throw new UsageError('output: logits says the outputs are logits already; drop logits: strip-softmax');
  // Declared logits are never touched; everything else starts from the logits option.
  const mode = output === 'logits' ? 'as-is' : (options.logits ?? 'auto');
  if (!['auto', 'strip-softmax', 'as-is'].includes(mode)) throw new UsageError(`logits must be auto, strip-softmax or as-is, got ${mode}`);
  if (typeof source === 'string') return loadFromPath(source, options, mode);
  const fail = usageFailure;
  const ctxFor = (name: string): Context => ({ name: options.name ?? name, fail, metadataFail: inputFailure(`metadata of ${name}`) });
  if (source instanceof tfl.LayersModel) {
    return assemble(layersCore(source, mode, false, fail, options.optimize ?? false), options, ctxFor(source.name));
  }
  if (source instanceof tfc.GraphModel) {
    return assemble(graphCore(source, graphTopology(source), mode, false, fail), options, ctxFor('graph-model'));
  }
  if (typeof source === 'function') {
    if (options.inputShape === undefined || options.numClasses === undefined) {
      throw new UsageError('a function model needs inputShape and numClasses in the options, e.g. { inputShape: [28, 28, 1], numClasses: 10 }');
    }
    if (options.logits === 'strip-softmax') throw new UsageError('logits: strip-softmax does not apply to a function; return logits from it');
    const core: Core = {
      format: 'function',
      forward: source,
      outputsProbabilities: false,
      softmaxStripped: false,
      metadata: undefined,
      dispose: () => undefined,
    };
    return assemble(core, options, ctxFor(source.name === '' ? 'function' : source.name));
  }
  throw new UsageError('loadModel takes a path to model.json, a tf.LayersModel, a GraphModel, or a function from inputs to logits');
}
