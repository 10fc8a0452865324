/**
 * Keras model configurations: the `model_config` attribute of an `.h5` file and `config.json` of a Keras 3
 * `.keras` zip. Loading a config imports the modules it names and, for Lambda layers, unmarshals Python
 * bytecode, so the walk flags Lambda layers, modules outside Keras and TensorFlow, and layer classes that
 * are not built in. The same layer walk serves TF.js layers models, whose topology is a Keras config.
 */
import type { ScanContext } from './context.js';

/** Built-in Keras (and TF.js layers) classes that need no custom code. */
export const KNOWN_LAYERS: ReadonlySet<string> = new Set([
  'InputLayer', 'Dense', 'Conv1D', 'Conv2D', 'Conv3D', 'Conv1DTranspose', 'Conv2DTranspose', 'Conv3DTranspose', 'SeparableConv1D',
  'SeparableConv2D', 'DepthwiseConv1D', 'DepthwiseConv2D', 'MaxPooling1D', 'MaxPooling2D', 'MaxPooling3D', 'AveragePooling1D',
  'AveragePooling2D', 'AveragePooling3D', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalAveragePooling3D',
  'GlobalMaxPooling1D', 'GlobalMaxPooling2D', 'GlobalMaxPooling3D', 'Flatten', 'Reshape', 'Permute', 'RepeatVector', 'Dropout',
  'SpatialDropout1D', 'SpatialDropout2D', 'SpatialDropout3D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'BatchNormalization',
  'LayerNormalization', 'GroupNormalization', 'UnitNormalization', 'Activation', 'ReLU', 'LeakyReLU', 'PReLU', 'ELU', 'ThresholdedReLU',
  'Softmax', 'Embedding', 'Masking', 'LSTM', 'GRU', 'SimpleRNN', 'LSTMCell', 'GRUCell', 'SimpleRNNCell', 'RNN', 'StackedRNNCells',
  'ConvLSTM2D', 'Bidirectional', 'TimeDistributed', 'Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Concatenate', 'Dot',
  'ZeroPadding1D', 'ZeroPadding2D', 'ZeroPadding3D', 'Cropping1D', 'Cropping2D', 'Cropping3D', 'UpSampling1D', 'UpSampling2D',
  'UpSampling3D', 'Rescaling', 'Normalization', 'Resizing', 'CenterCrop', 'RandomFlip', 'RandomRotation', 'RandomZoom',
  'RandomTranslation', 'RandomContrast', 'RandomCrop', 'MultiHeadAttention', 'Attention', 'AdditiveAttention', 'Identity',
  'Functional', 'Sequential', 'Model', 'Lambda',
]);

const TRUSTED_MODULE = /^(keras|tf_keras|tensorflow)(\.|$)/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function layerName(v: Record<string, unknown>): string | undefined {
  const config = v.config;
  if (isObject(config) && typeof config.name === 'string') return config.name;
  return typeof v.name === 'string' ? v.name : undefined;
}

/**
 * Walk a Keras config (any nesting) and report Lambda layers, untrusted modules and, when `unknownRule` is
 * given, layer classes outside {@link KNOWN_LAYERS}.
 */
export function scanKerasConfig(config: unknown, ctx: ScanContext, unknownRule: 'KER003' | 'TFJ003' = 'KER003'): void {
  const lambdas = new Set<string | undefined>();
  const visit = (v: unknown, inLayers: boolean, owner: string | undefined): void => {
    if (Array.isArray(v)) {
      for (const item of v) visit(item, inLayers, owner);
      return;
    }
    if (!isObject(v)) return;
    const name = layerName(v) ?? owner;
    const where = name !== undefined ? { layer: name } : {};
    const className = typeof v.class_name === 'string' ? v.class_name : undefined;
    if ((className === 'Lambda' || className === '__lambda__') && !lambdas.has(name)) {
      lambdas.add(name);
      ctx.add(unknownRule === 'TFJ003' ? 'TFJ003' : 'KER001', where, `Lambda layer${name ? ` ${name}` : ''} carries Python code that runs when the model is loaded`);
    } else if (inLayers && className !== 'Lambda' && className !== undefined && !KNOWN_LAYERS.has(className)) {
      ctx.add(unknownRule, where, `layer class ${className} is not a built-in layer; it needs custom code to load`);
    }
    if (typeof v.module === 'string' && !TRUSTED_MODULE.test(v.module)) {
      const what = typeof v.registered_name === 'string' ? v.registered_name : (className ?? '?');
      ctx.add('KER002', where, `config imports ${what} from module ${v.module}, outside keras and tensorflow`);
    }
    for (const [key, child] of Object.entries(v)) visit(child, key === 'layers', name);
  };
  visit(config, false, undefined);
}

/** Parse and scan a Keras config held as JSON text. */
export function scanKerasJson(text: string, ctx: ScanContext): void {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    ctx.add('KER004', {}, 'the Keras model configuration is not valid JSON');
    return;
  }
  scanKerasConfig(config, ctx);
}

/** Scan the `model_config` attribute of a Keras `.h5` file on disk (weights-only files have none). */
export async function scanKerasH5(path: string, ctx: ScanContext): Promise<void> {
  const h5wasm = (await import('h5wasm/node')).default;
  await h5wasm.ready;
  let file: InstanceType<typeof h5wasm.File> | undefined;
  try {
    file = new h5wasm.File(path, 'r');
    const attribute = file.attrs.model_config;
    if (attribute === undefined) return;
    const value: unknown = attribute.value;
    const text = typeof value === 'string' ? value : value instanceof Uint8Array ? new TextDecoder().decode(value) : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
    if (text === undefined) ctx.add('KER004', {}, 'the model_config attribute is not a string');
    else scanKerasJson(text, ctx);
  } catch (err) {
    ctx.add('KER004', {}, `the HDF5 file cannot be read: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    file?.close();
  }
}
