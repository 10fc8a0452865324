/**
 * A classifier behind a chain of input transforms, with the two views an honest evaluation needs: the
 * adaptive one attacks should differentiate (each defence's gradient policy applied), and the naive one
 * (automatic differentiation of the raw transforms), whose higher robust accuracy is the number a
 * non-adaptive evaluation would have reported.
 */
import { tf } from '../tf.js';
import { UsageError } from '../errors.js';
import { boundTensors } from '../tensor/bounds.js';
import { makeRng, rowRng, type Rng } from '../tensor/random.js';
import type { Model } from '../models/types.js';
import { bpda, rowKeys } from './gradients.js';
import { checkOptions } from '../options/schema.js';
import type { Defense, DefenseContext, GradientPolicy } from './types.js';

/** Options of {@link compose}. */
export interface DefendOptions {
  /** N, the draws the adaptive view averages when a defence is random (EOT). Default 8. */
  eotSamples?: number;
  /** Seed of every random draw: the deployed stream and the EOT draws. Default 0. */
  seed?: string | number;
  /** Label for reports. Default: the model's name and the defences', joined by " + ". */
  name?: string;
}

/**
 * A defended model. As a {@link Model} it is the defence as deployed: `predict` applies every transform
 * once, random ones with a fresh draw per call (from a stream seeded by `seed`), and its gradient is that
 * of the raw transforms. Attacks should use `adaptive`.
 */
export interface DefendedModel extends Model {
  readonly base: Model;
  readonly defenses: readonly Defense[];
  /** The chain's policy: `eot` if any defence is random, else `bpda` if any is, else `exact`. */
  readonly policy: GradientPolicy;
  readonly eotSamples: number;
  /**
   * What attacks should differentiate. `bpda` defences run forward as deployed and backward as their
   * approximation (the identity by default); when the chain is random, `predict` is the mean logits over
   * `eotSamples` draws, so its gradient is the EOT average. The draws of a row are keyed by the row's
   * values and the seed: the view is a deterministic function, the same in any batch, and each new
   * iterate of an attack gets fresh draws. Its verdicts are those of the N-draw average classifier.
   */
  readonly adaptive: Model;
  /** The deployed model under another name: what a non-adaptive evaluation attacks. */
  readonly naive: Model;
}

/** The chain's gradient policy (see {@link DefendedModel.policy}). */
export function chainPolicy(defenses: readonly Defense[]): GradientPolicy {
  if (defenses.some((d) => d.policy === 'eot')) return 'eot';
  return defenses.some((d) => d.policy === 'bpda') ? 'bpda' : 'exact';
}

/**
 * Put `defenses` in front of `model`, applied in order (`compose(m, [median(), bitDepth()])` filters, then
 * squeezes). The result takes ownership of `model`: disposing it, or either view, disposes the model.
 * @throws UsageError when a defence does not fit the model's input (e.g. JPEG on a vector).
 * @example
 *   const defended = compose(model, [median({ size: 3 }), bitDepth({ bits: 4 })]);
 *   const adaptive = await runAttack(defended.adaptive, data, { name: 'pgd', eps: [0.1] });
 *   const naive = await runAttack(defended.naive, data, { name: 'pgd', eps: [0.1] }); // fooled: higher
 */
const COMPOSE_OPTIONS = { eotSamples: { type: 'integer', min: 1, max: 4096, default: 8, doc: 'draws an EOT gradient averages' } } as const;

export function compose(model: Model, defenses: readonly Defense[], options: DefendOptions = {}): DefendedModel {
  checkOptions(COMPOSE_OPTIONS, { eotSamples: options.eotSamples }, { owner: 'compose' });
  const eotSamples = options.eotSamples ?? 8;
  const seed = String(options.seed ?? 0);
  const shape = model.inputShape;
  const bounds = boundTensors(model.bounds, shape);
  const context: DefenseContext = { inputShape: shape, bounds: model.bounds, lo: bounds.lo, hi: bounds.hi };
  try {
    for (const d of defenses) d.check(context);
  } catch (err) {
    tf.dispose([bounds.lo, bounds.hi]);
    throw err;
  }
  const policy = chainPolicy(defenses);
  const name = options.name ?? [model.name, ...defenses.map((d) => d.name)].join(' + ');
  const deployedStream = makeRng(`${seed}/deployed`);

  const checkShape = (x: tf.Tensor): void => {
    if (x.rank !== shape.length + 1 || x.shape.slice(1).some((d, i) => d !== shape[i])) {
      throw new UsageError(`model ${name} takes inputs [batch, ${shape.join(', ')}], got [${x.shape.join(', ')}]`);
    }
  };
  const chain = (x: tf.Tensor, adaptive: boolean, rng: Rng): tf.Tensor => {
    let t = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    defenses.forEach((d, i) => {
      // Only random defences draw; forking a per-row stream costs a generator per row.
      const draws = d.policy === 'eot' ? rng.fork(`d${i}`) : rng;
      const raw = (v: tf.Tensor) => d.apply(v, context, draws);
      if (adaptive && d.policy === 'bpda') {
        const approximation = d.approximation?.bind(d);
        t = bpda(raw, approximation ? (v) => approximation(v, context) : undefined)(t);
      } else {
        t = raw(t);
      }
    });
    return t;
  };

  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    tf.dispose([bounds.lo, bounds.hi]);
    model.dispose();
  };
  // The base model's native memory per example (its engine's buffers, which TF.js's accounting cannot see),
  // times the rows one example becomes: the EOT view runs `eotSamples` draws of every example at once.
  const engineBytes = (rows: number): Partial<Model> =>
    model.engineBytesPerExample !== undefined ? { engineBytesPerExample: model.engineBytesPerExample * rows } : {};
  const view = (label: string, predict: (x: tf.Tensor) => tf.Tensor2D, rows = 1): Model => ({
    name: label,
    inputShape: shape,
    numClasses: model.numClasses,
    bounds: model.bounds,
    sha256: model.sha256,
    access: model.access,
    ...engineBytes(rows),
    predict,
    dispose,
  });

  const deployed = (x: tf.Tensor): tf.Tensor2D => {
    checkShape(x);
    return tf.tidy(() => model.predict(chain(x, false, deployedStream)));
  };
  const adaptive = (x: tf.Tensor): tf.Tensor2D => {
    checkShape(x);
    if (policy !== 'eot') return tf.tidy(() => model.predict(chain(x, true, deployedStream)));
    const b = x.shape[0] ?? 0;
    const keys = rowKeys(x);
    // Row s·b + r is draw s of example r; its stream is keyed by the example's values and s.
    const ids = Array.from({ length: eotSamples * b }, (_, i) => (keys[i % b] as number) * eotSamples + Math.floor(i / b));
    return tf.tidy(() => {
      const tiled = tf.tile(x, [eotSamples, ...shape.map(() => 1)]);
      const logits = model.predict(chain(tiled, true, rowRng(`${seed}/eot`, ids)));
      return tf.mean(tf.reshape(logits, [eotSamples, b, model.numClasses]), 0) as tf.Tensor2D;
    });
  };

  const tag = policy === 'eot' ? `eot×${eotSamples}` : policy;
  return {
    ...view(name, deployed),
    base: model,
    defenses: [...defenses],
    policy,
    eotSamples,
    adaptive: view(`${name} [adaptive: ${tag}]`, adaptive, policy === 'eot' ? eotSamples : 1),
    naive: view(`${name} [naive]`, deployed),
  };
}
