/**
 * robust: adversarial-robustness testing for TensorFlow.js models. The public, typed API (re-exports only).
 *
 * @example
 *   import { useBackend, loadModel, loadDataset, pgd, runAttack } from 'robust-ml';
 *   await useBackend('auto');
 *   const model = await loadModel('models/mnist-cnn/model.json');
 *   const data = await loadDataset('mnist:test', { n: 200 });
 *   const report = await runAttack(model, data, { name: 'pgd', eps: [0.1, 0.3], options: { steps: 40 } });
 */
export { tf } from './tf.js';
/**
 * TF.js Layers, the same copy robust loads models with, to build or train a model for robust without a second
 * install (a second copy of tfjs-layers would register its own classes and kernels):
 * `import { tf, tfl } from 'robust-ml'; const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2 })] });`
 */
export * as tfl from '@tensorflow/tfjs-layers';
export { discoverConfig, CONFIG_NAMES } from './suite/discover.js';
export * from './errors.js';
export { BACKEND_NAMES, backendAvailable, backendFacts, useBackend, type BackendChoice, type BackendFacts, type BackendInfo, type BackendName } from './backends/index.js';
export { kernelFixes, registerKernelFixes } from './backends/kernels/index.js';
export * from './models/index.js';
export * from './data/index.js';
export * from './attacks/index.js';
export * from './defenses/index.js';
export * as metrics from './metrics/index.js';
export { accuracy, predictLabels } from './metrics/accuracy.js';
export { loadConfig, parseConfig, type SuiteConfig, type LoadedConfig } from './suite/config.js';
export { resolveFeatures, type FeatureRef, type FeaturesConfig, type ResolvedFeatures } from './suite/features.js';
export { runSuite, parseShard, shardRange, type RunSuiteOptions, type Shard } from './suite/run.js';
export { mergeResults } from './suite/merge.js';
export type * from './suite/types.js';
export { renderConsole, renderHtml, renderJson, renderJunit, renderMarkdown, writeReports } from './report/index.js';
export * from './training/index.js';
export {
  scanPaths,
  scanFile,
  failsAt,
  renderScanConsole,
  renderScanJson,
  renderScanSarif,
  RULES as SCAN_RULES,
  type ScanReport,
  type ScannedFile,
  type ScanFormat,
  type Finding as ScanFinding,
  type FindingLocation as ScanFindingLocation,
  type Severity as ScanSeverity,
  type Rule as ScanRule,
} from './scan/index.js';
export { writeFileAtomic, writeFilesAtomic } from './util/atomic.js';
export { VERSION } from './version.js';
