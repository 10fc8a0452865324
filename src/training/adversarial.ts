/**
 * `trainAdversarially`: natural training, PGD adversarial training, TRADES or fast training of a classifier on
 * a dataset, with learning-rate schedules, a held-out evaluation every epoch and checkpoints to resume from.
 * The step functions in `src/defenses/` do the work; this loop adds batching, seeding and bookkeeping.
 */
import { createHash } from 'node:crypto';
import { tf } from '../tf.js';
import { UsageError } from '../errors.js';
import type { Dataset } from '../data/types.js';
import { DEFAULT_BOUNDS } from '../models/metadata.js';
import { loadModel } from '../models/load.js';
import type { Bounds } from '../models/types.js';
import { makeRng } from '../tensor/random.js';
import { pgd } from '../attacks/pgd.js';
import { accuracy, predictLabels } from '../metrics/accuracy.js';
import { asClassifier, naturalTrainingStep, type Classifier, type ClassifierSource, type TrainingStepResult } from './trainingStep.js';
import { defaultPgdStepSize, pgdTrainingStep } from './pgdTraining.js';
import { tradesStep } from './trades.js';
import { fastTrainingStep } from './fastTraining.js';
import { batchOf, permutation } from './train.js';
import { learningRateAt, type LearningRateSchedule } from './schedule.js';
import { fingerprintDifference, readCheckpoint, writeCheckpoint, type SavedTensor } from './checkpoint.js';

/** The training methods. */
export const TRAINING_METHODS = ['natural', 'pgd', 'trades', 'fast'] as const;
export type TrainingMethod = (typeof TRAINING_METHODS)[number];

/** Options of {@link trainAdversarially}. */
export interface AdversarialTrainingOptions {
  /** natural | pgd (Madry et al. 2018) | trades (Zhang et al. 2019) | fast (Wong et al. 2020). */
  method: TrainingMethod;
  epochs: number;
  batchSize: number;
  /** Linf radius. Required for pgd, trades and fast; for natural it only sets the held-out attack's eps. */
  eps?: number;
  /**
   * Epochs over which the training eps rises linearly (per batch) from 0 to `eps`, and the inner step size
   * with it; the usual cure for adversarial training from scratch or from a natural model sticking at chance
   * when the full eps hits at once. The held-out attack always uses the full eps. Default 0 (no ramp).
   */
  epsRamp?: number;
  /** Inner PGD steps for pgd and trades. Default 10. */
  steps?: number;
  /** Inner step size. Default eps/4 for pgd and trades (the `pgd` attack's rule), 1.25·eps for fast. */
  stepSize?: number;
  /** TRADES' β. Default 6. */
  beta?: number;
  /** Base (peak) learning rate of Adam. Default 1e-3. */
  learningRate?: number;
  /** Default constant. Rates are set per step, so `cosine` and `cyclic` change within an epoch. */
  schedule?: LearningRateSchedule;
  /**
   * `epoch` starts Adam afresh every epoch (how robust's reference model `models/mnist-cnn` was trained, kept so
   * `npm run train:reference` reproduces it bit for bit); `never` (default) keeps its moments across epochs.
   */
  resetOptimizer?: 'never' | 'epoch';
  /** Seed of the shuffles, augmentation and random starts. Epoch e draws only from streams keyed by (seed, e). Default 0. */
  seed?: string | number;
  /** Input bounds. Default: the classifier's, else {min: 0, max: 1}. */
  bounds?: Bounds;
  /** Random whole-pixel shifts of image inputs, as `trainClassifier`'s `augment`. */
  augment?: { maxShift: number };
  /** Held-out data evaluated after each epoch: clean accuracy, and robust accuracy under PGD at `eps`. */
  holdout?: Dataset;
  /** Steps of the held-out PGD (step size eps/4, one random start, seeded). Default 20. */
  evalSteps?: number;
  /**
   * Checkpoint folder, written atomically after every epoch. With `resume`, training continues after the last
   * complete checkpoint there (or starts when there is none); it refuses when the options differ.
   */
  checkpoint?: { dir: string; resume?: boolean };
  /** Called once before the first epoch it runs, with the epoch it starts from (> 0 after a resume). */
  onStart?: (info: { startEpoch: number; epochs: number; batches: number }) => void;
  /** Called after each batch. `loss` and `accuracy` are running means over the epoch. */
  onBatch?: (info: { epoch: number; batch: number; batches: number; loss: number; accuracy: number; learningRate: number }) => void;
  /** Called after each epoch, once its checkpoint is written. */
  onEpoch?: (record: EpochRecord) => void;
  /** Called after an epoch's batches, before its held-out evaluation (e.g. to say it is evaluating). */
  onEvaluate?: (epoch: number) => void;
}

/** One epoch of training history. */
export interface EpochRecord {
  /** 1-based: epochs completed after this one. */
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Mean batch accuracy on the examples trained on (adversarial ones for pgd and fast, x' for trades). */
  trainAccuracy: number;
  /** Learning rate of the epoch's last step. */
  learningRate: number;
  /** Held-out clean accuracy, or null without a holdout. */
  cleanAccuracy: number | null;
  /** Held-out accuracy under PGD at eps, or null without a holdout or eps. */
  adversarialAccuracy: number | null;
  /** Wall-clock seconds of the epoch (training and evaluation). */
  seconds: number;
}

/** What {@link trainAdversarially} returns. */
export interface AdversarialTrainingResult {
  /** Every epoch, those before a resume included. */
  history: EpochRecord[];
  /** Epochs taken from a checkpoint (0 when training started from scratch). */
  resumedFrom: number;
  /** The settings with defaults filled in; also the checkpoint fingerprint. */
  settings: Record<string, unknown>;
}

type Step = (c: Classifier, opt: tf.Optimizer, x: tf.Tensor, y: tf.Tensor, seed: string, ids: Int32Array) => Promise<TrainingStepResult>;

/** Adam whose rate a schedule sets before each step. Same arithmetic as `tf.train.adam`. */
class ScheduledAdam extends tf.AdamOptimizer {
  setLearningRate(rate: number): void {
    this.learningRate = rate;
  }
}

async function snapshot(named: Array<{ name: string; tensor: tf.Tensor }>): Promise<SavedTensor[]> {
  const out: SavedTensor[] = [];
  for (const { name, tensor } of named) {
    const dtype = tensor.dtype === 'int32' ? 'int32' : 'float32';
    const values = await tensor.data();
    out.push({ name, shape: tensor.shape, dtype, data: dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values) });
  }
  return out;
}

function tensorOf(t: SavedTensor): tf.Tensor {
  return tf.tensor(t.data, t.shape, t.dtype);
}

async function restoreOptimizer(optimizer: tf.Optimizer, state: SavedTensor[]): Promise<void> {
  const named = state.map((t) => ({ name: t.name, tensor: tensorOf(t) }));
  await optimizer.setWeights(named);
  // setWeights makes its own variables from these; ours can go.
  tf.dispose(named.map((n) => n.tensor));
}

function restoreModel(state: tf.Variable[], saved: SavedTensor[], dir: string): void {
  const same = saved.length === state.length && saved.every((s, i) => s.shape.join() === state[i]!.shape.join());
  if (!same) throw new UsageError(`the checkpoint in ${dir} holds weights of another architecture; use the same model, or remove ${dir} to start over`);
  state.forEach((v, i) => tf.tidy(() => v.assign(tensorOf(saved[i]!))));
}

function checkOptions(o: AdversarialTrainingOptions, ds: Dataset): void {
  const positiveInt = (name: string, v: number): void => {
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`${name} must be an integer ≥ 1, got ${v}`);
  };
  if (!(TRAINING_METHODS as readonly string[]).includes(o.method)) throw new UsageError(`method must be one of ${TRAINING_METHODS.join(', ')}, got "${o.method}"`);
  positiveInt('epochs', o.epochs);
  positiveInt('batchSize', o.batchSize);
  if (o.evalSteps !== undefined) positiveInt('evalSteps', o.evalSteps);
  if (o.method !== 'natural' && o.eps === undefined) throw new UsageError(`method ${o.method} needs eps, the Linf radius to train against (e.g. 0.3 for MNIST)`);
  if (o.eps !== undefined && (!Number.isFinite(o.eps) || o.eps < 0)) throw new UsageError(`eps must be a number ≥ 0, got ${o.eps}`);
  if (o.learningRate !== undefined && !(o.learningRate > 0 && Number.isFinite(o.learningRate))) throw new UsageError(`learningRate must be > 0, got ${o.learningRate}`);
  if (ds.n < 1) throw new UsageError('the training set is empty');
  if (o.holdout !== undefined && o.holdout.shape.join() !== ds.shape.join()) {
    throw new UsageError(`the held-out examples have shape [${o.holdout.shape.join(', ')}] but the training examples [${ds.shape.join(', ')}]`);
  }
}

/** SHA-256 of a dataset's bytes, unless it carries one. */
function dataHash(ds: Dataset): string {
  if (ds.sha256 !== '') return ds.sha256;
  return createHash('sha256').update(new Uint8Array(ds.x.buffer, ds.x.byteOffset, ds.x.byteLength)).update(new Uint8Array(ds.y.buffer, ds.y.byteOffset, ds.y.byteLength)).digest('hex');
}

async function stateHash(state: tf.Variable[]): Promise<string> {
  const h = createHash('sha256');
  for (const v of state) {
    const values = await v.data();
    h.update(`${v.shape.join('x')};`).update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  return h.digest('hex');
}

/** Clean and PGD accuracy of the classifier on the held-out data, in inference mode, 256 at a time. */
async function evaluate(c: Classifier, ds: Dataset, numClasses: number, bounds: Bounds, eps: number | undefined, steps: number, seed: string): Promise<[number, number | null]> {
  const model = await loadModel((x) => c.logits(x, false), { inputShape: ds.shape, numClasses, bounds, name: 'training' });
  const clean = accuracy(await predictLabels(model, ds), ds.y);
  if (eps === undefined || eps === 0) return [clean, null];
  let robust = 0;
  const size = ds.shape.reduce((a, b) => a * b, 1);
  for (let start = 0; start < ds.n; start += 256) {
    const count = Math.min(256, ds.n - start);
    const x = tf.tensor(ds.x.subarray(start * size, (start + count) * size), [count, ...ds.shape]);
    const ids = Int32Array.from({ length: count }, (_, i) => start + i);
    const r = await pgd(model, x, ds.y.subarray(start, start + count), { eps, steps, seed, exampleIds: ids });
    robust += r.isAdversarial.reduce((n, a) => n + (a ? 0 : 1), 0);
    tf.dispose([x, r.xAdv]);
  }
  return [clean, robust / ds.n];
}

/**
 * Train a classifier (a Layers model that outputs logits, or a {@link Classifier}) with Adam:
 * `natural` (cross-entropy on clean batches), `pgd` (Madry et al. 2018), `trades` (Zhang et al. 2019) or `fast`
 * (FGSM with random init, Wong et al. 2020), calling the step functions of `src/defenses/`.
 *
 * - Reproducible: epoch e shuffles with `makeRng(\`${seed}/epoch${e}\`)` (the shifts draw from the same stream)
 *   and each example's random start is keyed by (seed, e, its index), so the same seed on the same backend
 *   gives the same weights, and a resumed run the same weights as an uninterrupted one. Layers with their own
 *   randomness (Dropout) draw from TF.js's generator, which robust does not seed.
 * - Adam's state is carried across epochs by value: each epoch starts a fresh optimizer from the previous
 *   epoch's saved state, the path a resume takes too.
 * - After each epoch: held-out clean accuracy and PGD accuracy at eps (`evalSteps` steps of eps/4, the
 *   library's `pgd`), then an atomic checkpoint when `checkpoint` is set.
 *
 * Defaults: learningRate 1e-3, schedule constant, seed 0, steps 10, stepSize eps/4 (fast: 1.25·eps),
 * beta 6, evalSteps 20, resetOptimizer never.
 * @throws UsageError for bad options, or when resuming a checkpoint made with other settings.
 * @example
 * const model = buildReferenceCnn(0);
 * const { history } = await trainAdversarially(model, train, {
 *   method: 'pgd', eps: 0.3, steps: 10, epochs: 10, batchSize: 64, holdout, checkpoint: { dir: 'ckpt', resume: true },
 * });
 */
export async function trainAdversarially(model: ClassifierSource, ds: Dataset, options: AdversarialTrainingOptions): Promise<AdversarialTrainingResult> {
  checkOptions(options, ds);
  const classifier = asClassifier(model);
  const state = classifier.state ?? classifier.variables;
  const numClasses = tf.tidy(() => classifier.logits(tf.zeros([1, ...ds.shape]), false).shape[1] ?? 0);
  const bounds = options.bounds ?? classifier.bounds ?? DEFAULT_BOUNDS;
  const method = options.method;
  const seed = String(options.seed ?? 0);
  const eps = options.eps;
  const steps = method === 'fast' ? 1 : (options.steps ?? 10);
  const stepSize = method === 'natural' || eps === undefined ? null : (options.stepSize ?? (method === 'fast' ? 1.25 * eps : defaultPgdStepSize(eps)));
  const beta = options.beta ?? 6;
  const learningRate = options.learningRate ?? 1e-3;
  const schedule: LearningRateSchedule = options.schedule ?? { kind: 'constant' };
  const evalSteps = options.evalSteps ?? 20;
  const settings: Record<string, unknown> = {
    method,
    eps: eps ?? null,
    epsRamp: options.epsRamp ?? 0,
    steps: method === 'natural' ? null : steps,
    stepSize,
    beta: method === 'trades' ? beta : null,
    epochs: options.epochs,
    batchSize: options.batchSize,
    learningRate,
    schedule,
    resetOptimizer: options.resetOptimizer ?? 'never',
    seed,
    bounds,
    augment: options.augment ?? null,
    evalSteps,
    data: { n: ds.n, sha256: dataHash(ds) },
    holdout: options.holdout ? { n: options.holdout.n, sha256: dataHash(options.holdout) } : null,
    initialWeights: await stateHash(state),
  };
  const ramp = options.epsRamp ?? 0;
  if (!Number.isFinite(ramp) || ramp < 0) throw new UsageError(`epsRamp must be a number of epochs ≥ 0, got ${ramp}`);
  let fraction = 1;
  const stepOptions = (): { eps: number; steps: number; stepSize?: number; beta: number; bounds: Bounds } => ({
    eps: (eps ?? 0) * fraction,
    steps,
    ...(stepSize !== null ? { stepSize: stepSize * fraction } : {}),
    beta,
    bounds,
  });
  const stepOf: Record<TrainingMethod, Step> = {
    natural: (c, opt, x, y) => naturalTrainingStep(c, opt, x, y),
    pgd: (c, opt, x, y, s, ids) => pgdTrainingStep(c, opt, x, y, { ...stepOptions(), seed: s, ids }),
    trades: (c, opt, x, y, s, ids) => tradesStep(c, opt, x, y, { ...stepOptions(), seed: s, ids }),
    fast: (c, opt, x, y, s, ids) => fastTrainingStep(c, opt, x, y, { ...stepOptions(), seed: s, ids }),
  };
  const step = stepOf[method];

  let history: EpochRecord[] = [];
  let optimizerState: SavedTensor[] | null = null;
  let startEpoch = 0;
  const dir = options.checkpoint?.dir;
  if (dir !== undefined && options.checkpoint?.resume) {
    const saved = await readCheckpoint<EpochRecord>(dir);
    if (saved !== null) {
      const diff = fingerprintDifference(saved.fingerprint, settings);
      if (diff !== null) throw new UsageError(`cannot resume from ${dir}: it was made with other settings (${diff}); use the same settings, or remove ${dir} to start over`);
      restoreModel(state, saved.model, dir);
      optimizerState = saved.optimizer;
      history = saved.history;
      startEpoch = saved.epoch;
    }
  }

  const batches = Math.ceil(ds.n / options.batchSize);
  options.onStart?.({ startEpoch, epochs: options.epochs, batches });
  for (let epoch = startEpoch; epoch < options.epochs; epoch++) {
    const started = Date.now();
    const optimizer = new ScheduledAdam(learningRate, 0.9, 0.999);
    if (optimizerState !== null && settings.resetOptimizer === 'never') await restoreOptimizer(optimizer, optimizerState);
    const rng = makeRng(`${seed}/epoch${epoch}`);
    const order = permutation(ds.n, rng);
    let loss = 0;
    let correct = 0;
    let rate = learningRate;
    for (let b = 0; b < batches; b++) {
      const idx = order.subarray(b * options.batchSize, Math.min(ds.n, (b + 1) * options.batchSize));
      const { x, y } = batchOf(ds, idx, numClasses, options.augment ? { maxShift: options.augment.maxShift, rng } : undefined);
      rate = learningRateAt(schedule, learningRate, { epoch, batch: b, batches, epochs: options.epochs });
      optimizer.setLearningRate(rate);
      fraction = ramp > 0 ? Math.min(1, (epoch * batches + b + 1) / (ramp * batches)) : 1;
      try {
        const r = await step(classifier, optimizer, x, y, `${seed}/epoch${epoch}/${method}`, idx);
        loss += r.loss;
        correct += r.accuracy;
      } finally {
        tf.dispose([x, y]);
      }
      options.onBatch?.({ epoch, batch: b + 1, batches, loss: loss / (b + 1), accuracy: correct / (b + 1), learningRate: rate });
    }
    const weights = await optimizer.getWeights();
    optimizerState = await snapshot(weights);
    // The iteration count comes as a new scalar; the moments are the optimizer's own variables.
    tf.dispose(weights.filter((w) => w.name === 'iter').map((w) => w.tensor));
    optimizer.dispose();
    options.onEvaluate?.(epoch);
    const [cleanAccuracy, adversarialAccuracy] = options.holdout
      ? await evaluate(classifier, options.holdout, numClasses, bounds, eps, evalSteps, `${seed}/holdout`)
      : [null, null];
    const record: EpochRecord = {
      epoch: epoch + 1,
      loss: loss / batches,
      trainAccuracy: correct / batches,
      learningRate: rate,
      cleanAccuracy,
      adversarialAccuracy,
      seconds: (Date.now() - started) / 1000,
    };
    history.push(record);
    if (dir !== undefined) {
      const named = state.map((v, i) => ({ name: `${i}:${v.name}`, tensor: v as tf.Tensor }));
      await writeCheckpoint(dir, { epoch: epoch + 1, fingerprint: settings, history, model: await snapshot(named), optimizer: optimizerState });
    }
    options.onEpoch?.(record);
  }
  return { history, resumedFrom: startEpoch, settings };
}
