/** Benchmarks of robust against its peers (`robust bench`). Re-exports only. */
export { runBenchmarks, readBenchResult, FULL_SIZES, QUICK_SIZES, PACKAGE_ROOT, type BenchOptions, type BenchSizes, type BenchModelSpec } from './run.js';
export { benchMarkdown, benchRatios, verdictLines, ISSUE_PLAIN_WASM_BASELINE, TARGETS, type BenchMarkdownOptions, type RatioRow } from './markdown.js';
export { measureCeiling, measureCw, measureMemory, measurePgd, measurePlainLoop } from './measure.js';
export { parsePyTorchPeer, parseStockTfjsPeer, runPyTorchPeer, runStockTfjsPeer, type PeerOptions } from './peer.js';
export { machineInfo, packageVersions } from './machine.js';
export * from './types.js';
export { benchModel, type ModelBench, type ModelBenchOptions } from './model.js';
