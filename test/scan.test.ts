import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { disassemblePickle, rateImport, scanFile, scanPaths, ScanContext, type Finding } from '../src/scan/index.js';
import { extractMember, readZip } from '../src/scan/zip.js';
import { bytes, callPickle, npy, op, buildZip } from './helpers/scanSamples.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'scan');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'robust-scan-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** Write `data` under a neutral name (the scanner must recognise it by content) and scan it. */
async function scan(data: Uint8Array, name = `sample${counter++}.bin`): Promise<Finding[]> {
  const path = join(dir, name);
  writeFileSync(path, data);
  const findings: Finding[] = [];
  await scanFile(path, findings);
  return findings;
}
const rules = (fs: Finding[]): string[] => [...new Set(fs.map((f) => f.rule))].sort();

describe('clean files: zero findings', () => {
  it('every committed clean checkpoint passes, each recognised as its format', async () => {
    const report = await scanPaths([join(FIXTURES, 'clean')]);
    expect(report.findings).toEqual([]);
    const formats = Object.fromEntries(report.files.map((f) => [f.path.split('/').pop(), f.format]));
    expect(formats).toMatchObject({
      'state_dict.pt': 'pytorch-zip', 'checkpoint.pth': 'pytorch-zip', 'legacy.pt': 'pytorch-legacy', 'model.joblib': 'joblib',
      'weights.npy': 'numpy', 'arrays.npz': 'numpy-npz', 'keras_model.h5': 'keras-h5', 'model.onnx': 'onnx', 'model.safetensors': 'safetensors',
      'proto0.pkl': 'pickle', 'proto4.pkl': 'pickle', 'proto5.pkl': 'pickle',
    });
  });

  it('the shipped TF.js model passes', async () => {
    const report = await scanPaths([join(import.meta.dirname, '..', 'models', 'mnist-cnn', 'model.json')]);
    expect(report.files[0]!.format).toBe('tfjs');
    expect(report.findings).toEqual([]);
  });

  // Oracle: Python's own Unpickler with a recording find_class (make_fixtures.py) lists what each pickle imports.
  it('resolves the same imports as Python does, through GLOBAL, STACK_GLOBAL, memo and frames', () => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'clean-imports.json'), 'utf8')) as Record<string, string[]>;
    for (const [file, names] of Object.entries(expected)) {
      const data = readFileSync(join(FIXTURES, 'clean', file));
      const ctx = new ScanContext(file, []);
      const streams: Uint8Array[] = [];
      if (file.endsWith('.pkl') || file === 'legacy.pt') streams.push(data);
      else for (const m of readZip(data, ctx)!) if (m.name.endsWith('data.pkl')) streams.push(extractMember(data, m, ctx)!);
      const seen = new Set<string>();
      for (const s of streams) {
        let pos = 0;
        for (let i = 0; i < (file === 'legacy.pt' ? 5 : 1); i++) {
          const r = disassemblePickle(s, pos, ctx);
          expect(r.complete).toBe(true);
          r.imports.forEach((imp) => seen.add(`${imp.module}.${imp.name}`));
          pos = r.end;
        }
      }
      expect([...seen].sort(), file).toEqual(names.map((n) => n.replace(/^__builtin__\./, 'builtins.')).sort());
      expect(ctx.findings, file).toEqual([]);
    }
  });
});

describe('pickle gadgets are critical, by content whatever the extension', () => {
  const gadgets: Array<[string, string]> = [
    ['os', 'system'], ['posix', 'system'], ['nt', 'system'], ['subprocess', 'Popen'], ['builtins', 'eval'], ['__builtin__', 'exec'],
    ['builtins', 'getattr'], ['builtins', '__import__'], ['builtins', 'compile'], ['builtins', 'open'], ['runpy', '_run_code'],
    ['importlib', 'import_module'], ['pip', 'main'], ['pip._internal', 'main'], ['pty', 'spawn'], ['socket', 'create_connection'],
    ['shutil', 'rmtree'], ['webbrowser', 'open'], ['marshal', 'loads'], ['types', 'CodeType'], ['torch.serialization', 'load'],
    ['torch', 'load'], ['pickle', 'loads'], ['_pickle', 'loads'], ['numpy.testing._private.utils', 'runstring'], ['operator', 'attrgetter'],
    ['torch', 'os.system'], ['collections', 'os.system'],
  ];
  it.each(gadgets)('GLOBAL %s.%s', async (module, name) => {
    const findings = await scan(callPickle(module, name), `model${counter++}.txt`);
    expect(findings.map((f) => [f.rule, f.severity, f.location.offset])).toEqual([['PKL001', 'critical', 0]]);
  });

  it('STACK_GLOBAL whose operands come from the memo (MEMOIZE, BINGET, GET) inside a FRAME', async () => {
    const body = bytes(
      op.shortUnicode('builtins'), op.memoize, op.pop, // memo 0 = 'builtins'
      op.shortUnicode('ex'), op.binput(7), op.pop,
      op.binget(0), op.shortUnicode('exec'), op.stackGlobal,
      op.mark, op.string('print(1)'), op.tuple, op.reduce, op.stop,
    );
    const findings = await scan(bytes(op.proto(4), op.frame(body.length), body));
    const offset = 2 + 9 + body.indexOf(0x93);
    expect(findings.map((f) => [f.rule, f.location.offset])).toEqual([['PKL001', offset]]);
    expect(findings[0]!.message).toContain('builtins.exec');

    const viaGet = bytes(op.proto(2), op.string('subprocess'), op.put(3), op.pop, op.get(3), op.binUnicode('check_output'), op.stackGlobal, op.stop);
    expect((await scan(viaGet)).map((f) => f.message)).toEqual([expect.stringContaining('subprocess.check_output')]);
  });

  it('INST imports and calls in one opcode', async () => {
    const findings = await scan(bytes(op.mark, op.string('id'), op.inst('os', 'system'), op.stop));
    expect(findings.map((f) => [f.rule, f.location.offset])).toEqual([['PKL001', 7]]);
  });

  it('the gadget inside a legacy .pt, a PyTorch zip and a NumPy object array', async () => {
    const legacyMagic = bytes(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.');
    const legacy = bytes(legacyMagic, op.proto(2), 'M', 0xe9, 0x03, '.', op.proto(2), op.emptyDict, '.', op.proto(2), callPickle('os', 'system'), op.proto(2), ']', '.', 'raw storage bytes');
    const legacyFindings = await scan(legacy);
    expect(legacyFindings.map((f) => [f.rule, f.location.offset])).toEqual([['PKL001', legacyMagic.length + 6 + 4 + 2]]);

    const torchZip = buildZip([
      { name: 'archive/data.pkl', data: bytes(op.proto(2), callPickle('runpy', '_run_code')), deflate: true },
      { name: 'archive/data/0', data: bytes(op.proto(2), 0xff, 0xff) },
      { name: 'archive/extra.pkl', data: callPickle('builtins', 'eval') },
    ]);
    const torchFindings = await scan(torchZip);
    expect(torchFindings.map((f) => [f.rule, f.location.member])).toEqual([['PKL001', 'archive/data.pkl'], ['PKL001', 'archive/extra.pkl']]);

    const objectArray = npy('|O', [1], bytes(op.proto(3), callPickle('os', 'popen')));
    expect(rules(await scan(objectArray))).toEqual(['NPY001', 'PKL001']);
    const npz = buildZip([{ name: 'x.npy', data: objectArray, deflate: true }]);
    expect((await scan(npz)).map((f) => [f.rule, f.location.member])).toEqual([['NPY001', 'x.npy'], ['PKL001', 'x.npy']]);
  });

  it('joblib: steps over the raw array bytes it interleaves, and finds what follows', async () => {
    // The layout joblib 1.2 writes: NumpyArrayWrapper BUILD, a padding-length byte, padding, then raw bytes.
    const raw = bytes('c', 'o', 's', '\n', 0xff, 0x00, 0x93, '.'); // 8 bytes that would decode as opcodes
    const sample = bytes(
      op.proto(4),
      op.shortUnicode('joblib.numpy_pickle'), op.shortUnicode('NumpyArrayWrapper'), op.stackGlobal, op.emptyTuple, op.newobj,
      op.emptyDict, op.mark,
      op.shortUnicode('shape'), op.int1(2), op.tuple1,
      op.shortUnicode('dtype'), op.shortUnicode('numpy'), op.shortUnicode('dtype'), op.stackGlobal, op.shortUnicode('f4'), op.tuple1, op.reduce,
      op.shortUnicode('numpy_array_alignment_bytes'), op.int1(16),
      op.setitems, op.build, 3, 0xff, 0xff, 0xff, raw, op.pop,
      op.global('subprocess', 'run'), op.stop,
    );
    const findings = await scan(sample);
    expect(findings.map((f) => f.rule)).toEqual(['PKL001']);
    expect(findings[0]!.message).toContain('subprocess.run');
  });
});

describe('pickle ratings, faults and tricks', () => {
  it('rates the allow-list, unlisted imports and dotted names', () => {
    expect(rateImport('torch._utils', '_rebuild_tensor_v2')).toBe('allowed');
    expect(rateImport('collections', 'OrderedDict')).toBe('allowed');
    expect(rateImport('__builtin__', 'set')).toBe('allowed');
    expect(rateImport('argparse', 'Namespace')).toBe('unlisted');
    expect(rateImport('collections', 'OrderedDict.fromkeys')).toBe('unlisted');
    expect(rateImport('torch', 'storage._load_from_bytes')).toBe('dangerous');
    expect(rateImport('torch.storage', '_load_from_bytes')).toBe('dangerous');
  });

  it('an unlisted import is medium', async () => {
    expect((await scan(callPickle('argparse', 'Namespace'))).map((f) => [f.rule, f.severity])).toEqual([['PKL002', 'medium']]);
  });

  it('computed STACK_GLOBAL operands and EXT codes are unresolved (high)', async () => {
    const computed = bytes(op.proto(4), op.global('builtins', 'str'), op.mark, op.string('o'), op.tuple, op.reduce, op.shortUnicode('system'), op.stackGlobal, op.stop);
    expect((await scan(computed)).map((f) => f.rule)).toEqual(['PKL003']);
    expect(rules(await scan(bytes(op.proto(2), 0x82, 5, op.stop)))).toEqual(['PKL003']);
  });

  it('malformed pickles are findings, not crashes', async () => {
    const cases: Array<[string, Uint8Array]> = [
      ['truncated', callPickle('os', 'system').subarray(0, 15)],
      ['unknown opcode', bytes(op.proto(2), 0xff, op.stop)],
      ['underflow', bytes(op.proto(2), op.reduce, op.stop)],
      ['missing memo', bytes(op.proto(2), op.binget(9), op.stop)],
      ['bad length', bytes(op.proto(4), 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)],
    ];
    for (const [label, data] of cases) {
      const findings = await scan(data);
      expect(findings.map((f) => f.rule), label).toContain('PKL004');
    }
    // The gadget before the fault is still reported.
    expect(rules(await scan(callPickle('os', 'system').subarray(0, 15)))).toEqual(['PKL001', 'PKL004']);
  });

  it('never throws on arbitrary or truncated input (property)', () => {
    const valid = bytes(op.proto(4), op.shortUnicode('os'), op.shortUnicode('system'), op.stackGlobal, op.mark, op.string('x'), op.tuple, op.reduce, op.stop);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(valid.length), (noise, cut) => {
        for (const data of [bytes(op.proto(2), noise), noise, valid.subarray(0, cut)]) {
          const ctx = new ScanContext('x', []);
          const r = disassemblePickle(data, 0, ctx);
          if (!r.complete) expect(ctx.findings.some((f) => f.rule === 'PKL004')).toBe(true);
        }
      }),
      { seed: 15, numRuns: 300 },
    );
  });

  it('data after the last STOP that is not a pickle is low', async () => {
    expect((await scan(bytes(op.proto(2), op.none, op.stop, 'hidden payload'))).map((f) => [f.rule, f.severity, f.location.offset])).toEqual([['PKL005', 'low', 4]]);
  });
});

describe('docs/scan.md', () => {
  it('is what the rule table renders (run npm run docs after changing a rule), with every rule', async () => {
    const { scanDocsMarkdown } = await import('../src/scan/docs.js');
    const { RULES } = await import('../src/scan/rules.js');
    const md = readFileSync(join(import.meta.dirname, '..', 'docs', 'scan.md'), 'utf8');
    expect(md).toBe(scanDocsMarkdown());
    for (const r of RULES) expect(md).toContain(`| \`${r.id}\` | ${r.name} | ${r.severity} |`);
  });
});
