/**
 * Plumbing shared by the kernel fixes: installing a kernel, reading inputs and writing outputs on the
 * cpu and wasm backends, and calling the wasm backend's own kernels from inside ours.
 *
 * Kernels never call tf ops: an op inside a kernel would be recorded on the gradient tape and would
 * allocate engine-tracked tensors. They call other kernels' functions directly and free every
 * intermediate with `disposeData`.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { tf } from '../../tf.js';
import { InputError } from '../../errors.js';

/** The backends robust has kernel fixes for. */
export type FixedBackend = 'cpu' | 'wasm';

/** Float32 or int32 values of a kernel input. */
export type Values = Float32Array | Int32Array | Uint8Array;

/** The arguments TF.js passes to a kernel function. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

/**
 * Register `config`, replacing a kernel of the same name on the same backend. Unregistering first
 * avoids TF.js's "kernel already registered" warning on every start.
 */
export function installKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName) !== undefined) {
    tf.unregisterKernel(config.kernelName, config.backendName);
  }
  tf.registerKernel(config);
}

/** The tensor a kernel input map holds under `name`, or a clear error when the caller left it out. */
export function input(inputs: tf.NamedTensorInfoMap, name: string): tf.TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`kernel input "${name}" is missing`);
  return t;
}

function valuesOf(kind: FixedBackend, backend: unknown, t: tf.TensorInfo): Values {
  if (kind === 'wasm') return (backend as BackendWasm).typedArrayFromHeap(t) as Values;
  return (backend as MathBackendCPU).data.get(t.dataId).values as Values;
}

/**
 * Allocate a zero-filled float32 output of `shape` on `kind`'s backend and let `compute` fill it from
 * the inputs' values. On wasm the views are taken after the allocation: growing the heap detaches
 * every earlier view.
 */
export function jsOutput(
  kind: FixedBackend,
  backend: unknown,
  shape: number[],
  inputs: tf.TensorInfo[],
  compute: (out: Float32Array, ins: Values[]) => void,
): tf.TensorInfo {
  if (kind === 'wasm') {
    const wasm = backend as BackendWasm;
    const out = wasm.makeOutput(shape, 'float32');
    const view = wasm.typedArrayFromHeap(out) as Float32Array;
    view.fill(0);
    compute(view, inputs.map((t) => valuesOf(kind, backend, t)));
    return out;
  }
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  compute(values, inputs.map((t) => valuesOf(kind, backend, t)));
  return (backend as MathBackendCPU).makeTensorInfo(shape, 'float32', values);
}

/**
 * Like `jsOutput`, for an output of any numeric dtype (a bool output is a Uint8Array of 0 and 1).
 * The output starts zero-filled.
 */
export function typedOutput(
  kind: FixedBackend,
  backend: unknown,
  shape: number[],
  dtype: 'float32' | 'int32' | 'bool',
  inputs: tf.TensorInfo[],
  compute: (out: Values, ins: Values[]) => void,
): tf.TensorInfo {
  if (kind === 'wasm') {
    const wasm = backend as BackendWasm;
    const out = wasm.makeOutput(shape, dtype);
    const view = wasm.typedArrayFromHeap(out) as Values;
    view.fill(0);
    compute(view, inputs.map((t) => valuesOf(kind, backend, t)));
    return out;
  }
  const values = tf.util.getTypedArrayFromDType(dtype, shape.reduce((a, b) => a * b, 1)) as Values;
  compute(values, inputs.map((t) => valuesOf(kind, backend, t)));
  return (backend as MathBackendCPU).makeTensorInfo(shape, dtype, values);
}

/**
 * A kernel that runs `fix` where the shipped kernel is wrong and the shipped kernel everywhere else.
 * `original` must be the backend's own config, taken before it is replaced; its setup function still
 * has to run when the backend initialises.
 */
export function patchKernel(
  original: tf.KernelConfig,
  fix: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[] | undefined,
): tf.KernelConfig {
  const config: tf.KernelConfig = {
    kernelName: original.kernelName,
    backendName: original.backendName,
    kernelFunc: (args) => fix(args as KernelArgs) ?? original.kernelFunc(args),
  };
  if (original.setupFunc !== undefined) config.setupFunc = original.setupFunc;
  if (original.disposeFunc !== undefined) config.disposeFunc = original.disposeFunc;
  return config;
}

/** Call one of the wasm backend's registered kernels directly (never through a tf op). */
export function runWasmKernel(
  name: string,
  backend: BackendWasm,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel === undefined) throw new Error(`the wasm backend has no ${name} kernel`);
  const out = kernel.kernelFunc({ inputs, backend, attrs });
  return Array.isArray(out) ? (out[0] as tf.TensorInfo) : out;
}

/** Row-major strides of `shape`, with a trailing 1 (so strides[rank - 1] = 1 even for rank 0). */
export function stridesOf(shape: number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; --d) strides[d] = (strides[d + 1] as number) * (shape[d + 1] as number);
  return strides;
}

/** Free intermediates created inside a kernel. */
export function disposeAll(backend: BackendWasm, infos: (tf.TensorInfo | undefined)[]): void {
  for (const t of infos) if (t !== undefined) backend.disposeData(t.dataId);
}

/** NHWC is the only layout the fixed kernels handle; say so in one line instead of computing garbage. */
export function assertChannelsLast(kernelName: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new InputError(
      `${kernelName} with data format ${dataFormat} (channels-first) is not supported on this backend; ` +
        'convert the model to NHWC (channels-last) or use --backend cpu',
    );
  }
}

/** The shape of a 4-D tensor, checked. */
export function shape4(t: { shape: number[] }, what: string): [number, number, number, number] {
  const s = t.shape;
  if (s.length !== 4) throw new Error(`${what} must be rank 4, got shape [${s.join(', ')}]`);
  return [s[0] as number, s[1] as number, s[2] as number, s[3] as number];
}
