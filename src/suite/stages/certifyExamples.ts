/**
 * Stage 5 of `runSuite`, when the suite has a `certify` section: certify every example by randomised smoothing
 * (`suite/certify.ts`, shared with `robust certify`) and choose the radii of the certified-accuracy curve.
 */
import type { Dataset } from '../../data/index.js';
import type { Model } from '../../models/types.js';
import type { SuiteConfig } from '../config.js';
import { CERTIFY_DEFAULTS, certifyBatchPlan, certifyDataset, radiusGrid } from '../certify.js';
import type { CertificationMeta } from '../evaluate.js';
import type { ExampleOutcomes } from '../types.js';
import type { RunSuiteOptions } from './types.js';

/** What {@link certifyExamples} needs. */
export interface CertifyInput {
  model: Model;
  ds: Dataset;
  /** Each example's position in the full selection: the noise is keyed by it. */
  positions: readonly number[];
  seed: string;
  config: Pick<SuiteConfig, 'certify' | 'thresholds'>;
  options: Pick<RunSuiteOptions, 'maxMemoryBytes' | 'onBatchPlan' | 'onProgress'>;
}

/** What {@link certifyExamples} gives: nothing without a `certify` section. */
export interface CertifyOutput {
  certificates: ExampleOutcomes['certificates'];
  certification: CertificationMeta | undefined;
}

/** Certify the examples when the suite asks for it. */
export async function certifyExamples({ model, ds, positions, seed, config, options }: CertifyInput): Promise<CertifyOutput> {
  if (!config.certify) return { certificates: null, certification: undefined };
  const c0 = performance.now();
  const settings = {
    sigma: config.certify.sigma,
    n0: config.certify.n0 ?? CERTIFY_DEFAULTS.n0,
    samples: config.certify.samples ?? CERTIFY_DEFAULTS.samples,
    alpha: config.certify.alpha ?? CERTIFY_DEFAULTS.alpha,
    batchSize: config.certify.batchSize ?? CERTIFY_DEFAULTS.batchSize,
  };
  let certifyBatch = settings.batchSize;
  if (options.maxMemoryBytes !== undefined) {
    const plan = certifyBatchPlan(model, settings, options.maxMemoryBytes);
    options.onBatchPlan?.('certify', plan);
    certifyBatch = plan.batchSize;
  }
  options.onProgress?.({ stage: 'certify', done: 0, total: ds.n });
  // The result records the batch size asked for: certificates do not depend on it (see certifyBatchPlan).
  const certs = await certifyDataset(model, ds, { ...settings, batchSize: certifyBatch }, {
    seed: `${seed}/certify`,
    exampleIds: positions,
    onProgress: (done, total, so) => {
      const right = so.filter((c, i) => c.prediction >= 0 && c.prediction === ds.y[i]).length;
      options.onProgress?.({ stage: 'certify', done, total, certified: right / done });
    },
  });
  const certificates = {
    prediction: certs.map((c) => c.prediction),
    radius: certs.map((c) => c.radius),
    pALower: certs.map((c) => c.pALower),
    count: certs.map((c) => c.count),
  };
  // Radii with a threshold are always on the curve, so every threshold is judged on a measured point.
  const thresholdRadii = Object.keys(config.thresholds?.certifiedAccuracy ?? {}).map(Number);
  const certification = { ...settings, radii: radiusGrid(config.certify.radii ?? CERTIFY_DEFAULTS.radii, thresholdRadii), seconds: (performance.now() - c0) / 1000 };
  return { certificates, certification };
}
