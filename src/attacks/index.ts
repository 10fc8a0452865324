/**
 * robust's attacks: pure functions of (model, x, y, options) returning typed results, the registry
 * that lists them, and the dataset-level runner. Re-exports only.
 */
export { fgsm, fgsmInfo, type FgsmOptions } from './fgsm.js';
export { pgd, pgdAscent, pgdInfo, pgdStep, PGD_STEP_FRACTION, type PgdOptions } from './pgd.js';
export { mifgsm, mifgsmInfo, type MifgsmOptions } from './mifgsm.js';
export { cw, cwInfo, type CwOptions } from './cw.js';
export { deepfool, deepfoolInfo, type DeepFoolOptions } from './deepfool.js';
export { ddn, ddnInfo, type DdnOptions } from './ddn.js';
export { fmn, fmnInfo, type FmnOptions } from './fmn.js';
export { fab, fabT, fabInfo, fabTInfo, type FabOptions, type FabTOptions } from './fab.js';
export { projectOnHyperplane } from './core/hyperplane.js';
export { apgd, apgdT, apgdCeInfo, apgdDlrInfo, apgdTInfo, type ApgdOptions, type ApgdTOptions } from './apgd.js';
export { square, squareInfo, type SquareOptions } from './square.js';
export { autoattack, autoattackInfo, type AutoAttackOptions, type AutoAttackResult } from './autoattack.js';
export { ATTACKS, attackNames, getAttack } from './registry.js';
export {
  runAttack,
  summarizePerturbation,
  type AttackOptions,
  type AttackReport,
  type AttackSpec,
  type EpsReport,
  type RunAttackOptions,
  type PerturbationSummary,
} from './run.js';
export { attackManyEps, type AnyAttackOptions, type EpsResult, type ManyEpsResult } from './core/epsilons.js';
export { AttackRun, harness, projectToBall, type AttackMeta, type Ball, type GradientResult, type Objective } from './core/harness.js';
export { NORMS, NORM_NAMES, exactSign, l1, l2, linf, perturbationNorms, type Norm, type NormName, type Radius } from './core/norms.js';
export { crossEntropy, dlr, margin, maxOther, pick } from './core/losses.js';
export { adversarialMask, resolveTargets } from './core/criteria.js';
export { applyMask, boundTensors, clip, meanRange, type BoundTensors } from '../tensor/bounds.js';
export { makeRng, type Rng } from '../tensor/random.js';
export { checkConstraints, hasConstraints, projectFeasible, type FeatureConstraints } from './core/constraints.js';
export type {
  AttackFn,
  AttackInfo,
  AttackKind,
  AttackResult,
  CommonAttackOptions,
  PerturbationNorms,
  Targeting,
} from './core/types.js';
