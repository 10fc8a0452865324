/**
 * The rule table: every finding the scanner can raise, with its severity and the explanation shown in
 * docs/scan.md and in SARIF's rule metadata. The table is the single source: the writers, the docs generator
 * (scripts/generate-scan-docs.mjs) and the tests all read it.
 */
/** How bad a finding is, from least to most severe. */
export type Severity = 'low' | 'medium' | 'high' | 'critical';

/** Severities in increasing order, for comparisons and `--fail-on` choices. */
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

/** Rank of a severity (low 0 … critical 3). */
export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}


/** One rule of the table. */
export interface Rule {
  id: string;
  /** Short kebab-case name (SARIF `name`). */
  name: string;
  severity: Severity;
  /** Which formats it applies to, for the docs table. */
  formats: string;
  /** What it means and why it matters, in one sentence. */
  description: string;
}

const TABLE = [
  { id: 'PKL001', name: 'pickle-code-execution-import', severity: 'critical', formats: 'pickle, PyTorch, joblib, NumPy', description: 'The pickle imports a known code-execution gadget (os, subprocess, builtins.eval/exec/getattr/__import__, runpy, importlib, pip, socket, marshal, nested torch/pickle loads, …); loading it runs code.' },
  { id: 'PKL002', name: 'pickle-unlisted-import', severity: 'medium', formats: 'pickle, PyTorch, joblib, NumPy', description: 'The pickle imports a callable that benign checkpoints do not use (not on the allow-list); review it before loading.' },
  { id: 'PKL003', name: 'pickle-unresolved-import', severity: 'high', formats: 'pickle, PyTorch, joblib, NumPy', description: 'An import cannot be resolved statically (STACK_GLOBAL on computed operands, or an EXT copyreg code), a common way to hide a gadget from scanners.' },
  { id: 'PKL004', name: 'pickle-malformed', severity: 'high', formats: 'pickle, PyTorch, joblib, NumPy', description: 'The pickle is truncated, has an unknown opcode or an inconsistent stack; Python may still run its opcodes up to the fault, and scanners that stop there miss the rest.' },
  { id: 'PKL005', name: 'pickle-trailing-data', severity: 'low', formats: 'pickle', description: 'Bytes follow the final STOP opcode that are not another pickle; harmless to pickle.load but a place to hide a payload.' },
  { id: 'ZIP001', name: 'zip-malformed', severity: 'high', formats: 'zip (PyTorch, .keras, .npz)', description: 'The archive has no valid end-of-central-directory record or a corrupt central directory; loaders and scanners may disagree on its contents.' },
  { id: 'ZIP002', name: 'zip-header-mismatch', severity: 'high', formats: 'zip', description: 'A local file header disagrees with its central-directory entry (name, method or sizes), the trick of CVE-2025-1944/-1945 that shows scanners a different file than the loader reads.' },
  { id: 'ZIP003', name: 'zip-duplicate-name', severity: 'high', formats: 'zip', description: 'Two members share a name; the scanner and the loader may each pick a different one.' },
  { id: 'ZIP004', name: 'zip-crc-mismatch', severity: 'high', formats: 'zip', description: 'A member\'s CRC-32 or uncompressed size is wrong (CVE-2025-1889/-1716 class); strict scanners give up where lenient loaders proceed.' },
  { id: 'ZIP005', name: 'zip-extra-data', severity: 'medium', formats: 'zip', description: 'Bytes lie before the first member or after the end-of-central-directory record, or between members; a place to hide a second archive or payload.' },
  { id: 'ZIP006', name: 'zip-unsafe-path', severity: 'high', formats: 'zip', description: 'A member name is absolute or contains `..`, so extracting it would write outside the target folder.' },
  { id: 'ZIP007', name: 'zip-nested-archive', severity: 'low', formats: 'zip', description: 'A member is itself an archive; it is scanned too, and nesting deeper than 3 levels is not followed.' },
  { id: 'ZIP008', name: 'zip-member-not-inspected', severity: 'medium', formats: 'zip, compressed files', description: 'A member or file uses a compression this scanner cannot read, is encrypted, or is too large to inspect, so its content is unknown.' },
  { id: 'NPY001', name: 'numpy-object-array', severity: 'medium', formats: 'NumPy .npy/.npz', description: 'The array has an object dtype: loading it needs allow_pickle=True and unpickles the embedded data (scanned as a pickle too).' },
  { id: 'NPY002', name: 'numpy-malformed', severity: 'medium', formats: 'NumPy .npy/.npz', description: 'The .npy header is malformed or its data does not match the declared shape and dtype.' },
  { id: 'KER001', name: 'keras-lambda-layer', severity: 'critical', formats: 'Keras .h5, .keras', description: 'A Lambda layer carries marshalled Python bytecode or a function reference that runs when the model loads (CVE-2024-3660, CVE-2025-1550).' },
  { id: 'KER002', name: 'keras-unknown-module', severity: 'high', formats: 'Keras .h5, .keras', description: 'A layer or object names a module outside keras/tensorflow, which Keras imports on load (CVE-2025-1550 class).' },
  { id: 'KER003', name: 'keras-unknown-layer', severity: 'medium', formats: 'Keras .h5, .keras', description: 'A layer class is not a built-in Keras layer; it needs custom code to load.' },
  { id: 'KER004', name: 'keras-malformed-config', severity: 'medium', formats: 'Keras .h5, .keras', description: 'The model configuration is missing or is not valid JSON.' },
  { id: 'TFJ001', name: 'tfjs-path-escape', severity: 'high', formats: 'TF.js model.json', description: 'A weight shard path is absolute or leaves the model folder, so loading reads an unrelated file.' },
  { id: 'TFJ002', name: 'tfjs-shard-size', severity: 'high', formats: 'TF.js model.json', description: 'A weight shard is missing, or the shards\' total size differs from what the weight manifest declares (truncated or swapped weights).' },
  { id: 'TFJ003', name: 'tfjs-unknown-layer', severity: 'medium', formats: 'TF.js model.json', description: 'A layer class or graph op is not one TF.js ships; loading needs custom code registered for it.' },
  { id: 'TFJ004', name: 'tfjs-nonfinite-weights', severity: 'medium', formats: 'TF.js model.json', description: 'A float weight is NaN or infinite, which poisons every output it touches.' },
  { id: 'TFJ005', name: 'tfjs-malformed', severity: 'medium', formats: 'TF.js model.json', description: 'model.json is not valid JSON or lacks a topology or weight manifest.' },
  { id: 'ONX001', name: 'onnx-external-data-escape', severity: 'high', formats: 'ONNX', description: 'A tensor\'s external_data location is absolute or leaves the model folder, so loading reads an arbitrary file into the weights.' },
  { id: 'ONX002', name: 'onnx-custom-domain-op', severity: 'medium', formats: 'ONNX', description: 'A node uses an operator domain other than the standard ones; running it needs a custom-op library (native code).' },
  { id: 'ONX003', name: 'onnx-malformed', severity: 'medium', formats: 'ONNX', description: 'The file looks like ONNX but does not decode as a ModelProto with a graph.' },
  { id: 'SFT001', name: 'safetensors-bad-offsets', severity: 'high', formats: 'safetensors', description: 'A tensor\'s data offsets overlap another\'s, run past the file, or disagree with its dtype and shape.' },
  { id: 'SFT002', name: 'safetensors-malformed-header', severity: 'high', formats: 'safetensors', description: 'The header length runs past the file or the header is not the JSON object safetensors requires.' },
] as const satisfies readonly Rule[];

/** A rule id of the table. */
export type RuleId = (typeof TABLE)[number]['id'];

/** Every rule, in table order. */
export const RULES: readonly Rule[] = TABLE;

const BY_ID = new Map<string, Rule>(TABLE.map((r) => [r.id, r]));

/** The rule with this id. */
export function ruleOf(id: RuleId): Rule {
  return BY_ID.get(id)!;
}
