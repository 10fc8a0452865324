import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import h5wasm from 'h5wasm/node';
import { scanFile, scanPaths, type Finding } from '../src/scan/index.js';
import { bytes, buildZip, callPickle, op, u64 } from './helpers/scanSamples.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'robust-scan-formats-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
async function scan(data: Uint8Array | string, name = `sample${counter++}`): Promise<Finding[]> {
  const path = join(dir, name);
  writeFileSync(path, data);
  const findings: Finding[] = [];
  await scanFile(path, findings);
  return findings;
}
const summary = (fs: Finding[]): Array<[string, string | undefined]> => fs.map((f) => [f.rule, f.location.member ?? f.location.layer]);

describe('zip tricks (CVE-2025-1716/-1889/-1944/-1945) are findings, not crashes', () => {
  const evil = callPickle('os', 'system');
  const clean = bytes(op.proto(2), op.none, op.stop);

  it('local header names a different file than the central directory', async () => {
    const findings = await scan(buildZip([{ name: 'archive/data.pkl', localName: 'archive/data.pkx', data: evil }]));
    expect(summary(findings)).toEqual([['ZIP002', 'archive/data.pkl'], ['PKL001', 'archive/data.pkl']]);
  });

  it('duplicate names: both copies are scanned', async () => {
    const findings = await scan(buildZip([{ name: 'archive/data.pkl', data: clean }, { name: 'archive/data.pkl', data: evil }]));
    expect(summary(findings)).toEqual([['ZIP003', 'archive/data.pkl'], ['PKL001', 'archive/data.pkl']]);
  });

  it('wrong CRC and wrong size', async () => {
    expect(summary(await scan(buildZip([{ name: 'archive/data.pkl', data: clean, crc: 1234 }])))).toEqual([['ZIP004', 'archive/data.pkl']]);
    expect(summary(await scan(buildZip([{ name: 'archive/data.pkl', data: evil, size: 3, deflate: true }])))).toEqual([['ZIP004', 'archive/data.pkl']]);
    expect(summary(await scan(buildZip([{ name: 'archive/data.pkl', data: evil, size: evil.length + 9 }]))).map((s) => s[0])).toEqual(['ZIP004', 'PKL001']);
  });

  it('data before the first member and after the end record', async () => {
    const findings = await scan(buildZip([{ name: 'archive/data.pkl', data: clean }], { prefix: bytes('MZ junk'), suffix: evil }));
    expect(findings.map((f) => f.rule).sort()).toEqual(['ZIP005', 'ZIP005']);
  });

  it('nested archives are opened and reported, with the member path', async () => {
    const inner = buildZip([{ name: 'payload.bin', data: evil }]);
    const findings = await scan(buildZip([{ name: 'weights/inner.zip', data: inner, deflate: true }]));
    expect(summary(findings)).toEqual([['ZIP007', 'weights/inner.zip'], ['PKL001', 'weights/inner.zip!/payload.bin']]);
  });

  it('unsafe member paths, truncated archives and unknown compression', async () => {
    expect(summary(await scan(buildZip([{ name: '../../evil.txt', data: bytes('x') }])))).toEqual([['ZIP006', '../../evil.txt']]);
    const whole = buildZip([{ name: 'a.pkl', data: evil }]);
    expect((await scan(bytes('PK', 3, 4, whole.subarray(4, 30)))).map((f) => f.rule)).toEqual(['ZIP001']);
    const stored = buildZip([{ name: 'a.pkl', data: evil }]);
    const lzma = stored.slice();
    lzma[8] = 14; // local header method
    lzma[stored.length - 22 - (46 + 5) + 10] = 14; // central header method
    expect(summary(await scan(lzma))).toEqual([['ZIP008', 'a.pkl']]);
  });
});

describe('Keras', () => {
  const lambdaConfig = {
    class_name: 'Sequential',
    config: { name: 'seq', layers: [{ class_name: 'Dense', config: { name: 'dense', units: 2 } }, { class_name: 'Lambda', config: { name: 'evil_lambda', function: ['4wEAAAAAAAAA', null, null], function_type: 'lambda' } }] },
  };

  it('.h5 with a Lambda layer in model_config (read with h5wasm)', async () => {
    await h5wasm.ready;
    const path = join(dir, 'lambda.h5');
    const f = new h5wasm.File(path, 'w');
    f.create_attribute('model_config', JSON.stringify(lambdaConfig));
    f.close();
    const findings: Finding[] = [];
    expect((await scanFile(path, findings)).format).toBe('keras-h5');
    expect(summary(findings)).toEqual([['KER001', 'evil_lambda']]);
    expect(findings[0]!.severity).toBe('critical');
  });

  it('.keras zip: Lambda, a module outside keras (CVE-2025-1550) and an unknown layer class', async () => {
    const config = {
      module: 'keras', class_name: 'Sequential', config: { name: 'seq', layers: [
        { module: 'keras.layers', class_name: 'Lambda', config: { name: 'lam', function: { module: 'builtins', class_name: '__lambda__', config: { code: 'YQ==' } } } },
        { module: 'keras.layers', class_name: 'Dense', config: { name: 'd', activation: { module: 'os', class_name: 'function', registered_name: 'system', config: 'system' } } },
        { module: 'my_pkg.layers', class_name: 'MyLayer', registered_name: 'MyLayer', config: { name: 'mine' } },
      ] },
    };
    const archive = buildZip([
      { name: 'metadata.json', data: bytes('{"keras_version": "3.8.0"}') },
      { name: 'config.json', data: bytes(JSON.stringify(config)), deflate: true },
      { name: 'model.weights.h5', data: bytes('\x89HDF\r\n\x1a\n') },
    ]);
    const findings = await scan(archive, 'model.keras');
    expect(findings.map((f) => [f.rule, f.location.layer])).toEqual([
      ['KER001', 'lam'], ['KER002', 'lam'], ['KER002', 'd'], ['KER003', 'mine'], ['KER002', 'mine'],
    ]);
  });
});

describe('TF.js', () => {
  function writeModel(name: string, manifest: unknown[], layers: unknown[], shards: Record<string, Uint8Array>): string {
    const folder = join(dir, name);
    mkdirSync(folder, { recursive: true });
    for (const [file, data] of Object.entries(shards)) writeFileSync(join(folder, file), data);
    const topology = { class_name: 'Sequential', config: { name: 's', layers } };
    writeFileSync(join(folder, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: topology, weightsManifest: manifest }));
    return join(folder, 'model.json');
  }
  const dense = { class_name: 'Dense', config: { name: 'd', units: 2 } };
  const weights = [{ name: 'd/kernel', shape: [2, 2], dtype: 'float32' }];
  const floats = (...v: number[]): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);

  it('a clean model passes; escapes, missing or wrong-size shards, NaN weights and unknown layers are caught', async () => {
    const ok = writeModel('ok', [{ paths: ['w.bin'], weights }], [dense], { 'w.bin': floats(1, 2, 3, 4) });
    expect((await scanPaths([ok])).findings).toEqual([]);
    const cases: Array<[string, string[]]> = [
      [writeModel('escape', [{ paths: ['../ok/w.bin'], weights }], [dense], {}), ['TFJ001']],
      [writeModel('absolute', [{ paths: ['/etc/passwd'], weights }], [dense], {}), ['TFJ001']],
      [writeModel('missing', [{ paths: ['w.bin'], weights }], [dense], {}), ['TFJ002']],
      [writeModel('short', [{ paths: ['w.bin'], weights }], [dense], { 'w.bin': floats(1, 2, 3) }), ['TFJ002']],
      [writeModel('nan', [{ paths: ['w.bin'], weights }], [dense], { 'w.bin': floats(1, NaN, 3, Infinity) }), ['TFJ004']],
      [writeModel('custom', [{ paths: ['w.bin'], weights }], [dense, { class_name: 'Sneaky', config: { name: 'x' } }], { 'w.bin': floats(1, 2, 3, 4) }), ['TFJ003']],
    ];
    for (const [path, expected] of cases) expect((await scanPaths([path])).findings.map((f) => f.rule), path).toEqual(expected);
  });
});

describe('ONNX', () => {
  const { onnx } = onnxProto;
  function model(location: string, domain: string): Uint8Array {
    const w = onnx.TensorProto.create({ name: 'W', dims: [2], dataType: 1, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [{ key: 'location', value: location }] });
    const node = onnx.NodeProto.create({ name: 'n0', opType: domain ? 'Backdoor' : 'Relu', domain, input: ['x'], output: ['y'] });
    const graph = onnx.GraphProto.create({ name: 'g', node: [node], initializer: [w] });
    return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, graph, opsetImport: [{ domain: '', version: 13 }] })).finish();
  }
  it('external data leaving the folder and custom-domain ops', async () => {
    expect(await scan(model('weights.bin', ''), 'ok.onnx')).toEqual([]);
    expect(summary(await scan(model('../../etc/passwd', ''), 'a.onnx'))).toEqual([['ONX001', 'W']]);
    expect(summary(await scan(model('/etc/shadow', 'com.attacker'), 'b.onnx'))).toEqual([['ONX001', 'W'], ['ONX002', 'n0']]);
  });
});

describe('safetensors', () => {
  function file(header: unknown, dataBytes: number, declared?: number): Uint8Array {
    const text = bytes(JSON.stringify(header));
    return bytes(u64(declared ?? text.length), text, new Uint8Array(dataBytes));
  }
  it('overlapping, past-the-end and size-mismatched offsets; header past the file', async () => {
    expect(await scan(file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 8))).toEqual([]);
    expect(summary(await scan(file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12)))).toEqual([['SFT001', 'b']]);
    expect(summary(await scan(file({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8)))).toEqual([['SFT001', 'a']]);
    expect(summary(await scan(file({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8)))).toEqual([['SFT001', 'a']]);
    expect((await scan(file({ a: {} }, 0, 5000))).map((f) => f.rule)).toEqual(['SFT002']);
  });
});

describe('no false positives on raw weights', () => {
  it('random float32 weight files (seeded) are unknown files with no findings', async () => {
    const fc = (await import('fast-check')).default;
    await fc.assert(
      fc.asyncProperty(fc.float32Array({ minLength: 1, maxLength: 512 }), async (weights) => {
        expect(await scan(new Uint8Array(weights.buffer), `weights${counter++}.bin`)).toEqual([]);
      }),
      { seed: 15, numRuns: 150 },
    );
  });
});
