/**
 * Memory-bounded batches. A batch of an attack holds the model's activations for every example at once (and,
 * for a gradient, keeps them all alive until the backward pass), so on big inputs a fixed batch size can need
 * more memory than there is. On the wasm backend that is fatal: its heap is wasm32 (at most 4 GiB) and an
 * allocation failure aborts the whole module. Here:
 *  - `parseSize` reads budgets such as `512M`, `2G` or `1.5GiB`;
 *  - `estimateMemory` measures, on one and two examples, the tensor bytes a forward (+ input-gradient) pass of
 *    a model needs per example and per call;
 *  - `planBatchSize` picks the largest batch that fits a budget, and `defaultMemoryBudget` is the budget when
 *    none is given.
 * Budgets count tensor bytes as TF.js does (`tf.memory().numBytes`), weights and other tensors already
 * allocated included.
 */
import { existsSync, readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { tf } from '../tf.js';
import { InputError, UsageError } from '../errors.js';
import { activeBackendFacts } from '../backends/names.js';
import type { Model } from '../models/types.js';

const KIB = 1024;

/** Multipliers of the units `parseSize` accepts (case-insensitive). K, M, G, T and KiB… are binary; KB… are SI. */
const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: KIB, kib: KIB, kb: 1e3,
  m: KIB ** 2, mib: KIB ** 2, mb: 1e6,
  g: KIB ** 3, gib: KIB ** 3, gb: 1e9,
  t: KIB ** 4, tib: KIB ** 4, tb: 1e12,
};

/**
 * A size in bytes from text such as `512M`, `2G`, `1.5GiB`, `800MB` or `1073741824`. K, M, G and T (with or
 * without `iB`) are powers of 1024, as in `java -Xmx`; KB, MB, GB and TB are powers of 1000. Fractions of a
 * byte are dropped.
 * @throws UsageError, naming `flag`, for anything else or a size below one byte.
 * @example parseSize('1.5GiB') // 1610612736
 */
export function parseSize(text: string, flag = '--max-memory'): number {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$/i.exec(text);
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UsageError(`${flag}: expected a size such as 512M, 2G or 1.5GiB (K, M, G, T: powers of 1024; KB, MB, GB, TB: of 1000), got "${text}"`);
  }
  return bytes;
}

/** Bytes for people: `1.5 GiB`, `200 MiB`, `512 B` (and `no limit` for Infinity). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'no limit';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 || Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${Number(v.toFixed(digits))} ${units[u]}`;
}

/** What one pass of a model costs in tensor memory, beyond what is already allocated (the weights, say). */
export interface MemoryEstimate {
  /** Peak bytes that grow with each example of the batch: input, activations, and their gradients. */
  perExampleBytes: number;
  /** Peak bytes a call needs whatever its batch size (constants a `predict` makes per call, say); at least 0. */
  fixedBytes: number;
  /** Whether the measured pass was forward + input gradient (true) or forward only. */
  gradients: boolean;
}

/** Options of {@link estimateMemory}. */
export interface EstimateMemoryOptions {
  /** Measure forward + input gradient (an attack step) instead of forward only. Default: when `model.access` is 'gradients'. */
  gradients?: boolean;
}

/** One probe input per example: the middle of the model's bounds, feature by feature. */
function probeInput(model: Model, batch: number): tf.Tensor {
  const features = model.inputShape.reduce((a, b) => a * b, 1);
  const at = (side: number | number[], f: number) => (typeof side === 'number' ? side : (side[f] ?? 0));
  const row = Float32Array.from({ length: features }, (_, f) => (at(model.bounds.min, f) + at(model.bounds.max, f)) / 2);
  const data = new Float32Array(batch * features);
  for (let i = 0; i < batch; i++) data.set(row, i * features);
  return tf.tensor(data, [batch, ...model.inputShape]);
}

/**
 * The peak of the engine's tensor byte count (`tf.memory().numBytes`) above its starting value while `run`
 * runs, sampled after every kernel. Every tensor an op makes comes out of `engine.runKernel`, and a kernel's
 * inputs are still alive when its output arrives (a scope frees them only when it ends); while a gradient is
 * taken, every intermediate the tape saved stays alive until the backward pass has used it. So the largest
 * sample is the pass's peak in tensor memory. `run` is synchronous, so nothing else runs kernels meanwhile;
 * `tf.profile` would do the same sampling but cannot nest, and would break a caller's own profile.
 * (TF.js counts bytes per tensor, so a reshape that shares its input's buffer counts twice: an overestimate,
 * on the safe side. Scratch a kernel allocates and frees inside itself is not a tensor and is not seen:
 * {@link HEADROOM} is for that.)
 */
export function peakBytesDuring(run: () => void): number {
  const engine = tf.engine();
  const start = engine.state.numBytes;
  let peak = start;
  const own = Object.prototype.hasOwnProperty.call(engine, 'runKernel');
  const original = engine.runKernel;
  engine.runKernel = function <T extends tf.Tensor | tf.Tensor[]>(this: unknown, ...args: Parameters<typeof original>): T {
    const out = original.apply(engine, args) as T;
    peak = Math.max(peak, engine.state.numBytes);
    return out;
  };
  try {
    run();
  } finally {
    if (own) engine.runKernel = original;
    else delete (engine as { runKernel?: unknown }).runKernel;
  }
  return Math.max(peak, engine.state.numBytes) - start;
}

/**
 * Summed softmax cross-entropy, the loss an attack step differentiates. Which loss of the logits is used does not
 * matter for memory (every activation stays alive until the backward pass for any of them, and the loss's own
 * temporaries are [batch, classes]), so the probe writes the textbook one here instead of importing an attack's.
 */
function probeLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor {
  return tf.neg(tf.sum(tf.mul(tf.oneHot(labels, logits.shape[1]), tf.logSoftmax(logits))));
}

/** Peak tensor bytes of one pass over `batch` probe examples (see {@link peakBytesDuring}). */
function probePeak(model: Model, batch: number, gradients: boolean): number {
  const x = probeInput(model, batch);
  const labels = tf.zeros([batch], 'int32') as tf.Tensor1D;
  try {
    return peakBytesDuring(() => {
      if (gradients) tf.dispose(tf.grad((v: tf.Tensor) => probeLoss(model.predict(v) as tf.Tensor2D, labels))(x));
      else tf.dispose(tf.tidy(() => model.predict(x)));
    });
  } finally {
    tf.dispose([x, labels]);
  }
}

/**
 * Measure the tensor memory a pass of `model` needs, per example and per call, by running it on one and on two
 * examples (inputs at the middle of the bounds) and taking the difference of the two peaks: activations grow
 * linearly with the batch, so the difference is one example's share and the rest is fixed. The probe itself
 * therefore needs memory for two examples. With `gradients` the pass is the attack step: softmax cross-entropy
 * of `predict` differentiated with respect to the input, every activation alive until the backward pass. A
 * model that cannot be differentiated is measured forward only (`gradients: false` in the result).
 * Leaves no tensors behind.
 * @example
 *   const e = estimateMemory(model);
 *   const batch = planBatchSize({ requested: 100, ...e, maxBytes: defaultMemoryBudget() - tf.memory().numBytes });
 */
export function estimateMemory(model: Model, options: EstimateMemoryOptions = {}): MemoryEstimate {
  let gradients = options.gradients ?? model.access === 'gradients';
  let one: number;
  try {
    one = probePeak(model, 1, gradients);
  } catch (err) {
    // A model without gradients gets the attack's own error later; forward memory is still worth knowing.
    if (!gradients) throw err;
    gradients = false;
    one = probePeak(model, 1, false);
  }
  const two = probePeak(model, 2, gradients);
  // The probe input counts: its bytes are added here because it was made before the sampling began.
  const inputBytes = 4 * model.inputShape.reduce((a, b) => a * b, 1);
  // A native engine's buffers are invisible to TF.js's accounting; the model says what they cost.
  const perExampleBytes = Math.max(two - one, 0) + inputBytes + (model.engineBytesPerExample ?? 0);
  return { perExampleBytes, fixedBytes: Math.max(0, one - (perExampleBytes - inputBytes)), gradients };
}

/** Arguments of {@link planBatchSize}. */
export interface PlanBatchArgs {
  /** The batch size asked for (an upper bound; ≥ 1). */
  requested: number;
  perExampleBytes: number;
  fixedBytes: number;
  /** Bytes the batch may use (the budget less what is already in use). */
  maxBytes: number;
  /** What needs the memory, for the error message (e.g. "pgd on inputs of shape [224, 224, 3]"). */
  what?: string;
}

/**
 * The largest batch b ≤ `requested` with fixedBytes + b · perExampleBytes ≤ maxBytes.
 * @throws InputError when not even one example fits.
 * @example planBatchSize({ requested: 100, perExampleBytes: 10e6, fixedBytes: 1e6, maxBytes: 101e6 }) // 10
 */
export function planBatchSize({ requested, perExampleBytes, fixedBytes, maxBytes, what }: PlanBatchArgs): number {
  if (!Number.isInteger(requested) || requested < 1) throw new UsageError(`batch size must be an integer ≥ 1, got ${requested}`);
  const fits = perExampleBytes > 0 ? Math.floor((maxBytes - fixedBytes) / perExampleBytes) : requested;
  if (fits < 1) {
    throw new InputError(
      `${what ?? 'one example'} needs about ${formatBytes(fixedBytes + perExampleBytes)} of tensor memory for a batch of one, but the memory budget leaves ${formatBytes(Math.max(0, maxBytes))}; raise --max-memory, or use a smaller model or smaller inputs`,
    );
  }
  return Math.min(requested, fits);
}


/** Bytes the system can still give this process: Linux's MemAvailable (free + reclaimable cache) and any cgroup limit, else os.freemem(). */
export function availableMemory(): number {
  let available = freemem();
  try {
    const meminfo = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (meminfo) available = Number(meminfo[1]) * KIB;
  } catch {
    // not Linux: freemem() it is
  }
  try {
    const dir = '/sys/fs/cgroup';
    if (existsSync(`${dir}/memory.max`)) {
      const max = readFileSync(`${dir}/memory.max`, 'utf8').trim();
      const current = Number(readFileSync(`${dir}/memory.current`, 'utf8').trim());
      if (max !== 'max' && Number.isFinite(Number(max)) && Number.isFinite(current)) available = Math.min(available, Number(max) - current);
    }
  } catch {
    // no cgroup v2 limit readable
  }
  return Math.max(0, available);
}

/**
 * The budget (total tensor bytes, those in use included) when none is given: the active backend's own default
 * where it has one (wasm: 2 GiB, see `backendFacts`); otherwise what is in use now plus half of
 * {@link availableMemory} (for GPU backends this bounds host memory, not the GPU's).
 */
export function defaultMemoryBudget(): number {
  const own = activeBackendFacts()?.defaultBudgetBytes;
  if (own !== undefined && own !== null) return own;
  return tf.memory().numBytes + Math.floor(availableMemory() / 2);
}

/** A batch size chosen to fit a memory budget, as `runAttack` and `runSuite` report it. */
export interface BatchPlan {
  /** The batch size asked for (at most the number of examples). */
  requested: number;
  /** The batch size used. */
  batchSize: number;
  /** Estimated peak bytes per example and per call, extra copies and headroom included. */
  perExampleBytes: number;
  fixedBytes: number;
  /** The budget: total tensor bytes, those in use included. */
  maxBytes: number;
  /** Tensor bytes in use when the plan was made. */
  inUseBytes: number;
}

/**
 * Extra room on every estimate, for memory the probe cannot see: scratch buffers kernels allocate inside
 * themselves (XNNPACK's packed weights and im2col workspaces on wasm) and allocator fragmentation.
 */
export const HEADROOM = 1.25;

/** Arguments of {@link planBatch}. */
export interface PlanBatchOptions {
  /** The batch size asked for, at most the number of examples. */
  requested: number;
  /** Total tensor bytes allowed, those in use included; 'auto' for {@link defaultMemoryBudget}. */
  maxBytes: number | 'auto';
  /** Passes of the model run at once per example (DeepFool differentiates k − 1 copies of its batch). Default 1. */
  copies?: number;
  /** Input-sized tensors per example the caller keeps besides the model pass (iterates, momentum, results). Default 0. */
  stateCopies?: number;
  /** Bytes of one input (4 × features for float32). */
  inputBytes: number;
  /** Only batch sizes that are multiples of this (or the whole request) are chosen, when possible. Default 1. */
  multipleOf?: number;
  /** What needs the memory, for the error message. */
  what?: string;
}

/**
 * The batch size that fits a budget, from a {@link MemoryEstimate}: per example, `copies` model passes plus
 * `stateCopies` inputs, all times {@link HEADROOM}, against the budget less the tensor bytes in use now.
 * @throws InputError when not even one example fits.
 * @example
 *   const plan = planBatch(estimateMemory(model), { requested: 100, maxBytes: parseSize('1G'), inputBytes: 4 * 784, stateCopies: 32 });
 *   console.log(describePlan(plan));
 */
export function planBatch(estimate: MemoryEstimate, options: PlanBatchOptions): BatchPlan {
  const inUseBytes = tf.memory().numBytes;
  const maxBytes = options.maxBytes === 'auto' ? defaultMemoryBudget() : options.maxBytes;
  const perExampleBytes = Math.ceil(HEADROOM * (estimate.perExampleBytes * (options.copies ?? 1) + options.inputBytes * (options.stateCopies ?? 0)));
  const fixedBytes = Math.ceil(HEADROOM * estimate.fixedBytes);
  let batchSize = planBatchSize({
    requested: options.requested,
    perExampleBytes,
    fixedBytes,
    maxBytes: maxBytes - inUseBytes,
    ...(options.what !== undefined ? { what: options.what } : {}),
  });
  const step = options.multipleOf ?? 1;
  if (batchSize < options.requested && batchSize >= step) batchSize -= batchSize % step;
  return { requested: options.requested, batchSize, perExampleBytes, fixedBytes, maxBytes, inUseBytes };
}

/** One line about a plan: "batch size 12 (asked 100): about 85 MiB per example, budget 2 GiB with 30 MiB in use". */
export function describePlan(plan: BatchPlan): string {
  const asked = plan.batchSize < plan.requested ? ` (asked ${plan.requested})` : '';
  return `batch size ${plan.batchSize}${asked}: about ${formatBytes(plan.perExampleBytes)} per example, budget ${formatBytes(plan.maxBytes)} with ${formatBytes(plan.inUseBytes)} in use`;
}
