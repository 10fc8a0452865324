/**
 * `UnsortedSegmentSum` for wasm, which tfjs-backend-wasm 4.22 does not register. The gradient of
 * `tf.gather` is an unsorted segment sum, so without it no loss that gathers (per-class logits picked
 * by label, embeddings) could be differentiated on wasm.
 *
 * out[s, ...] = Σ over i with segmentIds[i] = s of x[i, ...]; ids outside [0, numSegments) are dropped,
 * as in TensorFlow.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../../tf.js';
import { type KernelArgs, input } from './util.js';

/** `UnsortedSegmentSum` for wasm (float32 and int32 data, segment ids of any rank). */
export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }: KernelArgs) => {
    const wasm = backend as BackendWasm;
    const x = input(inputs, 'x');
    const ids = input(inputs, 'segmentIds');
    const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
    const inner = x.shape.slice(ids.shape.length);
    const rowSize = inner.reduce((p, q) => p * q, 1);
    const rows = ids.shape.reduce((p, q) => p * q, 1);
    const out = wasm.makeOutput([numSegments, ...inner], x.dtype);
    const o = wasm.typedArrayFromHeap(out) as Float32Array | Int32Array;
    const xv = wasm.typedArrayFromHeap(x) as Float32Array | Int32Array;
    const idv = wasm.typedArrayFromHeap(ids);
    o.fill(0);
    for (let i = 0; i < rows; ++i) {
      const s = idv[i] as number;
      if (!(s >= 0 && s < numSegments)) continue;
      const from = i * rowSize;
      const to = s * rowSize;
      for (let k = 0; k < rowSize; ++k) o[to + k] = (o[to + k] as number) + (xv[from + k] as number);
    }
    return out;
  },
};
