/**
 * docs/scan.md, rendered from the rule table and the import lists so the page never drifts from the code
 * (scripts/generate-docs.mjs writes it; test/scan.test.ts checks it).
 */
import { RULES } from './rules.js';
import { ALLOWED_IMPORTS } from './pickleImports.js';

/** The whole of docs/scan.md. */
export function scanDocsMarkdown(): string {
  const rows = RULES.map((r) => `| \`${r.id}\` | ${r.name} | ${r.severity} | ${r.formats} | ${r.description.replace(/\|/g, '\\|')} |`);
  return `# Scanning model files: \`robust scan\`

<!-- Generated from src/scan/rules.ts and src/scan/pickleImports.ts by \`npm run docs\`; do not edit by hand. -->

\`robust scan <path>...\` reads model files and folders (recursively) and reports what loading them could do,
without loading them: nothing is unpickled, imported or executed. The format of each file is recognised by its
content, never its extension, so a pickle renamed \`.bin\` or \`model.json\` is still read as a pickle.

| format | recognised by | what is checked |
|---|---|---|
| pickle (protocols 0–5) | PROTO opcode, or a protocol 0/1 stream that decodes | every GLOBAL, STACK_GLOBAL and INST import, resolved through the memo and frames |
| PyTorch zip (\`torch.save\` ≥ 1.6) | ZIP with \`*/data.pkl\` | the archive's structure, and every \`.pkl\` member as a pickle |
| PyTorch legacy \`.pt\` | the pickled magic number | the five pickles before the raw storages |
| joblib | NumpyArrayWrapper imports; gzip/zlib are opened | the pickle, stepping over the array bytes joblib interleaves |
| NumPy \`.npy\` / \`.npz\` | \`\\x93NUMPY\` / ZIP of \`.npy\` | object dtypes (a pickle inside) and data length |
| Keras \`.h5\` | HDF5 signature | the \`model_config\` attribute (read with h5wasm) |
| Keras 3 \`.keras\` | ZIP with \`config.json\` and \`metadata.json\` | \`config.json\` |
| TF.js \`model.json\` | JSON with \`weightsManifest\` | shard paths, shard sizes, layer classes, finite weights |
| ONNX | a protobuf ModelProto with a graph | external-data locations, operator domains |
| safetensors | header length then \`{\` | header offsets against each other and the file |

Exit codes: 0 when no finding is at or above \`--fail-on\` (default \`high\`), 1 when one is, 2 on a usage error or
a path that does not exist. Output: a table (default), \`--format json\` or \`--format sarif\` (SARIF 2.1.0, for
GitHub code scanning); \`--out file\` writes it atomically. \`robust test\` scans its model first and stops with
exit 1 on a critical finding unless \`--no-scan\` is given.

## Rules

| id | name | severity | formats | meaning |
|---|---|---|---|---|
${rows.join('\n')}

## Pickle imports

A pickle acts only through the callables it imports, so each import is rated:

- **critical** (\`PKL001\`): a known code-execution gadget: \`os\`, \`posix\`, \`nt\`, \`subprocess\`, \`sys\`,
  \`builtins.eval\`/\`exec\`/\`compile\`/\`open\`/\`getattr\`/\`__import__\` and similar built-ins, \`runpy\`, \`importlib\`,
  \`pip\`, \`pty\`, \`socket\`, \`shutil\`, \`webbrowser\`, \`marshal\`, \`types\`, \`ctypes\`, \`operator\`, \`functools\`,
  nested loaders (\`pickle\`, \`dill\`, \`torch.load\`, \`torch.serialization.load\`, \`torch.storage._load_from_bytes\`,
  \`numpy.load\`, \`joblib.load\`), and any dotted name (\`torch\` + \`os.system\`) with such a segment;
- **allowed**: the ${ALLOWED_IMPORTS.size} imports benign checkpoints use (below);
- **medium** (\`PKL002\`): anything else. Review it; full-model pickles (\`torch.save(model)\`) import their own
  classes and land here.

Allowed: ${[...ALLOWED_IMPORTS].sort().map((i) => `\`${i}\``).join(', ')}.

## Limits

- Files over 2 GiB and zip members over 1 GiB are reported (\`ZIP008\`), not read.
- Keras \`.h5\` files are read only from disk (not inside archives). xz, bzip2 and lz4 joblib files are reported,
  not opened.
- TF.js graph models' ops are not checked against the op list.
- Static analysis cannot prove a pickle safe: an allowed import can still be fed hostile arguments in ways not
  yet known. Treat a clean scan as a necessary check, not a sufficient one.
`;
}
