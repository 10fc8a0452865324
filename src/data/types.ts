/**
 * A labelled dataset held as plain typed arrays (no tensors), so it can be sliced, hashed, sharded and
 * written without touching a backend. Tensors are made per batch by the code that runs the model.
 */
export interface Dataset {
  /** Features, float32, row-major [n, ...shape] (NHWC for images). */
  x: Float32Array;
  /** Integer class labels, length n. */
  y: Int32Array;
  /** Shape of one example, e.g. [28, 28, 1]. */
  shape: number[];
  /** Number of examples. */
  n: number;
  /** Where it came from, e.g. "mnist:test" or "x.npy+y.npy". */
  source: string;
  /** SHA-256 over the features and labels actually used (after any subset). */
  sha256: string;
  /** Number of classes when the source declares it (mnist: 10). */
  numClasses?: number;
  /**
   * Each example's slice (a group such as a site or a demographic), when the source has a group column (a CSV's
   * `groupColumn`, or a `group` column in an image folder's labels CSV). Not part of `sha256`.
   */
  groups?: string[];
}
