/**
 * Chained tensor methods (t.reshape(...), t.sum(...)) for TF.js in Node.
 *
 * tfjs-core's Node bundle does not install them (its `register_all_chained_ops` exists only as bundler ESM),
 * yet some of tfjs-core's own gradient functions call them (Prod's gradient calls `x.reshape`, GatherV2's
 * with batchDims calls `x.split`) and would throw. robust itself never uses them — the compiler refuses a
 * chained call in its sources — but installs them at run time so every TF.js gradient, and a researcher's
 * own chained code, works. Existing methods are left alone.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Methods that are `op(this, ...args)`. */
const SIMPLE = [
  'abs', 'acos', 'acosh', 'add', 'all', 'any', 'argMax', 'argMin', 'asin', 'asinh', 'atan', 'atan2', 'atanh',
  'avgPool', 'batchToSpaceND', 'batchNorm', 'broadcastTo', 'cast', 'ceil', 'clipByValue', 'conv1d', 'conv2d',
  'conv2dTranspose', 'cos', 'cosh', 'cumprod', 'cumsum', 'depthToSpace', 'depthwiseConv2d', 'dilation2d', 'div',
  'divNoNan', 'dot', 'elu', 'equal', 'erf', 'euclideanNorm', 'exp', 'expandDims', 'expm1', 'floor', 'floorDiv',
  'gather', 'greater', 'greaterEqual', 'isFinite', 'isInf', 'isNaN', 'leakyRelu', 'less', 'lessEqual',
  'localResponseNormalization', 'log', 'log1p', 'logSigmoid', 'logSoftmax', 'logSumExp', 'logicalAnd',
  'logicalNot', 'logicalOr', 'logicalXor', 'matMul', 'max', 'maxPool', 'maximum', 'mean', 'min', 'minimum',
  'mirrorPad', 'mod', 'mul', 'neg', 'norm', 'notEqual', 'oneHot', 'onesLike', 'pad', 'pool', 'pow', 'prelu', 'prod',
  'reciprocal', 'relu', 'relu6', 'reshape', 'resizeBilinear', 'resizeNearestNeighbor', 'reverse', 'round', 'rsqrt',
  'selu', 'separableConv2d', 'sigmoid', 'sign', 'sin', 'sinh', 'slice', 'softmax', 'softplus', 'spaceToBatchND',
  'split', 'sqrt', 'square', 'squaredDifference', 'squeeze', 'step', 'stridedSlice', 'sub', 'sum', 'tan', 'tanh',
  'tile', 'topk', 'transpose', 'unique', 'unsortedSegmentSum', 'unstack', 'zerosLike',
] as const;

type Method = (this: tf.Tensor, ...args: unknown[]) => unknown;

const list = (self: tf.Tensor, x: unknown): tf.Tensor[] => (x instanceof tf.Tensor ? [self, x] : [self, ...(x as tf.Tensor[])]);

/** Methods with their own shape. */
const SPECIAL: Record<string, Method> = {
  concat(x, axis) {
    return tf.concat(list(this, x), axis as number | undefined);
  },
  stack(x, axis) {
    return tf.stack(list(this, x), axis as number | undefined);
  },
  where(condition, x) {
    return tf.where(condition as tf.Tensor, this, x as tf.Tensor);
  },
  flatten() {
    return tf.reshape(this, [this.size]);
  },
  asType(dtype) {
    return tf.cast(this, dtype as tf.DataType);
  },
  toFloat() {
    return tf.cast(this, 'float32');
  },
  toInt() {
    return tf.cast(this, 'int32');
  },
  toBool() {
    return tf.cast(this, 'bool');
  },
  as1D() {
    return tf.reshape(this, [this.size]);
  },
  as2D(...shape) {
    return tf.reshape(this, shape as number[]);
  },
  as3D(...shape) {
    return tf.reshape(this, shape as number[]);
  },
  as4D(...shape) {
    return tf.reshape(this, shape as number[]);
  },
  as5D(...shape) {
    return tf.reshape(this, shape as number[]);
  },
  asScalar() {
    return tf.reshape(this, []);
  },
  reshapeAs(x) {
    return tf.reshape(this, (x as tf.Tensor).shape);
  },
};

/** Install the chained methods TF.js's Node bundle lacks onto the Tensor prototype (idempotent). */
export function installChainedOps(): void {
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const ops = tf as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of SIMPLE) {
    const op = ops[name];
    if (proto[name] === undefined && typeof op === 'function') {
      proto[name] = function (this: tf.Tensor, ...args: unknown[]) {
        this.throwIfDisposed();
        return op(this, ...args);
      };
    }
  }
  for (const [name, method] of Object.entries(SPECIAL)) {
    if (proto[name] === undefined) {
      proto[name] = function (this: tf.Tensor, ...args: unknown[]) {
        this.throwIfDisposed();
        return method.apply(this, args);
      };
    }
  }
}
