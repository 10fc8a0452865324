/**
 * Image layouts: robust's image sources (`mnist:`, `images:`) are NHWC, while PyTorch and ONNX models take
 * NCHW. {@link toModelLayout} transposes such a dataset to the model's layout; a `.npy` is always taken as
 * it is, in the model's own layout. Norms, eps and bounds are unaffected: a transpose only reorders features.
 */
import type { InputLayout } from '../models/types.js';
import { datasetHash, exampleSize } from './dataset.js';
import type { Dataset } from './types.js';

/**
 * The dataset in the layout the model takes: an NHWC image dataset (from `mnist:` or `images:`) meeting an
 * `nchw` model becomes [channels, height, width] per example (re-hashed, since its bytes changed); anything
 * else is returned unchanged.
 * @example const ds = toModelLayout(await loadDataset('mnist:test'), model); // [1, 28, 28] for a PyTorch export
 */
export function toModelLayout<T extends Dataset>(ds: T, model: { layout?: InputLayout }): T {
  if (model.layout !== 'nchw' || ds.layout !== 'nhwc' || ds.shape.length !== 3) return ds;
  const [h = 0, w = 0, c = 0] = ds.shape;
  const size = exampleSize(ds.shape);
  const x = new Float32Array(ds.x.length);
  for (let n = 0; n < ds.n; n++) {
    const base = n * size;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        for (let k = 0; k < c; k++) x[base + k * h * w + i * w + j] = ds.x[base + (i * w + j) * c + k]!;
      }
    }
  }
  const shape = [c, h, w];
  return { ...ds, x, shape, layout: 'nchw', sha256: datasetHash(x, ds.y, shape) };
}
