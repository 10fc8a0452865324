/**
 * Which pickle imports are benign and which run code. A pickle can only act through the callables it imports
 * (GLOBAL, STACK_GLOBAL, INST), so rating each import is the whole policy: the allow-list holds what benign
 * checkpoints of PyTorch, NumPy and joblib use, the gadget list what is known to execute code, read files,
 * open sockets or load a further pickle. Everything else is unlisted (medium).
 */

/** The rating of one import. */
export type ImportRating = 'allowed' | 'dangerous' | 'unlisted';

// Python 2 names that Python 3's unpickler maps onto their Python 3 modules (pickle's _compat_pickle).
const PY2_MODULES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg', cPickle: 'pickle', exceptions: 'builtins', commands: 'subprocess' };

const TORCH_STORAGES = ['Double', 'Float', 'Half', 'BFloat16', 'Long', 'Int', 'Short', 'Char', 'Byte', 'Bool', 'ComplexFloat', 'ComplexDouble', 'QInt8', 'QUInt8', 'QInt32', 'QUInt4x2', 'QUInt2x4', 'Untyped'].map((t) => `torch.${t}Storage`);
const TORCH_DTYPES = ['float16', 'float32', 'float64', 'bfloat16', 'half', 'float', 'double', 'complex64', 'complex128', 'uint8', 'int8', 'int16', 'int32', 'int64', 'bool', 'qint8', 'quint8', 'qint32'].map((t) => `torch.${t}`);
const TORCH_REBUILDS = ['_rebuild_tensor', '_rebuild_tensor_v2', '_rebuild_tensor_v3', '_rebuild_parameter', '_rebuild_parameter_with_state', '_rebuild_qtensor', '_rebuild_sparse_tensor', '_rebuild_sparse_csr_tensor', '_rebuild_device_tensor_from_numpy', '_rebuild_meta_tensor_no_storage', '_rebuild_wrapper_subclass', '_rebuild_nested_tensor'].map((f) => `torch._utils.${f}`);

/** Imports benign checkpoints use: tensor and storage rebuilds, containers, NumPy arrays and dtypes. */
export const ALLOWED_IMPORTS: ReadonlySet<string> = new Set([
  ...TORCH_STORAGES,
  ...TORCH_DTYPES,
  ...TORCH_REBUILDS,
  'torch.storage.UntypedStorage',
  'torch.storage.TypedStorage',
  'torch._tensor._rebuild_from_type_v2',
  'torch.Size',
  'torch.device',
  'torch.nn.parameter.Parameter',
  'torch.per_tensor_affine',
  'torch.per_channel_affine',
  'torch.strided',
  'torch.sparse_coo',
  'collections.OrderedDict',
  'collections.defaultdict',
  'builtins.set',
  'builtins.frozenset',
  'builtins.bytearray',
  'builtins.slice',
  'builtins.complex',
  'builtins.int',
  'builtins.float',
  'builtins.bool',
  'builtins.str',
  'builtins.bytes',
  'builtins.list',
  'builtins.dict',
  'builtins.tuple',
  'builtins.object',
  'copyreg._reconstructor',
  '_codecs.encode',
  'numpy.ndarray',
  'numpy.dtype',
  'numpy.core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy.core.numeric._frombuffer',
  'numpy._core.multiarray._reconstruct',
  'numpy._core.multiarray.scalar',
  'numpy._core.numeric._frombuffer',
  'numpy.random._pickle.__randomstate_ctor',
  'joblib.numpy_pickle.NumpyArrayWrapper',
  'joblib.numpy_pickle_compat.NDArrayWrapper',
  'sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper',
]);

/**
 * Modules whose every member (and submodule) is a gadget: process control, code loading and evaluation,
 * network and file-system access, and nested deserialisers.
 */
const DANGEROUS_MODULES = [
  'os', 'posix', 'nt', 'subprocess', '_posixsubprocess', 'sys', 'runpy', 'importlib', 'imp', 'pkgutil', 'zipimport',
  'pip', 'setuptools', 'distutils', 'ensurepip', 'venv', 'pty', 'socket', 'ssl', 'http', 'urllib', 'urllib2',
  'requests', 'ftplib', 'smtplib', 'telnetlib', 'xmlrpc', 'shutil', 'tempfile', 'glob', 'webbrowser', 'marshal',
  'pickle', '_pickle', 'dill', 'cloudpickle', 'shelve', 'types', 'code', 'codeop', 'ctypes', '_ctypes', 'cffi',
  'multiprocessing', 'concurrent', 'asyncio', 'threading', '_thread', 'signal', 'platform', 'pydoc', 'pdb', 'bdb',
  'timeit', 'trace', 'profile', 'cProfile', 'logging.config', 'operator', 'functools', 'inspect', 'gc', 'site',
  'sysconfig', 'builtins.eval', 'numpy.testing', 'numpy.lib.npyio', 'numpy.load', 'joblib.load', 'torch.hub',
  'torch.jit', 'torch.package', 'torch.load', 'torch.serialization.load', 'torch.storage._load_from_bytes',
  'torch._C', 'torch.ops', 'torch.utils.cpp_extension', 'keras.models.load_model', 'tensorflow.io', 'io.open',
];

/** Single built-ins that execute code or reach arbitrary attributes and modules. */
const DANGEROUS_BUILTINS = new Set([
  'eval', 'exec', 'execfile', 'compile', 'open', 'file', 'getattr', 'setattr', 'delattr', '__import__', 'globals',
  'locals', 'vars', 'input', 'raw_input', 'breakpoint', 'apply', 'reload', 'help', 'memoryview', 'type', 'super',
  'classmethod', 'staticmethod', 'property', 'map', 'filter',
]);

/** Attribute names that, anywhere in a dotted import, reach code execution or the interpreter's internals. */
const DANGEROUS_SEGMENTS = new Set([
  'os', 'posix', 'nt', 'subprocess', 'sys', 'system', 'popen', 'spawn', 'spawnv', 'execv', 'execve', 'eval', 'exec',
  '__import__', 'getattr', '__getattribute__', '__builtins__', '__globals__', '__subclasses__', '__code__',
  '__reduce__', '__reduce_ex__', '__class__', '__dict__', '__init__', '__call__', 'builtins', '__builtin__', 'importlib',
  'runpy', 'load', 'loads', 'system_command',
]);

/** The module name Python 3's unpickler actually imports for `module`. */
export function canonicalModule(module: string): string {
  return PY2_MODULES[module] ?? module;
}

function underModule(full: string, prefix: string): boolean {
  return full === prefix || full.startsWith(`${prefix}.`);
}

/**
 * Rate the import of `name` from `module`. Dotted names (protocol 4 resolves them by getattr chains, e.g.
 * `torch` + `os.system`) are never allowed, and are dangerous when any segment is a known gadget.
 */
export function rateImport(module: string, name: string): ImportRating {
  const mod = canonicalModule(module);
  const full = `${mod}.${name}`;
  if (mod === 'builtins' && DANGEROUS_BUILTINS.has(name)) return 'dangerous';
  if (DANGEROUS_MODULES.some((m) => underModule(full, m))) return 'dangerous';
  const segments = full.split('.');
  if (name.includes('.') && segments.some((s) => DANGEROUS_SEGMENTS.has(s))) return 'dangerous';
  if (segments.some((s) => s === '__builtins__' || s === '__globals__' || s === '__subclasses__')) return 'dangerous';
  if (!name.includes('.') && ALLOWED_IMPORTS.has(full)) return 'allowed';
  return 'unlisted';
}
