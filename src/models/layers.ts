/**
 * Wrapping a TF.js Layers model: refusing custom and Lambda layers, and finding (and exactly
 * skipping) a final softmax so that attacks see logits.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '../tf.js';
import { InputError, UsageError } from '../errors.js';
import { isRecord, type Core, type LogitsMode } from './core.js';
import type { ErrorFactory } from './metadata.js';
import { optimizeLayersModel } from './optimize.js';

/**
 * Refuse layers TF.js does not ship before TF.js tries to build them: a Keras Lambda (or any custom
 * class) is Python code, which neither TF.js nor robust can or should run.
 */
export function checkLayerClasses(topology: unknown, where: string): void {
  const known = tf.serialization.SerializationMap.getMap().classNameMap;
  const visit = (layer: unknown): void => {
    if (!isRecord(layer)) return;
    const className = layer.class_name;
    if (typeof className === 'string' && !(className in known)) {
      throw new InputError(
        `${where} uses layer class "${className}", which TF.js does not provide; custom and Lambda layers are arbitrary code ` +
          'and robust cannot run arbitrary code: rebuild the model from built-in layers',
      );
    }
    const config = layer.config;
    // Sequential models were once saved with a bare array of layers as their config.
    const children = Array.isArray(config) ? config : isRecord(config) && Array.isArray(config.layers) ? config.layers : [];
    for (const child of children) visit(child);
    if (isRecord(config)) {
      visit(config.layer);
      visit(config.backward_layer);
    }
  };
  visit(isRecord(topology) && isRecord(topology.model_config) ? topology.model_config : topology);
}

function isSoftmaxLayer(layer: tfl.layers.Layer): boolean {
  const className = layer.getClassName();
  if (className === 'Softmax') return true;
  return layer.getConfig().activation === 'softmax';
}

/** A final Dense or Activation layer with a sigmoid: the output of a single-unit binary classifier. */
function isSigmoidLayer(layer: tfl.layers.Layer): boolean {
  return ['Dense', 'Activation'].includes(layer.getClassName()) && layer.getConfig().activation === 'sigmoid';
}

/** The layer's single input, or undefined when it was called more than once (shared layer). */
function singleInput(layer: tfl.layers.Layer): tfl.SymbolicTensor | undefined {
  try {
    const input = layer.input;
    return Array.isArray(input) ? undefined : input;
  } catch {
    return undefined;
  }
}

/** A forward pass that skips a final softmax or sigmoid exactly, or undefined when robust cannot do that. */
function withoutActivation(model: tfl.LayersModel, last: tfl.layers.Layer): ((x: tf.Tensor) => tf.Tensor) | undefined {
  const className = last.getClassName();
  const before = singleInput(last);
  const input = model.inputs[0];
  if (before === undefined || input === undefined) return undefined;
  // tfl.model over existing layers shares their variables, so training the original still shows here.
  const body = before === input ? undefined : tfl.model({ inputs: model.inputs, outputs: before });
  const features = (x: tf.Tensor): tf.Tensor => (body === undefined ? x : (body.apply(x, { training: false }) as tf.Tensor));
  if (className === 'Softmax' || className === 'Activation') {
    const axis = last.getConfig().axis;
    if (className === 'Softmax' && axis !== undefined && axis !== -1 && !(Array.isArray(axis) && axis.length === 1 && axis[0] === -1)) {
      return undefined;
    }
    return features;
  }
  if (className === 'Dense') {
    return (x) => {
      const h = features(x);
      if (h.rank !== 2) throw new UsageError('cannot strip the activation of a Dense layer applied to a rank > 2 input; use logits: as-is');
      const [kernel, bias] = last.getWeights();
      if (kernel === undefined) throw new UsageError('the final Dense layer has no kernel');
      const z = tf.matMul(h, kernel);
      return bias === undefined ? z : tf.add(z, bias);
    };
  }
  return undefined;
}

/**
 * Wrap a Layers model: `apply` with training off, skipping a final softmax when `mode` allows.
 * `ownsModel` decides whether `dispose` frees the weights; `fail` raises errors about the model.
 * `optimize` swaps in the attack-time pass of `optimize.ts` (folded BatchNormalization, input gradient
 * only) where it handles the model.
 */
export function layersCore(model: tfl.LayersModel, mode: LogitsMode, ownsModel: boolean, fail: ErrorFactory, optimize = false): Core {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw fail(`robust needs a model with one input and one output; this one has ${model.inputs.length} and ${model.outputs.length}`);
  }
  const output = model.outputs[0];
  const last = output?.sourceLayer;
  const probabilities = last !== undefined && isSoftmaxLayer(last);
  let forward = (x: tf.Tensor): tf.Tensor => model.apply(x, { training: false }) as tf.Tensor;
  let stripped = false;
  if (mode !== 'as-is' && probabilities && last !== undefined) {
    const logits = withoutActivation(model, last);
    if (logits !== undefined) {
      forward = logits;
      stripped = true;
    }
  }
  if (mode === 'strip-softmax' && !stripped) {
    throw new UsageError(
      probabilities
        ? `the model's final ${last?.getClassName() ?? ''} layer applies softmax in a way robust cannot strip exactly; use logits: auto or as-is`
        : "logits: strip-softmax was asked for, but the model's output layer has no softmax; use logits: auto",
    );
  }
  const sigmoidHead = last !== undefined && isSigmoidLayer(last);
  // With a sigmoid head, the pass computes the logit z before it, and forward is sigmoid(z).
  const fast = optimize ? optimizeLayersModel(model, sigmoidHead ? { stripSigmoid: true } : { stripSoftmax: stripped }) : undefined;
  const pre = fast !== undefined && sigmoidHead ? fast.forward : undefined;
  if (fast !== undefined) forward = pre !== undefined ? (x) => tf.sigmoid(pre(x)) : fast.forward;
  // Whether to use the pre-sigmoid pass is decided with the number of outputs known, in load.ts.
  const sigmoid = sigmoidHead ? { logits: pre ?? withoutActivation(model, last) } : undefined;
  return {
    format: 'layers-model',
    forward,
    optimized: fast !== undefined,
    ...(fast !== undefined ? { graph: fast.nodes, ...(sigmoidHead ? { graphBeforeSigmoid: true } : {}) } : {}),
    ...(sigmoid !== undefined ? { sigmoid } : {}),
    declaredInputShape: model.inputs[0]?.shape.slice(1),
    outputsProbabilities: probabilities && !stripped,
    softmaxStripped: stripped,
    metadata: model.getUserDefinedMetadata(),
    dispose: () => {
      fast?.dispose();
      if (ownsModel) model.dispose();
    },
    layersModel: model,
  };
}
