/**
 * `robust test` as a library call: a pipeline of named stages (`suite/stages/`, one file each, each with a typed
 * input and output) from a loaded suite file to its evaluated result.
 */
import { evaluate } from './evaluate.js';
import type { LoadedConfig } from './config.js';
import type { Dataset } from '../data/index.js';
import type { ExampleOutcomes, SuiteResult } from './types.js';
import { boundsRange } from '../tensor/range.js';
import { planAttacks } from './stages/planAttacks.js';
import { openModel } from './stages/openModel.js';
import { selectExamples } from './stages/selectExamples.js';
import { cleanPass } from './stages/cleanPass.js';
import { attackAll } from './stages/attackAll.js';
import { certifyExamples } from './stages/certifyExamples.js';
import { probe } from './stages/probe.js';
import { pickGallery } from './stages/pickGallery.js';
import { recordManifest } from './stages/recordManifest.js';
import type { RunSuiteOptions } from './stages/types.js';

export { parseShard, shardRange, type Shard } from './shard.js';
export { certifyBatchPlan } from './certify.js';
export type { RunSuiteOptions, SuiteProgress } from './stages/types.js';

/**
 * Run a suite. Throws UsageError/InputError for bad config, model or data, and CheckError when the model's
 * SHA-256 differs from the pinned one. Threshold failures are in the result's verdict, not thrown.
 * @example
 *   const result = await runSuite(await loadConfig('examples/mnist/robust.config.json'));
 *   console.log(result.verdict.status, result.worstCase.map((w) => [w.key, w.robustAccuracy.value]));
 */
export async function runSuite(loaded: LoadedConfig, options: RunSuiteOptions = {}): Promise<SuiteResult> {
  const { config } = loaded;
  const started = { at: new Date(), t0: performance.now() };
  const seed = options.seed ?? String(config.seed ?? 0);

  const planned = planAttacks({ loaded });
  const opened = await openModel({ config, seed, options });
  const selected = await selectExamples({ loaded, seed, layoutModel: opened.loaded, model: opened.model, options });
  const { model, ds, positions } = selected;
  try {
    const clean = await cleanPass({ model, ds, attacks: planned.attacks, batchSize: config.batchSize ?? 100, options });
    const { correct } = clean;
    const attacked = await attackAll({ model, ds, positions, correct, attacks: planned.attacks, threat: selected.threat, seed, config, memory: clean.memory, options });
    const certified = await certifyExamples({ model, ds, positions, seed, config, options });
    const probes = await probe({ model, ds, positions, total: selected.full.n, correct, seed, options });
    const examples: ExampleOutcomes = {
      indices: selected.indices,
      labels: Array.from(ds.y),
      cleanCorrect: Array.from(correct),
      robust: attacked.robust,
      norms: attacked.norms,
      inputL2: inputNorms(ds),
      minNorm: attacked.minNorm,
      certificates: certified.certificates,
      groups: ds.groups ?? null,
      probes,
    };
    const samples = await pickGallery({ model, ds, attacks: attacked.attacks, examples, sources: attacked.forSamples, config });
    const manifest = await recordManifest({ loaded, seed, backend: opened.backend, engine: opened.loaded.engine, model, full: selected.full, adaptive: opened.adaptive, started, options });
    return evaluate({
      manifest,
      thresholds: config.thresholds,
      numClasses: model.numClasses,
      attacks: attacked.attacks.map(({ options: _o, ...a }) => a),
      examples,
      input: { shape: ds.shape, ...boundsRange(model.bounds), numClasses: model.numClasses },
      samples,
      keepExamples: Boolean(config.perExample) || options.shard !== undefined || options.examples !== undefined,
      ...(certified.certification ? { certification: certified.certification } : {}),
    });
  } finally {
    model.dispose();
  }
}

/** ‖x‖₂ of every example of `ds`. */
function inputNorms(ds: Dataset): number[] {
  const size = ds.shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: ds.n }, (_, i) => {
    let s = 0;
    for (let f = i * size; f < (i + 1) * size; f++) s += (ds.x[f] as number) ** 2;
    return Math.sqrt(s);
  });
}
