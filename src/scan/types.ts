/**
 * Shared types of the model-file scanner: severities, findings and their locations, and the report that the
 * console, JSON and SARIF writers read.
 */
import type { RuleId } from './rules.js';

export { SEVERITIES, severityRank, type Severity } from './rules.js';
import type { Severity } from './rules.js';

/** Where a finding is: the file, and inside it a zip member, a byte offset (pickle opcode) or a layer name. */
export interface FindingLocation {
  file: string;
  /** Member path inside a zip archive; nested archives join members with `!/`. */
  member?: string;
  /** Byte offset of the pickle opcode (or header field), counted from the start of the member or file. */
  offset?: number;
  /** Layer or node name in a Keras, TF.js or ONNX graph. */
  layer?: string;
}

/** One finding: which rule fired, how severe, where, and a one-line explanation. */
export interface Finding {
  rule: RuleId;
  severity: Severity;
  location: FindingLocation;
  message: string;
}

/** The formats the scanner recognises by content. */
export type ScanFormat =
  | 'pickle'
  | 'pytorch-zip'
  | 'pytorch-legacy'
  | 'joblib'
  | 'numpy'
  | 'numpy-npz'
  | 'keras-h5'
  | 'keras-v3'
  | 'tfjs'
  | 'onnx'
  | 'safetensors'
  | 'zip'
  | 'compressed'
  | 'unknown';

/** One scanned file. `unknown` files are listed but not inspected. */
export interface ScannedFile {
  path: string;
  format: ScanFormat;
  bytes: number;
  sha256: string;
}

/** The result of a scan: every file looked at and every finding, files and findings in a stable order. */
export interface ScanReport {
  files: ScannedFile[];
  findings: Finding[];
}
