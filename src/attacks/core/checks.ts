import { InputError, UsageError } from '../../errors.js';
import type { Bounds, Model, ModelAccess } from '../../models/types.js';
import { rowRng, type Rng } from '../../tensor/random.js';
import { resolveTargets } from './criteria.js';
import type { NormName } from './norms.js';
import type { tf } from '../../tf.js';
import type { AttackInfo, CommonAttackOptions, Targeting } from './types.js';

/*
 * What the harness checks before an attack does any work (the input against the model, the options
 * against the attack's registry facts), and the per-example random streams and targets every attack
 * draws from. Apart from harness.ts so that the working-batch machinery reads on its own.
 */

/** The registry facts the harness checks options against. */
export type AttackMeta = Pick<AttackInfo, 'name' | 'kind' | 'norms' | 'needs' | 'targeted'>;

const ACCESS_LEVEL: Record<ModelAccess, number> = { decisions: 0, scores: 1, gradients: 2 };

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * The one place targets are drawn, so `attackManyEps` and a single call resolve the same targets from
 * the same seed.
 */
export async function resolveTargetLabels(
  cleanLogits: tf.Tensor2D,
  y: Int32Array,
  targeting: Targeting | undefined,
  seed: string | number,
  exampleIds?: ArrayLike<number>,
): Promise<Int32Array | null> {
  return resolveTargets(cleanLogits, y, targeting, exampleRng(seed, y.length, exampleIds).fork('targets'));
}

/** The per-example random streams of a batch of `n` (ids default to 0..n−1). */
export function exampleRng(seed: string | number, n: number, exampleIds?: ArrayLike<number>): Rng {
  if (exampleIds && exampleIds.length !== n) throw new InputError(`${exampleIds.length} exampleIds for ${n} examples; pass one per example`);
  return rowRng(seed, exampleIds ?? Array.from({ length: n }, (_, i) => i));
}

/** What `checkCall` resolved: the batch size and example shape, the norm, targeting, per-example eps and bounds. */
export interface CheckedCall {
  n: number;
  shape: number[];
  normName: NormName;
  targeting: Targeting;
  epsValues: Float32Array | null;
  bounds: Bounds;
}

/**
 * Refuse a call the attack cannot run, with a one-line typed error: inputs of the wrong shape, too few
 * labels, a model that gives less than the attack needs, a norm it lacks, targeting it lacks, a missing or
 * bad eps, a mask or per-feature bounds of the wrong size.
 */
export function checkCall(model: Model, x: tf.Tensor, y: Int32Array, options: CommonAttackOptions, meta: AttackMeta): CheckedCall {
    const n = x.shape[0] ?? 0;
    const shape = x.shape.slice(1);
    if (!sameShape(shape, model.inputShape)) {
      throw new InputError(`${meta.name}: inputs have shape [${shape.join(', ')}] but the model expects [${model.inputShape.join(', ')}]`);
    }
    if (y.length !== n) throw new InputError(`${meta.name}: ${n} inputs but ${y.length} labels`);
    if (ACCESS_LEVEL[model.access] < ACCESS_LEVEL[meta.needs]) {
      throw new UsageError(`${meta.name} needs ${meta.needs} but model ${model.name} gives only ${model.access}: choose a score-based attack such as square`);
    }
    const normName: NormName = options.norm ?? meta.norms[0] ?? 'linf';
    if (!meta.norms.includes(normName)) {
      throw new UsageError(`${meta.name} supports norm ${meta.norms.join('|')}, not ${normName}`);
    }
    const targeting: Targeting = options.targeting ?? { kind: 'untargeted' };
    if (targeting.kind !== 'untargeted' && !meta.targeted) {
      throw new UsageError(`${meta.name} has no targeted mode: leave targeting untargeted or choose another attack`);
    }
    let epsValues: Float32Array | null = null;
    if (meta.kind === 'fixed-eps') {
      if (options.eps === undefined) throw new UsageError(`${meta.name} needs an eps: pass options.eps, e.g. { eps: 0.3 }`);
      epsValues = typeof options.eps === 'number' ? new Float32Array(n).fill(options.eps) : options.eps;
      if (epsValues.length !== n) throw new InputError(`${meta.name}: ${epsValues.length} eps values for ${n} inputs`);
      for (const e of epsValues) {
        if (!Number.isFinite(e) || e < 0) throw new UsageError(`${meta.name}: eps must be a non-negative number, got ${e}`);
      }
    }
    const features = shape.reduce((a, b) => a * b, 1);
    if (options.mask && options.mask.length !== features) {
      throw new InputError(`${meta.name}: mask has ${options.mask.length} values but an example has ${features} features`);
    }
    const bounds = options.bounds ?? model.bounds;
    for (const side of [bounds.min, bounds.max]) {
      if (typeof side !== 'number' && side.length !== features) {
        throw new InputError(`${meta.name}: per-feature bounds have ${side.length} values but an example has ${features} features`);
      }
    }

  return { n, shape, normName, targeting, epsValues, bounds };
}
