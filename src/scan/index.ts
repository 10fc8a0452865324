/**
 * Static model-file scanning (`robust scan`): recognises pickle, PyTorch, joblib, NumPy, Keras, TF.js, ONNX
 * and safetensors files by content and reports code-execution gadgets and structural tricks, without loading
 * any model.
 */
export { scanPaths, scanFile } from './scan.js';
export { RULES, ruleOf, type Rule, type RuleId } from './rules.js';
export { SEVERITIES, severityRank, type Severity, type Finding, type FindingLocation, type ScanReport, type ScannedFile, type ScanFormat } from './types.js';
export { rateImport, ALLOWED_IMPORTS, type ImportRating } from './pickleImports.js';
export { disassemblePickle, type PickleImport, type PickleResult } from './pickle.js';
export { renderScanConsole, renderScanJson, renderScanSarif, formatLocation, countBySeverity } from './report.js';
export { ScanContext } from './context.js';

import { severityRank, type ScanReport, type Severity } from './types.js';

/** Whether any finding is at or above `threshold` (the `--fail-on` rule). */
export function failsAt(report: ScanReport, threshold: Severity): boolean {
  return report.findings.some((f) => severityRank(f.severity) >= severityRank(threshold));
}
